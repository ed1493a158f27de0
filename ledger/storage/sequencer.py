"""Group commit: many callers' single appends share one durable transaction.

A durable commit costs an fsync; when requests arrive concurrently (web workers'
threads, the ingest endpoint) the sequencer's writer thread drains everything queued,
appends it per log in one transaction, and only then answers each caller.  Every
caller still gets its own receipt, and none is answered before its entry is durable.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime

from ledger.storage.store import LedgerStore, NewEntry, PreparedEntry, Receipt, prepare

Clock = Callable[[], datetime]


class Sequencer:
    """Batches concurrent ``append`` calls into group commits (one writer thread)."""

    def __init__(self, store: LedgerStore, clock: Clock, max_batch: int = 512) -> None:
        self.store = store
        self.clock = clock
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[str, PreparedEntry, Future[Receipt]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ledger-sequencer", daemon=True)
        self._thread.start()

    def append(self, log: str, item: NewEntry, timeout: float | None = 60.0) -> Receipt:
        """Append one entry; return once it is durable.

        Raises:
            BadData: the entry is invalid (checked here, before queueing).
            NotFound: no such log.
            LedgerError, sqlalchemy.exc.DBAPIError or the driver's error: the batch it
                was in could not be committed (every caller of the batch gets the same
                exception the commit raised).
            TimeoutError: not durable within ``timeout`` seconds.
        """
        # Checked in the caller's thread: one caller's bad input never sinks a batch.
        prepared = prepare(item, self.store.types)
        self.store.log(log)
        fut: Future[Receipt] = Future()
        self._queue.put((log, prepared, fut))
        return fut.result(timeout)

    def close(self) -> None:
        """Finish what is queued and stop the writer thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            pending = [first]
            while len(pending) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                pending.append(nxt)
            by_log: dict[str, list[tuple[PreparedEntry, Future[Receipt]]]] = {}
            for log, item, fut in pending:
                by_log.setdefault(log, []).append((item, fut))
            now = self.clock()
            for log, group in by_log.items():
                try:
                    receipts = self.store.append_prepared(log, [i for i, _ in group], now)
                except Exception as exc:  # every caller of the batch learns the failure
                    for _, fut in group:
                        fut.set_exception(exc)
                    continue
                for (_, fut), receipt in zip(group, receipts, strict=True):
                    fut.set_result(receipt)
