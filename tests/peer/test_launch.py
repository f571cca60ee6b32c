"""End-to-end launches driven by lti1p3platform, an LTI 1.3 platform nobody here wrote.

Covers the valid launches of the 1EdTech LTI Advantage tool certification and its bad payloads.
"""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from sqlalchemy import func, select

from bridge.tenancy.models import Context, Deployment, Membership, ResourceLink, User
from tests.peer.platform import CLIENT_ID, INSTRUCTOR, LEARNER, LIS, MENTOR, REMOVE, LaunchPlan

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
SESSION_META = re.compile(r'name="bridge-session" content="([^"]+)"')


def with_claims(token: str, **claims) -> str:
    """The token with claims changed after signing (its signature no longer matches)."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    encoded = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def session_of(text: str, client):
    token = SESSION_META.search(text).group(1)
    response = client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


VALID_CASES = {
    "instructor": (LaunchPlan(roles=[INSTRUCTOR]), "moderator"),
    "learner": (LaunchPlan(roles=[LEARNER]), "participant"),
    "several roles": (LaunchPlan(roles=[LEARNER, LIS + "membership/Instructor#TeachingAssistant"]), "moderator"),
    "short role names": (LaunchPlan(roles=["Instructor"]), "moderator"),
    "short learner": (LaunchPlan(roles=["Learner"]), "participant"),
    "unknown role": (LaunchPlan(roles=["http://example.com/roles#Wizard"]), "viewer"),
    "empty roles": (LaunchPlan(roles=[]), "viewer"),
    "empty string role": (LaunchPlan(roles=[""]), "viewer"),
    "observer": (LaunchPlan(roles=[MENTOR]), "viewer"),
    "only email": (LaunchPlan(name=None, email="only@peer.invalid"), "moderator"),
    "only names": (LaunchPlan(name=None, email=None, extra_claims={"given_name": "Grace", "family_name": "Hopper"}), "moderator"),
    "no personal data": (LaunchPlan(name=None, email=None), "moderator"),
    "no context": (LaunchPlan(context_id=None), "moderator"),
    "no context, longest link id": (LaunchPlan(context_id=None, resource_link_id="r" * 255), "moderator"),
    "target link not a url": (LaunchPlan(overrides={LTI + "target_link_uri": "http://[broken/x"}), "moderator"),
}  # fmt: skip


@pytest.mark.parametrize("case", VALID_CASES, ids=list(VALID_CASES))
def test_valid_certification_launch_opens_the_widget_when_peer_launches(case, peer, launch, client):
    peer.plan, access = VALID_CASES[case]
    result = launch()
    assert result.response.status_code == 200, result.text
    assert "You are signed in" in result.text
    assert "Access denied" not in result.text
    session = session_of(result.text, client)
    assert session["access"] == access
    assert session["placement"]["widget"] == "discussion"


def test_auth_request_is_valid_when_tool_logs_in(peer, launch):
    result = launch()
    params = result.auth_params
    assert params["redirect_uri"] == "http://localhost/lti/launch"
    assert params["client_id"] == CLIENT_ID
    assert params["scope"] == "openid" and params["response_type"] == "id_token"
    assert params["response_mode"] == "form_post" and params["prompt"] == "none"
    assert (
        params["login_hint"] == "peer-user-1" and params["lti_message_hint"] == "peer-message-hint"
    )
    assert params["nonce"] and params["state"]


def test_tenancy_rows_are_recorded_when_launch_is_valid(peer, launch, db_session):
    peer.plan = LaunchPlan(roles=[LEARNER], name="Lin", email="lin@peer.invalid")
    assert launch().response.status_code == 200
    user = db_session.scalar(select(User).where(User.sub == "peer-user-1"))
    assert (user.issuer, user.name, user.email) == (peer.issuer, "Lin", "lin@peer.invalid")
    context = db_session.scalar(select(Context).where(Context.context_id == "peer-course-1"))
    assert context.title == "Peer Course" and not context.synthetic
    link = db_session.scalar(select(ResourceLink).where(ResourceLink.context_id == context.id))
    assert link.resource_link_id == "peer-link-1" and link.widget == "discussion"
    membership = db_session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.access == "participant" and membership.roles == [LEARNER]


def test_launch_without_context_gets_its_own_context_when_context_is_absent(
    peer, launch, db_session
):
    peer.plan = LaunchPlan(context_id=None, resource_link_id="lonely-link")
    assert launch().response.status_code == 200
    context = db_session.scalar(select(Context).where(Context.synthetic.is_(True)))
    assert context.context_id == "resource-link:lonely-link"


def test_widget_comes_from_custom_parameter_when_given(peer, launch, client):
    peer.plan = LaunchPlan(custom={"widget": "kb"})
    assert session_of(launch().text, client)["placement"]["widget"] == "kb"


def test_widget_comes_from_target_link_uri_when_no_custom_parameter(peer, launch, client):
    peer.plan = LaunchPlan(target_link_uri="http://localhost/lti/launch?widget=video")
    assert session_of(launch().text, client)["placement"]["widget"] == "video"


def test_unknown_widget_is_refused_with_a_page_when_configured_wrongly(peer, launch):
    peer.plan = LaunchPlan(custom={"widget": "chess"})
    result = launch()
    assert result.response.status_code == 400
    assert "widget" in result.text and "Traceback" not in result.text


def test_aud_list_with_azp_is_accepted_when_client_id_is_not_first(peer, launch):
    peer.plan = LaunchPlan(overrides={"aud": ["another-client", CLIENT_ID], "azp": CLIENT_ID})
    result = launch()
    assert result.response.status_code == 200, result.text


BAD_PAYLOADS = {
    "no kid": (LaunchPlan(header="no_kid"), 400, "missing_kid"),
    "wrong kid": (LaunchPlan(header="wrong_kid"), 400, "unknown_key"),
    "alg none": (LaunchPlan(header="alg_none"), 400, "unsupported_algorithm"),
    "hs256 with public key": (LaunchPlan(header="hs256"), 400, "unsupported_algorithm"),
    "bad signature": (LaunchPlan(header="foreign_key"), 400, "bad_signature"),
    "wrong lti version": (LaunchPlan(overrides={LTI + "version": "1.2.0"}), 400, "wrong_lti_version"),
    "no lti version": (LaunchPlan(overrides={LTI + "version": REMOVE}), 400, "missing_claim"),
    "not an lti message": (LaunchPlan(overrides={LTI + "version": REMOVE, LTI + "message_type": REMOVE}), 400, "not_lti_message"),
    "no message type": (LaunchPlan(overrides={LTI + "message_type": REMOVE}), 400, "missing_claim"),
    "unsupported message type": (LaunchPlan(overrides={LTI + "message_type": "LtiSomethingElse"}), 400, "unsupported_message_type"),
    "no roles claim": (LaunchPlan(overrides={LTI + "roles": REMOVE}), 400, "missing_claim"),
    "roles not a list": (LaunchPlan(overrides={LTI + "roles": "Instructor"}), 400, "invalid_claim"),
    "no deployment id": (LaunchPlan(overrides={LTI + "deployment_id": REMOVE}), 400, "missing_claim"),
    "no resource link id": (LaunchPlan(overrides={LTI + "resource_link": {"title": "x"}}), 400, "missing_claim"),
    "no resource link": (LaunchPlan(overrides={LTI + "resource_link": REMOVE}), 400, "missing_claim"),
    "no sub": (LaunchPlan(overrides={"sub": REMOVE}), 400, "missing_claim"),
    "empty sub": (LaunchPlan(overrides={"sub": ""}), 400, "missing_claim"),
    "exp missing": (LaunchPlan(overrides={"exp": REMOVE}), 400, "missing_claim"),
    "exp past": (LaunchPlan(overrides={"exp": int(time.time()) - 3600}), 400, "token_expired"),
    "iat missing": (LaunchPlan(overrides={"iat": REMOVE}), 400, "missing_claim"),
    "iat future": (LaunchPlan(overrides={"iat": int(time.time()) + 3600}), 400, "token_not_yet_valid"),
    "aud without client id": (LaunchPlan(overrides={"aud": "someone-else", "azp": REMOVE}), 400, "unknown_registration"),
    "aud list without azp": (LaunchPlan(overrides={"aud": [CLIENT_ID, "another-client"], "azp": REMOVE}), 400, "missing_azp"),
    "aud list with other azp": (LaunchPlan(overrides={"aud": [CLIENT_ID, "another-client"], "azp": "another-client"}), 400, "unknown_registration"),
    "azp not in aud": (LaunchPlan(overrides={"azp": "another-client"}), 400, "invalid_azp"),
    "no nonce": (LaunchPlan(overrides={"nonce": REMOVE}), 400, "missing_nonce"),
    "wrong nonce": (LaunchPlan(overrides={"nonce": "not-the-issued-nonce"}), 400, "invalid_nonce"),
    "wrong issuer": (LaunchPlan(overrides={"iss": "https://unknown.example"}), 400, "unknown_registration"),
    "context without id": (LaunchPlan(overrides={LTI + "context": {"title": "x"}}), 400, "invalid_claim"),
    "iss not a string": (LaunchPlan(token_mutator=lambda t: with_claims(t, iss=["https://x.example"])), 400, "invalid_claim"),
    "context type not a list": (LaunchPlan(overrides={LTI + "context": {"id": "c", "type": 3}}), 400, "invalid_claim"),
    "resource link id too long": (LaunchPlan(resource_link_id="r" * 256), 400, "invalid_claim"),
    "sub with a NUL": (LaunchPlan(user_id="user\x00one"), 400, "invalid_claim"),
}  # fmt: skip


def error_code(text: str) -> str:
    match = re.search(r"<dt>Code</dt><dd><code>([a-z_]+)</code>", text)
    return match.group(1) if match else ""


@pytest.mark.parametrize("case", BAD_PAYLOADS, ids=list(BAD_PAYLOADS))
def test_bad_certification_payload_is_refused_with_a_page_when_peer_sends_it(
    case, peer, launch, db_session
):
    peer.plan, status, code = BAD_PAYLOADS[case]
    result = launch()
    assert result.response.status_code == status, result.text
    assert result.response.mimetype == "text/html"
    assert "This activity could not be opened" in result.text
    assert "Traceback" not in result.text
    assert error_code(result.text) == code
    assert db_session.scalar(select(func.count()).select_from(User)) == 0


def test_replayed_launch_is_refused_when_the_same_token_and_state_come_twice(peer, launch, client):
    first = launch()
    assert first.response.status_code == 200
    again = client.post("/lti/launch", data=first.fields)
    assert again.status_code == 400
    text = again.get_data(as_text=True)
    assert error_code(text) == "replayed_launch"
    assert "Reopen the activity from your course" in text


def test_launch_is_refused_when_state_is_missing(peer, client):
    login = client.get(peer.login_url().removeprefix("http://localhost"))
    _, fields = peer.authenticate(login.location)
    response = client.post("/lti/launch", data={"id_token": fields["id_token"]})
    assert (
        response.status_code == 400
        and error_code(response.get_data(as_text=True)) == "missing_state"
    )


def test_launch_is_refused_when_state_does_not_match_the_browser(peer, client, app):
    login = client.get(peer.login_url().removeprefix("http://localhost"))
    _, fields = peer.authenticate(login.location)
    other_browser = app.test_client()
    response = other_browser.post("/lti/launch", data=fields)
    assert (
        response.status_code == 400
        and error_code(response.get_data(as_text=True)) == "invalid_state"
    )


def test_launch_is_refused_when_id_token_is_not_a_jwt(peer, launch):
    peer.plan = LaunchPlan(token_mutator=lambda token: "not-a-jwt")
    result = launch()
    assert result.response.status_code == 400 and error_code(result.text) == "malformed_token"


def test_launch_is_refused_when_id_token_is_garbage_in_three_parts(peer, launch):
    peer.plan = LaunchPlan(token_mutator=lambda token: "a.b.c")
    result = launch()
    assert result.response.status_code == 400 and error_code(result.text) == "malformed_token"


def test_oversized_launch_is_refused_with_413(client):
    response = client.post("/lti/launch", data={"id_token": "x" * 2_000_000, "state": "s"})
    assert response.status_code == 413
    assert "Request too large" in response.get_data(as_text=True)


def test_unknown_deployment_is_recorded_pending_and_refused(peer, launch, db_session, runner):
    peer.plan = LaunchPlan(overrides={LTI + "deployment_id": "new-deployment"})
    result = launch()
    assert result.response.status_code == 403
    assert error_code(result.text) == "deployment_pending"
    assert "Waiting for activation" in result.text
    pending = db_session.scalar(
        select(Deployment).where(Deployment.deployment_id == "new-deployment")
    )
    assert pending.status == "pending"
    activated = runner.invoke(
        args=[
            "deployment",
            "activate",
            "--issuer",
            peer.issuer,
            "--deployment-id",
            "new-deployment",
        ]
    )
    assert activated.exit_code == 0, activated.output
    assert launch().response.status_code == 200


def test_unknown_deployment_is_activated_when_registration_auto_activates(peer, launch, runner):
    assert (
        runner.invoke(args=["platform", "remove", "--issuer", peer.issuer, "--yes"]).exit_code == 0
    )
    assert runner.invoke(args=peer.cli_add_args("--auto-activate-deployments")).exit_code == 0
    peer.plan = LaunchPlan(overrides={LTI + "deployment_id": "auto-deployment"})
    assert launch().response.status_code == 200


def test_rotated_platform_key_is_fetched_once_when_kid_is_new(peer, launch):
    assert launch().response.status_code == 200
    peer.rotate_key()
    result = launch()
    assert result.response.status_code == 200, result.text


def test_frame_ancestors_come_from_the_registration_when_launch_is_valid(peer, launch):
    result = launch()
    csp = result.response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {peer.base_url}" in csp
