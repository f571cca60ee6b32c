"""Launches whose browser refuses the tool's cookies: state and nonce kept in platform storage.

The page scripts' postMessage side is exercised in tests/browser; here the HTTP side is driven as
those scripts drive it: the login page states what to store, the launch page what to read back.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest

from tests.peer.platform import query_of

SAME_ORIGIN = {"Origin": "http://localhost"}  # what the tool's own read-back page sends


def data_attributes(text: str) -> dict[str, str]:
    box = re.search(r'<div id="lti-storage"([^>]*)>', text).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', box)}


def hidden(text: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', text).group(1))


@pytest.fixture
def stored(peer, client, app):
    """Login with lti_storage_target, then the launch in a browser that kept no cookies."""
    query = query_of(peer.login_url()) | {"lti_storage_target": "post_message_forwarding"}
    login = client.get("/lti/login?" + urlencode(query))
    assert login.status_code == 200, login.get_data(as_text=True)
    put = data_attributes(login.get_data(as_text=True))
    _, fields = peer.authenticate(put["continue"])
    cookieless = app.test_client(use_cookies=False)
    page = cookieless.post("/lti/launch", data=fields)
    assert page.status_code == 200, page.get_data(as_text=True)
    return put, page.get_data(as_text=True), cookieless, page.headers["Content-Security-Policy"]


def test_login_page_stores_state_and_nonce_for_the_platform_auth_origin(stored, peer):
    put, _, _, _ = stored
    assert put["mode"] == "login" and put["frame"] == "post_message_forwarding"
    assert put["origin"] == peer.base_url  # the origin of the platform's OIDC auth URL
    assert put["state-key"].endswith(put["state"]) and put["nonce-key"].endswith(put["state"])
    assert put["nonce"] not in put["nonce-key"]  # the read-back page never shows the nonce
    assert query_of(put["continue"])["state"] == put["state"]


def test_cookieless_launch_completes_with_values_read_from_platform_storage(stored):
    put, page, browser, _ = stored
    get = data_attributes(page)
    assert (get["mode"], get["state-key"], get["nonce-key"]) == (
        "launch",
        put["state-key"],
        put["nonce-key"],
    )
    form = {"launch_id": hidden(page, "launch_id"), "state": put["state"], "nonce": put["nonce"]}
    done = browser.post("/lti/launch/complete", data=form, headers=SAME_ORIGIN)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "You are signed in" in done.get_data(as_text=True)
    again = browser.post("/lti/launch/complete", data=form, headers=SAME_ORIGIN)
    assert again.status_code == 400 and "<code>launch_expired</code>" in again.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("field", "code"), [("state", "invalid_state"), ("nonce", "invalid_nonce")]
)
def test_cookieless_launch_is_refused_when_storage_holds_other_values(stored, field, code):
    put, page, browser, _ = stored
    form = {
        "launch_id": hidden(page, "launch_id"),
        "state": put["state"],
        "nonce": put["nonce"],
        field: "forged",
    }
    refused = browser.post("/lti/launch/complete", data=form, headers=SAME_ORIGIN)
    assert refused.status_code == 400
    assert f"<code>{code}</code>" in refused.get_data(as_text=True)


def test_unknown_launch_id_is_refused(client):
    response = client.post(
        "/lti/launch/complete",
        data={"launch_id": "nope", "state": "s", "nonce": "n"},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400 and "<code>launch_expired</code>" in response.get_data(
        as_text=True
    )


def test_read_back_page_may_be_framed_only_by_the_registration_origins(stored, peer):
    *_, csp = stored
    assert f"frame-ancestors {peer.base_url}" in csp


@pytest.mark.parametrize("headers", [{}, {"Origin": "https://attacker.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"}])  # fmt: skip
def test_completion_from_another_site_is_refused(stored, app, headers):
    """A parked launch's owner cannot make a victim's browser complete it (login CSRF)."""
    put, page, _, _ = stored
    victim = app.test_client()
    form = {"launch_id": hidden(page, "launch_id"), "state": put["state"], "nonce": put["nonce"]}
    refused = victim.post("/lti/launch/complete", data=form, headers=headers)
    assert refused.status_code == 403
    assert "<code>cross_site_completion</code>" in refused.get_data(as_text=True)
