"""ledger.storage.clockguard: the scheduled jobs run only while this host's clock agrees
with the log (SQLite: the latest entry's time is the one reference)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.errors import NotFound
from ledger.storage import LedgerStore
from ledger.storage.clockguard import ClockGuard, Skew, measure_skew
from tests.unit.ledger.storage._store import LOG, T0, closed, fresh_store

LATEST = T0 + timedelta(hours=1)  # the time of the log's latest entry


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LedgerStore]:
    s = fresh_store(tmp_path)
    s.append(LOG, closed(1), LATEST)
    try:
        yield s
    finally:
        s.engine.dispose()


def test_only_a_clock_behind_the_latest_entry_is_a_skew(store: LedgerStore) -> None:
    assert measure_skew(store, LOG, LATEST + timedelta(days=3)) == []  # entries may be old
    assert measure_skew(store, LOG, LATEST) == []
    assert measure_skew(store, LOG, LATEST - timedelta(seconds=90)) == [
        Skew(-90.0, "the time of entry 1")]
    with pytest.raises(NotFound):
        measure_skew(store, "no-such-log", LATEST)


def test_jobs_are_skipped_while_the_clock_is_behind_and_resume(
        store: LedgerStore, caplog: pytest.LogCaptureFixture) -> None:
    guard = ClockGuard(store, LOG, max_skew_s=5.0)
    ran: list[datetime] = []

    def job(now: datetime) -> str:
        ran.append(now)
        return "done"

    sweep = guard.wrap("sweep", job)
    assert sweep(LATEST - timedelta(seconds=5)) == "done"  # within the tolerance
    with caplog.at_level(logging.INFO, logger="ledger.storage.clockguard"):
        assert sweep(LATEST - timedelta(seconds=30)) is None
        assert sweep(LATEST - timedelta(seconds=31)) is None
    assert ran == [LATEST - timedelta(seconds=5)]
    assert guard.refusals == 2
    assert guard.problem is not None
    assert "31.0 s behind the time of entry 1" in guard.problem
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # logged once, not at every skipped run
    assert "30.0 s behind" in errors[0].getMessage()
    assert sum("job sweep skipped" in r.getMessage() for r in caplog.records) == 2
    assert sweep(LATEST + timedelta(seconds=1)) == "done"  # the clocks agree again
    assert guard.problem is None
    assert guard.check(LATEST) is None


def test_a_new_log_is_its_own_reference(tmp_path: Path) -> None:
    s = fresh_store(tmp_path)  # only entry 0, log.created, at T0
    try:
        guard = ClockGuard(s, LOG, max_skew_s=0.5)
        assert guard.check(T0) is None
        assert guard.check(T0 - timedelta(seconds=1)) is not None
        assert guard.refusals == 1
    finally:
        s.engine.dispose()
