"""The discussion API over HTTP: threads, replies, edits, removal, reactions, roles and tenancy."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from bridge.events import ActivityEvent
from tests.integration.conftest import Member
from widgets.discussion.models import Post, PostRevision, Thread

API = "/api/v1/discussion"


@pytest.fixture
def member_base() -> str:
    return API


def start_thread(member: Member, title: str = "Osmosis?", body: str = "How does **osmosis** work?"):
    response = member.call("POST", "/threads", json={"title": title, "body": body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def opening_post(member: Member, thread_id: str) -> dict:
    return member.call("GET", f"/threads/{thread_id}").get_json()["posts"][0]


def test_learner_starts_a_thread_and_another_replies_twice_deep(member, db_session):
    ada, lin = member("learner"), member("learner2")
    thread = start_thread(ada)
    root = opening_post(ada, thread["id"])
    assert root["body_html"] == "<p>How does <strong>osmosis</strong> work?</p>\n"
    first = lin.call(
        "POST",
        f"/threads/{thread['id']}/posts",
        json={"parent_id": root["id"], "body": "Diffusion of water."},
    )
    assert first.status_code == 201
    second = ada.call(
        "POST",
        f"/threads/{thread['id']}/posts",
        json={"parent_id": first.get_json()["id"], "body": "Thanks!"},
    )
    assert second.status_code == 201 and second.get_json()["depth"] == 2
    third = lin.call(
        "POST",
        f"/threads/{thread['id']}/posts",
        json={"parent_id": second.get_json()["id"], "body": "x"},
    )
    assert third.status_code == 422 and third.get_json()["error"]["code"] == "too_deep"
    listed = ada.call("GET", "/threads").get_json()
    assert listed["threads"][0]["reply_count"] == 2 and listed["next_cursor"] is None
    names = [
        e.name
        for e in db_session.scalars(select(ActivityEvent).order_by(ActivityEvent.occurred_at))
    ]
    assert names == [
        "discussion.thread_created",
        "discussion.reply_created",
        "discussion.reply_created",
    ]


def test_viewer_reads_but_cannot_post(member):
    ada, noor = member("learner"), member("norole")
    thread = start_thread(ada)
    assert noor.call("GET", f"/threads/{thread['id']}").status_code == 200
    refused = noor.call("POST", "/threads", json={"title": "t", "body": "b"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "read_only"


def test_edit_keeps_history_and_marks_edited_and_only_author_or_moderator_may(member, db_session):
    ada, lin, teacher = member("learner"), member("learner2"), member("instructor")
    root = opening_post(ada, start_thread(ada)["id"])
    assert lin.call("PATCH", f"/posts/{root['id']}", json={"body": "hijack"}).status_code == 403
    edited = ada.call("PATCH", f"/posts/{root['id']}", json={"body": "Edited text"}).get_json()
    assert edited["edited"] is True and "Edited text" in edited["body_html"]
    assert teacher.call("PATCH", f"/posts/{root['id']}", json={"body": "Tidied"}).status_code == 200
    revisions = db_session.scalars(select(PostRevision.body).order_by(PostRevision.created_at))
    assert list(revisions) == ["How does **osmosis** work?", "Edited text"]


def test_removed_post_leaves_a_placeholder(member):
    ada, lin = member("learner"), member("learner2")
    thread = start_thread(ada)
    root = opening_post(ada, thread["id"])
    reply = lin.call(
        "POST", f"/threads/{thread['id']}/posts", json={"parent_id": root["id"], "body": "oops"}
    ).get_json()
    assert lin.call("DELETE", f"/posts/{reply['id']}").status_code == 204
    posts = ada.call("GET", f"/threads/{thread['id']}").get_json()["posts"]
    removed = next(p for p in posts if p["id"] == reply["id"])
    assert (
        removed["deleted"] is True and removed["body_html"] == "" and removed["author_name"] == ""
    )


def test_reactions_are_idempotent_per_kind_and_emit_once(member, db_session):
    ada, lin = member("learner"), member("learner2")
    root = opening_post(ada, start_thread(ada)["id"])
    for _ in range(2):
        counts = lin.call(
            "POST", f"/posts/{root['id']}/reactions", json={"kind": "upvote"}
        ).get_json()
    assert counts == {"reactions": {"upvote": 1}}
    given = db_session.scalar(
        select(func.count()).where(ActivityEvent.name == "discussion.reaction_given")
    )
    assert given == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [({"title": "", "body": "b"}, "invalid_input"), ({"title": "t", "body": ""}, "invalid_input"),
     ({"title": "t", "body": "   "}, "empty_body"), ({"title": "t", "body": "x" * 20_001}, "invalid_input"),
     ({"body": "no title"}, "invalid_input")],
)  # fmt: skip
def test_bad_input_is_a_422_with_a_clear_message_and_changes_nothing(
    member, db_session, payload, code
):
    response = member("learner").call("POST", "/threads", json=payload)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == code
    assert db_session.scalar(select(func.count()).select_from(Thread)) == 0


def test_another_courses_ids_are_not_found_and_nothing_changes(member, db_session):
    ada = member("learner")
    thread = start_thread(ada)
    root = opening_post(ada, thread["id"])
    outsider = member("learner2", course="hist220")
    attempts = [
        ("GET", f"/threads/{thread['id']}", None),
        ("POST", f"/threads/{thread['id']}/posts", {"parent_id": root["id"], "body": "x"}),
        ("PATCH", f"/posts/{root['id']}", {"body": "x"}),
        ("DELETE", f"/posts/{root['id']}", None),
        ("POST", f"/posts/{root['id']}/reactions", {"kind": "like"}),
    ]
    for method, path, body in attempts:
        response = outsider.call(method, path, json=body)
        assert response.status_code == 404, (method, path, response.get_json())
    assert outsider.call("GET", "/threads").get_json()["threads"] == []
    assert db_session.scalar(select(func.count()).select_from(Post)) == 1


def test_thread_list_paginates_with_a_cursor(member):
    ada = member("learner")
    for n in range(5):
        start_thread(ada, title=f"Thread {n}")
    first = ada.call("GET", "/threads?limit=2&sort=newest").get_json()
    assert [t["title"] for t in first["threads"]] == ["Thread 4", "Thread 3"]
    second = ada.call(
        "GET", f"/threads?limit=2&sort=newest&cursor={first['next_cursor']}"
    ).get_json()
    assert [t["title"] for t in second["threads"]] == ["Thread 2", "Thread 1"]
    bad = ada.call("GET", "/threads?cursor=not-a-cursor")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_cursor"


def test_api_needs_a_session_and_publishes_an_openapi_spec(client):
    response = client.get(API + "/threads")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/discussion/threads" in spec["paths"]


def test_preview_renders_sanitised_markdown(member):
    response = member("learner").call("POST", "/preview", json={"body": "*hi* <script>x</script>"})
    assert response.status_code == 200
    assert response.get_json()["body_html"] == "<p><em>hi</em> &lt;script&gt;x&lt;/script&gt;</p>\n"


def test_question_asker_accepts_an_answer_and_moderator_endorses(member, db_session):
    ada, lin, teacher = member("learner"), member("learner2"), member("instructor")
    thread = ada.call(
        "POST", "/threads", json={"title": "Why?", "body": "Q", "is_question": True}
    ).get_json()
    root = opening_post(ada, thread["id"])
    answer = lin.call(
        "POST", f"/threads/{thread['id']}/posts", json={"parent_id": root["id"], "body": "A"}
    ).get_json()
    assert (
        lin.call(
            "POST", f"/threads/{thread['id']}/accepted", json={"post_id": answer["id"]}
        ).status_code
        == 403
    )
    accepted = ada.call("POST", f"/threads/{thread['id']}/accepted", json={"post_id": answer["id"]})
    assert accepted.status_code == 200 and accepted.get_json()["accepted_post_id"] == answer["id"]
    assert (
        lin.call("POST", f"/posts/{answer['id']}/endorsed", json={"value": True}).status_code == 403
    )
    assert (
        teacher.call("POST", f"/posts/{answer['id']}/endorsed", json={"value": True}).status_code
        == 204
    )
    names = set(db_session.scalars(select(ActivityEvent.name)))
    assert {"discussion.answer_accepted", "discussion.post_endorsed"} <= names


def test_moderator_pins_locks_and_hides_and_learners_cannot(member):
    ada, lin, teacher = member("learner"), member("learner2"), member("instructor")
    thread = start_thread(ada)
    root = opening_post(ada, thread["id"])
    assert (
        lin.call("POST", f"/threads/{thread['id']}/moderation", json={"locked": True}).status_code
        == 403
    )
    assert (
        teacher.call(
            "POST", f"/threads/{thread['id']}/moderation", json={"pinned": True, "locked": True}
        ).status_code
        == 204
    )
    locked = lin.call(
        "POST", f"/threads/{thread['id']}/posts", json={"parent_id": root["id"], "body": "x"}
    )
    assert locked.status_code == 403 and locked.get_json()["error"]["code"] == "thread_locked"
    assert (
        teacher.call("POST", f"/posts/{root['id']}/hidden", json={"value": True}).status_code == 204
    )
    seen_by_learner = lin.call("GET", f"/threads/{thread['id']}").get_json()["posts"][0]
    assert seen_by_learner["hidden"] is True and seen_by_learner["body_html"] == ""
    assert teacher.call("GET", f"/threads/{thread['id']}").get_json()["posts"][0]["body_html"] != ""


def test_flags_reach_the_moderation_queue_until_resolved(member):
    ada, lin, teacher = member("learner"), member("learner2"), member("instructor")
    root = opening_post(ada, start_thread(ada)["id"])
    assert (
        lin.call("POST", f"/posts/{root['id']}/flags", json={"reason": "rude"}).status_code == 204
    )
    assert (
        lin.call("POST", f"/posts/{root['id']}/flags", json={"reason": "again"}).status_code == 204
    )
    assert ada.call("POST", f"/posts/{root['id']}/flags", json={}).status_code == 422
    assert lin.call("GET", "/moderation/flags").status_code == 403
    flags = teacher.call("GET", "/moderation/flags").get_json()["flags"]
    assert [f["reason"] for f in flags] == ["rude"]
    assert teacher.call("POST", f"/moderation/flags/{flags[0]['id']}/resolved").status_code == 204
    assert teacher.call("GET", "/moderation/flags").get_json()["flags"] == []


def test_anonymous_posts_hide_the_author_from_peers_but_not_from_moderators(member):
    ada, lin, teacher = member("learner"), member("learner2"), member("instructor")
    refused = ada.call("POST", "/threads", json={"title": "t", "body": "b", "anonymous": True})
    assert (
        refused.status_code == 403
        and refused.get_json()["error"]["code"] == "anonymous_not_allowed"
    )
    assert teacher.call("PATCH", "/settings", json={"anonymous_allowed": True}).status_code == 200
    thread = ada.call(
        "POST", "/threads", json={"title": "t", "body": "b", "anonymous": True}
    ).get_json()
    as_peer = lin.call("GET", f"/threads/{thread['id']}").get_json()
    assert (
        as_peer["thread"]["author_name"] == "Anonymous"
        and as_peer["posts"][0]["author_name"] == "Anonymous"
    )
    assert "Lin" not in str(as_peer) and "Chen" not in str(as_peer)  # sandbox "learner" is Lin Chen
    as_moderator = teacher.call("GET", f"/threads/{thread['id']}").get_json()
    assert (
        as_moderator["posts"][0]["author_name"] == "Lin Chen"
        and as_moderator["posts"][0]["anonymous"] is True
    )


def test_posting_too_fast_is_a_429_with_retry_after(member):
    ada, teacher = member("learner"), member("instructor")
    assert teacher.call("PATCH", "/settings", json={"posts_per_minute": 2}).status_code == 200
    start_thread(ada, title="one")
    start_thread(ada, title="two")
    third = ada.call("POST", "/threads", json={"title": "three", "body": "b"})
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) >= 1
    assert third.get_json()["error"]["code"] == "rate_limited"


def test_only_moderators_change_settings_and_may_reserve_threads(member):
    ada, teacher = member("learner"), member("instructor")
    assert ada.call("PATCH", "/settings", json={"anonymous_allowed": True}).status_code == 403
    assert (
        teacher.call("PATCH", "/settings", json={"thread_starters": "moderators"}).status_code
        == 200
    )
    refused = ada.call("POST", "/threads", json={"title": "t", "body": "b"})
    assert (
        refused.status_code == 403
        and refused.get_json()["error"]["code"] == "moderators_start_threads"
    )
    assert ada.call("GET", "/settings").get_json()["thread_starters"] == "moderators"


def test_instructor_sees_participation_and_exports_csv(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    thread = start_thread(lin)
    root = opening_post(lin, thread["id"])
    sam.call("POST", f"/threads/{thread['id']}/posts", json={"parent_id": root["id"], "body": "r"})
    sam.call("POST", f"/posts/{root['id']}/reactions", json={"kind": "like"})
    assert lin.call("GET", "/participation").status_code == 403
    members = {
        m["user_name"]: m for m in teacher.call("GET", "/participation").get_json()["members"]
    }
    assert (members["Lin Chen"]["threads"], members["Lin Chen"]["reactions_received"]) == (1, 1)
    assert (
        members["Sam Okafor"]["replies"] == 1 and members["Ada Lovelace"]["access"] == "moderator"
    )
    exported = teacher.call("GET", "/participation.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    lines = exported.get_data(as_text=True).splitlines()
    assert lines[0].startswith("name,role,threads") and any(
        line.startswith("Lin Chen,participant,1,0,1,0,") for line in lines
    )


def member_id(member: Member, name: str) -> str:
    return next(m["id"] for m in member.call("GET", f"/members?q={name}").get_json()["members"])


def test_replies_mentions_and_accepted_answers_notify_and_badge_counts(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    thread = lin.call(
        "POST", "/threads", json={"title": "Q", "body": "b", "is_question": True}
    ).get_json()
    root = opening_post(lin, thread["id"])
    ada = member_id(sam, "Ada")
    reply = sam.call("POST", f"/threads/{thread['id']}/posts",
                     json={"parent_id": root["id"], "body": "@Ada Lovelace see this", "mentions": [ada]}).get_json()  # fmt: skip
    lin.call("POST", f"/threads/{thread['id']}/accepted", json={"post_id": reply["id"]})
    inbox = lin.call("GET", "/notifications").get_json()
    assert inbox["unread"] == 1 and inbox["notifications"][0]["kind"] == "reply"
    assert (
        inbox["notifications"][0]["actor_name"] == "Sam Okafor"
        and inbox["notifications"][0]["thread_title"] == "Q"
    )
    assert [
        n["kind"] for n in teacher.call("GET", "/notifications").get_json()["notifications"]
    ] == ["mention"]
    assert [n["kind"] for n in sam.call("GET", "/notifications").get_json()["notifications"]] == [
        "accepted"
    ]
    assert lin.call("POST", "/notifications/read").status_code == 204
    assert lin.call("GET", "/notifications").get_json()["unread"] == 0


def test_followers_hear_of_new_replies_and_unread_marks_threads(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    thread = start_thread(lin)
    root = opening_post(lin, thread["id"])
    assert (
        teacher.call("POST", f"/threads/{thread['id']}/following", json={"value": True}).status_code
        == 204
    )
    assert teacher.call("POST", f"/threads/{thread['id']}/read").status_code == 204  # no longer new
    assert teacher.call("GET", "/threads").get_json()["threads"][0]["unread"] is False
    sam.call(
        "POST", f"/threads/{thread['id']}/posts", json={"parent_id": root["id"], "body": "news"}
    )
    listed = teacher.call("GET", "/threads").get_json()["threads"][0]
    assert listed["unread"] is True and listed["following"] is True
    assert [
        n["kind"] for n in teacher.call("GET", "/notifications").get_json()["notifications"]
    ] == ["followed"]


def test_anonymous_reply_does_not_name_its_author_in_notifications(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    teacher.call("PATCH", "/settings", json={"anonymous_allowed": True})
    thread = start_thread(lin)
    root = opening_post(lin, thread["id"])
    sam.call(
        "POST",
        f"/threads/{thread['id']}/posts",
        json={"parent_id": root["id"], "body": "x", "anonymous": True},
    )
    note = lin.call("GET", "/notifications").get_json()["notifications"][0]
    assert note["actor_name"] == "" and "Sam" not in str(note)


def test_members_lists_course_members_only_and_mentions_of_strangers_are_dropped(
    member, db_session
):
    from widgets.discussion.models import Notification  # noqa: PLC0415

    lin = member("learner")
    outsider = member("learner2", course="hist220")
    member("instructor", course="hist220")
    assert (
        lin.call("GET", "/members").get_json()["members"] == []
    )  # nobody else launched into bio101
    stranger = member_id(outsider, "Ada")  # a member of hist220 only
    created = lin.call("POST", "/threads", json={"title": "t", "body": "b", "mentions": [stranger]})
    assert created.status_code == 201
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 0


def test_top_sort_orders_by_reactions_and_search_finds_titles_and_bodies(member):
    lin, sam = member("learner"), member("learner2")
    quiet = start_thread(lin, title="Mitosis steps", body="Prophase first")
    loved = start_thread(lin, title="Cell walls", body="Plants have *cellulose*")
    sam.call(
        "POST", f"/posts/{opening_post(sam, loved['id'])['id']}/reactions", json={"kind": "upvote"}
    )
    top = [t["title"] for t in lin.call("GET", "/threads?sort=top").get_json()["threads"]]
    assert top == ["Cell walls", "Mitosis steps"]
    page = lin.call("GET", "/threads?sort=top&limit=1").get_json()
    rest = lin.call("GET", f"/threads?sort=top&limit=1&cursor={page['next_cursor']}").get_json()
    assert [t["id"] for t in rest["threads"]] == [quiet["id"]]
    assert [t["title"] for t in lin.call("GET", "/threads?q=CELLULOSE").get_json()["threads"]] == [
        "Cell walls"
    ]
    assert [t["title"] for t in lin.call("GET", "/threads?q=mitosis").get_json()["threads"]] == [
        "Mitosis steps"
    ]
    assert lin.call("GET", "/threads?q=100%25").get_json()["threads"] == []


def test_markdown_source_goes_only_to_those_who_may_edit(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    thread = start_thread(lin, body="**source**")
    assert opening_post(lin, thread["id"])["body"] == "**source**"
    assert opening_post(teacher, thread["id"])["body"] == "**source**"
    assert opening_post(sam, thread["id"])["body"] is None


def test_a_reaction_can_be_withdrawn_and_my_reactions_are_listed(member):
    lin, sam = member("learner"), member("learner2")
    thread = start_thread(lin)
    root = opening_post(lin, thread["id"])
    sam.call("POST", f"/posts/{root['id']}/reactions", json={"kind": "like"})
    assert opening_post(sam, thread["id"])["my_reactions"] == ["like"]
    assert opening_post(lin, thread["id"])["my_reactions"] == []
    withdrawn = sam.call("DELETE", f"/posts/{root['id']}/reactions/like")
    assert withdrawn.status_code == 200 and withdrawn.get_json() == {"reactions": {}}
    assert (
        sam.call("DELETE", f"/posts/{root['id']}/reactions/like").status_code == 200
    )  # idempotent
    assert lin.call("GET", "/threads?sort=top").get_json()["threads"][0]["id"] == thread["id"]


def test_email_digest_is_off_by_default_and_mails_each_notification_once(
    member, runner, app, caplog
):
    lin, sam = member("learner"), member("learner2")
    root = opening_post(lin, (thread := start_thread(lin, title="Osmosis"))["id"])
    sam.call(
        "POST",
        f"/threads/{thread['id']}/posts",
        json={"parent_id": root["id"], "body": "secret body text"},
    )
    off = runner.invoke(args=["discussion", "digest"])
    assert off.exit_code == 1 and "digest is off" in off.output
    preview = runner.invoke(args=["discussion", "digest", "--dry-run"]).output
    assert (
        "To: lin@sandbox.invalid" in preview and "Sam Okafor replied to you in “Osmosis”" in preview
    )
    assert "secret body text" not in preview
    rt = app.extensions["bridge.runtime"]
    rt.settings = replace(
        rt.settings, discussion_email_digest=True
    )  # as BRIDGE_DISCUSSION_EMAIL_DIGEST=1
    with caplog.at_level("INFO", logger="bridge.mail"):
        sent = runner.invoke(args=["discussion", "digest"])
    assert sent.exit_code == 0 and "1 digest email(s) sent" in sent.output
    assert "lin@sandbox.invalid" in caplog.text
    assert "0 digest email(s) sent" in runner.invoke(args=["discussion", "digest"]).output


def test_nul_characters_never_reach_the_database(member):
    lin = member("learner")
    created = lin.call("POST", "/threads", json={"title": "a\x00b", "body": "c\x00d"})
    assert created.status_code == 201 and created.get_json()["title"] == "ab"
    assert lin.call("GET", "/members?q=%00").status_code == 200
    assert lin.call("GET", "/threads?q=x%00y").status_code == 200


def test_thread_detail_says_whether_i_follow_it(member):
    lin, sam = member("learner"), member("learner2")
    thread = start_thread(lin)
    assert thread["following"] is True  # its author follows it from the start, as the reply says
    assert lin.call("GET", f"/threads/{thread['id']}").get_json()["thread"]["following"] is True
    assert sam.call("GET", f"/threads/{thread['id']}").get_json()["thread"]["following"] is False
