"""The sandbox LMS launches the tool through the real OIDC login and a signed id_token."""

from __future__ import annotations

import pytest

from tests.integration.conftest import sandbox_launch, session_token


@pytest.mark.parametrize(
    ("user", "access", "label"),
    [("instructor", "moderator", "Moderator"), ("learner", "participant", "Participant"),
     ("norole", "viewer", "Viewer (read-only)"), ("observer", "viewer", "Viewer (read-only)")],
)  # fmt: skip
def test_sandbox_launches_the_widget_when_user_picks_a_role(
    client, browser, live, user, access, label
):
    status, text = sandbox_launch(browser, live, "bio101", user, "discussion")
    assert status == 200, text
    assert label in text and "Cell Biology" in text
    api = client.get("/api/v1/session", headers={"Authorization": f"Bearer {session_token(text)}"})
    assert api.get_json()["access"] == access


def test_sandbox_launch_without_course_gets_an_isolated_context(client, browser, live):
    status, text = sandbox_launch(browser, live, "none", "learner", "kb")
    assert status == 200
    session = client.get(
        "/api/v1/session", headers={"Authorization": f"Bearer {session_token(text)}"}
    ).get_json()
    assert session["context"]["standalone"] is True
    assert session["placement"]["widget"] == "kb"


def test_sandbox_index_lists_courses_users_and_widgets(client, browser, live):
    text = client.get("/sandbox/").get_data(as_text=True)
    for expected in ("Cell Biology", "Ada Lovelace", "No role", "Peer video", "Knowledge base"):
        assert expected in text


def test_sandbox_auth_refuses_an_unregistered_redirect_uri(client, browser, live):
    response = client.get("/sandbox/auth?scope=openid&response_type=id_token&response_mode=form_post"
                          "&prompt=none&client_id=social-bridge-sandbox&redirect_uri=https://evil.example/"
                          "&state=s&nonce=n&login_hint=learner&lti_message_hint=x")  # fmt: skip
    assert response.status_code == 422
    assert "redirect_uri" in response.get_data(as_text=True)


def test_sandbox_refuses_unknown_choices_with_a_page(client, browser, live):
    response = client.get("/sandbox/launch?course=nope&user=learner&widget=discussion")
    assert response.status_code == 422 and "text/html" in response.content_type


def test_sandbox_is_absent_when_not_enabled(database_url, tmp_path):
    from tests.support import make_app  # noqa: PLC0415

    client = make_app(
        database_url, tmp_path / "off", sandbox=False, public_url="http://localhost"
    ).test_client()
    assert client.get("/sandbox/").status_code == 404
