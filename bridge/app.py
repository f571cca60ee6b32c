"""The composition root: builds the app and wires every package together.

It is the one module allowed to import every package (the import-linter contracts exempt it): it
registers each package's blueprints and CLI commands and puts the widget catalogue on the app, so
``lti`` reads the widgets at run time instead of importing ``widgets``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_caching import Cache
from werkzeug.middleware.proxy_fix import ProxyFix

import lti.cli
import lti.dynamic_registration.views
import lti.messages
import lti.nrps
import lti.sandbox.api
import lti.sandbox.views
import lti.services
import lti.views
from bridge import cli as bridge_cli
from bridge import shell, web
from bridge import widgets as widget_types
from bridge.api import init_api
from bridge.cli import register_setup_hook
from bridge.completions import api as completions_api
from bridge.completions.engine import EXTENSION_KEY as ENGINE_KEY
from bridge.completions.engine import CompletionEngine
from bridge.db import Database
from bridge.delivery import cli as delivery_cli
from bridge.delivery import worker as jobs
from bridge.events import ANY, EventBus
from bridge.jsonio import OrjsonJSONProvider
from bridge.logs import configure_logging
from bridge.runtime import EXTENSION_KEY, Runtime
from bridge.vault import SecretBox
from config import Settings, load_settings
from connectors import cli as connectors_cli
from connectors.base import Runtime as ConnectorRuntime
from connectors.http import WorkerSession
from connectors.hub import hub_factory
from connectors.registry import CONNECTORS
from widgets.discussion import cli as discussion_cli
from widgets.discussion import views as discussion_views
from widgets.registry import CATALOGUE


def _make_cache(app: Flask, settings: Settings) -> Cache:
    directory = settings.effective_cache_dir
    directory.mkdir(parents=True, exist_ok=True)
    return Cache(
        app,
        config={
            "CACHE_TYPE": "FileSystemCache",
            "CACHE_DIR": str(directory),
            "CACHE_THRESHOLD": settings.cache_threshold,
            "CACHE_DEFAULT_TIMEOUT": 3600,
        },
    )


def _configure_flask(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        BABEL_DEFAULT_LOCALE="en",
    )
    app.json = OrjsonJSONProvider(app)
    if settings.proxy_fix_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.proxy_fix_hops,
            x_proto=settings.proxy_fix_hops,
            x_host=settings.proxy_fix_hops,
            x_port=settings.proxy_fix_hops,
            x_prefix=settings.proxy_fix_hops,
        )


def _connector_runtime(app: Flask) -> ConnectorRuntime:
    settings: Settings = app.extensions[EXTENSION_KEY].settings
    return ConnectorRuntime(
        http=WorkerSession(),
        timeout=settings.http_timeout_seconds,
        tokens=lti.services.access_tokens_for(app),
        tool_url=settings.public_url.rstrip("/"),
    )


def _wire_completions(app: Flask) -> EventBus:
    """Events → completion rules → ledger + outbox (one transaction) → the worker's connectors."""
    rt: Runtime = app.extensions[EXTENSION_KEY]
    queue = jobs.Jobs(
        rt.settings,
        rt.database,
        rt.box,
        hub_factory(CONNECTORS, lambda: _connector_runtime(app)),
    )
    app.extensions[jobs.EXTENSION_KEY] = queue
    queue.add_task(lti.nrps.SYNC_JOB, lti.nrps.roster_job(app))
    engine = CompletionEngine(CATALOGUE.criteria(), queue.record)
    app.extensions[ENGINE_KEY] = engine
    bus = EventBus()
    bus.subscribe(ANY, engine.on_event)
    return bus


def create_app(
    test_config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Flask:
    """Build the application from the environment, a TOML file and ``test_config`` overrides."""
    settings = load_settings(env=env, overrides=test_config)
    configure_logging(settings.log_level)
    app = Flask(__name__)
    _configure_flask(app, settings)
    settings.var_path.mkdir(parents=True, exist_ok=True)
    app.extensions[EXTENSION_KEY] = Runtime(
        settings=settings,
        database=Database(settings.effective_database_url),
        cache=_make_cache(app, settings),
        box=SecretBox(settings.secret_key),
    )
    app.extensions[widget_types.EXTENSION_KEY] = CATALOGUE
    Babel(app)
    web.init_web(app)
    web.register_error_messages(lti.messages.MESSAGES)
    app.extensions[web.EVENTS_KEY] = _wire_completions(app)
    api = init_api(app)
    api.register_blueprint(completions_api.bp)
    for widget in CATALOGUE:
        if widget.blueprint is not None:
            api.register_blueprint(widget.blueprint)
    app.register_blueprint(shell.bp)
    app.register_blueprint(discussion_views.bp)
    app.register_blueprint(lti.views.bp)
    app.register_blueprint(lti.dynamic_registration.views.bp)
    if settings.sandbox:
        app.register_blueprint(lti.sandbox.views.bp)
        app.register_blueprint(lti.sandbox.api.bp)
    for command in (
        *bridge_cli.COMMANDS,
        *delivery_cli.COMMANDS,
        *lti.cli.COMMANDS,
        *connectors_cli.COMMANDS,
        discussion_cli.discussion,
    ):
        app.cli.add_command(command)
    register_setup_hook(app, lti.cli.setup_hook)
    register_setup_hook(app, connectors_cli.setup_hook)  # after lti's: the sandbox is registered
    return app
