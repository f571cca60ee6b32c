"""The sandbox platform's side of LTI 1.3: its registration, keys, and the id_tokens it signs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy.orm import Session

from bridge.runtime import runtime
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Registration
from bridge.urls import origin_of, tool_base_url
from bridge.vault import SecretBox, get_or_create_secret
from bridge.widgets import WidgetSpec
from config import Settings
from lti import claims
from lti.keys import generate_rsa_pem, public_jwk_of
from lti.sandbox.fixtures import SandboxCourse, SandboxUser
from lti.sandbox.tokens import AGS_SCOPES
from lti.tool_document import tool_urls

CLIENT_ID = "social-bridge-sandbox"
DEPLOYMENT_ID = "sandbox-deployment-1"
KEY_SECRET_NAME = "sandbox-platform-key"  # noqa: S105 - the name of a secret, not one
ID_TOKEN_LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class SandboxSite:
    """Where the sandbox and the tool are, as URLs the browser uses."""

    sandbox_url: str
    issuer: str
    tool_url: str

    @classmethod
    def build(cls, settings: Settings, tool_url: str) -> SandboxSite:
        """The sandbox's URLs from the settings: by default served by the tool under /sandbox."""
        sandbox_url = (settings.sandbox_url or tool_url + "/sandbox").rstrip("/")
        return cls(
            sandbox_url, (settings.sandbox_issuer or sandbox_url).rstrip("/"), tool_url.rstrip("/")
        )

    @property
    def auth_url(self) -> str:
        return self.sandbox_url + "/auth"

    @property
    def jwks_url(self) -> str:
        return self.sandbox_url + "/jwks.json"

    @property
    def token_url(self) -> str:
        return self.sandbox_url + "/token"

    def course_url(self, course: SandboxCourse) -> str:
        return f"{self.sandbox_url}/courses/{course.key}"

    def lineitems_url(self, course: SandboxCourse) -> str:
        return self.course_url(course) + "/lineitems"

    def lineitem_url(self, course: SandboxCourse, item_id: str) -> str:
        return f"{self.lineitems_url(course)}/{item_id}"

    def memberships_url(self, course: SandboxCourse) -> str:
        return self.course_url(course) + "/memberships"

    @property
    def tool_jwks_url(self) -> str:
        """The key set the sandbox registered for the tool (its client assertions' keys)."""
        return tool_urls(self.tool_url)["jwks"]

    @property
    def tool_login_url(self) -> str:
        return self.tool_url + "/lti/login"

    @property
    def tool_launch_url(self) -> str:
        return self.tool_url + "/lti/launch"


def current_site() -> SandboxSite:
    """The sandbox of the current app, as the current request reaches it."""
    return SandboxSite.build(runtime().settings, tool_base_url())


def platform_key(session: Session, box: SecretBox) -> str:
    return get_or_create_secret(session, box, KEY_SECRET_NAME, generate_rsa_pem)


def register(session: Session, box: SecretBox, site: SandboxSite) -> Registration:
    """Register (or update) the sandbox as a platform, exactly as an admin would register an LMS."""
    platform_key(session, box)
    registration = tenancy.find_registration(session, site.issuer, CLIENT_ID)
    if registration is None:
        registration = tenancy.add_registration(
            session,
            tenancy.RegistrationSpec(
                issuer=site.issuer,
                client_id=CLIENT_ID,
                name="Sandbox LMS",
                auth_login_url=site.auth_url,
                key_set_url=site.jwks_url,
                auth_token_url=site.token_url,
                deployment_ids=(DEPLOYMENT_ID,),
                allowed_origins=(origin_of(site.sandbox_url),),
            ),
        )
    registration.auth_login_url, registration.key_set_url = site.auth_url, site.jwks_url
    registration.auth_token_url = site.token_url
    registration.allowed_origins = [origin_of(site.sandbox_url)]
    tenancy.activate_deployment(session, registration, DEPLOYMENT_ID)
    return registration


def resource_link_id(course: SandboxCourse | None, widget: str) -> str:
    return f"sandbox-link-{course.key if course else 'standalone'}-{widget}"


def id_token_claims(
    site: SandboxSite,
    user: SandboxUser,
    course: SandboxCourse | None,
    widget: WidgetSpec,
    nonce: str,
) -> dict[str, Any]:
    now = int(time.time())
    placement_title = f"{course.label} {widget.title}" if course else f"{widget.title} (no course)"
    body: dict[str, Any] = {
        "iss": site.issuer,
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "sub": user.sub,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME_SECONDS,
        "nonce": nonce,
        "jti": uuid.uuid4().hex,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        claims.MESSAGE_TYPE: claims.RESOURCE_LINK_REQUEST,
        claims.VERSION: claims.LTI_VERSION,
        claims.DEPLOYMENT_ID: DEPLOYMENT_ID,
        claims.TARGET_LINK_URI: f"{site.tool_launch_url}?widget={widget.name}",
        claims.RESOURCE_LINK: {
            "id": resource_link_id(course, widget.name),
            "title": placement_title,
        },
        claims.ROLES: list(user.roles),
        claims.LAUNCH_PRESENTATION: {
            "document_target": "iframe",
            "return_url": site.sandbox_url,
            "locale": "en",
        },
        claims.LTI + "tool_platform": {
            "guid": "social-bridge-sandbox",
            "name": "Sandbox LMS",
            "product_family_code": "social-bridge-sandbox",
        },
    }
    if course is not None:
        body[claims.CONTEXT] = {
            "id": course.id,
            "title": course.title,
            "label": course.label,
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        }
    return body


def service_claims(site: SandboxSite, course: SandboxCourse, lineitem_id: str) -> dict[str, Any]:
    """The LTI Advantage services a course launch offers: AGS 2.0 §3.1 (the endpoint claim, with
    the placement's own line item) and NRPS 2.0 §3.6.1 (the course's membership service)."""
    return {
        claims.AGS_ENDPOINT: {
            "scope": list(AGS_SCOPES),
            "lineitems": site.lineitems_url(course),
            "lineitem": site.lineitem_url(course, lineitem_id),
        },
        claims.NRPS: {
            "context_memberships_url": site.memberships_url(course),
            "service_versions": ["2.0"],
        },
    }


def sign(private_pem: str, body: dict[str, Any]) -> str:
    kid = public_jwk_of(private_pem)["kid"]
    return jwt.encode(body, private_pem, algorithm="RS256", headers={"kid": kid})
