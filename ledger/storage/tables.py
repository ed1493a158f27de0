"""Tables of the ledger, and the infrastructure tables every process shares (SQLAlchemy
definitions only: no behaviour).

``ledger_logs``, ``ledger_entries``, ``ledger_nodes``, ``ledger_checkpoints``,
``ledger_keys`` and ``ledger_cosignatures`` accept INSERT only: triggers in the database
(made by the migrations) reject UPDATE and DELETE (and TRUNCATE on PostgreSQL), and an
INSERT whose key is taken (SQLite's REPLACE would otherwise delete the old row without
firing a DELETE trigger), so not even a bug in this code can rewrite history.
``ledger_heads`` is the one mutable table: a cache of each log's size and right edge,
derivable from the entries; its triggers let it move only forward, to the entry the
append path just stored.  Hashes of interior nodes are kept only at tile levels (0, 8,
16, ...): a proof reads at most a few tiles, never the whole tree.

``INFRASTRUCTURE`` holds what is neither ledger nor domain: the scheduler's lease and
the shared rate-limit counters.  The migrations (``ledger.migrations``) create every
table; a new table here needs a new revision there.
"""


from __future__ import annotations

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


INFRASTRUCTURE = MetaData()

#: Who runs the scheduled jobs now (``ledger.storage.leases``, ``ledger.app.scheduler``).
scheduler_leases = Table(
    "scheduler_leases", INFRASTRUCTURE,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # unix milliseconds
)

#: Attempts per client key and fixed window, shared by every process
#: (``ledger.storage.ratelimits``); the key is stored only as a salted SHA-256.
rate_limit_hits = Table(
    "rate_limit_hits", INFRASTRUCTURE,
    Column("bucket", String(32), primary_key=True),
    Column("key_hash", LargeBinary(32), primary_key=True),
    Column("window", BigInteger, primary_key=True),  # window start, unix seconds
    Column("hits", Integer, nullable=False),
)
