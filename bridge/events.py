"""Activity events: what widgets emit and the completion engine (and others) consume.

A widget's service emits a named event in the same transaction as the change it describes, so an
event exists exactly when its change does. Each event is stored (``activity_event``, opaque ids
only: no names, no text) and handed to the subscribers registered on the bus, which run in that
same transaction. Widgets never know who listens.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Uuid
from sqlalchemy.orm import Mapped, Session, mapped_column

from bridge.db import Base, UTCDateTime, UUIDPrimaryKey, utcnow
from bridge.tenancy.scope import Scope

ANY = "*"


class ActivityEvent(UUIDPrimaryKey, Base):
    """One thing that happened in a placement, as opaque ids (personal data stays in tenancy)."""

    __tablename__ = "activity_event"

    name: Mapped[str] = mapped_column(String(60), index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    deployment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    context_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_link_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    actor_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@dataclass(frozen=True)
class Event:
    """What a service emits; ``subject_id`` is the user it happened to (e.g. a reaction's author)."""

    name: str
    object_type: str
    object_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


Handler = Callable[[Session, ActivityEvent], None]


class EventBus:
    """Stores events and calls subscribers by event name (or ``*`` for every event)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    def emit(self, session: Session, scope: Scope, event: Event) -> ActivityEvent:
        row = ActivityEvent(
            name=event.name,
            organisation_id=scope.organisation_id,
            deployment_id=scope.deployment_id,
            context_id=scope.context_id,
            resource_link_id=scope.resource_link_id,
            actor_id=scope.user_id,
            subject_id=event.subject_id,
            object_type=event.object_type,
            object_id=event.object_id,
            data=dict(event.data),
        )
        session.add(row)
        for handler in (*self._handlers.get(event.name, ()), *self._handlers.get(ANY, ())):
            handler(session, row)
        return row
