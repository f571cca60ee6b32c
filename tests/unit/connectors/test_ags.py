"""The AGS connector (LTI AGS 2.0): line items, scores, per-LMS behaviour; the LMS mocked by responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
import responses

from connectors import ags
from connectors.ags import (
    CANVAS_SUBMISSION,
    LINEITEM_CONTAINER_MEDIA_TYPE,
    LINEITEM_MEDIA_TYPE,
    LINEITEM_READONLY_SCOPE,
    LINEITEM_SCOPE,
    SCORE_MEDIA_TYPE,
    SCORE_SCOPE,
    AGSConnector,
    score_timestamp,
    scores_url,
)
from connectors.base import (
    COMPLETION,
    PROGRESS,
    ConfigError,
    Delivered,
    Rejected,
    RetryLater,
    Runtime,
)
from lti.services import AccessTokenError
from tests.contract.factories import delivery_item, placement, platform

LMS = "https://lms.example"
CONTAINER = LMS + "/api/lti/courses/101/line_items"
ALL_SCOPES = [SCORE_SCOPE, LINEITEM_SCOPE, LINEITEM_READONLY_SCOPE]
MOODLE_ITEM = LMS + "/mod/lti/services.php/2/lineitems/7/lineitem?type_id=3"


class Tokens:
    """Hands out numbered tokens and records what was asked for (the LMS is what is mocked)."""

    def __init__(self, failure: AccessTokenError | None = None) -> None:
        self.asked: list[tuple[str, ...]] = []
        self.forgotten: list[tuple[str, ...]] = []
        self.failure = failure

    def token(self, platform, scopes):
        if self.failure:
            raise self.failure
        self.asked.append(scopes)
        return f"tok-{len(self.asked)}"

    def forget(self, platform, scopes):
        self.forgotten.append(scopes)


@pytest.fixture(autouse=True)
def fresh_line_item_memory():
    ags._LINE_ITEMS.clear()
    yield
    ags._LINE_ITEMS.clear()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def tokens():
    return Tokens()


def connector(tokens, **config):
    runtime = Runtime(http=requests.Session(), timeout=4.5, tokens=tokens)
    return AGSConnector({"score_maximum": 10} | config, runtime)


def item_with(claim, kind=COMPLETION, issuer=LMS, **changes):
    changes.setdefault(
        "placement", placement(ags=claim, resource_link_id="link-1", title="Week 1 discussion")
    )
    changes.setdefault("platform", platform(issuer=issuer))
    return delivery_item(kind, **changes)


def container_claim(scopes=ALL_SCOPES):
    return {"scope": scopes, "lineitems": CONTAINER}


def score_of(call):
    return json.loads(call.request.body)


# -- the score -------------------------------------------------------------------------------------


def test_score_goes_to_the_claim_line_item_with_its_query_kept_when_given(mocked, tokens):
    mocked.add(responses.POST, scores_url(MOODLE_ITEM), status=200)
    claim = {"scope": [SCORE_SCOPE], "lineitem": MOODLE_ITEM}
    outcome = connector(tokens).deliver(item_with(claim))
    assert isinstance(outcome, Delivered), outcome
    (call,) = mocked.calls
    assert call.request.url == LMS + "/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=3"
    assert call.request.headers["Content-Type"] == SCORE_MEDIA_TYPE
    assert call.request.headers["Authorization"] == "Bearer tok-1"
    assert call.request.req_kwargs["timeout"] == 4.5
    assert outcome.remote_id == MOODLE_ITEM
    assert tokens.asked == [(SCORE_SCOPE,)]  # only what the claim offers


def test_score_body_follows_ags_when_a_completion_is_delivered(mocked, tokens):
    claim = {"lineitem": LMS + "/lineitems/1"}
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=204)
    item = item_with(claim, score=Decimal("0.75"))
    connector(tokens).deliver(item)
    score = score_of(mocked.calls[0])
    assert score == {
        "userId": "lms-user-42",
        "scoreGiven": 7.5,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": "2026-03-04T05:06:07.890+00:00",
        "comment": "Criteria met (2 of 2): Started a thread; Replied twice.",
    }
    assert tokens.asked == [(SCORE_SCOPE, LINEITEM_SCOPE, LINEITEM_READONLY_SCOPE)]


def test_progress_is_in_progress_and_timestamps_increase_when_a_learner_advances(mocked, tokens):
    claim = {"lineitem": LMS + "/lineitems/1"}
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=200)
    start = datetime(2026, 3, 4, 5, 6, 7, 1000, tzinfo=UTC)
    target = connector(tokens)
    for step in range(3):
        moment = start + timedelta(milliseconds=step)
        target.deliver(item_with(claim, PROGRESS, recorded_at=moment))
    scores = [score_of(call) for call in mocked.calls]
    assert {s["activityProgress"] for s in scores} == {"InProgress"}
    stamps = [s["timestamp"] for s in scores]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert scores[0]["scoreGiven"] == 5 and scores[0]["comment"].startswith("Criteria met (1 of 2)")


def test_timestamp_is_utc_with_milliseconds_when_given_another_zone():
    local = datetime(2026, 3, 4, 9, 6, 7, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert score_timestamp(local) == "2026-03-04T07:06:07.123+00:00"


def test_comment_says_none_met_when_no_criteria_are_met(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=200)
    connector(tokens).deliver(
        item_with({"lineitem": LMS + "/lineitems/1"}, PROGRESS, criteria_met=(), score=Decimal(0))
    )
    assert score_of(mocked.calls[0])["comment"] == "No completion criteria met yet (0 of 2)."


def test_canvas_gets_its_submission_extension_when_the_issuer_is_canvas(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=200)
    item = item_with({"lineitem": LMS + "/lineitems/1"}, issuer="https://canvas.instructure.com")
    connector(tokens).deliver(item)
    score = score_of(mocked.calls[0])
    assert score[CANVAS_SUBMISSION] == {
        "new_submission": True,
        "submitted_at": "2026-03-04T05:06:07.890+00:00",
    }


def test_other_platforms_get_no_canvas_extension(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=200)
    connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert CANVAS_SUBMISSION not in score_of(mocked.calls[0])


# -- line items ------------------------------------------------------------------------------------


def test_existing_line_item_is_found_by_resource_link_and_tag_then_remembered(mocked, tokens):
    found = CONTAINER + "/55"
    mocked.add(
        responses.GET,
        CONTAINER,
        json=[
            {"id": CONTAINER + "/54", "resourceLinkId": "link-1", "tag": "other-tool"},
            {"id": found, "resourceLinkId": "link-1", "tag": "social-bridge", "scoreMaximum": 10},
        ],
        content_type=LINEITEM_CONTAINER_MEDIA_TYPE,
        match=[
            responses.matchers.query_param_matcher(
                {"resource_link_id": "link-1", "tag": "social-bridge"}
            )
        ],
    )
    mocked.add(responses.POST, found + "/scores", status=200)
    target = connector(tokens)
    item = item_with(container_claim())
    assert isinstance(target.deliver(item), Delivered)
    assert isinstance(
        target.deliver(item_with(None, placement=item.placement, platform=item.platform)),
        Delivered,
    )
    methods = [(c.request.method, c.request.url.split("?")[0]) for c in mocked.calls]
    assert methods == [("GET", CONTAINER), ("POST", found + "/scores"), ("POST", found + "/scores")]
    assert mocked.calls[0].request.headers["Accept"] == LINEITEM_CONTAINER_MEDIA_TYPE


def test_line_item_is_created_for_the_placement_when_none_is_found(mocked, tokens):
    created = CONTAINER + "/56"
    mocked.add(responses.GET, CONTAINER, json=[])
    mocked.add(responses.POST, CONTAINER, json={"id": created, "label": "x"}, status=201)
    mocked.add(responses.POST, created + "/scores", status=200)
    outcome = connector(tokens, tag="sb-week").deliver(item_with(container_claim()))
    assert isinstance(outcome, Delivered) and outcome.remote_id == created
    create = mocked.calls[1].request
    assert create.headers["Content-Type"] == LINEITEM_MEDIA_TYPE
    assert json.loads(create.body) == {
        "scoreMaximum": 10,
        "label": "Week 1 discussion",
        "resourceLinkId": "link-1",
        "tag": "sb-week",
    }


def test_line_item_search_follows_pages_when_the_platform_links_them(mocked, tokens):
    found = CONTAINER + "/9"
    mocked.add(
        responses.GET,
        CONTAINER,
        json=[],
        headers={
            "Link": f'<{CONTAINER}?page=2&resource_link_id=link-1&tag=social-bridge>; rel="next"'
        },
        match=[
            responses.matchers.query_param_matcher(
                {"resource_link_id": "link-1", "tag": "social-bridge"}
            )
        ],
    )
    mocked.add(
        responses.GET,
        CONTAINER,
        json=[{"id": found, "resourceLinkId": "link-1", "tag": "social-bridge"}],
        match=[
            responses.matchers.query_param_matcher(
                {"page": "2", "resource_link_id": "link-1", "tag": "social-bridge"}
            )
        ],
    )
    mocked.add(responses.POST, found + "/scores", status=200)
    assert isinstance(connector(tokens).deliver(item_with(container_claim())), Delivered)


def test_line_item_on_another_site_is_ignored_when_listed(mocked, tokens):
    mocked.add(
        responses.GET,
        CONTAINER,
        json=[
            {"id": "https://evil.example/li/1", "resourceLinkId": "link-1", "tag": "social-bridge"}
        ],
    )
    mocked.add(responses.POST, CONTAINER, json={"id": CONTAINER + "/2"}, status=201)
    mocked.add(responses.POST, CONTAINER + "/2/scores", status=200)
    assert isinstance(connector(tokens).deliver(item_with(container_claim())), Delivered)
    assert all("evil" not in call.request.url for call in mocked.calls)


def test_forgotten_line_item_is_found_again_when_the_platform_deleted_it(mocked, tokens):
    mocked.add(
        responses.GET,
        CONTAINER,
        json=[{"id": CONTAINER + "/1", "resourceLinkId": "link-1", "tag": "social-bridge"}],
    )
    mocked.add(responses.POST, CONTAINER + "/1/scores", status=404)
    target, item = connector(tokens), item_with(container_claim())
    outcome = target.deliver(item)
    assert isinstance(outcome, RetryLater) and outcome.status == 404
    mocked.replace(responses.GET, CONTAINER, json=[])
    mocked.add(responses.POST, CONTAINER, json={"id": CONTAINER + "/2"}, status=201)
    mocked.add(responses.POST, CONTAINER + "/2/scores", status=200)
    assert isinstance(target.deliver(item), Delivered)


def test_line_item_creation_refused_is_rejected_when_the_platform_forbids_it(mocked, tokens):
    mocked.add(responses.GET, CONTAINER, json=[])
    mocked.add(responses.POST, CONTAINER, status=403, body="not allowed")
    outcome = connector(tokens).deliver(item_with(container_claim()))
    assert isinstance(outcome, Rejected) and outcome.status == 403
    assert outcome.reason.startswith("creating the line item: HTTP 403")


def test_line_item_without_id_is_rejected_when_the_platform_creates_one(mocked, tokens):
    mocked.add(responses.GET, CONTAINER, json=[])
    mocked.add(responses.POST, CONTAINER, json={"label": "no id"}, status=201)
    assert isinstance(connector(tokens).deliver(item_with(container_claim())), Rejected)


@pytest.mark.parametrize("body", ["<html/>", '{"not": "a list"}'])
def test_line_item_list_not_json_is_retried_later(mocked, tokens, body):
    mocked.add(responses.GET, CONTAINER, body=body)
    assert isinstance(connector(tokens).deliver(item_with(container_claim())), RetryLater)


# -- answers ---------------------------------------------------------------------------------------


def test_moodle_teacher_score_is_rejected_with_the_reason_when_moodle_answers_400(mocked, tokens):
    mocked.add(responses.POST, scores_url(MOODLE_ITEM), status=400, body="Incorrect score received")
    outcome = connector(tokens).deliver(item_with({"lineitem": MOODLE_ITEM}))
    assert isinstance(outcome, Rejected) and outcome.status == 400
    assert "Moodle does not grade this user" in outcome.reason
    assert "Incorrect score received" in outcome.reason


def test_score_400_is_rejected_with_a_generic_reason_when_the_platform_is_not_moodle(
    mocked, tokens
):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=400, body="nope")
    outcome = connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, Rejected) and "does not grade" in outcome.reason


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_score_is_retried_later_when_the_platform_is_busy(mocked, tokens, status):
    mocked.add(
        responses.POST, LMS + "/lineitems/1/scores", status=status, headers={"Retry-After": "12"}
    )
    outcome = connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, RetryLater) and outcome.status == status
    assert outcome.retry_after == 12.0


def test_line_item_search_is_retried_later_when_the_platform_throttles(mocked, tokens):
    mocked.add(responses.GET, CONTAINER, status=429, headers={"Retry-After": "3"})
    outcome = connector(tokens).deliver(item_with(container_claim()))
    assert isinstance(outcome, RetryLater) and outcome.retry_after == 3.0 and outcome.status == 429


def test_token_is_renewed_and_the_score_sent_again_when_the_platform_answers_401(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=401)
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=200)
    outcome = connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, Delivered)
    assert [c.request.headers["Authorization"] for c in mocked.calls] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert len(tokens.forgotten) == 1
    assert score_of(mocked.calls[0]) == score_of(mocked.calls[1])


def test_retry_later_once_renewed_token_is_refused_too(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=401, body="Bearer tok-1 refused")
    outcome = connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, RetryLater) and outcome.status == 401
    assert len(mocked.calls) == 2 and len(tokens.forgotten) == 2
    assert "tok-" not in outcome.reason


def test_already_held_score_counts_as_delivered_when_the_platform_answers_409(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=409)
    outcome = connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, Delivered) and outcome.status == 409


def test_token_in_an_echoed_answer_is_redacted_when_the_outcome_quotes_it(mocked, tokens):
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=422, body="got Bearer tok-1")
    outcome = connector(tokens).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, Rejected) and "tok-1" not in outcome.reason


def test_token_failure_is_retried_later_when_the_platform_refuses_the_tool(mocked):
    failure = AccessTokenError("refused", status=401, retry_after=30.0)
    outcome = connector(Tokens(failure)).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, RetryLater) and outcome.retry_after == 30.0
    assert not mocked.calls


def test_token_failure_is_rejected_when_the_registration_has_no_token_url(mocked):
    failure = AccessTokenError("no token URL", permanent=True)
    outcome = connector(Tokens(failure)).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, Rejected)


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        ({}, "no grade service"),
        ({"scope": [LINEITEM_SCOPE], "lineitem": LMS + "/lineitems/1"}, "post scores"),
        ({"scope": [SCORE_SCOPE]}, "no grade service"),
    ],
)
def test_rejected_without_a_request_when_the_claim_does_not_allow_a_score(
    mocked, tokens, claim, reason
):
    outcome = connector(tokens).deliver(item_with(claim))
    assert isinstance(outcome, Rejected) and reason in outcome.reason
    assert not mocked.calls and not tokens.asked


def test_retry_later_when_the_worker_has_no_token_source(mocked):
    runtime = Runtime(http=requests.Session(), timeout=4.5)
    outcome = AGSConnector({}, runtime).deliver(item_with({"lineitem": LMS + "/lineitems/1"}))
    assert isinstance(outcome, RetryLater)


# -- configuration ---------------------------------------------------------------------------------


def test_config_defaults_when_empty():
    assert AGSConnector.validate_config({}) == {
        "score_maximum": Decimal(100),
        "tag": "social-bridge",
    }


def test_config_lists_every_problem_when_invalid():
    with pytest.raises(ConfigError) as raised:
        AGSConnector.validate_config({"score_maximum": -1, "tag": "", "colour": "red"})
    assert len(raised.value.problems) == 3
    for bad in (True, "abc", float("inf"), 0):
        with pytest.raises(ConfigError):
            AGSConnector.validate_config({"score_maximum": bad})


def test_lineitem_readonly_is_asked_for_too_when_the_claim_offers_lineitem(mocked, tokens):
    """Moodle lists only ``lineitem`` when the tool manages columns, and wants readonly named."""
    mocked.add(responses.POST, LMS + "/lineitems/1/scores", status=200)
    claim = {"scope": [SCORE_SCOPE, LINEITEM_SCOPE], "lineitem": LMS + "/lineitems/1"}
    connector(tokens).deliver(item_with(claim))
    assert tokens.asked == [(SCORE_SCOPE, LINEITEM_SCOPE, LINEITEM_READONLY_SCOPE)]


def test_no_line_item_is_created_when_the_claim_allows_reading_only(mocked, tokens):
    mocked.add(responses.GET, CONTAINER, json=[])
    claim = container_claim([SCORE_SCOPE, LINEITEM_READONLY_SCOPE])
    outcome = connector(tokens).deliver(item_with(claim))
    assert isinstance(outcome, Rejected) and "gradebook column" in outcome.reason
    assert [call.request.method for call in mocked.calls] == ["GET"]
    assert tokens.asked == [(SCORE_SCOPE, LINEITEM_READONLY_SCOPE)]


def test_rejected_without_a_request_when_the_claim_urls_are_not_http(mocked, tokens):
    claim = {"scope": [SCORE_SCOPE], "lineitem": "javascript:alert(1)", "lineitems": {"x": 1}}
    outcome = connector(tokens).deliver(item_with(claim))
    assert isinstance(outcome, Rejected) and not mocked.calls
