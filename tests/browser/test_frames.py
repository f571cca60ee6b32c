"""The widget inside a cross-site iframe in headless Chromium, with third-party cookies blocked.

The sandbox LMS page (http://localhost:P2) frames the tool (https://127.0.0.1:P1): two sites, so
every tool cookie is a third-party cookie. What was observed with Debian's Chromium 156 and a
profile whose ``profile.cookie_controls_mode`` is 1: an unpartitioned ``Secure; SameSite=None``
cookie is refused in the frame, a ``Partitioned`` one is kept (partition key: the top-level site
``http://localhost``) and sent back on the cross-site POST of the id_token. With mode 0 both are
kept. A cookie content setting of 2 for the tool's origin refuses every one of its cookies.
"""

from __future__ import annotations

import pytest

from tests.browser.helpers import (
    ALLOW_THIRD_PARTY,
    BLOCK_THIRD_PARTY,
    COOKIE_PROBE_JS,
    STATE_COOKIE_PREFIX,
    BrowserRun,
    CrossSite,
)

pytestmark = pytest.mark.browser

LEARNER_IN_BIO = {"course": "bio101", "user": "learner", "widget": "discussion"}
TOOL_HOST = "127.0.0.1"


def assert_widget_open(run: BrowserRun, site: CrossSite) -> None:
    """The shell shows the learner's role and course, and its API call with the bearer token
    succeeded (``#api-status[data-state=ok]`` is set by shell.js only after /api/v1/session
    answered 2xx)."""
    state = run.open_launch(site.launch_url(**LEARNER_IN_BIO))
    assert state == "ok", f"the widget did not open (state {state!r})\n{run.describe_frames()}"
    frame = run.page.frame_locator("#tool-frame")
    assert frame.locator('[data-field="access"]').inner_text() == "Participant"
    assert frame.locator('[data-field="context"]').inner_text() == "Cell Biology"
    api_calls = run.requests_to(site.tool_url + "/api/v1/session")
    assert api_calls, "the shell never called /api/v1/session"
    headers = api_calls[-1].all_headers()
    assert headers.get("authorization", "").startswith("Bearer ")
    assert "cookie" not in headers  # the session travels as a bearer token only


def state_cookie_sent_on_launch(run: BrowserRun, site: CrossSite) -> bool:
    """Whether the browser sent the OIDC state cookie with the cross-site POST to /lti/launch."""
    posts = [r for r in run.requests_to(site.tool_url + "/lti/launch") if r.method == "POST"]
    assert posts, "no POST reached /lti/launch"
    return STATE_COOKIE_PREFIX in posts[0].all_headers().get("cookie", "")


def state_set_cookie_header(run: BrowserRun, site: CrossSite) -> str:
    """The Set-Cookie header with which the tool's login answered (as sent by the server)."""
    for response in run.responses:
        if response.url.startswith(site.tool_url + "/lti/login"):
            header = response.all_headers().get("set-cookie", "")
            if STATE_COOKIE_PREFIX in header:
                return header
    raise AssertionError("the tool's login set no state cookie")


def test_launch_with_third_party_cookies_blocked_keeps_partitioned_state_cookie(
    cross_site: CrossSite, chromium
):
    run = chromium(BLOCK_THIRD_PARTY)
    with run.failure_screenshot("third-party-blocked"):
        assert_widget_open(run, cross_site)
        # What the server sent: over HTTPS the state cookie is CHIPS-ready.
        header = state_set_cookie_header(run, cross_site)
        for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
            assert attribute in header, header
        # What Chromium kept: the cookie jar lists it under the top-level site's partition key,
        # and it went back with the cross-site form POST of the id_token (the cookie path of the
        # state worked even though third-party cookies are blocked).
        state_cookies = [
            c for c in run.cookies_of(TOOL_HOST) if c["name"].startswith(STATE_COOKIE_PREFIX)
        ]
        assert state_cookies, run.context.cookies()
        assert all(c.get("partitionKey") == "http://localhost" for c in state_cookies)
        assert state_cookie_sent_on_launch(run, cross_site)
        assert run.console_errors() == []


def test_launch_with_third_party_cookies_allowed_positive_control(cross_site: CrossSite, chromium):
    run = chromium(ALLOW_THIRD_PARTY)
    with run.failure_screenshot("third-party-allowed"):
        assert_widget_open(run, cross_site)
        # Mode 0 really lets unpartitioned third-party cookies through: the contrast that makes
        # the next test's refusal mean something.
        kept = run.tool_frame().evaluate(COOKIE_PROBE_JS)
        assert "probe_plain=1" in kept and "probe_partitioned=1" in kept, kept
        assert run.console_errors() == []


def test_chromium_refuses_unpartitioned_cookie_in_the_cross_site_frame(
    cross_site: CrossSite, chromium
):
    run = chromium(BLOCK_THIRD_PARTY)
    with run.failure_screenshot("blocking-sanity"):
        assert run.open_launch(cross_site.launch_url(**LEARNER_IN_BIO)) == "ok"
        kept = run.tool_frame().evaluate(COOKIE_PROBE_JS)
        assert "probe_plain=1" not in kept, f"an unpartitioned third-party cookie was kept: {kept}"
        assert "probe_partitioned=1" in kept, kept
        tool_cookies = run.cookies_of(TOOL_HOST)
        assert tool_cookies, run.context.cookies()
        unpartitioned = [c["name"] for c in tool_cookies if not c.get("partitionKey")]
        assert unpartitioned == [], f"tool cookies stored without a partition key: {unpartitioned}"


def test_every_tool_cookie_refused_really_blocks(cross_site: CrossSite, chromium):
    """The content setting used by the next test refuses the tool's cookies, partitioned or not,
    and only the tool's: the LMS page's own cookie is still kept."""
    run = chromium(BLOCK_THIRD_PARTY, blocked_origins=(cross_site.tool_url,))
    with run.failure_screenshot("all-tool-cookies-refused-probe"):
        run.open_launch(cross_site.launch_url(**LEARNER_IN_BIO))  # whatever its outcome
        assert STATE_COOKIE_PREFIX in state_set_cookie_header(run, cross_site)  # sent, and…
        assert run.cookies_of(TOOL_HOST) == []  # …refused
        assert not state_cookie_sent_on_launch(run, cross_site)
        assert run.tool_frame().evaluate(COOKIE_PROBE_JS) == ""
        assert "lms_probe=1" in run.page.evaluate(
            "() => { document.cookie = 'lms_probe=1; Path=/'; return document.cookie; }"
        )


def test_launch_with_every_tool_cookie_refused_uses_platform_storage(
    cross_site: CrossSite, chromium
):
    run = chromium(BLOCK_THIRD_PARTY, blocked_origins=(cross_site.tool_url,))
    with run.failure_screenshot("all-tool-cookies-refused"):
        assert_widget_open(run, cross_site)
        assert run.cookies_of(TOOL_HOST) == []
        assert not state_cookie_sent_on_launch(run, cross_site)
        login = next(r for r in run.requests_to(cross_site.tool_url + "/lti/login"))
        assert "lti_storage_target=" in login.url
        assert run.console_errors() == []
