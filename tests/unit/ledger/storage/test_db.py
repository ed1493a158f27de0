"""ledger.storage.db: the SQLite engine's connection settings, and a write transaction
that commits or rolls back whole (its write lock: ``test_write_lock``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from ledger.storage.db import lock_ddl, make_engine, write_transaction


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with e.connect() as conn, conn.begin():
        conn.execute(text("CREATE TABLE t (x TEXT PRIMARY KEY)"))
    try:
        yield e
    finally:
        e.dispose()


@pytest.mark.parametrize(("sync", "level"), [("FULL", 2), ("normal", 1), ("OFF", 0),
                                             ("EXTRA", 3)])
def test_every_connection_gets_the_ledgers_settings(tmp_path: Path, sync: str, level: int
                                                    ) -> None:
    e = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", sqlite_synchronous=sync)
    try:
        with e.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == level
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 60000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        e.dispose()


def test_the_default_is_a_durable_commit(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL


def test_an_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OFF/NORMAL/FULL/EXTRA"):
        make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", sqlite_synchronous="SOMETIMES")


def test_a_failed_write_transaction_leaves_nothing(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES ('a')"))

    def clash() -> None:
        with write_transaction(engine) as conn:
            lock_ddl(conn)  # a no-op on SQLite
            conn.execute(text("INSERT INTO t VALUES ('b')"))
            conn.execute(text("INSERT INTO t VALUES ('a')"))

    with pytest.raises(IntegrityError):
        clash()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == ["a"]


def test_an_error_never_repeats_the_statements_parameters(engine: Engine) -> None:
    secret = "110105199001011234"
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": secret})
    with pytest.raises(IntegrityError) as err, write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": secret})
    assert secret not in str(err.value)
    assert "hidden" in str(err.value)
