"""Signed widget session tokens, bound to (deployment, context, resource link, user, access).

Browsers block third-party cookies in LMS frames, so after a valid launch the widget page carries
this token and its scripts send it as ``Authorization: Bearer``; it never travels in a URL. API
responses hand back a renewed token while the widget is in use.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache, partial

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge.errors import UnauthorizedError
from bridge.tenancy.rules import Access
from bridge.tenancy.scope import Scope

SALT = "social-bridge/widget-session/v1"
VERIFIED_CACHE_SIZE = 4096  # a few MB at most: a token is ~250 bytes, its session ~1 KB
_FIELDS = (
    "organisation_id",
    "registration_id",
    "deployment_id",
    "context_id",
    "resource_link_id",
    "user_id",
)


@dataclass(frozen=True)
class VerifiedSession:
    scope: Scope
    issued_at: float


def _decode(serializer: URLSafeTimedSerializer, token: str) -> VerifiedSession:
    """Check the signature and decode the payload; the caller checks the age."""
    payload, issued = serializer.loads(token, return_timestamp=True)
    scope = Scope(
        **{name: uuid.UUID(payload[name[0:3]]) for name in _FIELDS},
        access=Access(payload["acc"]),
        is_admin=bool(payload["adm"]),
    )
    return VerifiedSession(scope=scope, issued_at=issued.timestamp())


class SessionTokens:
    """Issues and verifies widget session tokens, remembering the ones that verified.

    Every API request verifies its token, and the signature check plus building a scope of six
    UUIDs is a measurable share of a request's CPU, so each instance keeps the outcome of that work
    in a per-process LRU cache keyed by the token string. This is safe because:

    - a token is an immutable, signed string: any change to it, or a token signed with another
      secret or salt, is a different key that misses the cache and fails the signature check;
    - only tokens that verified are stored (``lru_cache`` does not keep exceptions), and an entry
      holds frozen values, so sharing one between threads and requests is harmless;
    - the age is checked on every call against the current time and ``lifetime_seconds`` with the
      rules itsdangerous applies for ``max_age`` (``TimestampSigner.unsign``): whole seconds, older
      than the lifetime is expired, and issued in the future is refused the same way;
    - the cache is bounded (``VERIFIED_CACHE_SIZE``) and belongs to this instance, which holds the
      secret, so a new secret starts with an empty cache. ``lru_cache`` is thread-safe.
    """

    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self.lifetime_seconds = lifetime_seconds
        self._decode = lru_cache(maxsize=VERIFIED_CACHE_SIZE)(partial(_decode, self._serializer))

    def issue(self, scope: Scope) -> str:
        payload = {name[0:3]: getattr(scope, name).hex for name in _FIELDS}
        payload.update(acc=scope.access.value, adm=int(scope.is_admin))
        return self._serializer.dumps(payload)

    def verify(self, token: str) -> VerifiedSession:
        try:
            verified = self._decode(token)
        except (BadSignature, KeyError, ValueError, TypeError) as exc:
            raise UnauthorizedError(
                "The session token is not valid.", code="session_invalid"
            ) from exc
        age = int(time.time()) - int(verified.issued_at)
        if age > self.lifetime_seconds or age < 0:
            raise UnauthorizedError("The session has expired.", code="session_expired")
        return verified

    def needs_renewal(self, verified: VerifiedSession, renew_after_seconds: int = 600) -> bool:
        return time.time() - verified.issued_at > renew_after_seconds
