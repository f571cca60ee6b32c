"""Fixtures: ``app``/``client``/``runner`` over SQLite and PostgreSQL, and the peer platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.support import (
    PG_URL,
    SqliteTemplate,
    make_app,
    require_postgres,
    reset_postgres_schema,
    truncate_all,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    require_postgres()
    from bridge import migrate  # noqa: PLC0415
    from bridge.db import Database  # noqa: PLC0415

    reset_postgres_schema()
    database = Database(PG_URL)
    migrate.upgrade(database)
    database.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: SqliteTemplate
) -> str:
    if request.param == "sqlite":
        return sqlite_template.copy_to(tmp_path)
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test setting overrides; tests override this fixture or mutate it before ``app``."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    application = make_app(database_url, tmp_path / "var", **app_config)
    database = application.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    yield application
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class ShortQueries:
    """Runs each query in a transaction of its own, so a test never holds SQLite's write lock."""

    def __init__(self, app: Flask) -> None:
        self._database = app.extensions["bridge.runtime"].database

    def scalar(self, statement: Any) -> Any:
        with self._database.transaction() as session:
            return session.scalar(statement)

    def scalars(self, statement: Any) -> list[Any]:
        with self._database.transaction() as session:
            return list(session.scalars(statement))


@pytest.fixture
def db_session(app: Flask) -> ShortQueries:
    return ShortQueries(app)
