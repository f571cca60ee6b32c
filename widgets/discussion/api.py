"""The discussion JSON API used by the widget's own scripts (bearer session, scoped to its placement)."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from bridge.auth import current_scope, renew_session_header, require_session
from bridge.web import db, event_bus
from widgets.discussion import schemas
from widgets.discussion.rules import render_markdown
from widgets.discussion.service import DiscussionService

bp = Blueprint(
    "discussion",
    __name__,
    url_prefix="/api/v1/discussion",
    description="Threads, replies and reactions.",
)
bp.after_request(renew_session_header)


def service() -> DiscussionService:
    return DiscussionService(db(), current_scope(), event_bus())


@bp.get("/threads")
@require_session
@bp.arguments(schemas.ThreadListArgs, location="query")
@bp.response(200, schemas.ThreadPageOut)
def list_threads(args: dict[str, Any]) -> Any:
    """Threads of this placement, newest activity first, cursor-paginated."""
    return service().list_threads(args["sort"], args["cursor"], args["limit"])


@bp.post("/threads")
@require_session
@bp.arguments(schemas.NewThread)
@bp.response(201, schemas.ThreadOut)
def create_thread(data: dict[str, Any]) -> Any:
    """Start a thread (participants and moderators)."""
    return service().create_thread(data["title"], data["body"], data["is_question"])


@bp.get("/threads/<uuid:thread_id>")
@require_session
@bp.response(200, schemas.ThreadDetailOut)
def get_thread(thread_id: uuid.UUID) -> Any:
    """A thread with its posts (removed posts keep their place, without content)."""
    thread, posts = service().get_thread(thread_id)
    return {"thread": thread, "posts": posts}


@bp.post("/threads/<uuid:thread_id>/posts")
@require_session
@bp.arguments(schemas.NewPost)
@bp.response(201, schemas.PostOut)
def reply(data: dict[str, Any], thread_id: uuid.UUID) -> Any:
    """Reply to the opening post or to a reply (two levels)."""
    return service().reply(thread_id, data["parent_id"], data["body"])


@bp.patch("/posts/<uuid:post_id>")
@require_session
@bp.arguments(schemas.PostEdit)
@bp.response(200, schemas.PostOut)
def edit_post(data: dict[str, Any], post_id: uuid.UUID) -> Any:
    """Edit a post (author or moderator); the previous text is kept."""
    return service().edit_post(post_id, data["body"])


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
    return {"body_html": render_markdown(data["body"])}
