"""What a person reads when a login or launch is refused (title, message), by error code."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

_ADMIN = _l("Your LMS administrator needs to check the tool's registration.")
_BAD_TOKEN = _l("The LMS sent a launch the tool cannot trust, so it was refused.")

TITLE = _l("This activity could not be opened")
REGISTRATION_TITLE = _l("Social Bridge could not be registered")

MESSAGES = {
    "invalid_launch": (TITLE, _BAD_TOKEN),
    "missing_state": (
        TITLE,
        _l(
            "The launch did not come from a login this tool started. Reopen the activity from your course."
        ),
    ),
    "invalid_state": (
        TITLE,
        _l(
            "The launch could not be matched to your browser's login (it may block cookies in embedded "
            "pages, or the login took too long). Reopen the activity from your course."
        ),
    ),
    "missing_id_token": (
        TITLE,
        _l("The LMS did not send a launch token. Reopen the activity from your course."),
    ),
    "malformed_token": (
        TITLE,
        _l("The LMS sent a launch token that is not a valid JSON Web Token."),
    ),
    "unsupported_algorithm": (
        TITLE,
        _l(
            "The launch token is signed with an algorithm this tool does not accept (only RS256/384/512)."
        ),
    ),
    "missing_kid": (
        TITLE,
        _l("The launch token does not say which of the LMS's keys signed it (no kid)."),
    ),
    "unknown_key": (TITLE, _l("The launch token is signed with a key the LMS does not publish.")),
    "key_set_unavailable": (
        TITLE,
        _l(
            "The tool could not fetch the LMS's public keys. Try again shortly; if it persists, your LMS administrator should check the key set URL."
        ),
    ),
    "missing_nonce": (TITLE, _BAD_TOKEN),
    "invalid_nonce": (
        TITLE,
        _l("The launch token does not belong to this login. Reopen the activity from your course."),
    ),
    "replayed_launch": (
        _l("This launch was already used"),
        _l(
            "Each launch can be opened once, and this one already was (a page refresh re-sends it). Reopen the activity from your course."
        ),
    ),
    "unknown_registration": (
        TITLE,
        _l(
            "This LMS is not registered with Social Bridge. Your LMS administrator needs to register the tool first."
        ),
    ),
    "login_client_id_required": (TITLE, _ADMIN),
    "invalid_audience": (TITLE, _l("The launch token was issued for another tool.")),
    "missing_azp": (
        TITLE,
        _l("The launch token names several audiences but not which one it is for (azp)."),
    ),
    "invalid_azp": (TITLE, _l("The launch token was issued for another tool (azp).")),
    "invalid_issuer": (TITLE, _BAD_TOKEN),
    "bad_signature": (TITLE, _l("The launch token's signature is not valid.")),
    "invalid_token": (TITLE, _BAD_TOKEN),
    "token_expired": (
        TITLE,
        _l(
            "The launch token has expired. Reopen the activity from your course; if it keeps happening, the LMS server's clock may be wrong."
        ),
    ),
    "token_not_yet_valid": (
        TITLE,
        _l("The launch token is dated in the future; the LMS server's clock may be wrong."),
    ),
    "missing_claim": (TITLE, _l("The launch is missing information the LTI standard requires.")),
    "invalid_claim": (
        TITLE,
        _l("The launch carries information in a form the LTI standard does not allow."),
    ),
    "not_lti_message": (TITLE, _l("The token the LMS sent is not an LTI message.")),
    "wrong_lti_version": (
        TITLE,
        _l(
            "The LMS sent a launch for an LTI version this tool does not support (it needs LTI 1.3)."
        ),
    ),
    "unsupported_message_type": (
        TITLE,
        _l("The LMS sent a kind of LTI message this tool does not handle here."),
    ),
    "invalid_message": (TITLE, _BAD_TOKEN),
    "invalid_deployment": (TITLE, _ADMIN),
    "deployment_pending": (
        _l("Waiting for activation"),
        _l(
            "Social Bridge has not been activated for this part of your LMS yet. Ask your LMS administrator to "
            "have it activated (the tool administrator runs `bridge deployment activate`), then reopen the activity."
        ),
    ),
    "unknown_widget": (
        TITLE,
        _l(
            "This activity is set up with a widget Social Bridge does not have. Ask your instructor to check its settings."
        ),
    ),
    "login_missing_issuer": (
        _l("Login request not valid"),
        _l("The login request has no issuer (iss). The LMS must send it."),
    ),
    "login_missing_login_hint": (
        _l("Login request not valid"),
        _l("The login request has no login_hint. The LMS must send it."),
    ),
    "login_foreign_target": (
        _l("Login request not valid"),
        _l("The login asks to continue to an address outside this tool."),
    ),
    "invalid_login": (_l("Login request not valid"), _l("The login request is not valid.")),
    "launch_expired": (
        TITLE,
        _l("The launch took too long to complete. Reopen the activity from your course."),
    ),
    "deep_linking_unsupported": (
        _l("Cannot add the activity here"),
        _l("This place in the LMS does not accept LTI activities from Social Bridge."),
    ),
    "deep_linking_forbidden": (
        _l("Only instructors can add activities"),
        _l("Ask an instructor of the course to add Social Bridge."),
    ),
    "unknown_return_url": (
        _l("Cannot add the activity here"),
        _l(
            "The LMS asked for the answer to go to an address that is not its own. Your LMS administrator "
            "may need to add the LMS's address as an allowed origin of the registration."
        ),
    ),
    "deep_linking_expired": (
        _l("The selection expired"),
        _l(
            "Choosing the activity took too long. Start adding the activity again from your course."
        ),
    ),
    # LTI Dynamic Registration (lti/dynamic_registration/): what the LMS admin reads in its frame.
    "registration_invitation_required": (
        REGISTRATION_TITLE,
        _l(
            "Registering Social Bridge needs an invitation link from the tool's administrator (made with `bridge platform invite`). Start the registration again with that link."
        ),
    ),
    "registration_invitation_unknown": (
        REGISTRATION_TITLE,
        _l(
            "This registration link is not valid. Ask the tool's administrator for a new one (`bridge platform invite`)."
        ),
    ),
    "registration_invitation_used": (
        REGISTRATION_TITLE,
        _l(
            "This registration link has been used already: each link registers one LMS. Ask the tool's administrator for a new one."
        ),
    ),
    "registration_invitation_expired": (
        REGISTRATION_TITLE,
        _l(
            "This registration link has expired. Ask the tool's administrator for a new one (`bridge platform invite`)."
        ),
    ),
    "registration_configuration_url_invalid": (
        REGISTRATION_TITLE,
        _l(
            "The LMS did not send a usable address for its configuration (openid_configuration must be an https URL). Start the registration from the LMS's tool settings."
        ),
    ),
    "registration_configuration_unavailable": (
        REGISTRATION_TITLE,
        _l(
            "The tool could not fetch the LMS's configuration. Check that the tool can reach the LMS, then try again. Nothing was registered."
        ),
    ),
    "registration_configuration_invalid": (
        REGISTRATION_TITLE,
        _l(
            "The LMS's configuration is not valid JSON or lacks an address the tool needs. Nothing was registered."
        ),
    ),
    "registration_issuer_mismatch": (
        REGISTRATION_TITLE,
        _l(
            "The LMS's configuration names an issuer on another site than the configuration's own address, so the tool cannot trust it. Nothing was registered."
        ),
    ),
    "registration_endpoint_unavailable": (
        REGISTRATION_TITLE,
        _l(
            "The tool could not reach the LMS's registration endpoint. Try again shortly. Nothing was registered."
        ),
    ),
    "registration_refused": (
        REGISTRATION_TITLE,
        _l(
            "The LMS refused the tool's registration; the technical details show its answer. Nothing was registered."
        ),
    ),
    "registration_incomplete": (
        REGISTRATION_TITLE,
        _l(
            "The LMS answered the registration without a client id, so the tool cannot use it and saved nothing. Remove the tool from the LMS and try again."
        ),
    ),
    "registration_exists": (
        _l("Already registered"),
        _l(
            "Social Bridge is already registered with this LMS under the same client id. Nothing was changed."
        ),
    ),
    "registration_store_failed": (
        REGISTRATION_TITLE,
        _l(
            "The LMS registered the tool, but the tool could not save the registration. Remove Social Bridge from the LMS's tools and register again; if it persists, tell the tool's administrator."
        ),
    ),
}
