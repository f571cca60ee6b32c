"""``bridge platform|deployment|keys|sandbox|roster``: registration, keys and course rosters."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, ParamSpec, TypeVar
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup

from bridge.db import utcnow
from bridge.errors import BridgeError, NotFoundError
from bridge.runtime import runtime
from bridge.tenancy import roster as rosters
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Registration
from lti import keys as tool_keys
from lti import nrps
from lti.dynamic_registration import invitations
from lti.dynamic_registration.client import origin
from lti.services import access_tokens_for
from lti.tool_document import tool_urls

if TYPE_CHECKING:
    from lti.sandbox.platform import SandboxSite

P = ParamSpec("P")
R = TypeVar("R")


def cli_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Show a BridgeError as a one-line error (exit 1) instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BridgeError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper


def _tool_base() -> str:
    settings = runtime().settings
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def _describe(registration: Registration) -> dict[str, object]:
    return {
        "id": str(registration.id),
        "name": registration.name,
        "organisation": registration.organisation.name,
        "issuer": registration.issuer,
        "client_id": registration.client_id,
        "auth_login_url": registration.auth_login_url,
        "auth_token_url": registration.auth_token_url,
        "auth_audience": registration.auth_audience,
        "key_set_url": registration.key_set_url,
        "allowed_origins": registration.allowed_origins,
        "auto_activate_deployments": registration.auto_activate_deployments,
        "deployments": [
            {"deployment_id": d.deployment_id, "status": d.status} for d in registration.deployments
        ],
    }


def _find(session: object, issuer: str, client_id: str | None) -> Registration:
    registration = tenancy.find_registration(session, issuer, client_id)  # type: ignore[arg-type]
    if registration is None:
        hint = "" if client_id else " (if the issuer has several registrations, pass --client-id)"
        raise NotFoundError(f"No registration for issuer {issuer!r}{hint}.")
    return registration


platform = AppGroup("platform", help="Register LMS platforms by hand (LTI 1.3).")
deployment = AppGroup("deployment", help="Deployments of a registered platform.")
keys = AppGroup("keys", help="The tool's signing keys (published at /.well-known/jwks.json).")
sandbox = AppGroup("sandbox", help="The built-in sandbox LMS (BRIDGE_SANDBOX=1).")
roster = AppGroup(
    "roster", help="Course members from the platform (LTI Names and Role Provisioning Services)."
)


@platform.command("add")
@click.option(
    "--issuer", required=True, help="The platform's issuer (iss), e.g. https://moodle.example.edu."
)
@click.option("--client-id", required=True, help="The client id the platform gave the tool.")
@click.option(
    "--auth-login-url", required=True, help="The platform's OIDC authentication endpoint."
)
@click.option(
    "--key-set-url", "--jwks-url", required=True, help="The platform's public keyset URL."
)
@click.option(
    "--auth-token-url", default="", help="The platform's OAuth2 token endpoint (AGS, NRPS)."
)
@click.option(
    "--audience", default="", help="Token audience if not the token URL (Brightspace, Blackboard)."
)
@click.option(
    "--deployment-id", "deployment_ids", multiple=True, help="A deployment id (repeatable)."
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="An origin allowed to frame the tool, e.g. https://school.instructure.com (repeatable).",
)
@click.option(
    "--auto-activate-deployments",
    is_flag=True,
    help="Activate unknown deployments at first launch.",
)
@click.option(
    "--organisation", default="", help="Attach to this existing organisation instead of a new one."
)
@click.option("--name", default="", help="A label for admins, e.g. 'Moodle production'.")
@cli_errors
def platform_add(**options: object) -> None:
    """Register a platform; prints the tool URLs to enter in the LMS."""
    options["allowed_origins"] = _check_origins(options["allowed_origins"], "--allowed-origin")  # type: ignore[arg-type]
    spec = tenancy.RegistrationSpec(
        issuer=str(options["issuer"]),
        client_id=str(options["client_id"]),
        auth_login_url=str(options["auth_login_url"]),
        key_set_url=str(options["key_set_url"]),
        auth_token_url=str(options["auth_token_url"]),
        auth_audience=str(options["audience"]),
        name=str(options["name"]),
        deployment_ids=tuple(options["deployment_ids"]),  # type: ignore[arg-type]
        allowed_origins=tuple(options["allowed_origins"]),  # type: ignore[arg-type]
        auto_activate_deployments=bool(options["auto_activate_deployments"]),
        organisation=str(options["organisation"]),
    )
    with runtime().database.transaction() as session:
        registration = tenancy.add_registration(session, spec)
        click.secho(
            f"Registered {registration.issuer} (client_id {registration.client_id}).", fg="green"
        )
        click.echo(json.dumps(_describe(registration), indent=2))
    _print_tool_urls()


def _check_origins(origins: tuple[str, ...], hint: str) -> tuple[str, ...]:
    """Each value must be an origin (scheme://host[:port]); it goes into a CSP header, normalised."""
    for value in origins:
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if (
            not origin(value)
            or parts is None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise click.BadParameter(
                f"{value!r} is not an origin like https://lms.example.edu", param_hint=hint
            )
    return tuple(origin(value) for value in origins)


@platform.command("origins")
@click.option("--issuer", required=True)
@click.option("--client-id", default=None)
@click.option(
    "--add", "added", multiple=True, help="An origin allowed to frame the tool (repeatable)."
)
@click.option("--remove", "removed", multiple=True, help="An origin to stop allowing (repeatable).")
@cli_errors
def platform_origins(
    issuer: str, client_id: str | None, added: tuple[str, ...], removed: tuple[str, ...]
) -> None:
    """Show or change the origins allowed to frame the tool (CSP frame-ancestors).

    Canvas frames the tool from the school's own domain, not from its issuer's: add it here.
    """
    added = _check_origins(added, "--add")
    with runtime().database.transaction() as session:
        registration = _find(session, issuer, client_id)
        kept = [o for o in registration.allowed_origins if o not in removed]
        registration.allowed_origins = kept + [o for o in dict.fromkeys(added) if o not in kept]
        shown = registration.allowed_origins or ["(none: any https origin may frame the tool)"]
    click.echo("\n".join(shown))


def _print_tool_urls() -> None:
    urls = tool_urls(_tool_base())
    click.echo("\nEnter these in the LMS's tool settings:")
    click.echo(f"  Login (initiation) URL:  {urls['login']}")
    click.echo(f"  Redirect / launch URL:   {urls['launch']}")
    click.echo(f"  Public keyset (JWKS):    {urls['jwks']}")
    click.echo(f"  Full configuration JSON: {urls['config']}")


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def platform_list(as_json: bool) -> None:
    """List registrations."""
    with runtime().database.transaction() as session:
        rows = [_describe(r) for r in tenancy.list_registrations(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No platforms registered yet. Add one with `bridge platform add --help`.")
    for row in rows:
        deployments = (
            ", ".join(f"{d['deployment_id']} ({d['status']})" for d in row["deployments"]) or "none"
        )  # type: ignore[attr-defined]
        click.echo(
            f"{row['issuer']}  client_id={row['client_id']}  org={row['organisation']}  deployments: {deployments}"
        )


@platform.command("show")
@click.option("--issuer", required=True)
@click.option("--client-id", default=None)
@cli_errors
def platform_show(issuer: str, client_id: str | None) -> None:
    """Show one registration as JSON."""
    with runtime().database.transaction() as session:
        click.echo(json.dumps(_describe(_find(session, issuer, client_id)), indent=2))


@platform.command("remove")
@click.option("--issuer", required=True)
@click.option("--client-id", default=None)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@cli_errors
def platform_remove(issuer: str, client_id: str | None, yes: bool) -> None:
    """Remove a registration and its deployments (launches from it stop working).

    Refused once its deployments have completion records (completions, ledger entries, outbox
    rows): they are the compliance record and stay.
    """
    with runtime().database.transaction() as session:
        registration = _find(session, issuer, client_id)
        tenancy.check_removable(session, registration)  # before asking, not after
        if not yes:
            click.confirm(
                f"Remove {registration.issuer} (client_id {registration.client_id}) and its deployments?",
                abort=True,
            )
        tenancy.remove_registration(session, registration)
    click.secho("Removed.", fg="green")


@platform.command("invite")
@click.option(
    "--organisation", default="", help="Attach the registration to this existing organisation."
)
@click.option(
    "--auto-activate-deployments",
    is_flag=True,
    help="Activate the platform's unknown deployments at their first launch.",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="How long the link stays valid (default: the invitation_hours setting).",
)
@cli_errors
def platform_invite(
    organisation: str, auto_activate_deployments: bool, hours: float | None
) -> None:
    """Make a single-use registration link for an LMS (LTI Dynamic Registration)."""
    rt = runtime()
    lifetime = timedelta(hours=rt.settings.invitation_hours if hours is None else hours)
    with rt.database.transaction() as session:
        invitation, token = invitations.create_invitation(
            session,
            lifetime=lifetime,
            organisation=organisation,
            auto_activate_deployments=auto_activate_deployments,
        )
        expires_at = invitation.expires_at
    click.echo("Paste this URL into the LMS as the tool's Dynamic Registration URL:")
    click.echo(invitations.registration_url(_tool_base(), token))
    click.echo(f"It registers one platform, until {expires_at:%Y-%m-%d %H:%M} UTC.")


@deployment.command("activate")
@click.option("--issuer", required=True)
@click.option("--client-id", default=None)
@click.option("--deployment-id", required=True)
@cli_errors
def deployment_activate(issuer: str, client_id: str | None, deployment_id: str) -> None:
    """Activate a pending deployment (or add it active)."""
    with runtime().database.transaction() as session:
        found = tenancy.activate_deployment(
            session, _find(session, issuer, client_id), deployment_id
        )
        click.secho(f"Deployment {found.deployment_id} is active.", fg="green")


@deployment.command("list")
@click.option("--pending", is_flag=True, help="Only deployments waiting for activation.")
def deployment_list(pending: bool) -> None:
    """List deployments of every registration."""
    with runtime().database.transaction() as session:
        for registration in tenancy.list_registrations(session):
            for found in registration.deployments:
                if not pending or not found.is_active:
                    click.echo(
                        f"{registration.issuer}  client_id={registration.client_id}  "
                        f"deployment_id={found.deployment_id}  {found.status}"
                    )


@keys.command("ensure")
def keys_ensure() -> None:
    """Create the tool's signing key if there is none."""
    ensure_signing_key()


def ensure_signing_key() -> None:
    rt = runtime()
    with rt.database.transaction() as session:
        key = tool_keys.ensure_key(session, rt.box)
        click.echo(f"Signing key: kid {key.kid}")


@keys.command("list")
def keys_list() -> None:
    """List the tool's keys: signing, published until a date, or retired."""
    with runtime().database.transaction() as session:
        keys_now = tool_keys.all_keys(session)
        signing = tool_keys.active_keys(session)[:1]
        for key in keys_now:
            click.echo(
                f"{key.kid}  created {key.created_at:%Y-%m-%d %H:%M} UTC  {_key_status(key, signing)}"
            )


def _key_status(key: tool_keys.ToolKey, signing: list[tool_keys.ToolKey]) -> str:
    if signing and key.id == signing[0].id:
        return "signing"
    if key.retired_at is None:
        return "active"
    state = "published until" if key.retired_at > utcnow() else "retired"
    return f"{state} {key.retired_at:%Y-%m-%d %H:%M} UTC"


@keys.command("rotate")
@click.option("--grace-hours", type=float, default=None,
              help="Keep the previous keys published this long (default: the key_grace_hours setting).")  # fmt: skip
def keys_rotate(grace_hours: float | None) -> None:
    """Create a new signing key; the previous ones stay in the JWKS for a grace period."""
    rt = runtime()
    hours = rt.settings.key_grace_hours if grace_hours is None else grace_hours
    if hours < 0:
        raise click.BadParameter("must not be negative", param_hint="--grace-hours")
    with rt.database.transaction() as session:
        key = tool_keys.rotate(session, rt.box, timedelta(hours=hours))
        click.secho(f"New signing key: kid {key.kid}", fg="green")
    click.echo(f"Previous keys stay published for {hours:g} hours, then retire.")


@sandbox.command("register")
def sandbox_register() -> None:
    """Register the sandbox LMS as a platform (idempotent; follows URL changes)."""
    register_sandbox()


def sandbox_site() -> SandboxSite:
    """The sandbox's URLs as `bridge setup` registers them (from the settings, no request)."""
    from lti.sandbox.platform import SandboxSite  # noqa: PLC0415 - sandbox only when used

    return SandboxSite.build(runtime().settings, _tool_base())


def register_sandbox() -> None:
    from lti.sandbox.platform import register  # noqa: PLC0415 - sandbox only when used

    rt = runtime()
    with rt.database.transaction() as session:
        registration = register(session, rt.box, sandbox_site())
        click.echo(
            f"Sandbox LMS registered: issuer {registration.issuer}, client_id {registration.client_id}."
        )


@roster.command("sync")
@click.option(
    "--context",
    "context_id",
    type=click.UUID,
    default=None,
    help="Only this course: its id here (a UUID, not the LMS's course id).",
)
def roster_sync(context_id: uuid.UUID | None) -> None:
    """Read course members from the platform (NRPS) and update the tool's memberships.

    Without --context, every course whose platform offered NRPS at a launch. Exits non-zero if
    any course failed; the others are still synced.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with runtime().database.transaction() as session:
        try:
            targets = (
                [rosters.roster_target(session, context_id)]
                if context_id
                else rosters.roster_targets(session)
            )
        except BridgeError as exc:
            raise click.ClickException(exc.message) from exc
    if not targets:
        click.echo("No course has offered NRPS yet: a launch from the LMS records its URL.")
        return
    tokens = access_tokens_for(app)  # one token cache for all the courses of a registration
    failed = 0
    for number, target in enumerate(targets, start=1):
        click.echo(f"[{number}/{len(targets)}] {target.title} ({target.context_id}): ", nl=False)
        try:
            result = nrps.sync_context(app, target.context_id, tokens=tokens)
        except BridgeError as exc:
            failed += 1
            click.secho(f"failed: {exc.message}", fg="red")
            continue
        click.echo(_describe_sync(result))
    if failed:
        raise click.ClickException(f"{failed} of {len(targets)} course(s) could not be synced.")


def _describe_sync(result: nrps.RosterSync) -> str:
    changes, fetched = result.changes, result.roster
    text = (
        f"{len(fetched.members)} members in {fetched.pages} page(s): {changes.added} new, "
        f"{changes.updated} updated, {changes.unchanged} unchanged, "
        f"{changes.deactivated} no longer current"
    )
    if fetched.skipped:
        text += f", {fetched.skipped} unusable entries skipped"
    if not fetched.complete:
        text += " (page limit reached: the rest were not read, and nobody was marked as gone)"
    return text + "."


def setup_hook() -> None:
    """What `bridge setup` prepares for LTI: the signing key, and the sandbox when it is enabled."""
    ensure_signing_key()
    if runtime().settings.sandbox:
        register_sandbox()


COMMANDS = (platform, deployment, keys, sandbox, roster)
