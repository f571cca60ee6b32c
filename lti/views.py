"""LTI endpoints: OIDC login, launch, the tool's JWKS and its configuration document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from bridge.errors import LaunchError
from bridge.runtime import runtime
from bridge.shell import render_shell
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Deployment
from bridge.urls import is_tool_url, tool_base_url, tool_url
from bridge.web import db
from bridge.widgets import current_catalogue
from lti import keys
from lti.launch import build_launch
from lti.oidc import BridgeOIDCLogin
from lti.tool_document import tool_configuration
from lti.validation import KeySetFetcher, validate_launch

bp = Blueprint("lti", __name__)
LAUNCH_PATH = "/lti/launch"


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> Response:
    """Third-party-initiated login: check the platform, set state and nonce, go to its auth URL."""
    target = request.values.get("target_link_uri", "")
    if target and not is_tool_url(target):
        raise LaunchError(
            "target_link_uri is outside this tool.",
            code="login_foreign_target",
            details={"target_link_uri": target},
        )
    return BridgeOIDCLogin(runtime().database).start(tool_url(LAUNCH_PATH))


@bp.post(LAUNCH_PATH)
def launch() -> str:
    """The id_token arrives here: validate it, record the tenancy, open the widget."""
    rt = runtime()
    message = validate_launch(
        rt.database,
        KeySetFetcher(rt.cache, rt.settings.http_timeout_seconds),
        rt.settings.launch_leeway_seconds,
    )
    value = build_launch(message.claims, message.registration.client_id, current_catalogue())
    tokens = rt.session_tokens()
    with rt.database.transaction() as session:
        deployment = session.get(Deployment, message.deployment.id if message.deployment else None)
        if deployment is None:
            raise LaunchError(
                "The deployment disappeared during the launch.", code="invalid_deployment"
            )
        scope = tenancy.record_launch(session, deployment, value)
    return render_shell(scope, tokens.issue(scope))


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(keys.jwks(db()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/lti/config")
def config() -> Response:
    return jsonify(tool_configuration(tool_base_url(), current_catalogue()))
