"""The sandbox LMS's LTI Advantage services: its token endpoint, AGS 2.0 and NRPS 2.0.

Each service checks the bearer token for its own scope (AGS §3.1, NRPS §2.1): line items read
with ``lineitem`` or ``lineitem.readonly``, created with ``lineitem``; scores posted with
``score``; results read with ``result.readonly``; memberships with
``contextmembership.readonly``. Errors are JSON ``{"error", "error_description"}`` (RFC 6749
§5.2 shape), as an LMS answers a tool. Registered only when the ``sandbox`` setting is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from bridge.runtime import runtime
from lti.sandbox import fixtures, grades, platform, tokens
from lti.sandbox.store import SandboxStore
from lti.sandbox.tokens import SandboxServiceError

log = logging.getLogger(__name__)

bp = Blueprint("sandbox_api", __name__, url_prefix="/sandbox")
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"
RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGE = 1000
ITEM = "/courses/<course_key>/lineitems/<item_id>"


@bp.errorhandler(SandboxServiceError)
def _refused(error: SandboxServiceError) -> Response:
    log.info("sandbox service refused %s %s: %s", request.method, request.path, error.error)
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status
    response.headers.update(error.headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _store() -> SandboxStore:
    return SandboxStore.of(runtime().settings)


def _json(body: Any, media_type: str, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = media_type
    return response


def _authorise(*scopes: str) -> None:
    tokens.check_bearer(request.headers.get("Authorization", ""), scopes, _store(), time.time())


def _course(course_key: str) -> fixtures.SandboxCourse:
    found = fixtures.course(course_key)
    if found is None:
        raise SandboxServiceError(404, "not_found", "No such course.")
    return found


def _body(media_type: str) -> Any:
    if request.mimetype != media_type:
        raise SandboxServiceError(415, "unsupported_media_type", f"Send {media_type}.")
    return request.get_json(silent=True)


def _page(entries: Sequence[Any]) -> tuple[Sequence[Any], str]:
    """``limit`` and ``page`` (AGS §3.2.4, NRPS §2.4.2): the slice and the next page's URL."""
    try:
        limit = min(int(request.args.get("limit", MAX_PAGE)), MAX_PAGE)
        page = int(request.args.get("page", 1))
    except ValueError as exc:
        raise SandboxServiceError(400, "invalid_request", "limit and page are numbers.") from exc
    if limit < 1 or page < 1:
        raise SandboxServiceError(400, "invalid_request", "limit and page start at 1.")
    start = (page - 1) * limit
    if start + limit >= len(entries):
        return entries[start:], ""
    args = request.args.to_dict() | {"page": str(page + 1), "limit": str(limit)}
    return entries[start : start + limit], f"{request.base_url}?{urlencode(args)}"


def _paged(entries: Sequence[Any], media_type: str, wrap: Any = None) -> Response:
    shown, next_url = _page(entries)
    response = _json(wrap(list(shown)) if wrap else list(shown), media_type)
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


@bp.post("/token")
def token() -> Response:
    """The OAuth 2.0 token endpoint (1EdTech Security Framework §4.1)."""
    here = platform.current_site()
    answer = tokens.grant(
        request.form,
        client_id=platform.CLIENT_ID,
        token_url=here.token_url,
        key_set=tokens.tool_key_set(here.tool_jwks_url, runtime().settings.http_timeout_seconds),
        store=_store(),
        now=time.time(),
    )
    response = jsonify(answer)
    response.headers["Cache-Control"], response.headers["Pragma"] = "no-store", "no-cache"
    return response


@bp.get("/courses/<course_key>/lineitems")
def lineitems(course_key: str) -> Response:
    """The course's line items (AGS §3.2.5), filtered by resource link, resource id or tag."""
    _authorise(tokens.LINEITEM, tokens.LINEITEM_READONLY)
    course = _course(course_key)
    items = grades.find_items(_store().read(), course.key, request.args.to_dict())
    here = platform.current_site()
    shown = [grades.lineitem_json(i, here.lineitem_url(course, i["id"])) for i in items]
    return _paged(shown, LINEITEMS)


@bp.post("/courses/<course_key>/lineitems")
def add_lineitem(course_key: str) -> Response:
    """Create a line item (AGS §3.2.6)."""
    _authorise(tokens.LINEITEM)
    course = _course(course_key)
    body = _body(LINEITEM)
    with _store().change() as state:
        item = grades.add_item(state, course.key, body)
    url = platform.current_site().lineitem_url(course, item["id"])
    response = _json(grades.lineitem_json(item, url), LINEITEM, 201)
    response.headers["Location"] = url
    return response


@bp.get(ITEM)
def lineitem(course_key: str, item_id: str) -> Response:
    """One line item (AGS §3.2.7)."""
    _authorise(tokens.LINEITEM, tokens.LINEITEM_READONLY)
    course = _course(course_key)
    item = grades.get_item(_store().read(), course.key, item_id)
    url = platform.current_site().lineitem_url(course, item_id)
    return _json(grades.lineitem_json(item, url), LINEITEM)


@bp.post(ITEM + "/scores")
def post_score(course_key: str, item_id: str) -> Response:
    """A learner's score for a line item (AGS §3.4); an older one than kept is a 409."""
    _authorise(tokens.SCORE)
    course = _course(course_key)
    score = grades.parse_score(_body(SCORE), {u.sub for u in fixtures.USERS})
    with _store().change() as state:
        kept = grades.record_score(grades.get_item(state, course.key, item_id), score)
    if not kept:
        raise SandboxServiceError(
            409, "score_outdated", "A newer score is on record: this one was ignored (§3.4.8)."
        )
    return Response(status=204)


@bp.get(ITEM + "/results")
def results(course_key: str, item_id: str) -> Response:
    """The line item's results (AGS §3.3), optionally for one ``user_id``."""
    _authorise(tokens.RESULT_READONLY)
    course = _course(course_key)
    item = grades.get_item(_store().read(), course.key, item_id)
    url = platform.current_site().lineitem_url(course, item_id)
    return _paged(grades.results(item, url, request.args.get("user_id", "")), RESULTS)


@bp.get("/courses/<course_key>/memberships")
def memberships(course_key: str) -> Response:
    """The course's members from the sandbox fixtures (NRPS 2.0 §2.2), ``role`` filter (§2.4.1)."""
    _authorise(tokens.MEMBERSHIPS)
    course = _course(course_key)
    role = request.args.get("role", "")
    members = [
        {"status": "Active", "user_id": u.sub, "roles": list(u.roles), "name": u.name,
         "given_name": u.given_name, "family_name": u.family_name, "email": u.email}
        for u in fixtures.USERS
        if not role or any(r == role or r.endswith("#" + role) for r in u.roles)
    ]  # fmt: skip
    context = {"id": course.id, "label": course.label, "title": course.title}
    url = platform.current_site().memberships_url(course)
    return _paged(
        members, MEMBERSHIPS, lambda shown: {"id": url, "context": context, "members": shown}
    )
