"""The append path's hot statements, as text in each driver's own parameter style.

``LedgerStore`` runs them on the raw DBAPI cursor (one round trip each, no SQLAlchemy
compilation on the hot path); the tables they name are ``ledger.storage.tables``'.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HotSQL:
    """The append path's statements in the driver's own parameter style."""

    mark: str
    head: str
    idem: str
    insert_entry: str
    insert_node: str
    update_head: str
    #: The head without its lock (PostgreSQL's optimistic appends read it so).
    head_read: str = ""
    #: PostgreSQL: the call of ``absentia_append`` (migration 0016_append); SQLite: None.
    append: str | None = None

    @classmethod
    def for_dialect(cls, dialect: str) -> HotSQL:
        """The statements for ``dialect`` (``sqlite``, else PostgreSQL's format style)."""
        stmts = (
            "SELECT size, last_leaf, frontier FROM ledger_heads WHERE log_id = ?",
            # Driven from the keys (CROSS JOIN keeps that order on SQLite): with
            # "idem_key IN (...)" and no statistics, SQLite scans the whole log.
            ") SELECT e.idem_key, e.idx, e.leaf_hash, e.data FROM k CROSS JOIN "
            "ledger_entries AS e WHERE e.log_id = ? AND e.idem_key = k.key",
            "INSERT INTO ledger_entries (log_id, idx, leaf_hash, entry_type, data, idem_key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            "INSERT INTO ledger_nodes (log_id, level, idx, hash) VALUES (?, ?, ?, ?)",
            "UPDATE ledger_heads SET size = ?, last_leaf = ?, frontier = ? WHERE log_id = ?",
        )
        if dialect == "sqlite":
            return cls("?", *stmts, head_read=stmts[0])
        head, idem, ins_e, ins_n, upd = (q.replace("?", "%s") for q in stmts)
        # PostgreSQL: the row lock on the head serialises appends to this log only.
        return cls("%s", head + " FOR UPDATE", idem, ins_e, ins_n, upd, head_read=head,
                   append="SELECT ok, head_size, head_last, head_frontier FROM absentia_append("
                          "%s, %s, %s, %s, %s, %s::bigint[], %s::bytea[], %s::text[], "
                          "%s::bytea[], %s::text[], %s::integer[], %s::bigint[], "
                          "%s::bytea[])")


__all__ = ["HotSQL"]
