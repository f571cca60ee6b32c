"""The plain ``Launch`` value: who launched, from where, with which roles and services.

``lti/launch.py`` builds it from a validated message; the core consumes it and never sees pylti1p3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LaunchUser:
    sub: str
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.given_name, self.family_name) if part)
        return self.name or full or self.email


@dataclass(frozen=True)
class LaunchContext:
    id: str
    title: str = ""
    label: str = ""
    types: tuple[str, ...] = ()


@dataclass(frozen=True)
class LaunchResourceLink:
    id: str
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class LaunchServices:
    """Service endpoints the platform offered with this launch (LTI Advantage claims)."""

    ags: Mapping[str, Any] | None = None
    nrps_url: str = ""
    return_url: str = ""


@dataclass(frozen=True)
class Launch:
    issuer: str
    client_id: str
    deployment_id: str
    message_type: str
    user: LaunchUser
    roles: tuple[str, ...]
    resource_link: LaunchResourceLink
    widget: str
    context: LaunchContext | None = None
    custom: Mapping[str, str] = field(default_factory=dict)
    target_link_uri: str = ""
    locale: str = ""
    services: LaunchServices = field(default_factory=LaunchServices)
    context_history: tuple[str, ...] = ()
    resource_link_history: tuple[str, ...] = ()
