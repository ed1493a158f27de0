"""Tables of the ledger and the triggers that make them append-only.

``ledger_entries``, ``ledger_nodes``, ``ledger_checkpoints`` and ``ledger_keys`` accept
INSERT only: triggers in the database reject UPDATE and DELETE (and TRUNCATE on
PostgreSQL), so not even a bug in this code can rewrite history.  ``ledger_heads`` is
the one mutable table: a cache of each log's size and right edge, derivable from the
entries.  Hashes of interior nodes are kept only at tile levels (0, 8, 16, ...): a
proof reads at most a few tiles, never the whole tree.
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

APPEND_ONLY_TABLES = ("ledger_entries", "ledger_nodes", "ledger_checkpoints", "ledger_keys",
                      "ledger_cosignatures")


def install_append_only_triggers(conn: Connection) -> None:
    """Create the triggers that reject UPDATE and DELETE (idempotent)."""
    if conn.dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} "
                    f"BEFORE {op} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, '{table} is append-only: {op} is not allowed'); END"
                )
    elif conn.dialect.name == "postgresql":
        # exec_driver_sql hands the text to psycopg, which reads '%' as a placeholder.
        conn.exec_driver_sql(
            """
            CREATE OR REPLACE FUNCTION absentia_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '%% is append-only: %% is not allowed', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION absentia_append_only()"
            )
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION absentia_append_only()"
            )
    else:
        raise NotImplementedError(f"no append-only triggers for {conn.dialect.name}")


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
