"""Fixtures for connector unit tests: a mocked target and a clean fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses

from connectors.base import Runtime
from connectors.fake import FakeConnector
from tests.contract.factories import TOOL_URL


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(http=requests.Session(), timeout=3.5, tool_url=TOOL_URL)


@pytest.fixture(autouse=True)
def _clean_fake() -> Iterator[None]:
    FakeConnector.reset()
    yield
    FakeConnector.reset()
