"""Delivery tables: connector settings, the outbox (one row per ledger entry and target), attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow


class OutboxStatus:
    PENDING = "pending"  # waiting for its next attempt (or being attempted under a lease)
    DELIVERED = "delivered"
    DEAD = "dead"  # rejected by the target, or out of attempts: an admin may retry it


class AttemptOutcome:
    STARTED = "started"  # still running, or the worker died during it
    DELIVERED = "delivered"
    RETRY = "retry_later"
    REJECTED = "rejected"


class ConnectorSetting(UUIDPrimaryKey, Timestamps, Base):
    """One delivery target of an organisation (``deployment_id`` empty: its default for every
    deployment) or of one deployment (which overrides the default of the same connector)."""

    __tablename__ = "connector_setting"
    __table_args__ = (UniqueConstraint("organisation_id", "deployment_id", "connector"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), nullable=True
    )
    connector: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Item kinds this target receives (the connector's capabilities when it was configured).
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # no secrets
    secrets: Mapped[str] = mapped_column(Text, default="")  # encrypted JSON (bridge.vault)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxItem(UUIDPrimaryKey, Timestamps, Base):
    """One ledger entry to deliver to one target; the record delivery guarantees rest on."""

    __tablename__ = "outbox_item"
    __table_args__ = (
        UniqueConstraint("ledger_id", "setting_id"),
        Index("ix_outbox_item_due", "status", "next_attempt_at"),
    )

    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    deployment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deployment.id"))
    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connector_setting.id", ondelete="CASCADE")
    )
    connector: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: ``attempts`` when an admin last retried the dead row: the retry budget counts from here.
    round_start: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_reason: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_id: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(UUIDPrimaryKey, Base):
    """Every attempt, written when it starts and completed when the target answers."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (UniqueConstraint("outbox_id", "number"),)

    outbox_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_item.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    connector: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default=AttemptOutcome.STARTED)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_id: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
