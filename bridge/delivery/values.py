"""What the worker hands a connector and what a connector answers: plain frozen values.

They live in ``bridge`` because the worker builds and reads them while never importing
``connectors/`` (the composition root hands it the registry); connectors re-export them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

#: Item kinds a connector can carry (its ``capabilities``).
COMPLETION = "completion"
PROGRESS = "progress"


@dataclass(frozen=True)
class Learner:
    user_id: uuid.UUID  # ours, opaque
    sub: str  # the platform's user id (LTI ``sub``)


@dataclass(frozen=True)
class Placement:
    id: uuid.UUID  # ours (resource_link row)
    resource_link_id: str  # the platform's
    title: str
    widget: str
    context_id: str  # the platform's course id
    context_title: str
    ags: Mapping[str, Any] = field(default_factory=dict)  # the AGS endpoint claim, if offered


@dataclass(frozen=True)
class Platform:
    registration_id: uuid.UUID
    issuer: str
    client_id: str
    deployment_id: str
    token_url: str
    audience: str = ""  # the token endpoint's ``aud`` when it differs from ``token_url``


@dataclass(frozen=True)
class DeliveryItem:
    """One ledger entry to deliver, as plain values (never ORM objects)."""

    outbox_id: uuid.UUID
    ledger_id: uuid.UUID  # the ledger row: unique per delivery content
    record_id: uuid.UUID  # the learner's record in the placement (stable across progress updates)
    kind: str  # COMPLETION or PROGRESS
    score: Decimal  # 0-1
    completed: bool
    criteria_met: tuple[str, ...]  # readable descriptions of the criteria met
    criteria_total: int
    recorded_at: datetime  # when the ledger row was written (UTC): the score's timestamp
    attempt: int  # 1 for the first attempt
    learner: Learner
    placement: Placement
    platform: Platform
    completion_id: uuid.UUID | None = None  # set when ``completed``


@dataclass(frozen=True)
class Delivered:
    evidence: str = ""  # what the target said (remote id, status line)
    status: int | None = None
    remote_id: str = ""


@dataclass(frozen=True)
class RetryLater:
    reason: str
    retry_after: float | None = None  # seconds, when the target said (``Retry-After``)
    status: int | None = None


@dataclass(frozen=True)
class Rejected:
    reason: str
    status: int | None = None


Outcome = Delivered | RetryLater | Rejected
