"""Role mapping: the one place where the LTI roles claim becomes what a user may do here.

LTI 1.3 §5.3.7 (roles claim) and Appendix A (role vocabularies). Context (membership) roles decide
what a user may do in the course; institution and system roles only ever add the admin console,
because Canvas sends institution roles to everybody they apply to, whatever the course role
(pylti1p3 makes the same call). Short names (``Instructor``) are the deprecated simple form that
the certification suite still sends.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
MODERATOR_ROLES = frozenset(
    {"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"}
)
PARTICIPANT_ROLES = frozenset({"Learner"})
ADMIN_SCOPES = frozenset({"institution", "system"})
ADMIN_NAMES = frozenset({"Administrator", "SysAdmin"})


class Access(enum.StrEnum):
    """What a user may do in a placement, from most to least."""

    MODERATOR = "moderator"
    PARTICIPANT = "participant"
    VIEWER = "viewer"

    @property
    def can_post(self) -> bool:
        return self in {Access.MODERATOR, Access.PARTICIPANT}

    @property
    def can_moderate(self) -> bool:
        return self is Access.MODERATOR


@dataclass(frozen=True)
class RoleGrant:
    access: Access
    is_admin: bool


@dataclass(frozen=True)
class ParsedRole:
    scope: str  # "membership", "institution", "system" or "" for a short name
    name: str
    sub_role: str = ""


def parse_role(value: str) -> ParsedRole | None:
    """Split a role URI into (scope, principal role, sub-role); None for empty or foreign values."""
    value = value.strip()
    if not value:
        return None
    if not value.startswith(LIS):
        if "/" in value or ":" in value:
            return None  # a proprietary URI, e.g. Canvas's or a custom vocabulary
        return ParsedRole(scope="", name=value)
    path, _, fragment = value.removeprefix(LIS).partition("#")
    parts = path.split("/")
    scope = parts[0]
    if scope == "membership" and len(parts) == 2:
        return ParsedRole(scope=scope, name=parts[1], sub_role=fragment)
    return ParsedRole(scope=scope, name=fragment)


def _context_access(role: ParsedRole) -> Access:
    if role.name in MODERATOR_ROLES:
        return Access.MODERATOR
    if role.name in PARTICIPANT_ROLES:
        return Access.PARTICIPANT
    return Access.VIEWER


def grant_for(roles: Iterable[str]) -> RoleGrant:
    """Map a roles claim to an access level; an empty or unknown claim is a read-only viewer.

    An institution or system Administrator opens the admin console, and moderates a course only
    when the claim carries no context role (with one, the context role decides).
    """
    parsed = [role for role in map(parse_role, roles) if role is not None]
    is_admin = any(r.scope in ADMIN_SCOPES and r.name in ADMIN_NAMES for r in parsed)
    context_roles = [r for r in parsed if r.scope in {"membership", ""}]
    if not context_roles:
        return RoleGrant(Access.MODERATOR if is_admin else Access.VIEWER, is_admin)
    order = list(Access)
    access = min((_context_access(r) for r in context_roles), key=order.index)
    return RoleGrant(access=access, is_admin=is_admin)
