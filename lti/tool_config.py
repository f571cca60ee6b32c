"""Registrations as pylti1p3 tool configuration, backed by the tenancy tables."""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration as LtiRegistration
from pylti1p3.tool_config import ToolConfAbstract

from bridge.db import Database
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Registration


def to_lti_registration(registration: Registration) -> LtiRegistration:
    return (
        LtiRegistration()
        .set_issuer(registration.issuer)
        .set_client_id(registration.client_id)
        .set_auth_login_url(registration.auth_login_url)
        .set_auth_token_url(registration.auth_token_url)
        .set_auth_audience(registration.auth_audience or registration.auth_token_url)
        .set_key_set_url(registration.key_set_url)
    )


class DatabaseToolConf(ToolConfAbstract):
    """Looks registrations up by (issuer, client_id); an issuer may have many client ids (Canvas).

    Each lookup is a short transaction of its own: the launch never holds the request's unit of
    work open while it commits a nonce or a pending deployment (SQLite has one writer at a time).
    """

    def __init__(self, database: Database, *, with_deployments: bool = False) -> None:
        self._database = database
        self._with_deployments = with_deployments
        self.registration: Registration | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(
        self, iss: str, *args: Any, **kwargs: Any
    ) -> LtiRegistration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> LtiRegistration | None:
        with self._database.transaction() as session:
            self.registration = tenancy.find_registration(
                session, iss, client_id, with_deployments=self._with_deployments
            )
        return to_lti_registration(self.registration) if self.registration else None

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        with self._database.transaction() as session:
            registration = tenancy.find_registration(session, iss, client_id)
            if registration is None:
                return None
            deployment = tenancy.find_deployment(session, registration, deployment_id)
        return (
            LtiDeployment().set_deployment_id(deployment_id)
            if deployment and deployment.is_active
            else None
        )
