"""Appending to the ledger and verifying its chains.

Each entry's hash is sha-256 over the previous entry's hash and a canonical encoding of the
entry's fields (JSON, sorted keys, no whitespace, UUIDs as strings, times as ISO 8601 UTC with
microseconds). Changing any stored field of any entry, removing one or reordering them breaks
every later link, and ``verify`` names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
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


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def verify(
    session: Session, on_entry: Callable[[], None] = lambda: None, batch: int = 1000
) -> list[ChainProblem]:
    """Recompute every chain; one problem per broken organisation chain (the first bad link)."""
    problems: list[ChainProblem] = []
    heads = {h.organisation_id: h for h in session.scalars(select(LedgerHead))}
    organisations = session.scalars(select(LedgerEntry.organisation_id).distinct()).all()
    for organisation_id in sorted(set(organisations) | set(heads), key=str):
        problem = _verify_chain(
            session, organisation_id, heads.get(organisation_id), on_entry, batch
        )
        if problem is not None:
            problems.append(problem)
    return problems


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
    organisation_id: uuid.UUID,
    head: LedgerHead | None,
    on_entry: Callable[[], None],
    batch: int,
) -> ChainProblem | None:
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    expected_seq, previous = 1, GENESIS
    for entry in _entries(session, organisation_id, batch):
        on_entry()
        if entry.seq != expected_seq:
            return ChainProblem(organisation_id, expected_seq, None, "entry missing from the chain")
        if entry.prev_hash != previous:
            return ChainProblem(
                organisation_id, entry.seq, entry.id, "does not follow the previous entry"
            )
        if entry_hash(entry) != entry.hash:
            return ChainProblem(
                organisation_id, entry.seq, entry.id, "contents changed after it was written"
            )
        expected_seq, previous = entry.seq + 1, entry.hash
    if expected_seq - 1 != head_seq or previous != head_hash:
        return ChainProblem(
            organisation_id,
            expected_seq,
            None,
            "the chain ends before its recorded head (entries removed)",
        )
    return None
