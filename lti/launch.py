"""The one place where a validated LTI message becomes a plain ``bridge.launch.Launch`` value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bridge.errors import LaunchError
from bridge.launch import Launch, LaunchContext, LaunchResourceLink, LaunchServices, LaunchUser
from bridge.widgets import WidgetCatalogue
from lti import claims

HISTORY_PARAMETERS = {"context": "context_id_history", "resource_link": "resource_link_id_history"}


def _text(value: Any) -> str:
    """A display string from a claim (names, titles): trimmed, NUL characters dropped."""
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""


def _custom(body: Mapping[str, Any]) -> dict[str, str]:
    """Custom parameters; values the platform left unsubstituted (``$Context.id.history``) are dropped."""
    raw = body.get(claims.CUSTOM) or {}
    return {
        str(k): str(v) for k, v in raw.items() if not (isinstance(v, str) and v.startswith("$"))
    }


def _widget_in(target_link_uri: str) -> str:
    try:
        return parse_qs(urlsplit(target_link_uri).query).get("widget", [""])[0]
    except ValueError:  # not a parseable URL (e.g. a broken IPv6 host): no widget named there
        return ""


def choose_widget(
    custom: Mapping[str, str], target_link_uri: str, catalogue: WidgetCatalogue
) -> str:
    """The widget: custom parameter ``widget``, else ``?widget=`` on the target link, else the default."""
    requested = custom.get("widget") or _widget_in(target_link_uri)
    requested = requested.strip().lower()
    if not requested:
        return catalogue.default
    if catalogue.get(requested) is None:
        raise LaunchError(
            f"This activity asks for an unknown widget {requested!r}.",
            code="unknown_widget",
            details={"widget": requested, "known": ", ".join(catalogue.names())},
        )
    return requested


def _history(custom: Mapping[str, str], key: str) -> tuple[str, ...]:
    return tuple(
        part.strip() for part in custom.get(HISTORY_PARAMETERS[key], "").split(",") if part.strip()
    )


def build_launch(body: Mapping[str, Any], client_id: str, catalogue: WidgetCatalogue) -> Launch:
    custom = _custom(body)
    target = _text(body.get(claims.TARGET_LINK_URI))
    context_claim = body.get(claims.CONTEXT)
    link_claim = body[claims.RESOURCE_LINK]
    presentation = body.get(claims.LAUNCH_PRESENTATION) or {}
    nrps = body.get(claims.NRPS) or {}
    ags = body.get(claims.AGS_ENDPOINT)
    return Launch(
        issuer=body["iss"],
        client_id=client_id,
        deployment_id=body[claims.DEPLOYMENT_ID],
        message_type=body[claims.MESSAGE_TYPE],
        user=LaunchUser(
            sub=body["sub"],
            name=_text(body.get("name")),
            given_name=_text(body.get("given_name")),
            family_name=_text(body.get("family_name")),
            email=_text(body.get("email")),
        ),
        roles=tuple(role for role in body[claims.ROLES] if role.strip()),
        resource_link=LaunchResourceLink(
            id=link_claim["id"],
            title=_text(link_claim.get("title")),
            description=_text(link_claim.get("description")),
        ),
        widget=choose_widget(custom, target, catalogue),
        context=LaunchContext(
            id=context_claim["id"],
            title=_text(context_claim.get("title")),
            label=_text(context_claim.get("label")),
            types=tuple(t for t in context_claim.get("type", []) if isinstance(t, str)),
        )
        if isinstance(context_claim, dict)
        else None,
        custom=custom,
        target_link_uri=target,
        locale=_text(presentation.get("locale")) if isinstance(presentation, dict) else "",
        services=LaunchServices(
            ags=ags if isinstance(ags, dict) else None,
            nrps_url=_text(nrps.get("context_memberships_url")) if isinstance(nrps, dict) else "",
            return_url=_text(presentation.get("return_url"))
            if isinstance(presentation, dict)
            else "",
        ),
        context_history=_history(custom, "context"),
        resource_link_history=_history(custom, "resource_link"),
    )
