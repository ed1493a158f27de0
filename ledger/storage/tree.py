"""Reading the stored tree: the cache of full tiles, stored hashes at a level, and a
tile's bytes as the database holds them (nothing checked)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from ledger.storage.tables import entries, nodes
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, encode_bundle


@dataclass
class TileCache:
    """LRU of full tiles (immutable once full), keyed by (log id, base level, tile index)."""

    capacity: int = 4096
    data: OrderedDict[tuple[int, int, int], list[bytes]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[int, int, int]) -> list[bytes] | None:
        with self.lock:
            v = self.data.get(key)
            if v is not None:
                self.data.move_to_end(key)
            return v

    def put(self, key: tuple[int, int, int], value: list[bytes]) -> None:
        with self.lock:
            self.data[key] = value
            if len(self.data) > self.capacity:
                self.data.popitem(last=False)


def base_hashes(conn: Connection, log_id: int, base: int, lo: int, hi: int) -> list[bytes]:
    """The stored hashes at tree level ``base`` (0: leaves) with indexes in [lo, hi)."""
    if base == 0:
        q = select(entries.c.leaf_hash).where(
            entries.c.log_id == log_id, entries.c.idx >= lo, entries.c.idx < hi
        ).order_by(entries.c.idx)
    else:
        q = select(nodes.c.hash).where(
            nodes.c.log_id == log_id, nodes.c.level == base, nodes.c.idx >= lo,
            nodes.c.idx < hi,
        ).order_by(nodes.c.idx)
    return [bytes(h) for h in conn.execute(q).scalars()]


def stored_tile(conn: Connection, log_id: int, ref: TileRef) -> tuple[bytes, int]:
    """A tile's bytes as the database holds them, on ``conn`` (a backup reads them in its
    snapshot), and how many rows they came from; nothing is checked or cached."""
    lo = ref.index * TILE_WIDTH
    hi = lo + ref.width
    if ref.level is None:
        rows = conn.execute(select(entries.c.data).where(
            entries.c.log_id == log_id, entries.c.idx >= lo, entries.c.idx < hi
        ).order_by(entries.c.idx)).scalars().all()
        return encode_bundle([bytes(r) for r in rows]), len(rows)
    hashes = base_hashes(conn, log_id, ref.level * TILE_HEIGHT, lo, hi)
    return b"".join(hashes), len(hashes)


__all__ = ["TileCache", "base_hashes", "stored_tile"]
