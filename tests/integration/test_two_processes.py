"""Two web processes share one database and one cache folder, as behind a load balancer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.peer.platform import PeerPlatform
from tests.support import SECRET, make_app, truncate_all


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout}s")


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, PeerPlatform]]:
    ports = free_port(), free_port()
    public_url = f"http://127.0.0.1:{ports[0]}"
    var_dir = tmp_path / "shared-var"
    setup_app = make_app(database_url, var_dir, public_url=public_url)
    if not setup_app.extensions["bridge.runtime"].database.is_sqlite:
        truncate_all(setup_app.extensions["bridge.runtime"].database)
    peer = PeerPlatform(tool_base_url=public_url)
    runner = setup_app.test_cli_runner()
    for args in (["setup"], peer.cli_add_args()):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    env = {**os.environ, "BRIDGE_SECRET_KEY": SECRET, "BRIDGE_DATABASE_URL": database_url,
           "BRIDGE_VAR_DIR": str(var_dir), "BRIDGE_PUBLIC_URL": public_url, "BRIDGE_LOG_LEVEL": "WARNING"}  # fmt: skip
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bridge.cli import main; main()",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes, strict=True):
            wait_until_up(url + "/lti/config", process)
        yield urls[0], urls[1], peer
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        peer.close()
        setup_app.extensions["bridge.runtime"].database.dispose()


def test_login_on_one_process_and_launch_on_the_other_succeeds(two_servers):
    first, second, peer = two_servers
    browser = requests.Session()
    login = browser.get(peer.login_url().replace(first, first), allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text
    action, fields = peer.authenticate(login.headers["Location"])
    assert action == first + "/lti/launch"
    launch = browser.post(second + "/lti/launch", data=fields, timeout=10)
    assert launch.status_code == 200, launch.text
    assert "You are signed in" in launch.text

    replay = browser.post(first + "/lti/launch", data=fields, timeout=10)
    assert replay.status_code == 400
    assert "<code>replayed_launch</code>" in replay.text


def test_both_processes_publish_the_same_jwks(two_servers):
    first, second, _ = two_servers
    assert (
        requests.get(first + "/.well-known/jwks.json", timeout=5).json()
        == requests.get(second + "/.well-known/jwks.json", timeout=5).json()
    )
