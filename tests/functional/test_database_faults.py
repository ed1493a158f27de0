"""The database failing under the app: a clear 503/507 problem+json, never a 500, then
recovery without a restart; and the scheduler's clock guard.  Real databases throughout.

* SQLite full (``PRAGMA max_page_count`` at the file's size: SQLite's own
  ``SQLITE_FULL``): writes answer 507 ``insufficient-storage``; once the limit is lifted
  the next write succeeds on the same app.
* PostgreSQL refusing connections (the app's sessions terminated, the database closed to
  new ones): 503 ``unavailable``; once reopened, the same app serves again.
* The clock guard (``ledger.storage.clockguard``) on both databases: a clock a day ahead of
  PostgreSQL's, or behind the latest entry, is refused; the jobs it wraps do not run.

The whole-cluster versions (a real full disk, PostgreSQL restarts, clock steps under
libfaketime) are in ``tests/faults`` (``make faults``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from ledger.storage import LedgerStore
from ledger.storage.clockguard import ClockGuard, measure_skew
from ledger.storage.store import NewEntry
from tests.functional._absence import Env, make_env
from tests.pgserver import PgServer

PROBLEM = "application/problem+json"


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as e:
        e.clock(datetime.now(UTC))
        yield e


def new_campaign(env: Env, n: int) -> Any:
    return env.post("/api/v1/campaigns", "hr", {
        "campaign": f"c{n:04d}", "title": "招聘" * 90, "policy": "government",
        "posts": [{"post": f"p{i:02d}", "title": "岗位" * 90} for i in range(20)]})


def test_sqlite_full_is_507_then_recovers(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        env.clock(datetime.now(UTC))
        engine = env.store.engine
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()

        def cap(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count={int(pages)}")

        event.listen(engine, "connect", cap)
        engine.dispose()
        before = env.store.head("hr-test").size
        statuses = []
        for n in range(60):
            resp = new_campaign(env, n)
            statuses.append(resp.status_code)
            if resp.status_code == 507:
                break
        assert statuses[-1] == 507, statuses
        assert set(statuses) <= {201, 507}, statuses
        assert resp.mimetype == PROBLEM
        body = json.loads(resp.get_data())
        assert body["type"] == "/problems/insufficient-storage"
        assert body["status"] == 507
        assert resp.headers["Retry-After"].isdigit()
        assert env.store.head("hr-test").size > before or statuses == [507]
        size = env.store.head("hr-test").size
        assert new_campaign(env, 98).status_code == 507  # still full: nothing recorded
        assert env.store.head("hr-test").size == size
        event.remove(engine, "connect", cap)
        engine.dispose()  # the operator freed space: new connections have room
        assert new_campaign(env, 99).status_code == 201


@pytest.mark.postgres
def test_postgres_refusing_connections_is_503_then_recovers(
        tmp_path: Path, pg_url: str, pg_server: PgServer) -> None:
    with make_env(tmp_path, pg_url) as env:
        env.clock(datetime.now(UTC))
        assert new_campaign(env, 1).status_code == 201
        name = make_url(pg_url).database
        admin = make_url(pg_server.url("postgres")).set(drivername="postgresql")
        with psycopg.connect(admin.render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            try:
                for n in (2, 3):  # a write and then another: both refused cleanly
                    resp = new_campaign(env, n)
                    assert resp.status_code == 503, resp.get_data()
                    assert resp.mimetype == PROBLEM
                    body = json.loads(resp.get_data())
                    assert body["type"] == "/problems/unavailable"
                    assert resp.headers["Retry-After"].isdigit()
                resp = env.get("/api/v1/campaigns", "hr")  # a read too
                assert resp.status_code == 503, resp.get_data()
            finally:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert new_campaign(env, 4).status_code == 201  # the same app, reconnected
        names = [c["campaign"] for c in json.loads(env.get("/api/v1/campaigns", "hr")
                                                   .get_data())]
        assert "c0002" not in names
        assert {"c0001", "c0004"} <= set(names)


# -- the clock guard -------------------------------------------------------------------


def test_clock_guard(store: LedgerStore) -> None:
    now = datetime.now(UTC)
    store.ensure_log("g", "example.org/g", now)
    guard = ClockGuard(store, "g", 5.0)
    ran: list[datetime] = []
    job = guard.wrap("sweep", ran.append)

    assert guard.check(now) is None  # an empty log, the clocks agree
    job(now)
    assert ran == [now]

    ahead = now + timedelta(days=1)
    if store.engine.dialect.name == "postgresql":
        # A day ahead of the database server's clock: refused, the job skipped.
        problem = guard.check(ahead)
        assert problem is not None
        assert "ahead of the database server's clock" in problem
        job(ahead)
        assert ran == [now]
        assert guard.refusals == 2  # the check above and the skipped job
    else:
        # SQLite shares this host's clock: only the latest entry is a reference.
        assert guard.check(ahead) is None

    # An entry written by a clock an hour ahead; ours, now, is behind it.
    store.append("g", NewEntry("platform.event", "platform:t", {
        "event_id": "e1", "window": "w-1", "subject": "sub_" + "a" * 26, "kind": "joined",
        "at": "2026-11-25T08:00:00.000Z"}), now + timedelta(hours=1))
    skews = measure_skew(store, "g", now)
    last = store.head("g").size - 1
    behind = [s for s in skews if s.reference == f"the time of entry {last}"]
    assert len(behind) == 1
    assert behind[0].seconds == pytest.approx(-3600, abs=1)
    problem = guard.check(now)
    assert problem is not None
    assert f"behind the time of entry {last}" in problem
    job(now)
    assert ran == [now]
    # Within the tolerance again (the clock caught up): the jobs run.
    later = now + timedelta(hours=1, seconds=2)
    if store.engine.dialect.name == "sqlite":
        assert guard.check(later) is None
        job(later)
        assert ran == [now, later]


# -- the scheduler after a clock step --------------------------------------------------------


def test_interval_trigger_skips_missed_runs_in_one_step() -> None:
    from ledger.app.scheduler import _CatchUpInterval

    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    trigger = _CatchUpInterval(seconds=0.5, timezone=UTC, start_date=start)
    # Normally: the next run one interval after the last.
    assert trigger.get_next_fire_time(start, start + timedelta(seconds=0.2)) == \
        start + timedelta(seconds=0.5)
    # A day later (the clock stepped forward): the next run on the grid after now, not
    # the 172,800 runs in between.
    now = start + timedelta(days=1, seconds=0.2)
    nxt = trigger.get_next_fire_time(start, now)
    assert nxt == start + timedelta(days=1, seconds=0.5)
