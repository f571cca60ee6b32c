"""Every connector by name, listed explicitly (no scanning): what the app hands the worker.

The contract suite (``tests/contract``) runs over every name here and fails for a connector
without a harness.
"""

from __future__ import annotations

from connectors.ags import AGSConnector
from connectors.base import Connector
from connectors.fake import FakeConnector
from connectors.webhook import WebhookConnector
from connectors.xapi import XAPIConnector

CONNECTORS: dict[str, type[Connector]] = {
    FakeConnector.name: FakeConnector,
    XAPIConnector.name: XAPIConnector,
    WebhookConnector.name: WebhookConnector,
    AGSConnector.name: AGSConnector,
}


class UnknownConnectorError(KeyError):
    """No connector has this name (a config naming a target this build does not have)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown connector {self.name!r}; known: {', '.join(sorted(CONNECTORS))}"


def get_connector(name: str) -> type[Connector]:
    """The connector class called ``name``; raise ``UnknownConnectorError`` (a KeyError) if none."""
    try:
        return CONNECTORS[name]
    except KeyError:
        raise UnknownConnectorError(name) from None
