"""Completion tables: versioned rules per placement, each learner's progress, earned completions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow


class ScoreMode:
    COMPLETION = "completion"  # 1.0 when every criterion is met
    PROGRESS = "progress"  # the fraction of criteria met, sent as it grows


class CompletionRule(UUIDPrimaryKey, Timestamps, Base):
    """One version of a placement's rules; changing the rules adds a version, never edits one."""

    __tablename__ = "completion_rule"
    __table_args__ = (UniqueConstraint("resource_link_id", "version"),)

    resource_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    #: [{"key": criterion key, "count": threshold}, ...] combined with AND.
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    score_mode: Mapped[str] = mapped_column(String(16), default=ScoreMode.COMPLETION)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class LearnerProgress(UUIDPrimaryKey, Timestamps, Base):
    """Where one learner stands against one rule version (updated as events arrive)."""

    __tablename__ = "completion_progress"
    __table_args__ = (UniqueConstraint("rule_id", "user_id"),)

    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("completion_rule.id", ondelete="CASCADE"))
    resource_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), index=True
    )
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    met: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[str] = mapped_column(String(16), default="0")  # a Decimal in 0-1, exact
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Completion(UUIDPrimaryKey, Base):
    """A learner met every criterion of a rule version: unique per (learner, placement, version)."""

    __tablename__ = "completion"
    __table_args__ = (UniqueConstraint("user_id", "resource_link_id", "rule_id"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    deployment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    context_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("completion_rule.id"))
    rule_version: Mapped[int] = mapped_column(Integer)
    progress_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: Per criterion: the count reached and the events (and their objects) that made it.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
