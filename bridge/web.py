"""The request lifecycle and the one place that renders errors.

- One unit of work per request: the session from :func:`db` is committed when the response is a
  success and rolled back otherwise (an error page never leaves half-written rows behind). A GET's
  hot reads may also use :func:`reads`, a read-only snapshot closed with the request.
- Every response carries a request id and the security headers; pages get a CSP whose
  ``frame-ancestors`` lists the origins allowed to frame the tool.
- A :class:`~bridge.errors.BridgeError` or an HTTP error becomes a JSON envelope under ``/api/``
  and an LMS-frame-friendly page elsewhere; anything else is a logged, generic 500.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from bridge.errors import BridgeError
from bridge.events import EventBus
from bridge.reads import ReadSnapshot
from bridge.runtime import runtime
from bridge.urls import origin_of, sandbox_base_url

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # one unit of work that only reads
EVENTS_KEY = "bridge.events"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# code -> (title, message). Packages add theirs with register_error_messages().
_MESSAGES: dict[str, tuple[LazyString, LazyString]] = {
    "invalid_input": (_l("Invalid request"), _l("Some of what was sent is not valid.")),
    "not_found": (_l("Not found"), _l("Nothing here matches this address.")),
    "forbidden": (_l("Not allowed"), _l("You are not allowed to do this.")),
    "unauthorized": (
        _l("Session ended"),
        _l("Your session is missing or has ended. Reopen the activity from your course."),
    ),
    "session_expired": (
        _l("Session expired"),
        _l("Your session has expired. Reopen the activity from your course to continue."),
    ),
    "session_invalid": (
        _l("Session not valid"),
        _l("This session is not valid. Reopen the activity from your course."),
    ),
    "conflict": (_l("ConflictError"), _l("This conflicts with the current state.")),
    "request_too_large": (
        _l("Request too large"),
        _l("The request is larger than this tool accepts."),
    ),
    "method_not_allowed": (
        _l("Method not allowed"),
        _l("This address does not accept this method."),
    ),
    "server_error": (
        _l("Something went wrong"),
        _l("An unexpected error occurred. It has been logged; please try again."),
    ),
}

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def register_error_messages(messages: Mapping[str, tuple[LazyString, LazyString]]) -> None:
    _MESSAGES.update(messages)


def event_bus() -> EventBus:
    """The app's activity-event bus (subscribers are wired by the composition root)."""
    return current_app.extensions[EVENTS_KEY]


def db() -> Session:
    """The request's database session (one unit of work per request)."""
    if "db" not in g:
        database = runtime().database
        reads_only = request.method in SAFE_METHODS
        g.db = database.read_sessions() if reads_only else database.sessions()
    return g.db


def reads() -> ReadSnapshot | None:
    """The request's read-only snapshot for the hot polled reads (``bridge.reads``), opened on
    first use; None unless the request only reads (GET, HEAD, OPTIONS): a write reads in its
    own unit of work."""
    if request.method not in SAFE_METHODS:
        return None
    if "reads" not in g:
        g.reads = ReadSnapshot(runtime().database.engine)
    return g.reads


def _close_reads() -> None:
    snapshot: ReadSnapshot | None = g.pop("reads", None)
    if snapshot is not None:
        snapshot.close()


def request_id() -> str:
    return g.get("request_id", "-")


def set_frame_ancestors(origins: Iterable[str]) -> None:
    """Allow these origins to frame the current response (the registration's allowed origins)."""
    g.frame_ancestors = list(origins)


def allow_form_action(origin: str) -> None:
    g.form_actions = [*g.get("form_actions", []), origin]


def allow_frame_src(origin: str) -> None:
    g.frame_srcs = [*g.get("frame_srcs", []), origin]


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX) or request.path.endswith(".json")


def default_frame_ancestors() -> list[str]:
    """No registration known: any HTTPS origin, plus the sandbox's origin in development."""
    origins = ["'self'", "https:"]
    if runtime().settings.sandbox:
        origins.append(origin_of(sandbox_base_url()))
    return origins


def _content_security_policy() -> str:
    ancestors = g.get("frame_ancestors") or default_frame_ancestors()
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'", *g.get("form_actions", [])],
        "frame-src": ["'self'", *g.get("frame_srcs", [])],
        "frame-ancestors": ancestors,
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _begin_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish_request(response: Response) -> Response:
    _close_reads()
    session: Session | None = g.pop("db", None)
    if session is not None:
        try:
            # A session never used (a GET answered from its read snapshot) has nothing to end.
            if session.in_transaction():
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
        finally:
            session.close()
    response.headers["X-Request-ID"] = request_id()
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Content-Security-Policy", _content_security_policy())
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _teardown_request(_exc: BaseException | None) -> None:
    _close_reads()
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def error_response(
    code: str, status: int, message: str = "", details: Mapping[str, Any] | None = None
) -> Response:
    """Render an error as the JSON envelope (API) or as a page that fits inside the LMS frame."""
    title, default_message = _MESSAGES.get(
        code, _MESSAGES.get(_HTTP_CODES.get(status, ""), _MESSAGES["server_error"])
    )
    text = str(default_message) if code in _MESSAGES or not message else message
    if wants_json():
        body = {
            "error": {
                "code": code,
                "message": text,
                "details": dict(details or {}),
                "request_id": request_id(),
            }
        }
        response = jsonify(body)
    else:
        response = Response(
            render_template(
                "error.html",
                title=title,
                message=text,
                code=code,
                details=details or {},
                request_id=request_id(),
            ),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _handle_bridge_error(error: BridgeError) -> Response:
    level = logging.WARNING if error.http_status < 500 else logging.ERROR
    log.log(level, "request failed: %s (%s) request_id=%s", error.code, error.message, request_id())
    response = error_response(error.code, error.http_status, error.message, error.details)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_http_error(error: HTTPException) -> Response:
    """An HTTP error (404, 405, 413, a validation 422 from the API framework) in the house shape."""
    status = error.code or 500
    code = _HTTP_CODES.get(status, "invalid_input" if status < 500 else "server_error")
    messages = (getattr(error, "data", None) or {}).get("messages")
    details = {"fields": messages} if isinstance(messages, dict) else None
    response = error_response(code, status, details=details)
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return response


def _handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error request_id=%s", request_id(), exc_info=error)
    return error_response("server_error", 500)


def init_web(app: Flask) -> None:
    app.before_request(_begin_request)
    app.after_request(_finish_request)
    app.teardown_request(_teardown_request)
    app.register_error_handler(BridgeError, _handle_bridge_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
