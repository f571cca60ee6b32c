"""OIDC login initiation, driven by the peer platform's login URL and by hand-made requests."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.peer.platform import CLIENT_ID, query_of


def test_login_redirects_to_platform_auth_when_request_is_valid(peer, client):
    response = client.get(peer.login_url().removeprefix("http://localhost"))
    assert response.status_code == 302
    assert response.location.startswith(peer.base_url + "/auth?")
    params = query_of(response.location)
    assert params["redirect_uri"] == "http://localhost/lti/launch"
    assert params["client_id"] == CLIENT_ID


def test_login_accepts_post_when_platform_posts_the_form(peer, client):
    query = query_of(peer.login_url())
    response = client.post("/lti/login", data=query)
    assert response.status_code == 302 and response.location.startswith(peer.base_url + "/auth?")


def test_login_finds_the_registration_when_client_id_is_omitted(peer, client):
    query = query_of(peer.login_url())
    del query["client_id"]
    response = client.get("/lti/login?" + urlencode(query))
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("drop", "code"), [("iss", "login_missing_issuer"), ("login_hint", "login_missing_login_hint")]
)
def test_login_is_refused_when_a_required_parameter_is_missing(peer, client, drop, code):
    query = query_of(peer.login_url())
    del query[drop]
    response = client.get("/lti/login?" + urlencode(query))
    assert response.status_code == 400
    assert f"<code>{code}</code>" in response.get_data(as_text=True)


def test_login_is_refused_when_issuer_is_unknown(peer, client):
    query = query_of(peer.login_url()) | {"iss": "https://unknown.example"}
    response = client.get("/lti/login?" + urlencode(query))
    assert response.status_code == 400
    assert "<code>unknown_registration</code>" in response.get_data(as_text=True)


def test_login_is_refused_when_target_link_uri_is_outside_the_tool(peer, client):
    query = query_of(peer.login_url()) | {"target_link_uri": "https://evil.example/steal"}
    response = client.get("/lti/login?" + urlencode(query))
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", "")


def test_login_never_uses_target_link_uri_as_redirect_uri(peer, client):
    query = query_of(peer.login_url()) | {
        "target_link_uri": "http://localhost/lti/launch?widget=kb"
    }
    response = client.get("/lti/login?" + urlencode(query))
    assert query_of(response.location)["redirect_uri"] == "http://localhost/lti/launch"


def test_login_requires_client_id_when_issuer_has_several_registrations(peer, client, runner):
    other = ["platform", "add", "--issuer", peer.issuer, "--client-id", "second-client",
             "--auth-login-url", peer.base_url + "/auth", "--key-set-url", peer.base_url + "/jwks.json"]  # fmt: skip
    assert runner.invoke(args=other).exit_code == 0
    query = query_of(peer.login_url())
    del query["client_id"]
    response = client.get("/lti/login?" + urlencode(query))
    assert response.status_code == 400
    assert "<code>login_client_id_required</code>" in response.get_data(as_text=True)


def test_state_cookie_is_lax_and_not_secure_when_served_over_http(peer, client):
    response = client.get(peer.login_url().removeprefix("http://localhost"))
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("lti1p3-state-")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie and "Partitioned" not in cookie


@pytest.fixture
def https_peer(peer):
    peer.tool_base_url = "https://localhost"
    yield peer
    peer.tool_base_url = "http://localhost"


def test_cookies_are_secure_partitioned_when_served_over_https(https_peer, client):
    path = https_peer.login_url().removeprefix("https://localhost")
    response = client.get(path, base_url="https://localhost")
    assert response.status_code == 302, response.get_data(as_text=True)
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("lti1p3-state-") for c in cookies)
    for cookie in cookies:
        assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie
        assert "HttpOnly" in cookie


def test_launch_over_https_succeeds_with_partitioned_cookies(https_peer, client):
    path = https_peer.login_url().removeprefix("https://localhost")
    login = client.get(path, base_url="https://localhost")
    assert login.status_code == 302
    action, fields = https_peer.authenticate(login.location)
    assert action == "https://localhost/lti/launch"
    response = client.post("/lti/launch", data=fields, base_url="https://localhost")
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["iss", "client_id"])
def test_login_with_a_nul_character_is_a_400_not_a_500(peer, client, field):
    query = query_of(peer.login_url()) | {field: "bad\x00value"}
    response = client.get("/lti/login?" + urlencode(query))
    assert response.status_code == 400
