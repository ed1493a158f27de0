"""SQLite URLs opened read-only (``mode=ro``): what ``read_only_url`` makes of them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ledger.storage.db import make_engine, read_only_url


def test_a_sqlite_file_becomes_a_read_only_uri(tmp_path: Path) -> None:
    assert read_only_url(f"sqlite:///{tmp_path}/a.db") == (
        f"sqlite:///file:{tmp_path}/a.db?mode=ro&uri=true")


def test_an_existing_uri_keeps_its_options_with_mode_ro(tmp_path: Path) -> None:
    url = read_only_url(f"sqlite:///file:{tmp_path}/a.db?mode=rwc&cache=shared&uri=true")
    assert url == f"sqlite:///file:{tmp_path}/a.db?cache=shared&mode=ro&uri=true"


def test_other_databases_are_unchanged_and_memory_is_refused() -> None:
    pg = "postgresql+psycopg://u@h/db"
    assert read_only_url(pg) == pg
    with pytest.raises(ValueError, match="in-memory"):
        read_only_url("sqlite://")


def test_a_read_only_engine_reads_a_wal_database_and_cannot_write(tmp_path: Path) -> None:
    writer = make_engine(f"sqlite:///{tmp_path}/a.db")
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    reader = make_engine(f"sqlite:///{tmp_path}/a.db", read_only=True)
    try:
        with reader.connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar_one() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            with pytest.raises(OperationalError) as exc:
                conn.execute(text("INSERT INTO t VALUES (2)"))
            assert isinstance(exc.value.orig, sqlite3.OperationalError)
            assert "readonly" in str(exc.value.orig)
    finally:
        reader.dispose()
        writer.dispose()
