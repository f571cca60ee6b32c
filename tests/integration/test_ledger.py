"""The ledger under concurrent appends, and verification of every kind of change."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from sqlalchemy import delete, select, update

from bridge.db import Database
from bridge.ledger import service as ledger
from bridge.ledger.models import LedgerEntry, LedgerHead
from tests.support import make_app, truncate_all


def entry(organisation: uuid.UUID) -> LedgerEntry:
    return LedgerEntry(
        organisation_id=organisation,
        kind="completion",
        deployment_id=uuid.uuid4(),
        context_id=uuid.uuid4(),
        resource_link_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        progress_id=uuid.uuid4(),
        completion_id=uuid.uuid4(),
        rule_id=uuid.uuid4(),
        rule_version=1,
        score="1",
        completed=True,
        criteria_met=["discussion.threads_started"],
        criteria_total=1,
        evidence={"discussion.threads_started": {"events": ["e1"], "required": 1}},
    )


def fresh(database_url: str) -> Database:
    database = Database(database_url)
    if not database.is_sqlite:
        truncate_all(database)
    return database


def test_concurrent_first_appends_to_one_chain_all_land_in_order(database_url):
    database = fresh(database_url)
    organisation = uuid.uuid4()
    barrier, errors = threading.Barrier(6), []

    def append() -> None:
        try:
            barrier.wait()
            with database.transaction() as session:
                ledger.append(session, entry(organisation))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=append) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.transaction() as session:
        seqs = sorted(session.scalars(select(LedgerEntry.seq)))
        assert seqs == [1, 2, 3, 4, 5, 6]
        assert ledger.verify(session) == []
    database.dispose()


def test_verify_names_a_changed_a_removed_and_a_truncated_entry(database_url):
    database = fresh(database_url)
    organisations = [uuid.uuid4() for _ in range(3)]
    with database.transaction() as session:
        for organisation in organisations:
            for _ in range(3):
                ledger.append(session, entry(organisation))
    changed, removed, truncated = organisations
    with database.transaction() as session:
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.organisation_id == changed, LedgerEntry.seq == 2)
            .values(evidence={"forged": True})
        )
        session.execute(
            delete(LedgerEntry).where(LedgerEntry.organisation_id == removed, LedgerEntry.seq == 2)
        )
        session.execute(
            delete(LedgerEntry).where(
                LedgerEntry.organisation_id == truncated, LedgerEntry.seq == 3
            )
        )
    with database.transaction() as session:
        problems = {p.organisation_id: p for p in ledger.verify(session)}
        assert problems[changed].seq == 2 and "changed" in problems[changed].reason
        assert problems[removed].seq == 2 and "missing" in problems[removed].reason
        assert problems[truncated].seq == 3 and "ends before" in problems[truncated].reason
        assert (
            session.scalar(select(LedgerHead.seq).where(LedgerHead.organisation_id == changed)) == 3
        )
    database.dispose()


def test_verify_neither_waits_for_nor_sees_an_append_when_one_commits_meanwhile(database_url):
    """SQLite: a writer is not blocked (the read snapshot is a deferred BEGIN in WAL mode).
    PostgreSQL: the append is not half seen as "the chain ends before its recorded head"."""
    database = fresh(database_url)
    organisation = uuid.uuid4()
    with database.transaction() as session:
        for _ in range(3):
            ledger.append(session, entry(organisation))
    appended, waited = threading.Event(), []

    def append() -> None:
        with database.transaction() as session:
            ledger.append(session, entry(organisation))
        appended.set()

    writer = threading.Thread(target=append)

    def on_entry() -> None:
        if not waited:  # a learner completes while the compliance team verifies
            writer.start()
            waited.append(appended.wait(2))

    with database.read_sessions() as session:  # as `bridge ledger verify` does
        checks = ledger.check_chains(session, on_entry=on_entry, batch=2)
    writer.join(30)
    assert waited == [True], "the writer waited for the verification"
    assert [(c.head.seq, c.problem) for c in checks] == [(3, None)]
    with database.read_sessions() as session:
        assert [c.head.seq for c in ledger.check_chains(session)] == [4]
    database.dispose()


@pytest.fixture
def runner(database_url, tmp_path):
    app = make_app(database_url, tmp_path / "var")
    database = app.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    yield app.test_cli_runner()
    database.dispose()


def database_of(runner) -> Database:
    return runner.app.extensions["bridge.runtime"].database


def test_verify_prints_each_organisations_entry_count_and_head(runner):
    organisations = [uuid.uuid4(), uuid.uuid4()]
    with database_of(runner).transaction() as session:
        for count, organisation in zip((2, 3), organisations, strict=True):
            for _ in range(count):
                ledger.append(session, entry(organisation))
    with database_of(runner).transaction() as session:
        heads = list(session.scalars(select(LedgerHead)))
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "Verifying ledger" in result.output and "Ledger intact: 5 entries" in result.output
    for head in heads:
        line = f"organisation {head.organisation_id}: {head.seq} entries, head {head.hash}"
        assert line in result.output


def rewrite_from(session, organisation: uuid.UUID, seq: int) -> None:
    """Recompute every hash from entry ``seq`` onward and move the head, as a forger would."""
    previous = session.scalar(
        select(LedgerEntry.hash).where(
            LedgerEntry.organisation_id == organisation, LedgerEntry.seq == seq - 1
        )
    )
    last = None
    for last in session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.organisation_id == organisation, LedgerEntry.seq >= seq)
        .order_by(LedgerEntry.seq)
    ):
        last.prev_hash = previous
        last.hash = previous = ledger.entry_hash(last)
    session.execute(
        update(LedgerHead)
        .where(LedgerHead.organisation_id == organisation)
        .values(seq=last.seq, hash=last.hash)
    )


def test_a_rewrite_with_recomputed_hashes_is_caught_only_by_a_recorded_checkpoint(runner):
    organisation = uuid.uuid4()
    with database_of(runner).transaction() as session:
        for _ in range(3):
            ledger.append(session, entry(organisation))
    first = runner.invoke(args=["ledger", "verify"])
    head = re.search(rf"organisation {organisation}: (\d+) entries, head (\w+)", first.output)
    checkpoint = f"{organisation}:{head[1]}:{head[2]}"
    with database_of(runner).transaction() as session:
        ledger.append(session, entry(organisation))
    with database_of(runner).transaction() as session:
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.organisation_id == organisation, LedgerEntry.seq == 2)
            .values(score="0")
        )
        rewrite_from(session, organisation, 2)

    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0  # the documented limit
    caught = runner.invoke(args=["ledger", "verify", "--checkpoint", checkpoint])
    assert caught.exit_code == 1
    assert "(seq 3) differs from its recorded checkpoint" in caught.output

    with database_of(runner).transaction() as session:  # drop entries 3 and 4, move the head
        session.execute(
            delete(LedgerEntry).where(
                LedgerEntry.organisation_id == organisation, LedgerEntry.seq >= 3
            )
        )
        rewrite_from(session, organisation, 2)
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    caught = runner.invoke(args=["ledger", "verify", "--checkpoint", checkpoint])
    assert caught.exit_code == 1 and "ends before a recorded checkpoint" in caught.output
    malformed = runner.invoke(args=["ledger", "verify", "--checkpoint", "nope"])
    assert malformed.exit_code == 2 and "ORGANISATION:SEQ:HASH" in malformed.output
