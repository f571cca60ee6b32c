"""Request and response shapes of the discussion API (validated by flask-smorest/marshmallow)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from widgets.discussion import rules
from widgets.discussion.service import SORTS


class ThreadListArgs(Schema):
    sort = fields.String(load_default="active", validate=validate.OneOf(SORTS))
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class NewThread(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_TITLE))
    body = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_BODY))
    is_question = fields.Boolean(load_default=False)


class NewPost(Schema):
    parent_id = fields.UUID(required=True)
    body = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_BODY))


class PostEdit(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_BODY))


class ReactionArgs(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(sorted(rules.REACTIONS)))


class ThreadOut(Schema):
    id = fields.UUID()
    title = fields.String()
    author_name = fields.String()
    is_question = fields.Boolean()
    pinned = fields.Boolean()
    locked = fields.Boolean()
    reply_count = fields.Integer()
    created_at = fields.DateTime()
    last_activity_at = fields.DateTime()


class PostOut(Schema):
    id = fields.UUID()
    parent_id = fields.UUID(allow_none=True)
    depth = fields.Integer()
    author_name = fields.String()
    body_html = fields.String()
    created_at = fields.DateTime()
    edited = fields.Boolean()
    deleted = fields.Boolean()
    mine = fields.Boolean()
    reactions = fields.Dict(keys=fields.String(), values=fields.Integer())


class ThreadPageOut(Schema):
    threads = fields.List(fields.Nested(ThreadOut))
    next_cursor = fields.String(allow_none=True)


class ThreadDetailOut(Schema):
    thread = fields.Nested(ThreadOut)
    posts = fields.List(fields.Nested(PostOut))


class ReactionsOut(Schema):
    reactions = fields.Dict(keys=fields.String(), values=fields.Integer())


class PreviewOut(Schema):
    body_html = fields.String()
