"""The scheduled archive job: a fresh signed report for every campaign whose decisions
changed since its last report, rendered in a child process (``absentia report generate``)
so the scheduler's own memory does not grow."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from ledger.absence.queries.reports import report_coverage
from ledger.absence.service import AbsenceService
from ledger.config import Settings
from publicity import jobs
from publicity.jobs import JobLimits, JobRefused
from publicity.report import publicity_config, spawn_generate

log = logging.getLogger(__name__)

#: How long one report may take before the job gives up on it (seconds).
REPORT_TIMEOUT_S = 1800


def campaigns_due(service: AbsenceService) -> list[str]:
    """Campaigns with a decision recorded after (or no) report."""
    # A report proves every decision below its checkpoint size.
    return [c.campaign for c in report_coverage(service.engine)
            if c.last_decision >= (c.reported_size or 0)]


#: Starts the report child of one job: (data dir, campaign, config file, job, stderr file).
Spawn = Callable[[Path, str, Path | None, str, IO[bytes]], "subprocess.Popen[bytes]"]


def _spawn(data_dir: Path, campaign: str, config_file: Path | None, job: str,
           stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    return spawn_generate(data_dir, campaign, config_file=config_file, job=job, stderr=stderr)


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    campaign: str
    started: float  # time.monotonic()
    stderr: IO[bytes]


@dataclass
class ReportChildren:
    """The report processes the scheduler started and has not seen end yet.

    The scheduler runs its jobs one at a time (they share the write lock); a report takes
    minutes, so the reports job only starts children and returns.  Each later run reaps
    the children that ended (a child records its own job's end; a killed one is recorded
    here) and kills one that ran past ``timeout_s``.
    """

    spawn: Spawn = _spawn
    timeout_s: float = REPORT_TIMEOUT_S
    running: dict[str, _Child] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, settings: Settings, campaign: str, job: str) -> None:
        """Start the child of ``job`` (its error output kept in a temporary file).

        Raises:
            OSError, subprocess.SubprocessError: the process could not be started.
        """
        err = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the child is reaped)
        try:
            proc = self.spawn(settings.data_dir, campaign, settings.config_path, job, err)
        except BaseException:
            err.close()
            raise
        with self.lock:
            self.running[job] = _Child(proc, campaign, time.monotonic(), err)

    def campaigns(self) -> set[str]:
        """Campaigns whose report child is still running."""
        with self.lock:
            return {c.campaign for c in self.running.values()}

    def reap(self, service: AbsenceService, now: datetime) -> int:
        """Collect the children that ended (killing those past ``timeout_s``); record a
        failed job for each that did not exit cleanly; return how many succeeded."""
        done = 0
        with self.lock:
            children = list(self.running.items())
        for job, child in children:
            code = child.process.poll()
            if code is None and time.monotonic() - child.started > self.timeout_s:
                child.process.kill()
                code = child.process.wait()
            if code is None:
                continue
            with self.lock:
                del self.running[job]
            child.stderr.seek(0)
            reason = child.stderr.read()[-500:].decode(errors="replace")
            child.stderr.close()
            if code == 0:
                done += 1
                continue
            # The child records its own failure; this covers a child that was killed.
            jobs.finish(service.store, job, now, error=f"exit status {code}")
            log.error("report of campaign %s failed (exit %s): %s", child.campaign, code,
                      reason)
        return done


    def wait(self, service: AbsenceService, clock: Callable[[], datetime],
             poll_s: float = 0.2) -> int:
        """Wait until every child started has ended (``reap`` kills one past
        ``timeout_s``, so this ends too); return how many succeeded.  For a run that exits
        after its jobs (``absentia scheduler --once``): no child outlives it."""
        done = 0
        while True:
            done += self.reap(service, clock())
            with self.lock:
                if not self.running:
                    return done
            time.sleep(poll_s)


def generate_due_reports(service: AbsenceService, settings: Settings, now: datetime,
                         children: ReportChildren) -> int:
    """Start a report job (``publicity.jobs``) and its child process for each campaign
    whose decisions changed since its last report, and return without waiting for them:
    the sweep and the outbox share the scheduler's one-job-at-a-time turn and must not
    wait for a report.  The job queue limits how many render at once; a campaign whose
    report is queued or running is skipped, as are the rest when the queue is full.
    Returns how many earlier reports finished since the last run."""
    done = children.reap(service, now)
    limits = JobLimits.from_config(publicity_config(settings))
    busy = children.campaigns()
    for campaign in campaigns_due(service):
        if campaign in busy:
            continue
        try:
            job = jobs.request(service.store, campaign, "scheduler", now, limits)
        except JobRefused as exc:
            log.info("report of campaign %s not started: %s", campaign, exc)
            continue
        try:
            children.start(settings, campaign, job.job)
        except (OSError, subprocess.SubprocessError) as exc:
            jobs.finish(service.store, job.job, now, error=f"the report process did not "
                        f"start: {exc}")
            log.error("report of campaign %s not started: %s", campaign, exc)
    return done
