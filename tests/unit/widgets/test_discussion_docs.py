"""The thread and post documents the API returns: their shape is the schemas', and each viewer
sees only what they may (anonymous authors, hidden and removed posts, Markdown sources)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import fields
from sqlalchemy.dialects import sqlite

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
    _thread_page,
    _ThreadRow,
)

WHEN = datetime(2026, 11, 27, 9, 30, 5, 120034, tzinfo=UTC)
ON_THE_SECOND = "2026-11-27T09:30:05.000000+00:00"  # as the polled reads render timestamps
SQLITE = sqlite.dialect()
AUTHOR, PEER, TEACHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def reader(user: uuid.UUID, access: Access = Access.PARTICIPANT) -> DiscussionService:
    ids = [uuid.uuid4() for _ in range(5)]
    return DiscussionService(None, Scope(*ids, user_id=user, access=access), None)  # type: ignore[arg-type]


def thread_doc(service: DiscussionService, row: _ThreadRow) -> dict:
    """The document ``service``'s viewer gets (whether they wrote it is decided by the query)."""
    return service._thread_doc(row._replace(own=int(service._scope.user_id == AUTHOR)))


def post_doc(service: DiscussionService, row: _PostRow, *args: Any) -> dict:
    return service._post_doc(row._replace(own=int(service._scope.user_id == AUTHOR)), *args)


PEER_VIEW, AUTHOR_VIEW = reader(PEER), reader(AUTHOR)
MODERATOR_VIEW, VIEWER_VIEW = reader(TEACHER, Access.MODERATOR), reader(PEER, Access.VIEWER)
EVERYONE = [PEER_VIEW, AUTHOR_VIEW, MODERATOR_VIEW, VIEWER_VIEW]


def thread_row(**changes: object) -> _ThreadRow:
    row = _ThreadRow(
        id=str(uuid.uuid4()), own=False, title="Osmosis?", is_question=0, pinned=0,
        locked=0, anonymous=0, accepted_post_id=None, reply_count=3, score=1,
        created_at=WHEN.isoformat(), last_activity_at=WHEN.isoformat(), name="Lin Chen",
        given_name="Lin", family_name="Chen", unread=1, following=None,
    )  # fmt: skip
    return row._replace(**changes)


def post_row(**changes: object) -> _PostRow:
    row = _PostRow(
        id=str(uuid.uuid4()), parent_id=str(uuid.uuid4()), depth=1, own=False,
        body="**hi**", body_html="<p><strong>hi</strong></p>\n", anonymous=0, endorsed=0,
        hidden=0, created_at=ON_THE_SECOND, edited=0, deleted=0, name=None, given_name="Lin",
        family_name="Chen",
    )  # fmt: skip
    return row._replace(**changes)


THREADS = [
    thread_row(),
    thread_row(title="Ünïcode — “quotes” <b>", anonymous=True, is_question=True, pinned=True,
               locked=True, accepted_post_id=str(uuid.uuid4()), created_at=ON_THE_SECOND,
               unread=False, following=True),
]  # fmt: skip
POSTS = [
    post_row(parent_id=None, depth=0),
    post_row(anonymous=True, endorsed=True, edited=True),
    post_row(hidden=1),
    post_row(deleted=1),
]


def assert_documented(doc: dict, schema: Any) -> None:
    """The fields are the schema's, load and dump round-trip, and flags are JSON booleans."""
    loaded = schema.load(doc)
    assert set(doc) == set(schema.fields) and schema.load(schema.dump(loaded)) == loaded
    for name, field in schema.fields.items():
        if isinstance(field, fields.Boolean):
            assert type(doc[name]) is bool, name
        if isinstance(field, fields.DateTime):
            assert datetime.fromisoformat(doc[name]).tzinfo is not None, name


@pytest.mark.parametrize("row", THREADS)
@pytest.mark.parametrize("service", EVERYONE)
def test_a_thread_document_has_the_shape_its_schema_documents(service, row):
    doc = thread_doc(service, row)
    schema = schemas.ThreadOut()
    assert_documented(doc, schema)


@pytest.mark.parametrize("row", POSTS)
@pytest.mark.parametrize("service", EVERYONE)
def test_a_post_document_has_the_shape_its_schema_documents(service, row):
    doc = post_doc(service, row, {"like": 2, "upvote": 1}, ["upvote", "like"])
    schema = schemas.PostOut()
    assert_documented(doc, schema)


def test_an_anonymous_author_is_named_only_to_themselves_and_moderators():
    thread, post = thread_row(anonymous=True), post_row(anonymous=True)
    for service, expected in [(PEER_VIEW, "Anonymous"), (VIEWER_VIEW, "Anonymous"),
                              (AUTHOR_VIEW, "Lin Chen"), (MODERATOR_VIEW, "Lin Chen")]:  # fmt: skip
        assert thread_doc(service, thread)["author_name"] == expected
        assert post_doc(service, post, {})["author_name"] == expected
    assert "Lin" not in str(post_doc(PEER_VIEW, post, {}))
    assert "Lin" not in str(thread_doc(PEER_VIEW, thread))


def test_a_hidden_post_keeps_only_its_place_for_learners_but_not_for_moderators():
    post = post_row(hidden=1)
    for service in (PEER_VIEW, AUTHOR_VIEW):
        doc = post_doc(service, post, {"like": 1}, ["like"])
        assert (doc["author_name"], doc["body_html"], doc["body"]) == ("", "", None)
        assert (doc["reactions"], doc["my_reactions"], doc["mine"]) == ({}, [], False)
    shown = post_doc(MODERATOR_VIEW, post, {"like": 1})
    assert shown["body_html"] and shown["author_name"] == "Lin Chen" and shown["body"] == "**hi**"


def test_a_removed_post_keeps_only_its_place_for_everyone():
    post = post_row(deleted=1)
    for service in EVERYONE:
        doc = post_doc(service, post, {"like": 1}, ["like"])
        assert (doc["author_name"], doc["body_html"], doc["body"], doc["deleted"]) == (
            "", "", None, True,
        )  # fmt: skip


def test_the_markdown_source_goes_only_to_the_author_and_moderators():
    post = post_row()
    assert [post_doc(s, post, {})["body"] for s in EVERYONE] == [
        None, "**hi**", "**hi**", None,
    ]  # fmt: skip
    assert [post_doc(s, post, {})["mine"] for s in EVERYONE] == [False, True, False, False]


def test_flags_are_json_booleans_whatever_the_driver_returned():
    never_opened = thread_doc(PEER_VIEW, thread_row(unread=1, following=None))
    assert never_opened["unread"] is True and never_opened["following"] is False
    seen = thread_doc(PEER_VIEW, thread_row(unread=0, following=1, pinned=1))
    assert (seen["unread"], seen["following"], seen["pinned"]) == (False, True, True)
    assert all(
        type(v) is bool for k, v in seen.items() if k in ("is_question", "locked", "anonymous")
    )


def test_row_tuples_name_the_columns_of_their_statements_in_order():
    statements = [_THREAD_ROWS, _THREAD.statement] + [
        _thread_page(sort, after).statement for sort in SORTS for after in (False, True)
    ]
    for statement in statements:
        assert list(statement.selected_columns.keys()) == list(_ThreadRow._fields)
    assert list(_POSTS.statement.selected_columns.keys()) == list(_PostRow._fields)


def test_every_polled_statement_is_bound_to_the_placement_when_compiled():
    by_viewer = [_THREAD.statement, _REACTIONS.statement] + [
        _thread_page(sort, after).statement for sort in SORTS for after in (False, True)
    ]
    for statement in [*by_viewer, _POSTS.statement]:
        assert "link" in statement.compile(dialect=SQLITE).params
    for statement in by_viewer:
        assert "viewer" in statement.compile(dialect=SQLITE).params


def test_a_cursor_with_a_time_without_zone_is_refused_when_parsed():
    cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{uuid.uuid4()}".encode()).decode()
    with pytest.raises(InvalidInputError):
        _parse_cursor(cursor, "active")
    aware = base64.urlsafe_b64encode(f"{WHEN.isoformat()}|{uuid.uuid4()}".encode()).decode()
    assert _parse_cursor(aware, "newest")[0] == WHEN
