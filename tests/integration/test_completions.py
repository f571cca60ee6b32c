"""Completion rules over HTTP: events → progress → completion → ledger + outbox → delivery."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from bridge.completions.models import Completion, CompletionRule
from bridge.delivery.models import DeliveryAttempt, OutboxItem
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import Registration, User
from connectors.fake import FakeConnector
from tests.integration.conftest import Member

DISCUSSION = "/api/v1/discussion"
COMPLETIONS = "/api/v1/completions"


@pytest.fixture(autouse=True)
def _fresh_fake():
    FakeConnector.reset()
    yield
    FakeConnector.reset()


def sandbox_issuer(db_session) -> str:
    return db_session.scalar(select(Registration.issuer))


def add_fake_target(runner, db_session, *settings: str) -> None:
    args = ["connector", "set", "fake", "--issuer", sandbox_issuer(db_session)]
    for setting in settings:
        args += ["--set", setting]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output


def deliver_all(app) -> list[str]:
    jobs = app.extensions["bridge.jobs"]
    with app.extensions["bridge.runtime"].database.transaction() as session:
        ids = [str(i) for i in session.scalars(select(OutboxItem.id))]
    return [jobs.deliver_one(i) for i in ids]


def post_threads(learner: Member, count: int) -> list[dict]:
    threads = []
    for n in range(count):
        response = learner.call(
            "POST", f"{DISCUSSION}/threads", json={"title": f"T{n}", "body": "body"}
        )
        assert response.status_code == 201, response.get_json()
        threads.append(response.get_json())
    return threads


def test_learner_completes_when_every_criterion_is_met_and_it_is_delivered_once(
    member, runner, db_session, app
):
    teacher, ada, lin = member("instructor"), member("learner"), member("learner2")
    add_fake_target(runner, db_session)
    rule = {
        "criteria": [
            {"key": "discussion.threads_started", "count": 2},
            {"key": "discussion.reactions_received", "count": 1},
        ]
    }
    response = teacher.call("PUT", f"{COMPLETIONS}/rules", json=rule)
    assert response.status_code == 200, response.get_json()
    assert [c["label"] for c in response.get_json()["criteria"]] == [
        "Threads to start: 2",
        "Reactions to receive from peers: 1",
    ]
    threads = post_threads(ada, 2)
    assert db_session.scalar(select(func.count()).select_from(Completion)) == 0
    root = ada.call("GET", f"{DISCUSSION}/threads/{threads[0]['id']}").get_json()["posts"][0]
    ada.call("POST", f"{DISCUSSION}/posts/{root['id']}/reactions", json={"kind": "upvote"})
    assert db_session.scalar(select(func.count()).select_from(Completion)) == 0  # own reaction
    reacted = lin.call(
        "POST", f"{DISCUSSION}/posts/{root['id']}/reactions", json={"kind": "upvote"}
    )
    assert reacted.status_code in (200, 201), reacted.get_json()

    completion = db_session.scalar(select(Completion))
    assert completion is not None and completion.rule_version == 1
    assert completion.evidence["discussion.threads_started"]["reached"] == 2
    entries = db_session.scalars(select(LedgerEntry))
    assert [e.kind for e in entries] == ["completion"] and entries[0].score == "1"
    assert deliver_all(app) == ["delivered"]
    (item,) = FakeConnector.received()
    assert item.completed and item.completion_id == completion.id
    # Readable, as the learner was asked (an AGS comment shows them in the gradebook).
    assert item.criteria_met == ("Threads to start: 2", "Reactions to receive from peers: 1")
    assert deliver_all(app) == ["not due"]  # delivered rows are never sent again

    more = lin.call("POST", f"{DISCUSSION}/posts/{root['id']}/reactions", json={"kind": "like"})
    assert more.status_code in (200, 201, 422)
    post_threads(ada, 1)  # more activity after completion records nothing new
    assert db_session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    mine = ada.call("GET", f"{COMPLETIONS}/me").get_json()
    assert (
        mine["standing"]["completed_at"]
        and mine["standing"]["deliveries"][0]["status"] == "delivered"
    )


def test_progress_mode_sends_each_new_criterion_then_completion(member, runner, db_session, app):
    teacher, ada = member("instructor"), member("learner")
    add_fake_target(runner, db_session)
    teacher.call(
        "PUT",
        f"{COMPLETIONS}/rules",
        json={
            "score_mode": "progress",
            "criteria": [
                {"key": "discussion.threads_started", "count": 1},
                {"key": "discussion.threads_started", "count": 1},
            ],
        },
    )  # a duplicate criterion is refused
    assert db_session.scalar(select(func.count()).select_from(CompletionRule)) == 0
    response = teacher.call(
        "PUT",
        f"{COMPLETIONS}/rules",
        json={
            "score_mode": "progress",
            "criteria": [
                {"key": "discussion.threads_started", "count": 1},
                {"key": "discussion.peer_replies", "count": 1},
            ],
        },
    )
    assert response.status_code == 200
    post_threads(ada, 2)
    entries = db_session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
    assert [(e.kind, e.score, e.completed) for e in entries] == [("progress", "0.5000", False)]
    bob = member("learner2")
    thread = post_threads(bob, 1)[0]
    root = bob.call("GET", f"{DISCUSSION}/threads/{thread['id']}").get_json()["posts"][0]
    ada.call(
        "POST",
        f"{DISCUSSION}/threads/{thread['id']}/posts",
        json={"parent_id": root["id"], "body": "hi"},
    )
    entries = db_session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
    ada_entries = [(e.kind, e.score) for e in entries if e.user_id == entries[0].user_id]
    assert ada_entries == [("progress", "0.5000"), ("completion", "1.0000")]
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    deliver_all(app)
    assert {r.status for r in db_session.scalars(select(OutboxItem))} == {"delivered"}


def test_only_instructors_set_rules_and_bad_rules_are_422_with_nothing_stored(member, db_session):
    teacher, ada = member("instructor"), member("learner")
    good = {"criteria": [{"key": "discussion.threads_started", "count": 1}]}
    forbidden = ada.call("PUT", f"{COMPLETIONS}/rules", json=good)
    assert (
        forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "moderators_only"
    )
    assert ada.call("GET", f"{COMPLETIONS}/learners").status_code == 403
    for bad in (
        {"criteria": []},
        {"criteria": [{"key": "video.uploads", "count": 1}]},
        {"criteria": [{"key": "discussion.threads_started", "count": 0}]},
        {"criteria": [{"key": "discussion.threads_started", "count": "3"}]},
        {"criteria": [{"key": "discussion.threads_started", "count": 1}], "score_mode": "x"},
        {"nothing": True},
    ):
        response = teacher.call("PUT", f"{COMPLETIONS}/rules", json=bad)
        assert response.status_code == 422, (bad, response.get_json())
        assert response.get_json()["error"]["message"]
    assert db_session.scalar(select(func.count()).select_from(CompletionRule)) == 0


def test_changing_rules_adds_a_version_and_keeps_earlier_completions(member, runner, db_session):
    teacher, ada = member("instructor"), member("learner")
    one = {"criteria": [{"key": "discussion.threads_started", "count": 1}]}
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=one).get_json()["version"] == 1
    post_threads(ada, 1)
    two = {"criteria": [{"key": "discussion.threads_started", "count": 2}]}
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=two).get_json()["version"] == 2
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=two).get_json()["version"] == 2
    post_threads(ada, 1)
    # Ada keeps her version-1 completion: a new version never sends her a lower score.
    assert sorted(db_session.scalars(select(Completion.rule_version))) == [1]
    assert db_session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    learners = teacher.call("GET", f"{COMPLETIONS}/learners").get_json()["learners"]
    assert [(row["completed_at"] is not None, row["completed_version"]) for row in learners] == [
        (True, 1)
    ]
    lin = member("learner2")  # a learner who had not completed works to the new version
    post_threads(lin, 2)
    assert sorted(db_session.scalars(select(Completion.rule_version))) == [1, 2]


def test_the_ledger_verifies_and_a_tampered_row_is_named(member, runner, db_session, app):
    teacher, ada = member("instructor"), member("learner")
    teacher.call(
        "PUT", f"{COMPLETIONS}/rules",
        json={"criteria": [{"key": "discussion.threads_started", "count": 1}]},
    )  # fmt: skip
    post_threads(ada, 1)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and "1 entries verified" in result.output
    database = app.extensions["bridge.runtime"].database
    with database.transaction() as session:
        entry = session.scalar(select(LedgerEntry))
        entry.score = "0.5"
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert str(entry.id) in result.output and "contents changed" in result.output


def test_dead_letters_are_retried_by_retry_dead(member, runner, db_session, app):
    teacher, ada = member("instructor"), member("learner")
    add_fake_target(runner, db_session, "script=[503, 400, 200]")
    teacher.call(
        "PUT", f"{COMPLETIONS}/rules",
        json={"criteria": [{"key": "discussion.threads_started", "count": 1}]},
    )  # fmt: skip
    post_threads(ada, 1)
    assert deliver_all(app) == ["pending"]  # 503: retry later
    with app.extensions["bridge.runtime"].database.transaction() as session:
        row = session.scalar(select(OutboxItem))
        row.next_attempt_at = row.created_at  # due now
    assert deliver_all(app) == ["dead"]  # 400: rejected
    listed = runner.invoke(args=["outbox", "list", "--status", "dead"])
    assert "HTTP 400" in listed.output
    assert runner.invoke(args=["outbox", "retry-dead"]).exit_code == 0
    assert deliver_all(app) == ["delivered"]
    outcomes = db_session.scalars(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.number))
    assert list(outcomes) == ["retry_later", "rejected", "delivered"]


def test_a_learner_removed_before_delivery_dead_letters_the_row_and_keeps_the_ledger(
    member, runner, db_session, app
):
    teacher, ada = member("instructor"), member("learner")
    add_fake_target(runner, db_session)
    teacher.call(
        "PUT", f"{COMPLETIONS}/rules",
        json={"criteria": [{"key": "discussion.threads_started", "count": 1}]},
    )  # fmt: skip
    post_threads(ada, 1)
    entry = db_session.scalar(select(LedgerEntry))
    database = app.extensions["bridge.runtime"].database
    with database.engine.begin() as connection:  # a deletion request, bypassing the usual cascade
        if database.is_sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            connection.exec_driver_sql("SET session_replication_role = replica")
        connection.execute(delete(User).where(User.id == entry.user_id))
        if not database.is_sqlite:
            connection.exec_driver_sql("SET session_replication_role = DEFAULT")
    assert deliver_all(app) == ["dead"]
    row = db_session.scalar(select(OutboxItem))
    assert "no longer exists" in row.last_reason
    assert FakeConnector.received() == []
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
