"""Report jobs, shared by every process through the database: one job per campaign at a
time, and a bounded number of them in all (the ``report_jobs`` table; ``publicity.jobs``
is their user, and says how a report's child process goes through them).

Every check-and-change runs in one write transaction (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: under a transaction-scoped advisory lock), so two processes on two hosts
cannot both see a free place and take it.  The table is operational state, not a
projection: the ledger records the reports themselves (``report.generated``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, text, update

from ledger.absence.queries.reports import newest_report_index
from ledger.absence.tables import report_jobs
from ledger.config import PublicitySettings
from ledger.errors import Conflict, NotFound
from ledger.storage.store import LedgerStore

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)
#: PostgreSQL advisory lock key serialising the job table's check-and-change.
_PG_LOCK = 0x4A4F4253  # "JOBS"


@dataclass(frozen=True)
class JobLimits:
    """How many report jobs may exist at once (``[publicity]`` in the config)."""

    max_running: int = 1  # rendering at the same time, over every host
    max_jobs: int = 3  # queued or running, over every host (the queue's bound)
    timeout_s: float = 1800.0  # seconds after which an unfinished job counts as failed

    @classmethod
    def from_config(cls, publicity: PublicitySettings) -> JobLimits:
        """From ``report_jobs_running``, ``report_jobs_max`` and ``report_timeout_s``
        (checked when the configuration was read: ``PublicitySettings.from_table``)."""
        return cls(publicity.report_jobs_running, publicity.report_jobs_max,
                   float(publicity.report_timeout_s))


@dataclass(frozen=True)
class ReportJob:
    """One requested report."""

    job: str
    campaign: str
    state: str  # queued, running, done or failed
    requested_by: str
    requested_at: datetime
    after_index: int  # the campaign's newest report entry when it was asked for
    report: str  # the report id once done, else ""
    error: str  # why it failed, else ""

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "campaign": self.campaign, "state": self.state,
                "report": self.report, "error": self.error,
                "requested_at": self.requested_at.isoformat()}


class JobRefused(Conflict):
    """No job was added: the campaign has one already (``running`` is it), or the queue is
    full (``running`` is None)."""

    def __init__(self, message: str, running: ReportJob | None) -> None:
        super().__init__(message, field="campaign" if running is not None else "report")
        self.running = running


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _job(row: Row[Any]) -> ReportJob:
    return ReportJob(row.job, row.campaign, row.state, row.requested_by,
                     datetime.fromtimestamp(row.requested_at / 1000, UTC),
                     int(row.after_index), row.report or "", row.error or "")


def _locked(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})


def _expire(conn: Connection, now: datetime, limits: JobLimits,
            states: tuple[str, ...] = ACTIVE) -> None:
    cutoff = _ms(now) - int(limits.timeout_s * 1000)
    t = report_jobs
    conn.execute(update(t).where(t.c.state.in_(states),
                                 func.coalesce(t.c.started_at, t.c.requested_at) < cutoff)
                 .values(state=FAILED, ended_at=_ms(now),
                         error=f"not finished within {int(limits.timeout_s)} s"))


def request(store: LedgerStore, campaign: str, user: str, now: datetime,
            limits: JobLimits) -> ReportJob:
    """Queue a report job for ``campaign``, asked for by ``user``.

    Raises:
        JobRefused: the campaign has a queued or running job (named in the message and
            in ``running``), or ``limits.max_jobs`` jobs are queued or running.
    """
    t = report_jobs
    with store.write() as conn:
        _locked(conn)
        _expire(conn, now, limits)
        active = [_job(r) for r in conn.execute(
            select(t).where(t.c.state.in_(ACTIVE)).order_by(t.c.requested_at)).all()]
        mine = next((j for j in active if j.campaign == campaign), None)
        if mine is not None:
            raise JobRefused(f"a report of {campaign} is already {mine.state} (job "
                             f"{mine.job}); wait for it to finish", mine)
        if len(active) >= limits.max_jobs:
            raise JobRefused(f"{len(active)} report jobs are queued or running, the most "
                             "allowed; retry when one has finished", None)
        last = newest_report_index(conn, campaign)
        job = "j_" + secrets.token_hex(8)
        conn.execute(insert(t).values(job=job, campaign=campaign, state=QUEUED,
                                      requested_by=user, requested_at=_ms(now),
                                      after_index=-1 if last is None else last))
        row = conn.execute(select(t).where(t.c.job == job)).one()
    return _job(row)


def claim_turn(store: LedgerStore, job: str, now: datetime, limits: JobLimits) -> bool:
    """Start ``job`` if fewer than ``limits.max_running`` jobs run; tell whether it did.

    Raises:
        NotFound: no such job.  Conflict: the job is no longer queued (it failed, for
            example after ``limits.timeout_s``).
    """
    t = report_jobs
    with store.write() as conn:
        _locked(conn)
        # A running job whose process died frees its turn here too, not only when
        # someone asks for another report (a queued one waits its turn, however long).
        _expire(conn, now, limits, (RUNNING,))
        row = conn.execute(select(t.c.state).where(t.c.job == job)).first()
        if row is None:
            raise NotFound(f"no report job {job!r}", field="job")
        if row.state == RUNNING:
            return True
        if row.state != QUEUED:
            raise Conflict(f"report job {job} is {row.state}", field="job")
        running = conn.execute(select(func.count()).select_from(t)
                               .where(t.c.state == RUNNING)).scalar_one()
        if running >= limits.max_running:
            return False
        # ``now`` was read before this transaction waited for the lock, perhaps while
        # the job whose turn this is finished: a turn starts no earlier than the last
        # one ended.
        last_end = conn.execute(select(func.max(t.c.ended_at))).scalar()
        started = _ms(now) if last_end is None else max(_ms(now), int(last_end))
        conn.execute(update(t).where(t.c.job == job).values(state=RUNNING,
                                                            started_at=started))
    return True


def finish(store: LedgerStore, job: str, now: datetime, *, report: str = "",
           error: str = "") -> None:
    """Record the end of ``job``: done with ``report``, or failed with ``error``.

    A job that has ended already keeps its first end.
    """
    t = report_jobs
    with store.write() as conn:
        conn.execute(update(t).where(t.c.job == job, t.c.state.in_(ACTIVE)).values(
            state=DONE if report and not error else FAILED, ended_at=_ms(now),
            report=report or None, error=error[:500] or None))


def get(store: LedgerStore, job: str) -> ReportJob | None:
    """The job named ``job``, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(select(report_jobs).where(report_jobs.c.job == job)).first()
    return None if row is None else _job(row)


def of_campaign(store: LedgerStore, campaign: str, limit: int = 20) -> list[ReportJob]:
    """The newest ``limit`` jobs of ``campaign``, newest first."""
    t = report_jobs
    with store.engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.campaign == campaign)
                            .order_by(t.c.requested_at.desc()).limit(limit)).all()
    return [_job(r) for r in rows]
