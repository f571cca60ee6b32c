"""LTI 1.3 claim names and the required-claim checks (LTI 1.3 §5.3 "Required message claims").

Each missing or malformed claim gets its own code, so the error page and the logs say exactly what
the platform sent wrong.
"""

from __future__ import annotations

from typing import Any

from bridge.errors import LaunchError

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
LAUNCH_PRESENTATION = LTI + "launch_presentation"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DEEP_LINKING_SETTINGS = DL + "deep_linking_settings"
DL_CONTENT_ITEMS = DL + "content_items"
DL_DATA = DL + "data"

LTI_VERSION = "1.3.0"
MAX_ID_LENGTH = 255
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
SUPPORTED_MESSAGE_TYPES = frozenset({RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST})


def _missing(claim: str) -> LaunchError:
    return LaunchError(
        f"The {claim} claim is missing.", code="missing_claim", details={"claim": claim}
    )


def _invalid(claim: str) -> LaunchError:
    return LaunchError(
        f"The {claim} claim is not valid.", code="invalid_claim", details={"claim": claim}
    )


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_message(body: dict[str, Any]) -> None:
    message_type, version = body.get(MESSAGE_TYPE), body.get(VERSION)
    if message_type is None and version is None:
        raise LaunchError("The token is not an LTI message.", code="not_lti_message")
    if not message_type:
        raise _missing("message_type")
    if not version:
        raise _missing("version")
    if version != LTI_VERSION:
        raise LaunchError(
            f"LTI version {version!r} is not supported; {LTI_VERSION} is.",
            code="wrong_lti_version",
            details={"version": str(version)},
        )
    if message_type not in SUPPORTED_MESSAGE_TYPES:
        raise LaunchError(
            f"Message type {message_type!r} is not supported here.",
            code="unsupported_message_type",
            details={"message_type": str(message_type)},
        )


def _check_identity(body: dict[str, Any]) -> None:
    if not _non_empty_str(body.get("sub")):
        raise _missing("sub")
    roles = body.get(ROLES)
    if roles is None:
        raise _missing("roles")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _invalid("roles")


def _check_deep_linking(body: dict[str, Any]) -> None:
    """LTI Deep Linking 2.0 §4.4: the settings claim, with a return URL and ltiResourceLink accepted."""
    settings = body.get(DEEP_LINKING_SETTINGS)
    if not isinstance(settings, dict):
        raise _missing("deep_linking_settings")
    if not _non_empty_str(settings.get("deep_link_return_url")):
        raise _missing("deep_linking_settings.deep_link_return_url")
    accept_types = settings.get("accept_types")
    if not isinstance(accept_types, list) or "ltiResourceLink" not in accept_types:
        raise LaunchError(
            "The platform does not accept LTI resource links here.",
            code="deep_linking_unsupported",
            details={"accept_types": str(accept_types)},
        )


def _check_placement(body: dict[str, Any]) -> None:
    if body.get(MESSAGE_TYPE) == DEEP_LINKING_REQUEST:
        _check_deep_linking(body)
    else:
        link = body.get(RESOURCE_LINK)
        if link is None:
            raise _missing("resource_link")
        if not isinstance(link, dict) or not _non_empty_str(link.get("id")):
            raise _missing("resource_link.id")
    context = body.get(CONTEXT)
    if context is not None and (
        not isinstance(context, dict)
        or not _non_empty_str(context.get("id"))
        or not _optional_str_list(context.get("type"))
    ):
        raise _invalid("context")
    if not isinstance(body.get(CUSTOM, {}), dict):
        raise _invalid("custom")
    for claim, value in _identifiers(body):
        if isinstance(value, str) and (len(value) > MAX_ID_LENGTH or "\x00" in value):
            raise LaunchError(f"The {claim} is not a valid id (at most {MAX_ID_LENGTH} characters, no NUL).",
                              code="invalid_claim", details={"claim": claim})  # fmt: skip


def _optional_str_list(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _identifiers(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ids the tool stores as keys (LTI 1.3 caps them at 255 characters)."""
    link, context = body.get(RESOURCE_LINK) or {}, body.get(CONTEXT) or {}
    return [("sub", body.get("sub")), ("deployment_id", body.get(DEPLOYMENT_ID)),
            ("resource_link.id", link.get("id")), ("context.id", context.get("id"))]  # fmt: skip


def check_required(body: dict[str, Any]) -> None:
    """Raise a LaunchError naming the first required claim that is missing or malformed."""
    _check_message(body)
    _check_identity(body)
    _check_placement(body)
