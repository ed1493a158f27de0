"""Witness cosignatures: ledger_cosignatures (append-only) and ledger_witness_pushes.

Revision ID: 0002
Revises: 0001

A frozen copy of the two tables as ``ledger/storage/schema.py`` defines them in this
revision, and the append-only triggers on ``ledger_cosignatures`` (SQLite and
PostgreSQL; the trigger function exists since the baseline).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

revision = "0002"
down_revision: str | None = "0001"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table("ledger_logs", meta, Column("id", Integer, primary_key=True))

Table(
    "ledger_cosignatures",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("witness", String(255), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
    UniqueConstraint("log_id", "size", "witness", "key_id"),
    Index("ix_ledger_cosignatures_size", "log_id", "size"),
)

Table(
    "ledger_witness_pushes",
    meta,
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), primary_key=True),
    Column("witness", String(255), primary_key=True),
    Column("attempted_at_ms", BigInteger, nullable=False),
    Column("last_error", Text, nullable=True),
)

TABLE = "ledger_cosignatures"


def upgrade() -> None:
    conn = op.get_bind()
    for name in ("ledger_cosignatures", "ledger_witness_pushes"):
        meta.tables[name].create(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        for op_name in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{op_name.lower()} "
                f"BEFORE {op_name} ON {TABLE} BEGIN "
                f"SELECT RAISE(ABORT, '{TABLE} is append-only: {op_name} is not allowed'); END")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE OR REPLACE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE "
            f"ON {TABLE} FOR EACH ROW EXECUTE FUNCTION absentia_append_only()")
        conn.exec_driver_sql(
            f"CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE "
            f"ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION absentia_append_only()")
    else:
        raise NotImplementedError(f"no append-only triggers for {conn.dialect.name}")


def downgrade() -> None:
    conn = op.get_bind()
    meta.tables["ledger_witness_pushes"].drop(conn, checkfirst=True)
    meta.tables["ledger_cosignatures"].drop(conn, checkfirst=True)  # drops its triggers
