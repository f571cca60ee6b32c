"""The hot read path (bridge.reads) on SQLite and PostgreSQL: the database's text for identifiers
and timestamps is what Python writes, parameters bind as SQLAlchemy binds them, and a snapshot
hands its connection back whatever happens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, Table, Uuid, bindparam, select

from bridge.db import Database, UTCDateTime
from bridge.reads import PreparedRead, ReadSnapshot, iso_text, iso_utc, uuid_text

PROBE = Table(
    "reads_probe",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("other", Uuid, nullable=True),
    Column("at", UTCDateTime, nullable=True),
    Column("flag", Boolean, nullable=False),
    Column("rank", Integer, nullable=False),
)
C = PROBE.c
ROWS = [
    {"id": uuid.uuid4(), "other": uuid.uuid4(), "at": datetime(2026, 11, 27, 9, 30, 5, 120034, tzinfo=UTC), "flag": True, "rank": 1},
    {"id": uuid.uuid4(), "other": None, "at": datetime(2026, 11, 27, 9, 30, 5, tzinfo=UTC), "flag": False, "rank": 2},
    {"id": uuid.uuid4(), "other": uuid.uuid4(), "at": datetime(2026, 11, 27, 11, 0, 0, 7, tzinfo=timezone(timedelta(hours=2))), "flag": True, "rank": 3},
    {"id": uuid.uuid4(), "other": None, "at": None, "flag": False, "rank": 4},
]  # fmt: skip
TEXT = select(
    uuid_text(C.id).label("id"), uuid_text(C.other).label("other"), iso_text(C.at).label("at"),
    C.flag, C.rank,
)  # fmt: skip


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    PROBE.drop(database.engine, checkfirst=True)
    PROBE.create(database.engine)
    with database.transaction() as session:
        session.execute(PROBE.insert(), ROWS)
    yield database
    PROBE.drop(database.engine)
    database.dispose()


def both_ways(database: Database, read: PreparedRead, params: dict) -> list[tuple]:
    """The rows through a snapshot, after checking they equal the rows through a session."""
    snapshot = ReadSnapshot(database.engine)
    try:
        fast = snapshot.rows(read, params)
    finally:
        snapshot.close()
    with database.transaction() as session:
        slow = read.rows_in(session, params)
    assert [(*row[:3], bool(row[3]), row[4]) for row in fast] == slow
    return slow


def test_identifiers_and_timestamps_come_back_as_python_writes_them(database):
    rows = both_ways(database, PreparedRead(TEXT.order_by(C.rank)), {})
    expected = [
        (str(r["id"]), r["other"] and str(r["other"]), r["at"] and iso_utc(r["at"]), r["flag"], r["rank"])
        for r in ROWS
    ]  # fmt: skip
    assert rows == expected
    assert rows[1][2] == "2026-11-27T09:30:05.000000+00:00"  # microseconds always written
    assert rows[2][2] == "2026-11-27T09:00:00.000007+00:00"  # stored in UTC
    assert all(
        datetime.fromisoformat(row[2]) == r["at"]
        for row, r in zip(rows, ROWS, strict=True)
        if r["at"]
    )


def test_parameters_bind_with_the_statements_types(database):
    read = PreparedRead(
        TEXT.where(
            C.at >= bindparam("since", type_=C.at.type),
            C.id != bindparam("not_id", type_=C.id.type),
            C.flag.is_(True),
        )
        .order_by(C.rank)
        .limit(bindparam("limit"))
    )
    since = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # rows 1 to 3; 3 is 11:00 at UTC+2
    rows = both_ways(database, read, {"since": since, "not_id": ROWS[0]["id"], "limit": 5})
    assert [row[4] for row in rows] == [3]
    rows = both_ways(database, read, {"since": since, "not_id": uuid.uuid4(), "limit": 1})
    assert [row[4] for row in rows] == [1]


def test_a_snapshot_opens_on_first_use_and_hands_its_connection_back(database):
    pool = database.engine.pool
    snapshot = ReadSnapshot(database.engine)
    assert pool.checkedout() == 0  # nothing opened until a read
    read = PreparedRead(TEXT.where(C.id == bindparam("id")))
    assert len(snapshot.rows(read, {"id": ROWS[0]["id"]})) == 1
    assert pool.checkedout() == 1
    snapshot.close()
    snapshot.close()  # closing twice is harmless
    assert pool.checkedout() == 0


def test_a_failed_read_still_hands_the_connection_back(database):
    snapshot = ReadSnapshot(database.engine)
    broken = PreparedRead(select(C.id).where(C.rank == bindparam("rank")))
    with pytest.raises(Exception, match="rank"):
        snapshot.rows(broken, {})  # no value for :rank
    snapshot.close()
    assert database.engine.pool.checkedout() == 0
