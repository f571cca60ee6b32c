"""The sandbox's gradebook: AGS 2.0 line items (§3.2), scores (§3.4) and results (§3.3).

Pure functions over the state of :mod:`lti.sandbox.store` (the caller holds its lock). A line
item is a gradebook column of a course; each placement launched in a course gets one (the
``lineitem`` of its AGS claim), and a tool may add more. A score is validated as §3.4 describes
it and kept as the user's latest for the column, unless it is older than the one kept (§3.4.8).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from lti.sandbox.tokens import SandboxServiceError

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
DEFAULT_SCORE_MAXIMUM = 100
TEXT_FIELDS = ("resourceLinkId", "resourceId", "tag", "startDateTime", "endDateTime")
MAX_TEXT = 255
MAX_COMMENT = 4000


def _invalid(what: str, description: str) -> SandboxServiceError:
    return SandboxServiceError(400, f"invalid_{what}", description)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time with its offset (AGS §3.4.8), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def course_items(state: dict[str, Any], course_key: str) -> dict[str, dict[str, Any]]:
    return state["lineitems"].setdefault(course_key, {})


def ensure_placement_item(
    state: dict[str, Any], course_key: str, resource_link_id: str, label: str
) -> str:
    """The placement's own column (created at its first launch, as an LMS does): its id."""
    items = course_items(state, course_key)
    if resource_link_id not in items:
        items[resource_link_id] = _item(
            resource_link_id,
            {"label": label, "scoreMaximum": DEFAULT_SCORE_MAXIMUM, "resourceLinkId": resource_link_id},
        )  # fmt: skip
    return resource_link_id


def _item(item_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    created = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {"id": item_id, **fields, "created_at": created, "scores": {}}


def add_item(state: dict[str, Any], course_key: str, body: Any) -> dict[str, Any]:
    """A column the tool creates (§3.2.6): ``label`` and ``scoreMaximum`` > 0 are required."""
    if not isinstance(body, dict):
        raise _invalid("lineitem", "The line item must be a JSON object.")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_TEXT:
        raise _invalid("lineitem", f"label must be a non-empty text of at most {MAX_TEXT}.")
    if not _number(body.get("scoreMaximum")) or body["scoreMaximum"] <= 0:
        raise _invalid("lineitem", "scoreMaximum must be a number greater than 0.")
    fields: dict[str, Any] = {"label": label.strip(), "scoreMaximum": body["scoreMaximum"]}
    for name in TEXT_FIELDS:
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise _invalid("lineitem", f"{name} must be a text of at most {MAX_TEXT}.")
        if value:
            fields[name] = value
    item = _item(uuid.uuid4().hex, fields)
    course_items(state, course_key)[item["id"]] = item
    return item


def find_items(
    state: dict[str, Any], course_key: str, filters: dict[str, str]
) -> list[dict[str, Any]]:
    """The course's columns, filtered by ``resource_link_id``, ``resource_id``, ``tag`` (§3.2.5)."""
    wanted = {
        field: filters[name]
        for name, field in (("resource_link_id", "resourceLinkId"),
                            ("resource_id", "resourceId"), ("tag", "tag"))
        if filters.get(name)
    }  # fmt: skip
    items = sorted(course_items(state, course_key).values(), key=lambda i: i["created_at"])
    return [i for i in items if all(i.get(k) == v for k, v in wanted.items())]


def get_item(state: dict[str, Any], course_key: str, item_id: str) -> dict[str, Any]:
    found = course_items(state, course_key).get(item_id)
    if found is None:
        raise SandboxServiceError(404, "not_found", "No such line item in this course.")
    return found


def lineitem_json(item: dict[str, Any], url: str) -> dict[str, Any]:
    """The line item as AGS §3.2.7 shows it (``id`` is its URL)."""
    shown = {k: v for k, v in item.items() if k not in ("id", "scores", "created_at")}
    return {"id": url, **shown}


def parse_score(body: Any, members: set[str]) -> dict[str, Any]:
    """A Score (§3.4.4-§3.4.8) as the sandbox keeps it; every rule refused with a 400."""
    if not isinstance(body, dict):
        raise _invalid("score", "The score must be a JSON object.")
    if not isinstance(body.get("userId"), str) or body["userId"] not in members:
        raise _invalid("score", "userId must be a member of the course.")
    given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
    if given is not None:
        if not _number(given) or given < 0:
            raise _invalid("score", "scoreGiven must be a number of at least 0.")
        if not _number(maximum) or maximum <= 0:
            raise _invalid("score", "scoreMaximum must be a number greater than 0.")
        if given > maximum:
            raise _invalid("score", "scoreGiven must not exceed scoreMaximum.")
    if body.get("activityProgress") not in ACTIVITY_PROGRESS:
        raise _invalid("score", "activityProgress must be one of " + ", ".join(ACTIVITY_PROGRESS))
    if body.get("gradingProgress") not in GRADING_PROGRESS:
        raise _invalid("score", "gradingProgress must be one of " + ", ".join(GRADING_PROGRESS))
    if _moment(body.get("timestamp")) is None:
        raise _invalid("score", "timestamp must be an ISO 8601 date-time with its UTC offset.")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise _invalid("score", f"comment must be a text of at most {MAX_COMMENT} characters.")
    kept = ("userId", "activityProgress", "gradingProgress", "timestamp", "comment")
    score = {name: body.get(name) for name in kept}
    if given is not None:
        score |= {"scoreGiven": given, "scoreMaximum": maximum}
    return score


def record_score(item: dict[str, Any], score: dict[str, Any]) -> bool:
    """Keep ``score`` as the user's latest; False when the kept one is newer (§3.4.8: the
    platform must not update a result with an older score; one as recent may replace it)."""
    kept = item["scores"].get(score["userId"])
    if kept and _moment(kept["timestamp"]) > _moment(score["timestamp"]):  # type: ignore[operator]
        return False
    received = datetime.now(UTC).isoformat(timespec="milliseconds")
    item["scores"][score["userId"]] = {**score, "received_at": received}
    return True


def result_score(item: dict[str, Any], score: dict[str, Any]) -> float | None:
    """The score in the column's points (§3.3.5: ``scoreGiven`` scaled to its ``scoreMaximum``)."""
    if score.get("scoreGiven") is None:
        return None
    return round(score["scoreGiven"] / score["scoreMaximum"] * item["scoreMaximum"], 4)


def results(item: dict[str, Any], url: str, user_id: str = "") -> list[dict[str, Any]]:
    """The column's results (AGS §3.3): one per user with a score."""
    found = []
    for user, score in sorted(item["scores"].items()):
        if user_id and user != user_id:
            continue
        result: dict[str, Any] = {"id": f"{url}/results/{user}", "scoreOf": url, "userId": user}
        points = result_score(item, score)
        if points is not None:
            result |= {"resultScore": points, "resultMaximum": item["scoreMaximum"]}
        if score.get("comment"):
            result["comment"] = score["comment"]
        found.append(result)
    return found
