"""Clock guard: the scheduled jobs decide nothing while this host's clock is off.

The sweep deems a candidate withdrawn once a window is past its close plus grace, by
this host's clock.  A clock stepped a day forward (a bad NTP source, a VM restored from
a snapshot, an operator's typo) would decide every still-open window as a no-show.  So
before each job the scheduler compares its clock with two references:

* the database server's clock (PostgreSQL ``clock_timestamp()``; several app hosts and
  the scheduler share that server, so it is the one clock they all agree on);
* the time of the log's latest entry: a clock behind it went backwards.

When either differs by more than ``[scheduler] max_clock_skew_s`` the job is skipped and
the refusal logged (ERROR, the skew and the reference named); the jobs resume by
themselves once the clocks agree again.  SQLite shares this host's clock, so there
only the latest entry's time is a reference.

The time of the check (``now``) is a parameter; the database's clock is read here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from ledger.entry import parse_utc
from ledger.storage.store import LedgerStore

log = logging.getLogger(__name__)

#: Default of ``[scheduler] max_clock_skew_s`` (seconds).
DEFAULT_MAX_SKEW_S = 5.0


@dataclass(frozen=True)
class Skew:
    """How far ``now`` is from a reference clock (positive: ``now`` is ahead)."""

    seconds: float
    reference: str


def measure_skew(store: LedgerStore, log_name: str, now: datetime) -> list[Skew]:
    """The skew of ``now`` against the database server's clock and the latest entry.

    The latest entry is only a lower bound (entries may be old), so its skew is
    reported only when ``now`` is behind it.

    Raises:
        NotFound: no log ``log_name``.
        sqlalchemy.exc.DBAPIError: the database cannot be read.
    """
    out: list[Skew] = []
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            server = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        out.append(Skew((now - server).total_seconds(), "the database server's clock"))
    size = store.head(log_name).size
    if size > 0:
        latest = json.loads(store.entry(log_name, size - 1))["time"]
        at = parse_utc(latest).astimezone(UTC)
        behind = (now - at).total_seconds()
        if behind < 0:
            out.append(Skew(behind, f"the time of entry {size - 1}"))
    return out


class ClockGuard:
    """Runs jobs only while ``measure_skew`` stays within ``max_skew_s``."""

    def __init__(self, store: LedgerStore, log_name: str, max_skew_s: float) -> None:
        self.store = store
        self.log_name = log_name
        self.max_skew_s = max_skew_s
        #: Jobs skipped because of a skewed clock (observability).
        self.refusals = 0
        #: Why the last check refused, or None when the clocks agreed.
        self.problem: str | None = None

    def check(self, now: datetime) -> str | None:
        """None if ``now`` can be trusted, else a sentence saying why not (and log it).

        Raises:
            sqlalchemy.exc.DBAPIError: the database cannot be read.
        """
        bad = [s for s in measure_skew(self.store, self.log_name, now)
               if abs(s.seconds) > self.max_skew_s]
        if not bad:
            if self.problem is not None:
                log.warning("clock guard: this host's clock agrees with the database "
                            "again; the scheduled jobs resume")
            self.problem = None
            return None
        s = bad[0]
        problem = (f"this host's clock is {abs(s.seconds):.1f} s "
                   f"{'ahead of' if s.seconds > 0 else 'behind'} {s.reference} (more than "
                   f"[scheduler] max_clock_skew_s = {self.max_skew_s:g} s); no window is "
                   "decided and nothing is sent until the clocks agree: check NTP")
        self.refusals += 1
        if self.problem is None or self.refusals % 60 == 0:
            log.error("clock guard: %s", problem)
        self.problem = problem
        return problem

    def wrap(self, name: str, job: Callable[[datetime], object]
             ) -> Callable[[datetime], object]:
        """``job``, skipped (returning None) while the clock is off."""

        def guarded(now: datetime) -> object:
            if self.check(now) is not None:
                log.info("clock guard: job %s skipped", name)
                return None
            return job(now)

        return guarded
