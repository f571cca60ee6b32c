"""``GET /lti/register``: the page a platform opens to register the tool (LTI DR 1.0 §3).

The platform opens it (in a frame or a window) with ``openid_configuration`` and
``registration_token`` added to the link an admin pasted, which carries the ``invitation`` from
``bridge platform invite``. The tool registers at once, with no form in between; the completion page
then asks the platform to close it (§3, step 4: the ``org.imsglobal.lti.close`` postMessage, sent by
``bridge/static/registration_close.js`` since the CSP allows only the tool's own scripts). Every
refusal is a ``BridgeError`` with a stable code, rendered by ``bridge.web`` as a readable page.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from bridge.runtime import runtime
from bridge.urls import tool_base_url
from bridge.widgets import current_catalogue
from lti.dynamic_registration.client import PlatformClient
from lti.dynamic_registration.invitations import INVITATION_PARAMETER, REGISTER_PATH
from lti.dynamic_registration.service import DynamicRegistrationService, RegistrationRequest
from lti.tool_document import tool_configuration

bp = Blueprint("dynamic_registration", __name__, template_folder="../templates")


@bp.get(REGISTER_PATH)
def register_platform() -> str:
    """Register the platform that opened this page, and say so."""
    rt = runtime()
    settings = rt.settings
    # Plain http for the platform's configuration and endpoints only in development: with the
    # sandbox on, or with open registration (which trusts whoever reaches the tool anyway).
    allow_http = settings.sandbox or settings.open_registration
    service = DynamicRegistrationService(
        rt.database,
        PlatformClient(settings.http_timeout_seconds, allow_http=allow_http),
        open_registration=settings.open_registration,
    )
    outcome = service.register(
        RegistrationRequest(
            openid_configuration=request.args.get("openid_configuration", ""),
            registration_token=request.args.get("registration_token", ""),
            invitation=request.args.get(INVITATION_PARAMETER, ""),
            referrer=request.referrer or "",
        ),
        tool_configuration(tool_base_url(), current_catalogue()),
    )
    return render_template("lti/registration_done.html", outcome=outcome)
