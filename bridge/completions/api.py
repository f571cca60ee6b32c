"""The completions JSON API: a placement's rules (instructors set them) and learners' standing."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from bridge.auth import current_scope, renew_session_header, require_session
from bridge.completions import schemas
from bridge.completions.engine import EXTENSION_KEY, CompletionEngine
from bridge.completions.service import CompletionService
from bridge.web import db

bp = Blueprint(
    "completions",
    __name__,
    url_prefix="/api/v1/completions",
    description="What counts as complete in this placement, and who has completed it.",
)
bp.after_request(renew_session_header)


def service() -> CompletionService:
    engine: CompletionEngine = current_app.extensions[EXTENSION_KEY]
    return CompletionService(db(), current_scope(), engine)


@bp.get("/rules")
@require_session
@bp.response(200, schemas.RulesOut)
def get_rules() -> Any:
    """The placement's completion rule and the criteria its widget offers."""
    return service().rules()


@bp.put("/rules")
@require_session
@bp.arguments(schemas.RulesIn)
@bp.response(200, schemas.RulesOut)
def put_rules(data: dict[str, Any]) -> Any:
    """Set the rule (instructors): criteria combine with AND; a change adds a rule version."""
    return service().set_rules(data["criteria"], data["score_mode"])


@bp.get("/me")
@require_session
@bp.response(200, schemas.MyStandingOut)
def my_standing() -> Any:
    """The viewer's progress against the rule, and where it was delivered."""
    return service().my_standing()


@bp.get("/learners")
@require_session
@bp.response(200, schemas.StandingsOut)
def learners() -> Any:
    """Every learner's progress and delivery state (instructors)."""
    return service().standings()
