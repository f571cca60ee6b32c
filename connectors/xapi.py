"""xAPI: one ``completed`` statement per completion, stored in a learning record store (LRS).

Implements xAPI 1.0.3: the statement (Part Two §2.4: actor as an account, verb, activity object,
result, context activities, timestamp) is PUT to the Statement Resource with an id we choose
(Part Three §2.1, "PUT Statements"), over HTTP Basic (Part Three §4) with the version header
(Part Three §6.2). The id is a UUID v5 of the completion id, so every retry of one completion
carries the same id and the LRS, which must never modify a stored statement, keeps one copy.

An LRS answers 204 No Content for a statement it stored, and also for an identical repeat. It
SHOULD answer 409 Conflict when it already holds the id with different content. Here that means
the completion was delivered before (the content can differ in detail only if a config such as
``homepage`` or the tool's public URL changed in between), and a retry could never change the
stored statement: so 409 is ``Delivered``, with evidence saying the LRS already had it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from connectors.base import (
    COMPLETION,
    ConfigError,
    Connector,
    Delivered,
    DeliveryItem,
    Outcome,
    Rejected,
    outcome_for_response,
    redact,
    url_problems,
)

#: The namespace of our statement ids. Never change it: ids already stored in LRSs derive from it.
STATEMENT_NAMESPACE = uuid.UUID("8ecae3e0-0a96-4ece-a30e-2b20fbc35ba1")
VERSION = "1.0.3"
COMPLETED = {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}}
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"


def statement_id(completion_id: uuid.UUID) -> uuid.UUID:
    """The statement id of a completion: stable, so a repeat delivery is a no-op at the LRS."""
    return uuid.uuid5(STATEMENT_NAMESPACE, str(completion_id))


def xapi_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision, the precision an LRS keeps (Part Two §2.4.7)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_absolute(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc)


def _activity(activity_id: str, name: str, activity_type: str = "") -> dict[str, Any]:
    """An Activity object (Part Two §2.4.4.1), its name and type only when known."""
    definition: dict[str, Any] = {"name": {"en-US": name}} if name else {}
    if activity_type:
        definition["type"] = activity_type
    activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        activity["definition"] = definition
    return activity


class XAPIConnector(Connector):
    """Sends completions to an LRS as xAPI ``completed`` statements."""

    name = "xapi"
    label = "xAPI learning record store"
    capabilities = frozenset({COMPLETION})
    secret_fields = frozenset({"password"})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``endpoint`` (the LRS base URL), ``username``, ``password``; optional ``homepage``."""
        problems = url_problems("endpoint", config.get("endpoint"))
        for key in ("username", "password"):
            value = config.get(key)
            if value in (None, ""):
                problems.append(f"{key} is required")
            elif not isinstance(value, str):
                problems.append(f"{key} must be text")
        homepage = config.get("homepage") or ""
        if not isinstance(homepage, str) or (homepage and not _is_absolute(homepage)):
            problems.append("homepage must be an absolute URL (the learners' account system)")
        if problems:
            raise ConfigError(problems)
        return {
            "endpoint": config["endpoint"].strip().rstrip("/"),
            "username": config["username"],
            "password": config["password"],
            "homepage": homepage.strip(),
        }

    def statement(self, item: DeliveryItem) -> dict[str, Any]:
        """The statement for ``item`` (a completion): Part Two §2.4."""
        if item.completion_id is None:
            raise ValueError("not a completion")
        tool = self.runtime.tool_url.rstrip("/")
        placement, platform = item.placement, item.platform
        # A platform's course id is unique only on that platform: the registration scopes it.
        course_id = quote(placement.context_id, safe="")
        course = f"{tool}/platforms/{platform.registration_id}/courses/{course_id}"
        return {
            "id": str(statement_id(item.completion_id)),
            "actor": {
                "objectType": "Agent",
                "account": {
                    "homePage": self.config["homepage"] or platform.issuer,
                    "name": item.learner.sub,
                },
            },
            "verb": COMPLETED,
            "object": _activity(f"{tool}/placements/{placement.id}", placement.title),
            "result": {"completion": True, "score": {"scaled": float(item.score)}},
            "context": {
                "contextActivities": {
                    "parent": [_activity(course, placement.context_title, COURSE_TYPE)]
                }
            },
            "timestamp": xapi_timestamp(item.recorded_at),
        }

    def _send(self, item: DeliveryItem) -> Outcome:
        if item.kind != COMPLETION or item.completion_id is None:
            return Rejected("xAPI carries completions only")
        if not self.runtime.tool_url:
            return Rejected("the tool's public URL is not set: activity ids are built from it")
        body = self.statement(item)
        response = self.runtime.http.put(
            f"{self.config['endpoint']}/statements",
            params={"statementId": body["id"]},
            json=body,
            auth=self._credentials(),
            headers={"X-Experience-API-Version": VERSION},
            timeout=self.runtime.timeout,
            allow_redirects=False,
        )
        if response.status_code == 409:
            outcome: Outcome = Delivered(
                f"statement {body['id']} already stored (HTTP 409): delivered before",
                status=409,
                remote_id=body["id"],
            )
        else:
            stored = Delivered(
                f"statement {body['id']} stored (HTTP {response.status_code})",
                status=response.status_code,
                remote_id=body["id"],
            )
            outcome = outcome_for_response(response, delivered=stored)
        return redact(outcome, self._secrets())

    def _credentials(self) -> tuple[bytes, bytes]:
        """HTTP Basic credentials as UTF-8 (``requests`` would encode text as Latin-1 and fail)."""
        return self.config["username"].encode(), self.config["password"].encode()

    def _secrets(self) -> tuple[str, ...]:
        """The password, and the Basic credentials as sent, which a target might echo back."""
        return (self.config["password"], base64.b64encode(b":".join(self._credentials())).decode())
