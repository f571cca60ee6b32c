"""The registry: every connector by its own name, and a clear error for an unknown one."""

from __future__ import annotations

import pytest

from connectors.fake import FakeConnector
from connectors.registry import CONNECTORS, UnknownConnectorError, get_connector
from connectors.webhook import WebhookConnector
from connectors.xapi import XAPIConnector


def test_connectors_listed_under_their_own_names() -> None:
    assert {name: cls.name for name, cls in CONNECTORS.items()} == {
        name: name for name in CONNECTORS
    }
    assert {FakeConnector, XAPIConnector, WebhookConnector} <= set(CONNECTORS.values())


def test_class_returned_when_name_known() -> None:
    assert get_connector("xapi") is XAPIConnector
    assert get_connector("webhook") is WebhookConnector
    assert get_connector("fake") is FakeConnector


def test_key_error_naming_the_known_when_name_unknown() -> None:
    with pytest.raises(KeyError) as raised:
        get_connector("moodle")
    assert isinstance(raised.value, UnknownConnectorError)
    assert str(raised.value).startswith("unknown connector 'moodle'; known: ")
    assert "xapi" in str(raised.value)
