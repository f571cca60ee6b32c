"""LTI Assignment and Grade Services 2.0 (AGS): a learner's score in the LMS gradebook.

Per delivery: the line item is the placement's own (``lineitem`` of the endpoint claim, §3.1)
or, when the platform gave only the container (``lineitems``), the one this tool keeps for the
resource link: found with the ``resource_link_id`` and ``tag`` filters (§3.2.5), else created
with ``resourceLinkId``, ``tag``, ``scoreMaximum`` and the placement's title as label (§3.2.6).
The score (§3.4) is POSTed to ``<lineitem>/scores`` (the path extended before any query string,
which Moodle's line item URLs carry). Its ``timestamp`` is the ledger row's ``recorded_at``, so a
repeat delivery sends the same score with the same timestamp (the platform keeps one) and a
later ledger row always carries a later one (§3.4.8: the platform ignores an older score).

Tokens come from ``runtime.tokens`` (``lti.services.AccessTokenClient`` in the worker) for the
``score`` and line item scopes the claim offers (with ``lineitem.readonly`` asked for explicitly
beside ``lineitem``: Moodle needs it); a 401 makes the token forgotten and the request sent once
more with a new one. Without the ``lineitem`` scope the tool finds its line item but never
creates one.

Line items found or created are remembered per (registration, placement, container URL) in this
process (:data:`_LINE_ITEMS`): losing that memory costs one GET, because the find step is
idempotent, so it needs no shared cache. Creation is serialised per placement within a process;
two processes delivering a placement's very first scores at the same moment can still both
create one (AGS has no create-if-absent); both then find the first of them from the next
delivery on.

What differs between LMSs lives in :data:`PROFILES`, one entry per platform kind.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.base import (
    COMPLETION,
    PROGRESS,
    ConfigError,
    Connector,
    Delivered,
    DeliveryItem,
    Outcome,
    Platform,
    Rejected,
    RetryLater,
    outcome_for_response,
    redact,
)
from lti.dynamic_registration.client import origin_key
from lti.services import USER_AGENT, AccessTokenError, json_object, next_page_url, shown_url

log = logging.getLogger(__name__)

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCORE_SCOPE = AGS + "score"
LINEITEM_SCOPE = AGS + "lineitem"
LINEITEM_READONLY_SCOPE = AGS + "lineitem.readonly"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
DEFAULT_TAG = "social-bridge"
DEFAULT_SCORE_MAXIMUM = Decimal(100)
MAX_LINEITEM_PAGES = 20
COMMENT_LIMIT = 1000
CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
CANVAS_ISSUERS = frozenset(f"https://canvas.{env}instructure.com" for env in ("", "beta.", "test."))


# -- per-LMS behaviour ----------------------------------------------------------------------------


def _no_extension(item: DeliveryItem, timestamp: str) -> dict[str, Any]:
    return {}


def _canvas_submission(item: DeliveryItem, timestamp: str) -> dict[str, Any]:
    """Canvas's score extension: make the score a submission, dated when it was earned.

    Canvas documents it on its Score API ("Lti::IMS::ScoresController", extension
    ``https://canvas.instructure.com/lti/submission``); without it the gradebook shows a grade
    with no submission behind it.
    """
    return {CANVAS_SUBMISSION: {"new_submission": True, "submitted_at": timestamp}}


@dataclass(frozen=True)
class LMSProfile:
    """How one kind of platform differs from the AGS spec (or reads it)."""

    kind: str
    score_extension: Callable[[DeliveryItem, str], dict[str, Any]] = _no_extension
    #: Why a platform answers 400 to a well-formed score: it does not grade that user.
    refused_score: str = (
        "the platform refused the score: it answers so for a user it does not grade "
        "(a teacher, for example)"
    )


GENERIC = LMSProfile("lti")
CANVAS = LMSProfile("canvas", score_extension=_canvas_submission)
MOODLE = LMSProfile(
    "moodle",
    # mod/lti/service/gradebookservices/classes/local/resources/scores.php: "Incorrect score
    # received" (400) when the user is not gradable in the course, e.g. a teacher.
    refused_score="Moodle does not grade this user in the course (teachers and other roles "
    "outside the gradebook get this answer)",
)


def _is_canvas(platform: Platform, ags: Mapping[str, Any]) -> bool:
    """Canvas's issuers (the same for every school on Instructure's cloud)."""
    return platform.issuer.rstrip("/") in CANVAS_ISSUERS


def _is_moodle(platform: Platform, ags: Mapping[str, Any]) -> bool:
    """Moodle's issuer is the site URL, so its AGS endpoints tell: /mod/lti/services.php/."""
    urls = (ags.get("lineitem"), ags.get("lineitems"))
    return any(isinstance(url, str) and "/mod/lti/services.php/" in url for url in urls)


#: Platform kinds, tried in order; the first match wins, else :data:`GENERIC`.
PROFILES: tuple[tuple[Callable[[Platform, Mapping[str, Any]], bool], LMSProfile], ...] = (
    (_is_canvas, CANVAS),
    (_is_moodle, MOODLE),
)


def profile_for(platform: Platform, ags: Mapping[str, Any]) -> LMSProfile:
    return next((profile for test, profile in PROFILES if test(platform, ags)), GENERIC)


# -- values ---------------------------------------------------------------------------------------


def score_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and the UTC offset (AGS §3.4.8; Canvas asks for subseconds)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds")


def scores_url(lineitem: str) -> str:
    """The line item's score service (AGS §3.4): ``/scores`` appended to the path, query kept."""
    parts = urlsplit(lineitem)
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/") + "/scores", parts.query, "")
    )


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _comment(item: DeliveryItem) -> str:
    """What the learner reads beside the grade: the criteria met."""
    met, total = len(item.criteria_met), item.criteria_total
    if not met:
        return f"No completion criteria met yet (0 of {total})."
    text = f"Criteria met ({met} of {total}): " + "; ".join(item.criteria_met) + "."
    return text if len(text) <= COMMENT_LIMIT else text[: COMMENT_LIMIT - 1] + "…"


def score_body(item: DeliveryItem, score_maximum: Decimal, profile: LMSProfile) -> dict[str, Any]:
    """The Score (AGS §3.4.4 media type ``application/vnd.ims.lis.v1.score+json``)."""
    fraction = min(max(item.score, Decimal(0)), Decimal(1))
    timestamp = score_timestamp(item.recorded_at)
    body: dict[str, Any] = {
        "userId": item.learner.sub,
        "scoreGiven": _number((fraction * score_maximum).quantize(Decimal("0.0001"))),
        "scoreMaximum": _number(score_maximum),
        "activityProgress": "Completed" if item.completed else "InProgress",
        "gradingProgress": "FullyGraded",
        "timestamp": timestamp,
        "comment": _comment(item),
    }
    return body | profile.score_extension(item, timestamp)


# -- the line items this process found or created -------------------------------------------------


class _LineItemMemory:
    """Line item URLs by (registration, placement, container URL): bounded, thread-safe."""

    def __init__(self, size: int = 10_000, stripes: int = 64) -> None:
        self._items: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(stripes)]

    def get(self, key: tuple[str, ...]) -> str:
        with self._lock:
            url = self._items.get(key, "")
            if url:
                self._items.move_to_end(key)
            return url

    def put(self, key: tuple[str, ...], url: str) -> None:
        with self._lock:
            self._items[key] = url
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._items.pop(key, None)

    def creation_lock(self, key: tuple[str, ...]) -> threading.Lock:
        """One placement's find-or-create runs alone in this process (lock striping)."""
        return self._stripes[hash(key) % len(self._stripes)]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_LINE_ITEMS = _LineItemMemory()


# -- the connector --------------------------------------------------------------------------------


class _StepRefusedError(Exception):
    """A step before the score ended the delivery with this outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(type(outcome).__name__)
        self.outcome = outcome


@dataclass
class _Calls:
    """Authorised requests for one delivery: the token, and its refresh after a 401."""

    connector: AGSConnector
    platform: Platform
    scopes: tuple[str, ...]
    used_tokens: list[str]

    def send(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        content_type: str = "",
        **kwargs: Any,
    ) -> requests.Response:
        """One request; on 401 the token is forgotten and the request sent once more."""
        tokens = self.connector.runtime.tokens
        assert tokens is not None  # noqa: S101 - checked before any call
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        for fresh in (False, True):
            token = tokens.token(self.platform, self.scopes)
            self.used_tokens.append(token)
            response = self.connector.runtime.http.request(
                method,
                url,
                headers=headers | {"Authorization": f"Bearer {token}"},
                timeout=self.connector.runtime.timeout,
                allow_redirects=False,
                **kwargs,
            )
            if response.status_code != 401:
                break
            tokens.forget(self.platform, self.scopes)
            if not fresh:
                log.info("AGS %s answered 401: token forgotten, sent again", shown_url(url))
        return response


class AGSConnector(Connector):
    """Sends a learner's progress and completion to the LMS gradebook (LTI AGS 2.0)."""

    name = "ags"
    label = "LTI Assignment and Grade Services"
    capabilities = frozenset({COMPLETION, PROGRESS})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``score_maximum`` (points of a line item we create, default 100), ``tag`` (ours)."""
        problems = [
            f"unknown setting {key!r}" for key in config if key not in {"score_maximum", "tag"}
        ]
        raw_maximum = config.get("score_maximum", DEFAULT_SCORE_MAXIMUM)
        try:
            if isinstance(raw_maximum, bool):
                raise InvalidOperation
            maximum = Decimal(str(raw_maximum))
            if not maximum.is_finite() or maximum <= 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append("score_maximum must be a positive number")
            maximum = DEFAULT_SCORE_MAXIMUM
        tag = config.get("tag", DEFAULT_TAG)
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 255:
            problems.append("tag must be a non-empty text of at most 255 characters")
        if problems:
            raise ConfigError(problems)
        return {"score_maximum": maximum, "tag": tag.strip()}

    def _send(self, item: DeliveryItem) -> Outcome:
        ags = dict(item.placement.ags or {})
        offered = ags.get("scope")
        offered = [s for s in offered if isinstance(s, str)] if isinstance(offered, list) else None
        own, container = _endpoint(ags.get("lineitem")), _endpoint(ags.get("lineitems"))
        if not own and not container:
            return Rejected("the platform offered no grade service (AGS) for this placement")
        if offered is not None and SCORE_SCOPE not in offered:
            return Rejected("the platform does not let this tool post scores for this placement")
        if self.runtime.tokens is None:
            return RetryLater("no LTI access token source is configured for the worker")
        calls = _Calls(self, item.platform, _scopes(offered), [])
        try:
            outcome = self._deliver(item, own, container, calls)
        except AccessTokenError as error:
            outcome = _token_outcome(error)
        except _StepRefusedError as refused:
            outcome = refused.outcome
        return redact(outcome, calls.used_tokens)

    def _deliver(self, item: DeliveryItem, own: str, container: str, calls: _Calls) -> Outcome:
        profile = profile_for(item.platform, {"lineitem": own, "lineitems": container})
        memory_key: tuple[str, ...] = ()
        if own:
            lineitem = own
        else:
            memory_key = (str(item.platform.registration_id), str(item.placement.id), container)
            lineitem = self._line_item(item, container, calls, memory_key)
        body = score_body(item, self.config["score_maximum"], profile)
        response = calls.send(
            "POST",
            scores_url(lineitem),
            accept="application/json",
            content_type=SCORE_MEDIA_TYPE,
            json=body,
        )
        return self._score_outcome(response, lineitem, profile, memory_key)

    def _score_outcome(
        self,
        response: requests.Response,
        lineitem: str,
        profile: LMSProfile,
        memory_key: tuple[str, ...],
    ) -> Outcome:
        status = response.status_code
        shown = shown_url(lineitem)
        if status == 401:
            return RetryLater("the platform refused a new access token (HTTP 401)", status=401)
        if status == 409:  # §3.4.8: it holds a score as recent (a repeat) or newer: nothing to do
            return Delivered(
                f"HTTP 409: {shown} already holds this learner's score or a newer one",
                status=409,
                remote_id=lineitem,
            )
        if status == 400:
            return Rejected(f"{profile.refused_score} (HTTP 400: {_excerpt(response)})", status=400)
        if status in (404, 410) and memory_key:  # our line item was deleted in the LMS
            _LINE_ITEMS.drop(memory_key)
            return RetryLater(
                f"HTTP {status}: the line item {shown} is gone; it is found or created again "
                "at the next attempt",
                status=status,
            )
        return outcome_for_response(
            response,
            delivered=Delivered(
                f"HTTP {status}: score posted to {shown}", status=status, remote_id=lineitem
            ),
        )

    # -- line items: find (§3.2.5) or create (§3.2.6) --------------------------------------------
    def _line_item(
        self, item: DeliveryItem, container: str, calls: _Calls, key: tuple[str, ...]
    ) -> str:
        remembered = _LINE_ITEMS.get(key)
        if remembered:
            return remembered
        with _LINE_ITEMS.creation_lock(key):
            remembered = _LINE_ITEMS.get(key)
            if remembered:
                return remembered
            lineitem = self._find(item, container, calls)
            if not lineitem and LINEITEM_SCOPE not in calls.scopes:
                raise _StepRefusedError(
                    Rejected(
                        "no line item for this placement, and the platform does not let this "
                        "tool create one: an instructor can add a gradebook column for it"
                    )
                )
            lineitem = lineitem or self._create(item, container, calls)
            _LINE_ITEMS.put(key, lineitem)
            return lineitem

    def _find(self, item: DeliveryItem, container: str, calls: _Calls) -> str:
        tag, link = self.config["tag"], item.placement.resource_link_id
        url, params = container, {"resource_link_id": link, "tag": tag}
        for _ in range(MAX_LINEITEM_PAGES):
            response = calls.send("GET", url, accept=LINEITEM_CONTAINER_MEDIA_TYPE, params=params)
            if response.status_code != 200:
                raise _StepRefusedError(self._step_failed(response, "finding the line item"))
            try:
                entries = response.json()
            except ValueError:
                entries = None
            if not isinstance(entries, list):
                raise _StepRefusedError(
                    RetryLater("the platform's line item list is not a JSON list")
                )
            for entry in entries:
                if (
                    isinstance(entry, dict)
                    and entry.get("resourceLinkId") == link
                    and entry.get("tag") == tag
                    and _same_site(entry.get("id"), container)
                ):
                    return str(entry["id"])
            try:
                url = next_page_url(response, response.url or url)
            except ValueError:
                raise _StepRefusedError(
                    Rejected("the platform's next page of line items is on another site")
                ) from None
            params = {}  # the next link carries the filters
            if not url:
                return ""
        log.warning(
            "AGS %s: no line item found in %d pages", shown_url(container), MAX_LINEITEM_PAGES
        )
        return ""

    def _create(self, item: DeliveryItem, container: str, calls: _Calls) -> str:
        placement = item.placement
        body = {
            "scoreMaximum": _number(self.config["score_maximum"]),
            "label": placement.title or f"{placement.widget.title()} (Social Bridge)",
            "resourceLinkId": placement.resource_link_id,
            "tag": self.config["tag"],
        }
        response = calls.send(
            "POST",
            container,
            accept=LINEITEM_MEDIA_TYPE,
            content_type=LINEITEM_MEDIA_TYPE,
            json=body,
        )
        if not 200 <= response.status_code < 300:
            raise _StepRefusedError(self._step_failed(response, "creating the line item"))
        created = json_object(response) or {}
        if not _same_site(created.get("id"), container):
            raise _StepRefusedError(
                Rejected("the platform created a line item but gave no usable id for it")
            )
        log.info("AGS line item created for placement %s", placement.id)
        return str(created["id"])

    def _step_failed(self, response: requests.Response, step: str) -> Outcome:
        status = response.status_code
        if status == 401:
            return RetryLater(
                f"{step}: the platform refused a new access token (HTTP 401)", status=401
            )
        outcome = outcome_for_response(response, delivered=Delivered())
        if isinstance(outcome, RetryLater):
            return RetryLater(f"{step}: {outcome.reason}", outcome.retry_after, status=status)
        return Rejected(f"{step}: HTTP {status}: {_excerpt(response)}", status=status)


def _scopes(offered: list[str] | None) -> tuple[str, ...]:
    """The scopes to ask for: ``score`` and the line item scopes, as far as the claim offers them.

    ``lineitem.readonly`` goes along whenever ``lineitem`` does: Moodle lists only ``lineitem``
    in its claim when the tool may manage columns, yet wants ``lineitem.readonly`` asked for
    explicitly to read them. A scope the claim does not imply is not asked for (Canvas refuses a
    token request naming a scope its developer key lacks). No scope list: ask for all three.
    """
    wanted = (SCORE_SCOPE, LINEITEM_SCOPE, LINEITEM_READONLY_SCOPE)
    if offered is None:
        return wanted
    granted = set(offered)
    if LINEITEM_SCOPE in granted:
        granted.add(LINEITEM_READONLY_SCOPE)
    return tuple(scope for scope in wanted if scope in granted)


def _endpoint(value: Any) -> str:
    """An AGS claim URL (``lineitem``, ``lineitems``) if it is an absolute http(s) URL, else ""."""
    return value if isinstance(value, str) and origin_key(value) is not None else ""


def _same_site(url: Any, container: str) -> bool:
    """A line item URL on the container's origin: the bearer token goes nowhere else."""
    return (
        isinstance(url, str)
        and origin_key(url) is not None
        and (origin_key(url) == origin_key(container))
    )


def _token_outcome(error: AccessTokenError) -> Outcome:
    """No token: retry later (a platform that does not know the new key yet, or is down), unless
    the registration cannot ever get one (no token URL)."""
    if error.permanent:
        return Rejected(f"no access token: {error.message}", status=error.status)
    return RetryLater(
        f"no access token: {error.message}", retry_after=error.retry_after, status=error.status
    )


def _excerpt(response: requests.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] or response.reason or "no body"
