"""Engines for SQLite (WAL, durable commits) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

#: PostgreSQL advisory lock key serialising schema creation (an arbitrary constant).
DDL_LOCK_KEY = 0x4142_5354  # "ABST"


def lock_ddl(conn: Connection) -> None:
    """PostgreSQL: hold a transaction-scoped lock while creating tables.

    Two processes starting at once (gunicorn workers, schedulers) would otherwise race
    in ``CREATE TABLE IF NOT EXISTS`` and one fail with "tuple concurrently updated".
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})")


#: Execution option naming the SQLite BEGIN mode (DEFERRED for reads, IMMEDIATE to write).
SQLITE_BEGIN = "absentia_sqlite_begin"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its start (SQLite:
    ``BEGIN IMMEDIATE``), committed on exit, rolled back on an error.

    A deferred SQLite transaction takes the write lock only at its first write.  If it
    read before, SQLite cannot wait for the lock there (the busy timeout does not
    apply): it answers "database is locked" at once, SQLITE_BUSY while another
    connection writes, SQLITE_BUSY_SNAPSHOT when one committed since the read.  Taken
    up front, the lock is waited for (the busy timeout).  On PostgreSQL this is a plain
    transaction: its row locks queue.

    Raises:
        sqlalchemy.exc.OperationalError: the lock stayed taken for the busy timeout.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            yield conn


def read_only_url(url: str) -> str:
    """``url`` opened read-only where the URL says so: a SQLite file as the URI
    ``file:<path>?mode=ro`` (SQLite refuses every write on it); others unchanged
    (PostgreSQL: ``make_engine(..., read_only=True)`` sets the session read-only).

    Raises:
        ValueError: an in-memory SQLite database (nothing to share read-only).
    """
    made = make_url(url)
    if made.get_backend_name() != "sqlite":
        return url
    database = made.database or ""
    if database in ("", ":memory:"):
        raise ValueError("an in-memory SQLite database cannot be opened read-only")
    if not database.startswith("file:"):
        database = f"file:{Path(database).resolve()}"
    # SQLAlchemy's pysqlite form: the other query parameters go into SQLite's URI.
    query = {k: v for k, v in made.query.items() if k not in ("mode", "uri")}
    query.update(mode="ro", uri="true")
    return f"{made.drivername}:///{database}?{urlencode(query, doseq=True)}"


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 5,
                read_only: bool = False) -> Engine:
    """Create an engine for ``url`` with the ledger's connection settings.

    ``read_only``: every connection refuses writes, enforced by the database: SQLite
    opens the file with ``mode=ro`` (``read_only_url``), PostgreSQL sessions start with
    ``default_transaction_read_only=on`` (a read replica refuses writes anyway).

    SQLite: WAL journal, ``synchronous`` FULL by default (an acknowledged commit survives
    power loss), a 60 s busy timeout so that writers in several processes queue instead
    of failing, and explicit BEGIN so appends can take the write lock up front.
    Statement parameters are kept out of error messages and logs (``hide_parameters``):
    whatever they hold, an error report never repeats it.
    """
    if url.startswith("sqlite"):
        if read_only:
            url = read_only_url(url)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                               hide_parameters=True)
        sync = sqlite_synchronous.upper()
        if sync not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be OFF/NORMAL/FULL/EXTRA, not {sync}")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            if not read_only:  # a read-only connection cannot set it (the writer did)
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    connect_args = ({"options": "-c default_transaction_read_only=on"} if read_only
                    else {})
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True,
                         hide_parameters=True, connect_args=connect_args)
