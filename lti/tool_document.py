"""The tool's configuration document, in the shape of LTI Dynamic Registration client metadata.

LTI Dynamic Registration 1.0 §3.1 (client registration request) and §3.2.1 (the
``lti-tool-configuration`` object): one document serves admins registering by hand and the
dynamic registration flow.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bridge.widgets import WidgetCatalogue

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
# Where platforms offer the deep-linking picker. Placement names are platform-specific (Moodle:
# ContentArea; Canvas: link_selection, assignment_selection). Unverified against a live Canvas:
# its registration schema validates some values by enum (canvas-lms PR #2459, display types).
DEEP_LINKING_PLACEMENTS = ("ContentArea", "link_selection", "assignment_selection")
TOOL_NAME = "Social Bridge"
DESCRIPTION = "Discussion, peer video and a shared knowledge base inside your LMS."


def tool_urls(base_url: str) -> dict[str, str]:
    return {
        "login": f"{base_url}/lti/login",
        "launch": f"{base_url}/lti/launch",
        "jwks": f"{base_url}/.well-known/jwks.json",
        "config": f"{base_url}/lti/config",
        "logo": f"{base_url}/static/logo.svg",
    }


def tool_configuration(base_url: str, catalogue: WidgetCatalogue) -> dict[str, Any]:
    urls = tool_urls(base_url)
    return {
        "application_type": "web",
        "client_name": TOOL_NAME,
        "logo_uri": urls["logo"],
        "initiate_login_uri": urls["login"],
        "redirect_uris": [urls["launch"]],
        "jwks_uri": urls["jwks"],
        "grant_types": ["implicit", "client_credentials"],
        "response_types": ["id_token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(base_url).netloc,
            "description": DESCRIPTION,
            "target_link_uri": urls["launch"],
            "claims": list(CLAIMS),
            "messages": [
                {
                    "type": "LtiResourceLinkRequest",
                    "target_link_uri": urls["launch"],
                    "label": TOOL_NAME,
                    "custom_parameters": {"widget": catalogue.default},
                },
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": urls["launch"],
                    "label": TOOL_NAME,
                    "placements": list(DEEP_LINKING_PLACEMENTS),
                },
            ],
            "custom_parameters": {
                "context_id_history": "$Context.id.history",
                "resource_link_id_history": "$ResourceLink.id.history",
            },
        },
    }
