"""Request and response shapes of the discussion API (validated by flask-smorest/marshmallow)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from widgets.discussion import rules
from widgets.discussion.service import SORTS


class ThreadListArgs(Schema):
    sort = fields.String(load_default="active", validate=validate.OneOf(SORTS))
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))
    q = fields.String(load_default="", validate=validate.Length(max=200))


class NewThread(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_TITLE))
    body = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_BODY))
    is_question = fields.Boolean(load_default=False)
    anonymous = fields.Boolean(load_default=False)
    mentions = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=20))


class NewPost(Schema):
    parent_id = fields.UUID(required=True)
    body = fields.String(required=True, validate=validate.Length(min=1, max=rules.MAX_BODY))
    anonymous = fields.Boolean(load_default=False)
    mentions = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=20))


class AcceptArgs(Schema):
    post_id = fields.UUID(required=True, allow_none=True)


class FlagValue(Schema):
    value = fields.Boolean(required=True)


class ThreadFlags(Schema):
    pinned = fields.Boolean(load_default=None)
    locked = fields.Boolean(load_default=None)


class FlagArgs(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class SettingsArgs(Schema):
    anonymous_allowed = fields.Boolean(load_default=None)
    thread_starters = fields.String(
        load_default=None, validate=validate.OneOf(["everyone", "moderators"])
    )
    posts_per_minute = fields.Integer(load_default=None, validate=validate.Range(min=1, max=120))


class SettingsOut(Schema):
    anonymous_allowed = fields.Boolean()
    thread_starters = fields.String()
    posts_per_minute = fields.Integer()


class FlagOut(Schema):
    id = fields.UUID()
    post_id = fields.UUID()
    thread_id = fields.UUID()
    reason = fields.String()
    created_at = fields.DateTime()


class FlagListOut(Schema):
    flags = fields.List(fields.Nested(FlagOut))


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
    anonymous = fields.Boolean()
    accepted_post_id = fields.UUID(allow_none=True)
    unread = fields.Boolean()
    following = fields.Boolean()


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
    anonymous = fields.Boolean()
    endorsed = fields.Boolean()
    hidden = fields.Boolean()
    body = fields.String(allow_none=True)  # Markdown source, only for the author and moderators
    my_reactions = fields.List(fields.String())


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


class ParticipationOut(Schema):
    user_name = fields.String()
    access = fields.String()
    threads = fields.Integer()
    replies = fields.Integer()
    reactions_received = fields.Integer()
    accepted_answers = fields.Integer()
    last_activity_at = fields.DateTime(allow_none=True)


class ParticipationListOut(Schema):
    members = fields.List(fields.Nested(ParticipationOut))


class NotificationOut(Schema):
    id = fields.UUID()
    kind = fields.String()
    thread_id = fields.UUID()
    thread_title = fields.String()
    post_id = fields.UUID(allow_none=True)
    actor_name = fields.String()
    created_at = fields.DateTime()
    read = fields.Boolean()


class InboxOut(Schema):
    notifications = fields.List(fields.Nested(NotificationOut))
    unread = fields.Integer()


class MemberArgs(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=100))


class MemberOut(Schema):
    id = fields.UUID()
    name = fields.String()


class MemberListOut(Schema):
    members = fields.List(fields.Nested(MemberOut))
