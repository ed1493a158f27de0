"""Which database failures are the database's fault (503/507) and which a bug (500).

The errors are SQLite's own, provoked on a real WAL database: a transaction that read,
then tries to write after another connection wrote, fails with the extended code
SQLITE_BUSY_SNAPSHOT (517), a kind of SQLITE_BUSY (5).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from ledger.app.web.problems import database_fault


def _stale_snapshot_write(path: Path) -> sqlite3.OperationalError:
    """The error of a write in a read transaction whose snapshot another write made stale."""
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        first.execute("PRAGMA journal_mode=WAL")
        first.execute("CREATE TABLE t (x INTEGER)")
        first.execute("INSERT INTO t VALUES (1)")
        second.execute("BEGIN")
        second.execute("SELECT x FROM t").fetchall()
        first.execute("INSERT INTO t VALUES (2)")
        try:
            second.execute("UPDATE t SET x = 3")
        except sqlite3.OperationalError as exc:
            return exc
        raise AssertionError("the write on a stale snapshot succeeded")
    finally:
        second.close()
        first.close()


def test_every_kind_of_busy_is_unavailable_not_a_bug(tmp_path: Path) -> None:
    exc = _stale_snapshot_write(tmp_path / "db.sqlite")
    assert exc.sqlite_errorcode == sqlite3.SQLITE_BUSY_SNAPSHOT
    assert database_fault(exc) == "unavailable"
    wrapped = OperationalError("UPDATE t SET x = 3", {}, exc)
    assert database_fault(wrapped) == "unavailable"


def test_an_integrity_error_is_a_bug(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError) as info, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert database_fault(info.value) is None
    finally:
        engine.dispose()
