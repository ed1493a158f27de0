"""PostgreSQL: one server-side function appends entries, their nodes and the head.

Revision ID: 0016_append
Revises: 0015

``absentia_append`` takes the log's head row lock (``SELECT ... FOR UPDATE``), checks
that the head still has the size the client computed from (compare-and-swap), and then
inserts the entries and tile-level nodes and moves the head, all in the one round trip
of the call.  The client computes every hash (leaf hashes, nodes, the new frontier), as
before: the function does no hashing, so pgcrypto is not needed.  On a size mismatch it
writes nothing and answers ``ok = false`` with the head it found, so the caller can
retry from there.  It waits at most 100 ms for the lock (``lock_timeout``, for the rest
of the transaction, which only commits after the call): a transaction holding the lock
may be waiting for a row this one wrote, and the caller retries.  The statements run in
the order the triggers of 0004 want (entries first, then the head), so every guarantee
of the tables is kept.

SQLite: nothing (its appends already hold the database's single write lock).
"""

from __future__ import annotations

from alembic import op

revision = "0016_append"
down_revision: str | None = "0015"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION absentia_append(
    p_log integer, p_expected bigint, p_size bigint, p_last bytea, p_frontier bytea,
    p_idx bigint[], p_leaf bytea[], p_type text[], p_data bytea[], p_idem text[],
    p_level integer[], p_node bigint[], p_hash bytea[])
RETURNS TABLE (ok boolean, head_size bigint, head_last bytea, head_frontier bytea)
LANGUAGE plpgsql AS $$
DECLARE
  h record;
BEGIN
  -- An optimistic transaction may hold projection rows keyed by the indexes it
  -- computed, which a transaction on the locked path (holding this lock) waits for:
  -- waiting here without a limit would close a deadlock.  Give up soon instead
  -- (lock_not_available, 55P03); the client runs the transaction again.
  PERFORM set_config('lock_timeout', '100ms', true);
  SELECT hd.size, hd.last_leaf, hd.frontier INTO h
    FROM ledger_heads AS hd WHERE hd.log_id = p_log FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'log %% has no head row', p_log USING ERRCODE = 'no_data_found';
  END IF;
  IF h.size <> p_expected THEN
    RETURN QUERY SELECT false, h.size, h.last_leaf, h.frontier;
    RETURN;
  END IF;
  IF p_size > p_expected THEN
    INSERT INTO ledger_entries (log_id, idx, leaf_hash, entry_type, data, idem_key)
      SELECT p_log, u.i, u.l, u.t, u.d, u.k
        FROM unnest(p_idx, p_leaf, p_type, p_data, p_idem) AS u(i, l, t, d, k);
    IF cardinality(p_level) > 0 THEN
      INSERT INTO ledger_nodes (log_id, level, idx, hash)
        SELECT p_log, u.v, u.i, u.x FROM unnest(p_level, p_node, p_hash) AS u(v, i, x);
    END IF;
    UPDATE ledger_heads SET size = p_size, last_leaf = p_last, frontier = p_frontier
      WHERE log_id = p_log;
  END IF;
  RETURN QUERY SELECT true, p_size, p_last, p_frontier;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(
            "DROP FUNCTION IF EXISTS absentia_append(integer, bigint, bigint, bytea, bytea, "
            "bigint[], bytea[], text[], bytea[], text[], integer[], bigint[], bytea[])")
