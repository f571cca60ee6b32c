"""Use cases of completion rules for one placement: read and change the rules, see standing."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from bridge.completions import rules
from bridge.completions.engine import CompletionEngine, Where, current_rule, lock_placement
from bridge.completions.models import Completion, CompletionRule, LearnerProgress
from bridge.delivery.models import OutboxItem
from bridge.errors import ForbiddenError
from bridge.events import ActivityEvent
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import Membership, ResourceLink, User
from bridge.tenancy.rules import Access
from bridge.tenancy.scope import Scope


class CompletionService:
    def __init__(self, session: Session, scope: Scope, engine: CompletionEngine) -> None:
        self._session, self._scope, self._engine = session, scope, engine

    def _widget(self) -> str:
        widget = self._session.scalar(
            select(ResourceLink.widget).where(ResourceLink.id == self._scope.resource_link_id)
        )
        return widget or ""

    def _require_moderator(self) -> None:
        if not self._scope.access.can_moderate:
            raise ForbiddenError("Only instructors can do this here.", code="moderators_only")

    def rules(self) -> dict[str, Any]:
        """The placement's current rule and every criterion its widget offers."""
        widget = self._widget()
        rule = current_rule(self._session, self._scope.resource_link_id)
        offered = [
            {"key": spec.key, "label": spec.label}
            for spec in self._engine.criteria.values()
            if spec.key.startswith(widget + ".")
        ]
        return {
            "version": rule.version if rule else 0,
            "criteria": [self._describe(c) for c in rule.criteria] if rule else [],
            "score_mode": rule.score_mode if rule else "completion",
            "offered": offered,
        }

    def _describe(self, criterion: dict[str, Any]) -> dict[str, Any]:
        spec = self._engine.criteria.get(criterion["key"])
        label = spec.describe(criterion["count"]) if spec else criterion["key"]
        return {"key": criterion["key"], "count": criterion["count"], "label": label}

    def set_rules(self, criteria: Any, score_mode: Any) -> dict[str, Any]:
        """A new rule version (earlier completions stay); learners' standing is brought up to date."""
        self._require_moderator()
        cleaned = rules.check_criteria(criteria, self._engine.criteria, self._widget())
        mode = rules.check_score_mode(score_mode)
        lock_placement(self._session, self._scope.resource_link_id)  # versions and events wait
        current = current_rule(self._session, self._scope.resource_link_id)
        if current and current.criteria == cleaned and current.score_mode == mode:
            return self.rules()
        rule = CompletionRule(
            id=uuid.uuid4(),
            resource_link_id=self._scope.resource_link_id,
            version=(current.version if current else 0) + 1,
            criteria=cleaned,
            score_mode=mode,
            created_by=self._scope.user_id,
        )
        self._session.add(rule)
        self._session.flush()
        where = Where(
            self._scope.organisation_id,
            self._scope.deployment_id,
            self._scope.context_id,
            self._scope.resource_link_id,
        )
        self._engine.evaluate(self._session, rule, where, self._active_user_ids())
        return self.rules()

    def _active_user_ids(self) -> set[uuid.UUID]:
        """Everyone with activity in this placement: only they can have met anything yet."""
        placement = ActivityEvent.resource_link_id == self._scope.resource_link_id
        actors = select(ActivityEvent.actor_id).where(placement)
        subjects = select(ActivityEvent.subject_id).where(
            placement, ActivityEvent.subject_id.is_not(None)
        )
        return set(self._session.scalars(union(actors, subjects)))

    def _learner_ids(self) -> list[uuid.UUID]:
        return list(
            self._session.scalars(
                select(Membership.user_id).where(
                    Membership.context_id == self._scope.context_id,
                    Membership.access == Access.PARTICIPANT.value,
                )
            )
        )

    def my_standing(self) -> dict[str, Any]:
        """The viewer's own progress against the current rule, and where it was delivered."""
        rule = current_rule(self._session, self._scope.resource_link_id)
        rows = self._standings(rule, [self._scope.user_id]) if rule else []
        return {"rules": self.rules(), "standing": rows[0] if rows else None}

    def standings(self) -> dict[str, Any]:
        """Every learner's standing in this placement (instructors)."""
        self._require_moderator()
        rule = current_rule(self._session, self._scope.resource_link_id)
        return {
            "rules": self.rules(),
            "learners": self._standings(rule, self._learner_ids()) if rule else [],
        }

    def _standings(self, rule: CompletionRule, user_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        found = self._session.execute(
            select(User, LearnerProgress)
            .outerjoin(
                LearnerProgress,
                (LearnerProgress.user_id == User.id) & (LearnerProgress.rule_id == rule.id),
            )
            .where(User.id.in_(user_ids))
        ).all()
        deliveries = self._deliveries(user_ids)
        earlier = self._completions(user_ids)
        rows = []
        for user, progress in sorted(found, key=lambda r: r[0].name.lower()):
            done = progress is not None and progress.completed_at is not None
            kept = None if done else earlier.get(user.id)  # completed an earlier version
            rows.append(
                {
                    "user_id": str(user.id),
                    "name": user.name or user.email or "Learner",
                    "score": "1" if kept else (progress.score if progress else "0"),
                    "met": list(progress.met) if progress else [],
                    "counts": dict(progress.counts) if progress else {},
                    "completed_at": kept.completed_at
                    if kept
                    else (progress and progress.completed_at),
                    "completed_version": kept.rule_version
                    if kept
                    else (rule.version if done else None),
                    "deliveries": deliveries.get(user.id, []),
                }
            )
        return rows

    def _completions(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Completion]:
        """Each learner's latest completion in this placement, whatever the rule version."""
        found = self._session.scalars(
            select(Completion)
            .where(
                Completion.resource_link_id == self._scope.resource_link_id,
                Completion.user_id.in_(user_ids),
            )
            .order_by(Completion.rule_version)
        )
        return {completion.user_id: completion for completion in found}

    def _deliveries(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
        """The latest ledger entry's delivery state per target, per learner (any rule version)."""
        result = self._session.execute(
            select(LedgerEntry.user_id, LedgerEntry.seq, OutboxItem)
            .join(OutboxItem, OutboxItem.ledger_id == LedgerEntry.id)
            .where(
                LedgerEntry.organisation_id == self._scope.organisation_id,
                LedgerEntry.resource_link_id == self._scope.resource_link_id,
                LedgerEntry.user_id.in_(user_ids),
            )
            .order_by(LedgerEntry.seq)
        ).all()
        latest: dict[uuid.UUID, dict[str, dict[str, Any]]] = defaultdict(dict)
        for user_id, _seq, item in result:
            latest[user_id][item.connector] = {
                "connector": item.connector,
                "status": item.status,
                "attempts": item.attempts,
                "delivered_at": item.delivered_at,
                # the target's own words stay with instructors (they may quote its error page)
                "last_reason": item.last_reason
                if item.status != "delivered" and self._scope.access.can_moderate
                else "",
            }
        return {user_id: list(by.values()) for user_id, by in latest.items()}
