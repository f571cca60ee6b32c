"""LTI Dynamic Registration 1.0 (§3) end to end: a platform registers the tool, then launches it.

lti1p3platform has no Dynamic Registration, so :class:`RegisteringPlatform` adds the platform's
side to the peer platform, on its own HTTP server: an OpenID configuration whose issuer and
endpoints are the peer's, and a registration endpoint that checks the bearer token and the posted
client metadata as a platform would, then answers the peer's client id and deployment id. The
launch that follows is the peer library's own.
"""

from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Response, jsonify
from flask import request as flask_request
from sqlalchemy import func, select, update

from bridge.db import utcnow
from bridge.tenancy.models import (
    Deployment,
    Organisation,
    Registration,
    RegistrationInvitation,
)
from lti.dynamic_registration.client import PLATFORM_CONFIGURATION, TOOL_CONFIGURATION
from lti.tool_document import SCOPES
from tests.peer.conftest import run_launch
from tests.peer.platform import CLIENT_ID, DEPLOYMENT_ID, REMOVE, PeerPlatform

CODE = re.compile(r"<dt>Code</dt><dd><code>([a-z_]+)</code>")
TOOL = "http://localhost"


class RegisteringPlatform(PeerPlatform):
    """The peer platform with the Dynamic Registration endpoints it lacks (§3, steps 2 and 3)."""

    def __init__(self) -> None:
        super().__init__()
        self._web.add_url_rule(
            "/.well-known/openid-configuration", "openid_configuration", self._configuration
        )
        self._web.add_url_rule("/register", "register", self._register, methods=["POST"])
        self.reset()

    def reset(self) -> None:
        self.registration_token = "peer-registration-token"
        self.configuration_changes: dict[str, Any] = {}
        self.configuration_body: str | None = None
        self.register_status = 200
        self.answer_changes: dict[str, Any] = {}
        self.client_ids = iter(lambda: CLIENT_ID, None)
        self.hold_registrations: threading.Barrier | None = None
        self.configuration_requests: list[dict[str, str]] = []
        self.registrations: list[dict[str, Any]] = []

    @property
    def configuration_url(self) -> str:
        return self.base_url + "/.well-known/openid-configuration"

    def _configuration(self) -> Response:
        self.configuration_requests.append(dict(flask_request.headers))
        if self.configuration_body is not None:
            return Response(self.configuration_body, mimetype="text/html")
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": self.base_url + "/auth",
            "token_endpoint": self.base_url + "/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.base_url + "/jwks.json",
            "registration_endpoint": self.base_url + "/register",
            "authorization_server": self.base_url + "/token-audience",
            "scopes_supported": ["openid", *SCOPES],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": "peer-lms",
                "version": "0.1.8",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }
        for key, value in self.configuration_changes.items():
            if value is REMOVE:
                document.pop(key, None)
            else:
                document[key] = value
        return jsonify(document)

    def _register(self) -> tuple[Response, int]:
        if flask_request.headers.get("Authorization") != f"Bearer {self.registration_token}":
            return jsonify({"error": "invalid_token"}), 401
        metadata = flask_request.get_json(silent=True)
        problem = metadata_problem(metadata)
        if problem:
            return jsonify({"error": "invalid_client_metadata", "error_description": problem}), 400
        self.registrations.append(metadata)
        if self.hold_registrations is not None:
            self.hold_registrations.wait(timeout=10)
        if self.register_status >= 300:
            return jsonify({"error": "access_denied", "error_description": "refused"}), (
                self.register_status
            )
        tool = {**metadata[TOOL_CONFIGURATION], "deployment_id": DEPLOYMENT_ID}
        answer = {**metadata, "client_id": next(self.client_ids), TOOL_CONFIGURATION: tool}
        answer.update(self.answer_changes)
        return jsonify({k: v for k, v in answer.items() if v is not REMOVE}), self.register_status


def metadata_problem(metadata: Any) -> str:
    """What a platform checks in the client metadata (§3, step 3); empty when it is acceptable."""
    if not isinstance(metadata, dict):
        return "not a JSON object"
    tool = metadata.get(TOOL_CONFIGURATION)
    expected = {
        "application_type": metadata.get("application_type") == "web",
        "response_types": "id_token" in metadata.get("response_types", []),
        "grant_types": {"implicit", "client_credentials"} <= set(metadata.get("grant_types", [])),
        "token_endpoint_auth_method": metadata.get("token_endpoint_auth_method")
        == "private_key_jwt",
        "initiate_login_uri": bool(metadata.get("initiate_login_uri")),
        "redirect_uris": bool(metadata.get("redirect_uris")),
        "jwks_uri": bool(metadata.get("jwks_uri")),
        TOOL_CONFIGURATION: isinstance(tool, dict)
        and bool(tool.get("domain"))
        and bool(tool.get("target_link_uri")),
    }
    return ", ".join(name for name, ok in expected.items() if not ok)


@pytest.fixture(scope="module")
def platform_server():
    server = RegisteringPlatform()
    yield server
    server.close()


@pytest.fixture
def app_config():
    """Plain http platform URLs are allowed in development: the sandbox setting says so."""
    return {"sandbox": True}


@pytest.fixture
def platform(platform_server):
    platform_server.reset()
    yield platform_server
    if platform_server.hold_registrations is not None:
        platform_server.hold_registrations.abort()


def invite(runner, *extra: str) -> str:
    result = runner.invoke(args=["platform", "invite", *extra])
    assert result.exit_code == 0, result.output
    url = next(line for line in result.output.splitlines() if "/lti/register?" in line)
    return dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))["invitation"]


def register(client, platform, invitation: str | None = None, **params: str):
    query = {
        "openid_configuration": platform.configuration_url,
        "registration_token": platform.registration_token,
        **params,
    }
    if invitation is not None:
        query["invitation"] = invitation
    return client.get("/lti/register?" + urlencode(query))


def refused(response, status: int, code: str) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "text/html"
    match = CODE.search(text)
    assert match and match.group(1) == code, text
    return text


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def assert_nothing_stored(db_session) -> None:
    assert count(db_session, Registration) == 0
    assert count(db_session, Organisation) == 0
    assert count(db_session, Deployment) == 0
    used = select(func.count()).where(RegistrationInvitation.used_at.is_not(None))
    assert db_session.scalar(used) == 0


# -- the whole flow -----------------------------------------------------------------------------
def test_platform_registers_and_then_launches_when_invited(platform, client, runner, db_session):
    invitation = invite(runner)
    response = register(client, platform, invitation)
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert "Social Bridge is registered with 127.0.0.1 (peer-lms)" in text

    registration = db_session.scalar(select(Registration))
    assert (registration.issuer, registration.client_id) == (platform.issuer, CLIENT_ID)
    assert registration.auth_login_url == platform.base_url + "/auth"
    assert registration.auth_token_url == platform.base_url + "/token"
    assert registration.key_set_url == platform.base_url + "/jwks.json"
    assert registration.auth_audience == platform.base_url + "/token-audience"
    assert registration.allowed_origins == [platform.base_url]
    assert registration.auto_activate_deployments is False
    deployment = db_session.scalar(select(Deployment))
    assert (deployment.deployment_id, deployment.status) == (DEPLOYMENT_ID, "active")
    stored = db_session.scalar(select(RegistrationInvitation))
    assert stored.used_at is not None and stored.registration_id == registration.id

    result = run_launch(client, platform)
    assert result.response.status_code == 200, result.text
    assert "You are signed in" in result.text


def test_registration_sends_the_tool_metadata_with_the_registration_token(platform, client, runner):
    assert register(client, platform, invite(runner)).status_code == 200
    assert platform.configuration_requests[-1]["Authorization"] == "Bearer peer-registration-token"
    metadata = platform.registrations[-1]
    assert metadata["initiate_login_uri"] == TOOL + "/lti/login"
    assert metadata["redirect_uris"] == [TOOL + "/lti/launch"]
    assert metadata["jwks_uri"] == TOOL + "/.well-known/jwks.json"
    assert set(SCOPES) <= set(metadata["scope"].split())
    tool = metadata[TOOL_CONFIGURATION]
    assert tool["domain"] == "localhost" and tool["target_link_uri"] == TOOL + "/lti/launch"
    messages = {m["type"]: m for m in tool["messages"]}
    assert set(messages) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    deep_linking = messages["LtiDeepLinkingRequest"]
    assert deep_linking["target_link_uri"] == TOOL + "/lti/launch"
    assert {"ContentArea", "link_selection", "assignment_selection"} <= set(
        deep_linking["placements"]
    )


def test_completion_page_asks_the_platform_to_close_with_a_static_script(platform, client, runner):
    response = register(client, platform, invite(runner))
    text = response.get_data(as_text=True)
    assert re.search(r'<script src="/static/registration_close\.js"', text)
    assert "<script>" not in text  # CSP script-src 'self': no inline script
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    script = client.get("/static/registration_close.js").get_data(as_text=True)
    assert "org.imsglobal.lti.close" in script and "window.opener" in script


def test_platform_name_is_escaped_on_the_completion_page(platform, client, runner):
    platform.configuration_changes = {
        PLATFORM_CONFIGURATION: {"product_family_code": "<script>alert(1)</script>"}
    }
    text = register(client, platform, invite(runner)).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text


def test_invitation_terms_reach_the_registration(platform, client, runner, db_session):
    first = invite(runner)
    assert register(client, platform, first).status_code == 200
    organisation = db_session.scalar(select(Organisation))
    platform.client_ids = iter(lambda: "second-client", None)
    second = invite(runner, "--organisation", organisation.name, "--auto-activate-deployments")
    assert register(client, platform, second).status_code == 200
    added = db_session.scalar(select(Registration).where(Registration.client_id == "second-client"))
    assert added.organisation_id == organisation.id
    assert added.auto_activate_deployments is True
    assert count(db_session, Organisation) == 1


@pytest.mark.parametrize("app_config", [{"open_registration": True}], ids=["open"])
def test_open_registration_needs_no_invitation_and_creates_an_organisation(
    platform, client, db_session
):
    response = register(client, platform)
    assert response.status_code == 200, response.get_data(as_text=True)
    registration = db_session.scalar(select(Registration))
    organisation = db_session.scalar(select(Organisation))
    assert registration.organisation_id == organisation.id
    assert organisation.name == registration.name == "127.0.0.1 (peer-lms)"
    assert registration.auto_activate_deployments is False


def test_invitation_is_single_use_when_two_registrations_race(platform, app, runner, db_session):
    invitation = invite(runner)
    numbers = iter(range(1, 100))
    platform.client_ids = iter(lambda: f"race-{next(numbers)}", None)
    platform.hold_registrations = threading.Barrier(2)  # both pass every check before storing
    results: list[Any] = [None, None]

    def attempt(index: int) -> None:
        results[index] = register(app.test_client(), platform, invitation)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 403], [r.get_data(as_text=True) for r in results]
    refused(next(r for r in results if r.status_code == 403), 403, "registration_invitation_used")
    assert len(platform.registrations) == 2
    assert count(db_session, Registration) == 1
    assert count(db_session, Organisation) == 1


# -- refusals: a readable page with a stable code, and nothing stored ---------------------------
def test_registration_is_refused_when_there_is_no_invitation(platform, client, db_session):
    refused(register(client, platform), 403, "registration_invitation_required")
    assert platform.configuration_requests == []
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_invitation_is_unknown(platform, client, runner, db_session):
    invite(runner)
    text = refused(
        register(client, platform, "no-such-invitation"), 403, "registration_invitation_unknown"
    )
    assert "no-such-invitation" not in text
    assert platform.configuration_requests == []
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_invitation_was_used(platform, client, runner, db_session):
    invitation = invite(runner)
    assert register(client, platform, invitation).status_code == 200
    platform.client_ids = iter(lambda: "another-client", None)
    refused(register(client, platform, invitation), 403, "registration_invitation_used")
    assert count(db_session, Registration) == 1
    assert len(platform.registrations) == 1  # refused before asking the platform


def test_registration_is_refused_when_invitation_has_expired(
    platform, client, runner, app, db_session
):
    invitation = invite(runner, "--hours", "1")
    with app.extensions["bridge.runtime"].database.transaction() as session:
        session.execute(
            update(RegistrationInvitation).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused(register(client, platform, invitation), 403, "registration_invitation_expired")
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_issuer_is_not_at_the_configuration_origin(
    platform, client, runner, db_session
):
    platform.configuration_changes = {"issuer": "http://localhost:" + platform.base_url[-5:]}
    text = refused(register(client, platform, invite(runner)), 400, "registration_issuer_mismatch")
    assert "localhost" in text
    assert platform.registrations == []
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_configuration_is_unreachable(
    platform, client, runner, db_session
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/.well-known/openid-configuration"
    response = register(client, platform, invite(runner), openid_configuration=closed)
    text = refused(response, 502, "registration_configuration_unavailable")
    assert "ConnectionError" in text
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_configuration_is_not_json(
    platform, client, runner, db_session
):
    platform.configuration_body = "<html>Moodle is in maintenance mode</html>"
    refused(register(client, platform, invite(runner)), 502, "registration_configuration_invalid")
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_configuration_lacks_an_endpoint(
    platform, client, runner, db_session
):
    platform.configuration_changes = {"registration_endpoint": REMOVE}
    text = refused(
        register(client, platform, invite(runner)), 502, "registration_configuration_invalid"
    )
    assert "registration_endpoint" in text
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_platform_refuses(platform, client, runner, db_session):
    platform.register_status = 400
    text = refused(register(client, platform, invite(runner)), 502, "registration_refused")
    assert "<dt>status</dt><dd>400</dd>" in text and "access_denied" in text
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_registration_token_is_wrong(
    platform, client, runner, db_session
):
    response = register(client, platform, invite(runner), registration_token="forged")
    text = refused(response, 502, "registration_refused")
    assert "<dt>status</dt><dd>401</dd>" in text
    assert "forged" not in text
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_answer_has_no_client_id(platform, client, runner, db_session):
    platform.answer_changes = {"client_id": REMOVE}
    refused(register(client, platform, invite(runner)), 502, "registration_incomplete")
    assert_nothing_stored(db_session)


def test_registration_is_refused_when_openid_configuration_is_missing(
    platform, client, runner, db_session
):
    response = client.get("/lti/register?" + urlencode({"invitation": invite(runner)}))
    refused(response, 400, "registration_configuration_url_invalid")
    assert_nothing_stored(db_session)


@pytest.mark.parametrize("app_config", [{}], ids=["production"])
def test_plain_http_configuration_is_refused_outside_development(
    platform, client, runner, db_session
):
    refused(
        register(client, platform, invite(runner)), 400, "registration_configuration_url_invalid"
    )
    assert platform.configuration_requests == []
    assert_nothing_stored(db_session)


@pytest.mark.parametrize("app_config", [{"sandbox": True, "http_timeout_seconds": 0.3}])
def test_registration_is_refused_when_platform_does_not_answer_in_time(
    platform, client, runner, db_session
):
    platform.hold_registrations = threading.Barrier(2)  # a second party that never comes
    text = refused(
        register(client, platform, invite(runner)), 502, "registration_endpoint_unavailable"
    )
    assert "ReadTimeout" in text
    assert_nothing_stored(db_session)


def test_registration_is_a_conflict_when_platform_reuses_a_client_id(
    platform, client, runner, db_session
):
    assert register(client, platform, invite(runner)).status_code == 200
    second = invite(runner)
    refused(register(client, platform, second), 409, "registration_exists")
    assert count(db_session, Registration) == 1
    unused = select(RegistrationInvitation.used_at).where(
        RegistrationInvitation.registration_id.is_(None)
    )
    assert db_session.scalar(unused) is None  # the second invitation is still usable


def test_the_opening_lms_page_may_frame_the_tool_when_it_is_https(
    platform, client, runner, db_session
):
    """Canvas cloud: the issuer is canvas.instructure.com, the frame is the school's domain."""
    query = urlencode({"openid_configuration": platform.configuration_url,
                       "registration_token": platform.registration_token, "invitation": invite(runner)})  # fmt: skip
    opener = {"Referer": "https://school.instructure.com/accounts/1/developer_keys"}
    assert client.get("/lti/register?" + query, headers=opener).status_code == 200
    registration = db_session.scalar(select(Registration))
    assert registration.allowed_origins == [platform.base_url, "https://school.instructure.com"]
