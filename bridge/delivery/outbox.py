"""The transactional outbox: rows written beside each ledger entry, claimed, settled, retried.

A row is claimed under a lease (one short transaction), delivered with no transaction open, and
settled in another short transaction that only applies if the lease is still this attempt's. A
worker that dies mid-delivery leaves a row whose lease runs out; the sweeper then hands it to the
queue again. Targets are idempotent for a repeat delivery, so at-least-once is safe.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from bridge.db import utcnow
from bridge.delivery.models import (
    AttemptOutcome,
    ConnectorSetting,
    DeliveryAttempt,
    OutboxItem,
    OutboxStatus,
)
from bridge.delivery.rules import RetryPolicy
from bridge.delivery.values import (
    Delivered,
    DeliveryItem,
    Learner,
    Outcome,
    Placement,
    Platform,
    Rejected,
)
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import Context, Deployment, Registration, ResourceLink, User
from bridge.vault import SecretBox, SecretBoxError


def effective_settings(
    session: Session, organisation_id: uuid.UUID, deployment_id: uuid.UUID
) -> list[ConnectorSetting]:
    """The deployment's targets: the organisation's defaults, each overridden by the deployment's
    own setting of the same connector (a disabled override switches the default off)."""
    rows = session.scalars(
        select(ConnectorSetting).where(
            ConnectorSetting.organisation_id == organisation_id,
            or_(
                ConnectorSetting.deployment_id.is_(None),
                ConnectorSetting.deployment_id == deployment_id,
            ),
        )
    ).all()
    chosen: dict[str, ConnectorSetting] = {}
    for row in sorted(rows, key=lambda r: r.deployment_id is not None):
        chosen[row.connector] = row
    return [row for row in chosen.values() if row.enabled]


def write_rows(session: Session, entry: LedgerEntry) -> list[uuid.UUID]:
    """One outbox row per target of the entry's deployment that carries its kind."""
    ids = []
    for setting in effective_settings(session, entry.organisation_id, entry.deployment_id):
        if entry.kind not in setting.kinds:
            continue
        row = OutboxItem(
            id=uuid.uuid4(),
            ledger_id=entry.id,
            organisation_id=entry.organisation_id,
            deployment_id=entry.deployment_id,
            setting_id=setting.id,
            connector=setting.connector,
            next_attempt_at=utcnow(),
        )
        session.add(row)
        ids.append(row.id)
    session.flush()
    return ids


@dataclass(frozen=True)
class Claim:
    """A row taken for one attempt: what to send, to which target, with which settings."""

    item: DeliveryItem
    connector: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    setting_key: str  # changes whenever the setting does (connector instances are cached on it)


def _claimable(now: datetime) -> tuple[Any, ...]:
    return (
        OutboxItem.status == OutboxStatus.PENDING,
        OutboxItem.next_attempt_at <= now,
        or_(OutboxItem.leased_until.is_(None), OutboxItem.leased_until < now),
    )


def claimable(session: Session, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """A cheap read before taking the write lock: wake-ups may find their rows already taken."""
    return list(
        session.scalars(
            select(OutboxItem.id).where(OutboxItem.id.in_(list(ids)), *_claimable(utcnow()))
        )
    )


def claim(
    session: Session,
    ids: Sequence[uuid.UUID],
    lease_seconds: float,
    box: SecretBox,
    dead: list[uuid.UUID] | None = None,
) -> list[Claim]:
    """Take those of ``ids`` that are due and not leased, for one attempt each, under a lease.

    Under PostgreSQL's row locks the UPDATE re-checks its conditions, so two workers never take
    the same row; SQLite has one writer at a time. Rows whose learner or placement was removed
    are dead-lettered at once and their ids added to ``dead``.
    """
    dead = [] if dead is None else dead
    now = utcnow()
    taken = (
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(list(ids)), *_claimable(now))
            .values(
                attempts=OutboxItem.attempts + 1,
                leased_until=now + timedelta(seconds=lease_seconds),
                updated_at=now,
            )
            .returning(OutboxItem.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if not taken:
        return []
    rows = session.scalars(
        select(OutboxItem).where(OutboxItem.id.in_(taken)).execution_options(populate_existing=True)
    ).all()
    session.execute(
        insert(DeliveryAttempt),
        [
            {
                "id": uuid.uuid4(),
                "outbox_id": r.id,
                "number": r.attempts,
                "connector": r.connector,
                "started_at": now,
            }
            for r in rows
        ],
    )
    return _claims(session, rows, box, dead)


def _claims(
    session: Session, rows: Sequence[OutboxItem], box: SecretBox, dead: list[uuid.UUID]
) -> list[Claim]:
    """A claim per row; rows that cannot be sent (see ``_unsendable``) are dead-lettered with
    their reason and their ids added to ``dead``."""
    settings = {
        s.id: s
        for s in session.scalars(
            select(ConnectorSetting).where(ConnectorSetting.id.in_({r.setting_id for r in rows}))
        )
    }
    secrets = {key: _secrets(box, setting) for key, setting in settings.items()}
    items = _items(session, rows)
    claims = []
    for row in rows:
        setting, item = settings[row.setting_id], items.get(row.id)
        reason = _unsendable(setting, secrets[row.setting_id], item)
        if reason or item is None:
            _dead_letter(session, row, reason)
            dead.append(row.id)
            continue
        claims.append(
            Claim(
                item=item,
                connector=row.connector,
                config=dict(setting.config),
                secrets=secrets[row.setting_id] or {},
                setting_key=f"{row.setting_id}:{setting.updated_at.isoformat()}",
            )
        )
    return claims


def _secrets(box: SecretBox, setting: ConnectorSetting) -> dict[str, Any] | None:
    """The setting's secrets; None when they cannot be decrypted (only its own rows suffer)."""
    if not setting.secrets:
        return {}
    try:
        return json.loads(box.decrypt(setting.secrets))
    except (SecretBoxError, ValueError):
        return None


def _unsendable(
    setting: ConnectorSetting, secrets: dict[str, Any] | None, item: DeliveryItem | None
) -> str:
    if not setting.enabled:
        return "the target was switched off (bridge connector set ... --disable)"
    if secrets is None:
        return "the target's secrets cannot be decrypted (was the secret key changed?)"
    if item is None:
        return "the learner or the placement no longer exists here (personal data removed)"
    return ""


def _dead_letter(session: Session, row: OutboxItem, reason: str) -> None:
    """Nothing can be sent for this row now: dead-letter it with the reason (``bridge outbox
    retry-dead`` sends it once the cause is fixed), and close its attempt."""
    now = utcnow()
    row.status, row.leased_until, row.last_reason = OutboxStatus.DEAD, None, reason
    row.updated_at = now
    session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.outbox_id == row.id, DeliveryAttempt.number == row.attempts)
        .values(outcome=AttemptOutcome.REJECTED, finished_at=now, reason=reason)
    )


def _items(session: Session, rows: Sequence[OutboxItem]) -> dict[uuid.UUID, DeliveryItem]:
    """The delivery items of ``rows`` whose learner and placement still exist (four queries)."""
    entries = {
        e.id: e
        for e in session.scalars(
            select(LedgerEntry).where(LedgerEntry.id.in_({r.ledger_id for r in rows}))
        )
    }
    places = {
        found[0].id: found
        for found in session.execute(
            select(ResourceLink, Context, Deployment, Registration)
            .join(Context, Context.id == ResourceLink.context_id)
            .join(Deployment, Deployment.id == Context.deployment_id)
            .join(Registration, Registration.id == Deployment.registration_id)
            .where(ResourceLink.id.in_({e.resource_link_id for e in entries.values()}))
        )
    }
    users = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.id.in_({e.user_id for e in entries.values()}))
        )
    }
    items = {}
    for row in rows:
        entry = entries[row.ledger_id]
        user, place = users.get(entry.user_id), places.get(entry.resource_link_id)
        if user is not None and place is not None:  # else removed since: dead-lettered
            items[row.id] = _item(row, entry, user, place)
    return items


def _described_criteria(entry: LedgerEntry) -> tuple[str, ...]:
    """The criteria met as learners read them (an AGS comment shows them in the gradebook): the
    label the entry's evidence recorded, else the key (entries written before labels were)."""
    evidence = entry.evidence if isinstance(entry.evidence, dict) else {}
    described = []
    for key in entry.criteria_met:
        found = evidence.get(key)
        label = found.get("label") if isinstance(found, dict) else None
        described.append(label if isinstance(label, str) and label else key)
    return tuple(described)


def _item(
    row: OutboxItem,
    entry: LedgerEntry,
    user: User,
    place: tuple[ResourceLink, Context, Deployment, Registration],
) -> DeliveryItem:
    link, context, deployment, registration = place
    return DeliveryItem(
        outbox_id=row.id,
        ledger_id=entry.id,
        record_id=entry.progress_id,
        kind=entry.kind,
        score=Decimal(entry.score),
        completed=entry.completed,
        criteria_met=_described_criteria(entry),
        criteria_total=entry.criteria_total,
        recorded_at=entry.recorded_at,
        attempt=row.attempts,
        learner=Learner(user_id=user.id, sub=user.sub),
        placement=Placement(
            id=link.id,
            resource_link_id=link.resource_link_id,
            title=link.title,
            widget=link.widget,
            context_id=context.context_id,
            context_title=context.title,
            ags=dict(link.ags or {}),
        ),
        platform=Platform(
            registration_id=registration.id,
            issuer=registration.issuer,
            client_id=registration.client_id,
            deployment_id=deployment.deployment_id,
            token_url=registration.auth_token_url,
            audience=registration.auth_audience,
        ),
        completion_id=entry.completion_id,
    )


@dataclass(frozen=True)
class Settled:
    status: str
    retry_in: float | None = None  # seconds until the next attempt, when one is due


def settle(
    session: Session,
    results: Sequence[tuple[uuid.UUID, int, Outcome]],
    policy: RetryPolicy,
) -> dict[uuid.UUID, Settled]:
    """Record each attempt's outcome ``(outbox id, attempt number, outcome)``; rows whose lease
    was lost (another attempt owns them now) are left to that attempt and missing from the result.
    """
    wanted = {outbox_id: (attempt, outcome) for outbox_id, attempt, outcome in results}
    rows = session.scalars(
        select(OutboxItem).where(OutboxItem.id.in_(list(wanted))).with_for_update()
    ).all()
    records = {
        (r.outbox_id, r.number): r
        for r in session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_(list(wanted)))
        )
        if wanted[r.outbox_id][0] == r.number
    }
    now = utcnow()
    settled = {}
    for row in rows:
        attempt, outcome = wanted[row.id]
        if row.status != OutboxStatus.PENDING or row.attempts != attempt:
            continue
        settled[row.id] = _apply(row, outcome, policy, now)
        record = records.get((row.id, attempt))
        if record is not None:
            record.finished_at, record.http_status = now, outcome.status
            record.outcome = _attempt_outcome(outcome)
            record.reason = "" if isinstance(outcome, Delivered) else outcome.reason
            record.remote_id = outcome.remote_id if isinstance(outcome, Delivered) else ""
    return settled


def _attempt_outcome(outcome: Outcome) -> str:
    if isinstance(outcome, Delivered):
        return AttemptOutcome.DELIVERED
    if isinstance(outcome, Rejected):
        return AttemptOutcome.REJECTED
    return AttemptOutcome.RETRY


def _apply(row: OutboxItem, outcome: Outcome, policy: RetryPolicy, now: datetime) -> Settled:
    row.leased_until, row.updated_at, row.last_status = None, now, outcome.status
    if isinstance(outcome, Delivered):
        row.status, row.delivered_at = OutboxStatus.DELIVERED, now
        row.remote_id, row.last_reason = outcome.remote_id, outcome.evidence
        return Settled(row.status)
    row.last_reason = outcome.reason
    in_round = row.attempts - row.round_start
    if isinstance(outcome, Rejected) or policy.exhausted(in_round):
        row.status = OutboxStatus.DEAD
        return Settled(row.status)
    delay = policy.delay(in_round, outcome.retry_after)
    row.next_attempt_at = now + timedelta(seconds=delay)
    return Settled(row.status, retry_in=delay)


def due_ids(session: Session, limit: int = 500) -> list[uuid.UUID]:
    """Pending rows whose time has come and that no live lease holds (for the sweeper)."""
    now = utcnow()
    return list(
        session.scalars(
            select(OutboxItem.id)
            .where(
                OutboxItem.status == OutboxStatus.PENDING,
                OutboxItem.next_attempt_at <= now,
                or_(OutboxItem.leased_until.is_(None), OutboxItem.leased_until < now),
            )
            .order_by(OutboxItem.next_attempt_at)
            .limit(limit)
        )
    )


def retry(
    session: Session, ids: Sequence[uuid.UUID] = (), *, dead: bool = False
) -> list[uuid.UUID]:
    """Make rows due now: the given ids (pending or dead), or with ``dead`` every dead row.
    Dead rows get a fresh round of attempts; their history stays."""
    query = select(OutboxItem)
    if ids:
        query = query.where(OutboxItem.id.in_(list(ids)))
    if dead:
        query = query.where(OutboxItem.status == OutboxStatus.DEAD)
    else:
        query = query.where(OutboxItem.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD]))
    now = utcnow()
    touched = []
    for row in session.scalars(query.with_for_update()):
        if row.leased_until is not None and row.leased_until > now:
            continue  # a worker is sending it right now: a second attempt would race it
        if row.status == OutboxStatus.DEAD:
            row.status, row.round_start = OutboxStatus.PENDING, row.attempts
        row.next_attempt_at, row.leased_until, row.updated_at = now, None, now
        touched.append(row.id)
    return touched
