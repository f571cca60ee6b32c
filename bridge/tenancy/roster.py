"""Course rosters from the platform: the members of a context as plain values, and their upsert.

``lti/nrps.py`` reads a context's memberships from the platform (LTI NRPS 2.0) and hands them
here as :class:`RosterMember` values; this module decides what changes in ``User`` and
``Membership``, with the rules launches follow: access from the roles claim
(``rules.grant_for``), personal data kept when the platform sends none (privacy settings).

What a roster adds to launches: people who never opened the tool (so they can be @mentioned),
and people who left (NRPS ``Inactive`` / ``Deleted``, or absent from a complete roster), which a
launch never says. Those keep their rows (their posts and the participation report stay whole);
their ``Membership.status`` says they are no longer current. A launch after the sync outweighs
it (:func:`current_members`), because launches do not change ``status``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from bridge.db import utcnow
from bridge.errors import NotFoundError
from bridge.tenancy.models import (
    Context,
    Deployment,
    DeploymentStatus,
    Membership,
    MembershipStatus,
    Registration,
    User,
)
from bridge.tenancy.rules import grant_for

log = logging.getLogger(__name__)

PERSONAL_FIELDS = ("name", "given_name", "family_name", "email")
LOOKUP_CHUNK = 500  # subs per IN (...) query: far below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class RosterMember:
    """One member as the platform's roster states it (personal data only when it shares it)."""

    sub: str  # the platform's user id: the LTI ``sub`` of the member's launches
    roles: tuple[str, ...] = ()
    status: str = MembershipStatus.ACTIVE
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""


@dataclass(frozen=True)
class RosterTarget:
    """A course whose roster can be read: its NRPS URL and its registration's token endpoint."""

    context_id: uuid.UUID
    title: str
    nrps_url: str
    issuer: str
    client_id: str
    token_url: str
    audience: str


@dataclass(frozen=True)
class RosterChanges:
    """What one roster upsert changed."""

    added: int = 0  # memberships created (people who had never launched here)
    updated: int = 0  # memberships or users whose roles, status or personal data changed
    unchanged: int = 0
    deactivated: int = 0  # current memberships the roster ended (inactive, deleted or absent)
    ignored: int = 0  # inactive or deleted people the tool never knew: nothing to record

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


def _target_query() -> Select[tuple[Context, Registration]]:
    return (
        select(Context, Registration)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .join(Registration, Registration.id == Deployment.registration_id)
    )


def _target(context: Context, registration: Registration) -> RosterTarget:
    return RosterTarget(
        context_id=context.id,
        title=context.title or context.label or context.context_id,
        nrps_url=context.nrps_url,
        issuer=registration.issuer,
        client_id=registration.client_id,
        token_url=registration.auth_token_url,
        audience=registration.auth_audience,
    )


def roster_target(session: Session, context_id: uuid.UUID) -> RosterTarget:
    """The course ``context_id`` (ours), or ``NotFoundError``."""
    row = session.execute(_target_query().where(Context.id == context_id)).first()
    if row is None:
        raise NotFoundError(f"No course with id {context_id}.", code="context_not_found")
    return _target(*row)


def roster_targets(session: Session) -> list[RosterTarget]:
    """Every course of an active deployment whose platform offered NRPS at a launch."""
    rows = session.execute(
        _target_query()
        .where(Context.nrps_url != "", Deployment.status == DeploymentStatus.ACTIVE)
        .order_by(Context.created_at, Context.id)
    )
    return [_target(*row) for row in rows]


def current_members() -> ColumnElement[bool]:
    """SQL condition on ``Membership``: the member belongs to the course now.

    True when the last roster sync said active (or none ran), or when the member launched after
    that sync: a launch proves presence, and launches leave ``status`` as the sync set it.
    (``last_seen_at`` moves in steps of a few minutes, so a launch within minutes of the previous
    one may count only from the next sync.)
    """
    return or_(
        Membership.status == MembershipStatus.ACTIVE,
        and_(Membership.synced_at.is_not(None), Membership.last_seen_at > Membership.synced_at),
    )


def apply_roster(
    session: Session,
    context_id: uuid.UUID,
    members: Sequence[RosterMember],
    *,
    complete: bool,
    now: datetime | None = None,
) -> RosterChanges:
    """Upsert the course's members from the platform's roster.

    Active members get a user and a membership (created if new); inactive and deleted ones only
    change rows that exist. When ``complete`` (every page read), current members missing from
    the roster are marked deleted, unless the roster is empty (a platform glitch more likely
    than an empty course). Personal data is never overwritten with blanks; roles are replaced
    only when the roster states some.
    """
    now = now or utcnow()
    row = session.execute(
        select(Context.id, Registration.issuer)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .join(Registration, Registration.id == Deployment.registration_id)
        .where(Context.id == context_id)
    ).first()
    if row is None:
        raise NotFoundError(f"No course with id {context_id}.", code="context_not_found")
    issuer = row.issuer
    roster = {member.sub: member for member in members if member.sub}  # the last entry wins
    users = _users(session, issuer, roster)
    memberships = {
        m.user_id: m
        for m in session.scalars(select(Membership).where(Membership.context_id == context_id))
    }
    counts = dict.fromkeys(("added", "updated", "unchanged", "deactivated", "ignored"), 0)
    new_users: list[User] = []
    new_memberships: list[Membership] = []
    for sub, member in roster.items():
        user = users.get(sub)
        membership = memberships.get(user.id) if user is not None else None
        if member.status != MembershipStatus.ACTIVE and membership is None:
            counts["ignored"] += 1
            continue
        if user is None:
            user = User(id=uuid.uuid4(), issuer=issuer, sub=sub, last_seen_at=now)
            new_users.append(user)
        user_changed = _merge_personal_data(user, member)
        if membership is None:
            new_memberships.append(_new_membership(context_id, user, member, now))
            counts["added"] += 1
            continue
        was_current = _is_current(membership)
        changed = _merge_membership(membership, member, now) or user_changed
        if was_current and member.status != MembershipStatus.ACTIVE:
            counts["deactivated"] += 1
        counts["updated" if changed else "unchanged"] += 1
    if complete and roster:
        counts["deactivated"] += _mark_absent(memberships.values(), users, roster, now)
    session.add_all(new_users)
    session.flush()  # users before the memberships that point at them (no relationships here)
    session.add_all(new_memberships)
    session.flush()
    changes = RosterChanges(**counts)
    log.info("roster applied context=%s %s complete=%s", context_id, changes, complete)
    return changes


def _users(session: Session, issuer: str, roster: dict[str, RosterMember]) -> dict[str, User]:
    subs = list(roster)
    found: dict[str, User] = {}
    for start in range(0, len(subs), LOOKUP_CHUNK):
        chunk = subs[start : start + LOOKUP_CHUNK]
        query = select(User).where(User.issuer == issuer, User.sub.in_(chunk))
        found.update((user.sub, user) for user in session.scalars(query))
    return found


def _merge_personal_data(user: User, member: RosterMember) -> bool:
    """Copy what the roster states; a blank never replaces a value (privacy settings vary)."""
    changed = False
    for attribute in PERSONAL_FIELDS:
        value = getattr(member, attribute)
        if value and getattr(user, attribute) != value:
            setattr(user, attribute, value)
            changed = True
    return changed


def _new_membership(
    context_id: uuid.UUID, user: User, member: RosterMember, now: datetime
) -> Membership:
    return Membership(
        id=uuid.uuid4(),
        context_id=context_id,
        user_id=user.id,
        roles=list(member.roles),
        access=grant_for(member.roles).access.value,
        status=member.status,
        synced_at=now,
        last_seen_at=now,  # never launched: "seen" by the roster, and not after the sync
    )


def _merge_membership(membership: Membership, member: RosterMember, now: datetime) -> bool:
    changed = False
    if member.roles and list(membership.roles) != list(member.roles):
        membership.roles = list(member.roles)
        membership.access = grant_for(member.roles).access.value
        changed = True
    if membership.status != member.status:
        membership.status = member.status
        changed = True
    membership.synced_at = now
    return changed


def _mark_absent(
    memberships: Iterable[Membership],
    users: dict[str, User],
    roster: dict[str, RosterMember],
    now: datetime,
) -> int:
    """Mark deleted the current memberships of people a complete roster leaves out."""
    listed = {user.id for sub, user in users.items() if sub in roster}
    ended = 0
    for membership in memberships:
        if membership.user_id in listed or not _is_current(membership):
            continue
        membership.status = MembershipStatus.DELETED
        membership.synced_at = now
        ended += 1
    return ended


def _is_current(membership: Membership) -> bool:
    """:func:`current_members` for a loaded row."""
    synced_at = membership.synced_at
    return membership.status == MembershipStatus.ACTIVE or (
        synced_at is not None and membership.last_seen_at > synced_at
    )
