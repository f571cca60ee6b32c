"""The hot read path: selects prepared once, run in a read-only snapshot on a pooled connection.

The widget pages poll a few reads (the discussion's thread list and thread page) far more often
than anything else is asked. Through the ORM session each such statement paid for the unit of
work, the execution context and a conversion of every identifier and timestamp into a Python
object that was turned straight back into text for JSON: about four times what the database
itself costs (docs/benchmarks.md). Here:

- :class:`PreparedRead` compiles a Core select once per dialect and binds parameters with the
  statement's own types (their bind processors), so the driver receives what SQLAlchemy would
  send it;
- :func:`uuid_text` and :func:`iso_text` have the database return identifiers and timestamps as
  the text the API shows (``8-4-4-4-12`` UUIDs; ISO 8601 UTC with microseconds, as
  :func:`iso_utc` writes them), so a row is a plain tuple of text, numbers and booleans;
- :class:`ReadSnapshot` is one transaction for reads on a pooled DBAPI connection, opened on first
  use and always rolled back (nothing stops a write through it; none may be made): a deferred
  ``BEGIN`` on SQLite, one snapshot in WAL mode, where readers never wait for writers; the
  driver's own transaction on PostgreSQL, read committed as the session's, so each statement sees
  what was committed when it began.

Only SQLite and PostgreSQL (psycopg) are supported: the text projections refuse to compile for
any other database, and a statement whose binds SQLAlchemy would still rewrite after compiling
(IN lists, literal execution, renamed bind names) is refused when first prepared.

Booleans come back as the driver gives them (0/1 from SQLite, ``bool`` from PostgreSQL and through
a session): read them with ``bool()``. The same statements run through an ORM session with
:meth:`PreparedRead.rows_in` and give the same values, for callers that hold no snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

Row = tuple[Any, ...]


def iso_utc(moment: datetime) -> str:
    """A timestamp as :func:`iso_text` renders it: ``2026-11-27T09:30:05.120034+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class uuid_text(FunctionElement[str]):  # noqa: N801 (an SQL function, named as one)
    """A UUID column as its canonical text (lower-case ``8-4-4-4-12``); NULL stays NULL."""

    type = String()
    inherit_cache = True


class iso_text(FunctionElement[str]):  # noqa: N801
    """A UTC timestamp column as the text :func:`iso_utc` writes; NULL stays NULL."""

    type = String()
    inherit_cache = True


def _argument(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(column, **kw)


@compiles(uuid_text, "sqlite")
def _uuid_text_sqlite(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores a UUID in SQLite as its 32 lower-case hex digits.
    c = _argument(element, compiler, **kw)
    groups = [f"substr({c}, {start}, {size})" for start, size in ((1, 8), (9, 4), (13, 4), (17, 4))]
    return "(" + " || '-' || ".join([*groups, f"substr({c}, 21)"]) + ")"


@compiles(uuid_text, "postgresql")
def _uuid_text_postgresql(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_argument(element, compiler, **kw)} AS TEXT)"  # uuid::text is canonical


@compiles(uuid_text)
@compiles(iso_text)
def _unsupported(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(
        f"{type(element).__name__} is written for SQLite and PostgreSQL, not {compiler.dialect.name}"
    )


@compiles(iso_text, "sqlite")
def _iso_text_sqlite(element: iso_text, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (SQLAlchemy's SQLite format, bridge.db).
    return f"(replace({_argument(element, compiler, **kw)}, ' ', 'T') || '+00:00')"


@compiles(iso_text, "postgresql")
def _iso_text_postgresql(element: iso_text, compiler: SQLCompiler, **kw: Any) -> str:
    column = _argument(element, compiler, **kw)
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


class PreparedRead:
    """A Core select compiled once per dialect, bound and run without the ORM (see module doc)."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def bound(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL text for ``dialect`` and the driver's parameters for ``params``."""
        key = (
            dialect.name,
            dialect.driver,
            dialect.paramstyle,
        )  # the SQL text depends on all three
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, dialect)
        return compiled.sql, compiled.parameters(params)

    def rows_in(self, session: Session, params: Mapping[str, Any]) -> list[Row]:
        """The same rows through an ORM session: for callers without a snapshot (a use case run
        outside a GET request, or from a test)."""
        return [tuple(row) for row in session.execute(self.statement, params)]


class _Compiled:
    """One statement compiled for one dialect, with what binding a parameter needs."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.escaped_bind_names:
            raise ValueError(
                "PreparedRead needs binds that are final once compiled: no IN lists, literal "
                "execution or bind names the dialect must rename"
            )
        self.sql = compiled.string
        self.positions = list(compiled.positiontup or ()) if compiled.positional else None
        # values fixed in the statement (literals such as a CASE's 0), then each bind's processor
        self.literals = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required and name in compiled.bind_names.values()
        }
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = {**self.literals, **params}
        for name, process in self.processors.items():
            if name in values:
                values[name] = process(values[name])
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]


class ReadSnapshot:
    """One read-only transaction for the hot reads of a request, opened on first use.

    Never write through it: it is rolled back when closed. Close it (the request lifecycle in
    ``bridge.web`` does) to hand the connection back to the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self._cursor: Any = None

    def rows(self, read: PreparedRead, params: Mapping[str, Any]) -> list[Row]:
        cursor = self._cursor if self._cursor is not None else self._open()
        sql, parameters = read.bound(self._engine.dialect, params)
        cursor.execute(sql, parameters)
        return cursor.fetchall()

    def _open(self) -> Any:
        self._connection = self._engine.raw_connection()
        self._cursor = self._connection.cursor()
        if self._engine.dialect.name == "sqlite":
            # bridge.db leaves transactions to us (isolation_level None); deferred: a reader.
            self._cursor.execute("BEGIN")
        return self._cursor

    def close(self) -> None:
        connection, self._connection, self._cursor = self._connection, None, None
        if connection is not None:
            # Back to the pool, whose reset on return rolls the transaction back (SQLAlchemy's
            # default, kept by bridge.db.make_engine; sqlite3 ends a manual BEGIN on rollback()).
            connection.close()
