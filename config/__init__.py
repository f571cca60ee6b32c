"""Settings: defaults in code < a TOML file (``BRIDGE_CONFIG``) < ``BRIDGE_*`` environment variables.

This is the only package that reads the environment. Every value is validated at start-up and all
problems are reported at once, so an operator fixes a broken configuration in one round.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "BRIDGE_"
MIN_SECRET_LENGTH = 32


class ConfigError(Exception):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid configuration:\n  - " + "\n  - ".join(problems))


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one process. See ``config/example.toml`` for each key."""

    secret_key: str = _doc(
        "Signs cookies and encrypts private keys at rest (>= 32 chars).", default=""
    )
    secret_key_file: str = _doc(
        "File holding the secret key, when it is not set directly.", default=""
    )
    var_dir: str = _doc("Folder for the SQLite database, caches and media.", default="var")
    database_url: str = _doc("SQLAlchemy URL; empty means SQLite in var_dir.", default="")
    public_url: str = _doc(
        "The tool's external base URL, e.g. https://bridge.example.edu.", default=""
    )
    host: str = _doc("Address `bridge serve` binds to.", default="127.0.0.1")
    port: int = _doc("Port `bridge serve` listens on.", default=5000)
    proxy_fix_hops: int = _doc("Trusted reverse proxies setting X-Forwarded-* headers.", default=0)
    sandbox: bool = _doc(
        "Serve the built-in sandbox LMS at /sandbox (never in production).", default=False
    )
    sandbox_issuer: str = _doc("Issuer of the sandbox platform; empty: <sandbox_url>.", default="")
    sandbox_url: str = _doc(
        "Base URL that serves the sandbox; empty: <public_url>/sandbox.", default=""
    )
    cache_dir: str = _doc("Folder of the shared file cache; empty: <var_dir>/cache.", default="")
    cache_threshold: int = _doc("Entries the file cache keeps before it evicts.", default=200_000)
    session_hours: float = _doc("Lifetime of a widget session token.", default=4.0)
    launch_leeway_seconds: int = _doc("Clock skew tolerated on id_token exp/iat.", default=60)
    http_timeout_seconds: float = _doc("Timeout of every outbound HTTP request.", default=10.0)
    open_registration: bool = _doc(
        "Accept LTI Dynamic Registration without an invitation (development only).", default=False
    )
    invitation_hours: float = _doc(
        "Default lifetime of a `bridge platform invite` registration link.", default=48.0
    )
    key_grace_hours: float = _doc(
        "How long a superseded tool key stays published after `bridge keys rotate`.", default=72.0
    )
    mail_backend: str = _doc(
        "Outgoing mail: console (prints, development) or smtp.", default="console"
    )
    mail_from: str = _doc("Sender address of the tool's emails.", default="social-bridge@localhost")
    smtp_host: str = _doc("SMTP server (mail_backend = smtp).", default="")
    smtp_port: int = _doc("SMTP port (587 with STARTTLS, 465 with TLS).", default=587)
    smtp_username: str = _doc("SMTP user name, if the server wants one.", default="")
    smtp_password: str = _doc("SMTP password (keep it out of files in the repo).", default="")
    smtp_security: str = _doc("starttls, tls or none.", default="starttls")
    discussion_email_digest: bool = _doc(
        "Email members a digest of their unread discussion notifications (`bridge discussion digest`).",
        default=False,
    )
    redis_url: str = _doc(
        "Redis URL (scaled mode): the job queue moves from SQLite in var_dir to Redis.", default=""
    )
    worker_processes: int = _doc(
        "Processes `bridge worker` runs (each with worker_threads threads).", default=2
    )
    worker_threads: int = _doc("Delivery threads in each `bridge worker` process.", default=4)
    worker_poll_seconds: float = _doc(
        "Longest pause of an idle worker between looks at the queue.", default=0.25
    )
    delivery_max_attempts: int = _doc(
        "Attempts per delivery before it is dead-lettered (`bridge outbox retry-dead`).", default=12
    )
    delivery_backoff_seconds: float = _doc(
        "First retry delay; doubles per attempt, with jitter, up to the maximum.", default=5.0
    )
    delivery_backoff_max_seconds: float = _doc(
        "Longest delay between two attempts.", default=3600.0
    )
    delivery_lease_seconds: float = _doc(
        "How long a worker holds a delivery before the sweeper treats it as stuck.", default=120.0
    )
    sweep_seconds: float = _doc(
        "How often the worker's sweeper re-enqueues due or stuck deliveries.", default=30.0
    )
    max_request_bytes: int = _doc("Largest request body accepted (413 beyond).", default=1_048_576)
    log_level: str = _doc("Python logging level.", default="INFO")

    @property
    def var_path(self) -> Path:
        return Path(self.var_dir)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_path.resolve() / 'bridge.db'}"

    @property
    def effective_cache_dir(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else self.var_path / "cache"


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false/1/0), got {value!r}")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "bool": _to_bool,
    "int": int,
    "float": float,
    "str": str,
}


def _convert(name: str, type_name: str, value: Any, problems: list[str]) -> Any:
    try:
        return _CONVERTERS[type_name](value)
    except (TypeError, ValueError) as exc:
        problems.append(
            f"{name}: {exc}"
            if type_name == "bool"
            else f"{name}: not a valid {type_name}: {value!r}"
        )
        return None


def _read_toml(path: str, problems: list[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        problems.append(f"BRIDGE_CONFIG: file not found: {path}")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"BRIDGE_CONFIG: {path} is not valid TOML: {exc}")
    return {}


def _gather(
    env: Mapping[str, str], overrides: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    known = {f.name: f for f in fields(Settings)}
    raw: dict[str, Any] = {}
    if env.get("BRIDGE_CONFIG"):
        for key, value in _read_toml(env["BRIDGE_CONFIG"], problems).items():
            if key not in known:
                problems.append(f"{env['BRIDGE_CONFIG']}: unknown key {key!r}")
            raw[key] = value
    for name in known:
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            raw[name] = env[env_name]
    for key, value in overrides.items():
        if key not in known:
            problems.append(f"unknown setting {key!r}")
        raw[key] = value
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in known:
            values[name] = _convert(name, str(known[name].type), value, problems)
    return values


def _check_url(name: str, value: str, problems: list[str]) -> None:
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        problems.append(f"{name}: must be an absolute http(s) URL, got {value!r}")


def _validate(settings: Settings, problems: list[str]) -> None:
    if len(settings.secret_key) < MIN_SECRET_LENGTH:
        problems.append(
            "secret_key: set BRIDGE_SECRET_KEY (or BRIDGE_SECRET_KEY_FILE) to a random string of at "
            f"least {MIN_SECRET_LENGTH} characters, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`"
        )
    scheme = urlsplit(settings.effective_database_url).scheme
    if not scheme.startswith(("sqlite", "postgresql")):
        problems.append(f"database_url: only sqlite and postgresql are supported, got {scheme!r}")
    for name in ("public_url", "sandbox_url", "sandbox_issuer"):
        _check_url(name, getattr(settings, name), problems)
    if not 0 < settings.port < 65536:
        problems.append(f"port: must be between 1 and 65535, got {settings.port}")
    for name in (
        "cache_threshold",
        "max_request_bytes",
        "session_hours",
        "http_timeout_seconds",
        "invitation_hours",
        "key_grace_hours",
        "worker_processes",
        "worker_threads",
        "worker_poll_seconds",
        "delivery_max_attempts",
        "delivery_backoff_seconds",
        "delivery_backoff_max_seconds",
        "delivery_lease_seconds",
        "sweep_seconds",
    ):
        if getattr(settings, name) <= 0:
            problems.append(f"{name}: must be positive")
    if settings.proxy_fix_hops < 0 or settings.launch_leeway_seconds < 0:
        problems.append("proxy_fix_hops and launch_leeway_seconds must not be negative")
    if settings.mail_backend not in {"console", "smtp"}:
        problems.append(f"mail_backend: console or smtp, got {settings.mail_backend!r}")
    if settings.mail_backend == "smtp" and not settings.smtp_host:
        problems.append("smtp_host: required when mail_backend is smtp")
    if settings.smtp_security not in {"starttls", "tls", "none"}:
        problems.append(f"smtp_security: starttls, tls or none, got {settings.smtp_security!r}")
    _validate_delivery(settings, problems)
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        problems.append(f"log_level: unknown level {settings.log_level!r}")


def _validate_delivery(settings: Settings, problems: list[str]) -> None:
    if settings.delivery_lease_seconds <= 4 * settings.http_timeout_seconds:
        problems.append(
            "delivery_lease_seconds: must be more than 4 x http_timeout_seconds "
            f"({settings.delivery_lease_seconds} <= 4 x {settings.http_timeout_seconds}): a worker "
            "must finish an attempt (a token request and a score) well within its hold on the row"
        )
    if settings.redis_url and urlsplit(settings.redis_url).scheme not in {"redis", "rediss"}:
        problems.append(
            f"redis_url: must start with redis:// or rediss://, got {settings.redis_url!r}"
        )


def _read_secret_file(values: dict[str, Any], problems: list[str]) -> None:
    path = values.get("secret_key_file")
    if values.get("secret_key") or not path:
        return
    try:
        values["secret_key"] = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.append(f"secret_key_file: cannot read {path}: {exc.strerror}")


def load_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the settings from the environment (``os.environ`` by default) and explicit overrides."""
    problems: list[str] = []
    values = _gather(os.environ if env is None else env, overrides or {}, problems)
    values = {name: value for name, value in values.items() if value is not None}
    _read_secret_file(values, problems)
    settings = Settings(**values)
    _validate(settings, problems)
    if problems:
        raise ConfigError(problems)
    return settings


def describe() -> list[tuple[str, str, Any]]:
    """(name, doc, default) of every setting, for `bridge config` and the docs."""
    return [(f.name, f.metadata["doc"], f.default) for f in fields(Settings)]


def environ_flag(name: str) -> bool:
    """Read a boolean ``BRIDGE_*`` flag that is not a setting (e.g. ``BRIDGE_REQUIRE_SERVICES``)."""
    try:
        return _to_bool(os.environ.get(ENV_PREFIX + name, ""))
    except ValueError:
        return False


def environ_value(name: str, default: str = "") -> str:
    """Read a raw ``BRIDGE_*`` value that is not a setting (test and tooling switches)."""
    return os.environ.get(ENV_PREFIX + name, default)
