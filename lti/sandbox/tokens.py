"""The sandbox's OAuth 2.0 token endpoint and the bearer tokens its services accept.

1EdTech Security Framework 1.0 §4.1 (RFC 7523 §2.2, §3): the tool asks with
``grant_type=client_credentials`` and a JWT client assertion it signed with its own key. The
sandbox checks what an LMS must (and what the peer platform library skips): the RS256 signature
against the tool's key set fetched from the tool's JWKS URL (by ``kid``), iss = sub = the
sandbox's client id, aud = the token URL, ``exp`` in the future (and at most an hour away),
``iat``, and a ``jti`` never used before. Scopes are granted only from the ones the sandbox offers.
Errors are RFC 6749 §5.2 JSON; bearer refusals follow RFC 6750 §3.1. Tokens are opaque and
stored hashed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt
import requests

from lti.sandbox.store import SandboxStore

GRANT_TYPE = "client_credentials"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM = AGS_SCOPE + "lineitem"
LINEITEM_READONLY = AGS_SCOPE + "lineitem.readonly"
RESULT_READONLY = AGS_SCOPE + "result.readonly"
SCORE = AGS_SCOPE + "score"
MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = (LINEITEM, LINEITEM_READONLY, RESULT_READONLY, SCORE)
ALLOWED_SCOPES = frozenset((*AGS_SCOPES, MEMBERSHIPS))
TOKEN_LIFETIME_SECONDS = 3600
MAX_ASSERTION_SECONDS = 3600  # an assertion valid longer is refused: its jti is kept that long
LEEWAY_SECONDS = 5

KeySetLoader = Callable[[], Mapping[str, Any]]


class SandboxServiceError(Exception):
    """An OAuth-style refusal (``error`` code, description, HTTP status, extra headers)."""

    def __init__(
        self, status: int, error: str, description: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.headers = headers or {}


def _client_error(description: str) -> SandboxServiceError:
    return SandboxServiceError(401, "invalid_client", description)


def tool_key_set(url: str, timeout: float) -> KeySetLoader:
    """Reads the tool's JWKS (the key set the sandbox registered for it), with a timeout."""

    def load() -> Mapping[str, Any]:
        try:
            response = requests.get(url, timeout=timeout, allow_redirects=False)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise SandboxServiceError(
                503, "temporarily_unavailable", "The tool's key set could not be read."
            ) from exc
        if not isinstance(document, dict):
            raise SandboxServiceError(
                503, "temporarily_unavailable", "The tool's key set is not a JWKS."
            )
        return document

    return load


def _verified_claims(
    assertion: str, key_set: KeySetLoader, client_id: str, token_url: str, now: float
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise _client_error("The client assertion is not a JWT.") from exc
    if header.get("alg") != "RS256":
        raise _client_error("The client assertion must be signed with RS256.")
    keys = [k for k in key_set().get("keys", []) if isinstance(k, dict)]
    match = [k for k in keys if k.get("kid") == header.get("kid")]
    if not match:
        raise _client_error("No key of the tool's key set has the assertion's kid.")
    try:
        key = jwt.PyJWK.from_dict(match[0], algorithm="RS256")
        body = jwt.decode(
            assertion,
            key.key,
            algorithms=["RS256"],
            audience=token_url,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
    except jwt.InvalidAudienceError as exc:
        raise _client_error("The assertion's aud must be the token URL.") from exc
    except jwt.PyJWTError as exc:  # signature, expiry, iat in the future, missing claims
        raise _client_error(f"The client assertion is not valid: {exc}.") from exc
    if body["iss"] != client_id or body["sub"] != client_id:
        raise _client_error("The assertion's iss and sub must be the client id.")
    if not isinstance(body["jti"], str) or not body["jti"]:
        raise _client_error("The assertion's jti must be a non-empty string.")
    if body["exp"] > now + MAX_ASSERTION_SECONDS:
        raise _client_error("The assertion is valid too long (its exp is over an hour away).")
    return body


def granted_scopes(requested: str) -> list[str]:
    """The requested scopes the sandbox offers (RFC 6749 §3.3); none of them is an error."""
    granted = [s for s in dict.fromkeys(requested.split()) if s in ALLOWED_SCOPES]
    if not granted:
        raise SandboxServiceError(400, "invalid_scope", "None of the requested scopes is offered.")
    return granted


def grant(
    form: Mapping[str, str],
    *,
    client_id: str,
    token_url: str,
    key_set: KeySetLoader,
    store: SandboxStore,
    now: float,
) -> dict[str, Any]:
    """Answer one token request (RFC 6749 §4.4 with a JWT client assertion, RFC 7523 §2.2)."""
    if not form.get("grant_type"):
        raise SandboxServiceError(400, "invalid_request", "grant_type is required.")
    if form["grant_type"] != GRANT_TYPE:
        raise SandboxServiceError(400, "unsupported_grant_type", "Only client_credentials.")
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise SandboxServiceError(
            400, "invalid_request", f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}."
        )
    if not form.get("client_assertion"):
        raise SandboxServiceError(400, "invalid_request", "client_assertion is required.")
    body = _verified_claims(form["client_assertion"], key_set, client_id, token_url, now)
    scopes = granted_scopes(form.get("scope", ""))
    used = f"{body['iss']} {body['jti']}"
    token = secrets.token_urlsafe(32)
    with store.change() as state:
        if used in state["jtis"]:
            raise _client_error("The assertion's jti was used before.")
        state["jtis"][used] = body["exp"] + LEEWAY_SECONDS
        state["tokens"][_digest(token)] = {
            "scopes": scopes,
            "expires_at": now + TOKEN_LIFETIME_SECONDS,
        }
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "scope": " ".join(scopes),
    }


def check_bearer(
    authorization: str, accepted: Iterable[str], store: SandboxStore, now: float
) -> None:
    """The request's bearer token must be current and hold one of ``accepted`` (RFC 6750 §3.1)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SandboxServiceError(
            401, "invalid_request", "A bearer token is required.",
            {"WWW-Authenticate": 'Bearer realm="sandbox"'},
        )  # fmt: skip
    found = store.read()["tokens"].get(_digest(token.strip()))
    if found is None or found["expires_at"] <= now:
        raise SandboxServiceError(
            401, "invalid_token", "The access token is unknown or expired.",
            {"WWW-Authenticate": 'Bearer realm="sandbox", error="invalid_token"'},
        )  # fmt: skip
    wanted = list(accepted)
    if not set(wanted) & set(found["scopes"]):
        raise SandboxServiceError(
            403, "insufficient_scope", "The access token lacks the scope for this service.",
            {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(wanted)}"'},
        )  # fmt: skip


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
