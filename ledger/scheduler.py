"""Scheduler adapter: APScheduler jobs around the store (the only place reading the clock).

Several app processes may run a scheduler; a lease row in the database decides which one
runs the jobs.  The holder renews it every third of its time to live; when the holder
dies, another takes the lease once it expires (within ``lease_ttl_s``).  Even two
runners at once would not decide a window twice: each sweep batch re-reads undecided
windows under the log's write lock, and decisions carry idempotency keys.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.errors import LedgerError
from ledger.storage.store import LedgerStore

log = logging.getLogger(__name__)

LEASE_NAME = "jobs"


def sign_due_checkpoints(store: LedgerStore, min_interval_s: float, now: datetime) -> int:
    """Sign a checkpoint for every log that grew, at most one per interval; return how many."""
    signed = 0
    for info in store.list_logs():
        try:
            before = store.latest_checkpoint(info.name).size
            cp = store.sign_checkpoint(info.name, now, min_interval_s=min_interval_s)
            signed += cp.size != before
        except LedgerError:
            log.exception("could not sign a checkpoint for log %s", info.name)
    return signed


class Lease:
    """A named lease in the database: one holder at a time, expiring unless renewed."""

    def __init__(self, store: LedgerStore, ttl_s: float, *, holder: str | None = None,
                 name: str = LEASE_NAME) -> None:
        self.store = store
        self.ttl_ms = int(ttl_s * 1000)
        self.name = name
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; True if this process holds it now."""
        from ledger.absence.projection import scheduler_leases as t

        now_ms = int(now.timestamp() * 1000)
        expires = now_ms + self.ttl_ms
        try:
            with self.store._write() as conn:
                lock = select(t).where(t.c.name == self.name)
                if conn.dialect.name == "postgresql":
                    lock = lock.with_for_update()
                row = conn.execute(lock).first()
                if row is None:
                    conn.execute(insert(t).values(name=self.name, holder=self.holder,
                                                  expires_at=expires))
                    got = True
                elif row.holder == self.holder or row.expires_at < now_ms:
                    conn.execute(update(t).where(t.c.name == self.name).values(
                        holder=self.holder, expires_at=expires))
                    got = True
                else:
                    got = False
        except IntegrityError:  # another process inserted the row first
            got = False
        if got and not self.held:
            log.warning("scheduler lease %r taken by %s", self.name, self.holder)
        self.held = got
        return got

    def release(self) -> None:
        """Give the lease up (on shutdown) so another runner need not wait for expiry."""
        from ledger.absence.projection import scheduler_leases as t

        if not self.held:
            return
        with self.store._write() as conn:
            conn.execute(update(t).where(t.c.name == self.name, t.c.holder == self.holder)
                         .values(expires_at=0))
        self.held = False

    def holder_now(self) -> tuple[str, int] | None:
        """(holder, expires_at ms) of the lease, or None."""
        from ledger.absence.projection import scheduler_leases as t

        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.c.holder, t.c.expires_at)
                               .where(t.c.name == self.name)).first()
        return None if row is None else (row.holder, row.expires_at)


Job = Callable[[datetime], object]


def start_scheduler(store: LedgerStore, min_interval_s: float, *,
                    jobs: dict[str, tuple[float, Job]] | None = None,
                    lease_ttl_s: float = 30.0,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                    ) -> BackgroundScheduler:
    """Start the background jobs: checkpoints, plus ``jobs`` (name -> (interval s, fn)).

    With ``jobs``, every job runs only while this process holds the database lease.
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    lease = Lease(store, lease_ttl_s) if jobs else None
    guard = threading.Lock()

    def run(name: str, fn: Job) -> None:
        if lease is not None and not lease.held:
            return
        with guard:  # one job at a time in this process: they share the write lock
            try:
                fn(clock())
            except Exception:
                log.exception("scheduled job %s failed; it runs again next interval", name)

    scheduler.add_job(
        lambda: sign_due_checkpoints(store, min_interval_s, clock()),
        "interval", seconds=max(min_interval_s, 0.2), id="checkpoints",
        max_instances=1, coalesce=True,
    )
    if lease is not None and jobs:
        def renew() -> None:
            try:
                lease.acquire(clock())
            except Exception:
                lease.held = False
                log.exception("could not renew the scheduler lease")

        renew()
        scheduler.add_job(renew, "interval", seconds=max(lease_ttl_s / 3, 0.2), id="lease",
                          max_instances=1, coalesce=True)
        for name, (interval, fn) in jobs.items():
            scheduler.add_job(lambda n=name, f=fn: run(n, f), "interval",
                              seconds=max(interval, 0.2), id=name, max_instances=1,
                              coalesce=True)
        scheduler.lease = lease  # for stop_scheduler
    scheduler.start()
    log.info("scheduler started: checkpoints every %.1f s, jobs %s", min_interval_s,
             ", ".join(jobs or {}) or "none")
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Stop the jobs and release the lease."""
    scheduler.shutdown(wait=True)
    lease = getattr(scheduler, "lease", None)
    if isinstance(lease, Lease):
        try:
            lease.release()
        except Exception:
            log.exception("could not release the scheduler lease")
