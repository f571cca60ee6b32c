"""Test support: databases (SQLite always, PostgreSQL when it answers) and app construction."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bridge import migrate
from bridge.app import create_app
from bridge.db import Base, Database
from config import environ_flag, environ_value

SECRET = "test-secret-" + "s" * 40
PG_SCHEMA = environ_value("TEST_PG_SCHEMA", "bridge_test")  # a schema per parallel run
PG_BASE_URL = "postgresql+psycopg://127.0.0.1:5432/test"
PG_URL = f"{PG_BASE_URL}?options=-csearch_path%3D{PG_SCHEMA}"


def postgres_available() -> bool:
    try:
        import psycopg  # noqa: PLC0415 - optional extra

        with psycopg.connect("host=127.0.0.1 port=5432 dbname=test connect_timeout=2"):
            return True
    except Exception:
        return False


def require_postgres() -> None:
    if postgres_available():
        return
    if environ_flag("REQUIRE_SERVICES"):
        pytest.fail(
            "PostgreSQL at 127.0.0.1:5432 (database test) does not answer and BRIDGE_REQUIRE_SERVICES=1"
        )
    pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")


REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> str:
    """The Redis URL when the server answers; skip (or fail with BRIDGE_REQUIRE_SERVICES=1)."""
    import redis  # noqa: PLC0415

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return REDIS_URL
    except redis.RedisError:
        if environ_flag("REQUIRE_SERVICES"):
            pytest.fail("Redis at 127.0.0.1:6379 does not answer and BRIDGE_REQUIRE_SERVICES=1")
        pytest.skip("Redis at 127.0.0.1:6379 does not answer")


def reset_postgres_schema() -> None:
    database = Database(PG_BASE_URL)
    with database.engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    database.dispose()


def truncate_all(database: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_sqlite:
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))
        else:
            connection.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " CASCADE"))


class SqliteTemplate:
    """A migrated SQLite file made once per session and copied for each test (fast and isolated)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        database = Database(f"sqlite:///{self.path}")
        migrate.upgrade(database)
        database.dispose()

    def copy_to(self, directory: Path) -> str:
        target = directory / f"bridge-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"


def make_app(database_url: str, var_dir: Path, **overrides: Any) -> Any:
    config = {"secret_key": SECRET, "database_url": database_url, "var_dir": str(var_dir)}
    config.update(overrides)
    app = create_app(test_config=config, env={})
    app.config["TESTING"] = True
    return app


class LiveServer:
    """The app served over real HTTP on 127.0.0.1 in a thread (for flows that fetch its own URLs)."""

    def __init__(self, database_url: str, var_dir: Path, **overrides: Any) -> None:
        import socket  # noqa: PLC0415
        import threading  # noqa: PLC0415

        from werkzeug.serving import make_server  # noqa: PLC0415

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.app = make_app(database_url, var_dir, public_url=self.base_url, **overrides)
        self._server = make_server("127.0.0.1", port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self.app.extensions["bridge.runtime"].database.dispose()
