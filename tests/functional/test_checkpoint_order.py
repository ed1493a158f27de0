"""Checkpoints signed while others append never go backwards (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from ledger.app.registry import entry_types
from ledger.checkpoint import Checkpoint
from ledger.storage import LedgerStore, NewEntry

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _item(event_id: str) -> NewEntry:
    return NewEntry("platform.event", "platform:t",
                    {"event_id": event_id, "window": "w-1", "subject": "sub_" + "b" * 26,
                     "kind": "joined", "at": "2026-11-25T08:00:00.000Z"})


def test_concurrent_signers_store_checkpoints_in_size_order(store: LedgerStore) -> None:
    store.create_log("l", "example.org/l", T0)
    errors: list[BaseException] = []
    appending = threading.Event()
    appending.set()

    def appender(k: int) -> None:
        try:
            for i in range(60):
                store.append_batch("l", [_item(f"a{k}-{i}-{j}") for j in range(3)], T0)
                if k == 0:  # one appender also signs, so signing surely interleaves
                    store.sign_checkpoint("l", T0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def signer() -> None:
        try:
            while appending.is_set():
                store.sign_checkpoint("l", T0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=signer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join()
    appending.clear()
    for t in threads[2:]:
        t.join()
    assert not errors, errors
    history = store.checkpoint_history("l")
    sizes = [cp.size for cp in history]
    assert len(sizes) > 30, sizes  # signing really interleaved with the appends
    assert sizes == sorted(sizes), sizes
    assert len(set(sizes)) == len(sizes), "a size was signed twice with the same key"
    verifiers = store.verifiers("l")
    for cp in history:  # each one signs the tree as it was at its size
        opened = Checkpoint.open(cp.note, verifiers)
        assert (opened.size, opened.root) == (cp.size, cp.root)
    assert store.sign_checkpoint("l", T0).size == store.head("l").size == 1 + 2 * 60 * 3


def test_processes_racing_to_create_the_configured_log_all_get_it(store: LedgerStore) -> None:
    """Web workers starting together each ensure the configured log exists."""
    from ledger.storage import make_engine

    results: list[str] = []
    errors: list[BaseException] = []
    stores = [LedgerStore(make_engine(store.engine.url.render_as_string(hide_password=False)),
                          store.keys.root, entry_types()) for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def worker(s: LedgerStore) -> None:
        try:
            barrier.wait()
            results.append(s.ensure_log("l", "example.org/l", T0).origin)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.engine.dispose()
    assert not errors, errors
    assert results == ["example.org/l"] * 4
    assert store.head("l").size == 1  # one log.created entry, not four
