"""Writes hold SQLite's write lock from their first statement (``LedgerStore.write``,
``write_transaction``), on a real WAL database file.

A deferred transaction that reads and then writes cannot wait for the lock: if another
connection wrote in between, its write fails at once with "database is locked"
(SQLITE_BUSY_SNAPSHOT), busy timeout or not.  Holding the lock from the start, the other
writer waits instead, and the read-then-write commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from ledger.app.registry import entry_types
from ledger.storage import LedgerStore, make_engine
from ledger.storage.db import write_transaction

Opener = Callable[[], AbstractContextManager[Connection]]


@pytest.fixture(params=["store", "engine"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Opener, Path]]:
    path = tmp_path / "db.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn, conn.begin():
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    store = LedgerStore(engine, tmp_path / "keys", entry_types())
    try:
        if request.param == "store":
            yield store.write, path
        else:
            yield lambda: write_transaction(engine), path
    finally:
        engine.dispose()


def test_a_read_then_write_holds_the_lock_from_its_start(opener: tuple[Opener, Path]) -> None:
    begin, path = opener
    other = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        with begin() as conn:
            seen = conn.execute(text("SELECT max(x) FROM t")).scalar_one()
            # Another connection's write must wait for this transaction (it gives up
            # after its short busy timeout) instead of slipping in between.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO t VALUES (2)")
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": seen + 10})
        assert other.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (11,)]
    finally:
        other.close()
