"""Delivery with real worker processes: end to end, a flaky target, SIGKILLed workers, dead letters.

Each runs with the embedded SQLite queue and with the Redis queue, on SQLite and PostgreSQL; the
two longest (150 completions to a flaky target, 1,000 with workers killed) run on the two
deployment modes only, embedded (SQLite, SQLite queue) and scaled (PostgreSQL, Redis), to keep CI
within its time. Waits are functional timeouts (delivery must happen), not performance
assertions: bench/delivery.py measures latency.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from bridge.delivery.models import OutboxStatus
from tests.integration.conftest import sandbox_launch, session_token, switch_off_sandbox_grades
from tests.integration.delivery_support import (
    WEBHOOK_SECRET,
    Target,
    Workers,
    ledger_ids,
    outbox_counts,
    placement_ids,
    settled,
    signed_body,
    wait_for,
    write_completions,
)
from tests.support import require_redis

FAST_RETRIES = {
    "http_timeout_seconds": 1,
    "delivery_backoff_seconds": 0.2,
    "delivery_backoff_max_seconds": 1,
    "delivery_lease_seconds": 5,
    "sweep_seconds": 1,
}


# The deployment modes the README describes, for the tests too long to run on every combination.
DEPLOYMENT_MODES = pytest.mark.parametrize(
    ("database_url", "queue_settings"),
    [
        pytest.param("sqlite", "sqlite-queue", id="embedded"),
        pytest.param(
            "postgres", "redis-queue", id="scaled", marks=[pytest.mark.postgres, pytest.mark.redis]
        ),
    ],
    indirect=True,
)


@pytest.fixture(params=["sqlite-queue", pytest.param("redis-queue", marks=pytest.mark.redis)])
def queue_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    return {"redis_url": require_redis()} if request.param == "redis-queue" else {}


@pytest.fixture
def app_config(queue_settings):
    return dict(queue_settings)


@pytest.fixture
def live(database_url, tmp_path, queue_settings):
    from tests.support import LiveServer, truncate_all  # noqa: PLC0415

    server = LiveServer(
        database_url, tmp_path / "var", sandbox=True, **queue_settings, **FAST_RETRIES
    )
    database = server.app.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    assert server.app.test_cli_runner().invoke(args=["setup"]).exit_code == 0
    switch_off_sandbox_grades(server.app)  # these tests count their webhook target's deliveries
    yield server
    server.close()


@pytest.fixture
def target() -> Iterator[Target]:
    found = Target()
    yield found
    found.close()


@pytest.fixture
def workers(live, database_url, tmp_path, queue_settings) -> Iterator[callable]:
    started: list[Workers] = []

    def make(**settings) -> Workers:
        found = Workers(
            database_url, tmp_path / "var", **{**FAST_RETRIES, **queue_settings, **settings}
        )
        started.append(found)
        return found

    yield make
    for found in started:
        found.stop()


def add_webhook(live, target: Target) -> None:
    runner = live.app.test_cli_runner()
    issuer = f"{live.base_url}/sandbox"
    result = runner.invoke(
        args=[
            "connector",
            "set",
            "webhook",
            "--issuer",
            issuer,
            "--set",
            f"url={target.url}",
            "--set",
            f"secret={WEBHOOK_SECRET}",
        ]
    )
    assert result.exit_code == 0, result.output


def test_a_learners_completion_reaches_the_target_through_a_real_worker(
    live, browser, target, workers
):
    add_webhook(live, target)
    worker = workers()
    worker.start()
    tokens = {}
    for user in ("instructor", "learner"):
        status, text = sandbox_launch(browser, live, "bio101", user, "discussion")
        assert status == 200
        tokens[user] = {"Authorization": f"Bearer {session_token(text)}"}
    rule = {"criteria": [{"key": "discussion.threads_started", "count": 1}]}
    put = browser.put(
        f"{live.base_url}/api/v1/completions/rules",
        json=rule,
        headers=tokens["instructor"],
        timeout=10,
    )
    assert put.status_code == 200, put.text
    posted = browser.post(f"{live.base_url}/api/v1/discussion/threads",
                          json={"title": "Hi", "body": "first"}, headers=tokens["learner"], timeout=10)  # fmt: skip
    assert posted.status_code == 201
    wait_for(lambda: len(target.received) == 1, 30, "the completion at the target")
    ((headers, body),) = target.bodies.values()
    event = signed_body(headers, body)
    assert event["type"] == "completion.recorded"
    assert event["data"]["completed"] is True and event["data"]["learner"]["sub"]
    me = browser.get(
        f"{live.base_url}/api/v1/completions/me", headers=tokens["learner"], timeout=10
    )
    wait_for(
        lambda: outbox_counts(live.app.extensions["bridge.runtime"].database) == {"delivered": 1},
        10,
        "the row settled",
    )
    me = browser.get(
        f"{live.base_url}/api/v1/completions/me", headers=tokens["learner"], timeout=10
    )
    assert me.json()["standing"]["deliveries"][0]["status"] == "delivered"


def launch_learner(live, browser) -> None:
    status, _ = sandbox_launch(browser, live, "bio101", "learner", "discussion")
    assert status == 200


@DEPLOYMENT_MODES
def test_every_completion_is_delivered_to_a_flaky_target(live, browser, target, workers):
    database = live.app.extensions["bridge.runtime"].database
    add_webhook(live, target)
    launch_learner(live, browser)
    target.mode = "flaky"
    worker = workers()
    worker.start()
    write_completions(
        database, placement_ids(database), 150, live.app.extensions["bridge.jobs"].record
    )
    wait_for(lambda: settled(database), 120, "every row delivered")
    assert outbox_counts(database) == {OutboxStatus.DELIVERED: 150}
    assert set(target.received) == ledger_ids(database)
    assert target.answers["503"] and target.answers["429"] and target.answers["timeout"]


@DEPLOYMENT_MODES
def test_workers_killed_at_random_lose_nothing_and_duplicate_no_ledger_row(
    live, browser, target, workers
):
    database = live.app.extensions["bridge.runtime"].database
    add_webhook(live, target)
    launch_learner(live, browser)
    target.mode = "slow"  # 50 ms an answer: the kills land mid-run
    write_completions(
        database, placement_ids(database), 1000, live.app.extensions["bridge.jobs"].record
    )
    worker = workers(worker_threads=4)
    worker.start()
    chance = random.Random(7)  # noqa: S311 - test timing
    while not settled(database) and worker.kills < 6:
        time.sleep(chance.uniform(0.5, 1.5))
        worker.kill()
        worker.start()
    wait_for(lambda: settled(database), 120, "every row delivered after the kills")
    assert worker.kills >= 3
    assert outbox_counts(database) == {OutboxStatus.DELIVERED: 1000}
    ids = ledger_ids(database)
    assert len(ids) == 1000 and set(target.received) == ids  # nothing lost, no ledger row twice
    result = live.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_a_target_down_past_the_retry_budget_dead_letters_then_retry_dead_delivers(
    live, browser, target, workers
):
    database = live.app.extensions["bridge.runtime"].database
    add_webhook(live, target)
    launch_learner(live, browser)
    target.mode = "down"
    worker = workers(delivery_max_attempts=3)
    worker.start()
    write_completions(
        database, placement_ids(database), 5, live.app.extensions["bridge.jobs"].record
    )
    wait_for(lambda: outbox_counts(database) == {OutboxStatus.DEAD: 5}, 60, "rows dead-lettered")
    assert not target.received
    target.mode = "ok"
    result = live.app.test_cli_runner().invoke(args=["outbox", "retry-dead"])
    assert result.exit_code == 0 and "5 outbox rows queued" in result.output
    wait_for(
        lambda: outbox_counts(database) == {OutboxStatus.DELIVERED: 5},
        30,
        "rows delivered after retry-dead",
    )
    assert set(target.received) == ledger_ids(database)
