"""The widget session token: bearer-only, bound to its placement, refused when expired or forged."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeTimedSerializer

from bridge.runtime import runtime
from bridge.sessions import SALT
from tests.integration.conftest import sandbox_launch, session_token


@pytest.fixture
def token(browser, live) -> str:
    status, text = sandbox_launch(browser, live, "bio101", "learner", "discussion")
    assert status == 200
    return session_token(text)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"] and body["error"]["request_id"]


def test_session_endpoint_answers_who_and_where_when_token_is_valid(client, token):
    body = client.get("/api/v1/session", headers=bearer(token)).get_json()
    assert body["user"]["name"] == "Lin Chen"
    assert body["context"]["title"] == "Cell Biology"
    assert body["can_post"] is True and body["can_moderate"] is False


def test_session_endpoint_is_401_json_when_token_is_missing(client, token):
    assert_json_error(client.get("/api/v1/session"), 401, "unauthorized")


def test_session_endpoint_is_401_json_when_token_is_forged(client, token):
    forged = URLSafeTimedSerializer("another-secret" * 4, salt=SALT).dumps({"x": 1})
    assert_json_error(client.get("/api/v1/session", headers=bearer(forged)), 401, "session_invalid")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert_json_error(
        client.get("/api/v1/session", headers=bearer(tampered)), 401, "session_invalid"
    )


def test_session_token_in_the_url_is_ignored(client, token):
    assert_json_error(client.get(f"/api/v1/session?token={token}"), 401, "unauthorized")


def test_session_endpoint_is_401_json_when_token_has_expired(client, token, app):
    with app.app_context():
        runtime().session_tokens().lifetime_seconds = 1
    time.sleep(2.1)
    assert_json_error(client.get("/api/v1/session", headers=bearer(token)), 401, "session_expired")


def test_placement_endpoint_is_403_when_token_is_for_another_placement(client, browser, live):
    _, text_a = sandbox_launch(browser, live, "bio101", "learner", "discussion")
    _, text_b = sandbox_launch(browser, live, "hist220", "learner", "discussion")
    token_a = session_token(text_a)
    placement_b = client.get("/api/v1/session", headers=bearer(session_token(text_b))).get_json()[
        "placement"
    ]["id"]
    placement_a = client.get("/api/v1/session", headers=bearer(token_a)).get_json()["placement"][
        "id"
    ]
    assert (
        client.get(f"/api/v1/placements/{placement_a}", headers=bearer(token_a)).status_code == 200
    )
    assert_json_error(
        client.get(f"/api/v1/placements/{placement_b}", headers=bearer(token_a)),
        403,
        "other_placement",
    )


def test_token_is_refused_when_its_deployment_is_no_longer_active(client, token, runner, live):
    removed = runner.invoke(
        args=["platform", "remove", "--issuer", live.base_url + "/sandbox", "--yes"]
    )
    assert removed.exit_code == 0, removed.output
    assert_json_error(
        client.get("/api/v1/session", headers=bearer(token)), 404, "placement_not_found"
    )


def test_renewed_token_is_handed_back_when_the_session_is_old(client, token, monkeypatch):
    fresh = client.get("/api/v1/session", headers=bearer(token))
    assert "X-Bridge-Session" not in fresh.headers
    later = time.time() + 15 * 60
    time.sleep(1.1)  # token timestamps have one-second resolution
    monkeypatch.setattr("bridge.sessions.time", SimpleNamespace(time=lambda: later))
    old = client.get("/api/v1/session", headers=bearer(token))
    renewed = old.headers["X-Bridge-Session"]
    assert renewed != token
    monkeypatch.undo()
    assert client.get("/api/v1/session", headers=bearer(renewed)).status_code == 200


def test_unknown_api_path_is_a_json_404(client):
    assert_json_error(client.get("/api/v1/nope"), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.post("/api/v1/session")
    assert_json_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
