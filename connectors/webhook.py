"""Webhook: one signed JSON POST per completion or progress update, per Standard Webhooks 1.0.0.

Signing follows the spec's "Signature scheme" and "Webhook headers" sections, through the spec
authors' own ``standardwebhooks`` package: ``webhook-id`` is the ledger id (the receiver's
idempotency key: the same on every retry), ``webhook-timestamp`` the attempt's time in integer
seconds, and ``webhook-signature`` is ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``
under the endpoint's ``whsec_`` secret. The body is minified JSON, sent exactly as signed.

The event (the spec's recommended ``type``/``timestamp``/``data`` shape), for ``completion.recorded``
and ``progress.recorded`` alike; ids only, no names or emails::

    {"type": "completion.recorded", "timestamp": "2026-01-02T03:04:05.678Z",
     "data": {"ledger_id": "<uuid>", "record_id": "<uuid>", "completion_id": "<uuid>" | null,
              "score": "0.85", "completed": true, "criteria_met": ["..."], "criteria_total": 3,
              "learner": {"sub": "<LTI sub>", "user_id": "<uuid>"},
              "platform": {"issuer": "https://lms.example", "deployment_id": "..."},
              "course": {"id": "<LTI context id>"},
              "placement": {"id": "<uuid>", "resource_link_id": "...", "widget": "discussion"}}}

Redirects are not followed: the spec counts a 3xx as a failure to fix in the URL (Rejected).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from connectors.base import (
    COMPLETION,
    PROGRESS,
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

EVENT_TYPES = {COMPLETION: "completion.recorded", PROGRESS: "progress.recorded"}
SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's marker for a secret, not a secret
#: The spec's bounds for a symmetric signing secret: 24 to 64 bytes (192 to 512 bits).
SECRET_BYTES = (24, 64)


def secret_problems(value: object) -> list[str]:
    """What is wrong with a ``whsec_<base64>`` secret (never quoting it)."""
    if value in (None, ""):
        return ["secret is required"]
    if not isinstance(value, str):
        return ["secret must be text"]
    if not value.startswith(SECRET_PREFIX):
        return [f"secret must start with {SECRET_PREFIX}"]
    try:
        key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return [f"secret must be {SECRET_PREFIX} followed by base64"]
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        return [f"secret must encode {low} to {high} bytes, not {len(key)}"]
    return []


def iso_utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(item: DeliveryItem) -> dict[str, Any]:
    """The JSON event for ``item`` (see the module docstring): opaque ids and the LTI sub only."""
    placement, platform = item.placement, item.platform
    return {
        "type": EVENT_TYPES[item.kind],
        "timestamp": iso_utc(item.recorded_at),
        "data": {
            "ledger_id": str(item.ledger_id),
            "record_id": str(item.record_id),
            "completion_id": str(item.completion_id) if item.completion_id else None,
            "score": format(item.score, "f"),
            "completed": item.completed,
            "criteria_met": list(item.criteria_met),
            "criteria_total": item.criteria_total,
            "learner": {"sub": item.learner.sub, "user_id": str(item.learner.user_id)},
            "platform": {"issuer": platform.issuer, "deployment_id": platform.deployment_id},
            "course": {"id": placement.context_id},
            "placement": {
                "id": str(placement.id),
                "resource_link_id": placement.resource_link_id,
                "widget": placement.widget,
            },
        },
    }


class WebhookConnector(Connector):
    """Posts completion and progress events to a URL, signed per Standard Webhooks."""

    name = "webhook"
    label = "Webhook (signed JSON POST)"
    capabilities = frozenset({COMPLETION, PROGRESS})
    secret_fields = frozenset({"secret"})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``url`` (https, http only on loopback) and ``secret`` (``whsec_<base64>``)."""
        problems = url_problems("url", config.get("url")) + secret_problems(config.get("secret"))
        if problems:
            raise ConfigError(problems)
        return {"url": config["url"].strip(), "secret": config["secret"]}

    def _send(self, item: DeliveryItem) -> Outcome:
        if item.kind not in EVENT_TYPES:
            return Rejected(f"webhooks carry completions and progress, not {item.kind!r}")
        body = json.dumps(event(item), separators=(",", ":"), sort_keys=True)
        message_id = str(item.ledger_id)
        sent_at = datetime.fromtimestamp(int(time.time()), UTC)  # whole seconds, as signed
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(self.config["secret"]).sign(message_id, sent_at, body),
        }
        response = self.runtime.http.post(
            self.config["url"],
            data=body.encode(),
            headers=headers,
            timeout=self.runtime.timeout,
            allow_redirects=False,
        )
        accepted = Delivered(
            f"event {message_id} accepted (HTTP {response.status_code})",
            status=response.status_code,
            remote_id=message_id,
        )
        secret = self.config["secret"]
        return redact(
            outcome_for_response(response, delivered=accepted),
            (secret, secret.removeprefix(SECRET_PREFIX)),
        )
