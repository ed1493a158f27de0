"""The scheduled archive job: a fresh signed report for every campaign whose decisions
changed since its last report, rendered in a child process (``absentia report generate``)
so the scheduler's own memory does not grow."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime

from sqlalchemy import func, select

from ledger.absence import projection as P  # noqa: N812 (the tables, read as P.windows)
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
    with service.read() as conn:
        last_decision = dict(conn.execute(
            select(P.decisions.c.campaign, func.max(P.decisions.c.idx))
            .group_by(P.decisions.c.campaign)).all())
        last_report = dict(conn.execute(
            select(P.reports.c.campaign, func.max(P.reports.c.checkpoint_size))
            .group_by(P.reports.c.campaign)).all())
    # A report proves every decision below its checkpoint size.
    return sorted(c for c, idx in last_decision.items() if idx >= last_report.get(c, 0))


def generate_due_reports(service: AbsenceService, settings: Settings, now: datetime) -> int:
    """Generate the due reports one at a time, each as a report job (``publicity.jobs``:
    a campaign whose report is already queued or running is skipped, as are the rest
    when the queue is full); return how many succeeded."""
    limits = JobLimits.from_config(publicity_config(settings))
    done = 0
    for campaign in campaigns_due(service):
        try:
            job = jobs.request(service.store, campaign, "scheduler", now, limits)
        except JobRefused as exc:
            log.info("report of campaign %s not started: %s", campaign, exc)
            continue
        proc = spawn_generate(settings.data_dir, campaign, config_file=settings.config_path,
                              job=job.job)
        try:
            _, err = proc.communicate(timeout=REPORT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode == 0:
            done += 1
        else:
            reason = err.decode(errors="replace")[-500:]
            # The child records its own failure; this covers a child that was killed.
            jobs.finish(service.store, job.job, datetime.now(UTC),
                        error=f"exit status {proc.returncode}")
            log.error("report of campaign %s failed (exit %s): %s", campaign, proc.returncode,
                      reason)
    return done
