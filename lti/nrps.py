"""Course members from the platform: LTI Names and Role Provisioning Services 2.0 (NRPS).

The client reads a context's membership container (NRPS 2.0 §2.2: GET the
``context_memberships_url`` of the launch's ``namesroleservice`` claim, media type
``application/vnd.ims.lti-nrps.v2.membershipcontainer+json``, with a token for the
``contextmembership.readonly`` scope), following the ``Link: <...>; rel="next"`` pages the
platform cuts it into (§2.4.2) up to a page cap, and returns plain :class:`RosterMember` values
(§2.3: ``user_id``, ``roles``, ``status`` and the personal data the platform chooses to share).
:func:`sync_context` is the use case the CLI and the job worker call: read one course's roster,
then upsert it with ``bridge.tenancy.roster``. No database transaction is held while the
platform answers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from sqlalchemy.orm import Session

from bridge.db import after_commit
from bridge.delivery.worker import current_jobs
from bridge.errors import BridgeError
from bridge.runtime import EXTENSION_KEY, Runtime
from bridge.tenancy import roster
from bridge.tenancy.models import ID_LENGTH, MembershipStatus
from bridge.tenancy.roster import RosterChanges, RosterMember, RosterTarget
from lti.services import (
    USER_AGENT,
    ServiceEndpoint,
    TokenEndpoint,
    TokenSource,
    access_tokens_for,
    json_object,
    next_page_url,
    shown_url,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPES = (SCOPE,)
MAX_PAGES = 500  # pages hold tens to hundreds of members: a cap against a runaway platform
#: NRPS 2.0 §2.3 member ``status`` values, as ours (absent means Active).
STATUSES = {
    "Active": MembershipStatus.ACTIVE,
    "Inactive": MembershipStatus.INACTIVE,
    "Deleted": MembershipStatus.DELETED,
}


class NRPSError(BridgeError):
    """The platform's memberships could not be read (NRPS 2.0). ``status``: its HTTP status."""

    code = "nrps_failed"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status = status


@dataclass(frozen=True)
class Roster:
    """A context's members as the platform listed them."""

    members: tuple[RosterMember, ...]
    complete: bool  # every page was read (False: the page cap stopped the reading)
    pages: int
    skipped: int = 0  # entries without a usable user_id, roles or status


class NRPSClient:
    """Reads membership containers (NRPS 2.0 §2.2-2.4) with tokens from a ``TokenSource``."""

    def __init__(
        self,
        tokens: TokenSource,
        timeout: float,
        http: requests.Session | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._tokens = tokens
        self._timeout = timeout
        self._http = http
        self._max_pages = max_pages

    def fetch(self, endpoint: TokenEndpoint, url: str) -> Roster:
        """Every member of the container at ``url`` (its pages followed up to the cap)."""
        members: dict[str, RosterMember] = {}
        skipped = pages = 0
        visited: set[str] = set()
        next_url = url
        while next_url:
            if pages >= self._max_pages:
                log.warning("NRPS %s: stopped after %d pages", shown_url(url), pages)
                return Roster(tuple(members.values()), complete=False, pages=pages, skipped=skipped)
            if next_url in visited:
                raise NRPSError(
                    "The platform's member pages lead back to a page already read.",
                    code="nrps_paging_loop",
                    details={"url": shown_url(next_url)},
                )
            visited.add(next_url)
            response = self._get(endpoint, next_url)
            pages += 1
            for entry in _members_of(response, next_url):
                member = member_of(entry)
                if member is None:
                    skipped += 1
                else:
                    members[member.sub] = member
            try:
                next_url = next_page_url(response, next_url)
            except ValueError as exc:
                raise NRPSError(
                    "The platform's next page of members is on another site.",
                    code="nrps_foreign_page",
                    details={"url": shown_url(next_url)},
                ) from exc
        if skipped:
            log.warning("NRPS %s: %d entries skipped", shown_url(url), skipped)
        return Roster(tuple(members.values()), complete=True, pages=pages, skipped=skipped)

    def _get(self, endpoint: TokenEndpoint, url: str) -> requests.Response:
        """One page; a 401 makes the cached token forgotten and the page asked once more."""
        get = self._http.get if self._http is not None else requests.get
        for retry in (False, True):
            token = self._tokens.token(endpoint, SCOPES)
            try:
                response = get(
                    url,
                    headers={
                        "Accept": MEDIA_TYPE,
                        "Authorization": f"Bearer {token}",
                        "User-Agent": USER_AGENT,
                    },
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise NRPSError(
                    "The platform's membership service did not answer.",
                    code="nrps_unreachable",
                    details={"url": shown_url(url), "reason": type(exc).__name__},
                ) from exc
            if response.status_code == 401 and not retry:
                self._tokens.forget(endpoint, SCOPES)
                continue
            break
        if response.status_code != 200:
            raise NRPSError(
                f"The platform's membership service answered HTTP {response.status_code}.",
                code="nrps_refused",
                status=response.status_code,
                details={"url": shown_url(url), "status": response.status_code},
            )
        return response


def _members_of(response: requests.Response, url: str) -> list[Any]:
    document = json_object(response)
    members = document.get("members") if document is not None else None
    if not isinstance(members, list):
        raise NRPSError(
            "The platform's membership answer is not a membership container.",
            code="nrps_invalid_response",
            status=response.status_code,
            details={"url": shown_url(url)},
        )
    return members


def member_of(entry: Any) -> RosterMember | None:
    """One NRPS 2.0 §2.3 member as a plain value; None when it has no usable id, roles or status.

    NUL characters are dropped from text (PostgreSQL cannot hold them) and refused in ids.
    """
    if not isinstance(entry, dict):
        return None
    sub = entry.get("user_id")
    if isinstance(sub, int) and not isinstance(sub, bool):
        sub = str(sub)  # a JSON number is taken as its decimal text
    if not isinstance(sub, str) or not sub or "\x00" in sub or len(sub) > ID_LENGTH:
        return None
    roles = entry.get("roles", [])
    if not isinstance(roles, list):
        return None
    stated = entry.get("status") or "Active"
    status = STATUSES.get(stated) if isinstance(stated, str) else None
    if status is None:
        return None
    return RosterMember(
        sub=sub,
        roles=tuple(_text(role) for role in roles if isinstance(role, str) and _text(role)),
        status=status,
        name=_text(entry.get("name")),
        given_name=_text(entry.get("given_name")),
        family_name=_text(entry.get("family_name")),
        email=_text(entry.get("email")),
    )


def _text(value: Any) -> str:
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class RosterSync:
    """The outcome of syncing one course."""

    target: RosterTarget
    roster: Roster
    changes: RosterChanges


def sync_context(
    app: Flask,
    context_id: uuid.UUID,
    *,
    tokens: TokenSource | None = None,
    http: requests.Session | None = None,
) -> RosterSync:
    """Read course ``context_id``'s members from its platform and upsert them (the job's entry).

    Raises ``NotFoundError`` for an unknown course, ``NRPSError`` when the course has no NRPS
    URL or the platform's answer is unusable, ``AccessTokenError`` when no token is given. Pass
    ``tokens`` to share one token client (and its cache) between many courses.
    """
    rt: Runtime = app.extensions[EXTENSION_KEY]
    with rt.database.transaction() as session:
        target = roster.roster_target(session, context_id)
    if not target.nrps_url:
        raise NRPSError(
            "The platform has not offered its membership service (NRPS) for this course.",
            code="nrps_not_offered",
            details={"context": str(context_id)},
        )
    client = NRPSClient(
        tokens if tokens is not None else access_tokens_for(app),
        timeout=rt.settings.http_timeout_seconds,
        http=http,
    )
    endpoint = ServiceEndpoint(target.client_id, target.token_url, target.audience)
    fetched = client.fetch(endpoint, target.nrps_url)
    with rt.database.transaction() as session:
        changes = roster.apply_roster(
            session, context_id, fetched.members, complete=fetched.complete
        )
    return RosterSync(target, fetched, changes)


#: A course's roster is read from its platform at most this often (launches trigger it).
SYNC_INTERVAL_SECONDS = 6 * 3600
SYNC_JOB = "roster_sync"


def sync_soon(rt: Runtime, session: Session, context_id: uuid.UUID) -> None:
    """Have the worker sync the course's roster once this launch commits, unless it was asked to
    within ``SYNC_INTERVAL_SECONDS`` (a marker in the shared cache: at most a few duplicates when
    launches race, and a sync is idempotent)."""
    marker = f"bridge:roster-sync:{context_id}"
    if rt.cache.get(marker):
        return

    def queue() -> None:  # only once the launch is recorded: a rolled-back one asks nothing
        rt.cache.set(marker, 1, timeout=SYNC_INTERVAL_SECONDS)
        current_jobs().enqueue(SYNC_JOB, str(context_id))

    after_commit(session, queue)


def roster_job(app: Flask) -> Callable[[str], str]:
    """The worker's job: sync one course; failures are logged (the next launch asks again later)."""

    def run(context_id: str) -> str:
        try:
            result = sync_context(app, uuid.UUID(context_id))
        except BridgeError as error:
            log.warning("roster sync of course %s failed: %s", context_id, error.message)
            return "failed"
        return f"synced {result.target.context_id}"

    return run
