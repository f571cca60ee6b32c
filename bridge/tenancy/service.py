"""Tenancy use cases: registrations and deployments for admins, and the upsert of each launch.

Services receive their database session (and the request scope where there is one); they never
import Flask.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from bridge.completions.models import Completion
from bridge.db import utcnow
from bridge.delivery.models import OutboxItem
from bridge.errors import ConflictError, InvalidInputError, NotFoundError
from bridge.launch import Launch
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import (
    ID_LENGTH,
    Context,
    Deployment,
    DeploymentStatus,
    Membership,
    Organisation,
    Registration,
    ResourceLink,
    User,
)
from bridge.tenancy.rules import grant_for
from bridge.tenancy.scope import Scope

SYNTHETIC_CONTEXT_PREFIX = "resource-link:"
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class RegistrationSpec:
    """What an admin states to register a platform by hand."""

    issuer: str
    client_id: str
    auth_login_url: str
    key_set_url: str
    auth_token_url: str = ""
    auth_audience: str = ""
    name: str = ""
    deployment_ids: Sequence[str] = ()
    allowed_origins: Sequence[str] = ()
    auto_activate_deployments: bool = False
    organisation: str = ""  # attach to this existing organisation instead of creating one


def _get_or_create_organisation(session: Session, spec: RegistrationSpec) -> Organisation:
    if spec.organisation:
        organisation = session.scalar(
            select(Organisation).where(Organisation.name == spec.organisation)
        )
        if organisation is None:
            raise NotFoundError(
                f"No organisation named {spec.organisation!r}.", code="organisation_not_found"
            )
        return organisation
    name = spec.name or spec.issuer
    if session.scalar(select(Organisation.id).where(Organisation.name == name)):
        name = f"{name} ({spec.client_id})"
    organisation = Organisation(name=name)
    session.add(organisation)
    return organisation


def add_registration(session: Session, spec: RegistrationSpec) -> Registration:
    """Register a platform with its deployments (active). Refuses a duplicate (issuer, client_id)."""
    if find_registration(session, spec.issuer, spec.client_id) is not None:
        raise ConflictError(
            f"A registration for issuer {spec.issuer!r} and client_id {spec.client_id!r} exists.",
            code="registration_exists",
        )
    registration = Registration(
        organisation=_get_or_create_organisation(session, spec),
        issuer=spec.issuer,
        client_id=spec.client_id,
        name=spec.name or spec.issuer,
        auth_login_url=spec.auth_login_url,
        auth_token_url=spec.auth_token_url,
        key_set_url=spec.key_set_url,
        auth_audience=spec.auth_audience,
        allowed_origins=list(spec.allowed_origins),
        auto_activate_deployments=spec.auto_activate_deployments,
    )
    session.add(registration)
    for deployment_id in dict.fromkeys(spec.deployment_ids):
        session.add(_new_deployment(registration, deployment_id, DeploymentStatus.ACTIVE))
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "The registration conflicts with an existing one.", code="registration_exists"
        ) from exc
    return registration


def _new_deployment(registration: Registration, deployment_id: str, status: str) -> Deployment:
    active = status == DeploymentStatus.ACTIVE
    return Deployment(
        registration=registration,
        deployment_id=deployment_id,
        status=status,
        activated_at=utcnow() if active else None,
    )


def find_registration(
    session: Session, issuer: str, client_id: str | None, *, with_deployments: bool = False
) -> Registration | None:
    """The registration for (issuer, client_id); without a client_id, the issuer's only one.

    ``with_deployments`` loads its deployments in the same query (a launch checks them).
    """
    if "\x00" in issuer or "\x00" in (client_id or ""):
        return None  # no registration has one, and PostgreSQL cannot even compare it
    query = select(Registration).where(Registration.issuer == issuer)
    if with_deployments:
        query = query.options(joinedload(Registration.deployments))
    if client_id:
        return session.scalars(query.where(Registration.client_id == client_id)).unique().first()
    found = session.scalars(query).unique().all()
    return found[0] if len(found) == 1 else None


def count_registrations(session: Session, issuer: str) -> int:
    return len(session.scalars(select(Registration.id).where(Registration.issuer == issuer)).all())


def list_registrations(session: Session) -> list[Registration]:
    return list(session.scalars(select(Registration).order_by(Registration.created_at)))


def get_registration(session: Session, registration_id: uuid.UUID) -> Registration:
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise NotFoundError("No such registration.", code="registration_not_found")
    return registration


@dataclass(frozen=True)
class CompletionRecords:
    """What a registration's deployments have on record: the compliance trail of completions."""

    completions: int
    ledger_entries: int
    outbox_rows: int

    def __bool__(self) -> bool:
        return any((self.completions, self.ledger_entries, self.outbox_rows))


def completion_records(session: Session, registration: Registration) -> CompletionRecords:
    deployments = select(Deployment.id).where(Deployment.registration_id == registration.id)

    def count(column: Any) -> int:
        query = select(func.count()).where(column.in_(deployments))
        return session.scalar(query) or 0

    return CompletionRecords(
        completions=count(Completion.deployment_id),
        ledger_entries=count(LedgerEntry.deployment_id),
        outbox_rows=count(OutboxItem.deployment_id),
    )


def check_removable(session: Session, registration: Registration) -> None:
    """Refuse to remove a registration whose deployments have completion records.

    Deleting its deployments would cascade its completions (through their resource links) and
    the outbox rows of deployment-level targets away, and fail on those of organisation-wide
    targets (``outbox_item.deployment_id`` has no ON DELETE): the compliance record must stay.
    """
    records = completion_records(session, registration)
    if records:
        raise _has_records(registration, records)


def remove_registration(session: Session, registration: Registration) -> None:
    """Remove a registration and its deployments, unless they have completion records."""
    check_removable(session, registration)
    try:
        with session.begin_nested():
            session.delete(registration)
    except IntegrityError as exc:  # rows written since the check, or a table it does not count
        raise _has_records(registration, completion_records(session, registration)) from exc


def _has_records(registration: Registration, records: CompletionRecords) -> ConflictError:
    counted = ", ".join(
        f"{number} {one if number == 1 else many}"
        for number, one, many in (
            (records.completions, "completion", "completions"),
            (records.ledger_entries, "ledger entry", "ledger entries"),
            (records.outbox_rows, "outbox row", "outbox rows"),
        )
        if number
    )
    return ConflictError(
        f"{registration.issuer} (client_id {registration.client_id}) has completion records"
        f" ({counted or 'rows that refer to its deployments'}) and cannot be removed: they are"
        " the compliance record of its learners' completions.",
        code="registration_has_records",
        details={
            "completions": records.completions,
            "ledger_entries": records.ledger_entries,
            "outbox_rows": records.outbox_rows,
        },
    )


def find_deployment(
    session: Session, registration: Registration, deployment_id: str
) -> Deployment | None:
    return session.scalar(
        select(Deployment).where(
            Deployment.registration_id == registration.id, Deployment.deployment_id == deployment_id
        )
    )


def note_deployment(session: Session, registration: Registration, deployment_id: str) -> Deployment:
    """Return the deployment, recording an unknown one (active only if the registration says so).

    Two first launches of a new deployment may race (Canvas and Brightspace create one per
    install): the loser's insert fails on the unique key and it reads the winner's row.
    """
    deployment = find_deployment(session, registration, deployment_id)
    if deployment is not None:
        return deployment
    status = (
        DeploymentStatus.ACTIVE
        if registration.auto_activate_deployments
        else DeploymentStatus.PENDING
    )
    try:
        with session.begin_nested():  # by id, not through the relationship: a failed insert
            deployment = Deployment(  # must not linger in registration.deployments
                registration_id=registration.id,
                deployment_id=deployment_id,
                status=status,
                activated_at=utcnow() if status == DeploymentStatus.ACTIVE else None,
            )
            session.add(deployment)
    except IntegrityError:
        deployment = find_deployment(session, registration, deployment_id)
        assert deployment is not None  # noqa: S101 - the row the other launch inserted
    return deployment


def activate_deployment(
    session: Session, registration: Registration, deployment_id: str
) -> Deployment:
    """Activate a pending deployment, or add it active if it is not known yet."""
    if not deployment_id.strip():
        raise InvalidInputError("A deployment id is required.", code="deployment_id_required")
    deployment = note_deployment(session, registration, deployment_id)
    deployment.status = DeploymentStatus.ACTIVE
    deployment.activated_at = deployment.activated_at or utcnow()
    return deployment


def _touch(row: Context | ResourceLink | User | Membership) -> None:
    """Move ``last_seen_at`` forward, to the nearest few minutes: a repeat launch writes nothing."""
    now = utcnow()
    if row.last_seen_at is None or now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now


def _context_key(launch: Launch) -> str:
    """The course's id, or for a launch without one a key derived from its resource link that
    still fits the 255-character column (LTI ids may use all 255)."""
    if launch.context:
        return launch.context.id
    key = SYNTHETIC_CONTEXT_PREFIX + launch.resource_link.id
    if len(key) > ID_LENGTH:
        key = (
            SYNTHETIC_CONTEXT_PREFIX
            + "sha256:"
            + hashlib.sha256(launch.resource_link.id.encode()).hexdigest()
        )
    return key


@dataclass
class _KnownRows:
    """The rows a launch touches, found in one query; ``complete`` when the course was known."""

    context: Context | None = None
    link: ResourceLink | None = None
    user: User | None = None
    membership: Membership | None = None

    @property
    def complete(self) -> bool:
        return self.context is not None


_KNOWN_ROWS = (
    select(Context, ResourceLink, User, Membership)
    .outerjoin(
        ResourceLink,
        and_(
            ResourceLink.context_id == Context.id,
            ResourceLink.resource_link_id == bindparam("resource_link_id"),
        ),
    )
    .outerjoin(User, and_(User.issuer == bindparam("issuer"), User.sub == bindparam("sub")))
    .outerjoin(Membership, and_(Membership.context_id == Context.id, Membership.user_id == User.id))
    .where(
        Context.deployment_id == bindparam("deployment_id"),
        Context.context_id == bindparam("context_id"),
    )
)  # built once: a repeat launch runs this one statement to find all its rows


def _known_rows(session: Session, deployment: Deployment, launch: Launch) -> _KnownRows:
    """One query for a repeat launch's rows; a missing row in a known course does not exist."""
    row = session.execute(
        _KNOWN_ROWS,
        {
            "resource_link_id": launch.resource_link.id,
            "issuer": launch.issuer,
            "sub": launch.user.sub,
            "deployment_id": deployment.id,
            "context_id": _context_key(launch),
        },
    ).first()
    return _KnownRows(*row) if row else _KnownRows()


def _upsert_context(deployment: Deployment, launch: Launch, context: Context | None) -> Context:
    ctx = launch.context
    if context is None:
        context = Context(
            id=uuid.uuid4(),
            deployment_id=deployment.id,
            context_id=_context_key(launch),
            synthetic=ctx is None,
        )
    if ctx is not None:
        context.title, context.label, context.types = ctx.title, ctx.label, list(ctx.types)
    if launch.context_history:
        context.history = list(launch.context_history)
    if launch.services.nrps_url and context.nrps_url != launch.services.nrps_url:
        context.nrps_url = launch.services.nrps_url
    _touch(context)
    return context


def _ancestor_link(
    session: Session, registration_id: uuid.UUID, history: tuple[str, ...]
) -> ResourceLink | None:
    """The newest placement named in ``$ResourceLink.id.history``, within the same registration."""
    if not history:
        return None
    return session.scalar(
        select(ResourceLink)
        .join(Context, Context.id == ResourceLink.context_id)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .where(
            Deployment.registration_id == registration_id,
            ResourceLink.resource_link_id.in_(history),
        )
        .order_by(ResourceLink.last_seen_at.desc())
        .limit(1)
    )


def _upsert_resource_link(
    session: Session,
    registration_id: uuid.UUID,
    context: Context,
    launch: Launch,
    link: ResourceLink | None,
) -> ResourceLink:
    link_claim = launch.resource_link
    if link is None:
        link = ResourceLink(
            id=uuid.uuid4(),
            context_id=context.id,
            resource_link_id=link_claim.id,
            widget=launch.widget,
        )
        ancestor = _ancestor_link(session, registration_id, launch.resource_link_history)
        if ancestor is not None:  # a course copy: the placement keeps last term's settings
            link.settings = dict(ancestor.settings)
    link.title, link.description = link_claim.title, link_claim.description
    link.widget = launch.widget
    if launch.resource_link_history:
        link.history = list(launch.resource_link_history)
    ags = dict(launch.services.ags or {})
    if ags and link.ags != ags:  # keep the last offer: a launch without the claim changes nothing
        link.ags = ags
    _touch(link)
    return link


def _upsert_user(session: Session, launch: Launch, user: User | None, look_up: bool) -> User:
    claim = launch.user
    if user is None and look_up:
        user = session.scalar(
            select(User).where(User.issuer == launch.issuer, User.sub == claim.sub)
        )
    if user is None:
        user = User(id=uuid.uuid4(), issuer=launch.issuer, sub=claim.sub)
    # Platforms send personal data only when their privacy settings allow: keep what was sent.
    for attribute in ("name", "given_name", "family_name", "email"):
        value = getattr(claim, attribute)
        if value:
            setattr(user, attribute, value)
    _touch(user)
    return user


def record_launch(
    session: Session, registration: Registration, deployment: Deployment, launch: Launch
) -> RecordedLaunch:
    """Upsert the tenancy rows of a validated launch; the scope it grants and what the shell shows.

    ``registration`` and ``deployment`` are the rows the validation loaded (only their ids are
    read), so recording a launch costs no further lookup of them.
    """
    known = _known_rows(session, deployment, launch)
    context = _upsert_context(deployment, launch, known.context)
    link = _upsert_resource_link(session, registration.id, context, launch, known.link)
    user = _upsert_user(session, launch, known.user, look_up=not known.complete)
    grant = grant_for(launch.roles)
    membership = known.membership or Membership(
        id=uuid.uuid4(), context_id=context.id, user_id=user.id, access=grant.access.value
    )
    membership.roles, membership.access = list(launch.roles), grant.access.value
    _touch(membership)
    for rows in (
        [context, user],
        [link, membership],
    ):  # parents first: no relationships to order them
        session.add_all(rows)
        session.flush()
    scope = Scope(
        organisation_id=registration.organisation_id,
        registration_id=registration.id,
        deployment_id=deployment.id,
        context_id=context.id,
        resource_link_id=link.id,
        user_id=user.id,
        access=grant.access,
        is_admin=grant.is_admin,
    )
    return RecordedLaunch(scope, _view(user, context, link, membership, scope))


@dataclass(frozen=True)
class PlacementView:
    """What the widget shell shows about the current placement."""

    user_name: str
    user_sub: str
    context_title: str
    context_synthetic: bool
    placement_title: str
    widget: str
    access: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class RecordedLaunch:
    scope: Scope
    view: PlacementView


def _view(
    user: User, context: Context, link: ResourceLink, membership: Membership, scope: Scope
) -> PlacementView:
    return PlacementView(
        user_name=user.name
        or " ".join(filter(None, (user.given_name, user.family_name)))
        or user.email,
        user_sub=user.sub,
        context_title=context.title or context.label,
        context_synthetic=context.synthetic,
        placement_title=link.title,
        widget=link.widget,
        access=scope.access.value,
        roles=tuple(membership.roles),
    )


def describe_placement(session: Session, scope: Scope) -> PlacementView:
    """Load the scope's user, course and placement, checking that they still belong together."""
    row = session.execute(
        select(User, Context, ResourceLink, Membership)
        .join(Membership, Membership.user_id == User.id)
        .join(Context, Context.id == Membership.context_id)
        .join(ResourceLink, ResourceLink.context_id == Context.id)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .where(
            User.id == scope.user_id,
            Context.id == scope.context_id,
            ResourceLink.id == scope.resource_link_id,
            Deployment.id == scope.deployment_id,
            Deployment.status == DeploymentStatus.ACTIVE,
        )
    ).first()
    if row is None:
        raise NotFoundError("This placement is no longer available.", code="placement_not_found")
    user, context, link, membership = row
    return _view(user, context, link, membership, scope)
