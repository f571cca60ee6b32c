"""``bridge connector set|list|remove``: which targets receive a deployment's completions.

A setting on the platform (``--issuer``) is the default for all its deployments; one on a
deployment (``--deployment-id``) overrides the default of the same connector. Secrets (e.g. an LRS
password, a webhook secret) are stored encrypted and never printed: give them as ``KEY=-`` to be
prompted (kept out of the shell history) or read from the environment with ``KEY=env:NAME``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bridge.db import utcnow
from bridge.delivery.models import ConnectorSetting, OutboxItem
from bridge.errors import ConflictError, InvalidInputError, NotFoundError
from bridge.runtime import runtime
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Deployment, Registration
from connectors.ags import AGSConnector
from connectors.base import ConfigError
from connectors.registry import CONNECTORS, UnknownConnectorError, get_connector
from lti.cli import cli_errors, sandbox_site

connector = AppGroup("connector", help="Delivery targets (LMS gradebook, LRS, webhooks).")


def _value(key: str, raw: str, secret: bool) -> Any:
    if secret and raw == "-":
        return click.prompt(f"{key}", hide_input=True)
    if raw.startswith("env:"):
        name = raw.removeprefix("env:")
        if name not in os.environ:
            raise InvalidInputError(f"{key}: the environment variable {name} is not set.")
        return os.environ[name]
    try:
        return json.loads(raw)  # numbers, lists, true/false
    except ValueError:
        return raw


def _parse(pairs: tuple[str, ...], secret_fields: frozenset[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set wants KEY=VALUE, got {pair!r}.")
        values[key] = _value(key, raw, key in secret_fields)
    return values


def _target(
    session: Any, issuer: str, client_id: str | None, deployment_id: str | None
) -> tuple[Registration, Deployment | None]:
    registration = tenancy.find_registration(session, issuer, client_id)
    if registration is None:
        raise NotFoundError(
            f"No registration for issuer {issuer!r} (pass --client-id if it has several)."
        )
    if deployment_id is None:
        return registration, None
    found = tenancy.find_deployment(session, registration, deployment_id)
    if found is None:
        raise NotFoundError(f"No deployment {deployment_id!r} on this registration.")
    return registration, found


@connector.command("set")
@click.argument("name")
@click.option("--issuer", required=True, help="The platform (issuer) whose completions go there.")
@click.option("--client-id", default=None)
@click.option("--deployment-id", default=None, help="Only this deployment (overrides the default).")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="A setting (repeatable).")
@click.option("--disable", is_flag=True, help="Store it switched off (a deployment opting out).")
@cli_errors
def connector_set(name: str, **options: Any) -> None:
    """Add or replace the NAME target of a platform or one of its deployments."""
    issuer, deployment_id = options["issuer"], options["deployment_id"]
    try:
        cls = get_connector(name)
    except UnknownConnectorError as error:
        raise click.ClickException(str(error)) from error
    values = _parse(options["pairs"], cls.secret_fields)
    try:
        cls.validate_config(values)  # every problem at once, before anything is stored
    except ConfigError as error:
        raise click.ClickException(
            f"The {name} settings are not valid:\n  - " + "\n  - ".join(error.problems)
        ) from error
    # Stored as given (plain JSON values); the connector normalises them each time it is built.
    secrets = {k: v for k, v in values.items() if k in cls.secret_fields}
    plain = {k: v for k, v in values.items() if k not in cls.secret_fields}
    rt = runtime()
    with rt.database.transaction() as session:
        registration, found = _target(session, issuer, options["client_id"], deployment_id)
        on_deployment = (
            ConnectorSetting.deployment_id == found.id
            if found
            else ConnectorSetting.deployment_id.is_(None)
        )
        setting = session.scalar(
            select(ConnectorSetting).where(
                ConnectorSetting.organisation_id == registration.organisation_id,
                on_deployment,
                ConnectorSetting.connector == name,
            )
        ) or ConnectorSetting(
            id=uuid.uuid4(),
            organisation_id=registration.organisation_id,
            deployment_id=found.id if found else None,
            connector=name,
        )
        setting.enabled, setting.kinds = not options["disable"], sorted(cls.capabilities)
        setting.config = plain
        setting.secrets = rt.box.encrypt(json.dumps(secrets)) if secrets else ""
        setting.updated_at = utcnow()
        session.add(setting)
    where = f"deployment {deployment_id}" if deployment_id else "every deployment"
    state = "switched off" if options["disable"] else "on"
    click.secho(
        f"{cls.label} is {state} for {where} of {issuer} (setting {setting.id}).", fg="green"
    )


@connector.command("list")
def connector_list() -> None:
    """Every configured target (secrets are never shown)."""
    with runtime().database.transaction() as session:
        rows = session.execute(
            select(ConnectorSetting, Registration, Deployment)
            .join(Registration, Registration.organisation_id == ConnectorSetting.organisation_id)
            .outerjoin(Deployment, Deployment.id == ConnectorSetting.deployment_id)
            .order_by(Registration.issuer, ConnectorSetting.connector)
        ).all()
        if not rows:
            click.echo("No connectors configured. Known: " + ", ".join(sorted(CONNECTORS)))
            return
        for setting, registration, found in rows:
            scope = f"deployment {found.deployment_id}" if found else "all deployments"
            state = "on" if setting.enabled else "off"
            secret = " secrets=stored" if setting.secrets else ""
            click.echo(
                f"{setting.id}  {setting.connector:<8} {state:<3} {registration.issuer} "
                f"({scope}) kinds={','.join(setting.kinds)} config={json.dumps(setting.config)}{secret}"
            )


@connector.command("remove")
@click.argument("setting_id", type=click.UUID)
@cli_errors
def connector_remove(setting_id: uuid.UUID) -> None:
    """Remove a target that never received anything (otherwise switch it off with --disable:
    its deliveries are part of the compliance record)."""
    with runtime().database.transaction() as session:
        setting = session.get(ConnectorSetting, setting_id)
        if setting is None:
            raise NotFoundError(f"No connector setting {setting_id}.")
        used = session.scalar(
            select(OutboxItem.id).where(OutboxItem.setting_id == setting_id).limit(1)
        )
        if used is not None:
            raise ConflictError(
                "This target has deliveries on record; switch it off instead: "
                f"bridge connector set {setting.connector} ... --disable"
            )
        session.delete(setting)
    click.secho(f"Removed connector setting {setting_id}.", fg="green")


def setup_hook() -> None:
    """`bridge setup` with the sandbox on: the sandbox's completions go to its gradebook (AGS),
    so `make run` shows grade sync with no manual step. Only when no AGS target is configured
    for the sandbox's organisation yet (one switched off is an admin's choice, and stays)."""
    rt = runtime()
    if not rt.settings.sandbox:
        return
    from lti.sandbox.platform import CLIENT_ID  # noqa: PLC0415 - sandbox only when used

    with rt.database.transaction() as session:
        registration, _ = _target(session, sandbox_site().issuer, CLIENT_ID, None)
        configured = session.scalar(
            select(ConnectorSetting.id).where(
                ConnectorSetting.organisation_id == registration.organisation_id,
                ConnectorSetting.connector == AGSConnector.name,
            )
        )
        if configured is not None:
            click.echo("Sandbox grade sync: an AGS target is already configured; left as it is.")
            return
        AGSConnector.validate_config({})
        session.add(
            ConnectorSetting(
                id=uuid.uuid4(),
                organisation_id=registration.organisation_id,
                deployment_id=None,
                connector=AGSConnector.name,
                enabled=True,
                kinds=sorted(AGSConnector.capabilities),
                config={},
                secrets="",
                updated_at=utcnow(),
            )
        )
    click.echo("Sandbox grade sync: completions go to the sandbox gradebook (AGS connector on).")


COMMANDS = (connector,)
