"""The one interface every delivery target implements, and the values it takes and answers.

The algorithm lives here (time the attempt, log it, call ``_send``, turn any exception into an
outcome); a subclass only knows how to talk to its target. ``deliver`` never raises into the
worker: the outbox row decides what happens next from the outcome alone.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import requests

from bridge.delivery.values import (
    COMPLETION,
    PROGRESS,
    Delivered,
    DeliveryItem,
    Learner,
    Outcome,
    Placement,
    Platform,
    Rejected,
    RetryLater,
)

__all__ = [
    "COMPLETION",
    "LOOPBACK_HOSTS",
    "PROGRESS",
    "ConfigError",
    "Connector",
    "Delivered",
    "DeliveryItem",
    "Learner",
    "Outcome",
    "Placement",
    "Platform",
    "Rejected",
    "RetryLater",
    "Runtime",
    "TokenSource",
    "outcome_for_response",
    "redact",
    "retry_after_seconds",
    "url_problems",
]

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A connector configuration is invalid; ``problems`` lists every problem at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class TokenSource(Protocol):
    """OAuth2 client-credentials access tokens for a platform's services (LTI Advantage)."""

    def token(self, platform: Platform, scopes: tuple[str, ...]) -> str: ...

    def forget(self, platform: Platform, scopes: tuple[str, ...]) -> None: ...


@dataclass(frozen=True)
class Runtime:
    """What the worker hands every connector: shared HTTP session, timeout, and LTI tokens."""

    http: requests.Session
    timeout: float
    tokens: TokenSource | None = None
    tool_url: str = ""  # the tool's public base URL (activity ids, links back)


class Connector(abc.ABC):
    """A delivery target. Subclasses set the class attributes and implement ``_send``."""

    name: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset({COMPLETION})
    #: Config keys that hold secrets: stored encrypted, never logged or shown.
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: Mapping[str, Any], runtime: Runtime) -> None:
        self.config = self.validate_config(config)
        self.runtime = runtime

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config, checked and normalised; raise ``ConfigError`` listing every problem."""
        return dict(config)

    def deliver(self, item: DeliveryItem) -> Outcome:
        """One attempt: never raises; logs the outcome with the outbox id (never a secret)."""
        started = time.monotonic()
        try:
            outcome = self._send(item)
        except requests.Timeout:
            outcome = RetryLater("the target did not answer in time")
        except requests.ConnectionError as error:
            outcome = RetryLater(f"could not connect: {type(error).__name__}")
        except Exception as error:  # the contract: never raise into the worker
            log.exception("connector %s failed on outbox %s", self.name, item.outbox_id)
            outcome = RetryLater(f"unexpected error: {type(error).__name__}")
        log.info(
            "delivery outbox=%s connector=%s outcome=%s status=%s ms=%d",
            item.outbox_id,
            self.name,
            type(outcome).__name__,
            outcome.status,
            (time.monotonic() - started) * 1000,
        )
        return outcome

    @abc.abstractmethod
    def _send(self, item: DeliveryItem) -> Outcome:
        """Deliver ``item``; may raise ``requests`` errors (turned into RetryLater)."""


def outcome_for_response(response: requests.Response, *, delivered: Delivered) -> Outcome:
    """The usual HTTP mapping: 2xx delivered, 408/425/429/5xx retry later, other 4xx rejected."""
    status = response.status_code
    if 200 <= status < 300:
        return delivered
    reason = f"HTTP {status}: {_excerpt(response)}"
    if status in (408, 425, 429) or status >= 500:
        return RetryLater(reason, retry_after=retry_after_seconds(response), status=status)
    return Rejected(reason, status=status)


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # noqa: PLC0415 - rare path

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _excerpt(response: requests.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] or response.reason or "no body"


#: Hosts a target may be reached on over plain http (a developer's own machine).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def url_problems(key: str, value: object) -> list[str]:
    """What is wrong with a target URL in a config: https (http only on loopback), a host, and
    no credentials, query or fragment (credentials belong in secret fields, never in a URL)."""
    if not isinstance(value, str) or not value.strip():
        return [f"{key} is required"]
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - parsing the port is what raises on a malformed one
    except ValueError:
        return [f"{key} is not a valid URL"]
    problems = []
    if not parts.hostname:
        problems.append(f"{key} must be an absolute URL with a host")
    elif parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    ):
        problems.append(f"{key} must use https (http only for localhost)")
    if parts.username is not None or parts.password is not None:
        problems.append(f"{key} must not carry credentials")
    if parts.query or parts.fragment:
        problems.append(f"{key} must not have a query or fragment")
    return problems


def redact(outcome: Outcome, secrets: Iterable[str]) -> Outcome:
    """``outcome`` with every secret value masked in its text: a target may echo what it got."""
    values = [value for value in secrets if value]
    if not values:
        return outcome
    text = "evidence" if isinstance(outcome, Delivered) else "reason"
    masked = getattr(outcome, text)
    for value in values:
        masked = masked.replace(value, "[redacted]")
    return replace(outcome, **{text: masked})
