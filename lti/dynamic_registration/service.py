"""The Dynamic Registration use case (LTI Dynamic Registration 1.0, §3 registration flow).

Order matters, for the no-half-written-records rule: first everything that can refuse without
side effects (who may register, the configuration URL, the platform's configuration and its
issuer), then the one remote side effect (the client registration POST), and only then one
database transaction that stores the registration, its deployment and the used invitation
together. No database transaction is open during the remote calls, and a storage failure after
the platform said yes is reported as such (the platform then holds a client the tool does not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bridge.db import Database
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Organisation
from lti.dynamic_registration.client import (
    ClientRegistration,
    PlatformClient,
    PlatformConfiguration,
    RegistrationError,
    origin,
)
from lti.dynamic_registration.invitations import (
    OPEN_REGISTRATION,
    InvitationError,
    RegistrationTerms,
    check_invitation,
    claim_invitation,
    note_registration,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrationRequest:
    """What the platform's registration initiation request carries (§3, step 1)."""

    openid_configuration: str
    registration_token: str = ""
    invitation: str = ""
    referrer: str = ""  # the LMS page that opened the registration, when the browser says


@dataclass(frozen=True)
class RegistrationOutcome:
    """What the completion page tells the LMS admin."""

    platform_name: str
    issuer: str
    client_id: str
    organisation: str
    deployment_id: str
    auto_activate_deployments: bool


def _framing_origins(issuer: str, referrer: str) -> tuple[str, ...]:
    origins = [origin(issuer)]
    opener = origin(referrer) if referrer.startswith("https://") else ""
    if opener and opener not in origins:
        origins.append(opener)
    return tuple(origins)


class DynamicRegistrationService:
    """Registers a platform that asks to, if it holds an invitation or registration is open."""

    def __init__(
        self, database: Database, client: PlatformClient, *, open_registration: bool
    ) -> None:
        self._database = database
        self._client = client
        self._open_registration = open_registration

    def register(
        self, request: RegistrationRequest, client_metadata: dict[str, Any]
    ) -> RegistrationOutcome:
        terms = self._terms(request.invitation)
        if not request.openid_configuration:
            raise RegistrationError(
                "The registration request has no openid_configuration.",
                code="registration_configuration_url_invalid",
                http_status=400,
            )
        configuration = self._client.fetch_configuration(
            request.openid_configuration, request.registration_token
        )
        registered = self._client.register_client(
            configuration, client_metadata, request.registration_token
        )
        return self._store(terms, configuration, registered, request.referrer)

    def _terms(self, invitation: str) -> RegistrationTerms:
        if invitation:
            with self._database.transaction() as session:
                return check_invitation(session, invitation)
        if self._open_registration:
            return OPEN_REGISTRATION
        raise InvitationError("Registration needs an invitation; open registration is off.")

    def _store(
        self,
        terms: RegistrationTerms,
        configuration: PlatformConfiguration,
        registered: ClientRegistration,
        referrer: str,
    ) -> RegistrationOutcome:
        spec = tenancy.RegistrationSpec(
            issuer=configuration.issuer,
            client_id=registered.client_id,
            auth_login_url=configuration.authorization_endpoint,
            auth_token_url=configuration.token_endpoint,
            key_set_url=configuration.jwks_uri,
            auth_audience=configuration.authorization_server,
            name=configuration.name,
            deployment_ids=(registered.deployment_id,) if registered.deployment_id else (),
            # The issuer's origin frames the tool on most platforms. Canvas cloud frames it from
            # the school's own domain while its issuer is https://canvas.instructure.com (Canvas's
            # docs; FIELD-NOTES "LMS behaviour"): the origin of the LMS page that opened this
            # registration (its Referer) is that domain, so it is allowed too when it is https.
            allowed_origins=_framing_origins(configuration.issuer, referrer),
            auto_activate_deployments=terms.auto_activate_deployments,
        )
        try:
            with self._database.transaction() as session:
                claim_invitation(session, terms)
                if terms.organisation_id is not None:
                    organisation = session.get(Organisation, terms.organisation_id)
                    if organisation is None:  # deleted since: its invitations went with it
                        raise InvitationError(code="registration_invitation_unknown")
                    spec = replace(spec, organisation=organisation.name)
                registration = tenancy.add_registration(session, spec)
                note_registration(session, terms, registration.id)
                outcome = RegistrationOutcome(
                    platform_name=configuration.name,
                    issuer=registration.issuer,
                    client_id=registration.client_id,
                    organisation=registration.organisation.name,
                    deployment_id=registered.deployment_id,
                    auto_activate_deployments=registration.auto_activate_deployments,
                )
        except SQLAlchemyError as exc:
            log.exception(
                "dynamic registration not stored: issuer %s client_id %s",
                configuration.issuer,
                registered.client_id,
            )
            raise RegistrationError(
                "The platform registered the tool, but the registration could not be stored.",
                code="registration_store_failed",
                http_status=500,
                details={"issuer": configuration.issuer, "client_id": registered.client_id},
            ) from exc
        log.info(
            "platform registered by dynamic registration: issuer %s client_id %s deployment %s",
            outcome.issuer,
            outcome.client_id,
            outcome.deployment_id or "-",
        )
        return outcome
