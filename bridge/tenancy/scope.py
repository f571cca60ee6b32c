"""The tenancy scope a request carries; every query of the core goes through it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bridge.tenancy.rules import Access


@dataclass(frozen=True)
class Scope:
    """Where a request stands (deployment, course, placement) and who makes it, with what access."""

    organisation_id: uuid.UUID
    registration_id: uuid.UUID
    deployment_id: uuid.UUID
    context_id: uuid.UUID
    resource_link_id: uuid.UUID
    user_id: uuid.UUID
    access: Access
    is_admin: bool = False
