"""Web glue around ``lti1p3platform``, an independent LTI 1.3 platform implementation from PyPI.

The library builds the OIDC login initiation, checks the tool's authentication request, builds and
signs the id_token (RS256 with kid) and publishes its JWKS; it has no HTTP layer for Flask, so this
module serves its ``/jwks.json`` and ``/auth`` endpoints on a real local HTTP server. A
:class:`LaunchPlan` says what the next launch carries; ``overrides`` and ``header`` tamper with the
message for the certification's bad-payload cases, which the library itself never produces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify
from flask import request as flask_request
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from werkzeug.serving import make_server

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTRUCTOR = LIS + "membership#Instructor"
LEARNER = LIS + "membership#Learner"
MENTOR = LIS + "membership#Mentor"
CLIENT_ID = "peer-client-1"
DEPLOYMENT_ID = "peer-deployment-1"
REMOVE = object()


def new_rsa_keypair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class LaunchPlan:
    """What the next launch carries; the defaults make a valid instructor launch in a course."""

    user_id: str = "peer-user-1"
    roles: list[str] = field(default_factory=lambda: [INSTRUCTOR])
    name: str | None = "Peer Instructor"
    email: str | None = "instructor@peer.invalid"
    extra_claims: dict[str, Any] = field(default_factory=dict)
    context_id: str | None = "peer-course-1"
    context_title: str = "Peer Course"
    resource_link_id: str = "peer-link-1"
    custom: dict[str, str] | None = None
    target_link_uri: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # claim -> value, or REMOVE
    header: str = "normal"  # normal, no_kid, wrong_kid, alg_none, hs256, foreign_key
    deep_link: dict[str, Any] | None = None  # return_url, title, data, accept_types: a DL request
    token_mutator: Callable[[str], str] | None = None


class CachedKeyRegistration(Registration):
    """The library's registration, with the platform key loaded once instead of at every signature.

    ``lti1p3platform`` re-parses (and so re-validates) the RSA key for the kid and again for each
    signature: about 120 ms per launch here. The claims, headers and algorithm are untouched.
    """

    def __init__(self, loaded_key: Any, kid: str) -> None:
        self._loaded_key = loaded_key
        self._kid = kid

    def get_kid(self) -> str:
        return self._kid

    def platform_encode_and_sign(
        self, payload: dict[str, Any], expiration: int | None = None
    ) -> str:
        return Registration.encode_and_sign(
            payload, self._loaded_key, {"kid": self._kid}, expiration
        )


class GlueRequest(Request):
    def build_metadata(self, request: Any) -> TRequest:
        return {
            "method": request.method,
            "form_data": request.form.to_dict(),
            "get_data": request.args.to_dict(),
            "headers": dict(request.headers),
            "content_type": request.content_type,
            "path": request.path,
            "json": None,
        }


class PeerConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class PeerLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class PeerLaunch(LTIAdvantageMessageLaunchAbstract):
    """The library's launch, with a hook to tamper with the signed message for negative cases."""

    plan: LaunchPlan
    platform: PeerPlatform

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data

    def _tampered(self) -> bool:
        plan = self.plan
        return plan.header != "normal" or any(k in plan.overrides for k in ("iat", "exp", "nonce"))

    def get_launch_message(self, include_extra_claims: bool = True) -> dict[str, Any]:
        message = super().get_launch_message(include_extra_claims)
        if not self._tampered():
            _apply(message, self.plan.overrides)
        return message

    def generate_launch_request(self) -> dict[str, str]:  # type: ignore[override]
        if not self._tampered():
            if (
                self._deep_linking_launch_data is not None
            ):  # the library adds these after the message
                _apply(self._deep_linking_launch_data, self.plan.overrides)
            return super().generate_launch_request()  # type: ignore[return-value]
        message, state = self.get_launch_data()
        now = int(time.time())
        message.update(iat=now, exp=now + 300)
        _apply(message, self.plan.overrides)
        return {"state": state, "id_token": self.platform.sign(message, self.plan.header)}


def _apply(message: dict[str, Any], overrides: dict[str, Any]) -> None:
    for claim, value in overrides.items():
        if value is REMOVE:
            message.pop(claim, None)
        else:
            message[claim] = value


class PeerPlatform:
    """An lti1p3platform platform served over HTTP on 127.0.0.1 (JWKS and OIDC auth endpoint)."""

    def __init__(self, tool_base_url: str = "http://localhost") -> None:
        self.tool_base_url = tool_base_url.rstrip("/")
        self.rotate_key()
        self.plan = LaunchPlan()
        self.auth_requests: list[dict[str, str]] = []
        self._web = Flask("peer-platform")
        self._web.add_url_rule("/jwks.json", "jwks", self._jwks)
        self._web.add_url_rule("/auth", "auth", self._auth, methods=["GET", "POST"])
        self._server = make_server("127.0.0.1", 0, self._web, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.base_url + "/platform"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()

    # -- registration ------------------------------------------------------------------------
    def registration(self) -> Registration:
        return (
            CachedKeyRegistration(self._loaded_key, self._kid)
            .set_iss(self.issuer)
            .set_client_id(CLIENT_ID)
            .set_deployment_id(DEPLOYMENT_ID)
            .set_oidc_login_url(self.tool_base_url + "/lti/login")
            .set_launch_url(self.tool_base_url + "/lti/launch")
            .set_deeplink_launch_url(self.tool_base_url + "/lti/launch")
            .set_tool_key_set_url(self.tool_base_url + "/.well-known/jwks.json")
            .set_platform_public_key(self.public_pem)
            .set_platform_private_key(self.private_pem)
        )

    def cli_add_args(self, *extra: str) -> list[str]:
        """Arguments of `bridge platform add` that register this platform with the tool."""
        return [
            "platform", "add", "--issuer", self.issuer, "--client-id", CLIENT_ID,
            "--auth-login-url", self.base_url + "/auth", "--key-set-url", self.base_url + "/jwks.json",
            "--auth-token-url", self.base_url + "/token", "--deployment-id", DEPLOYMENT_ID,
            "--allowed-origin", self.base_url, *extra,
        ]  # fmt: skip

    def kid(self) -> str:
        return self._kid

    def rotate_key(self) -> None:
        self.private_pem, self.public_pem = new_rsa_keypair()
        self._loaded_key = serialization.load_pem_private_key(
            self.private_pem.encode(), password=None
        )
        self._kid = Registration.get_jwk(self.public_pem)["kid"]

    # -- the platform's endpoints ----------------------------------------------------------------
    def _jwks(self) -> Response:
        return jsonify({"keys": PeerConf(registration=self.registration()).get_jwks()["keys"]})

    def _auth(self) -> Response:
        self.auth_requests.append(flask_request.values.to_dict())
        launch = PeerLaunch(GlueRequest(flask_request), PeerConf(registration=self.registration()))
        launch.plan, launch.platform = self.plan, self
        self._describe(launch)
        data = launch.lti_launch()
        token = data["id_token"]
        if self.plan.token_mutator:
            token = self.plan.token_mutator(token)
        form = (
            f'<form method="post" action="{html.escape(data["launch_url"])}">'
            f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
            f'<input type="hidden" name="state" value="{html.escape(data["state"])}"></form>'
        )
        return Response(form, mimetype="text/html")

    def _describe(self, launch: PeerLaunch) -> None:
        plan = self.plan
        launch.set_user_data(
            plan.user_id, plan.roles, full_name=plan.name, email_address=plan.email
        )
        launch.set_resource_link_claim(plan.resource_link_id, title="Peer activity")
        if plan.context_id:
            launch.set_launch_context_claim(plan.context_id, context_title=plan.context_title)
        if plan.custom is not None:
            launch.set_custom_parameters_claim(plan.custom)
        launch.set_launch_presentation_claim("iframe", return_url=self.base_url + "/course")
        if plan.target_link_uri:
            launch.set_launch_url(plan.target_link_uri)
        if plan.extra_claims:
            launch.set_extra_claims(dict(plan.extra_claims))
        if plan.deep_link is not None:
            link = plan.deep_link
            launch.set_dl(link["return_url"], title=link.get("title", ""),
                          accept_types=link.get("accept_types"), extra_data=link.get("data"))  # fmt: skip

    def sign(self, message: dict[str, Any], header: str) -> str:
        """Sign a tampered message the way a broken or hostile platform would."""
        if header == "alg_none":
            return jwt.encode(message, None, algorithm="none")
        if header == "hs256":  # HMAC keyed with the platform's public key: the classic confusion
            return _hs256_with_public_key(message, self.public_pem, self.kid())
        if header == "foreign_key":
            other, _ = new_rsa_keypair()
            return jwt.encode(message, other, algorithm="RS256", headers={"kid": self.kid()})
        headers = {"no_kid": None, "wrong_kid": {"kid": "no-such-kid"}}.get(
            header, {"kid": self.kid()}
        )
        return jwt.encode(message, self.private_pem, algorithm="RS256", headers=headers)

    # -- driving a launch ------------------------------------------------------------------------
    def login_url(self, user_id: str | None = None) -> str:
        login = PeerLogin(None, PeerConf(registration=self.registration()))
        login.set_lti_message_hint(hint="peer-message-hint")
        if self.plan.target_link_uri:
            login.set_launch_url(self.plan.target_link_uri)
        return login.initiate_login(user_id or self.plan.user_id)

    def authenticate(self, auth_url: str) -> tuple[str, dict[str, str]]:
        """Send the tool's authentication request to the platform; (launch URL, form fields)."""
        response = requests.get(auth_url, timeout=10)
        response.raise_for_status()
        action = html.unescape(re.search(r'action="([^"]*)"', response.text).group(1))
        fields = {
            k: html.unescape(v)
            for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', response.text)
        }
        return action, fields


def _hs256_with_public_key(message: dict[str, Any], public_pem: str, kid: str) -> str:
    """PyJWT refuses to use a PEM key as an HMAC secret, so this token is built by hand."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        + "."
        + b64(json.dumps(message).encode())
    )
    signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
