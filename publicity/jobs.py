"""Report jobs, shared by every process through the database: one job per campaign at a
time, and a bounded number of them in all.

Rendering a report takes a child process a few hundred MiB for minutes; four clicks used
to start four at once.  Now a request for a report is a row of ``report_jobs``:

* ``request`` adds it as ``queued``, or raises ``JobRefused`` (409) naming the job the
  campaign already has (queued or running), or saying that ``JobLimits.max_jobs`` jobs
  are queued or running in all;
* the child (``absentia report generate --job J``) waits in ``wait_for_turn`` until fewer
  than ``JobLimits.max_running`` jobs run, claims the turn (``running``), renders, and
  records the end with ``finish`` (``done`` with the report id, or ``failed``);
* a job that has been queued or running for longer than ``JobLimits.timeout_s`` (its
  process was killed, its host lost) is recorded as failed when the next job is asked
  for, so it cannot hold the campaign or a place for ever.

The table and every check-and-change on it live in the domain
(``ledger.absence.report_jobs``, re-exported here); this module adds the child's wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from ledger.absence.report_jobs import (
    ACTIVE,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    JobLimits,
    JobRefused,
    ReportJob,
    claim_turn,
    finish,
    get,
    of_campaign,
    request,
)
from ledger.storage.store import LedgerStore

__all__ = ["ACTIVE", "DONE", "FAILED", "QUEUED", "RUNNING", "JobLimits", "JobRefused",
           "ReportJob", "claim_turn", "finish", "get", "of_campaign", "request",
           "wait_for_turn"]


def wait_for_turn(store: LedgerStore, job: str, limits: JobLimits,
                  clock: Callable[[], datetime], *, poll_s: float = 1.0) -> None:
    """Block until ``job`` may run (``claim_turn``), polling every ``poll_s`` seconds.

    Raises:
        NotFound, Conflict: as ``claim_turn`` (the job was expired while it waited).
    """
    while not claim_turn(store, job, clock(), limits):
        time.sleep(poll_s)
