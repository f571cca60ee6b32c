from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import TestResponse

from tests.peer.platform import LaunchPlan, PeerPlatform


@pytest.fixture(scope="session")
def peer_server() -> Iterator[PeerPlatform]:
    server = PeerPlatform()
    yield server
    server.close()


@pytest.fixture
def peer(peer_server: PeerPlatform, runner: FlaskCliRunner) -> PeerPlatform:
    """The peer platform, registered with the tool through `bridge platform add`."""
    peer_server.plan = LaunchPlan()
    peer_server.auth_requests.clear()
    result = runner.invoke(args=peer_server.cli_add_args())
    assert result.exit_code == 0, result.output
    return peer_server


@dataclass
class LaunchResult:
    response: TestResponse
    fields: dict[str, str]
    auth_params: dict[str, str]

    @property
    def text(self) -> str:
        return self.response.get_data(as_text=True)


def run_launch(client: FlaskClient, peer: PeerPlatform) -> LaunchResult:
    """Login at the tool, authenticate at the peer over HTTP, post the id_token to the tool."""
    login = client.get(peer.login_url().removeprefix("http://localhost"))
    assert login.status_code == 302, login.get_data(as_text=True)
    action, fields = peer.authenticate(login.location)
    assert action == "http://localhost/lti/launch"
    response = client.post("/lti/launch", data=fields)
    return LaunchResult(response, fields, peer.auth_requests[-1])


@pytest.fixture
def launch(client: FlaskClient, peer: PeerPlatform):
    return lambda: run_launch(client, peer)
