"""LTI 1.3 launch validation: pylti1p3next's checks, with the gaps it leaves closed.

IMS Security Framework 1.0 §5.1.3 (authentication response validation) and LTI 1.3 §5.3 (required
message claims). pylti1p3next 2.0.2 gaps closed here (see FIELD-NOTES): nonces are consumed once in
the database; ``aud`` may be a list and ``azp`` is checked; ``exp`` and ``iat`` are required; only
RSA algorithms are accepted; key-set requests time out and an unknown ``kid`` refetches the set
once; the state must match this browser's cookie (an accepted (state, id_token) pair is not kept
valid for reuse); every failure, whatever the library raised, becomes a ``LaunchError`` with a
stable code, so the user sees a readable 4xx page and never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import requests
from flask_caching import Cache
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskRequest
from pylti1p3.exception import LtiException, OIDCException, ToolConfException
from sqlalchemy.orm import Session

from bridge.db import Database
from bridge.errors import DeploymentPendingError, LaunchError
from bridge.nonces import consume_nonce
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Deployment, Registration
from bridge.web import set_frame_ancestors
from lti import claims
from lti.platform_storage import StorageCheckNeeded, StorageTarget
from lti.storage import BridgeCookieService, launch_data_storage
from lti.tool_config import DatabaseToolConf

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
KEY_SET_TTL_SECONDS = 3600
UNKNOWN_KID_REFETCH_SECONDS = 300
USER_AGENT = "SocialBridge/0.1 (+LTI 1.3 tool)"
LIBRARY_ERRORS = (
    LtiException,
    OIDCException,
    ToolConfException,
    AssertionError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
)


class KeySetFetcher:
    """A platform's JWKS: fetched with a timeout, cached, refetched once when a kid is unknown."""

    def __init__(self, cache: Cache, timeout: float) -> None:
        self._cache = cache
        self._timeout = timeout

    def _cache_key(self, url: str) -> str:
        return "platform-jwks:" + hashlib.sha256(url.encode()).hexdigest()

    def _fetch(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=self._timeout, headers={"User-Agent": USER_AGENT})
            response.raise_for_status()
            key_set = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchError(
                "The platform's key set could not be fetched.",
                code="key_set_unavailable",
                http_status=502,
                details={"key_set_url": url, "reason": type(exc).__name__},
            ) from exc
        if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
            raise LaunchError(
                "The platform's key set is not a JWKS.",
                code="key_set_unavailable",
                http_status=502,
                details={"key_set_url": url},
            )
        entry = {"fetched_at": time.time(), "key_set": key_set}
        self._cache.set(self._cache_key(url), entry, timeout=KEY_SET_TTL_SECONDS)
        return entry

    @staticmethod
    def _match(key_set: dict[str, Any], kid: str, alg: str) -> str | None:
        for key in key_set["keys"]:
            if isinstance(key, dict) and key.get("kid") == kid and key.get("alg", alg) == alg:
                try:
                    return JWK(**key).export_to_pem().decode("ascii")
                except (ValueError, TypeError, KeyError, JWException) as exc:
                    raise LaunchError(
                        "The platform's key cannot be read.", code="unknown_key"
                    ) from exc
        return None

    def _first_miss(self, url: str, kid: str) -> bool:
        """True once per (key set, kid) in a while: a rotated key triggers one refetch, not a flood."""
        marker = "platform-jwks-miss:" + hashlib.sha256(f"{url}\x00{kid}".encode()).hexdigest()
        if self._cache.get(marker):
            return False
        self._cache.set(marker, 1, timeout=UNKNOWN_KID_REFETCH_SECONDS)
        return True

    def public_key(self, url: str, kid: str, alg: str) -> str:
        cached = self._cache.get(self._cache_key(url))
        entry = cached or self._fetch(url)
        pem = self._match(entry["key_set"], kid, alg)
        if pem is None and cached is not None and self._first_miss(url, kid):
            pem = self._match(self._fetch(url)["key_set"], kid, alg)
        if pem is None:
            raise LaunchError(
                "No key of the platform matches the token's kid.",
                code="unknown_key",
                details={"kid": kid},
            )
        return pem


class BridgeMessageLaunch(FlaskMessageLaunch):
    def __init__(
        self,
        database: Database,
        keys: KeySetFetcher,
        leeway: int,
        *,
        request_data: dict[str, str] | None = None,
        verified_state: str | None = None,
    ) -> None:
        request = FlaskRequest(request_data=request_data) if request_data else FlaskRequest()
        self._verified_state = verified_state
        super().__init__(
            request,
            DatabaseToolConf(database, with_deployments=True),
            cookie_service=BridgeCookieService(request),
            launch_data_storage=launch_data_storage(),
        )
        self._database = database
        self._keys = keys
        self._leeway = leeway
        self.deployment: Deployment | None = None

    @property
    def registration(self) -> Registration:
        registration = self._tool_config.registration
        assert registration is not None, "validate_registration has not run"  # noqa: S101
        return registration

    @property
    def claims(self) -> dict[str, Any]:
        return dict(self._jwt.get("body", {}))

    def validate(self) -> BridgeMessageLaunch:
        if self._restored:
            raise LaunchError("A restored launch cannot be validated again.")
        self._validated = True  # as the library does, so claim getters do not re-enter validate()
        steps: list[tuple[Callable[[], Any], str]] = [
            (self.validate_state, "invalid_state"),
            (self.validate_jwt_format, "malformed_token"),
            (self.validate_nonce, "invalid_nonce"),
            (self.validate_registration, "unknown_registration"),
            (self.validate_jwt_signature, "invalid_token"),
            (self.validate_message, "invalid_message"),
            (self.validate_deployment, "invalid_deployment"),
        ]
        try:
            for step, code in steps:
                _run_step(step, code)
        except LaunchError:
            self._validated = False
            raise
        return self

    def validate_state(self) -> BridgeMessageLaunch:
        state = self._get_request_param("state")
        if not state:
            raise LaunchError("The launch has no state parameter.", code="missing_state")
        if not self._get_request_param("id_token"):
            raise LaunchError("The launch has no id_token.", code="missing_id_token")
        if self._verified_state is not None and hmac.compare_digest(self._verified_state, state):
            return self  # read back from the platform's storage by this browser
        cookie = self._cookie_service.get_cookie(state)
        if cookie and hmac.compare_digest(cookie, state):
            return self
        params = self._session_service.get_state_params(state)
        target = (
            StorageTarget.from_params(params.get("storage")) if isinstance(params, dict) else None
        )
        if target is not None and self._verified_state is None:
            raise StorageCheckNeeded(target, state)
        raise LaunchError("The state does not match this browser's login.", code="invalid_state")

    def validate_jwt_format(self) -> BridgeMessageLaunch:
        super().validate_jwt_format()
        header, body = self._jwt.get("header"), self._jwt.get("body")
        if not isinstance(header, dict) or not isinstance(body, dict):
            raise LaunchError("The id_token is not a JSON Web Token.", code="malformed_token")
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise LaunchError(
                "The id_token's algorithm is not accepted.",
                code="unsupported_algorithm",
                details={"alg": str(alg)},
            )
        if not isinstance(body.get("iss"), str) or not body["iss"]:
            raise LaunchError("The id_token has no valid iss claim.", code="invalid_claim",
                              details={"claim": "iss"})  # fmt: skip
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise LaunchError("The id_token's header has no kid.", code="missing_kid")
        return self

    def validate_nonce(self) -> BridgeMessageLaunch:
        nonce = self._jwt["body"].get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise LaunchError("The id_token has no nonce.", code="missing_nonce")
        params = self._session_service.get_state_params(self._get_request_param("state")) or {}
        expected = params.get("nonce") if isinstance(params, dict) else None
        if not isinstance(expected, str) or not hmac.compare_digest(expected, nonce):
            raise LaunchError("The nonce is not the one issued at login.", code="invalid_nonce")
        return self

    def get_client_id(self) -> str:
        """The client the token is for: ``aud``, or ``azp`` when ``aud`` lists several.

        OpenID Connect Core §3.1.3.7 items 3-5; pylti1p3 takes ``aud[0]`` and never reads ``azp``.
        """
        body = self._jwt.get("body", {})
        aud, azp = body.get("aud"), body.get("azp")
        audiences = [aud] if isinstance(aud, str) else aud
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(a, str) for a in audiences)
        ):
            raise LaunchError("The id_token has no valid aud claim.", code="invalid_audience")
        if len(audiences) > 1 and not azp:
            raise LaunchError(
                "The id_token lists several audiences but no azp.", code="missing_azp"
            )
        if azp is not None and (not isinstance(azp, str) or azp not in audiences):
            raise LaunchError("The id_token's azp is not one of its audiences.", code="invalid_azp")
        return azp or audiences[0]

    def validate_registration(self) -> BridgeMessageLaunch:
        super().validate_registration()
        set_frame_ancestors(self.registration.allowed_origins)
        if self.get_client_id() != self.registration.client_id:
            raise LaunchError("The token is for another client.", code="invalid_audience")
        return self

    def validate_jwt_signature(self) -> BridgeMessageLaunch:
        registration, header = self.registration, self._jwt["header"]
        pem = self._keys.public_key(registration.key_set_url, header["kid"], header["alg"])
        try:
            verified = jwt.decode(
                self._get_id_token(),
                pem,
                algorithms=[header["alg"]],
                audience=registration.client_id,
                issuer=registration.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud"], "verify_iat": True},
            )
        except jwt.InvalidTokenError as exc:
            raise _token_error(exc) from exc
        except jwt.PyJWTError as exc:  # e.g. the platform published a key of the wrong type
            raise LaunchError(str(exc), code="unknown_key", details={"reason": str(exc)}) from exc
        self._jwt["body"] = verified
        return self

    def validate_deployment(self) -> BridgeMessageLaunch:
        deployment_id = self._jwt["body"].get(claims.DEPLOYMENT_ID)
        if not isinstance(deployment_id, str) or not deployment_id:
            raise LaunchError(
                "The deployment_id claim is missing.",
                code="missing_claim",
                details={"claim": "deployment_id"},
            )
        deployment = next(
            (d for d in self.registration.deployments if d.deployment_id == deployment_id), None
        )
        if deployment is None:  # record it: pending, or active if the registration says so
            with self._database.transaction() as session:
                registration = session.get(Registration, self.registration.id)
                assert registration is not None  # noqa: S101 - found moments ago
                deployment = tenancy.note_deployment(session, registration, deployment_id)
        if not deployment.is_active:
            raise DeploymentPendingError(
                details={"deployment_id": deployment_id, "issuer": self.registration.issuer}
            )
        self.deployment = deployment
        return self

    def validate_message(self) -> BridgeMessageLaunch:
        claims.check_required(self._jwt["body"])
        super().validate_message()
        return self

    def consume_nonce(self, session: Session) -> None:
        """Spend the nonce in the caller's transaction (the one that records the launch)."""
        body = self._jwt["body"]
        valid_until = datetime.fromtimestamp(int(body["exp"]) + self._leeway, tz=UTC)
        if not consume_nonce(session, self.registration.issuer, body["nonce"], valid_until):
            raise LaunchError("This launch was already used.", code="replayed_launch")


def _run_step(step: Callable[[], Any], code: str) -> None:
    try:
        step()
    except LaunchError:
        raise
    except LIBRARY_ERRORS as exc:
        log.info("launch refused at %s: %s", code, exc)
        raise LaunchError(str(exc) or code, code=code, details={"reason": str(exc)}) from exc


_TOKEN_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidAudienceError, "invalid_audience"),
    (jwt.InvalidIssuerError, "invalid_issuer"),
    (jwt.InvalidSignatureError, "bad_signature"),
]


def _token_error(exc: jwt.InvalidTokenError) -> LaunchError:
    code = next((code for kind, code in _TOKEN_ERRORS if isinstance(exc, kind)), "invalid_token")
    details = {"reason": str(exc)}
    if isinstance(exc, jwt.MissingRequiredClaimError):
        details["claim"] = exc.claim
    return LaunchError(str(exc), code=code, details=details)


def validate_launch(
    database: Database, keys: KeySetFetcher, leeway: int, **options: Any
) -> BridgeMessageLaunch:
    """Validate the launch request in flight; every failure is a LaunchError.

    ``options`` (``request_data``, ``verified_state``) complete a launch whose state was read back
    from the platform's storage (see ``lti.platform_storage``).
    """
    try:
        message = BridgeMessageLaunch(database, keys, leeway, **options)
    except LIBRARY_ERRORS as exc:  # e.g. the session cookie pylti1p3 wants over HTTPS is missing
        raise LaunchError(str(exc), code="invalid_state", details={"reason": str(exc)}) from exc
    return message.validate()
