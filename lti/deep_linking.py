"""Deep Linking (LTI Deep Linking 2.0): the instructor picks a widget, the tool answers the platform.

§4.4 (LtiDeepLinkingRequest) and §4.5 (LtiDeepLinkingResponse). The request's settings are parked
under a one-time id while the instructor uses the picker; the response is an RS256 JWT with the
tool's newest key (kid in the header), ``iss`` = client_id, ``aud`` = the platform's issuer, a fresh
nonce, the deployment id and the request's ``data`` echoed, carrying one ``ltiResourceLink`` whose
custom parameters name the widget and ask for the history substitution variables, so a copied
course can find last term's placements. The claims come from pylti1p3's ``DeepLink``; it signs
without a kid, so the signing is ours.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from flask_caching import Cache
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.registration import Registration as LtiRegistration

from bridge.errors import ForbiddenError, LaunchError
from bridge.tenancy.rules import grant_for
from bridge.urls import origin_of
from bridge.widgets import WidgetSpec
from lti import claims

PARKED_PREFIX = "lti-deep-link:"
PARKED_LIFETIME_SECONDS = 3600
MAX_TITLE_LENGTH = 200
HISTORY_CUSTOM = {
    "context_id_history": "$Context.id.history",
    "resource_link_id_history": "$ResourceLink.id.history",
}


@dataclass(frozen=True)
class DeepLinkRequest:
    """What the picker needs to answer the platform, kept server-side between two requests."""

    issuer: str
    client_id: str
    deployment_id: str
    return_url: str
    data: Any
    title: str
    allowed_origins: tuple[str, ...]


def accept(
    body: dict[str, Any], client_id: str, auth_login_url: str, allowed_origins: list[str]
) -> DeepLinkRequest:
    """Check a validated LtiDeepLinkingRequest and who sent it; refuse with a 4xx otherwise."""
    if not grant_for(body[claims.ROLES]).access.can_moderate:
        raise ForbiddenError(
            "Only instructors can add Social Bridge to a course.", code="deep_linking_forbidden"
        )
    settings = body[claims.DEEP_LINKING_SETTINGS]
    return_url = settings["deep_link_return_url"]
    known = {origin_of(body["iss"]), origin_of(auth_login_url), *allowed_origins}
    parts = urlsplit(return_url)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.netloc
        or origin_of(return_url) not in known
    ):
        raise LaunchError(
            "The deep-linking return URL is not one of the platform's.",
            code="unknown_return_url",
            details={"deep_link_return_url": return_url},
        )
    return DeepLinkRequest(
        issuer=body["iss"], client_id=client_id, deployment_id=body[claims.DEPLOYMENT_ID], return_url=return_url,
        data=settings.get("data"), title=str(settings.get("title") or ""), allowed_origins=tuple(allowed_origins),
    )  # fmt: skip


def park(cache: Cache, request: DeepLinkRequest) -> str:
    deep_link_id = secrets.token_urlsafe(32)
    cache.set(PARKED_PREFIX + deep_link_id, asdict(request), timeout=PARKED_LIFETIME_SECONDS)
    return deep_link_id


def peek(cache: Cache, deep_link_id: str) -> DeepLinkRequest | None:
    """The parked request, left in place; None if unknown or expired. Single use is enforced
    where the response is signed (a claim in the database), since a cache delete is not atomic."""
    if not deep_link_id or len(deep_link_id) > 100:
        return None
    stored = cache.get(PARKED_PREFIX + deep_link_id)
    if not isinstance(stored, dict):
        return None
    return DeepLinkRequest(**{**stored, "allowed_origins": tuple(stored["allowed_origins"])})


def discard(cache: Cache, deep_link_id: str) -> None:
    cache.delete(PARKED_PREFIX + deep_link_id)


def response_jwt(
    request: DeepLinkRequest, widget: WidgetSpec, title: str, launch_url: str, key: tuple[str, str]
) -> str:
    """The signed LtiDeepLinkingResponse placing one widget."""
    resource = (
        DeepLinkResource()
        .set_title(title)
        .set_url(f"{launch_url}?widget={widget.name}")
        .set_custom_params({"widget": widget.name, **HISTORY_CUSTOM})
    )
    registration = LtiRegistration().set_issuer(request.issuer).set_client_id(request.client_id)
    settings = {"deep_link_return_url": request.return_url, "data": request.data}
    message = DeepLink(registration, request.deployment_id, settings).get_message_jwt([resource])  # type: ignore[arg-type]
    if request.data is None:
        message.pop(claims.DL_DATA, None)
    kid, private_pem = key
    return jwt.encode(message, private_pem, algorithm="RS256", headers={"kid": kid})


def clean_title(raw: str, widget: WidgetSpec) -> str:
    title = " ".join(raw.split())[:MAX_TITLE_LENGTH]
    return title or widget.title
