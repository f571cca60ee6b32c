"""Tool endpoints and pages: JWKS, configuration document, errors as frame-friendly pages, headers."""

from __future__ import annotations

from urllib.parse import urlsplit


def test_jwks_publishes_the_tool_key_when_set_up(client, browser, live):
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key
    assert len(key["n"]) >= 342  # 2048-bit modulus, base64url


def test_every_process_publishes_the_same_jwks(client, browser, live, app, tmp_path):
    from tests.support import make_app  # noqa: PLC0415

    database_url = app.extensions["bridge.runtime"].database.url
    other = make_app(
        database_url, tmp_path / "other-host", sandbox=True, public_url="http://localhost"
    ).test_client()
    assert (
        other.get("/.well-known/jwks.json").get_json()
        == client.get("/.well-known/jwks.json").get_json()
    )


def test_config_document_has_the_dynamic_registration_shape(client, live):
    doc = client.get("/lti/config").get_json()
    assert doc["initiate_login_uri"] == live.base_url + "/lti/login"
    assert doc["redirect_uris"] == [live.base_url + "/lti/launch"]
    assert doc["jwks_uri"] == live.base_url + "/.well-known/jwks.json"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in doc["scope"].split()
    tool = doc["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool["target_link_uri"] == live.base_url + "/lti/launch"
    assert tool["messages"][0]["type"] == "LtiResourceLinkRequest"


def test_unknown_page_is_an_html_404_that_fits_a_frame(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


def test_get_on_launch_is_a_readable_405(client):
    response = client.get("/lti/launch")
    assert response.status_code == 405 and response.mimetype == "text/html"


def test_pages_carry_security_headers(client, live):
    response = client.get("/lti/config")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' https: {live.base_url}" in csp
    assert "script-src 'self'" in csp and "object-src 'none'" in csp


def test_sandbox_course_page_may_frame_the_tool(client, live):
    page = client.get("/sandbox/launch?course=bio101&user=learner&widget=discussion")
    assert f"frame-src 'self' {live.base_url}" in page.headers["Content-Security-Policy"]


def test_request_id_is_echoed_when_sane_and_replaced_when_not(client):
    assert (
        client.get("/lti/config", headers={"X-Request-ID": "abcdef123456"}).headers["X-Request-ID"]
        == "abcdef123456"
    )
    assert (
        client.get("/lti/config", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
        != "<script>"
    )


def test_logo_advertised_in_the_configuration_is_served(client):
    logo = client.get("/lti/config").get_json()["logo_uri"]
    response = client.get(urlsplit(logo).path)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
