"""What bridge.reads refuses up front: databases its text projections are not written for, and
statements whose binds SQLAlchemy would still rewrite after compiling."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Uuid, bindparam, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import CompileError

from bridge.db import UTCDateTime
from bridge.reads import PreparedRead, iso_text, uuid_text

T = Table("t", MetaData(), Column("id", Uuid), Column("at", UTCDateTime), Column("n", Integer))


@pytest.mark.parametrize("projection", [uuid_text(T.c.id), iso_text(T.c.at)])
def test_the_text_projections_compile_only_for_sqlite_and_postgresql(projection):
    statement = select(projection)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert "t." in str(statement.compile(dialect=dialect))
    with pytest.raises(CompileError, match="SQLite and PostgreSQL"):
        statement.compile(dialect=mysql.dialect())


def test_a_statement_with_binds_rewritten_after_compiling_is_refused():
    expanding = PreparedRead(select(T.c.n).where(T.c.n.in_(bindparam("ns", expanding=True))))
    with pytest.raises(ValueError, match="IN lists"):
        expanding.bound(sqlite.dialect(), {"ns": [1, 2]})


def test_parameters_are_positional_or_named_as_the_driver_wants():
    read = PreparedRead(select(T.c.n).where(T.c.n > bindparam("low"), T.c.n < bindparam("high")))
    sql, values = read.bound(sqlite.dialect(), {"high": 9, "low": 1})
    assert sql.count("?") == 2 and values == [1, 9]
    sql, values = read.bound(postgresql.dialect(), {"high": 9, "low": 1})
    assert "%(low)s" in sql and values == {"low": 1, "high": 9}
