"""The polled reads (thread list, thread page) over HTTP: per-viewer fields stay the viewer's own."""

from __future__ import annotations

import base64
import uuid

from tests.integration.test_discussion_api import (
    member_base,  # noqa: F401 - the fixture: paths below the discussion API
    opening_post,
    start_thread,
)


def test_thread_list_names_an_anonymous_author_only_to_them_and_moderators(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    assert teacher.call("PATCH", "/settings", json={"anonymous_allowed": True}).status_code == 200
    lin.call("POST", "/threads", json={"title": "secret", "body": "b", "anonymous": True})
    start_thread(sam, title="open")
    for sort in ("active", "newest", "top"):
        by_title = {t["title"]: t for t in sam.call("GET", f"/threads?sort={sort}").json["threads"]}
        assert by_title["secret"]["author_name"] == "Anonymous"
        assert "Lin" not in str(by_title["secret"]) and "Chen" not in str(by_title["secret"])
    own = {t["title"]: t for t in lin.call("GET", "/threads").json["threads"]}
    moderated = {t["title"]: t for t in teacher.call("GET", "/threads").json["threads"]}
    assert own["secret"]["author_name"] == "Lin Chen" == moderated["secret"]["author_name"]


def test_visits_and_reactions_of_others_do_not_show_as_the_viewers_own(member):
    lin, sam, teacher = member("learner"), member("learner2"), member("instructor")
    thread = start_thread(lin)
    root = opening_post(lin, thread["id"])
    teacher.call("POST", f"/threads/{thread['id']}/following", json={"value": True})
    teacher.call("POST", f"/threads/{thread['id']}/read")
    teacher.call("POST", f"/posts/{root['id']}/reactions", json={"kind": "like"})
    sam.call("POST", f"/posts/{root['id']}/reactions", json={"kind": "like"})
    sam.call("POST", f"/posts/{root['id']}/reactions", json={"kind": "thanks"})

    as_sam = sam.call("GET", f"/threads/{thread['id']}").json
    assert as_sam["thread"]["following"] is False and as_sam["thread"]["unread"] is True
    assert as_sam["posts"][0]["reactions"] == {"like": 2, "thanks": 1}
    assert as_sam["posts"][0]["my_reactions"] == ["like", "thanks"]
    as_teacher = teacher.call("GET", f"/threads/{thread['id']}").json
    assert as_teacher["thread"]["following"] is True and as_teacher["thread"]["unread"] is False
    assert as_teacher["posts"][0]["my_reactions"] == ["like"]
    assert opening_post(lin, thread["id"])["my_reactions"] == []
    listed = sam.call("GET", "/threads").json["threads"][0]
    assert listed["following"] is False and listed["unread"] is True


def test_thread_page_lists_posts_in_order_with_their_parents(member):
    lin, sam = member("learner"), member("learner2")
    thread = start_thread(lin)
    root = opening_post(lin, thread["id"])
    first = sam.call(
        "POST", f"/threads/{thread['id']}/posts", json={"parent_id": root["id"], "body": "one"}
    ).json
    second = lin.call(
        "POST", f"/threads/{thread['id']}/posts", json={"parent_id": first["id"], "body": "two"}
    ).json
    page = sam.call("GET", f"/threads/{thread['id']}").json
    assert [(p["id"], p["parent_id"], p["depth"]) for p in page["posts"]] == [
        (root["id"], None, 0),
        (first["id"], root["id"], 1),
        (second["id"], first["id"], 2),
    ]
    assert [p["mine"] for p in page["posts"]] == [False, True, False]
    assert page["thread"]["reply_count"] == 2


def test_a_cursor_with_a_time_without_zone_is_a_422_when_listing(member):
    ada = member("learner")
    cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{uuid.uuid4()}".encode()).decode()
    refused = ada.call("GET", f"/threads?cursor={cursor}")
    assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid_cursor"


def test_every_read_hands_its_database_connection_back(member, app):
    """The polled reads use a snapshot of their own; the request closes it, after errors too."""
    lin = member("learner")
    thread = start_thread(lin)
    pool = app.extensions["bridge.runtime"].database.engine.pool
    for path, status in [("/threads", 200), (f"/threads/{thread['id']}", 200),
                         (f"/threads/{uuid.uuid4()}", 404), ("/threads?cursor=bad", 422)]:  # fmt: skip
        assert lin.call("GET", path).status_code == status
        assert pool.checkedout() == 0
