"""How the contract suite drives each connector: a valid config, an item, and the target's answers.

One harness per registered connector name, listed in ``HARNESSES`` (one line per connector). A
harness turns an ``Answer`` (what the target should do) into registered ``responses`` (or, for
the fake, a script), and reads back the idempotency key of every request the target received.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from connectors.base import Connector, Delivered, DeliveryItem, Outcome, Runtime
from connectors.fake import FakeConnector
from connectors.registry import get_connector
from tests.contract.factories import TOOL_URL, delivery_item

TIMEOUT = 5.0


@dataclass(frozen=True)
class Answer:
    """What the target does with a request: a status (0 = its usual success), or a failure."""

    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | bytes = ""
    failure: str = ""  # "timeout" or "refused": no HTTP answer at all
    echo: bool = False  # answer with every header and the body it received


SUCCESS = Answer()
TIMED_OUT = Answer(failure="timeout")
REFUSED = Answer(failure="refused")


class Harness:
    """The base: subclasses say how to reach their target; most only set the class attributes."""

    name: ClassVar[str]
    method: ClassVar[str] = "POST"
    success_status: ClassVar[int] = 200
    #: Statuses outside the usual mapping that this connector documents (status -> outcome type).
    documented: ClassVar[Mapping[int, type]] = {}

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps

    @property
    def connector_class(self) -> type[Connector]:
        return get_connector(self.name)

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def item(self, kind: str | None = None) -> DeliveryItem:
        return delivery_item(kind or sorted(self.connector_class.capabilities)[0])

    def runtime(self) -> Runtime:
        return Runtime(http=requests.Session(), timeout=TIMEOUT, tool_url=TOOL_URL)

    def connector(self, answer: Answer = SUCCESS) -> Connector:
        """A connector whose target will give ``answer`` (to every request)."""
        config = self.arrange(answer)
        return self.connector_class(config, self.runtime())

    def arrange(self, answer: Answer) -> dict[str, Any]:
        """Register the target's ``answer``; return the config to build the connector with."""
        self.rsps.add_callback(self.method, self.target_url(), callback=self._answer(answer))
        return self.config()

    def target_url(self) -> str:
        raise NotImplementedError

    def sent_keys(self) -> list[str]:
        """The idempotency key of every request the target received, in order."""
        return [self.key(call.request) for call in self.rsps.calls]

    def key(self, request: requests.PreparedRequest) -> str:
        raise NotImplementedError

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        """Every form of a secret the target sees or could echo: the secret fields by default."""
        return [config[key] for key in self.connector_class.secret_fields]

    def _answer(self, answer: Answer) -> Any:
        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], Any]:
            if answer.failure == "timeout":
                raise requests.ReadTimeout("read timed out")
            if answer.failure == "refused":
                raise requests.ConnectionError("[Errno 111] Connection refused")
            body: Any = answer.body
            if answer.echo:  # credentials first, so that they fall inside any excerpt
                headers = sorted(request.headers.items(), key=lambda kv: kv[0] != "Authorization")
                body = " ".join(f"{k}: {v}" for k, v in headers) + " " + _text(request.body)
            return answer.status or self.success_status, dict(answer.headers), body

        return callback


def _text(body: str | bytes | None) -> str:
    if isinstance(body, bytes):
        return body.decode(errors="replace")
    return body or ""


class FakeHarness(Harness):
    """The fake has no HTTP target: an answer becomes its script."""

    name = "fake"

    def __init__(self, rsps: responses.RequestsMock) -> None:
        super().__init__(rsps)
        self.channel = f"contract-{uuid.uuid4()}"

    def config(self) -> dict[str, Any]:
        return {"channel": self.channel}

    def arrange(self, answer: Answer) -> dict[str, Any]:
        step: int | str = answer.failure or answer.status or self.success_status
        return self.config() | {"script": [step], "retry_after": answer.headers.get("Retry-After")}

    def sent_keys(self) -> list[str]:
        return [str(item.ledger_id) for item in FakeConnector.received(self.channel)]


class XAPIHarness(Harness):
    name = "xapi"
    method = "PUT"
    success_status = 204
    documented: ClassVar[Mapping[int, type]] = {409: Delivered}  # the LRS already holds the id

    def config(self) -> dict[str, Any]:
        return {"endpoint": "https://lrs.example/xapi/", "username": "key", "password": "lrs-pw"}

    def target_url(self) -> str:
        return "https://lrs.example/xapi/statements"

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        basic = base64.b64encode(f"{config['username']}:{config['password']}".encode()).decode()
        return [*super().secrets(config), basic]

    def key(self, request: requests.PreparedRequest) -> str:
        (statement_id,) = parse_qs(urlsplit(request.url or "").query)["statementId"]
        assert json.loads(request.body or b"{}")["id"] == statement_id
        return statement_id


class WebhookHarness(Harness):
    name = "webhook"

    def config(self) -> dict[str, Any]:
        secret = base64.b64encode(b"contract-suite-secret-32-bytes!!").decode()
        return {"url": "https://hooks.example/bridge", "secret": f"whsec_{secret}"}

    def target_url(self) -> str:
        return "https://hooks.example/bridge"

    def key(self, request: requests.PreparedRequest) -> str:
        return request.headers["webhook-id"]


from tests.contract.ags_harness import AGSHarness  # noqa: E402 - it subclasses Harness (above)

#: Every connector's harness by registry name.
HARNESSES: dict[str, type[Harness]] = {
    FakeHarness.name: FakeHarness,
    XAPIHarness.name: XAPIHarness,
    WebhookHarness.name: WebhookHarness,
    AGSHarness.name: AGSHarness,
}


def outcome_text(outcome: Outcome) -> str:
    """Everything an outcome says, for checks that no secret appears in it."""
    return " ".join(str(value) for value in vars(outcome).values())
