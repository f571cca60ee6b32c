"""NRPS 2.0 memberships (paging, cap, bad answers) and the roster upsert, the platform mocked by responses."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests
import responses
from sqlalchemy import select, update

from bridge.db import utcnow
from bridge.launch import Launch, LaunchContext, LaunchResourceLink, LaunchServices, LaunchUser
from bridge.tenancy import roster
from bridge.tenancy.models import Context, Membership, MembershipStatus, User
from bridge.tenancy.service import (
    RegistrationSpec,
    add_registration,
    find_registration,
    record_launch,
)
from lti.nrps import MEDIA_TYPE, SCOPE, NRPSClient, NRPSError, member_of, sync_context
from lti.services import ServiceEndpoint

ISSUER = "https://lms.example"
TOKEN_URL = ISSUER + "/token"
NRPS_URL = ISSUER + "/api/lti/courses/1/names_and_roles"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
ENDPOINT = ServiceEndpoint("client-1", TOKEN_URL)


class Tokens:
    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []
        self.forgotten = 0

    def token(self, platform, scopes):
        self.asked.append(scopes)
        return f"token-{len(self.asked)}"

    def forget(self, platform, scopes):
        self.forgotten += 1


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def tokens():
    return Tokens()


@pytest.fixture
def nrps(tokens):
    return NRPSClient(tokens, timeout=4.0, max_pages=3)


def member(user_id, role="Learner", **extra):
    return {"user_id": user_id, "roles": [role if "/" in role else LIS + role], **extra}


def page(mocked, url, members, next_url=None, status=200):
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    mocked.add(
        responses.GET,
        url,
        json={"id": url, "context": {"id": "course-1"}, "members": members},
        headers=headers,
        status=status,
        content_type=MEDIA_TYPE,
        match=[responses.matchers.query_string_matcher(url.partition("?")[2])],
    )


# -- the client -----------------------------------------------------------------------------------


def test_every_page_is_read_when_the_platform_links_them(nrps, mocked, tokens):
    page(mocked, NRPS_URL, [member("u1"), member("u2")], NRPS_URL + "?page=2")
    page(mocked, NRPS_URL + "?page=2", [member("u3")], "?page=3")  # relative links resolve
    page(mocked, NRPS_URL + "?page=3", [member("u4", status="Inactive")])
    roster_ = nrps.fetch(ENDPOINT, NRPS_URL)
    assert [m.sub for m in roster_.members] == ["u1", "u2", "u3", "u4"]
    assert roster_.complete and roster_.pages == 3
    assert roster_.members[3].status == MembershipStatus.INACTIVE
    for call in mocked.calls:
        assert call.request.headers["Accept"] == MEDIA_TYPE
        assert call.request.headers["Authorization"].startswith("Bearer token-")
        assert call.request.req_kwargs["timeout"] == 4.0
    assert set(tokens.asked) == {(SCOPE,)}


def test_reading_stops_incomplete_when_the_page_cap_is_reached(nrps, mocked):
    for number in range(1, 4):
        page(mocked, f"{NRPS_URL}?page={number}", [member(f"u{number}")], f"?page={number + 1}")
    roster_ = nrps.fetch(ENDPOINT, NRPS_URL + "?page=1")
    assert not roster_.complete and roster_.pages == 3
    assert len(roster_.members) == 3


@pytest.mark.parametrize(
    "body", ["<html>oops</html>", '{"members": "none"}', '{"id": "x"}', "[1, 2]", ""]
)
def test_bad_answer_is_an_error_when_it_is_not_a_membership_container(nrps, mocked, body):
    mocked.add(responses.GET, NRPS_URL, body=body, status=200)
    with pytest.raises(NRPSError) as caught:
        nrps.fetch(ENDPOINT, NRPS_URL)
    assert caught.value.code == "nrps_invalid_response"


def test_token_is_renewed_once_when_the_platform_answers_401(nrps, mocked, tokens):
    mocked.add(responses.GET, NRPS_URL, status=401)
    page(mocked, NRPS_URL, [member("u1")])
    assert [m.sub for m in nrps.fetch(ENDPOINT, NRPS_URL).members] == ["u1"]
    assert tokens.forgotten == 1
    assert [c.request.headers["Authorization"] for c in mocked.calls] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_refusal_is_an_error_with_its_status_when_401_persists(nrps, mocked, tokens):
    mocked.add(responses.GET, NRPS_URL, status=401)
    mocked.add(responses.GET, NRPS_URL, status=401)
    with pytest.raises(NRPSError) as caught:
        nrps.fetch(ENDPOINT, NRPS_URL)
    assert caught.value.status == 401 and len(mocked.calls) == 2


@pytest.mark.parametrize("status", [302, 403, 404, 500])
def test_refusal_is_an_error_with_its_status_when_the_platform_fails(nrps, mocked, status):
    mocked.add(responses.GET, NRPS_URL, status=status, headers={"Location": ISSUER + "/login"})
    with pytest.raises(NRPSError) as caught:
        nrps.fetch(ENDPOINT, NRPS_URL)
    assert caught.value.status == status and len(mocked.calls) == 1  # no redirect followed


def test_unreachable_service_is_an_error_when_it_times_out(nrps, mocked):
    mocked.add(responses.GET, NRPS_URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(NRPSError) as caught:
        nrps.fetch(ENDPOINT, NRPS_URL)
    assert caught.value.code == "nrps_unreachable"


def test_next_page_on_another_site_is_refused_when_linked(nrps, mocked):
    page(mocked, NRPS_URL, [member("u1")], "https://evil.example/steal")
    with pytest.raises(NRPSError) as caught:
        nrps.fetch(ENDPOINT, NRPS_URL)
    assert caught.value.code == "nrps_foreign_page"
    assert len(mocked.calls) == 1


def test_paging_loop_is_an_error_when_a_page_links_to_itself(mocked, tokens):
    page(mocked, NRPS_URL, [member("u1")], NRPS_URL)
    with pytest.raises(NRPSError) as caught:
        NRPSClient(tokens, timeout=4.0).fetch(ENDPOINT, NRPS_URL)
    assert caught.value.code == "nrps_paging_loop"


def test_unusable_entries_are_skipped_when_a_page_has_them(nrps, mocked):
    entries = [
        member("ok"),
        {"roles": []},
        member(""),
        member("x\x00y"),
        member("r" * 256),
        member("bad-status", status="Suspended"),
        member("bad-roles") | {"roles": "Learner"},
        "not an object",
    ]
    page(mocked, NRPS_URL, entries)
    roster_ = nrps.fetch(ENDPOINT, NRPS_URL)
    assert [m.sub for m in roster_.members] == ["ok"] and roster_.skipped == 7


def test_member_is_read_with_the_personal_data_the_platform_shares():
    read = member_of(
        member("42", "Instructor", status="Deleted", name="Ada\x00 L", given_name="Ada", email=7)
    )
    assert read is not None
    assert read.sub == "42" and read.roles == (LIS + "Instructor",)
    assert read.status == MembershipStatus.DELETED
    assert (read.name, read.given_name, read.family_name, read.email) == ("Ada L", "Ada", "", "")
    assert member_of({"user_id": 7, "roles": []}).sub == "7"
    assert member_of(member("u", status=None)).status == MembershipStatus.ACTIVE


# -- the roster upsert and sync_context -----------------------------------------------------------


def launch_of(sub, role, **personal):
    return Launch(
        issuer=ISSUER,
        client_id="client-1",
        deployment_id="dep-1",
        message_type="LtiResourceLinkRequest",
        user=LaunchUser(sub, **personal),
        roles=(LIS + role,),
        resource_link=LaunchResourceLink("link-1", "Week 1"),
        widget="discussion",
        context=LaunchContext("course-1", "Biology 101"),
        services=LaunchServices(nrps_url=NRPS_URL),
    )


def seed(app, *launches):
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        registration = add_registration(
            session,
            RegistrationSpec(
                issuer=ISSUER,
                client_id="client-1",
                auth_login_url=ISSUER + "/auth",
                key_set_url=ISSUER + "/jwks",
                auth_token_url=TOKEN_URL,
                deployment_ids=["dep-1"],
            ),
        )
        scope = None
        for launch in launches:
            scope = record_launch(session, registration, registration.deployments[0], launch).scope
        return scope.context_id


def relaunch(app, launch):
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        registration = find_registration(session, ISSUER, "client-1", with_deployments=True)
        record_launch(session, registration, registration.deployments[0], launch)


def grant_tokens(mocked, times=1):
    for _ in range(times):
        mocked.add(
            responses.POST,
            TOKEN_URL,
            json={"access_token": "nrps-token", "token_type": "bearer", "expires_in": 3600},
        )


def memberships(app, context_id):
    """sub -> (status, access, roles, name, email) of the course's memberships."""
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        rows = session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.context_id == context_id)
        )
        return {
            user.sub: (m.status, m.access, tuple(m.roles), user.name, user.email)
            for user, m in rows
        }


def current_subs(app, context_id):
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        return set(
            session.scalars(
                select(User.sub)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.context_id == context_id, roster.current_members())
            )
        )


TEACHER = launch_of("teacher-1", "Instructor", name="Tess Teacher", email="tess@lms.example")
LEARNER = launch_of("learner-1", "Learner", name="Lee Learner", email="lee@lms.example")


def test_sync_adds_members_who_never_launched_and_keeps_personal_data(app, mocked):
    context_id = seed(app, TEACHER, LEARNER)
    grant_tokens(mocked)
    page(
        mocked,
        NRPS_URL,
        [
            member(
                "teacher-1", "Instructor", name="Tess Teacher"
            ),  # no email: keep the one we have
            member("learner-1", "Learner", name="", given_name="Lee"),
            member("new-1", "Learner", given_name="Nia", family_name="New", email="nia@x.example"),
            member("ta-1", TA, name="Tam Assistant"),
            member("gone-1", "Learner", status="Deleted"),  # never known: nothing to record
        ],
    )
    result = sync_context(app, context_id)
    assert result.roster.complete
    assert (result.changes.added, result.changes.ignored, result.changes.deactivated) == (2, 1, 0)
    rows = memberships(app, context_id)
    assert rows["teacher-1"][3:] == ("Tess Teacher", "tess@lms.example")
    assert rows["learner-1"][3:] == ("Lee Learner", "lee@lms.example")
    assert rows["new-1"][:2] == (MembershipStatus.ACTIVE, "participant")
    assert rows["new-1"][4] == "nia@x.example"
    assert rows["ta-1"][1] == "moderator"
    assert "gone-1" not in rows
    assert current_subs(app, context_id) == {"teacher-1", "learner-1", "new-1", "ta-1"}


def test_sync_marks_members_who_left_when_the_roster_says_or_omits_them(app, mocked):
    context_id = seed(app, TEACHER, LEARNER, launch_of("learner-2", "Learner", name="Two"))
    grant_tokens(mocked)
    page(
        mocked,
        NRPS_URL,
        [member("teacher-1", "Instructor"), member("learner-1", "Learner", status="Inactive")],
    )
    result = sync_context(app, context_id)
    assert result.changes.deactivated == 2
    rows = memberships(app, context_id)
    assert rows["learner-1"][0] == MembershipStatus.INACTIVE
    assert rows["learner-2"][0] == MembershipStatus.DELETED  # absent from a complete roster
    assert current_subs(app, context_id) == {"teacher-1"}


def test_nobody_is_marked_gone_when_the_roster_is_incomplete_or_empty(app, mocked):
    context_id = seed(app, TEACHER, LEARNER)
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        changes = roster.apply_roster(session, context_id, [], complete=True)
        assert changes.deactivated == 0
        changes = roster.apply_roster(
            session, context_id, [roster.RosterMember("teacher-1")], complete=False
        )
        assert changes.deactivated == 0 and changes.unchanged == 1
    assert current_subs(app, context_id) == {"teacher-1", "learner-1"}


def test_member_counts_again_when_they_launch_after_the_sync_that_ended_them(app, mocked):
    context_id = seed(app, TEACHER, LEARNER)
    grant_tokens(mocked)
    page(mocked, NRPS_URL, [member("teacher-1", "Instructor")])
    sync_context(app, context_id)
    assert current_subs(app, context_id) == {"teacher-1"}
    rt = app.extensions["bridge.runtime"]
    earlier = utcnow() - timedelta(hours=1)
    with rt.database.transaction() as session:  # the sync and the last launch an hour ago
        session.execute(update(Membership).values(synced_at=earlier, last_seen_at=earlier))
    relaunch(app, LEARNER)
    assert current_subs(app, context_id) == {"teacher-1", "learner-1"}
    assert memberships(app, context_id)["learner-1"][0] == MembershipStatus.DELETED  # as synced


def test_sync_is_refused_when_the_course_has_no_nrps_url(app):
    context_id = seed(app, TEACHER)
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        session.execute(update(Context).values(nrps_url=""))
    with pytest.raises(NRPSError) as caught:
        sync_context(app, context_id)
    assert caught.value.code == "nrps_not_offered"


# -- bridge roster sync ---------------------------------------------------------------------------


def test_cli_syncs_every_course_with_progress_when_run_without_options(app, runner, mocked):
    context_id = seed(app, TEACHER)
    grant_tokens(mocked)
    page(mocked, NRPS_URL, [member("teacher-1", "Instructor"), member("new-1")])
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 0, result.output
    assert f"[1/1] Biology 101 ({context_id}): 2 members in 1 page(s): 1 new" in result.output


def test_cli_exits_non_zero_with_the_reason_when_the_platform_fails(app, runner, mocked):
    seed(app, TEACHER)
    grant_tokens(mocked)
    mocked.add(responses.GET, NRPS_URL, status=500)
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 1
    assert "failed: The platform's membership service answered HTTP 500." in result.output
    assert "1 of 1 course(s) could not be synced" in result.output


def test_cli_reports_a_token_refusal_when_the_platform_refuses_the_tool(app, runner, mocked):
    context_id = seed(app, TEACHER)
    mocked.add(responses.POST, TOKEN_URL, status=401, json={"error": "invalid_client"})
    result = runner.invoke(args=["roster", "sync", "--context", str(context_id)])
    assert result.exit_code == 1
    assert "refused the access token request (HTTP 401, invalid_client)" in result.output


def test_cli_fails_when_the_course_is_unknown(app, runner):
    result = runner.invoke(args=["roster", "sync", "--context", str(uuid.uuid4())])
    assert result.exit_code == 1 and "No course with id" in result.output
    result = runner.invoke(args=["roster", "sync", "--context", "not-a-uuid"])
    assert result.exit_code == 2


def test_cli_says_so_when_no_course_offers_nrps(app, runner):
    result = runner.invoke(args=["roster", "sync"])
    assert result.exit_code == 0 and "No course has offered NRPS yet" in result.output
