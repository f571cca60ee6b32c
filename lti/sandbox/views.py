"""Sandbox LMS pages: pick a course, a person and a widget; the platform's OIDC auth endpoint;
JWKS; each course's gradebook (the scores the tool sent through AGS, see ``api.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge.errors import InvalidInputError, NotFoundError
from bridge.runtime import runtime
from bridge.urls import origin_of
from bridge.web import allow_form_action, allow_frame_src, db, set_frame_ancestors
from bridge.widgets import current_catalogue
from lti import claims
from lti.keys import public_jwk_of
from lti.sandbox import fixtures, grades, platform
from lti.sandbox.store import SandboxStore

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox", template_folder="../templates")
HINT_SALT = "social-bridge/sandbox-message-hint"
HINT_MAX_AGE_SECONDS = 600


def site() -> platform.SandboxSite:
    return platform.current_site()


def _hints() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=HINT_SALT)


@bp.get("/")
def index() -> str:
    return render_template(
        "sandbox/index.html",
        courses=fixtures.COURSES,
        users=fixtures.USERS,
        widgets=list(current_catalogue()),
        site=site(),
    )


def _choice(name: str, valid: list[str]) -> str:
    value = request.args.get(name, "")
    if value not in valid:
        raise InvalidInputError(
            f"Choose a {name} from the list.", code="sandbox_choice", details={name: value}
        )
    return value


@bp.get("/launch")
def launch() -> str:
    """The course page: frames the tool and starts its OIDC login, as an LMS does."""
    course_key = _choice("course", [c.key for c in fixtures.COURSES] + [fixtures.NO_COURSE])
    user_key = _choice("user", [u.key for u in fixtures.USERS])
    widget = _choice("widget", current_catalogue().names())
    here = site()
    hint = _hints().dumps({"course": course_key, "widget": widget})
    login_url = (
        here.tool_login_url
        + "?"
        + urlencode(
            {
                "iss": here.issuer,
                "login_hint": user_key,
                "lti_message_hint": hint,
                "target_link_uri": f"{here.tool_launch_url}?widget={widget}",
                "client_id": platform.CLIENT_ID,
                "lti_deployment_id": platform.DEPLOYMENT_ID,
                "lti_storage_target": "_parent",
            }
        )
    )
    allow_frame_src(origin_of(here.tool_url))
    return render_template(
        "sandbox/launch.html",
        login_url=login_url,
        course=fixtures.course(course_key),
        user=fixtures.user(user_key),
        widget=current_catalogue().get(widget),
        site=here,
    )


def _auth_error(message: str, **details: str) -> InvalidInputError:
    return InvalidInputError(message, code="sandbox_auth_invalid", details=details)


def _check_auth_request(here: platform.SandboxSite) -> tuple[fixtures.SandboxUser, dict[str, str]]:
    """OIDC authentication request checks (IMS Security Framework §5.1.1.2) the sandbox enforces."""
    params = request.values
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.CLIENT_ID,
        "redirect_uri": here.tool_launch_url,
    }
    for name, value in expected.items():
        if params.get(name) != value:
            raise _auth_error(
                f"{name} must be {value!r}.", parameter=name, received=params.get(name, "")
            )
    for name in ("state", "nonce"):
        if not params.get(name):
            raise _auth_error(f"{name} is required.", parameter=name)
    person = fixtures.user(params.get("login_hint", ""))
    if person is None:
        raise _auth_error("login_hint names no sandbox user.")
    try:
        hint = _hints().loads(params.get("lti_message_hint", ""), max_age=HINT_MAX_AGE_SECONDS)
    except BadSignature as exc:
        raise _auth_error(
            "lti_message_hint is not one the sandbox issued (or it expired)."
        ) from exc
    return person, hint


@bp.route("/auth", methods=["GET", "POST"])
def auth() -> str:
    """The platform's OIDC auth endpoint: answers the tool's login with a signed id_token."""
    here = site()
    set_frame_ancestors([origin_of(here.sandbox_url)])
    person, hint = _check_auth_request(here)
    widget = current_catalogue().get(hint["widget"])
    if widget is None:
        raise _auth_error("lti_message_hint names an unknown widget.")
    course = fixtures.course(hint["course"])
    body = platform.id_token_claims(here, person, course, widget, request.values["nonce"])
    if course is not None:  # a course has a gradebook and a roster: offer AGS and NRPS
        link = body[claims.RESOURCE_LINK]
        with SandboxStore.of(runtime().settings).change() as state:
            item_id = grades.ensure_placement_item(state, course.key, link["id"], link["title"])
        body |= platform.service_claims(here, course, item_id)
    id_token = platform.sign(platform.platform_key(db(), runtime().box), body)
    allow_form_action(origin_of(here.tool_url))
    return render_template(
        "sandbox/auth_post.html",
        action=here.tool_launch_url,
        id_token=id_token,
        state=request.values["state"],
    )


@bp.get("/jwks.json")
def jwks() -> Response:
    key = public_jwk_of(platform.platform_key(db(), runtime().box))
    return jsonify({"keys": [key]})


@bp.get("/courses/<course_key>/gradebook")
def gradebook(course_key: str) -> str:
    """What an LMS gradebook shows: per line item and course member, the latest score."""
    course = fixtures.course(course_key)
    if course is None:
        raise NotFoundError("No such sandbox course.", details={"course": course_key})
    state = SandboxStore.of(runtime().settings).read()
    columns = [
        (item, site().lineitem_url(course, item["id"]),
         [(person, item["scores"].get(person.sub)) for person in fixtures.USERS])
        for item in grades.find_items(state, course.key, {})
    ]  # fmt: skip
    return render_template(
        "sandbox/gradebook.html",
        course=course,
        columns=columns,
        points=_points,
        moment=_moment,
        result_score=grades.result_score,
    )


def _points(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def _moment(value: str) -> str:
    """A score's timestamp in UTC, to the second, for people (the exact value stays in the page's
    ``datetime`` attribute)."""
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return value
