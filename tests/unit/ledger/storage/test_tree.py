"""ledger.storage.tree: the stored hashes at a level, a tile's stored bytes, and the
cache of full tiles, on a real SQLite database past one full tile (256 leaves)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import merkle
from ledger.storage import LedgerStore
from ledger.storage.tree import TileCache, base_hashes, stored_tile
from ledger.tiles import TILE_WIDTH, TileRef, decode_bundle, encode_bundle, split_tile
from tests.unit.ledger.storage._store import LOG, T0, closed, fresh_store

SIZE = TILE_WIDTH + 4  # one full tile at level 0, a partial one after it


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerStore]:
    s = fresh_store(tmp_path_factory.mktemp("tree"))
    s.append_batch(LOG, [closed(i) for i in range(1, SIZE)], T0)
    try:
        yield s
    finally:
        s.engine.dispose()


def leaves(store: LedgerStore) -> list[bytes]:
    return [merkle.leaf_hash(data) for _, data in store.iter_entries(LOG)]


def test_level_zero_holds_the_leaf_hashes_of_the_entries(store: LedgerStore) -> None:
    log_id = store.log(LOG).id
    with store.engine.connect() as conn:
        assert base_hashes(conn, log_id, 0, 0, SIZE) == leaves(store)
        assert base_hashes(conn, log_id, 0, 250, 300) == leaves(store)[250:]  # past the end
        assert base_hashes(conn, log_id, 0, 5, 5) == []


def test_level_eight_holds_the_root_of_each_full_tile(store: LedgerStore) -> None:
    log_id = store.log(LOG).id
    with store.engine.connect() as conn:
        (node,) = base_hashes(conn, log_id, 8, 0, 2)  # the partial tile has no node yet
    assert node == merkle.root_of_perfect(leaves(store)[:TILE_WIDTH])


def test_a_stored_tile_is_its_hashes_and_a_bundle_its_entries(store: LedgerStore) -> None:
    log_id = store.log(LOG).id
    with store.engine.connect() as conn:
        full, rows = stored_tile(conn, log_id, TileRef(0, 0))
        partial, prows = stored_tile(conn, log_id, TileRef(0, 1, 4))
        bundle, brows = stored_tile(conn, log_id, TileRef(None, 1, 4))
        beyond, none = stored_tile(conn, log_id, TileRef(None, 2, 4))
    assert (rows, prows, brows, none) == (TILE_WIDTH, 4, 4, 0)
    assert split_tile(full) == leaves(store)[:TILE_WIDTH]
    assert split_tile(partial) == leaves(store)[TILE_WIDTH:]
    assert decode_bundle(bundle) == [d for _, d in store.iter_entries(LOG, start=TILE_WIDTH)]
    assert store.tile(LOG, TileRef(0, 0)) == full  # what the store serves, checked
    assert beyond == encode_bundle([])  # nothing checked: an empty range reads empty


def test_the_cache_keeps_the_most_recently_used_tiles() -> None:
    cache = TileCache(capacity=2)
    cache.put((1, 0, 0), [b"a"])
    cache.put((1, 0, 1), [b"b"])
    assert cache.get((1, 0, 0)) == [b"a"]  # now the most recent
    cache.put((1, 0, 2), [b"c"])  # evicts (1, 0, 1), the least recently used
    assert cache.get((1, 0, 1)) is None
    assert cache.get((1, 0, 0)) == [b"a"]
    assert cache.get((1, 0, 2)) == [b"c"]
    assert len(cache.data) == 2


def test_the_store_reads_the_same_tile_from_a_tiny_cache(tmp_path: Path) -> None:
    s = fresh_store(tmp_path, tile_cache=1)
    try:
        s.append_batch(LOG, [closed(i) for i in range(1, SIZE)], T0)
        first = s.tile(LOG, TileRef(0, 0))
        s.tile(LOG, TileRef(0, 1, 4))
        assert s.tile(LOG, TileRef(0, 0)) == first
        rest = s.tile(LOG, TileRef(0, 1, 4))
        assert s.head(LOG).root == merkle.root_from_leaf_hashes(split_tile(first)
                                                                + split_tile(rest))
    finally:
        s.engine.dispose()
