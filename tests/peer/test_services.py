"""LTI Advantage services against lti1p3platform over real HTTP: tokens, NRPS roster sync, AGS scores.

A real launch carries the library's AGS and NRPS claims (pointing at :class:`PeerServices`); then
`bridge roster sync` and ``AGSConnector.deliver`` talk to the library's token endpoint and
services. The glue checks what the library does not (assertion iss/sub/aud/jti, per-endpoint
scopes) and records refusals in ``services.problems``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from bridge.tenancy.models import (
    Context,
    Deployment,
    Membership,
    MembershipStatus,
    Registration,
    ResourceLink,
    User,
)
from connectors import ags
from connectors.ags import AGSConnector
from connectors.base import (
    COMPLETION,
    PROGRESS,
    Delivered,
    DeliveryItem,
    Learner,
    Placement,
    Platform,
    Runtime,
)
from lti.services import AccessTokenError, ServiceEndpoint, access_tokens_for
from tests.peer.conftest import run_launch
from tests.peer.platform import CLIENT_ID, INSTRUCTOR, LEARNER, LIS, LaunchPlan, PeerPlatform
from tests.peer.services import AGS_SCOPE, NRPS_SCOPE, PeerServices

SESSION_META = re.compile(r'name="bridge-session" content="([^"]+)"')
TA = LIS + "membership/Instructor#TeachingAssistant"
ROSTER = [
    {"user_id": "peer-user-1", "roles": [INSTRUCTOR], "name": "Peer Instructor"},
    {"user_id": "never-1", "roles": [LEARNER], "given_name": "Nia", "family_name": "New",
     "name": "Nia New", "email": "nia@peer.invalid"},
    {"user_id": "never-2", "roles": [TA], "name": "Tom Assistant"},
    {"user_id": "learner-9", "roles": [LEARNER], "name": "Lou Learner"},
    {"user_id": "left-1", "roles": [LEARNER], "name": "Lee Left", "status": "Inactive"},
]  # fmt: skip


@pytest.fixture
def services(peer_server: PeerPlatform, client) -> Iterator[PeerServices]:
    glue = PeerServices(peer_server, lambda: client.get("/.well-known/jwks.json").get_json())
    yield glue
    glue.close()


@pytest.fixture
def advantage(peer_server: PeerPlatform, services: PeerServices, runner) -> PeerPlatform:
    """The peer registered with the services' token URL; its launches offer AGS and NRPS."""
    ags._LINE_ITEMS.clear()
    peer_server.plan = LaunchPlan(extra_claims=services.launch_claims())
    peer_server.auth_requests.clear()
    args = peer_server.cli_add_args("--auth-token-url", services.token_url)
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return peer_server


def rows(app, statement):
    with app.extensions["bridge.runtime"].database.transaction() as session:
        return session.execute(statement).all()


def test_launch_records_the_services_and_roster_sync_fills_the_course(
    advantage, services, client, runner, app
):
    launched = run_launch(client, advantage)
    assert launched.response.status_code == 200, launched.text
    ((context, link),) = rows(
        app, select(Context, ResourceLink).join(ResourceLink, ResourceLink.context_id == Context.id)
    )
    assert context.nrps_url == services.nrps_url
    assert (
        link.ags
        == services.launch_claims()["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    )

    services.members = [dict(member) for member in ROSTER]
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 0, result.output
    assert (
        "5 members in 3 page(s): 3 new, 0 updated, 1 unchanged, 0 no longer current"
        in result.output
    )
    assert services.problems == []

    members = {
        user.sub: (membership.access, membership.status, user.name, user.email)
        for user, membership in rows(
            app, select(User, Membership).join(Membership, Membership.user_id == User.id)
        )
    }
    assert members == {
        "peer-user-1": (
            "moderator",
            MembershipStatus.ACTIVE,
            "Peer Instructor",
            "instructor@peer.invalid",
        ),
        "never-1": ("participant", MembershipStatus.ACTIVE, "Nia New", "nia@peer.invalid"),
        "never-2": ("moderator", MembershipStatus.ACTIVE, "Tom Assistant", ""),
        "learner-9": ("participant", MembershipStatus.ACTIVE, "Lou Learner", ""),
    }  # fmt: skip - "left-1" (Inactive) was never known here: nothing to record

    nrps_calls = [call for call in services.calls if call.path == "/nrps/memberships"]
    assert [call.query.get("page") for call in nrps_calls] == [None, "2", "3"]
    for call in nrps_calls:
        assert call.accept == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        assert NRPS_SCOPE in call.scopes
    assert services.assertions and all(
        a["header"]["alg"] == "RS256" and a["header"]["kid"] for a in services.assertions
    )

    # Members who never launched are in the discussion's @mention list.
    token = SESSION_META.search(launched.text).group(1)
    listed = client.get("/api/v1/discussion/members", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.get_data(as_text=True)
    names = {member["name"] for member in listed.get_json()["members"]}
    assert {"Nia New", "Tom Assistant", "Lou Learner"} <= names

    # A member found by a family name only; one the roster says has left is no longer listed.
    auth = {"Authorization": f"Bearer {token}"}
    found = client.get("/api/v1/discussion/members?q=new", headers=auth).get_json()["members"]
    assert [member["name"] for member in found] == ["Nia New"]
    services.members = [
        dict(member, status="Inactive") if member["user_id"] == "learner-9" else dict(member)
        for member in ROSTER
    ]
    assert runner.invoke(args=["roster", "sync"]).exit_code == 0
    listed = client.get("/api/v1/discussion/members", headers=auth).get_json()["members"]
    assert "Lou Learner" not in {member["name"] for member in listed}


def test_roster_sync_marks_a_member_who_left_when_the_platform_says_so(
    advantage, services, client, runner, app
):
    assert run_launch(client, advantage).response.status_code == 200
    services.members = [dict(member) for member in ROSTER[:4]]
    assert runner.invoke(args=["roster", "sync"]).exit_code == 0
    services.members = [ROSTER[0], ROSTER[1] | {"status": "Inactive"}, ROSTER[3]]
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 0, result.output
    assert "2 no longer current" in result.output  # never-1 inactive, never-2 absent
    statuses = dict(
        rows(
            app, select(User.sub, Membership.status).join(Membership, Membership.user_id == User.id)
        )
    )
    assert statuses["never-1"] == MembershipStatus.INACTIVE
    assert statuses["never-2"] == MembershipStatus.DELETED
    assert statuses["learner-9"] == MembershipStatus.ACTIVE


def test_roster_sync_fails_with_the_reason_when_the_platform_refuses_the_token(
    advantage, services, client, runner
):
    assert run_launch(client, advantage).response.status_code == 200
    services.tool_jwks = lambda: {"keys": []}  # the platform does not know the tool's key
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 1
    assert "refused the access token request (HTTP 401, invalid_client)" in result.output


def delivery_item(app, kind: str, recorded_at: datetime, score: str, sub: str) -> DeliveryItem:
    """The item the worker would build for ``sub`` in the launched placement."""
    ((link, context, deployment, registration),) = rows(
        app,
        select(ResourceLink, Context, Deployment, Registration)
        .join(Context, Context.id == ResourceLink.context_id)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .join(Registration, Registration.id == Deployment.registration_id),
    )
    (user_id,) = rows(app, select(User.id).where(User.sub == sub))[0]
    completed = kind == COMPLETION
    return DeliveryItem(
        outbox_id=uuid.uuid4(),
        ledger_id=uuid.uuid4(),
        record_id=uuid.uuid4(),
        kind=kind,
        score=Decimal(score),
        completed=completed,
        criteria_met=("Started a thread", "Replied twice")[: 2 if completed else 1],
        criteria_total=2,
        recorded_at=recorded_at,
        attempt=1,
        learner=Learner(user_id=user_id, sub=sub),
        placement=Placement(
            id=link.id,
            resource_link_id=link.resource_link_id,
            title=link.title,
            widget=link.widget,
            context_id=context.context_id,
            context_title=context.title,
            ags=dict(link.ags),
        ),
        platform=Platform(
            registration_id=registration.id,
            issuer=registration.issuer,
            client_id=registration.client_id,
            deployment_id=deployment.deployment_id,
            token_url=registration.auth_token_url,
            audience=registration.auth_audience,
        ),
        completion_id=uuid.uuid4() if completed else None,
    )


def ags_connector(app) -> AGSConnector:
    runtime = Runtime(http=requests.Session(), timeout=5.0, tokens=access_tokens_for(app))
    return AGSConnector({"score_maximum": 20}, runtime)


def test_ags_connector_posts_scores_the_platform_records(advantage, services, client, app):
    advantage.plan.user_id, advantage.plan.roles, advantage.plan.name = (
        "learner-9",
        [LEARNER],
        "Lou",
    )
    assert run_launch(client, advantage).response.status_code == 200
    connector = ags_connector(app)
    start = datetime.now(UTC).replace(microsecond=123000)

    progress = delivery_item(app, PROGRESS, start, "0.5", "learner-9")
    first = connector.deliver(progress)
    assert isinstance(first, Delivered), first
    (line_item,) = services.gradebook.line_items.values()
    assert line_item["resourceLinkId"] == "peer-link-1"
    assert line_item["tag"] == "social-bridge"
    assert line_item["label"] == "Peer activity"
    assert line_item["scoreMaximum"] == 20
    assert first.remote_id == line_item["id"] and line_item["id"].endswith("?type_id=7")

    ags._LINE_ITEMS.clear()  # another worker process: it finds the line item instead of adding one
    completion = delivery_item(app, COMPLETION, start + timedelta(seconds=2), "1", "learner-9")
    second = connector.deliver(completion)
    assert isinstance(second, Delivered), second
    assert len(services.gradebook.line_items) == 1

    scores = services.gradebook.scores[line_item["id"]]
    assert scores == [
        {"userId": "learner-9", "scoreGiven": 10, "scoreMaximum": 20,
         "activityProgress": "InProgress", "gradingProgress": "FullyGraded",
         "timestamp": start.isoformat(timespec="milliseconds"),
         "comment": "Criteria met (1 of 2): Started a thread."},
        {"userId": "learner-9", "scoreGiven": 20, "scoreMaximum": 20,
         "activityProgress": "Completed", "gradingProgress": "FullyGraded",
         "timestamp": (start + timedelta(seconds=2)).isoformat(timespec="milliseconds"),
         "comment": "Criteria met (2 of 2): Started a thread; Replied twice."},
    ]  # fmt: skip

    repeat = connector.deliver(completion)  # at-least-once: the platform keeps one copy
    assert isinstance(repeat, Delivered) and repeat.status == 409
    assert len(scores) == 2

    assert services.problems == []
    by_path = {(call.method, call.path.split("/")[-1]): call for call in services.calls}
    assert AGS_SCOPE + "score" in by_path["POST", "scores"].scopes
    assert by_path["POST", "scores"].content_type == "application/vnd.ims.lis.v1.score+json"
    assert by_path["GET", "lineitems"].query == {
        "resource_link_id": "peer-link-1",
        "tag": "social-bridge",
    }
    assert by_path["POST", "lineitems"].content_type == "application/vnd.ims.lis.v2.lineitem+json"
    for assertion in services.assertions:
        claims = assertion["claims"]
        assert claims["iss"] == claims["sub"] == CLIENT_ID and claims["aud"] == services.token_url
    tokens_issued = {a["claims"]["jti"] for a in services.assertions}
    assert len(tokens_issued) == len(services.assertions) == 1  # one token, from the shared cache


def test_ags_connector_uses_the_placement_line_item_when_the_claim_names_one(
    advantage, services, client, app
):
    own = services.add_line_item(label="Graded discussion", scoreMaximum=5)
    advantage.plan.extra_claims = services.launch_claims(lineitem=own)
    advantage.plan.user_id, advantage.plan.roles = "learner-9", [LEARNER]
    assert run_launch(client, advantage).response.status_code == 200
    item = delivery_item(app, COMPLETION, datetime.now(UTC), "0.8", "learner-9")
    outcome = ags_connector(app).deliver(item)
    assert isinstance(outcome, Delivered), outcome
    assert len(services.gradebook.line_items) == 1
    (score,) = services.gradebook.scores[own]
    assert score["scoreGiven"] == 16 and score["userId"] == "learner-9"
    assert not [call for call in services.calls if call.path.endswith("/lineitems")]
    assert services.problems == []


def test_glue_refuses_assertions_the_library_alone_would_accept(advantage, services, app):
    """The library checks only signature and expiry; the glue's own checks must bite."""
    tokens = access_tokens_for(app)
    elsewhere = ServiceEndpoint(CLIENT_ID, services.token_url, "https://elsewhere.example/token")
    with pytest.raises(AccessTokenError) as caught:
        tokens.token(elsewhere, (NRPS_SCOPE,))
    assert caught.value.status == 401 and "aud" in services.problems[-1]
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": tokens.client_assertion(ServiceEndpoint(CLIENT_ID, services.token_url)),
        "scope": NRPS_SCOPE,
    }
    assert requests.post(services.token_url, data=form, timeout=5).status_code == 200
    assert requests.post(services.token_url, data=form, timeout=5).status_code == 401  # replayed
    assert "jti" in services.problems[-1]


def test_a_launch_offering_nrps_queues_one_roster_sync_that_the_worker_runs(
    advantage, services, client, app
):
    services.members = [dict(member) for member in ROSTER]
    assert run_launch(client, advantage).response.status_code == 200
    queue = app.extensions["bridge.jobs"].queue
    queued = [task for task in queue.pending() if task.name == "roster_sync"]
    assert len(queued) == 1
    for task in queued:
        queue.dequeue()  # taken off the queue as the consumer would, then run
        queue.execute(task)
    names = {user.name for (user,) in rows(app, select(User))}
    assert {"Nia New", "Tom Assistant", "Lou Learner"} <= names
    assert services.problems == []

    assert run_launch(client, advantage).response.status_code == 200  # synced recently: no new job
    assert [task for task in queue.pending() if task.name == "roster_sync"] == []
