"""The connector contract, run over every registered connector (STYLE.md, "Connectors").

Success is delivered; 408/425/429/5xx, timeouts and refused connections are retried later (with
the target's Retry-After); other 4xx are rejected unless the connector documents otherwise;
``deliver`` never raises; a repeat delivery sends the same idempotency key; no secret leaks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import responses

from connectors.base import (
    COMPLETION,
    PROGRESS,
    ConfigError,
    Delivered,
    DeliveryItem,
    Rejected,
    RetryLater,
)
from connectors.registry import CONNECTORS
from tests.contract.factories import retried
from tests.contract.harnesses import (
    HARNESSES,
    REFUSED,
    SUCCESS,
    TIMED_OUT,
    Answer,
    Harness,
    outcome_text,
)

OUTCOMES = (Delivered, RetryLater, Rejected)


def test_every_registered_connector_has_a_harness() -> None:
    missing = sorted(set(CONNECTORS) - set(HARNESSES))
    assert not missing, f"add a harness to tests/contract/harnesses.py for: {missing}"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(params=sorted(CONNECTORS))
def harness(request: pytest.FixtureRequest, rsps: responses.RequestsMock) -> Harness:
    name = request.param
    if name not in HARNESSES:
        pytest.fail(f"connector {name!r} has no harness in tests/contract/harnesses.py")
    return HARNESSES[name](rsps)


def test_class_describes_itself(harness: Harness) -> None:
    cls = harness.connector_class
    assert CONNECTORS[cls.name] is cls
    assert cls.label
    assert cls.capabilities
    assert cls.capabilities <= {COMPLETION, PROGRESS}
    assert cls.secret_fields <= set(harness.config())
    assert cls.validate_config(harness.config())


def test_delivered_when_target_accepts(harness: Harness) -> None:
    outcome = harness.connector(SUCCESS).deliver(harness.item())
    assert isinstance(outcome, Delivered), outcome
    assert harness.sent_keys()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422])
def test_rejected_when_target_refuses_for_good(harness: Harness, status: int) -> None:
    outcome = harness.connector(Answer(status, body="no")).deliver(harness.item())
    assert isinstance(outcome, harness.documented.get(status, Rejected)), outcome
    assert outcome.status == status


def test_retry_later_with_retry_after_seconds_when_throttled(harness: Harness) -> None:
    answer = Answer(429, headers={"Retry-After": "7"}, body="slow down")
    outcome = harness.connector(answer).deliver(harness.item())
    assert isinstance(outcome, RetryLater), outcome
    assert outcome.retry_after == 7.0
    assert outcome.status == 429


def test_retry_later_with_retry_after_date_when_throttled(harness: Harness) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    outcome = harness.connector(Answer(429, headers={"Retry-After": when})).deliver(harness.item())
    assert isinstance(outcome, RetryLater), outcome
    assert outcome.retry_after is not None
    assert 100 <= outcome.retry_after <= 120


@pytest.mark.parametrize("status", [408, 425, 500, 502, 503, 504])
def test_retry_later_when_target_fails_for_now(harness: Harness, status: int) -> None:
    outcome = harness.connector(Answer(status, body="later")).deliver(harness.item())
    assert isinstance(outcome, RetryLater), outcome
    assert outcome.status == status


@pytest.mark.parametrize("answer", [TIMED_OUT, REFUSED], ids=["timeout", "refused"])
def test_retry_later_when_target_does_not_answer(harness: Harness, answer: Answer) -> None:
    outcome = harness.connector(answer).deliver(harness.item())
    assert isinstance(outcome, RetryLater), outcome


GARBAGE = [
    Answer(200, headers={"Content-Type": "text/html"}, body="<html><h1>It works!</h1>"),
    Answer(201, headers={"Content-Type": "application/json"}, body=b"\xff\xfe{not json"),
    Answer(299, headers={"Content-Type": "application/json"}, body='{"errors": ['),
    Answer(500, headers={"Content-Type": "text/html"}, body="<pre>" + "Traceback " * 20000),
    Answer(418, headers={"Retry-After": "soon"}, body=""),
    Answer(503, headers={"Retry-After": "-5"}, body="\x00" * 10),
]


@pytest.mark.parametrize("answer", GARBAGE, ids=[f"garbage{n}" for n in range(len(GARBAGE))])
def test_never_raises_when_target_answers_garbage(harness: Harness, answer: Answer) -> None:
    outcome = harness.connector(answer).deliver(harness.item())
    assert isinstance(outcome, OUTCOMES)
    assert len(outcome_text(outcome)) < 1000


def test_retry_later_when_send_itself_raises(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = harness.connector(SUCCESS)

    def broken(item: DeliveryItem) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(connector, "_send", broken)
    outcome = connector.deliver(harness.item())
    assert isinstance(outcome, RetryLater)
    assert "ZeroDivisionError" in outcome.reason


#: (connector, kind) for every item kind each connector carries.
CARRIED = [
    (name, kind)
    for name, cls in sorted(CONNECTORS.items())
    for kind in (COMPLETION, PROGRESS)
    if kind in cls.capabilities
]


@pytest.mark.parametrize(("name", "kind"), CARRIED)
def test_same_key_sent_when_item_delivered_twice(
    name: str, kind: str, rsps: responses.RequestsMock
) -> None:
    harness = HARNESSES[name](rsps)
    connector = harness.connector(SUCCESS)
    item = harness.item(kind)
    first, second = connector.deliver(item), connector.deliver(retried(item))
    assert isinstance(first, Delivered)
    assert isinstance(second, Delivered)
    keys = harness.sent_keys()
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert first.remote_id == second.remote_id


def test_different_keys_sent_when_items_differ(harness: Harness) -> None:
    connector = harness.connector(SUCCESS)
    connector.deliver(harness.item())
    connector.deliver(harness.item())
    first, second = harness.sent_keys()
    assert first != second


#: (connector, kind) for every item kind a connector does not carry (xAPI: progress).
UNCARRIED = [
    (name, kind)
    for name, cls in sorted(CONNECTORS.items())
    for kind in (COMPLETION, PROGRESS)
    if kind not in cls.capabilities
]


@pytest.mark.parametrize(("name", "kind"), UNCARRIED)
def test_rejected_unsent_when_kind_not_carried(
    name: str, kind: str, rsps: responses.RequestsMock
) -> None:
    harness = HARNESSES[name](rsps)
    connector = harness.connector(SUCCESS)
    assert isinstance(connector.deliver(harness.item(kind)), Rejected)
    assert harness.sent_keys() == []


@pytest.mark.parametrize("status", [200, 400, 401, 500])
def test_no_secret_in_outcome_or_logs_when_target_echoes_request(
    harness: Harness, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = harness.connector(Answer(status, echo=True))
    outcome = connector.deliver(harness.item())
    secrets = harness.secrets(connector.config)
    said = outcome_text(outcome) + "\n".join(
        record.getMessage() + (record.exc_text or "") for record in caplog.records
    )
    for secret in secrets:
        assert secret not in said


def test_config_error_names_every_secret_field_when_config_empty(harness: Harness) -> None:
    secret_fields = harness.connector_class.secret_fields
    if not secret_fields:  # the fake: every key has a default
        assert harness.connector_class.validate_config({}) is not None
        return
    with pytest.raises(ConfigError) as raised:
        harness.connector_class.validate_config({})
    for key in secret_fields:
        assert any(key in problem for problem in raised.value.problems), raised.value.problems
