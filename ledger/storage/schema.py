"""Tables of the ledger and the triggers that make them append-only.

``ledger_logs``, ``ledger_entries``, ``ledger_nodes``, ``ledger_checkpoints``,
``ledger_keys`` and ``ledger_cosignatures`` accept INSERT only: triggers in the database
reject UPDATE and DELETE (and TRUNCATE on PostgreSQL), and an INSERT whose key is taken
(SQLite's REPLACE would otherwise delete the old row without firing a DELETE trigger),
so not even a bug in this code can rewrite history.  ``ledger_heads`` is the one
mutable table: a cache of each log's size and right edge, derivable from the entries;
its triggers let it move only forward, to the entry the append path just stored.
Hashes of interior nodes are kept only at tile levels (0, 8, 16, ...): a proof reads at
most a few tiles, never the whole tree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

logs = Table(
    "ledger_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("origin", String(255), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

heads = Table(
    "ledger_heads",
    metadata,
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("last_leaf", LargeBinary(32), nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

entries = Table(
    "ledger_entries",
    metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("entry_type", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("idem_key", String(128), nullable=True),
    Index(
        "ux_ledger_entries_idem",
        "log_id",
        "idem_key",
        unique=True,
        sqlite_where=text("idem_key IS NOT NULL"),
        postgresql_where=text("idem_key IS NOT NULL"),
    ),
    Index("ix_ledger_entries_type", "log_id", "entry_type", "idx"),
    sqlite_with_rowid=False,
)

nodes = Table(
    "ledger_nodes",
    metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=False),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

keys = Table(
    "ledger_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("vkey", String(400), nullable=False),
    Column("key_uri", String(400), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("log_id", "key_id"),
)

checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at_ms", BigInteger, nullable=False),
    UniqueConstraint("log_id", "size", "key_id"),
    Index("ix_ledger_checkpoints_latest", "log_id", "id"),
)

#: Witness cosignatures (C2SP tlog-cosignature v1) the log received for its checkpoints:
#: one row per (checkpoint size, witness key), kept as the signature line verbatim.
cosignatures = Table(
    "ledger_cosignatures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("witness", String(255), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),  # the cosignature's POSIX timestamp
    Column("line", Text, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
    UniqueConstraint("log_id", "size", "witness", "key_id"),
    Index("ix_ledger_cosignatures_size", "log_id", "size"),
)

#: The last push to each witness (mutable, like ledger_heads): when and why it failed.
witness_pushes = Table(
    "ledger_witness_pushes",
    metadata,
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), primary_key=True),
    Column("witness", String(255), primary_key=True),
    Column("attempted_at_ms", BigInteger, nullable=False),
    Column("last_error", Text, nullable=True),
)

#: Tables that accept INSERT only; the database refuses UPDATE, DELETE, TRUNCATE and any
#: INSERT that would replace a row (migrations 0001, 0002 and 0004).  ``ledger_heads``
#: moves forward only, by the append path (0004).
APPEND_ONLY_TABLES = ("ledger_logs", "ledger_entries", "ledger_nodes", "ledger_checkpoints",
                      "ledger_keys", "ledger_cosignatures")


#: PostgreSQL advisory lock key serialising schema creation (an arbitrary constant).
DDL_LOCK_KEY = 0x4142_5354  # "ABST"


def lock_ddl(conn: Connection) -> None:
    """PostgreSQL: hold a transaction-scoped lock while creating tables.

    Two processes starting at once (gunicorn workers, schedulers) would otherwise race
    in ``CREATE TABLE IF NOT EXISTS`` and one fail with "tuple concurrently updated".
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})")


def create_schema(conn: Connection) -> None:
    """Bring the schema (every table of the app, and the triggers) to the newest revision.

    The tables are created by the migrations in ``ledger/migrations``, not by
    ``create_all``: a new table here needs a new revision there (see README).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: a migration failed (nothing is committed).
    """
    from ledger.migrations import upgrade_connection

    upgrade_connection(conn)
