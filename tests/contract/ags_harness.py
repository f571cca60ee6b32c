"""The AGS connector in the contract suite: a score POSTed to the placement's line item.

The item's placement carries the line item in its AGS claim (the factory's default), so every
request the target gets is a score. AGS has no request id: a score's idempotency key is
(userId, timestamp), the timestamp being the ledger row's ``recorded_at``; so each new item here
gets its own ``recorded_at`` (as each ledger row has), and a retried item keeps it.
Documented outside the usual mapping: 401 (the token is forgotten and the request sent once
more; still 401: retry later) and 409 (AGS §3.4.8: the platform holds this score or a newer one).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
import responses

from connectors.ags import scores_url
from connectors.base import COMPLETION, Delivered, DeliveryItem, Platform, RetryLater, Runtime
from tests.contract.factories import ISSUER, TOOL_URL, delivery_item
from tests.contract.harnesses import TIMEOUT, Harness


class ContractTokens:
    """A token source that hands out a new, recognisable token each time it is asked."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.forgotten = 0

    def token(self, platform: Platform, scopes: tuple[str, ...]) -> str:
        self.issued.append(f"ags-contract-token-{len(self.issued) + 1}")
        return self.issued[-1]

    def forget(self, platform: Platform, scopes: tuple[str, ...]) -> None:
        self.forgotten += 1


class AGSHarness(Harness):
    name = "ags"
    documented: ClassVar[Mapping[int, type]] = {401: RetryLater, 409: Delivered}
    _moments = itertools.count()

    def __init__(self, rsps: responses.RequestsMock) -> None:
        super().__init__(rsps)
        self.tokens = ContractTokens()

    def config(self) -> dict[str, Any]:
        return {"score_maximum": 10, "tag": "contract"}

    def runtime(self) -> Runtime:
        return Runtime(
            http=requests.Session(), timeout=TIMEOUT, tokens=self.tokens, tool_url=TOOL_URL
        )

    def item(self, kind: str | None = None) -> DeliveryItem:
        moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC) + timedelta(
            milliseconds=next(self._moments)
        )
        return delivery_item(kind or COMPLETION, recorded_at=moment)

    def target_url(self) -> str:
        return scores_url(f"{ISSUER}/courses/101/lineitems/1")

    def key(self, request: requests.PreparedRequest) -> str:
        score = json.loads(request.body or b"{}")
        return f"{score['userId']}@{score['timestamp']}"

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [*super().secrets(config), *self.tokens.issued]
