"""Bearer-token authentication of the widget API, and role checks on the request's scope."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Response, g, request

from bridge.errors import UnauthorizedError
from bridge.runtime import runtime
from bridge.sessions import VerifiedSession
from bridge.tenancy.scope import Scope

P = ParamSpec("P")
R = TypeVar("R")
RENEW_HEADER = "X-Bridge-Session"


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "Send the widget session as 'Authorization: Bearer <token>'.", code="unauthorized"
        )
    return token.strip()


def current_scope() -> Scope:
    scope = g.get("scope")
    if scope is None:
        raise UnauthorizedError()
    return scope


def require_session(view: Callable[P, R]) -> Callable[P, R]:
    """Authenticate the request by its bearer token and put its scope on ``g``."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        verified = runtime().session_tokens().verify(_bearer_token())
        g.scope = verified.scope
        g.verified_session = verified
        return view(*args, **kwargs)

    return wrapper


def renew_session_header(response: Response) -> Response:
    """Hand a fresh token back while the widget is in use (after_request hook of API blueprints)."""
    verified: VerifiedSession | None = g.get("verified_session")
    tokens = runtime().session_tokens()
    if verified is not None and response.status_code < 400 and tokens.needs_renewal(verified):
        response.headers[RENEW_HEADER] = tokens.issue(verified.scope)
    return response
