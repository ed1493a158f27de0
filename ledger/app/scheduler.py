"""Scheduler adapter: APScheduler jobs around the store (the only place reading the clock).

Several app processes may run a scheduler; a lease row in the database decides which one
runs the jobs.  The holder renews it every third of its time to live; when the holder
dies, another takes the lease once it expires (within ``lease_ttl_s``).  Even two
runners at once would not decide a window twice: each sweep batch re-reads undecided
windows under the log's write lock, and decisions carry idempotency keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ledger.errors import LedgerError
from ledger.storage.leases import Lease
from ledger.storage.store import LedgerStore
from ledger.witness.client import WitnessSettings, push_due

log = logging.getLogger(__name__)


def sign_due_checkpoints(store: LedgerStore, min_interval_s: float, now: datetime,
                         witnesses: WitnessSettings | None = None) -> int:
    """Sign a checkpoint for every log that grew, at most one per interval; return how many.

    With ``witnesses``, a checkpoint that grew is pushed to every witness for its
    cosignature, and one a witness missed is offered again every ``retry_s``.
    """
    signed = 0
    for info in store.list_logs():
        try:
            before = store.latest_checkpoint(info.name).size
            cp = store.sign_checkpoint(info.name, now, min_interval_s=min_interval_s)
            signed += cp.size != before
            if witnesses is not None and witnesses.witnesses:
                push_due(store, info.name, witnesses, cp, now, grew=cp.size != before)
        except LedgerError:
            log.exception("could not sign a checkpoint for log %s", info.name)
    return signed


Job = Callable[[datetime], object]


class _CatchUpInterval(IntervalTrigger):  # type: ignore[misc]
    """An interval trigger that skips, in one step, the runs a clock step forward missed.

    Before running a job once for its missed runs (``coalesce``), APScheduler lists every
    run time it missed, one interval at a time: after the clock is stepped a day forward,
    172,800 of them for a job every 0.5 s, while no job runs.  Here a run more than one
    interval behind ``now`` is followed by the next run on the grid after ``now``.
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime
                           ) -> datetime | None:
        if previous_fire_time is not None and (
                previous_fire_time.timestamp() + self.interval_length < now.timestamp()):
            previous_fire_time = None
        out: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return out


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's background scheduler whose "interval" jobs use ``_CatchUpInterval``."""

    def _create_trigger(self, trigger: object, trigger_args: dict[str, Any]) -> object:
        if trigger == "interval":
            trigger_args.setdefault("timezone", self.timezone)
            return _CatchUpInterval(**trigger_args)
        return super()._create_trigger(trigger, trigger_args)


#: A wall clock that moved this much more (or less) than the monotonic clock between two
#: looks, a second apart, was stepped (seconds).
CLOCK_STEP_S = 5.0


def _watch_wall_clock(scheduler: BackgroundScheduler, stop: threading.Event) -> None:
    """Re-time the jobs when the wall clock is stepped back.

    APScheduler keeps each job's next run as a wall-clock time: after the clock is
    stepped back (or forward and back again), the next runs lie far ahead and every job
    (the lease renewal, the sweep, the checkpoints) would stall for as long as the step.
    The monotonic clock is never stepped, so a difference between the two reveals a
    step; each job's next run then moves back by the step, but no further away than its
    own interval.  (A step forward needs nothing: the jobs fall due, and the clock guard
    keeps them from deciding anything.)
    """
    wall, mono = time.time(), time.monotonic()
    while not stop.wait(1.0):
        wall2, mono2 = time.time(), time.monotonic()
        step = (wall2 - wall) - (mono2 - mono)
        wall, mono = wall2, mono2
        if abs(step) <= CLOCK_STEP_S or not scheduler.running:
            continue
        log.warning("the wall clock was stepped by %+.0f s", step)
        if step > 0:
            continue
        now = datetime.now(UTC)
        try:
            for job in scheduler.get_jobs():
                if job.next_run_time is None:
                    continue
                due = job.next_run_time + timedelta(seconds=step)
                interval = getattr(job.trigger, "interval", None)
                if isinstance(interval, timedelta):
                    due = min(due, now + interval)
                job.modify(next_run_time=max(due, now))
        except Exception:
            log.exception("could not re-time the jobs after a clock step")


def start_scheduler(store: LedgerStore, min_interval_s: float, *,
                    jobs: dict[str, tuple[float, Job]] | None = None,
                    lease_ttl_s: float = 30.0,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                    witnesses: WitnessSettings | None = None,
                    ) -> BackgroundScheduler:
    """Start the background jobs: checkpoints, plus ``jobs`` (name -> (interval s, fn)).

    With ``jobs``, every job runs only while this process holds the database lease.
    """
    scheduler = _Scheduler(timezone=UTC)
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
        lambda: sign_due_checkpoints(store, min_interval_s, clock(), witnesses),
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
    scheduler.clock_watch = threading.Event()  # set by stop_scheduler
    threading.Thread(target=_watch_wall_clock, args=(scheduler, scheduler.clock_watch),
                     name="clock-watch", daemon=True).start()
    log.info("scheduler started: checkpoints every %.1f s, jobs %s", min_interval_s,
             ", ".join(jobs or {}) or "none")
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Stop the jobs and release the lease."""
    watch = getattr(scheduler, "clock_watch", None)
    if isinstance(watch, threading.Event):
        watch.set()
    scheduler.shutdown(wait=True)
    lease = getattr(scheduler, "lease", None)
    if isinstance(lease, Lease):
        try:
            lease.release()
        except Exception:
            log.exception("could not release the scheduler lease")


# ``Lease`` is the storage's (``ledger.storage.leases``), named here for the scheduler's users.
__all__ = ["CLOCK_STEP_S", "Job", "Lease", "sign_due_checkpoints", "start_scheduler",
           "stop_scheduler"]
