from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.support import LiveServer, truncate_all


@pytest.fixture
def sandbox_grade_sync() -> bool:
    """Whether the sandbox's completions go to its gradebook (AGS), as `bridge setup` arranges for
    `make run`. Off here by default (switched off after setup, as an admin would): most tests
    follow delivery targets of their own and count them. Tests of grade sync override this."""
    return False


def switch_off_sandbox_grades(app: Flask) -> None:
    """Switch off the AGS target `bridge setup` configured for the sandbox LMS."""
    issuer = app.extensions["bridge.runtime"].settings.public_url + "/sandbox"
    result = app.test_cli_runner().invoke(
        args=["connector", "set", "ags", "--issuer", issuer, "--disable"]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def live(database_url: str, tmp_path: Path, sandbox_grade_sync: bool) -> Iterator[LiveServer]:
    """The tool with its sandbox LMS on a real local HTTP server, set up as `make run` does."""
    server = LiveServer(database_url, tmp_path / "var", sandbox=True)
    database = server.app.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    result = server.app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    if not sandbox_grade_sync:
        switch_off_sandbox_grades(server.app)
    yield server
    server.close()


@pytest.fixture
def app(live: LiveServer) -> Flask:
    return live.app


@pytest.fixture
def browser() -> requests.Session:
    return requests.Session()


def sandbox_launch(
    browser: requests.Session, live: LiveServer, course: str, user: str, widget: str
) -> tuple[int, str]:
    """Drive the sandbox LMS like a browser: course page, iframe login, platform auth, launch."""
    page = browser.get(
        f"{live.base_url}/sandbox/launch",
        params={"course": course, "user": user, "widget": widget},
        timeout=10,
    )
    assert page.status_code == 200, page.text
    src = html.unescape(re.search(r'src="([^"]*/lti/login[^"]*)"', page.text).group(1))
    login = browser.get(src, timeout=10)
    # The sandbox offers platform storage, so the login answers with the page that stores state and
    # nonce in it; without JavaScript (as here) the page's continuation link goes on with cookies.
    assert login.status_code == 200 and 'id="lti-storage"' in login.text, login.text
    auth = browser.get(
        html.unescape(re.search(r'data-continue="([^"]+)"', login.text).group(1)), timeout=10
    )
    assert auth.status_code == 200 and "/sandbox/auth" in auth.url, auth.text
    fields = dict(re.findall(r'name="(id_token|state)" value="([^"]+)"', auth.text))
    action = html.unescape(re.search(r'action="([^"]+)"', auth.text).group(1))
    response = browser.post(action, data=fields, timeout=10)
    return response.status_code, response.text


def session_token(text: str) -> str:
    return re.search(r'name="bridge-session" content="([^"]+)"', text).group(1)


class Member:
    """A launched user: their bearer token against the app's test client, paths below ``base``."""

    def __init__(self, client, token: str, base: str = "") -> None:
        self.client, self.token, self.base = client, token, base

    def call(self, method: str, path: str, **kwargs):
        return self.client.open(
            self.base + path,
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
            **kwargs,
        )


@pytest.fixture
def member_base() -> str:
    """The prefix of the paths a ``member`` calls; a module overrides it (e.g. its API's root)."""
    return ""


@pytest.fixture
def member(client, browser, live, member_base: str):
    """Launch a user into the sandbox course's discussion placement: ``member("learner")``."""

    def launch(user: str, course: str = "bio101") -> Member:
        status, text = sandbox_launch(browser, live, course, user, "discussion")
        assert status == 200, text
        return Member(client, session_token(text), member_base)

    return launch
