"""Browser fixtures: two live sites sharing one database, and Chromium with chosen cookie controls.

- the TOOL on https://127.0.0.1:P1 (self-signed certificate made here, SAN IP 127.0.0.1);
- the SANDBOX LMS on http://localhost:P2, a second server of an app built with the same settings
  (public_url=https://127.0.0.1:P1, sandbox_url=http://localhost:P2/sandbox), so the LMS page and
  the tool frame are two different sites, as in production;
- one migrated SQLite database and one var dir (file cache) behind both, prepared by `bridge setup`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import (
    BLOCK_THIRD_PARTY,
    BrowserRun,
    CrossSite,
    ThreadedServer,
    axe_core_script,
    chromium_run,
    require_browser,
    self_signed_certificate,
    server_ssl_context,
    spki_sha256,
)
from tests.support import SqliteTemplate, make_app


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional until installed

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def cross_site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: SqliteTemplate
) -> Iterator[CrossSite]:
    require_browser()  # skip before starting servers nobody will browse
    directory = tmp_path_factory.mktemp("cross-site")
    cert_path, key_path = self_signed_certificate(directory)
    with contextlib.ExitStack() as stack:
        tool_server = ThreadedServer(server_ssl_context(cert_path, key_path))
        stack.callback(tool_server.close)
        sandbox_server = ThreadedServer()
        stack.callback(sandbox_server.close)
        tool_url = f"https://127.0.0.1:{tool_server.port}"
        sandbox_origin = f"http://localhost:{sandbox_server.port}"
        database_url = sqlite_template.copy_to(directory)
        settings = {
            "public_url": tool_url,
            "sandbox": True,
            "sandbox_url": sandbox_origin + "/sandbox",
        }
        apps = [make_app(database_url, directory / "var", **settings) for _ in range(2)]
        for app in apps:
            stack.callback(app.extensions["bridge.runtime"].database.dispose)
        result = apps[0].test_cli_runner().invoke(args=["setup"])
        assert result.exit_code == 0, result.output
        assert f"issuer {sandbox_origin}/sandbox" in result.output, result.output
        tool_server.start(apps[0])
        sandbox_server.start(apps[1])
        yield CrossSite(tool_url, sandbox_origin, apps[0], apps[1], spki_sha256(cert_path))
        tool_server.close()  # stop serving before the stack disposes the databases
        sandbox_server.close()


@pytest.fixture
def chromium(
    playwright_driver: Any, cross_site: CrossSite, tmp_path: Path
) -> Iterator[Callable[..., BrowserRun]]:
    """``chromium(cookie_controls_mode, blocked_origins=())`` starts a fresh profile, closed after."""
    with contextlib.ExitStack() as stack:

        def start(cookie_controls_mode: int, blocked_origins: tuple[str, ...] = ()) -> BrowserRun:
            return stack.enter_context(
                chromium_run(
                    playwright_driver,
                    tmp_path,
                    cookie_controls_mode,
                    blocked_origins,
                    trusted_spki=cross_site.tool_spki,
                )
            )

        yield start


@pytest.fixture
def chromiums(
    playwright_driver: Any, cross_site: CrossSite, tmp_path: Path
) -> Iterator[Callable[..., BrowserRun]]:
    """``chromiums(name, cookie_controls_mode=BLOCK_THIRD_PARTY, bypass_csp=False)`` starts one
    fresh profile per name, so several people can use the tool side by side; all closed after."""
    with contextlib.ExitStack() as stack:

        def start(
            name: str, cookie_controls_mode: int = BLOCK_THIRD_PARTY, bypass_csp: bool = False
        ) -> BrowserRun:
            directory = tmp_path / name
            directory.mkdir()
            return stack.enter_context(
                chromium_run(
                    playwright_driver,
                    directory,
                    cookie_controls_mode,
                    trusted_spki=cross_site.tool_spki,
                    bypass_csp=bypass_csp,
                )
            )

        yield start


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's axe.min.js, installed with npm into a cache outside the repository if missing."""
    require_browser()
    return axe_core_script()
