"""What a person reads when a login or launch is refused (title, message), by error code."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

_ADMIN = _l("Your LMS administrator needs to check the tool's registration.")
_BAD_TOKEN = _l("The LMS sent a launch the tool cannot trust, so it was refused.")

TITLE = _l("This activity could not be opened")

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
    "launch_storage_failed": (TITLE, _l("The tool could not save the launch. Please try again.")),
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
}
