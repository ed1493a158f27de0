"""ledger.storage.sequencer: concurrent appends share group commits; each caller gets
its own receipt once its entry is durable, and one caller's bad input sinks nobody."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from ledger.errors import BadData, NotFound
from ledger.storage import LedgerStore, NewEntry
from ledger.storage.sequencer import Sequencer
from tests.unit.ledger.storage._store import LOG, T0, closed

NOW = T0 + timedelta(hours=1)


def test_concurrent_appends_each_get_their_own_durable_receipt(store: LedgerStore) -> None:
    seq = Sequencer(store, lambda: NOW, max_batch=8)
    try:
        with ThreadPoolExecutor(8) as pool:
            receipts = list(pool.map(lambda i: seq.append(LOG, closed(i)), range(1, 41)))
    finally:
        seq.close()
    assert sorted(r.index for r in receipts) == list(range(1, 41))
    assert {r.time for r in receipts} == {"2026-11-25T01:00:00.000Z"}  # the clock's time
    assert store.head(LOG).size == 41
    for i, r in enumerate(receipts, start=1):  # each receipt names its own entry
        entry = json.loads(store.entry(LOG, r.index))
        assert entry["body"]["window"] == f"w_{i}"


def test_a_bad_entry_is_refused_in_the_callers_thread(store: LedgerStore) -> None:
    seq = Sequencer(store, lambda: NOW)
    try:
        with pytest.raises(BadData) as err:
            seq.append(LOG, NewEntry("window.closed", "scheduler", {"window": "w_1"}))
        assert err.value.field == "body.closed_at"
        with pytest.raises(NotFound):
            seq.append("no-such-log", closed(1))
        assert store.head(LOG).size == 1  # nothing queued, nothing written
        assert seq.append(LOG, closed(2)).index == 1  # the writer thread still runs
    finally:
        seq.close()


def test_a_repeated_idempotency_key_answers_the_first_receipt(store: LedgerStore) -> None:
    seq = Sequencer(store, lambda: NOW)
    try:
        first = seq.append(LOG, closed(1, key="once"))
        again = seq.append(LOG, closed(1, key="once"))
    finally:
        seq.close()
    assert (again.index, again.leaf_hash, again.duplicate) == (first.index,
                                                               first.leaf_hash, True)
    assert store.head(LOG).size == 2


def test_a_batch_that_cannot_commit_fails_its_callers_and_writes_nothing(
        store: LedgerStore) -> None:
    # The database itself refuses the entry of window w_13 (a trigger of this test).
    with store.write() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON ledger_entries "
            "WHEN CAST(NEW.data AS TEXT) LIKE '%\"w_13\"%' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    seq = Sequencer(store, lambda: NOW)
    try:
        # The driver's error reaches the caller as it is (the append path runs on the
        # DBAPI cursor), not wrapped in a LedgerError.
        with pytest.raises(sqlite3.IntegrityError, match="refused"):
            seq.append(LOG, closed(13))
        assert store.head(LOG).size == 1
        assert seq.append(LOG, closed(14)).index == 1  # the next batch commits
    finally:
        seq.close()
