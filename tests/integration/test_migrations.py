"""The migrations build exactly the schema the models describe (no drift, no forgotten revision)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import bridge.app  # noqa: F401 - the composition root imports every package, and so every model
from bridge import migrate
from bridge.db import Base, Database


def test_migrations_match_models_when_upgraded_from_empty(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate.upgrade(database)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
