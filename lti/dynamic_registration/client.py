"""The tool's HTTP conversation with a registering platform (LTI Dynamic Registration 1.0, §3).

Step 2 (discovery): fetch the platform's OpenID configuration, check it names the endpoints the
tool needs and that its ``issuer`` has the origin of the configuration URL the platform sent
("issuer and OpenID configuration URL match"). Step 3 (client registration): POST the tool's
client metadata to the ``registration_endpoint`` with the registration token as a bearer token,
and read the ``client_id`` and optional ``deployment_id`` from the answer.

Why not pylti1p3's ``DynamicRegistration``: its ``get_request_session()`` hook could add a timeout,
but ``register()`` fetches the configuration and POSTs in one call with no issuer check between
them; it reads the configuration without looking at the HTTP status; it checks the
``lti-platform-configuration`` object only *after* the POST (so a refused configuration still
leaves a client registered at the platform) and with ``assert`` (gone under ``python -O``); and a
connection failure escapes as a bare ``requests`` exception. What would be left to inherit is one
POST. So the HTTP is done here with ``requests`` (timeouts, no redirects followed, every failure a
``RegistrationError`` with a stable code) and the library's data shapes are kept: the body posted
is ``lti/tool_document.py``'s document, a superset of the library's
``DynamicRegistration.lti_registration_data()`` (a unit test holds it to that).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from bridge.errors import BridgeError

log = logging.getLogger(__name__)

USER_AGENT = "SocialBridge/0.1 (+LTI 1.3 tool; Dynamic Registration)"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REQUIRED_ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|[0-9a-f:.]+)$")


class RegistrationError(BridgeError):
    """The platform's registration request or its answers cannot be used."""

    code = "registration_failed"
    http_status = 400


@dataclass(frozen=True)
class PlatformConfiguration:
    """What the tool keeps from a platform's OpenID configuration (§3, step 2)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str = ""
    product_family_code: str = ""

    @property
    def name(self) -> str:
        """A label for people: the issuer's host, with the LMS product when the platform says."""
        host = urlsplit(self.issuer).hostname or self.issuer
        return f"{host} ({self.product_family_code})" if self.product_family_code else host


@dataclass(frozen=True)
class ClientRegistration:
    """The platform's answer to the client registration (§3, step 3)."""

    client_id: str
    deployment_id: str = ""


def origin_key(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port), the default port made explicit; None if it is not an http(s) URL.

    The host must be a plain DNS name or IP address and the URL must carry no user info: an origin
    built from it ends up in a CSP header (``frame-ancestors``), where ``;`` or a space would
    start another directive.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not _HOST.match(host) or "@" in parts.netloc:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def origin(url: str) -> str:
    """The URL's origin in canonical form (lower case, default port left out); "" if none."""
    key = origin_key(url)
    if key is None:
        return ""
    scheme, host, port = key
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS[scheme] else f":{port}")


def without_query(url: str) -> str:
    """The URL to show on a page or in a log: a platform may carry a token in the query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_url(url: str, allow_http: bool, *, name: str, code: str, status: int) -> None:
    """An absolute https URL (http too when ``allow_http``), or a ``RegistrationError``."""
    key = origin_key(url)
    if key is None or (key[0] != "https" and not allow_http):
        raise RegistrationError(
            f"{name} must be an absolute {'http(s)' if allow_http else 'https'} URL.",
            code=code,
            http_status=status,
            details={name: without_query(url) if key else url[:200]},
        )


class PlatformClient:
    """Outbound requests to one registering platform, each with the configured timeout."""

    def __init__(self, timeout: float, allow_http: bool = False) -> None:
        self._timeout = timeout
        self._allow_http = allow_http

    def _headers(self, registration_token: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if registration_token:
            headers["Authorization"] = f"Bearer {registration_token}"
        return headers

    def _send(
        self,
        method: str,
        url: str,
        registration_token: str,
        *,
        refusal: tuple[str, str, dict[str, str]],
        **kwargs: Any,
    ) -> requests.Response:
        """One request with the timeout and no redirects; unreachable -> RegistrationError (502)."""
        try:
            return requests.request(
                method,
                url,
                headers=self._headers(registration_token),
                timeout=self._timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            message, code, details = refusal
            log.warning(
                "%s %s unreachable (%s)", method, next(iter(details.values())), type(exc).__name__
            )
            raise RegistrationError(
                message,
                code=code,
                http_status=502,
                details={**details, "reason": type(exc).__name__},
            ) from exc

    def fetch_configuration(self, url: str, registration_token: str = "") -> PlatformConfiguration:
        """GET and check the platform's OpenID configuration (§3, step 2).

        The registration token goes along as a bearer token: Canvas documents it as the credential
        for its configuration URL (developerdocs.instructure.com, "Registration"); others ignore it.
        """
        check_url(
            url,
            self._allow_http,
            name="openid_configuration",
            code="registration_configuration_url_invalid",
            status=400,
        )
        shown = without_query(url)
        response = self._send(
            "GET", url, registration_token,
            refusal=("The platform's OpenID configuration could not be fetched.",
                     "registration_configuration_unavailable", {"openid_configuration": shown}),
        )  # fmt: skip
        if response.status_code != 200:
            raise RegistrationError(
                "The platform's OpenID configuration could not be fetched.",
                code="registration_configuration_unavailable",
                http_status=502,
                details={"openid_configuration": shown, "status": response.status_code},
            )
        document = _json_object(response)
        if document is None:
            raise RegistrationError(
                "The platform's OpenID configuration is not a JSON object.",
                code="registration_configuration_invalid",
                http_status=502,
                details={"openid_configuration": shown},
            )
        return self._read_configuration(document, url)

    def _read_configuration(self, document: dict[str, Any], url: str) -> PlatformConfiguration:
        missing = [
            name
            for name in ("issuer", *REQUIRED_ENDPOINTS)
            if not isinstance(document.get(name), str) or not document[name]
        ]
        if missing:
            raise RegistrationError(
                "The platform's OpenID configuration lacks required fields.",
                code="registration_configuration_invalid",
                http_status=502,
                details={"missing": ", ".join(missing)},
            )
        issuer = document["issuer"]
        parts = urlsplit(issuer)
        if parts.query or parts.fragment:  # IMS Security Framework, "Issuer Identifier": neither
            raise RegistrationError(
                "The configuration's issuer has a query or fragment.",
                code="registration_configuration_invalid",
                http_status=502,
                details={"issuer": without_query(issuer)},
            )
        if origin_key(issuer) != origin_key(url):
            raise RegistrationError(
                "The configuration's issuer does not have the origin of its URL.",
                code="registration_issuer_mismatch",
                http_status=400,
                details={"issuer": issuer, "openid_configuration": without_query(url)},
            )
        for name in ("issuer", *REQUIRED_ENDPOINTS):
            check_url(
                document[name],
                self._allow_http,
                name=name,
                code="registration_configuration_invalid",
                status=502,
            )
        platform = document.get(PLATFORM_CONFIGURATION)
        family = platform.get("product_family_code") if isinstance(platform, dict) else None
        audience = document.get("authorization_server")
        return PlatformConfiguration(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            registration_endpoint=document["registration_endpoint"],
            authorization_server=audience if isinstance(audience, str) else "",
            product_family_code=family if isinstance(family, str) else "",
        )

    def register_client(
        self,
        configuration: PlatformConfiguration,
        client_metadata: dict[str, Any],
        registration_token: str = "",
    ) -> ClientRegistration:
        """POST the tool's client metadata to the registration endpoint (§3, step 3)."""
        endpoint = configuration.registration_endpoint
        shown = without_query(endpoint)
        response = self._send(
            "POST", endpoint, registration_token, json=client_metadata,
            refusal=("The platform's registration endpoint could not be reached.",
                     "registration_endpoint_unavailable", {"registration_endpoint": shown}),
        )  # fmt: skip
        if not 200 <= response.status_code < 300:
            log.warning("registration refused: %s answered %s", shown, response.status_code)
            raise RegistrationError(
                "The platform refused the registration.",
                code="registration_refused",
                http_status=502,
                details={"registration_endpoint": shown, "status": response.status_code}
                | _platform_error(response),
            )
        answer = _json_object(response)
        client_id = answer.get("client_id") if answer is not None else None
        if not isinstance(client_id, str) or not client_id:
            raise RegistrationError(
                "The platform's answer to the registration has no client_id.",
                code="registration_incomplete",
                http_status=502,
                details={"registration_endpoint": shown},
            )
        tool = answer.get(TOOL_CONFIGURATION) if answer is not None else None
        deployment_id = tool.get("deployment_id") if isinstance(tool, dict) else None
        if isinstance(deployment_id, int) and not isinstance(deployment_id, bool):
            deployment_id = str(deployment_id)  # a JSON number is taken as its decimal text
        return ClientRegistration(
            client_id=client_id,
            deployment_id=deployment_id if isinstance(deployment_id, str) else "",
        )


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _platform_error(response: requests.Response) -> dict[str, str]:
    """The OAuth error fields of a refusal (OpenID Connect Registration §3.3), shortened."""
    body = _json_object(response) or {}
    return {key: str(body[key])[:300] for key in ("error", "error_description") if body.get(key)}
