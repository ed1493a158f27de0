"""Group commit of commands: concurrent ``LedgerStore.execute`` calls share one commit,
each in its own savepoint, so one command's error never costs another its write."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection

from ledger.errors import Conflict
from ledger.storage import LedgerStore
from ledger.storage.store import Appended, NewEntry, Receipt

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
THREADS = 24


def _closed(i: int) -> NewEntry:
    return NewEntry("window.closed", "scheduler", {
        "window": f"w{i}", "closed_at": "2026-11-25T08:00:00.000Z", "completed": i,
        "absent": 0}, idempotency_key=f"close:{i}")


def test_concurrent_commands_commit_together_and_fail_alone(store: LedgerStore) -> None:
    store.create_log("g", "example.org/g", T0)
    start = store.head("g").size
    projected: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    results: dict[int, list[Receipt] | Exception] = {}

    def project(conn: Connection, appended: Sequence[Appended]) -> None:
        with lock:
            projected.extend(a.body["completed"] for a in appended)

    def worker(i: int) -> None:
        def plan(conn: Connection) -> list[NewEntry]:
            time.sleep(0.01)  # hold the lock a moment so others queue behind it
            if i % 5 == 0:
                raise Conflict(f"command {i} refused", field="window")
            return [_closed(i)]

        barrier.wait()
        try:
            results[i] = store.execute("g", T0, plan, project).receipts
        except Conflict as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    refused = {i for i, r in results.items() if isinstance(r, Exception)}
    assert refused == {i for i in range(THREADS) if i % 5 == 0}
    for i in refused:
        assert str(results[i]) == f"command {i} refused"
    accepted = sorted(set(range(THREADS)) - refused)
    # Every accepted command is in the log once, with the receipt its caller got.
    assert store.head("g").size == start + len(accepted)
    for i in accepted:
        receipts = results[i]
        assert isinstance(receipts, list)
        assert len(receipts) == 1
        assert f'"completed":{i},' in store.entry("g", receipts[0].index).decode()
    # A refused command's projection was rolled back with its savepoint... and it never
    # projected, because its plan raised; the accepted ones projected exactly once.
    assert sorted(projected) == accepted
    # The commits really were shared (the barrier and the held lock make queues form).
    assert store.largest_group > 1


def test_a_command_failing_after_appending_leaves_no_trace(store: LedgerStore) -> None:
    """An error in ``project`` rolls back that command's entries, not its neighbours'."""
    store.create_log("h", "example.org/h", T0)
    start = store.head("h").size
    barrier = threading.Barrier(8)
    outcome: dict[int, str] = {}

    def worker(i: int) -> None:
        def project(conn: Connection, appended: Sequence[Appended]) -> None:
            if i == 3:
                raise Conflict("projection refused", field="x")

        barrier.wait()
        try:
            store.execute("h", T0, lambda conn: [_closed(i)], project)
            outcome[i] = "ok"
        except Conflict:
            outcome[i] = "refused"

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome == {i: "refused" if i == 3 else "ok" for i in range(8)}
    assert store.head("h").size == start + 7
    bodies = [store.entry("h", start + k).decode() for k in range(7)]
    assert not any('"completed":3,' in b for b in bodies)
    # The chain is intact: each entry's prev is the leaf hash of the one before.
    import base64
    import json

    from ledger import merkle

    for k in range(start + 1, start + 7):
        prev = json.loads(store.entry("h", k))["prev"]
        assert base64.b64decode(prev) == merkle.leaf_hash(store.entry("h", k - 1))
