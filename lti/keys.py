"""The tool's signing keys: RSA 2048 in the database, private halves encrypted at rest.

Every process and host reads the same rows, so they all publish the same JWKS
(``/.well-known/jwks.json``) and sign with the newest key.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import JSON, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bridge.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from bridge.vault import SecretBox

RSA_BITS = 2048


class ToolKey(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tool_key"

    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_key: Mapped[str] = mapped_column(Text)  # PEM, encrypted with the app secret
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def generate_rsa_pem(bits: int = RSA_BITS) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_jwk_of(private_pem: str) -> dict[str, Any]:
    """The public JWK of a PEM private key, with its RFC 7638 thumbprint as kid."""
    jwk = JWK.from_pem(private_pem.encode("ascii"))
    public = json.loads(jwk.export_public())
    public.update(kid=jwk.thumbprint(), alg="RS256", use="sig")
    return public


def create_key(session: Session, box: SecretBox) -> ToolKey:
    pem = generate_rsa_pem()
    public = public_jwk_of(pem)
    key = ToolKey(kid=public["kid"], private_key=box.encrypt(pem), public_jwk=public)
    session.add(key)
    session.flush()
    return key


def active_keys(session: Session) -> list[ToolKey]:
    """Keys not yet superseded, newest first: the first one signs."""
    query = select(ToolKey).where(ToolKey.retired_at.is_(None)).order_by(ToolKey.created_at.desc())
    return list(session.scalars(query))


def all_keys(session: Session) -> list[ToolKey]:
    return list(session.scalars(select(ToolKey).order_by(ToolKey.created_at.desc())))


def published_keys(session: Session) -> list[ToolKey]:
    """Keys in the JWKS: the active ones and superseded ones still in their grace period."""
    query = (
        select(ToolKey)
        .where(or_(ToolKey.retired_at.is_(None), ToolKey.retired_at > utcnow()))
        .order_by(ToolKey.created_at.desc())
    )
    return list(session.scalars(query))


def rotate(session: Session, box: SecretBox, grace: timedelta) -> ToolKey:
    """Create a new signing key; the previous ones stay published for ``grace``, then retire.

    Platforms cache a tool's JWKS; the grace period lets tokens signed just before the rotation
    (and platforms that fetched the set just before it) keep verifying.
    """
    superseded = active_keys(session)
    key = create_key(session, box)
    retire_at = utcnow() + grace
    for old in superseded:
        old.retired_at = retire_at
    session.flush()
    return key


def ensure_key(session: Session, box: SecretBox) -> ToolKey:
    """The newest active key, created if there is none."""
    keys = active_keys(session)
    return keys[0] if keys else create_key(session, box)


def jwks(session: Session) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [key.public_jwk for key in published_keys(session)]}


def signing_key(session: Session, box: SecretBox) -> tuple[str, str]:
    """(kid, private PEM) of the newest active key: every token the tool signs uses it."""
    key = ensure_key(session, box)
    return key.kid, box.decrypt(key.private_key)
