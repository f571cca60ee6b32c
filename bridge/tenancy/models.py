"""Tenancy tables (ARCHITECTURE.md "Tenancy"): opaque UUID keys, LTI identifiers as natural keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bridge.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow

ID_LENGTH = 255
URL_LENGTH = 2048


class Organisation(UUIDPrimaryKey, Timestamps, Base):
    """A customer: owns registrations, connector defaults and the scope of its ledger."""

    __tablename__ = "organisation"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    registrations: Mapped[list[Registration]] = relationship(back_populates="organisation")


class Registration(UUIDPrimaryKey, Timestamps, Base):
    """A platform registration, unique on (issuer, client_id): Canvas cloud shares one issuer."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(URL_LENGTH))
    client_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(200), default="")
    auth_login_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    auth_token_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    key_set_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    auth_audience: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    auto_activate_deployments: Mapped[bool] = mapped_column(Boolean, default=False)

    organisation: Mapped[Organisation] = relationship(back_populates="registrations")
    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", passive_deletes=True
    )


class RegistrationInvitation(UUIDPrimaryKey, Timestamps, Base):
    """A single-use, expiring permission to register a platform by LTI Dynamic Registration.

    Only a hash of the token is stored: the link a tool admin hands out is the only copy. It says
    what the registration gets: the organisation to join (none: a new one) and whether unknown
    deployments are activated at their first launch.
    """

    __tablename__ = "registration_invitation"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), nullable=True, index=True
    )
    auto_activate_deployments: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registration.id", ondelete="SET NULL"), nullable=True
    )


class DeploymentStatus:
    ACTIVE = "active"
    PENDING = "pending"


class Deployment(UUIDPrimaryKey, Timestamps, Base):
    """A deployment of a registration; unknown ones arrive as pending until an admin activates them."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id"),)

    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default=DeploymentStatus.ACTIVE)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    registration: Mapped[Registration] = relationship(back_populates="deployments")

    @property
    def is_active(self) -> bool:
        return self.status == DeploymentStatus.ACTIVE


class Context(UUIDPrimaryKey, Timestamps, Base):
    """A course. A launch without a context gets one of its own derived from its resource link."""

    __tablename__ = "context"
    __table_args__ = (UniqueConstraint("deployment_id", "context_id"),)

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), index=True
    )
    context_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    title: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str] = mapped_column(Text, default="")
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    history: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The NRPS context memberships URL the platform last offered (empty: none offered).
    nrps_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")


class ResourceLink(UUIDPrimaryKey, Timestamps, Base):
    """A placement of a widget in a course."""

    __tablename__ = "resource_link"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("context.id", ondelete="CASCADE"), index=True
    )
    resource_link_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    widget: Mapped[str] = mapped_column(String(40))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The AGS endpoint claim the platform last sent for this placement (scope, lineitems,
    #: lineitem); empty when the platform offers no grade service here.
    ags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(UUIDPrimaryKey, Timestamps, Base):
    """A person as the LTI spec identifies them: (issuer, sub). Personal data lives only here."""

    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    issuer: Mapped[str] = mapped_column(String(URL_LENGTH))
    sub: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(Text, default="")
    given_name: Mapped[str] = mapped_column(Text, default="")
    family_name: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(Text, default="")
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MembershipStatus:
    """Whether a membership is current, as the platform's roster (LTI NRPS 2.0 ``status``) said."""

    ACTIVE = "active"
    INACTIVE = "inactive"  # the platform suspended it (NRPS ``Inactive``)
    DELETED = "deleted"  # the platform removed it (NRPS ``Deleted``, or absent from a full roster)


class Membership(UUIDPrimaryKey, Timestamps, Base):
    """A user's roles in a context, as of their last launch or roster sync (whichever is newer).

    ``status`` is what the last roster sync said (launches do not change it); ``synced_at`` when
    that sync ran (None: known from launches only). A launch after the sync outweighs it: see
    ``bridge.tenancy.roster.current_members``.
    """

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("context_id", "user_id"),)

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("context.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    access: Mapped[str] = mapped_column(String(16))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(
        String(16), default=MembershipStatus.ACTIVE, server_default=MembershipStatus.ACTIVE
    )
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
