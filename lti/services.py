"""Access tokens for the LTI Advantage services (AGS, NRPS), and the HTTP helpers they share.

1EdTech Security Framework 1.0 §4.1 ("Using JSON Web Tokens with OAuth 2.0 Client Credentials
Grant", RFC 7523 §2.2): the tool POSTs ``grant_type=client_credentials`` to the platform's token
endpoint with a JWT client assertion it signs with its own key (iss = sub = its client_id, aud =
the token endpoint or the audience the platform names, short-lived, a unique ``jti``, RS256 with
the ``kid`` the tool's JWKS publishes) and the space-separated scopes it wants (§4.1.1).

Why not pylti1p3's ``ServiceConnector``: it sends the request without a timeout and follows
redirects, its token cache is keyed by issuer + scopes (Canvas cloud gives every school the same
issuer, so two registrations would share a token) and must be wired through its ``from_cache``
tool configuration, and a refusal is an ``LtiServiceException`` holding the whole response. What
would be left to inherit is one ``jwt.encode`` call. So the grant is done here with ``requests``
and PyJWT, with the same claims the library signs.

Tokens live in the app's shared cache (``FileSystemCache`` embedded, Redis when scaled), keyed by
(client_id, token URL, sorted scopes), until shortly before ``expires_in`` runs out. Neither the
assertion nor a token is ever logged or put in an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import jwt
import requests
from flask import Flask

from bridge.errors import BridgeError
from bridge.runtime import EXTENSION_KEY, Runtime
from lti import keys
from lti.dynamic_registration.client import origin_key, without_query

log = logging.getLogger(__name__)

USER_AGENT = "SocialBridge/0.1 (+LTI 1.3 tool; LTI Advantage services)"
GRANT_TYPE = "client_credentials"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300  # the assertion is used once, at once
CLOCK_SKEW_SECONDS = 5  # iat a little in the past: a platform clock slightly behind still accepts
EXPIRY_MARGIN_SECONDS = 60  # stop using a token this long before the platform says it expires
DEFAULT_TOKEN_SECONDS = 300  # a token's lifetime when the platform does not say (RFC 6749 §5.1)
CACHE_PREFIX = "lti-access-token:"
_OAUTH_ERROR = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$")  # RFC 6749 §5.2 error codes


class TokenEndpoint(Protocol):
    """Where and as whom to ask for a token: any value with these attributes (connectors pass
    their ``Platform``; lti code passes a :class:`ServiceEndpoint`)."""

    @property
    def client_id(self) -> str: ...

    @property
    def token_url(self) -> str: ...

    @property
    def audience(self) -> str: ...


@dataclass(frozen=True)
class ServiceEndpoint:
    """A registration's token endpoint, as plain values (``auth_token_url``, ``auth_audience``)."""

    client_id: str
    token_url: str
    audience: str = ""  # the ``aud`` of the client assertion, when not the token URL


class TokenSource(Protocol):
    """What the AGS and NRPS clients need (``connectors.base.TokenSource`` has the same shape)."""

    def token(self, platform: TokenEndpoint, scopes: tuple[str, ...]) -> str: ...

    def forget(self, platform: TokenEndpoint, scopes: tuple[str, ...]) -> None: ...


class TokenCache(Protocol):
    """The part of Flask-Caching's ``Cache`` used here (any cachelib backend has it too)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any: ...

    def delete(self, key: str) -> Any: ...


class AccessTokenError(BridgeError):
    """The platform gave no access token (Security Framework §4.1).

    ``status`` is the token endpoint's HTTP status (None when it did not answer); ``permanent``
    is true when asking again cannot help until an admin changes the registration (no token URL).
    The message never holds the assertion or a token.
    """

    code = "lti_token_failed"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent


SigningKeyLoader = Callable[[], tuple[str, str]]  # () -> (kid, private PEM)


class AccessTokenClient:
    """OAuth 2.0 client-credentials tokens for LTI Advantage services, cached per registration.

    Implements ``connectors.base.TokenSource`` structurally: ``token(platform, scopes)`` and
    ``forget(platform, scopes)`` take any value with ``client_id``, ``token_url`` and
    ``audience``. The signing key is loaded only when a token must be fetched, so a key rotation
    takes effect at the next fetch.
    """

    def __init__(
        self,
        cache: TokenCache,
        signing_key: SigningKeyLoader,
        timeout: float,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._signing_key = signing_key
        self._timeout = timeout
        self._http = http
        self._clock = clock

    def token(self, platform: TokenEndpoint, scopes: tuple[str, ...]) -> str:
        """A bearer token for ``scopes`` at ``platform``: the cached one, or a new one."""
        wanted = normalise_scopes(scopes)
        key = cache_key(platform, wanted)
        cached = self._cache.get(key)
        if isinstance(cached, dict) and cached.get("expires_at", 0) > self._clock():
            token = cached.get("access_token")
            if isinstance(token, str) and token:
                return token
        token, lifetime = self._fetch(platform, wanted)
        ttl = int(lifetime) - EXPIRY_MARGIN_SECONDS
        if ttl > 0:  # a token about to expire is used once and not cached (timeout 0 = forever)
            self._cache.set(
                key, {"access_token": token, "expires_at": self._clock() + ttl}, timeout=ttl
            )
        return token

    def forget(self, platform: TokenEndpoint, scopes: tuple[str, ...]) -> None:
        """Drop the cached token (the platform answered 401 to it: revoked or expired early)."""
        self._cache.delete(cache_key(platform, normalise_scopes(scopes)))

    def client_assertion(self, platform: TokenEndpoint) -> str:
        """The signed JWT client assertion (Security Framework §4.1.1, RFC 7523 §3)."""
        kid, private_pem = self._signing_key()
        now = int(self._clock())
        claims = {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.audience or platform.token_url,
            "iat": now - CLOCK_SKEW_SECONDS,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": f"sb-{uuid.uuid4()}",
        }
        return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": kid})

    def _fetch(self, platform: TokenEndpoint, scopes: tuple[str, ...]) -> tuple[str, float]:
        if not platform.token_url:
            raise AccessTokenError(
                "The registration has no token URL: the platform's services cannot be used.",
                code="lti_token_url_missing",
                permanent=True,
                details={"client_id": platform.client_id},
            )
        shown = without_query(platform.token_url)
        form = {
            "grant_type": GRANT_TYPE,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.client_assertion(platform),
            "scope": " ".join(scopes),
        }
        post = self._http.post if self._http is not None else requests.post
        try:
            response = post(
                platform.token_url,
                data=form,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            log.warning("token endpoint %s unreachable (%s)", shown, type(exc).__name__)
            raise AccessTokenError(
                "The platform's token endpoint did not answer.",
                code="lti_token_unreachable",
                details={"token_url": shown, "reason": type(exc).__name__},
            ) from exc
        return self._read(response, shown, platform.client_id)

    def _read(self, response: requests.Response, shown: str, client_id: str) -> tuple[str, float]:
        status = response.status_code
        body = json_object(response)
        if status != 200:
            error = oauth_error(body)
            log.warning(
                "token refused: %s answered %s %s (client_id %s)", shown, status, error, client_id
            )
            raise AccessTokenError(
                f"The platform refused the access token request (HTTP {status}"
                + (f", {error}" if error else "")
                + ").",
                code="lti_token_refused",
                status=status,
                retry_after=retry_after_seconds(response),
                details={"token_url": shown, "status": status, "error": error},
            )
        token = body.get("access_token") if body else None
        token_type = body.get("token_type", "bearer") if body else None
        if not isinstance(token, str) or not token or str(token_type).lower() != "bearer":
            raise AccessTokenError(
                "The platform's token answer holds no bearer access token.",
                code="lti_token_invalid",
                status=status,
                details={"token_url": shown, "status": status},
            )
        lifetime = _seconds(body.get("expires_in")) if body else None
        log.info(
            "access token issued by %s for client_id %s (expires_in %s)", shown, client_id, lifetime
        )
        return token, DEFAULT_TOKEN_SECONDS if lifetime is None else lifetime


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Sorted, without duplicates or blanks: one cache entry per set of scopes."""
    wanted = tuple(sorted({scope.strip() for scope in scopes if scope and scope.strip()}))
    if not wanted:
        raise AccessTokenError(
            "No scope was asked for.", code="lti_token_scope_missing", permanent=True
        )
    return wanted


def cache_key(platform: TokenEndpoint, scopes: tuple[str, ...]) -> str:
    """(client_id, token URL, sorted scopes), hashed: a registration never sees another's token."""
    material = json.dumps([platform.client_id, platform.token_url, list(scopes)])
    return CACHE_PREFIX + hashlib.sha256(material.encode()).hexdigest()


def access_tokens_for(app: Flask) -> AccessTokenClient:
    """The token client of ``app``: its shared cache, its timeout, its signing key from the database.

    The job worker builds one per process; it needs no request or app context.
    """
    rt: Runtime = app.extensions[EXTENSION_KEY]

    def load_signing_key() -> tuple[str, str]:
        with rt.database.transaction() as session:  # may create the first key: a write
            return keys.signing_key(session, rt.box)

    return AccessTokenClient(rt.cache, load_signing_key, rt.settings.http_timeout_seconds)


# -- HTTP helpers shared by the service clients (NRPS here, AGS in connectors) ------------------


def json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def oauth_error(body: dict[str, Any] | None) -> str:
    """The OAuth ``error`` code of a refusal (RFC 6749 §5.2), if it is one (never free text)."""
    error = body.get("error") if body else None
    return error if isinstance(error, str) and _OAUTH_ERROR.match(error) else ""


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def next_page_url(response: requests.Response, current_url: str) -> str:
    """The ``Link: <...>; rel="next"`` target (RFC 8288), resolved against the page's URL.

    NRPS 2.0 §2.4.2 and AGS 2.0 §3.2.4 page this way. A next page on another origin is refused
    (``ValueError``): following it would send the bearer token to a host the platform did not
    name as its service.
    """
    link = response.links.get("next", {}).get("url", "")
    if not link:
        return ""
    target = urljoin(current_url, link)
    if origin_key(target) is None or origin_key(target) != origin_key(current_url):
        raise ValueError(f"next page on another origin: {without_query(target)}")
    return target


def shown_url(url: str) -> str:
    """The URL for logs and messages: without its query (a platform may put a token there)."""
    parts = urlsplit(url)
    return without_query(url) if parts.scheme and parts.netloc else url[:200]


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value > 0:
        return float(value)
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip())
    return None
