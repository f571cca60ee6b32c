"""A connector that records every item it is given and answers from a script: tests, the sandbox.

It keeps no target: the items live in memory per ``channel`` (shared by every instance, since
the worker may build a connector per attempt), and each call's answer is the next step of the
config's ``script``: an HTTP status, put through the same mapping as the real connectors
(``outcome_for_response``), or ``"timeout"`` / ``"refused"`` / ``"error"``, raised as the real
failure would be so that ``Connector.deliver`` turns it into an outcome. The last step repeats.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from requests.structures import CaseInsensitiveDict

from connectors.base import (
    COMPLETION,
    PROGRESS,
    ConfigError,
    Connector,
    Delivered,
    DeliveryItem,
    Outcome,
    outcome_for_response,
)

FAILURES = frozenset({"timeout", "refused", "error"})
#: Items kept per channel: enough for any test, bounded for a long-running sandbox.
KEPT = 1000


def _is_status(step: object) -> bool:
    return isinstance(step, int) and not isinstance(step, bool) and 100 <= step <= 599


class FakeConnector(Connector):
    """Records items per channel and answers each call with the next scripted step."""

    name = "fake"
    label = "Fake target (records deliveries, for tests and the sandbox)"
    capabilities = frozenset({COMPLETION, PROGRESS})

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _items: ClassVar[dict[str, deque[DeliveryItem]]] = {}
    _calls: ClassVar[dict[str, int]] = {}

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``channel`` (default ``"default"``), ``script`` (default ``[200]``), ``retry_after``."""
        problems = []
        channel = config.get("channel", "default")
        if not isinstance(channel, str) or not channel:
            problems.append("channel must be a non-empty string")
        script = config.get("script", [200])
        if not isinstance(script, list | tuple) or not script:
            problems.append("script must be a non-empty list of steps")
            script = []
        for index, step in enumerate(script):
            if not (step in FAILURES if isinstance(step, str) else _is_status(step)):
                problems.append(
                    f"script step {index} must be an HTTP status or one of {sorted(FAILURES)}"
                )
        retry_after = config.get("retry_after")
        if retry_after is not None and not isinstance(retry_after, str | int):
            problems.append("retry_after must be a Retry-After header value")
        if problems:
            raise ConfigError(problems)
        return {"channel": channel, "script": list(script), "retry_after": retry_after}

    @classmethod
    def received(cls, channel: str = "default") -> list[DeliveryItem]:
        """The items delivered on ``channel``, oldest first (the last ``KEPT`` of them)."""
        with cls._lock:
            return list(cls._items.get(channel, ()))

    @classmethod
    def reset(cls) -> None:
        """Forget every channel's items and script position (between tests)."""
        with cls._lock:
            cls._items.clear()
            cls._calls.clear()

    def _send(self, item: DeliveryItem) -> Outcome:
        channel, script = self.config["channel"], self.config["script"]
        with self._lock:
            calls = self._calls.get(channel, 0)
            self._calls[channel] = calls + 1
            self._items.setdefault(channel, deque(maxlen=KEPT)).append(item)
        step = script[min(calls, len(script) - 1)]
        if step == "timeout":
            raise requests.Timeout("scripted timeout")
        if step == "refused":
            raise requests.ConnectionError("scripted refusal")
        if step == "error":
            raise RuntimeError("scripted failure")
        recorded = Delivered(
            f"recorded on fake channel {channel} (HTTP {step})",
            status=step,
            remote_id=str(item.ledger_id),
        )
        return outcome_for_response(self._response(step), delivered=recorded)

    def _response(self, status: int) -> requests.Response:
        """A response as a target would send it, so the shared HTTP mapping applies unchanged."""
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict()
        if self.config["retry_after"] is not None:
            response.headers["Retry-After"] = str(self.config["retry_after"])
        # requests has no public setter for a body it did not read from a socket
        response._content = f"scripted HTTP {status}".encode()
        response.encoding = "utf-8"
        return response
