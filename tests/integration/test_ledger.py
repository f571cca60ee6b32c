"""The ledger under concurrent appends, and verification of every kind of change."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import delete, select, update

from bridge.db import Database
from bridge.ledger import service as ledger
from bridge.ledger.models import LedgerEntry, LedgerHead
from tests.support import truncate_all


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
