"""Where pylti1p3 keeps OIDC state, issued nonces and launch data between login and launch.

The file cache under ``var/`` is shared by every process on a host (Redis replaces it in the
scaled mode); its entry limit comes from the configuration because the default of 500 evicts
live entries at peak. Cookies are ``HttpOnly; SameSite=Lax`` over plain http (a same-site frame and
the development server) and ``HttpOnly; Secure; SameSite=None; Partitioned`` over HTTPS.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from pylti1p3.contrib.flask import FlaskCookieService
from pylti1p3.contrib.flask.launch_data_storage.cache import FlaskCacheDataStorage

from bridge.runtime import runtime


class BridgeCookieService(FlaskCookieService):
    """pylti1p3's Flask cookie service with an explicit SameSite over http."""

    def update_response(self, response: Response) -> None:
        secure = bool(self._request.is_secure())
        for key, data in self._cookie_data_to_set.items():
            options: dict[str, Any] = {
                "key": key,
                "value": data["value"],
                "max_age": data["exp"],
                "path": "/",
                "httponly": True,
                "secure": secure,
                "samesite": "None" if secure else "Lax",
            }
            if secure:
                options["partitioned"] = True
            response.set_cookie(**options)


class SharedCacheDataStorage(FlaskCacheDataStorage):
    """pylti1p3's cache storage without its ``lti1p3-session-id`` cookie.

    Over HTTPS the library prefixes every key with a per-browser session id kept in a cookie, and
    refuses the launch when that cookie is missing, which is exactly what happens in a frame whose
    cookies the browser blocks. The binding to the browser comes from the state instead: the state
    cookie, or the platform's storage (``lti_storage_target``, see ``lti.platform_storage``). Keys
    are random (state, nonce, launch id), so sharing one namespace leaks nothing.
    """

    def get_session_cookie_name(self) -> None:
        return None


def launch_data_storage() -> FlaskCacheDataStorage:
    return SharedCacheDataStorage(runtime().cache)
