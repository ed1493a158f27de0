"""Group commit and checkpoint scheduling against a real database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.app.registry import entry_types
from ledger.app.scheduler import sign_due_checkpoints
from ledger.errors import BadData
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, NewEntry, make_engine
from ledger.storage.sequencer import Sequencer

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _body(event_id: str) -> dict[str, str]:
    return {"event_id": event_id, "window": "w-1", "subject": "sub_" + "a" * 26,
            "kind": "joined", "at": "2026-11-25T08:00:00.000Z"}


@pytest.fixture
def sqlite_store(tmp_path: Path) -> LedgerStore:
    store = LedgerStore(make_engine(f"sqlite:///{tmp_path}/l.db"), tmp_path / "keys", entry_types())
    upgrade(store.engine)
    store.create_log("l", "example.org/l", T0)
    return store


def test_group_commit_gives_every_caller_its_own_gap_free_receipt(
    sqlite_store: LedgerStore,
) -> None:
    seq = Sequencer(sqlite_store, lambda: T0)
    receipts: list[int] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for i in range(50):
            r = seq.append("l", NewEntry("platform.event", "platform:t", _body(f"t{k}-{i}")))
            with lock:
                receipts.append(r.index)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seq.close()
    # Entry 0 is log.created; the 400 appends take 1..400, each exactly once.
    assert sorted(receipts) == list(range(1, 401))
    assert sqlite_store.head("l").size == 401


def test_group_commit_rejects_bad_input_for_that_caller_only(sqlite_store: LedgerStore) -> None:
    seq = Sequencer(sqlite_store, lambda: T0)
    with pytest.raises(BadData, match="mobile"):
        seq.append("l", NewEntry("platform.event", "platform:t", _body("13812345678")))
    ok = seq.append("l", NewEntry("platform.event", "platform:t", _body("fine")))
    seq.close()
    assert ok.index == 1
    assert sqlite_store.head("l").size == 2


def test_checkpoints_follow_appends_at_most_once_per_interval(sqlite_store: LedgerStore) -> None:
    assert sqlite_store.latest_checkpoint("l").size == 1
    sqlite_store.append("l", NewEntry("platform.event", "platform:t", _body("a")), T0)
    # Too soon after the creation checkpoint (signed at T0): nothing new.
    assert sign_due_checkpoints(sqlite_store, 1.0, T0 + timedelta(milliseconds=500)) == 0
    assert sqlite_store.latest_checkpoint("l").size == 1
    assert sign_due_checkpoints(sqlite_store, 1.0, T0 + timedelta(seconds=1)) == 1
    assert sqlite_store.latest_checkpoint("l").size == 2
    # Nothing appended since: no new checkpoint however long we wait.
    assert sign_due_checkpoints(sqlite_store, 1.0, T0 + timedelta(seconds=30)) == 0
    assert len(sqlite_store.checkpoint_history("l")) == 2
