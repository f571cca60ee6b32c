"""The webhook connector: the exact signed event the receiver gets, checked against the spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests
import responses
from standardwebhooks import Webhook

from connectors.base import PROGRESS, ConfigError, Delivered, Rejected, RetryLater, Runtime
from connectors.webhook import WebhookConnector
from tests.contract.factories import ISSUER, delivery_item

URL = "https://hooks.example/bridge"
# Standard Webhooks' published test vector (libraries/python/tests: test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = "1614265330"
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NOW = 1_770_000_000


def signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks "Signature scheme", written independently of the connector."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def connector(runtime: Runtime, **config: str) -> WebhookConnector:
    return WebhookConnector({"url": URL, "secret": SPEC_SECRET} | config, runtime)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.webhook.time.time", lambda: NOW + 0.75)


def test_independent_signer_matches_the_spec_vector() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    when = datetime.fromtimestamp(int(SPEC_TIMESTAMP), UTC)
    assert Webhook(SPEC_SECRET).sign(SPEC_ID, when, SPEC_BODY.decode()) == SPEC_SIGNATURE


@pytest.mark.usefixtures("clock")
def test_signed_event_posted_when_completion_delivered(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    item = delivery_item(score=Decimal("0.85"))
    rsps.post(URL, status=204)

    outcome = connector(runtime).deliver(item)

    ledger_id = str(item.ledger_id)
    assert outcome == Delivered(
        f"event {ledger_id} accepted (HTTP 204)", status=204, remote_id=ledger_id
    )
    (call,) = rsps.calls
    request = call.request
    assert request.method == "POST"
    assert request.url == URL
    assert request.req_kwargs["timeout"] == 3.5
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == ledger_id
    assert request.headers["webhook-timestamp"] == str(NOW)
    assert request.headers["webhook-signature"] == signature(
        SPEC_SECRET, ledger_id, str(NOW), request.body
    )
    assert b": " not in request.body  # minified: signed and sent exactly as serialised
    assert json.loads(request.body) == {
        "type": "completion.recorded",
        "timestamp": "2026-03-04T05:06:07.890Z",
        "data": {
            "ledger_id": ledger_id,
            "record_id": str(item.record_id),
            "completion_id": str(item.completion_id),
            "score": "0.85",
            "completed": True,
            "criteria_met": ["Started a thread", "Replied twice"],
            "criteria_total": 2,
            "learner": {"sub": "lms-user-42", "user_id": str(item.learner.user_id)},
            "platform": {"issuer": ISSUER, "deployment_id": "deployment-1"},
            "course": {"id": "course-101"},
            "placement": {
                "id": str(item.placement.id),
                "resource_link_id": "link-1",
                "widget": "discussion",
            },
        },
    }


def test_receiver_library_verifies_the_request(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.post(URL, status=200)
    connector(runtime).deliver(delivery_item())
    request = rsps.calls[0].request
    event = Webhook(SPEC_SECRET).verify(request.body, dict(request.headers))
    assert event["type"] == "completion.recorded"


def test_progress_event_posted_when_progress_delivered(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.post(URL, status=200)
    connector(runtime).deliver(delivery_item(PROGRESS, score=Decimal("0.0000001")))
    event = json.loads(rsps.calls[0].request.body)
    assert event["type"] == "progress.recorded"
    assert event["data"]["completion_id"] is None
    assert event["data"]["completed"] is False
    assert event["data"]["score"] == "0.0000001"


def test_no_names_in_event_when_delivered(rsps: responses.RequestsMock, runtime: Runtime) -> None:
    rsps.post(URL, status=200)
    connector(runtime).deliver(delivery_item())
    body = rsps.calls[0].request.body.decode()
    assert "Week 1 discussion" not in body
    assert "Biology 101" not in body
    assert "@" not in body


def test_same_id_and_body_sent_when_delivered_twice(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.post(URL, status=200)
    item = delivery_item()
    webhook = connector(runtime)
    webhook.deliver(item)
    webhook.deliver(item)
    first, second = (call.request for call in rsps.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(item.ledger_id)
    assert first.body == second.body


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_rejected_when_receiver_refuses(
    rsps: responses.RequestsMock, runtime: Runtime, status: int
) -> None:
    rsps.post(URL, status=status, json={"error": "bad signature"})
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, Rejected)
    assert outcome.status == status
    assert "bad signature" in outcome.reason


def test_retry_after_seconds_honoured_when_throttled(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.post(URL, status=429, headers={"Retry-After": "12"})
    outcome = connector(runtime).deliver(delivery_item())
    assert outcome == RetryLater(outcome.reason, retry_after=12.0, status=429)


def test_retry_after_date_honoured_when_unavailable(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(minutes=5), usegmt=True)
    rsps.post(URL, status=503, headers={"Retry-After": when})
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, RetryLater)
    assert outcome.retry_after is not None
    assert 290 <= outcome.retry_after <= 300


@pytest.mark.parametrize("status", [500, 502, 504])
def test_retry_later_when_receiver_fails(
    rsps: responses.RequestsMock, runtime: Runtime, status: int
) -> None:
    rsps.post(URL, status=status, body="<!doctype html>\n<title>Error</title>\n<p>Oops")
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, RetryLater)
    assert outcome.reason == f"HTTP {status}: <!doctype html> <title>Error</title> <p>Oops"


@pytest.mark.parametrize(
    "error",
    [requests.ReadTimeout("slow"), requests.ConnectionError("[Errno 111] Connection refused")],
    ids=["timeout", "refused"],
)
def test_retry_later_when_receiver_unreachable(
    rsps: responses.RequestsMock, runtime: Runtime, error: Exception
) -> None:
    rsps.post(URL, body=error)
    assert isinstance(connector(runtime).deliver(delivery_item()), RetryLater)


def test_delivered_when_receiver_answers_html_with_2xx(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.post(URL, status=200, body="<html>thanks</html>", content_type="text/html")
    assert isinstance(connector(runtime).deliver(delivery_item()), Delivered)


def test_rejected_and_not_followed_when_receiver_redirects(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.post(URL, status=308, headers={"Location": "https://elsewhere.example/"})
    assert isinstance(connector(runtime).deliver(delivery_item()), Rejected)
    assert len(rsps.calls) == 1


def test_no_secret_in_reason_or_logs_when_receiver_echoes_it(
    rsps: responses.RequestsMock, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    raw = SPEC_SECRET.removeprefix("whsec_")
    rsps.post(URL, status=400, body=f"secret {SPEC_SECRET} does not match {raw}")
    outcome = connector(runtime).deliver(delivery_item())
    assert outcome == Rejected("HTTP 400: secret [redacted] does not match [redacted]", 400)
    assert raw not in caplog.text


def test_config_error_lists_every_problem_when_config_empty() -> None:
    with pytest.raises(ConfigError) as raised:
        WebhookConnector.validate_config({})
    assert raised.value.problems == ["url is required", "secret is required"]


@pytest.mark.parametrize(
    ("url", "secret", "problems"),
    [
        (
            "http://hooks.example/x#y",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            [
                "url must use https (http only for localhost)",
                "url must not have a query or fragment",
                "secret must start with whsec_",
            ],
        ),
        ("hooks.example", "whsec_not base64!", ["url must be an absolute URL with a host"]),
        ("https://[::1", "whsec_c2hvcnQ=", ["url is not a valid URL"]),
    ],
)
def test_config_error_lists_every_problem_when_values_are_wrong(
    url: str, secret: str, problems: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        WebhookConnector.validate_config({"url": url, "secret": secret})
    assert raised.value.problems[: len(problems)] == problems
    assert secret not in str(raised.value)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("whsec_not base64!", "secret must be whsec_ followed by base64"),
        ("whsec_c2hvcnQ=", "secret must encode 24 to 64 bytes, not 5"),
    ],
)
def test_config_error_explains_when_secret_malformed(secret: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        WebhookConnector.validate_config({"url": URL, "secret": secret})
    assert raised.value.problems == [problem]


def test_config_accepted_when_url_is_loopback_http() -> None:
    config = WebhookConnector.validate_config(
        {"url": "http://127.0.0.1:9000/hook", "secret": SPEC_SECRET}
    )
    assert config == {"url": "http://127.0.0.1:9000/hook", "secret": SPEC_SECRET}
