"""OIDC third-party-initiated login (IMS Security Framework §5.1.1): the first leg of a launch.

Closes pylti1p3next's gaps at login: a missing ``iss`` or ``login_hint`` or an unknown issuer is a
readable 4xx (the library raises a bare ``Exception`` or an ``OIDCException`` outside its own
hierarchy); the redirect URI is always this tool's launch URL, never the request's
``target_link_uri``; and the nonce is bound to the state, so the launch checks it is the very nonce
issued to this browser.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Response, make_response, render_template
from pylti1p3.contrib.flask import FlaskOIDCLogin, FlaskRequest, FlaskSessionService
from pylti1p3.registration import Registration as LtiRegistration

from bridge.db import Database
from bridge.errors import LaunchError
from bridge.tenancy import service as tenancy
from bridge.urls import origin_of
from bridge.web import set_frame_ancestors
from lti.platform_storage import NONCE_KEY_PREFIX, STATE_KEY_PREFIX, StorageTarget
from lti.storage import BridgeCookieService, launch_data_storage
from lti.tool_config import DatabaseToolConf
from lti.validation import LIBRARY_ERRORS

STATE_LIFETIME_SECONDS = 10 * 60


class StateOnlySessionService(FlaskSessionService):
    """Keeps the nonce only inside the state's parameters, which is where the launch checks it.

    The library also stores every issued nonce under a key of its own and checks only that the
    nonce was issued by somebody; binding it to the state says it was issued to this login.
    """

    def save_nonce(self, nonce: str) -> None:
        return None


class BridgeOIDCLogin(FlaskOIDCLogin):
    def __init__(self, database: Database) -> None:
        request = FlaskRequest()
        self._conf = DatabaseToolConf(database)
        self._database = database
        super().__init__(
            request,
            self._conf,
            cookie_service=BridgeCookieService(request),
            session_service=StateOnlySessionService(request),
        )
        self._state_params: dict[str, object] = {}
        self.set_launch_data_storage(launch_data_storage())
        self.set_launch_data_lifetime(STATE_LIFETIME_SECONDS)

    def validate_oidc_login(self) -> LtiRegistration:
        issuer = self._get_request_param("iss")
        if not issuer:
            raise LaunchError("The login request has no iss.", code="login_missing_issuer")
        if not self._get_request_param("login_hint"):
            raise LaunchError(
                "The login request has no login_hint.", code="login_missing_login_hint"
            )
        client_id = self._get_request_param("client_id")
        registration = self._conf.find_registration_by_params(issuer, client_id)
        if registration is None:
            self._raise_unknown(issuer, client_id)
        set_frame_ancestors(
            self._conf.registration.allowed_origins if self._conf.registration else []
        )
        storage_frame = self._get_request_param("lti_storage_target")
        if storage_frame and self._conf.registration:
            target = StorageTarget(
                storage_frame,
                origin_of(self._conf.registration.auth_login_url),
                tuple(self._conf.registration.allowed_origins),
            )
            self._state_params = {**self._state_params, "storage": target.as_params()}
        return registration

    def _raise_unknown(self, issuer: str, client_id: str | None) -> None:
        if not client_id:
            with self._database.transaction() as session:
                if tenancy.count_registrations(session, issuer) > 1:
                    raise LaunchError(
                        "This issuer has several registrations; send client_id.",
                        code="login_client_id_required",
                        details={"issuer": issuer},
                    )
        raise LaunchError(
            "No registration matches this platform.",
            code="unknown_registration",
            details={"issuer": issuer, "client_id": client_id or ""},
        )

    def _generate_nonce(self) -> str:
        nonce = super()._generate_nonce()
        # The library saves _state_params under the new state right after generating the nonce.
        self._state_params = {**self._state_params, "nonce": nonce}
        return nonce

    def start(self, launch_url: str) -> Response:
        """Answer the login: a redirect to the platform, or the platform-storage page first."""
        try:
            if not self._get_request_param("lti_storage_target"):
                return self.redirect(launch_url)
            return self._storage_page(self.get_redirect_object(launch_url).get_redirect_url())
        except LaunchError:
            raise
        except LIBRARY_ERRORS as exc:
            raise LaunchError(str(exc), code="invalid_login", details={"reason": str(exc)}) from exc

    def _storage_page(self, auth_url: str) -> Response:
        """Store state and nonce in the platform's frame, then continue to its auth endpoint."""
        query = parse_qs(urlsplit(auth_url).query)
        target = StorageTarget.from_params(self._state_params.get("storage"))
        assert target is not None  # noqa: S101 - set by validate_oidc_login for this request
        response = make_response(
            render_template(
                "lti/storage_login.html",
                auth_url=auth_url,
                target=target,
                state_key=STATE_KEY_PREFIX + query["state"][0],
                state=query["state"][0],
                nonce_key=NONCE_KEY_PREFIX + query["state"][0],
                nonce=query["nonce"][0],
            )
        )
        self._cookie_service.update_response(response)  # cookies still help where they are allowed
        return response
