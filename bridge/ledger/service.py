"""Appending to the ledger and verifying its chains.

Each entry's hash is sha-256 over the previous entry's hash and a canonical encoding of the
entry's fields (JSON, sorted keys, no whitespace, UUIDs as strings, times as ISO 8601 UTC with
microseconds), and each organisation's head records its last entry. ``verify`` detects any edit,
removal, insertion or reordering of entries made without recomputing the chain, and names the
first entry that does not match. It cannot detect a rewrite by someone with write access who
recomputes every hash from the altered entry onward and moves the head: only a head hash recorded
outside the database (a checkpoint) exposes that, for entries up to the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.db import utcnow
from bridge.ledger.models import GENESIS, LedgerEntry, LedgerHead

#: The hashed fields, in the canonical encoding (every column but the hash itself).
HASHED_FIELDS = (
    "id",
    "organisation_id",
    "seq",
    "kind",
    "deployment_id",
    "context_id",
    "resource_link_id",
    "user_id",
    "progress_id",
    "completion_id",
    "rule_id",
    "rule_version",
    "score",
    "completed",
    "criteria_met",
    "criteria_total",
    "evidence",
    "recorded_at",
    "prev_hash",
)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical(entry: LedgerEntry) -> bytes:
    fields = {name: _plain(getattr(entry, name)) for name in HASHED_FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def append(session: Session, entry: LedgerEntry) -> LedgerEntry:
    """Chain ``entry`` after its organisation's head, in the caller's transaction."""
    head = _locked_head(session, entry.organisation_id)
    entry.id = entry.id or uuid.uuid4()
    entry.seq = head.seq + 1
    entry.prev_hash = head.hash
    entry.recorded_at = entry.recorded_at or utcnow()
    entry.hash = entry_hash(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    session.flush()
    return entry


def _locked_head(session: Session, organisation_id: uuid.UUID) -> LedgerHead:
    """The organisation's chain head, locked until this transaction ends (created on first use;
    a concurrent first append waits on the unique key, then takes the other's row)."""
    query = (
        select(LedgerHead)
        .where(LedgerHead.organisation_id == organisation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = session.scalar(query)
    if head is not None:
        return head
    try:
        with session.begin_nested():
            session.add(LedgerHead(organisation_id=organisation_id, seq=0, hash=GENESIS))
    except IntegrityError:
        pass
    head = session.scalar(query)
    assert head is not None  # noqa: S101 - inserted above, or by the transaction we waited for
    return head


@dataclass(frozen=True)
class ChainProblem:
    organisation_id: uuid.UUID
    seq: int
    entry_id: uuid.UUID | None
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """An organisation's head as recorded outside the database: entry ``seq`` had ``hash``."""

    organisation_id: uuid.UUID
    seq: int
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """One organisation's chain as verified: its head (a checkpoint to record) or its problem."""

    head: Checkpoint
    problem: ChainProblem | None


def begin_snapshot(session: Session) -> None:
    """Begin ``session``'s transaction as one consistent view of the database.

    Verification reads the heads first and the entries later, batch by batch: it must not see an
    append that commits in between. On PostgreSQL that takes REPEATABLE READ (READ COMMITTED
    would see it); on SQLite a session of ``Database.read_sessions`` begins deferred and reads one
    WAL snapshot without holding up writers. Call it before the session's first query.
    """
    if session.in_transaction():
        raise RuntimeError("begin_snapshot() must come before the session's first query")
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def verify(
    session: Session,
    on_entry: Callable[[], None] = lambda: None,
    batch: int = 1000,
    checkpoints: Collection[Checkpoint] = (),
) -> list[ChainProblem]:
    """Recompute every chain; one problem per broken organisation chain (the first bad link)."""
    checks = check_chains(session, on_entry, batch, checkpoints)
    return [check.problem for check in checks if check.problem is not None]


def check_chains(
    session: Session,
    on_entry: Callable[[], None] = lambda: None,
    batch: int = 1000,
    checkpoints: Collection[Checkpoint] = (),
) -> list[ChainCheck]:
    """Recompute every organisation's chain and compare it with its head and ``checkpoints``.

    A session that has not queried yet is first turned into one snapshot (:func:`begin_snapshot`);
    in a session already in a transaction, the caller answers for its isolation. Entries are read
    ``batch`` at a time and let go of after each batch, so memory stays flat on a large ledger.
    """
    if not session.in_transaction():
        begin_snapshot(session)
    heads = {
        row.organisation_id: Checkpoint(row.organisation_id, row.seq, row.hash)
        for row in session.execute(
            select(LedgerHead.organisation_id, LedgerHead.seq, LedgerHead.hash)
        )
    }
    organisations = set(session.scalars(select(LedgerEntry.organisation_id).distinct()))
    organisations |= set(heads) | {checkpoint.organisation_id for checkpoint in checkpoints}
    checks = []
    for organisation_id in sorted(organisations, key=str):
        recorded = {c.seq: c.hash for c in checkpoints if c.organisation_id == organisation_id}
        head = heads.get(organisation_id, Checkpoint(organisation_id, 0, GENESIS))
        checks.append(_verify_chain(session, head, recorded, on_entry, batch))
    return checks


def _entries(session: Session, organisation_id: uuid.UUID, batch: int) -> Iterator[LedgerEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.organisation_id == organisation_id, LedgerEntry.seq > last)
            .order_by(LedgerEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def _verify_chain(
    session: Session,
    head: Checkpoint,
    checkpoints: dict[int, str],
    on_entry: Callable[[], None],
    batch: int,
) -> ChainCheck:
    expected_seq, previous = 1, GENESIS
    for entry in _entries(session, head.organisation_id, batch):
        on_entry()
        problem = _link_problem(entry, expected_seq, previous, checkpoints)
        if problem is not None:
            return ChainCheck(head, problem)
        expected_seq, previous = entry.seq + 1, entry.hash
    reason = None
    if expected_seq - 1 != head.seq or previous != head.hash:
        reason = "the chain ends before its recorded head (entries removed)"
    elif checkpoints and max(checkpoints) > head.seq:
        reason = "the chain ends before a recorded checkpoint (entries removed)"
    if reason is None:
        return ChainCheck(head, None)
    return ChainCheck(head, ChainProblem(head.organisation_id, expected_seq, None, reason))


def _link_problem(
    entry: LedgerEntry, expected_seq: int, previous: str, checkpoints: dict[int, str]
) -> ChainProblem | None:
    """Why ``entry`` is not the link that should follow ``previous`` at ``expected_seq``."""
    if entry.seq != expected_seq:
        return ChainProblem(
            entry.organisation_id, expected_seq, None, "entry missing from the chain"
        )
    if entry.prev_hash != previous:
        reason = "does not follow the previous entry"
    elif entry_hash(entry) != entry.hash:
        reason = "contents changed after it was written"
    elif checkpoints.get(entry.seq, entry.hash) != entry.hash:
        reason = "differs from its recorded checkpoint (the chain was rewritten)"
    else:
        return None
    return ChainProblem(entry.organisation_id, entry.seq, entry.id, reason)
