"""The thread and post documents the API returns: their shape is the schemas', and each viewer
sees only what they may (anonymous authors, hidden and removed posts, Markdown sources)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bridge.errors import InvalidInputError
from bridge.tenancy.rules import Access
from bridge.tenancy.scope import Scope
from widgets.discussion import schemas
from widgets.discussion.service import (
    _POSTS,
    _REACTIONS,
    _THREAD,
    _THREAD_ROWS,
    SORTS,
    DiscussionService,
    _parse_cursor,
    _PostRow,
    _thread_page_statement,
    _ThreadRow,
)

WHEN = datetime(2026, 11, 27, 9, 30, 5, 120034, tzinfo=UTC)
ON_THE_SECOND = datetime(2026, 11, 27, 9, 30, 5, tzinfo=UTC)  # isoformat drops the microseconds
AUTHOR, PEER, TEACHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def reader(user: uuid.UUID, access: Access = Access.PARTICIPANT) -> DiscussionService:
    ids = [uuid.uuid4() for _ in range(5)]
    return DiscussionService(None, Scope(*ids, user_id=user, access=access), None)  # type: ignore[arg-type]


PEER_VIEW, AUTHOR_VIEW = reader(PEER), reader(AUTHOR)
MODERATOR_VIEW, VIEWER_VIEW = reader(TEACHER, Access.MODERATOR), reader(PEER, Access.VIEWER)
EVERYONE = [PEER_VIEW, AUTHOR_VIEW, MODERATOR_VIEW, VIEWER_VIEW]


def thread_row(**changes: object) -> _ThreadRow:
    row = _ThreadRow(
        id=uuid.uuid4(), author_id=AUTHOR, title="Osmosis?", is_question=False, pinned=False,
        locked=False, anonymous=False, accepted_post_id=None, reply_count=3, score=1,
        created_at=WHEN, last_activity_at=WHEN, name="Lin Chen", given_name="Lin",
        family_name="Chen", last_read_at=None, following=None,
    )  # fmt: skip
    return row._replace(**changes)


def post_row(**changes: object) -> _PostRow:
    row = _PostRow(
        id=uuid.uuid4(), parent_id=uuid.uuid4(), depth=1, author_id=AUTHOR, body="**hi**",
        body_html="<p><strong>hi</strong></p>\n", anonymous=False, endorsed=False, hidden=False,
        created_at=ON_THE_SECOND, edited_at=None, deleted_at=None, name=None, given_name="Lin",
        family_name="Chen",
    )  # fmt: skip
    return row._replace(**changes)


THREADS = [
    thread_row(),
    thread_row(title="Ünïcode — “quotes” <b>", anonymous=True, is_question=True, pinned=True,
               locked=True, accepted_post_id=uuid.uuid4(), created_at=ON_THE_SECOND,
               last_read_at=WHEN - timedelta(hours=1), following=True),
]  # fmt: skip
POSTS = [
    post_row(parent_id=None, depth=0),
    post_row(anonymous=True, endorsed=True, edited_at=WHEN),
    post_row(hidden=True),
    post_row(deleted_at=WHEN),
]


@pytest.mark.parametrize("row", THREADS)
@pytest.mark.parametrize("service", EVERYONE)
def test_a_thread_document_has_the_shape_its_schema_documents(service, row):
    doc = service._thread_doc(row, row, row.last_read_at, row.following)
    schema = schemas.ThreadOut()
    assert set(doc) == set(schema.fields) and schema.dump(schema.load(doc)) == doc


@pytest.mark.parametrize("row", POSTS)
@pytest.mark.parametrize("service", EVERYONE)
def test_a_post_document_has_the_shape_its_schema_documents(service, row):
    doc = service._post_doc(row, row, {"like": 2, "upvote": 1}, ["upvote", "like"])
    schema = schemas.PostOut()
    assert set(doc) == set(schema.fields) and schema.dump(schema.load(doc)) == doc


def test_an_anonymous_author_is_named_only_to_themselves_and_moderators():
    thread, post = thread_row(anonymous=True), post_row(anonymous=True)
    for service, expected in [(PEER_VIEW, "Anonymous"), (VIEWER_VIEW, "Anonymous"),
                              (AUTHOR_VIEW, "Lin Chen"), (MODERATOR_VIEW, "Lin Chen")]:  # fmt: skip
        assert service._thread_doc(thread, thread)["author_name"] == expected
        assert service._post_doc(post, post, {})["author_name"] == expected
    assert "Lin" not in str(PEER_VIEW._post_doc(post, post, {}))
    assert "Lin" not in str(PEER_VIEW._thread_doc(thread, thread))


def test_a_hidden_post_keeps_only_its_place_for_learners_but_not_for_moderators():
    post = post_row(hidden=True)
    for service in (PEER_VIEW, AUTHOR_VIEW):
        doc = service._post_doc(post, post, {"like": 1}, ["like"])
        assert (doc["author_name"], doc["body_html"], doc["body"]) == ("", "", None)
        assert (doc["reactions"], doc["my_reactions"], doc["mine"]) == ({}, [], False)
    shown = MODERATOR_VIEW._post_doc(post, post, {"like": 1})
    assert shown["body_html"] and shown["author_name"] == "Lin Chen" and shown["body"] == "**hi**"


def test_a_removed_post_keeps_only_its_place_for_everyone():
    post = post_row(deleted_at=WHEN)
    for service in EVERYONE:
        doc = service._post_doc(post, post, {"like": 1}, ["like"])
        assert (doc["author_name"], doc["body_html"], doc["body"], doc["deleted"]) == (
            "", "", None, True,
        )  # fmt: skip


def test_the_markdown_source_goes_only_to_the_author_and_moderators():
    post = post_row()
    assert [s._post_doc(post, post, {})["body"] for s in EVERYONE] == [
        None, "**hi**", "**hi**", None,
    ]  # fmt: skip
    assert [s._post_doc(post, post, {})["mine"] for s in EVERYONE] == [False, True, False, False]


def test_unread_and_following_come_from_the_viewers_visit():
    thread = thread_row(last_activity_at=WHEN)
    assert PEER_VIEW._thread_doc(thread, thread, None, None)["unread"] is True
    seen = PEER_VIEW._thread_doc(thread, thread, WHEN, True)
    assert seen["unread"] is False and seen["following"] is True


def test_row_tuples_name_the_columns_of_their_statements_in_order():
    statements = [_THREAD_ROWS, _THREAD] + [
        _thread_page_statement(sort, after) for sort in SORTS for after in (False, True)
    ]
    for statement in statements:
        assert list(statement.selected_columns.keys()) == list(_ThreadRow._fields)
    assert list(_POSTS.selected_columns.keys()) == list(_PostRow._fields)


def test_every_polled_statement_is_bound_to_the_placement_when_compiled():
    by_viewer = [_THREAD, _REACTIONS] + [
        _thread_page_statement(sort, after) for sort in SORTS for after in (False, True)
    ]
    for statement in [*by_viewer, _POSTS]:
        assert "link" in statement.compile().params
    for statement in by_viewer:
        assert "viewer" in statement.compile().params


def test_a_cursor_with_a_time_without_zone_is_refused_when_parsed():
    cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{uuid.uuid4()}".encode()).decode()
    with pytest.raises(InvalidInputError):
        _parse_cursor(cursor, "active")
    aware = base64.urlsafe_b64encode(f"{WHEN.isoformat()}|{uuid.uuid4()}".encode()).decode()
    assert _parse_cursor(aware, "newest")[0] == WHEN
