"""The sandbox LMS offers AGS and NRPS: a learner's completion reaches its gradebook, its token
endpoint checks the tool's client assertion, and `bridge roster sync` reads its course roster."""

from __future__ import annotations

import html
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from sqlalchemy import func, select

from bridge.delivery.models import ConnectorSetting, OutboxItem
from bridge.tenancy.models import Context, Membership, ResourceLink
from lti import keys
from lti.sandbox.platform import CLIENT_ID
from lti.sandbox.tokens import CLIENT_ASSERTION_TYPE, LINEITEM, MEMBERSHIPS, SCORE
from tests.integration.conftest import sandbox_launch, session_token

AGS_CLAIM_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LIN = "sandbox-user-lin"


@pytest.fixture
def sandbox_grade_sync() -> bool:
    return True  # as `make run`: `bridge setup` sends the sandbox's completions to its gradebook


def launch(browser, live, user: str, course: str = "bio101") -> str:
    status, text = sandbox_launch(browser, live, course, user, "discussion")
    assert status == 200, text
    return session_token(text)


def call(client, token: str, method: str, path: str, **kwargs: Any):
    return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def assertion(app, live, *, signing_pem: str = "", **changes: Any) -> str:
    """A client assertion as the tool signs one (its current key), with ``changes`` applied."""
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        kid, pem = keys.signing_key(session, rt.box)
    now = int(time.time())
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": f"{live.base_url}/sandbox/token",
              "iat": now - 5, "exp": now + 300, "jti": uuid.uuid4().hex} | changes  # fmt: skip
    return jwt.encode(claims, signing_pem or pem, algorithm="RS256", headers={"kid": kid})


def ask_token(live, signed: str, scope: str = SCORE, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": signed, "scope": scope} | form  # fmt: skip
    return requests.post(f"{live.base_url}/sandbox/token", data=data, timeout=10)


def token_for(app, live, scope: str) -> str:
    response = ask_token(live, assertion(app, live), scope)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def deliver_all(app) -> list[tuple[str, str]]:
    jobs = app.extensions["bridge.jobs"]
    with app.extensions["bridge.runtime"].database.transaction() as session:
        rows = [
            (str(i), c) for i, c in session.execute(select(OutboxItem.id, OutboxItem.connector))
        ]
    return [(connector, jobs.deliver_one(outbox_id)) for outbox_id, connector in rows]


def test_a_learners_completion_appears_in_the_sandbox_gradebook_when_grade_sync_is_on(
    client, browser, live, app, db_session
):
    teacher, learner = launch(browser, live, "instructor"), launch(browser, live, "learner")
    link = db_session.scalar(select(ResourceLink))
    sandbox = f"{live.base_url}/sandbox"
    assert link.ags == {
        "scope": AGS_CLAIM_SCOPES,
        "lineitems": f"{sandbox}/courses/bio101/lineitems",
        "lineitem": f"{sandbox}/courses/bio101/lineitems/sandbox-link-bio101-discussion",
    }
    context = db_session.scalar(select(Context))
    assert context.nrps_url == f"{sandbox}/courses/bio101/memberships"

    rule = {"criteria": [{"key": "discussion.threads_started", "count": 1}]}
    response = call(client, teacher, "PUT", "/api/v1/completions/rules", json=rule)
    assert response.status_code == 200, response.get_json()
    thread = {"title": "Mitochondria", "body": "The powerhouse of the cell."}
    response = call(client, learner, "POST", "/api/v1/discussion/threads", json=thread)
    assert response.status_code == 201, response.get_json()
    assert deliver_all(app) == [("ags", "delivered")]

    page = client.get("/sandbox/courses/bio101/gradebook")
    assert page.status_code == 200 and "text/html" in page.content_type
    text = html.unescape(page.get_data(as_text=True))
    assert "BIO-101 Discussion" in text  # the placement's column
    row = text[text.index("Lin Chen") :].split("</tr>")[0]
    for shown in ("100 / 100", "Completed", "FullyGraded", "Criteria met (1 of 1)", "UTC"):
        assert shown in row, row
    assert "No score" in text[text.index("Sam Okafor") :].split("</tr>")[0]
    assert 'scope="col"' in text and "<caption" in text
    launched = client.get("/sandbox/launch?course=bio101&user=learner&widget=discussion")
    assert "/sandbox/courses/bio101/gradebook" in launched.get_data(as_text=True)


def test_setup_configures_ags_for_the_sandbox_once(runner, db_session):
    (setting,) = db_session.scalars(select(ConnectorSetting))
    assert (setting.connector, setting.enabled, setting.config) == ("ags", True, {})
    assert setting.kinds == ["completion", "progress"] and setting.deployment_id is None
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0 and "already configured" in result.output, result.output
    assert db_session.scalar(select(func.count()).select_from(ConnectorSetting)) == 1


@pytest.mark.parametrize("sandbox_grade_sync", [False])
def test_setup_leaves_a_switched_off_ags_target_off(runner, db_session, sandbox_grade_sync):
    assert runner.invoke(args=["setup"]).exit_code == 0
    (setting,) = db_session.scalars(select(ConnectorSetting))
    assert setting.connector == "ags" and setting.enabled is False


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"aud": "https://elsewhere.example/token"}, 401, "invalid_client"),
        ({"iss": "someone-else"}, 401, "invalid_client"),
        ({"exp": int(time.time()) - 60}, 401, "invalid_client"),
        ({"exp": int(time.time()) + 86_400}, 401, "invalid_client"),
        ({"signed_by_another_key": True}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:other"}, 400, "invalid_request"),
        ({"scope": "https://example.com/scope/everything"}, 400, "invalid_scope"),
    ],
)  # fmt: skip
def test_token_endpoint_refuses_when_the_request_or_assertion_is_wrong(
    app, live, change, status, error
):
    change = dict(change)  # the parameters are shared by the database variants
    form = {
        k: change.pop(k) for k in ("grant_type", "client_assertion_type", "scope") if k in change
    }
    other_key = keys.generate_rsa_pem() if change.pop("signed_by_another_key", False) else ""
    response = ask_token(live, assertion(app, live, signing_pem=other_key, **change), **form)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error and response.json()["error_description"]
    assert "access_token" not in response.json()


def test_token_endpoint_refuses_a_reused_jti_and_grants_only_offered_scopes(app, live):
    signed = assertion(app, live)
    first = ask_token(live, signed, f"{SCORE} https://example.com/scope/everything")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["scope"] == SCORE
    assert first.headers["Cache-Control"] == "no-store"
    again = ask_token(live, signed)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    assert "jti" in again.json()["error_description"]


def test_services_check_the_bearer_token_and_its_scope(client, app, live):
    lineitems = "/sandbox/courses/bio101/lineitems"
    assert client.get(lineitems).status_code == 401
    assert call(client, "made-up", "GET", lineitems).status_code == 401
    score_only = token_for(app, live, SCORE)
    refused = call(client, score_only, "GET", lineitems)
    assert refused.status_code == 403 and refused.get_json()["error"] == "insufficient_scope"
    assert "insufficient_scope" in refused.headers["WWW-Authenticate"]
    roster = call(client, score_only, "GET", "/sandbox/courses/bio101/memberships")
    assert roster.status_code == 403
    members = call(
        client, token_for(app, live, MEMBERSHIPS), "GET", "/sandbox/courses/bio101/memberships"
    )
    assert members.status_code == 200 and len(members.get_json()["members"]) == 5


def test_line_items_are_created_found_by_filters_and_read_one_by_one(client, app, live):
    token = token_for(app, live, LINEITEM)
    base = "/sandbox/courses/hist220/lineitems"
    body = {"label": "Essay", "scoreMaximum": 20, "resourceLinkId": "link-1", "tag": "essay"}
    created = call(client, token, "POST", base, json=body)
    assert created.status_code == 415  # not the line item media type
    created = call(client, token, "POST", base, data=json.dumps(body), content_type=LINEITEM_TYPE)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item["id"].startswith(f"{live.base_url}{base}/") and item["label"] == "Essay"
    bad = call(
        client, token, "POST", base, data=json.dumps({"label": "x"}), content_type=LINEITEM_TYPE
    )
    assert bad.status_code == 400 and "scoreMaximum" in bad.get_json()["error_description"]
    found = call(client, token, "GET", base, query_string={"resource_link_id": "link-1"})
    assert [i["id"] for i in found.get_json()] == [item["id"]]
    assert call(client, token, "GET", base, query_string={"tag": "other"}).get_json() == []
    one = call(client, token, "GET", item["id"].removeprefix(live.base_url))
    assert one.status_code == 200 and one.get_json() == item
    assert call(client, token, "GET", f"{base}/nope").status_code == 404


def test_scores_are_validated_and_an_older_one_is_ignored(client, browser, app, live):
    launch(browser, live, "learner")  # the placement's column exists from its first launch
    token = token_for(app, live, SCORE)
    scores = "/sandbox/courses/bio101/lineitems/sandbox-link-bio101-discussion/scores"

    def post(**changes: Any):
        score = {"userId": LIN, "scoreGiven": 7, "scoreMaximum": 10, "comment": "<b>Well done</b>",
                 "activityProgress": "Completed", "gradingProgress": "FullyGraded",
                 "timestamp": "2030-01-02T10:00:00.000+00:00"} | changes  # fmt: skip
        return call(client, token, "POST", scores, data=json.dumps(score), content_type=SCORE_TYPE)

    for wrong in ({"scoreGiven": 11}, {"userId": "nobody"}, {"activityProgress": "Done"},
                  {"gradingProgress": "Graded"}, {"timestamp": "2030-01-02 10:00"},
                  {"scoreGiven": -1}, {"scoreMaximum": None}):  # fmt: skip
        response = post(**wrong)
        assert response.status_code == 400, (wrong, response.get_json())
        assert response.get_json()["error"] == "invalid_score"
    assert post().status_code == 204
    older = post(scoreGiven=1, timestamp="2030-01-02T09:59:59.000+00:00")
    assert older.status_code == 409 and older.get_json()["error"] == "score_outdated"
    assert post(scoreGiven=8, comment="same moment, replaced").status_code == 204

    page = client.get("/sandbox/courses/bio101/gradebook").get_data(as_text=True)
    row = page[page.index("Lin Chen") :].split("</tr>")[0]
    assert "80 / 100" in row and "same moment, replaced" in row and "2030-01-02 10:00:00 UTC" in row
    assert (
        post(comment="<script>alert(1)</script>", timestamp="2030-01-03T00:00:00Z").status_code
        == 204
    )
    page = client.get("/sandbox/courses/bio101/gradebook").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page


def test_roster_sync_fills_members_from_the_sandbox_nrps(runner, browser, live, db_session):
    launch(browser, live, "instructor")
    assert db_session.scalar(select(func.count()).select_from(Membership)) == 1
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 0, result.output
    assert "5 members in 1 page(s): 4 new" in result.output
    assert db_session.scalar(select(func.count()).select_from(Membership)) == 5


def test_sandbox_services_are_absent_when_the_sandbox_is_off(database_url, tmp_path):
    from tests.support import make_app  # noqa: PLC0415

    client = make_app(database_url, tmp_path / "off", sandbox=False).test_client()
    assert client.post("/sandbox/token").status_code == 404
    assert client.get("/sandbox/courses/bio101/gradebook").status_code == 404
