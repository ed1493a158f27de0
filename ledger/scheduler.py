"""Scheduler adapter: APScheduler jobs around the store (the only place reading the clock)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from ledger.errors import LedgerError
from ledger.storage.store import LedgerStore

log = logging.getLogger(__name__)


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


def start_scheduler(store: LedgerStore, min_interval_s: float) -> BackgroundScheduler:
    """Start the background jobs: checkpoint signing every ``min_interval_s`` seconds."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        lambda: sign_due_checkpoints(store, min_interval_s, datetime.now(UTC)),
        "interval", seconds=max(min_interval_s, 0.2), id="checkpoints",
        max_instances=1, coalesce=True,
    )
    scheduler.start()
    log.info("scheduler started: checkpoints every %.1f s", min_interval_s)
    return scheduler
