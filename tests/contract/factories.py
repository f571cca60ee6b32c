"""Delivery items for connector tests: one factory, shared by the contract suite and unit tests."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.base import COMPLETION, DeliveryItem, Learner, Placement, Platform

TOOL_URL = "https://bridge.example"
ISSUER = "https://lms.example"


def platform(**changes: Any) -> Platform:
    values: dict[str, Any] = {
        "registration_id": uuid.uuid4(),
        "issuer": ISSUER,
        "client_id": "client-1",
        "deployment_id": "deployment-1",
        "token_url": f"{ISSUER}/token",
    }
    return Platform(**(values | changes))


def placement(**changes: Any) -> Placement:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "resource_link_id": "link-1",
        "title": "Week 1 discussion",
        "widget": "discussion",
        "context_id": "course-101",
        "context_title": "Biology 101",
        "ags": {
            "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
            "lineitem": f"{ISSUER}/courses/101/lineitems/1",
        },
    }
    return Placement(**(values | changes))


def delivery_item(kind: str = COMPLETION, **changes: Any) -> DeliveryItem:
    """A completion (or, with ``kind=PROGRESS``, a progress update) with fresh ids."""
    completed = kind == COMPLETION
    values: dict[str, Any] = {
        "outbox_id": uuid.uuid4(),
        "ledger_id": uuid.uuid4(),
        "record_id": uuid.uuid4(),
        "kind": kind,
        "score": Decimal("1") if completed else Decimal("0.5"),
        "completed": completed,
        "criteria_met": ("Started a thread", "Replied twice") if completed else ("Replied once",),
        "criteria_total": 2,
        "recorded_at": datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
        "attempt": 1,
        "learner": Learner(user_id=uuid.uuid4(), sub="lms-user-42"),
        "placement": placement(),
        "platform": platform(),
        "completion_id": uuid.uuid4() if completed else None,
    }
    return DeliveryItem(**(values | changes))


def retried(item: DeliveryItem) -> DeliveryItem:
    """The same ledger row on its next attempt (a new outbox attempt, same content)."""
    return dataclasses.replace(item, attempt=item.attempt + 1)
