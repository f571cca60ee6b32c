"""The widget shell: the page a launch lands on, and the JSON endpoints its scripts call.

Until each widget's own pages land, one template filled from the widget catalogue shows who you
are, your role, the course and the widget, and proves the bearer session works.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, render_template

from bridge.auth import current_scope, renew_session_header, require_session
from bridge.errors import ForbiddenError
from bridge.tenancy.scope import Scope
from bridge.tenancy.service import PlacementView, describe_placement
from bridge.web import db
from bridge.widgets import current_catalogue

bp = Blueprint("shell", __name__, url_prefix="/api/v1")
bp.after_request(renew_session_header)


def _placement_json(view: PlacementView, scope: Scope) -> dict[str, object]:
    widget = current_catalogue().get(view.widget)
    return {
        "user": {"name": view.user_name, "sub": view.user_sub},
        "access": view.access,
        "can_post": scope.access.can_post,
        "can_moderate": scope.access.can_moderate,
        "is_admin": scope.is_admin,
        "roles": list(view.roles),
        "context": {"title": view.context_title, "standalone": view.context_synthetic},
        "placement": {
            "id": str(scope.resource_link_id),
            "title": view.placement_title,
            "widget": view.widget,
            "widget_title": widget.title if widget else view.widget,
        },
    }


@bp.get("/session")
@require_session
def get_session() -> Response:
    """Who and where the bearer token stands for."""
    scope = current_scope()
    return jsonify(_placement_json(describe_placement(db(), scope), scope))


@bp.get("/placements/<uuid:placement_id>")
@require_session
def get_placement(placement_id: uuid.UUID) -> Response:
    """A placement, only if it is the one the session was granted for."""
    scope = current_scope()
    if placement_id != scope.resource_link_id:
        raise ForbiddenError(
            "This session is not valid for that placement.", code="other_placement"
        )
    return jsonify(_placement_json(describe_placement(db(), scope), scope))


def render_shell(scope: Scope, view: PlacementView, token: str) -> str:
    """The widget page of a fresh launch, carrying its session token for the page's scripts."""
    widget = current_catalogue().get(view.widget)
    if widget is not None and widget.page is not None:
        return str(widget.page(scope, view, token))
    return render_template("shell.html", view=view, widget=widget, scope=scope, session_token=token)
