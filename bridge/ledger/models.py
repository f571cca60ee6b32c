"""Ledger tables: entries chained per organisation, and the head each append moves forward."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db import Base, UTCDateTime, UUIDPrimaryKey

GENESIS = "0" * 64


class LedgerEntry(UUIDPrimaryKey, Base):
    """One completion or progress update; never updated or deleted. No personal data here:
    names and emails stay in the tenancy tables, so a deletion request leaves the chain whole."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("organisation_id", "seq"),
        # a learner's previous entry in a placement (score timestamps stay a second apart)
        Index("ix_ledger_entry_progress_recorded", "progress_id", "recorded_at"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    deployment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    context_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_link_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    progress_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    completion_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    rule_version: Mapped[int] = mapped_column(Integer)
    score: Mapped[str] = mapped_column(String(16))
    completed: Mapped[bool] = mapped_column(Boolean)
    criteria_met: Mapped[list[str]] = mapped_column(JSON)
    criteria_total: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The last entry of an organisation's chain. Appending updates this row, so concurrent
    appends to one chain queue on its row lock (PostgreSQL) or the write lock (SQLite)."""

    __tablename__ = "ledger_head"

    organisation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
