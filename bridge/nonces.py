"""Single-use nonces: an atomic unique insert in a database table shared by every process.

pylti1p3 checks that a launch's nonce was issued but never consumes it, so an accepted id_token
could be posted again. The first insert of (issuer, nonce) wins; every later one is a replay. A
file cache is not used for this: its ``add`` is not atomic and it evicts entries.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bridge.db import Base, UTCDateTime, utcnow

MIN_RETENTION = timedelta(hours=1)
PURGE_ONE_IN = 200  # purge expired rows on about one insert in this many


class UsedNonce(Base):
    __tablename__ = "used_nonce"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def _key(issuer: str, nonce: str) -> str:
    return hashlib.sha256(f"{issuer}\x00{nonce}".encode()).hexdigest()


def consume_nonce(session: Session, issuer: str, nonce: str, valid_until: datetime) -> bool:
    """Record the nonce as used in the caller's transaction; False if it was used before (a replay).

    The caller commits it together with what the launch writes, so a launch either happens once,
    with its nonce spent, or not at all; two processes racing with the same id_token cannot both
    succeed (the second insert waits for the first commit, then fails on the key). Rows are kept
    past the token's own expiry, after which the token is refused for being expired anyway.
    """
    expires_at = max(valid_until, utcnow()) + MIN_RETENTION
    session.add(UsedNonce(key=_key(issuer, nonce), expires_at=expires_at))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()  # the caller's unit of work ends here: the launch is refused
        return False
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        session.execute(delete(UsedNonce).where(UsedNonce.expires_at < utcnow()))
    return True
