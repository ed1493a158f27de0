"""A log's right edge inside one write transaction: entries computed, written at the end.

``Tail`` starts from the head a transaction expects (read, or remembered from this
process's last commit), gives each entry its index, prev hash and leaf hash, collects
the tile-level nodes, and ``flush`` writes them all at once:

* PostgreSQL: one call of ``absentia_append`` (migration 0016_append), which takes the
  head row's lock, checks the size the tail started from (compare-and-swap) and inserts
  entries, nodes and the new head in the same round trip.  The lock is thus held for
  that call and the commit only.
* SQLite: the three plain statements under the database's write lock, held already.

Does no I/O but through the cursor handed in; raises ``BadData`` for an entry too large.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import merkle
from ledger.errors import BadData
from ledger.storage.records import PreparedEntry, Receipt
from ledger.storage.statements import HotSQL
from ledger.tiles import MAX_ENTRY_SIZE, TILE_HEIGHT

#: SQLSTATEs after which a transaction is retried: serialization_failure (a row this
#: REPEATABLE READ transaction read or locks was changed since its snapshot),
#: deadlock_detected, and lock_not_available (``absentia_append`` waited 100 ms for
#: the head's lock: see migration 0016_append).
RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


@dataclass(frozen=True)
class HeadState:
    """A log's head as stored: size, last leaf hash and compact-range frontier."""

    size: int
    last_leaf: bytes
    frontier: bytes


@dataclass(frozen=True)
class _Mark:
    size: int
    frontier: bytes
    prev: bytes
    entries: int
    nodes: int
    known: dict[str, Receipt]


class Tail:
    """Entries appended in this transaction, not yet written (see the module)."""

    def __init__(self, log_id: int, name: str, start: HeadState) -> None:
        self.log_id = log_id
        self.name = name
        self.start = start
        self.acc = merkle.CompactRange.from_bytes(start.size, start.frontier)
        self.prev = start.last_leaf
        self.entry_rows: list[tuple[int, bytes, str, bytes, str | None]] = []
        self.node_rows: list[tuple[int, int, bytes]] = []
        self.known: dict[str, Receipt] = {}  # idempotency key -> its receipt
        self.found: HeadState | None = None  # the head a failed flush found

    def mark(self) -> _Mark:
        """Where the tail is now, to ``reset`` to when a command rolls back."""
        return _Mark(self.acc.size, self.acc.to_bytes(), self.prev, len(self.entry_rows),
                     len(self.node_rows), dict(self.known))

    def reset(self, m: _Mark) -> None:
        """Forget what was added since ``m``."""
        self.acc = merkle.CompactRange.from_bytes(m.size, m.frontier)
        self.prev = m.prev
        del self.entry_rows[m.entries:]
        del self.node_rows[m.nodes:]
        self.known = m.known

    def end(self) -> HeadState:
        """The head this tail leaves once flushed."""
        return HeadState(self.acc.size, self.prev, self.acc.to_bytes())

    def look_up_keys(self, cur: Any, sql: HotSQL, prepared: Sequence[PreparedEntry]) -> None:
        """Learn the stored receipts of ``prepared``'s idempotency keys (one query)."""
        idem = [p.idem_key for p in prepared
                if p.idem_key is not None and p.idem_key not in self.known]
        if not idem:
            return
        values = ",".join([f"({sql.mark})"] * len(idem))
        cur.execute("WITH k(key) AS (VALUES " + values + sql.idem, (*idem, self.log_id))
        for key, idx, lh, data in cur.fetchall():
            self.known[key] = Receipt(self.name, idx, bytes(lh), json.loads(data)["time"],
                                      duplicate=True)

    def add(self, prepared: Sequence[PreparedEntry], time_text: str,
            out: list[tuple[Receipt, bytes]] | None = None) -> list[Receipt]:
        """Give each entry its place; a known idempotency key answers its receipt.

        Raises:
            BadData: an entry is larger than ``MAX_ENTRY_SIZE`` (the tail is then as it
                was before this call only if the caller ``reset``s it).
        """
        time_json = b'"' + time_text.encode() + b'"'
        receipts: list[Receipt] = []
        acc = self.acc
        for p in prepared:
            if p.idem_key is not None and p.idem_key in self.known:
                r = self.known[p.idem_key]
                receipts.append(Receipt(r.log, r.index, r.leaf_hash, r.time, duplicate=True))
                continue
            index = acc.size
            data = p.encode(index, self.prev, time_json)
            if len(data) > MAX_ENTRY_SIZE:
                raise BadData(f"entry of {len(data)} bytes exceeds {MAX_ENTRY_SIZE}",
                              field="body")
            lh = merkle.leaf_hash(data)
            for level, nidx, h in acc.append(lh):
                if level % TILE_HEIGHT == 0:
                    self.node_rows.append((level, nidx, h))
            self.entry_rows.append((index, lh, p.type, data, p.idem_key))
            receipt = Receipt(self.name, index, lh, time_text)
            if p.idem_key is not None:
                self.known[p.idem_key] = receipt
            receipts.append(receipt)
            if out is not None:
                out.append((receipt, data))
            self.prev = lh
        return receipts

    def flush(self, cur: Any, sql: HotSQL, *, function: bool = True) -> HeadState | None:
        """Write the entries, nodes and head; None (nothing written) when the stored
        head is no longer the one this tail started from, with ``found`` set to it.

        On PostgreSQL this is one call even with nothing to write: it then checks (under
        the head's lock) that the head is unchanged, which a REPEATABLE READ
        transaction needs to trust what it read.  Without ``function`` (a database
        not yet migrated to 0016_append, under the head's lock) it runs the statements.
        """
        end = self.end()
        if sql.append is None or not function:  # the lock is held (BEGIN IMMEDIATE, FOR UPDATE)
            if self.entry_rows:
                rows = [(self.log_id, *r) for r in self.entry_rows]
                if len(rows) == 1:
                    cur.execute(sql.insert_entry, rows[0])
                else:
                    cur.executemany(sql.insert_entry, rows)
                if self.node_rows:
                    cur.executemany(sql.insert_node,
                                    [(self.log_id, *r) for r in self.node_rows])
                cur.execute(sql.update_head, (end.size, end.last_leaf, end.frontier,
                                              self.log_id))
            return end
        e = self.entry_rows
        n = self.node_rows
        cur.execute(sql.append, (
            self.log_id, self.start.size, end.size, end.last_leaf, end.frontier,
            [r[0] for r in e], [r[1] for r in e], [r[2] for r in e], [r[3] for r in e],
            [r[4] for r in e], [r[0] for r in n], [r[1] for r in n], [r[2] for r in n]))
        ok, size, last, frontier = cur.fetchone()
        self.found = HeadState(int(size), bytes(last), bytes(frontier))
        return end if ok else None


__all__ = ["RETRY_SQLSTATES", "HeadState", "Tail"]
