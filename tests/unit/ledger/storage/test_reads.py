"""ledger.storage.reads: a log's entry bytes by index and its leaf hashes, on a real
SQLite database with two logs (so a read of one never sees the other's entries)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import merkle
from ledger.app.registry import entry_types
from ledger.app.samples import sample_events
from ledger.errors import CouldNotCheck, NotFound
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.storage.reads import CHUNK, entries_by_index, leaf_hashes

T0 = datetime(2026, 11, 25, tzinfo=UTC)
LOG, OTHER = "reads-test", "reads-other"
SIZE = CHUNK + 101  # more than one chunk of indexes


@dataclass(frozen=True)
class Logs:
    store: LedgerStore
    entries: list[bytes]  # LOG's entries, by index
    other: list[bytes]  # OTHER's


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Logs]:
    store = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), tmp_path / "keys",
                        entry_types())
    try:
        upgrade(store.engine)
        store.create_log(LOG, "reads.example/log", T0)
        store.create_log(OTHER, "reads.example/other", T0)
        items = [i for _, i in itertools.islice(sample_events(SIZE - 1, T0), SIZE - 1)]
        store.append_batch(LOG, items, T0 + timedelta(hours=1))
        store.append_batch(OTHER, items[:10], T0 + timedelta(hours=1))
        yield Logs(store, [b for _, b in store.iter_entries(LOG)],
                   [b for _, b in store.iter_entries(OTHER)])
    finally:
        store.engine.dispose()


def test_entries_by_index_are_the_exact_bytes(logs: Logs) -> None:
    assert len(logs.entries) == SIZE
    wanted = [0, 3, 7, SIZE - 1, *range(10, 10 + CHUNK + 20)]  # two statements
    got = entries_by_index(logs.store, LOG, wanted)
    assert got == {i: logs.entries[i] for i in wanted}
    assert entries_by_index(logs.store, OTHER, [0, 3]) == {0: logs.other[0],
                                                            3: logs.other[3]}
    assert logs.other[3] != logs.entries[3]  # each log's own entry


def test_entries_by_index_leaves_out_what_the_log_does_not_hold(logs: Logs) -> None:
    assert entries_by_index(logs.store, LOG, []) == {}
    assert entries_by_index(logs.store, OTHER, [5, 10, 11, SIZE - 1]) == {
        5: logs.other[5], 10: logs.other[10]}  # OTHER holds 0 .. 10
    with pytest.raises(NotFound):
        entries_by_index(logs.store, "no-such-log", [0])


def test_leaf_hashes_in_order(logs: Logs) -> None:
    hashes = leaf_hashes(logs.store, LOG, SIZE)
    assert hashes == [merkle.leaf_hash(e) for e in logs.entries]
    assert merkle.root_from_leaf_hashes(hashes) == logs.store.head(LOG).root
    assert leaf_hashes(logs.store, LOG, 5) == hashes[:5]
    assert leaf_hashes(logs.store, LOG, 0) == []
    assert leaf_hashes(logs.store, OTHER, 11) == [merkle.leaf_hash(e) for e in logs.other]


def test_leaf_hashes_beyond_the_log_cannot_be_checked(logs: Logs) -> None:
    with pytest.raises(CouldNotCheck, match=f"holds {SIZE} of the {SIZE + 1} entries"):
        leaf_hashes(logs.store, LOG, SIZE + 1)
    with pytest.raises(NotFound):
        leaf_hashes(logs.store, "no-such-log", 1)
