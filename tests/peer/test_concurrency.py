"""Launches racing each other: never a 500, never two rows where one belongs."""

from __future__ import annotations

import contextlib
import re
import threading

from sqlalchemy import func, select

from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Deployment
from tests.peer.platform import LaunchPlan

DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


def prepared(client, peer) -> dict[str, str]:
    login = client.get(peer.login_url().removeprefix("http://localhost"))
    _, fields = peer.authenticate(login.location)
    return fields


def test_two_first_launches_of_a_new_deployment_both_get_the_pending_page(
    peer, app, monkeypatch, db_session
):
    """Canvas and Brightspace create a deployment per install: a class may open it at once."""
    peer.plan = LaunchPlan(overrides={DEPLOYMENT_CLAIM: "brand-new-deployment"})
    clients = [app.test_client(), app.test_client()]
    forms = [prepared(c, peer) for c in clients]
    barrier = threading.Barrier(2, timeout=3)
    real_find = tenancy.find_deployment

    def find_then_wait(*args, **kwargs):  # both look before either inserts (PostgreSQL lets them)
        found = real_find(*args, **kwargs)
        # SQLite serialises the transactions: there the second never reaches the barrier in time.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    monkeypatch.setattr(tenancy, "find_deployment", find_then_wait)
    results: list[tuple[int, list[str]]] = [(0, []), (0, [])]

    def launch(index: int) -> None:
        response = clients[index].post("/lti/launch", data=forms[index])
        results[index] = (
            response.status_code,
            re.findall(r"<code>([a-z_]+)</code>", response.get_data(as_text=True)),
        )

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _ in results] == [403, 403], results
    assert all("deployment_pending" in codes for _, codes in results)
    count = select(func.count()).where(Deployment.deployment_id == "brand-new-deployment")
    assert db_session.scalar(count) == 1
