"""The discussion JSON API used by the widget's own scripts (bearer session, scoped to its placement)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint

from bridge.auth import current_scope, renew_session_header, require_session
from bridge.web import db, event_bus, reads
from widgets.discussion import schemas
from widgets.discussion.rules import clean, render_markdown
from widgets.discussion.service import DiscussionService

bp = Blueprint(
    "discussion",
    __name__,
    url_prefix="/api/v1/discussion",
    description="Threads, replies and reactions.",
)
bp.after_request(renew_session_header)


def text(data: dict[str, Any]) -> dict[str, Any]:
    """The request's strings without NUL characters (PostgreSQL text cannot hold them)."""
    return {key: clean(value) if isinstance(value, str) else value for key, value in data.items()}


def service() -> DiscussionService:
    return DiscussionService(db, current_scope(), event_bus(), reads())


# Threads and posts come from the service as JSON-ready documents (it builds them in one pass,
# deciding what this viewer may see), so their views answer with ``jsonify`` instead of having
# flask-smorest dump them again; ``@bp.response`` still documents them with the schemas, and
# tests/unit/widgets/test_discussion_docs.py checks that the documents match those schemas.


@bp.get("/threads")
@require_session
@bp.arguments(schemas.ThreadListArgs(), location="query")
@bp.response(200, schemas.ThreadPageOut)
def list_threads(args: dict[str, Any]) -> Any:
    """Threads of this placement, newest activity first, cursor-paginated."""
    return jsonify(service().list_threads(args["sort"], args["cursor"], args["limit"], args["q"]))


@bp.post("/threads")
@require_session
@bp.arguments(schemas.NewThread)
@bp.response(201, schemas.ThreadOut)
def create_thread(data: dict[str, Any]) -> Any:
    """Start a thread (participants and moderators)."""
    data = text(data)
    thread = service().create_thread(
        data["title"], data["body"], data["is_question"], data["anonymous"], data["mentions"]
    )
    return jsonify(thread), 201


@bp.get("/threads/<uuid:thread_id>")
@require_session
@bp.response(200, schemas.ThreadDetailOut)
def get_thread(thread_id: uuid.UUID) -> Any:
    """A thread with its posts (removed posts keep their place, without content)."""
    thread, posts = service().get_thread(thread_id)
    return jsonify({"thread": thread, "posts": posts})


@bp.post("/threads/<uuid:thread_id>/posts")
@require_session
@bp.arguments(schemas.NewPost)
@bp.response(201, schemas.PostOut)
def reply(data: dict[str, Any], thread_id: uuid.UUID) -> Any:
    """Reply to the opening post or to a reply (two levels)."""
    data = text(data)
    post = service().reply(
        thread_id, data["parent_id"], data["body"], data["anonymous"], data["mentions"]
    )
    return jsonify(post), 201


@bp.patch("/posts/<uuid:post_id>")
@require_session
@bp.arguments(schemas.PostEdit)
@bp.response(200, schemas.PostOut)
def edit_post(data: dict[str, Any], post_id: uuid.UUID) -> Any:
    """Edit a post (author or moderator); the previous text is kept."""
    data = text(data)
    return jsonify(service().edit_post(post_id, data["body"]))


@bp.delete("/posts/<uuid:post_id>")
@require_session
@bp.response(204)
def delete_post(post_id: uuid.UUID) -> None:
    """Remove a post (author or moderator); a placeholder keeps the thread readable."""
    service().delete_post(post_id)


@bp.post("/posts/<uuid:post_id>/reactions")
@require_session
@bp.arguments(schemas.ReactionArgs)
@bp.response(200, schemas.ReactionsOut)
def react(data: dict[str, Any], post_id: uuid.UUID) -> Any:
    """React to a post (idempotent per kind)."""
    return {"reactions": service().react(post_id, data["kind"])}


@bp.post("/preview")
@require_session
@bp.arguments(schemas.PostEdit)
@bp.response(200, schemas.PreviewOut)
def preview(data: dict[str, Any]) -> Any:
    """The HTML a body would render to (Markdown, sanitised), for the editor's preview."""
    data = text(data)
    return {"body_html": render_markdown(data["body"])}


@bp.delete("/posts/<uuid:post_id>/reactions/<string:kind>")
@require_session
@bp.response(200, schemas.ReactionsOut)
def withdraw_reaction(post_id: uuid.UUID, kind: str) -> Any:
    """Take back one's own reaction of this kind."""
    return {"reactions": service().withdraw_reaction(post_id, kind)}


@bp.post("/threads/<uuid:thread_id>/accepted")
@require_session
@bp.arguments(schemas.AcceptArgs)
@bp.response(200, schemas.ThreadOut)
def accept_answer(data: dict[str, Any], thread_id: uuid.UUID) -> Any:
    """Mark a reply as the accepted answer of a question (asker or moderator); null clears it."""
    return jsonify(service().accept_answer(thread_id, data["post_id"]))


@bp.post("/threads/<uuid:thread_id>/moderation")
@require_session
@bp.arguments(schemas.ThreadFlags)
@bp.response(204)
def moderate_thread(data: dict[str, Any], thread_id: uuid.UUID) -> None:
    """Pin or lock a thread (moderators)."""
    service().set_thread_flags(thread_id, pinned=data["pinned"], locked=data["locked"])


@bp.post("/posts/<uuid:post_id>/endorsed")
@require_session
@bp.arguments(schemas.FlagValue)
@bp.response(204)
def endorse(data: dict[str, Any], post_id: uuid.UUID) -> None:
    """Endorse a post, or withdraw the endorsement (moderators)."""
    service().endorse(post_id, data["value"])


@bp.post("/posts/<uuid:post_id>/hidden")
@require_session
@bp.arguments(schemas.FlagValue)
@bp.response(204)
def hide(data: dict[str, Any], post_id: uuid.UUID) -> None:
    """Hide a post from learners, or show it again (moderators)."""
    service().set_hidden(post_id, data["value"])


@bp.post("/posts/<uuid:post_id>/flags")
@require_session
@bp.arguments(schemas.FlagArgs)
@bp.response(204)
def flag(data: dict[str, Any], post_id: uuid.UUID) -> None:
    """Report a post to the moderators."""
    service().flag(post_id, data["reason"])


@bp.get("/moderation/flags")
@require_session
@bp.response(200, schemas.FlagListOut)
def open_flags() -> Any:
    """The moderation queue: flagged posts not yet resolved (moderators)."""
    return {"flags": service().open_flags()}


@bp.post("/moderation/flags/<uuid:flag_id>/resolved")
@require_session
@bp.response(204)
def resolve_flag(flag_id: uuid.UUID) -> None:
    """Take a flag off the queue (moderators)."""
    service().resolve_flag(flag_id)


@bp.get("/settings")
@require_session
@bp.response(200, schemas.SettingsOut)
def get_settings() -> Any:
    """This placement's discussion settings."""
    return service().settings()


@bp.patch("/settings")
@require_session
@bp.arguments(schemas.SettingsArgs)
@bp.response(200, schemas.SettingsOut)
def update_settings(data: dict[str, Any]) -> Any:
    """Change the placement's settings (moderators): anonymity, who starts threads, posting rate."""
    return service().update_settings(**data)


@bp.get("/participation")
@require_session
@bp.response(200, schemas.ParticipationListOut)
def participation() -> Any:
    """Participation per course member in this placement (moderators)."""
    return {"members": service().participation()}


@bp.get("/participation.csv")
@require_session
def participation_csv() -> Response:
    """The same as CSV, for a spreadsheet (cells that a spreadsheet would run as formulas are quoted)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in service().participation():
        writer.writerow([
            _cell(row.user_name), row.access, row.threads, row.replies, row.reactions_received,
            row.accepted_answers, row.last_activity_at.isoformat() if row.last_activity_at else "",
        ])  # fmt: skip
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="participation.csv"'
    return response


@bp.post("/threads/<uuid:thread_id>/following")
@require_session
@bp.arguments(schemas.FlagValue)
@bp.response(204)
def follow(data: dict[str, Any], thread_id: uuid.UUID) -> None:
    """Follow a thread (notified of every reply) or stop following it."""
    service().follow(thread_id, data["value"])


@bp.post("/threads/<uuid:thread_id>/read")
@require_session
@bp.response(204)
def mark_read(thread_id: uuid.UUID) -> None:
    """Record that the member has read the thread (its unread mark clears)."""
    service().mark_read(thread_id)


@bp.get("/notifications")
@require_session
@bp.response(200, schemas.InboxOut)
def notifications() -> Any:
    """Replies to my posts, mentions, accepted answers, followed threads; ``unread`` is the badge."""
    items, unread = service().notifications()
    return {"notifications": items, "unread": unread}


@bp.post("/notifications/read")
@require_session
@bp.response(204)
def read_notifications() -> None:
    """Mark every notification here as read."""
    service().mark_notifications_read()


@bp.get("/members")
@require_session
@bp.arguments(schemas.MemberArgs, location="query")
@bp.response(200, schemas.MemberListOut)
def members(args: dict[str, Any]) -> Any:
    """Course members to @mention (names from launches)."""
    return {"members": service().members(args["q"])}


CSV_HEADER = (
    "name",
    "role",
    "threads",
    "replies",
    "reactions_received",
    "accepted_answers",
    "last_activity",
)


def _cell(text: str) -> str:
    """Defuse spreadsheet formula injection (OWASP "CSV injection")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
