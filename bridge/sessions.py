"""Signed widget session tokens, bound to (deployment, context, resource link, user, access).

Browsers block third-party cookies in LMS frames, so after a valid launch the widget page carries
this token and its scripts send it as ``Authorization: Bearer``; it never travels in a URL. API
responses hand back a renewed token while the widget is in use.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bridge.errors import UnauthorizedError
from bridge.tenancy.rules import Access
from bridge.tenancy.scope import Scope

SALT = "social-bridge/widget-session/v1"
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


class SessionTokens:
    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self.lifetime_seconds = lifetime_seconds

    def issue(self, scope: Scope) -> str:
        payload = {name[0:3]: getattr(scope, name).hex for name in _FIELDS}
        payload.update(acc=scope.access.value, adm=int(scope.is_admin))
        return self._serializer.dumps(payload)

    def verify(self, token: str) -> VerifiedSession:
        try:
            payload, issued = self._serializer.loads(
                token, max_age=self.lifetime_seconds, return_timestamp=True
            )
            scope = Scope(
                **{name: uuid.UUID(payload[name[0:3]]) for name in _FIELDS},
                access=Access(payload["acc"]),
                is_admin=bool(payload["adm"]),
            )
        except SignatureExpired as exc:
            raise UnauthorizedError("The session has expired.", code="session_expired") from exc
        except (BadSignature, KeyError, ValueError, TypeError) as exc:
            raise UnauthorizedError(
                "The session token is not valid.", code="session_invalid"
            ) from exc
        return VerifiedSession(scope=scope, issued_at=issued.timestamp())

    def needs_renewal(self, verified: VerifiedSession, renew_after_seconds: int = 600) -> bool:
        return time.time() - verified.issued_at > renew_after_seconds
