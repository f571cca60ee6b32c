"""The fake connector: it records what it is given and answers from its script."""

from __future__ import annotations

import logging

import pytest

from connectors.base import PROGRESS, ConfigError, Delivered, Rejected, RetryLater, Runtime
from connectors.fake import KEPT, FakeConnector
from tests.contract.factories import delivery_item


def test_delivered_and_recorded_when_config_is_empty(runtime: Runtime) -> None:
    fake = FakeConnector({}, runtime)
    items = [delivery_item(), delivery_item(PROGRESS)]

    outcomes = [fake.deliver(item) for item in items]

    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert outcomes[0].remote_id == str(items[0].ledger_id)
    assert FakeConnector.received() == items


def test_recorded_across_instances_when_channel_shared(runtime: Runtime) -> None:
    first, second = delivery_item(), delivery_item()
    FakeConnector({"channel": "a"}, runtime).deliver(first)
    FakeConnector({"channel": "a"}, runtime).deliver(second)
    FakeConnector({"channel": "b"}, runtime).deliver(first)
    assert FakeConnector.received("a") == [first, second]
    assert FakeConnector.received("b") == [first]
    assert FakeConnector.received() == []


def test_script_followed_and_last_step_repeated_when_scripted(runtime: Runtime) -> None:
    fake = FakeConnector({"script": [503, 429, 400, 200], "retry_after": 9}, runtime)
    item = delivery_item()

    outcomes = [fake.deliver(item) for _ in range(5)]

    assert [type(outcome) for outcome in outcomes] == [
        RetryLater,
        RetryLater,
        Rejected,
        Delivered,
        Delivered,
    ]
    assert outcomes[0] == RetryLater("HTTP 503: scripted HTTP 503", retry_after=9.0, status=503)
    assert outcomes[2] == Rejected("HTTP 400: scripted HTTP 400", status=400)
    assert len(FakeConnector.received()) == 5


def test_script_position_shared_when_worker_builds_a_connector_per_attempt(
    runtime: Runtime,
) -> None:
    config = {"channel": "flaky", "script": [500, 200]}
    item = delivery_item()
    assert isinstance(FakeConnector(config, runtime).deliver(item), RetryLater)
    assert isinstance(FakeConnector(config, runtime).deliver(item), Delivered)


@pytest.mark.parametrize("step", ["timeout", "refused", "error"])
def test_retry_later_when_failure_scripted(
    runtime: Runtime, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    outcome = FakeConnector({"script": [step]}, runtime).deliver(delivery_item())
    assert isinstance(outcome, RetryLater)
    assert "outcome=RetryLater" in caplog.text


def test_reset_forgets_items_and_script_position(runtime: Runtime) -> None:
    fake = FakeConnector({"script": [500, 200]}, runtime)
    fake.deliver(delivery_item())
    FakeConnector.reset()
    assert FakeConnector.received() == []
    assert isinstance(fake.deliver(delivery_item()), RetryLater)


def test_oldest_items_dropped_when_more_than_kept(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert KEPT >= 100
    monkeypatch.setattr("connectors.fake.KEPT", 4)
    fake = FakeConnector({}, runtime)
    items = [delivery_item() for _ in range(7)]
    for item in items:
        fake.deliver(item)
    assert FakeConnector.received() == items[3:]


def test_config_error_lists_every_problem_when_config_is_wrong() -> None:
    with pytest.raises(ConfigError) as raised:
        FakeConnector.validate_config(
            {"channel": "", "script": [200, 99, "later", True, [1]], "retry_after": 1.5}
        )
    assert raised.value.problems == [
        "channel must be a non-empty string",
        "script step 1 must be an HTTP status or one of ['error', 'refused', 'timeout']",
        "script step 2 must be an HTTP status or one of ['error', 'refused', 'timeout']",
        "script step 3 must be an HTTP status or one of ['error', 'refused', 'timeout']",
        "script step 4 must be an HTTP status or one of ['error', 'refused', 'timeout']",
        "retry_after must be a Retry-After header value",
    ]


def test_config_error_when_script_empty() -> None:
    with pytest.raises(ConfigError) as raised:
        FakeConnector.validate_config({"script": []})
    assert raised.value.problems == ["script must be a non-empty list of steps"]
