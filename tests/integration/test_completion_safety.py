"""Completions, ledger and delivery under concurrency and failure: guarantees found missing in
review, each kept by a test (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.completions.engine import EXTENSION_KEY as ENGINE_KEY
from bridge.completions.engine import Where
from bridge.completions.models import Completion, CompletionRule
from bridge.completions.service import CompletionService
from bridge.delivery import outbox
from bridge.delivery.models import ConnectorSetting, DeliveryAttempt, OutboxItem
from bridge.delivery.values import Delivered
from bridge.events import ActivityEvent, Event
from bridge.ledger import service as ledger
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import Context, Deployment, Registration, ResourceLink, User
from bridge.tenancy.rules import Access
from bridge.tenancy.scope import Scope
from connectors.fake import FakeConnector
from tests.integration.conftest import (
    Member,
    switch_off_sandbox_grades,
)
from tests.integration.delivery_support import placement_ids, write_completions
from tests.support import LiveServer, truncate_all

DISCUSSION = "/api/v1/discussion"
COMPLETIONS = "/api/v1/completions"
ONE_THREAD = {"criteria": [{"key": "discussion.threads_started", "count": 1}]}
TWO_THREADS = {"criteria": [{"key": "discussion.threads_started", "count": 2}]}


@pytest.fixture
def live(database_url, tmp_path) -> Iterator[LiveServer]:
    """The sandbox as `make run` sets it up, with a short delivery lease."""
    server = LiveServer(
        database_url,
        tmp_path / "var",
        sandbox=True,
        delivery_lease_seconds=5,
        http_timeout_seconds=1,
    )
    database = server.app.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    assert server.app.test_cli_runner().invoke(args=["setup"]).exit_code == 0
    switch_off_sandbox_grades(server.app)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_fake():
    FakeConnector.reset()
    yield
    FakeConnector.reset()


def db(app):
    return app.extensions["bridge.runtime"].database


def add_fake_target(app, *settings: str) -> None:
    with db(app).transaction() as session:
        issuer = session.scalar(select(Registration.issuer))
    args = ["connector", "set", "fake", "--issuer", issuer]
    for setting in settings:
        args += ["--set", setting]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output


def post_thread(learner: Member) -> None:
    response = learner.call("POST", f"{DISCUSSION}/threads", json={"title": "T", "body": "b"})
    assert response.status_code == 201, response.get_json()


def scope_of(app, sub: str, access: Access) -> Scope:
    with db(app).transaction() as session:
        link, context, deployment, registration = session.execute(
            select(ResourceLink, Context, Deployment, Registration)
            .join(Context, Context.id == ResourceLink.context_id)
            .join(Deployment, Deployment.id == Context.deployment_id)
            .join(Registration, Registration.id == Deployment.registration_id)
        ).one()
        user_id = session.scalar(select(User.id).where(User.sub == sub))
    return Scope(
        registration.organisation_id,
        registration.id,
        deployment.id,
        context.id,
        link.id,
        user_id,
        access,
    )


def where_of(scope: Scope) -> Where:
    return Where(
        scope.organisation_id, scope.deployment_id, scope.context_id, scope.resource_link_id
    )


def thread_event(scope: Scope) -> ActivityEvent:
    return ActivityEvent(
        name="discussion.thread_created",
        organisation_id=scope.organisation_id,
        deployment_id=scope.deployment_id,
        context_id=scope.context_id,
        resource_link_id=scope.resource_link_id,
        actor_id=scope.user_id,
        subject_id=None,
        object_type="thread",
        object_id=uuid.uuid4(),
        data={},
    )


# -- completions ----------------------------------------------------------------------------------


def test_activity_in_a_placement_whose_rule_names_a_retired_criterion_is_not_a_500(member, app):
    """engine.py:78 indexes ``self._criteria[c["key"]]`` while _count (line 162) expects a rule
    to outlive a criterion a widget stops offering. After such a release every discussion
    action of that placement answers 500."""
    teacher, lin = member("instructor"), member("learner")
    rule = {
        "criteria": [
            {"key": "discussion.peer_replies", "count": 1},
            {"key": "discussion.threads_started", "count": 1},
        ]
    }
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=rule).status_code == 200
    engine = app.extensions[ENGINE_KEY]
    engine._criteria = {  # a later release renames or retires discussion.peer_replies
        k: v for k, v in engine._criteria.items() if k != "discussion.peer_replies"
    }
    response = lin.call("POST", f"{DISCUSSION}/threads", json={"title": "T", "body": "b"})
    assert response.status_code == 201, response.get_json()


def test_a_rule_change_racing_an_event_loses_no_completion(member, app):
    """PostgreSQL (READ COMMITTED): an event committing while a new rule version is saved must
    be evaluated against the new version; saving a rule and events in one placement take turns
    (the placement's row lock), so the learner who meets v2 with that event completes v2."""
    teacher, lin = member("instructor"), member("learner")
    three = {"criteria": [{"key": "discussion.threads_started", "count": 3}]}
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=three).status_code == 200
    post_thread(lin)  # one thread: v1 (three) is not met
    engine = app.extensions[ENGINE_KEY]
    bus = app.extensions["bridge.events"]
    teacher_scope = scope_of(app, "sandbox-user-ada", Access.MODERATOR)
    lin_scope = scope_of(app, "sandbox-user-lin", Access.PARTICIPANT)
    database = db(app)
    errors: list[BaseException] = []

    def second_thread() -> None:
        try:
            with database.transaction() as session:
                bus.emit(
                    session, lin_scope, Event("discussion.thread_created", "thread", uuid.uuid4())
                )
        except BaseException as error:
            errors.append(error)

    racer = threading.Thread(target=second_thread)
    with database.transaction() as session:
        CompletionService(session, teacher_scope, engine).set_rules(
            TWO_THREADS["criteria"], "completion"
        )
        racer.start()
        time.sleep(1)  # the event's transaction runs meanwhile, as far as it can
    racer.join(30)
    assert errors == []
    with database.transaction() as session:
        versions = sorted(session.scalars(select(Completion.rule_version)))
    assert versions == [2], "two threads meet v2, so v2's completion is recorded"


def test_two_learners_recording_at_once_do_not_deadlock(member, app):
    """A reaction (its actor and its subject are both evaluated) racing the other learner's own
    completing event: progress rows are locked in one order before any ledger append, and
    events of one placement take turns, so neither transaction fails (PostgreSQL would abort
    one with "deadlock detected", a 500)."""
    teacher = member("instructor")
    member("learner"), member("learner2")
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=ONE_THREAD).status_code == 200
    bus = app.extensions["bridge.events"]
    lin = scope_of(app, "sandbox-user-lin", Access.PARTICIPANT)
    sam = scope_of(app, "sandbox-user-sam", Access.PARTICIPANT)
    database = db(app)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def emit(scope: Scope, event: Event) -> None:
        try:
            start.wait(5)
            with database.transaction() as session:
                bus.emit(session, scope, event)
                time.sleep(0.3)
        except BaseException as error:
            errors.append(error)

    lin_thread = Event("discussion.thread_created", "thread", uuid.uuid4())
    sam_thread = Event("discussion.thread_created", "thread", uuid.uuid4())
    threads = [
        threading.Thread(target=emit, args=(lin, lin_thread)),
        threading.Thread(target=emit, args=(sam, sam_thread)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [type(e).__name__ + ": " + str(e).splitlines()[0] for e in errors] == []
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Completion)) == 2


def test_a_new_rule_version_never_sends_a_lower_score_over_a_delivered_completion(member, app):
    """Progress mode re-evaluation on a rule change writes a 0.5 'InProgress' entry for a learner
    whose 1.0 completion the gradebook already holds; with a newer timestamp, AGS replaces 100
    with 50. (Confirm intent: docs say earlier completions 'stay on record'.)"""
    teacher, lin = member("instructor"), member("learner")
    add_fake_target(app)
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=ONE_THREAD).status_code == 200
    post_thread(lin)
    harder = {
        "score_mode": "progress",
        "criteria": [
            {"key": "discussion.threads_started", "count": 1},
            {"key": "discussion.peer_replies", "count": 1},
        ],
    }
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=harder).status_code == 200
    jobs = app.extensions["bridge.jobs"]
    with db(app).transaction() as session:
        ids = [
            str(i) for i in session.scalars(select(OutboxItem.id).order_by(OutboxItem.created_at))
        ]
    for row_id in ids:
        jobs.deliver_one(row_id)
    sent = [(item.completed, item.score) for item in FakeConnector.received()]
    assert sent[0][0] is True
    assert all(score >= sent[0][1] for _, score in sent[1:]), sent


# -- delivery -------------------------------------------------------------------------------------


class SlowTarget:
    """A deliverer that takes ``seconds`` per row and counts what it was sent."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.sent, self._lock = seconds, Counter(), threading.Lock()

    def deliver(self, claim: Any) -> Delivered:
        with self._lock:
            self.sent[claim.item.outbox_id] += 1
        time.sleep(self.seconds)
        return Delivered("ok", status=200)


def test_a_slow_batch_is_not_sent_twice_at_once_when_its_lease_runs_out(member, app):
    """worker.py:142-146 leases a batch of up to 25 rows once, then sends them one after another.
    With the defaults (lease 120 s, http timeout 10 s, AGS = token + score requests) a batch
    against a hanging target outlives its lease: the sweeper hands the unsent rows to another
    worker, both send them, the first worker's results are thrown away, and every round burns
    two attempts of the retry budget. Lease 1 s and 0.4 s per row reproduce it."""
    member("learner")
    add_fake_target(app)
    database = db(app)
    write_completions(database, placement_ids(database), 4, outbox.write_rows)
    with database.transaction() as session:
        ids = [str(i) for i in session.scalars(select(OutboxItem.id))]
    jobs = app.extensions["bridge.jobs"]
    target = SlowTarget(0.4)
    jobs._deliverer = target
    first = threading.Thread(target=jobs.deliver, args=(ids,))
    first.start()
    time.sleep(1.1)  # the lease ran out while rows 3 and 4 still wait their turn
    jobs.deliver(ids)  # another worker, woken by the sweeper
    first.join()
    with database.transaction() as session:
        started = session.scalar(
            select(func.count())
            .select_from(DeliveryAttempt)
            .where(DeliveryAttempt.outcome == "started")
        )
    assert max(target.sent.values()) == 1, f"sent twice: {dict(target.sent)}"
    assert started == 0, "attempts left 'started' forever"


def test_pending_rows_are_not_sent_to_a_target_switched_off(member, app):
    """outbox.claim/_claims never look at ConnectorSetting.enabled: after
    `bridge connector set ... --disable` (docs: how a deployment opts out) pending and retrying
    rows, and dead rows given `retry-dead`, are still sent to the switched-off target."""
    teacher, lin = member("instructor"), member("learner")
    add_fake_target(app)
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=ONE_THREAD).status_code == 200
    post_thread(lin)
    with db(app).transaction() as session:
        issuer = session.scalar(select(Registration.issuer))
    result = app.test_cli_runner().invoke(
        args=["connector", "set", "fake", "--issuer", issuer, "--disable"]
    )
    assert result.exit_code == 0, result.output
    jobs = app.extensions["bridge.jobs"]
    with db(app).transaction() as session:
        (row_id,) = [str(i) for i in session.scalars(select(OutboxItem.id))]
    jobs.deliver_one(row_id)
    assert FakeConnector.received() == []


def test_a_setting_whose_secrets_cannot_be_read_does_not_block_the_rest_of_its_batch(member, app):
    """outbox._claims decrypts every setting of the batch up front (outbox.py:175-178): one
    setting whose secrets do not decrypt (edited row, partial key change) makes claim() raise,
    so the whole batch of up to 25 rows, any organisation's, is never delivered; the sweeper
    re-batches the same rows together every sweep."""
    teacher, lin = member("instructor"), member("learner")
    add_fake_target(app)
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=ONE_THREAD).status_code == 200
    with db(app).transaction() as session:
        organisation_id = session.scalar(select(Registration.organisation_id))
        session.add(
            ConnectorSetting(
                id=uuid.uuid4(),
                organisation_id=organisation_id,
                deployment_id=None,
                connector="webhook",
                enabled=True,
                kinds=["completion", "progress"],
                config={"url": "https://hooks.example.invalid/x"},
                secrets="not-a-fernet-token",
            )
        )
    post_thread(lin)
    with db(app).transaction() as session:
        ids = [str(i) for i in session.scalars(select(OutboxItem.id))]
    assert len(ids) == 2
    jobs = app.extensions["bridge.jobs"]
    try:
        jobs.deliver(ids)
    except Exception as error:
        pytest.fail(f"deliver() raised {type(error).__name__}: the fake row was not sent either")
    assert len(FakeConnector.received()) == 1


# -- ledger ---------------------------------------------------------------------------------------


def _entry(organisation: uuid.UUID, **fields: Any) -> LedgerEntry:
    values = {
        "organisation_id": organisation,
        "kind": "completion",
        "deployment_id": uuid.uuid4(),
        "context_id": uuid.uuid4(),
        "resource_link_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "progress_id": uuid.uuid4(),
        "completion_id": None,
        "rule_id": uuid.uuid4(),
        "rule_version": 1,
        "score": "1.0000",
        "completed": True,
        "criteria_met": ["discussion.threads_started"],
        "criteria_total": 1,
        "evidence": {"z": {"label": "Fils à démarrer : 2 ✓", "events": []}, "a": {"n": None}},
    } | fields
    return LedgerEntry(**values)


@pytest.fixture
def database(database_url) -> Iterator[Any]:
    from bridge.db import Database  # noqa: PLC0415

    found = Database(database_url)
    if not found.is_sqlite:
        truncate_all(found)
    yield found
    found.dispose()


def test_ledger_hashes_survive_a_database_round_trip(database):
    """Fine on both backends (kept as a guard): key order, unicode, None, bools, whole-second
    and microsecond times hash the same after being read back."""
    from datetime import UTC, datetime  # noqa: PLC0415

    organisation = uuid.uuid4()
    with database.transaction() as session:
        ledger.append(
            session, _entry(organisation, recorded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        )
        ledger.append(session, _entry(organisation, completed=False, score="0.5000"))
    with database.transaction() as session:
        assert ledger.verify(session) == []


def test_concurrent_rule_versions_do_not_fail_with_a_500(member, app):
    """PostgreSQL: set_rules reads the current version and inserts version+1 with no lock; two
    instructors saving at once collide on uq(resource_link_id, version): IntegrityError, a 500."""
    member("instructor"), member("learner")
    engine = app.extensions[ENGINE_KEY]
    teacher = scope_of(app, "sandbox-user-ada", Access.MODERATOR)
    database = db(app)
    errors: list[BaseException] = []
    inserted = threading.Event()

    def other_instructor() -> None:
        try:
            inserted.wait(5)
            with database.transaction() as session:
                CompletionService(session, teacher, engine).set_rules(
                    TWO_THREADS["criteria"], "completion"
                )
        except BaseException as error:
            errors.append(error)

    racer = threading.Thread(target=other_instructor)
    racer.start()
    with database.transaction() as session:
        CompletionService(session, teacher, engine).set_rules(ONE_THREAD["criteria"], "completion")
        inserted.set()
        time.sleep(1)  # the other instructor read version 0 meanwhile (PostgreSQL)
    racer.join(30)
    assert [type(e).__name__ for e in errors] == []
    with database.transaction() as session:
        assert sorted(session.scalars(select(CompletionRule.version))) == [1, 2]
