"""Shared fixtures: SQLite and real PostgreSQL databases, and a ledger store on each.

* ``pg_server`` (session): one PostgreSQL server for the whole run (see
  ``tests/pgserver.py``; ``ABSENTIA_TEST_PG_URL`` selects an existing server).  Missing
  PostgreSQL binaries FAIL the tests that need it, with the command to install them.
* ``pg_url``: a fresh, empty PostgreSQL database per test.
* ``sqlite_url``: a fresh SQLite database file in the test's ``tmp_path``.
* ``db_url``: parametrized over ``sqlite`` and ``postgresql`` (the latter marked
  ``postgres``), so a test using it runs on both.
* ``store``: a ``LedgerStore`` on ``db_url`` with its schema created and keys in
  ``tmp_path / "keys"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.app.registry import entry_types
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from tests.hsm import softhsm  # noqa: F401  (one SoftHSM2 token for the whole session: see tests/hsm.py)
from tests.pgserver import PgServer, serve_for_tests

DB_KINDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the test session (fails, never skips, if unavailable)."""
    yield from serve_for_tests("these tests")


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """SQLAlchemy URL of a fresh PostgreSQL database for this test."""
    return pg_server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a fresh SQLite database file for this test."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_kind(request: pytest.FixtureRequest) -> str:
    """Which database a ``db_url`` test runs on: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture
def db_url(db_kind: str, request: pytest.FixtureRequest) -> str:
    """A fresh database of each kind; PostgreSQL is started only when a test needs it."""
    if db_kind == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    """Where the ledger keeps signing keys in this test."""
    return tmp_path / "keys"


@pytest.fixture
def store(db_url: str, key_dir: Path) -> Iterator[LedgerStore]:
    """A ledger store with its schema created, on each database kind."""
    engine = make_engine(db_url)
    st = LedgerStore(engine, key_dir, entry_types())
    upgrade(st.engine)
    try:
        yield st
    finally:
        engine.dispose()
