"""The ``bridge`` command line. Each package contributes its own subcommands through the app
(``lti`` owns ``platform``, ``deployment``, ``keys`` and ``sandbox``); this module holds the core
ones: ``db``, ``setup``, ``serve`` and ``config``."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from werkzeug.serving import run_simple

from bridge import migrate, processes
from bridge.runtime import runtime
from config import ConfigError, describe

SETUP_HOOKS_KEY = "bridge.setup_hooks"
SECRET_NAMES = {"secret_key", "smtp_password"}


def _create_app() -> Flask:
    from bridge.app import create_app  # noqa: PLC0415 - the composition root, loaded on demand

    try:
        return create_app()
    except ConfigError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)


main = FlaskGroup(
    name="bridge",
    help="Social Bridge: an LTI 1.3 tool for social learning. Administration commands.",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)


db = AppGroup("db", help="Database schema migrations.")


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    database = runtime().database
    migrate.upgrade(database, revision)
    click.echo(
        f"Database at revision {migrate.current_revision(database)} ({_safe_url(database.url)})."
    )


@db.command("current")
def db_current() -> None:
    """Show the applied and the newest revision."""
    database = runtime().database
    click.echo(
        f"current: {migrate.current_revision(database)}  head: {migrate.head_revision(database)}"
    )


def register_setup_hook(app: Flask, hook: Callable[[], None]) -> None:
    """Packages add what `bridge setup` must prepare (keys, the sandbox registration, …)."""
    app.extensions.setdefault(SETUP_HOOKS_KEY, []).append(hook)


@click.command("setup")
@with_appcontext
def setup() -> None:
    """Migrate the database and prepare what every package needs. Safe to run again."""
    database = runtime().database
    migrate.upgrade(database)
    click.echo(f"Database ready at revision {migrate.current_revision(database)}.")
    for hook in current_app.extensions.get(SETUP_HOOKS_KEY, []):
        hook()


@click.command("serve")
@with_appcontext
@click.option("--host", default=None, help="Bind address (default: the host setting).")
@click.option("--port", type=int, default=None, help="Port (default: the port setting).")
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=None,
    help="Run the delivery worker beside the server (default: yes, unless redis_url is set).",
)
def serve(host: str | None, port: int | None, with_worker: bool | None) -> None:
    """Serve the tool with the built-in threaded server (embedded mode, development and small sites)."""
    settings = runtime().settings
    database = runtime().database
    current, head = migrate.current_revision(database), migrate.head_revision(database)
    if current != head:
        raise click.ClickException(
            f"The database is at revision {current or 'none'}, the code needs {head}: run `bridge setup` first."
        )
    host, port = host or settings.host, port or settings.port
    if with_worker is None:
        with_worker = not settings.redis_url  # scaled mode runs `bridge worker` on its own
    base = (settings.public_url or f"http://{host}:{port}").rstrip("/")
    click.secho(f"Social Bridge is running at {base}", fg="green", bold=True)
    click.echo(f"  Tool configuration (for LMS admins): {base}/lti/config")
    if settings.sandbox:
        sandbox = (settings.sandbox_url or base + "/sandbox").rstrip("/")
        click.secho(f"  Sandbox LMS: {sandbox}/", fg="cyan", bold=True)
    worker = _start_worker() if with_worker else None
    click.echo("Press Ctrl+C to stop.")
    try:
        _serve(host, port)
    finally:
        if worker is not None:
            _stop_worker(worker)


def _start_worker() -> subprocess.Popen[bytes]:
    """The delivery worker as a child process (embedded mode: one command runs everything)."""
    click.echo("  Delivery worker: started beside the web server (`bridge worker`).")
    # Stop the server on SIGTERM as on Ctrl+C, so the worker is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return processes.spawn("worker")


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    processes.stop(worker)


def _serve(host: str, port: int) -> None:
    run_simple(
        host,
        port,
        current_app._get_current_object(),
        threaded=True,
        use_reloader=False,
        use_debugger=False,
    )


@click.command("config")
@with_appcontext
def show_config() -> None:
    """Print the effective settings (secrets masked) with what each one does."""
    settings = runtime().settings
    for name, doc, _default in describe():
        value = getattr(settings, name)
        shown = "********" if name in SECRET_NAMES and value else value
        click.echo(f"{name} = {shown!r}\n    {doc}")


def _safe_url(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://***@{tail}" if sep else url


COMMANDS = (db, setup, serve, show_config)
