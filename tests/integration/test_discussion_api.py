"""The discussion API over HTTP: threads, replies, edits, removal, reactions, roles and tenancy."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bridge.events import ActivityEvent
from tests.integration.conftest import sandbox_launch, session_token
from widgets.discussion.models import Post, PostRevision, Thread

API = "/api/v1/discussion"


class Member:
    """A launched user: their bearer token against the app's test client."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, **kwargs):
        return self.client.open(
            API + path, method=method, headers={"Authorization": f"Bearer {self.token}"}, **kwargs
        )


@pytest.fixture
def member(client, browser, live):
    def launch(user: str, course: str = "bio101") -> Member:
        status, text = sandbox_launch(browser, live, course, user, "discussion")
        assert status == 200, text
        return Member(client, session_token(text))

    return launch


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
