"""Registration invitations: what lets a platform register by LTI Dynamic Registration.

A tool admin makes one with ``bridge platform invite``; an LMS admin pastes its link into the
LMS. The token is 32 random bytes (URL-safe base64); the database keeps only its SHA-256, so a
leaked database does not hand out registrations. An invitation is used once: the registration claims it with a
conditional ``UPDATE ... WHERE used_at IS NULL`` in the transaction that stores the registration,
so of two concurrent registrations with one link exactly one commits (on SQLite the write lock
serialises them; on PostgreSQL the second ``UPDATE`` waits for the first and then matches no row).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from bridge.db import utcnow
from bridge.errors import BridgeError, InvalidInputError, NotFoundError
from bridge.tenancy.models import Organisation, RegistrationInvitation

TOKEN_BYTES = 32
INVITATION_PARAMETER = "invitation"
REGISTER_PATH = "/lti/register"


class InvitationError(BridgeError):
    """Registration needs a valid invitation from the tool's administrator."""

    code = "registration_invitation_required"
    http_status = 403


@dataclass(frozen=True)
class RegistrationTerms:
    """What a dynamic registration gets: its invitation's terms, or open registration's defaults."""

    invitation_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None  # None: a new organisation
    auto_activate_deployments: bool = False


OPEN_REGISTRATION = RegistrationTerms()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def registration_url(base_url: str, token: str) -> str:
    """The link to paste into the LMS; the platform adds its own parameters to it."""
    return f"{base_url.rstrip('/')}{REGISTER_PATH}?{urlencode({INVITATION_PARAMETER: token})}"


def create_invitation(
    session: Session,
    *,
    lifetime: timedelta,
    organisation: str = "",
    auto_activate_deployments: bool = False,
) -> tuple[RegistrationInvitation, str]:
    """Record an invitation and return it with its token (the only copy of the token)."""
    if lifetime <= timedelta(0):
        raise InvalidInputError("An invitation must be valid for some time.", code="invalid_input")
    organisation_id = None
    if organisation:
        organisation_id = session.scalar(
            select(Organisation.id).where(Organisation.name == organisation)
        )
        if organisation_id is None:
            raise NotFoundError(
                f"No organisation named {organisation!r}.", code="organisation_not_found"
            )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = RegistrationInvitation(
        token_hash=hash_token(token),
        organisation_id=organisation_id,
        auto_activate_deployments=auto_activate_deployments,
        expires_at=utcnow() + lifetime,
    )
    session.add(invitation)
    session.flush()
    return invitation, token


def check_invitation(
    session: Session, token: str, now: datetime | None = None
) -> RegistrationTerms:
    """The terms of a usable invitation; refuses an unknown, used or expired one (403)."""
    invitation = session.scalar(
        select(RegistrationInvitation).where(RegistrationInvitation.token_hash == hash_token(token))
    )
    if invitation is None:
        raise InvitationError("No such invitation.", code="registration_invitation_unknown")
    if invitation.used_at is not None:
        raise InvitationError(
            "The invitation was used already.", code="registration_invitation_used"
        )
    if invitation.expires_at <= (now or utcnow()):
        raise InvitationError("The invitation has expired.", code="registration_invitation_expired")
    return RegistrationTerms(
        invitation_id=invitation.id,
        organisation_id=invitation.organisation_id,
        auto_activate_deployments=invitation.auto_activate_deployments,
    )


def claim_invitation(session: Session, terms: RegistrationTerms) -> None:
    """Mark the invitation used, once: a concurrent claim finds no row and is refused.

    Run it first in the storing transaction: on PostgreSQL its row lock makes a concurrent claim
    wait and then fail here, before it could collide with the winner's rows (its organisation).
    """
    if terms.invitation_id is None:
        return
    now = utcnow()
    result = session.execute(
        update(RegistrationInvitation)
        .where(
            RegistrationInvitation.id == terms.invitation_id,
            RegistrationInvitation.used_at.is_(None),
            RegistrationInvitation.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise InvitationError(
            "The invitation was used or expired during the registration.",
            code="registration_invitation_used",
        )


def note_registration(
    session: Session, terms: RegistrationTerms, registration_id: uuid.UUID
) -> None:
    """Record which registration used the invitation (for admins tracing a registration)."""
    if terms.invitation_id is None:
        return
    session.execute(
        update(RegistrationInvitation)
        .where(RegistrationInvitation.id == terms.invitation_id)
        .values(registration_id=registration_id)
        .execution_options(synchronize_session=False)
    )
