"""The xAPI connector: the exact statement the LRS receives, and every answer an LRS can give."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests
import responses

from connectors.base import PROGRESS, ConfigError, Delivered, Rejected, RetryLater, Runtime
from connectors.xapi import STATEMENT_NAMESPACE, XAPIConnector, statement_id, xapi_timestamp
from tests.contract.factories import ISSUER, TOOL_URL, delivery_item, placement

ENDPOINT = "https://lrs.example/data/xAPI"
STATEMENTS = f"{ENDPOINT}/statements"
PASSWORD = "correct horse battery staple"
CONFIG = {"endpoint": ENDPOINT + "/", "username": "bridge", "password": PASSWORD}
BASIC = base64.b64encode(f"bridge:{PASSWORD}".encode()).decode()


def connector(runtime: Runtime, **config: str) -> XAPIConnector:
    return XAPIConnector(CONFIG | config, runtime)


def test_statement_put_with_exact_content_when_completion_delivered(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    item = delivery_item(score=Decimal("0.85"))
    rsps.put(STATEMENTS, status=204)

    outcome = connector(runtime).deliver(item)

    expected_id = str(uuid.uuid5(STATEMENT_NAMESPACE, str(item.completion_id)))
    assert outcome == Delivered(
        f"statement {expected_id} stored (HTTP 204)", status=204, remote_id=expected_id
    )
    (call,) = rsps.calls
    request = call.request
    assert request.url == f"{STATEMENTS}?statementId={expected_id}"
    assert request.headers["X-Experience-API-Version"] == "1.0.3"
    assert request.headers["Authorization"] == f"Basic {BASIC}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.req_kwargs["timeout"] == 3.5
    course = f"{TOOL_URL}/platforms/{item.platform.registration_id}/courses/course-101"
    assert json.loads(request.body) == {
        "id": expected_id,
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": ISSUER, "name": "lms-user-42"},
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {
            "objectType": "Activity",
            "id": f"{TOOL_URL}/placements/{item.placement.id}",
            "definition": {"name": {"en-US": "Week 1 discussion"}},
        },
        "result": {"completion": True, "score": {"scaled": 0.85}},
        "context": {
            "contextActivities": {
                "parent": [
                    {
                        "objectType": "Activity",
                        "id": course,
                        "definition": {
                            "name": {"en-US": "Biology 101"},
                            "type": "http://adlnet.gov/expapi/activities/course",
                        },
                    }
                ]
            }
        },
        "timestamp": "2026-03-04T05:06:07.890Z",
    }


def test_homepage_override_used_when_configured(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=204)
    connector(runtime, homepage="https://sso.example").deliver(delivery_item())
    body = json.loads(rsps.calls[0].request.body)
    assert body["actor"]["account"] == {"homePage": "https://sso.example", "name": "lms-user-42"}


def test_course_id_escaped_when_it_has_reserved_characters(runtime: Runtime) -> None:
    item = delivery_item(placement=placement(context_id="a/b c?d"))
    parent = connector(runtime).statement(item)["context"]["contextActivities"]["parent"][0]
    assert parent["id"].endswith("/courses/a%2Fb%20c%3Fd")


def test_statement_id_is_uuid5_of_completion_and_stable() -> None:
    completion = uuid.uuid4()
    assert statement_id(completion) == statement_id(completion)
    assert statement_id(completion).version == 5
    assert statement_id(completion) != statement_id(uuid.uuid4())


def test_same_statement_sent_when_delivered_twice(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=204)
    item = delivery_item()
    xapi = connector(runtime)
    xapi.deliver(item)
    xapi.deliver(item)
    first, second = (call.request for call in rsps.calls)
    assert first.url == second.url
    assert first.body == second.body


def test_delivered_with_evidence_when_lrs_already_holds_the_id(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=409, body="Conflict: statement exists with different content")
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, Delivered)
    assert outcome.status == 409
    assert "already stored" in outcome.evidence


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_rejected_when_lrs_refuses(
    rsps: responses.RequestsMock, runtime: Runtime, status: int
) -> None:
    rsps.put(STATEMENTS, status=status, json={"message": "invalid statement"})
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, Rejected)
    assert outcome.status == status
    assert "invalid statement" in outcome.reason


def test_retry_after_seconds_honoured_when_throttled(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=429, headers={"Retry-After": "30"})
    outcome = connector(runtime).deliver(delivery_item())
    assert outcome == RetryLater(outcome.reason, retry_after=30.0, status=429)


def test_retry_after_date_honoured_when_throttled(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    rsps.put(STATEMENTS, status=429, headers={"Retry-After": when})
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, RetryLater)
    assert outcome.retry_after is not None
    assert 590 <= outcome.retry_after <= 600


@pytest.mark.parametrize("status", [500, 502, 503])
def test_retry_later_when_lrs_fails(
    rsps: responses.RequestsMock, runtime: Runtime, status: int
) -> None:
    rsps.put(STATEMENTS, status=status, body="<html><body>Bad gateway</body></html>")
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, RetryLater)
    assert outcome.reason == f"HTTP {status}: <html><body>Bad gateway</body></html>"


@pytest.mark.parametrize(
    "error",
    [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow"), requests.ConnectionError()],
    ids=["connect-timeout", "read-timeout", "refused"],
)
def test_retry_later_when_lrs_unreachable(
    rsps: responses.RequestsMock, runtime: Runtime, error: Exception
) -> None:
    rsps.put(STATEMENTS, body=error)
    assert isinstance(connector(runtime).deliver(delivery_item()), RetryLater)


def test_delivered_when_lrs_answers_html_with_2xx(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=200, body="<html>ok</html>", content_type="text/html")
    assert isinstance(connector(runtime).deliver(delivery_item()), Delivered)


def test_rejected_and_not_followed_when_lrs_redirects(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=302, headers={"Location": "https://elsewhere.example/"})
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, Rejected)
    assert len(rsps.calls) == 1


def test_rejected_unsent_when_item_is_progress(runtime: Runtime) -> None:
    outcome = connector(runtime).deliver(delivery_item(PROGRESS))
    assert outcome == Rejected("xAPI carries completions only")


def test_rejected_unsent_when_tool_url_unknown(runtime: Runtime) -> None:
    bare = Runtime(http=runtime.http, timeout=runtime.timeout)
    outcome = connector(bare).deliver(delivery_item())
    assert isinstance(outcome, Rejected)
    assert "public URL" in outcome.reason


def test_utf8_credentials_sent_when_password_is_not_latin1(
    rsps: responses.RequestsMock, runtime: Runtime
) -> None:
    rsps.put(STATEMENTS, status=204)
    connector(runtime, password="pässwörd-✓").deliver(delivery_item())
    sent = rsps.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode("bridge:pässwörd-✓".encode()).decode()


def test_no_secret_in_reason_or_logs_when_lrs_echoes_credentials(
    rsps: responses.RequestsMock, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.put(STATEMENTS, status=401, body=f"bad credentials Basic {BASIC} ({PASSWORD})")
    outcome = connector(runtime).deliver(delivery_item())
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "HTTP 401: bad credentials Basic [redacted] ([redacted])"
    logged = caplog.text
    assert PASSWORD not in logged
    assert BASIC not in logged


def test_config_error_lists_every_problem_when_config_empty() -> None:
    with pytest.raises(ConfigError) as raised:
        XAPIConnector.validate_config({})
    assert raised.value.problems == [
        "endpoint is required",
        "username is required",
        "password is required",
    ]


def test_config_error_lists_every_problem_when_values_are_wrong() -> None:
    with pytest.raises(ConfigError) as raised:
        XAPIConnector.validate_config(
            {
                "endpoint": "http://user:pw@lrs.example/xapi?x=1",
                "username": "",
                "password": 42,
                "homepage": "not a url",
            }
        )
    problems = raised.value.problems
    assert problems == [
        "endpoint must use https (http only for localhost)",
        "endpoint must not carry credentials",
        "endpoint must not have a query or fragment",
        "username is required",
        "password must be text",
        "homepage must be an absolute URL (the learners' account system)",
    ]
    assert "user:pw" not in str(raised.value)


@pytest.mark.parametrize(
    "endpoint", ["http://localhost:8080/xapi", "http://127.0.0.1/xapi", "https://lrs.example"]
)
def test_config_accepted_when_endpoint_is_https_or_loopback(endpoint: str) -> None:
    config = XAPIConnector.validate_config(CONFIG | {"endpoint": endpoint + "/"})
    assert config["endpoint"] == endpoint
    assert config["homepage"] == ""


def test_timestamp_converted_to_utc_when_recorded_elsewhere() -> None:
    moment = datetime(2026, 1, 1, 2, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert xapi_timestamp(moment) == "2026-01-01T00:00:00.123Z"
    assert xapi_timestamp(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000Z"
