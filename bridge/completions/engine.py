"""Evaluating rules on activity events: progress, completions and their ledger entries.

The composition root subscribes :meth:`CompletionEngine.on_event` to the event bus, so this runs
in the transaction of the change that emitted the event: the completion, its ledger entry and its
outbox rows exist exactly when the post (reaction, accepted answer...) that earned them does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.completions import rules
from bridge.completions.criteria import ACTOR, PER_OBJECT_AND_ACTOR, CriterionSpec
from bridge.completions.models import Completion, CompletionRule, LearnerProgress
from bridge.db import utcnow
from bridge.events import ActivityEvent
from bridge.ledger import service as ledger
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import Membership, ResourceLink
from bridge.tenancy.rules import Access

EXTENSION_KEY = "bridge.completions"
MIN_SCORE_SPACING = timedelta(seconds=1)

#: Called with the ledger entry just appended; writes its outbox rows (bridge.delivery).
Recorder = Callable[[Session, LedgerEntry], None]


@dataclass(frozen=True)
class Where:
    """The placement an evaluation happens in (opaque ids, as events carry them)."""

    organisation_id: uuid.UUID
    deployment_id: uuid.UUID
    context_id: uuid.UUID
    resource_link_id: uuid.UUID

    @classmethod
    def of(cls, event: ActivityEvent) -> Where:
        return cls(
            event.organisation_id, event.deployment_id, event.context_id, event.resource_link_id
        )


def lock_placement(session: Session, resource_link_id: uuid.UUID) -> None:
    """Serialise rule changes and evaluations in one placement until this transaction ends
    (PostgreSQL row lock; SQLite's write transaction already serialises everything). Without it,
    an event committing while a new rule version is saved is evaluated against the old one."""
    session.execute(
        select(ResourceLink.id).where(ResourceLink.id == resource_link_id).with_for_update()
    )


def current_rule(session: Session, resource_link_id: uuid.UUID) -> CompletionRule | None:
    return session.scalar(
        select(CompletionRule)
        .where(CompletionRule.resource_link_id == resource_link_id)
        .order_by(CompletionRule.version.desc())
        .limit(1)
    )


class CompletionEngine:
    def __init__(self, criteria: Mapping[str, CriterionSpec], recorder: Recorder) -> None:
        self._criteria = criteria
        self._events = {spec.event for spec in criteria.values()}
        self._recorder = recorder

    @property
    def criteria(self) -> Mapping[str, CriterionSpec]:
        return self._criteria

    def on_event(self, session: Session, event: ActivityEvent) -> None:
        if event.name not in self._events:
            return
        lock_placement(session, event.resource_link_id)
        rule = current_rule(session, event.resource_link_id)
        if rule is None or not any(
            (spec := self._criteria.get(c["key"])) is not None and spec.event == event.name
            for c in rule.criteria
        ):
            return
        session.flush()  # the event itself counts
        users = {event.actor_id, event.subject_id} - {None}
        self.evaluate(session, rule, Where.of(event), users)  # type: ignore[arg-type]

    def evaluate(
        self, session: Session, rule: CompletionRule, where: Where, user_ids: Iterable[uuid.UUID]
    ) -> None:
        """Bring these users' standing up to date (learners only), in the caller's transaction.

        The caller holds the placement's lock (:func:`lock_placement`). Every learner's progress
        row is locked first, in id order, and ledger entries are appended last: transactions
        that lock in the same order never wait on each other in a cycle.
        """
        learners = [
            user_id
            for user_id in sorted(set(user_ids), key=str)
            if _is_learner(session, where.context_id, user_id)
            and not _completed_earlier(session, rule, user_id)
        ]
        locked = [_locked_progress(session, rule, user_id) for user_id in learners]
        for progress in locked:
            if progress.completed_at is None:
                self._update(session, rule, where, progress)

    def _update(
        self, session: Session, rule: CompletionRule, where: Where, progress: LearnerProgress
    ) -> None:
        counts, evidence = self._count(session, rule, where.resource_link_id, progress.user_id)
        now = rules.standing(rule.criteria, counts, rule.score_mode)
        due = rules.should_record(progress.met, now, rule.score_mode, completed=False)
        progress.counts, progress.met = counts, list(now.met)
        progress.score, progress.updated_at = str(now.score), utcnow()
        if due:
            self._record(session, rule, where, progress=progress, now=now, evidence=evidence)

    def _record(
        self,
        session: Session,
        rule: CompletionRule,
        where: Where,
        *,
        progress: LearnerProgress,
        now: rules.Standing,
        evidence: dict[str, Any],
    ) -> None:
        completion = None
        if now.complete:
            progress.completed_at = utcnow()
            completion = Completion(
                id=uuid.uuid4(),
                organisation_id=where.organisation_id,
                deployment_id=where.deployment_id,
                context_id=where.context_id,
                resource_link_id=where.resource_link_id,
                user_id=progress.user_id,
                rule_id=rule.id,
                rule_version=rule.version,
                progress_id=progress.id,
                evidence=evidence,
                completed_at=progress.completed_at,
            )
            session.add(completion)
        entry = ledger.append(
            session,
            LedgerEntry(
                organisation_id=where.organisation_id,
                kind="completion" if now.complete else "progress",
                deployment_id=where.deployment_id,
                context_id=where.context_id,
                resource_link_id=where.resource_link_id,
                user_id=progress.user_id,
                progress_id=progress.id,
                completion_id=completion.id if completion else None,
                rule_id=rule.id,
                rule_version=rule.version,
                score=str(now.score),
                completed=now.complete,
                criteria_met=list(now.met),
                criteria_total=len(rule.criteria),
                evidence=evidence,
                recorded_at=_score_time(session, progress.id),
            ),
        )
        self._recorder(session, entry)

    def _count(
        self,
        session: Session,
        rule: CompletionRule,
        resource_link_id: uuid.UUID,
        user_id: uuid.UUID,
    ) -> tuple[dict[str, int], dict[str, Any]]:
        counts: dict[str, int] = {}
        evidence: dict[str, Any] = {}
        for criterion in rule.criteria:
            spec = self._criteria.get(criterion["key"])
            if spec is None:  # a criterion a widget no longer offers never completes
                counts[criterion["key"]] = 0
                continue
            units = _units(session, spec, resource_link_id, user_id)
            counts[spec.key] = len(units)
            chosen = units[: criterion["count"]]
            evidence[spec.key] = {
                "label": spec.describe(criterion["count"]),  # as asked: "Threads to start: 2"
                "required": criterion["count"],
                "reached": len(units),
                "events": [str(event_id) for event_id, _ in chosen],
                "objects": [str(object_id) for _, object_id in chosen if object_id],
            }
        return counts, evidence


def _units(
    session: Session, spec: CriterionSpec, resource_link_id: uuid.UUID, user_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """(event id, object id) of each distinct unit that counts, oldest first."""
    mine = ActivityEvent.actor_id if spec.who == ACTOR else ActivityEvent.subject_id
    query = select(
        ActivityEvent.id, ActivityEvent.object_id, ActivityEvent.actor_id, ActivityEvent.subject_id
    ).where(
        ActivityEvent.resource_link_id == resource_link_id,
        ActivityEvent.name == spec.event,
        mine == user_id,
    )
    units: dict[tuple[Any, ...], tuple[uuid.UUID, uuid.UUID | None]] = {}
    for event_id, object_id, actor_id, subject_id in session.execute(
        query.order_by(ActivityEvent.occurred_at, ActivityEvent.id)
    ):
        if spec.peers_only and (subject_id is None or actor_id == subject_id):
            continue
        key = (object_id, actor_id) if spec.distinct == PER_OBJECT_AND_ACTOR else (object_id,)
        units.setdefault(key, (event_id, object_id))
    return list(units.values())


def _score_time(session: Session, progress_id: uuid.UUID) -> datetime:
    """Now, but at least one second after the learner's previous entry here: the entry's time is
    the AGS score ``timestamp``, and Moodle compares timestamps to the second, ignoring a score
    no newer than the one it holds (a completion in the same second as the progress before it
    would be lost there)."""
    now = utcnow()
    previous = session.scalar(
        select(func.max(LedgerEntry.recorded_at)).where(LedgerEntry.progress_id == progress_id)
    )
    if previous is not None and now < previous + MIN_SCORE_SPACING:
        return previous + MIN_SCORE_SPACING
    return now


def _completed_earlier(session: Session, rule: CompletionRule, user_id: uuid.UUID) -> bool:
    """A learner who completed an earlier version keeps that completion: a new version never
    sends them a lower score (the gradebook would replace 1.0 with a fraction)."""
    found = session.scalar(
        select(Completion.id)
        .where(
            Completion.resource_link_id == rule.resource_link_id,
            Completion.user_id == user_id,
            Completion.rule_version < rule.version,
        )
        .limit(1)
    )
    return found is not None


def _is_learner(session: Session, context_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    access = session.scalar(
        select(Membership.access).where(
            Membership.context_id == context_id, Membership.user_id == user_id
        )
    )
    return access == Access.PARTICIPANT.value


def _locked_progress(session: Session, rule: CompletionRule, user_id: uuid.UUID) -> LearnerProgress:
    """The learner's progress row, locked for this transaction (created on first use)."""
    query = (
        select(LearnerProgress)
        .where(LearnerProgress.rule_id == rule.id, LearnerProgress.user_id == user_id)
        .with_for_update()
    )
    progress = session.scalar(query)
    if progress is not None:
        return progress
    try:
        with session.begin_nested():
            progress = LearnerProgress(
                id=uuid.uuid4(),
                rule_id=rule.id,
                resource_link_id=rule.resource_link_id,
                user_id=user_id,
                counts={},
                met=[],
                score="0",
            )
            session.add(progress)
    except IntegrityError:  # another transaction created it first: wait for its lock
        progress = session.scalar(query.execution_options(populate_existing=True))
        assert progress is not None  # noqa: S101 - the row that raced us exists
    return progress
