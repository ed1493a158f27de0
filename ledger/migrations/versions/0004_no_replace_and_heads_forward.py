"""No write replaces a row of an append-only table; a log's head only moves forward.

Revision ID: 0004
Revises: 0003

SQLite's ``INSERT OR REPLACE`` / ``REPLACE INTO`` resolves a key conflict by deleting the
old row, and that delete fires no DELETE trigger unless ``recursive_triggers`` is on
(sqlite.org/lang_conflict.html): the UPDATE and DELETE triggers of the baseline let an
entry's bytes be rewritten in place.  This revision adds:

* SQLite: a ``BEFORE INSERT`` trigger on every append-only table (and on
  ``ledger_logs``, which is never changed either) that refuses a row whose primary or
  unique key is taken.  It fires before conflict resolution, whatever the connection's
  pragmas.  (PostgreSQL has no REPLACE, and ``INSERT ... ON CONFLICT DO UPDATE`` or
  ``MERGE`` fire the UPDATE trigger: no insert guard is needed there.)
* UPDATE and DELETE (and TRUNCATE) triggers on ``ledger_logs``;
* triggers on ``ledger_heads``, the one mutable ledger table: no DELETE (nor TRUNCATE);
  an INSERT only for a log that has no head yet; an UPDATE only forward, as the append
  path makes it: the size grows, the log stays, and the new last leaf is the leaf hash
  of the entry stored at ``size - 1`` (the append path inserts its entries first, in
  the same transaction).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

#: Each append-only table with its keys: the primary key first, then each unique key.
#: A row is refused when any key of it matches a stored row's (NULL never matches).
KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "ledger_logs": (("id",), ("name",), ("origin",)),
    "ledger_entries": (("log_id", "idx"), ("log_id", "idem_key")),
    "ledger_nodes": (("log_id", "level", "idx"),),
    "ledger_checkpoints": (("id",), ("log_id", "size", "key_id")),
    "ledger_keys": (("id",), ("log_id", "key_id")),
    "ledger_cosignatures": (("id",), ("log_id", "size", "witness", "key_id")),
}

_HEAD_RULE = ("ledger_heads moves forward only, by the append path: the size grows and the "
              "last leaf is the stored entry at size - 1")


def _taken(table: str, new: str) -> str:
    """SQL that is true when a key of the row ``new`` (NEW) is taken in ``table``."""
    return " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} AS t WHERE "
        + " AND ".join(f"t.{c} = {new}.{c}" for c in cols) + ")"
        for cols in KEYS[table])


def _sqlite() -> None:
    run = op.get_bind().exec_driver_sql
    for table in KEYS:
        run(f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN {_taken(table, 'NEW')} BEGIN "
            f"SELECT RAISE(ABORT, '{table} is append-only: a row with this key exists, "
            "it cannot be replaced'); END")
    for op_name in ("UPDATE", "DELETE"):
        run(f"CREATE TRIGGER IF NOT EXISTS ledger_logs_no_{op_name.lower()} "
            f"BEFORE {op_name} ON ledger_logs BEGIN "
            f"SELECT RAISE(ABORT, 'ledger_logs is append-only: {op_name} is not allowed'); END")
    run("CREATE TRIGGER IF NOT EXISTS ledger_heads_no_delete BEFORE DELETE ON ledger_heads "
        f"BEGIN SELECT RAISE(ABORT, '{_HEAD_RULE}: DELETE is not allowed'); END")
    run("CREATE TRIGGER IF NOT EXISTS ledger_heads_no_replace BEFORE INSERT ON ledger_heads "
        "WHEN EXISTS (SELECT 1 FROM ledger_heads AS h WHERE h.log_id = NEW.log_id) BEGIN "
        f"SELECT RAISE(ABORT, '{_HEAD_RULE}: the log has a head, it cannot be replaced'); END")
    run("CREATE TRIGGER IF NOT EXISTS ledger_heads_forward BEFORE UPDATE ON ledger_heads "
        "WHEN NEW.log_id IS NOT OLD.log_id OR NEW.size <= OLD.size OR NOT EXISTS ("
        "SELECT 1 FROM ledger_entries AS e WHERE e.log_id = NEW.log_id "
        "AND e.idx = NEW.size - 1 AND e.leaf_hash = NEW.last_leaf) BEGIN "
        f"SELECT RAISE(ABORT, '{_HEAD_RULE}'); END")


def _postgresql() -> None:
    # PostgreSQL has no REPLACE: a duplicate key is a unique violation, and an upsert
    # (ON CONFLICT DO UPDATE, MERGE) fires the UPDATE trigger.  No insert guard is needed
    # there (a per-row PL/pgSQL trigger cost batched appends about two thirds of their rate:
    # bench/bench_guards.py measured 2,831 against 9,011 entries/s).
    run = op.get_bind().exec_driver_sql
    run("CREATE OR REPLACE TRIGGER ledger_logs_append_only BEFORE UPDATE OR DELETE "
        "ON ledger_logs FOR EACH ROW EXECUTE FUNCTION absentia_append_only()")
    run("CREATE OR REPLACE TRIGGER ledger_logs_no_truncate BEFORE TRUNCATE "
        "ON ledger_logs FOR EACH STATEMENT EXECUTE FUNCTION absentia_append_only()")
    run(f"""
        CREATE OR REPLACE FUNCTION absentia_head_forward() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            IF EXISTS (SELECT 1 FROM ledger_heads AS h WHERE h.log_id = NEW.log_id) THEN
              RAISE EXCEPTION '{_HEAD_RULE}: the log has a head, it cannot be replaced'
                USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
          END IF;
          IF TG_OP <> 'UPDATE' THEN
            RAISE EXCEPTION '{_HEAD_RULE}: %% is not allowed', TG_OP
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF NEW.log_id IS DISTINCT FROM OLD.log_id OR NEW.size <= OLD.size
             OR NOT EXISTS (SELECT 1 FROM ledger_entries AS e WHERE e.log_id = NEW.log_id
                            AND e.idx = NEW.size - 1 AND e.leaf_hash = NEW.last_leaf) THEN
            RAISE EXCEPTION '{_HEAD_RULE}' USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$
        """)
    run("CREATE OR REPLACE TRIGGER ledger_heads_forward BEFORE INSERT OR UPDATE OR DELETE "
        "ON ledger_heads FOR EACH ROW EXECUTE FUNCTION absentia_head_forward()")
    run("CREATE OR REPLACE TRIGGER ledger_heads_no_truncate BEFORE TRUNCATE "
        "ON ledger_heads FOR EACH STATEMENT EXECUTE FUNCTION absentia_head_forward()")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite()
    elif dialect == "postgresql":
        _postgresql()
    else:
        raise NotImplementedError(f"no append-only triggers for {dialect}")


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    names = []
    if sqlite:
        names += [(f"{t}_no_replace", t) for t in KEYS]
        names += [("ledger_logs_no_update", "ledger_logs"), ("ledger_logs_no_delete",
                                                              "ledger_logs"),
                  ("ledger_heads_no_delete", "ledger_heads"),
                  ("ledger_heads_no_replace", "ledger_heads"),
                  ("ledger_heads_forward", "ledger_heads")]
    else:
        names += [("ledger_logs_append_only", "ledger_logs"),
                  ("ledger_logs_no_truncate", "ledger_logs"),
                  ("ledger_heads_forward", "ledger_heads"),
                  ("ledger_heads_no_truncate", "ledger_heads")]
    for name, table in names:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" if sqlite
                             else f"DROP TRIGGER IF EXISTS {name} ON {table}")
    if not sqlite:
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS absentia_head_forward()")
