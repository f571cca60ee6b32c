"""Secrets at rest: encryption with the app secret, and named secrets stored in the database.

Tool private keys, the session-token secret and the sandbox platform's key live in the database,
encrypted with a key derived from ``BRIDGE_SECRET_KEY``, so every process and host sees the same
ones and nothing secret ever sits in the repository.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bridge.db import Base, UTCDateTime, utcnow
from bridge.errors import BridgeError

HKDF_INFO = b"social-bridge/secrets-at-rest/v1"


class SecretBoxError(BridgeError):
    """A stored secret cannot be decrypted: BRIDGE_SECRET_KEY differs from the one that wrote it."""

    code = "secret_key_mismatch"
    http_status = 500


class SecretBox:
    """Authenticated encryption (Fernet) under a key derived from the app secret by HKDF."""

    def __init__(self, app_secret: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
            app_secret.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretBoxError() from exc


class StoredSecret(Base):
    """A named, encrypted secret shared by every process (e.g. the session-token secret)."""

    __tablename__ = "stored_secret"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def random_secret() -> str:
    return secrets.token_urlsafe(48)


def get_or_create_secret(
    session: Session, box: SecretBox, name: str, factory: Callable[[], str] = random_secret
) -> str:
    """Read a named secret, creating it once; a concurrent creator's value wins consistently."""
    stored = session.get(StoredSecret, name)
    if stored is None:
        try:
            with session.begin_nested():
                session.add(StoredSecret(name=name, value=box.encrypt(factory())))
        except IntegrityError:
            pass
        stored = session.scalar(select(StoredSecret).where(StoredSecret.name == name))
        assert stored is not None  # noqa: S101 - inserted or found above
    return box.decrypt(stored.value)
