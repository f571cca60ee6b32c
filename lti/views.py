"""LTI endpoints: OIDC login, launch, the tool's JWKS and its configuration document."""

from __future__ import annotations

import hmac
from datetime import timedelta

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from bridge.db import utcnow
from bridge.errors import InvalidInputError, LaunchError
from bridge.launch import Launch
from bridge.nonces import consume_nonce
from bridge.runtime import Runtime, runtime
from bridge.shell import render_shell
from bridge.tenancy import service as tenancy
from bridge.urls import is_tool_url, origin_of, tool_base_url, tool_url
from bridge.web import allow_form_action, db, set_frame_ancestors
from bridge.widgets import current_catalogue
from lti import claims, deep_linking, keys, nrps
from lti.launch import build_launch
from lti.oidc import BridgeOIDCLogin
from lti.platform_storage import (
    NONCE_KEY_PREFIX,
    STATE_KEY_PREFIX,
    PendingLaunch,
    StorageCheckNeeded,
    park_launch,
    take_launch,
)
from lti.tool_document import tool_configuration
from lti.validation import BridgeMessageLaunch, KeySetFetcher, validate_launch

bp = Blueprint("lti", __name__, template_folder="templates")
LAUNCH_PATH = "/lti/launch"
COMPLETE_PATH = "/lti/launch/complete"
DEEP_LINK_PATH = "/lti/deep-link"
DEEP_LINK_CLAIM = "social-bridge:deep-link-response"  # namespace of the single-use claims
PARKED_LIFETIME = timedelta(seconds=deep_linking.PARKED_LIFETIME_SECONDS)


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


def _key_sets(rt: Runtime) -> KeySetFetcher:
    return KeySetFetcher(rt.cache, rt.settings.http_timeout_seconds)


@bp.post(LAUNCH_PATH)
def launch() -> str:
    """The id_token arrives here: validate it, record the tenancy, open the widget."""
    rt = runtime()
    try:
        message = validate_launch(rt.database, _key_sets(rt), rt.settings.launch_leeway_seconds)
    except StorageCheckNeeded as needed:
        return _read_platform_storage(rt, needed)
    return _open_widget(rt, message)


@bp.post(COMPLETE_PATH)
def complete_launch() -> str:
    """Second half of a cookieless launch: the page read state and nonce from platform storage."""
    if not _from_this_tool():
        raise LaunchError("Only the tool's own page may complete a launch.", code="cross_site_completion",
                          http_status=403)  # fmt: skip
    rt = runtime()
    pending = take_launch(rt.cache, request.form.get("launch_id", ""))
    if pending is None:
        raise LaunchError("The launch expired before it completed.", code="launch_expired")
    if not hmac.compare_digest(request.form.get("state", ""), pending.state):
        raise LaunchError(
            "The platform's storage does not hold this login's state.", code="invalid_state"
        )
    message = validate_launch(
        rt.database, _key_sets(rt), rt.settings.launch_leeway_seconds,
        request_data={"id_token": pending.id_token, "state": pending.state}, verified_state=pending.state,
    )  # fmt: skip
    if not hmac.compare_digest(request.form.get("nonce", ""), str(message.claims.get("nonce", ""))):
        raise LaunchError(
            "The platform's storage does not hold this login's nonce.", code="invalid_nonce"
        )
    return _open_widget(rt, message)


def _from_this_tool() -> bool:
    """The completion must come from the read-back page the tool served, not a cross-site form:
    otherwise anyone holding their own parked launch could sign a victim in as themselves."""
    if request.headers.get("Sec-Fetch-Site") == "same-origin":
        return True
    return origin_of(request.headers.get("Origin", "")) == origin_of(tool_base_url())


def _read_platform_storage(rt: Runtime, needed: StorageCheckNeeded) -> str:
    set_frame_ancestors(needed.target.frame_ancestors)
    launch_id = park_launch(rt.cache, PendingLaunch(request.form["id_token"], needed.state))
    return render_template(
        "lti/storage_launch.html",
        target=needed.target,
        state_key=STATE_KEY_PREFIX + needed.state,
        nonce_key=NONCE_KEY_PREFIX + needed.state,
        launch_id=launch_id,
        action=url_for("lti.complete_launch"),
    )


def _open_widget(rt: Runtime, message: BridgeMessageLaunch) -> str:
    if message.claims.get(claims.MESSAGE_TYPE) == claims.DEEP_LINKING_REQUEST:
        return _deep_link_picker(rt, message)
    value = build_launch(message.claims, message.registration.client_id, current_catalogue())
    tokens = rt.session_tokens()
    recorded = _record(rt, message, value)
    return render_shell(recorded.scope, recorded.view, tokens.issue(recorded.scope))


def _record(rt: Runtime, message: BridgeMessageLaunch, value: Launch) -> tenancy.RecordedLaunch:
    """Spend the nonce and upsert the tenancy in one transaction; retried once if a concurrent
    first launch into the same course inserted the same rows first (a unique key conflict)."""
    assert message.deployment is not None  # noqa: S101 - validate_deployment set it
    for attempt in range(2):
        try:
            with rt.database.transaction() as session:
                message.consume_nonce(session)
                recorded = tenancy.record_launch(
                    session, message.registration, message.deployment, value
                )
                if value.services.nrps_url:
                    nrps.sync_soon(rt, session, recorded.scope.context_id)
                return recorded
        except IntegrityError as exc:
            if attempt:  # not a race: e.g. the deployment was removed during the launch
                raise LaunchError(
                    "The launch could not be recorded.", code="invalid_deployment"
                ) from exc
    raise AssertionError("unreachable")


def _deep_link_picker(rt: Runtime, message: BridgeMessageLaunch) -> str:
    registration = message.registration
    picked = deep_linking.accept(
        message.claims,
        registration.client_id,
        registration.auth_login_url,
        registration.allowed_origins,
    )
    with rt.database.transaction() as session:
        message.consume_nonce(session)  # a deep-linking request is single use like any launch
    return render_template(
        "lti/deep_link_picker.html",
        deep_link_id=deep_linking.park(rt.cache, picked),
        widgets=list(current_catalogue()),
        title=picked.title,
        action=url_for("lti.deep_link_respond"),
    )


@bp.post(DEEP_LINK_PATH)
def deep_link_respond() -> str:
    """The instructor's choice: answer the platform with a signed LtiDeepLinkingResponse."""
    rt = runtime()
    deep_link_id = request.form.get("deep_link_id", "")
    picked = deep_linking.peek(rt.cache, deep_link_id)
    if picked is None:
        raise LaunchError("The deep-linking request expired.", code="deep_linking_expired")
    set_frame_ancestors(picked.allowed_origins)
    widget = current_catalogue().get(request.form.get("widget", ""))
    if widget is None:  # the request stays parked: the instructor may choose again
        raise InvalidInputError("Choose one of the widgets.", code="unknown_widget")
    with rt.database.transaction() as session:
        if not consume_nonce(session, DEEP_LINK_CLAIM, deep_link_id, utcnow() + PARKED_LIFETIME):
            raise LaunchError(
                "The deep-linking request was already answered.", code="deep_linking_expired"
            )
        key = keys.signing_key(session, rt.box)
    deep_linking.discard(rt.cache, deep_link_id)
    title = deep_linking.clean_title(request.form.get("title", ""), widget)
    token = deep_linking.response_jwt(picked, widget, title, tool_url(LAUNCH_PATH), key)
    allow_form_action(origin_of(picked.return_url))
    return render_template(
        "lti/deep_link_return.html", action=picked.return_url, token=token, title=title
    )


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(keys.jwks(db()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/lti/config")
def config() -> Response:
    return jsonify(tool_configuration(tool_base_url(), current_catalogue()))
