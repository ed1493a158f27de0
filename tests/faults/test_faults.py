"""Fault scenarios against a real cluster (``make faults``; not part of ``make test``).

Each scenario runs PostgreSQL, two app processes and a scheduler (``cluster.Cluster``)
under webhook load from a retrying platform (``cluster.Platform``), injects a fault,
lets the harness do only what a supervisor would (restart a killed process, start
PostgreSQL again, delete the filler file, put the clock back), and then checks:

* every event acknowledged with a 2xx is in the ledger, and no event is there twice;
* no window is decided twice (superseding reviews aside), none before close + grace;
* the checkpoints' sizes never go backwards, the exported log verifies
  (``absentia export`` + ``absentia verify``), the tables equal a replay;
* every 5xx was a 503/507 problem+json, never a 500;
* the service recovers by itself: new deliveries to both app processes are
  acknowledged, and the windows that closed meanwhile get decided.

The random moments come from ``FAULTS_SEED`` (default: a fresh seed, printed).
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledger.entry import format_time
from tests.faults.cluster import (
    LIBFAKETIME,
    Cluster,
    LedgerCheck,
    Platform,
    PlatformStats,
    assert_sound,
    check_ledger,
)
from tests.faults.conftest import Result
from tests.pgserver import PgServer

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

SEED = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1 << 30))
DECIDE_WAIT_S = 60.0  # bound for the scheduler to catch up after a fault (not a timing claim)


@pytest.fixture
def rng() -> random.Random:
    print(f"FAULTS_SEED={SEED}")
    return random.Random(SEED)


@pytest.fixture
def make_cluster(tmp_path: Path, fault_pg: PgServer) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(**kw: Any) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", fault_pg, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def wait_decided(cluster: Cluster, what: str = "past windows") -> int:
    """Until every window past close + grace (real time, at the call) is decided."""
    cutoff = format_time(datetime.now(UTC) - timedelta(seconds=cluster.grace_s + 1))
    store = cluster.open_store()
    deadline = time.monotonic() + DECIDE_WAIT_S
    try:
        while True:
            with store.engine.connect() as conn:
                left = conn.execute(text(
                    "SELECT count(*) FROM p_windows WHERE decision IS NULL "
                    "AND closes_at <= :cutoff"), {"cutoff": cutoff}).scalar_one()
            if left == 0:
                return 0
            if time.monotonic() > deadline:
                raise AssertionError(f"{left} {what} still undecided after "
                                     f"{DECIDE_WAIT_S:.0f} s:\n{cluster.logs()}")
            time.sleep(0.3)
    finally:
        store.engine.dispose()


def await_waves(cluster: Cluster) -> int:
    """Sleep until every window closing in the coming minute is past close + grace;
    return how many windows that is (each must then be decided exactly once)."""
    soon = datetime.now(UTC) + timedelta(minutes=1)
    waves = [w.closes_at for w in cluster.windows if w.closes_at < soon]
    if waves:
        due = max(waves) + timedelta(seconds=cluster.grace_s + 1.5)
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    return len(waves)


def finish(cluster: Cluster, platform: Platform, result: Result, *, runs: int,
           check_early: bool = True) -> tuple[LedgerCheck, PlatformStats]:
    """Stop the load, prove recovery, check the ledger, record and assert the counts."""
    stats = platform.stop()
    platform.wait_recovered()
    wait_decided(cluster)
    check = check_ledger(cluster, stats.acked_events, check_early=check_early)
    result.runs = runs
    result.kills = sum(p.kills for p in cluster.procs)
    result.restarts = sum(p.starts - 1 for p in cluster.procs)
    result.deliveries = stats.deliveries
    result.acked = len(stats.acked_events)
    result.found = check.events_found
    result.duplicates = len(check.duplicates)
    result.decisions = check.decisions
    result.decided_twice = len(check.decided_twice)
    result.statuses = {str(k): v for k, v in sorted(stats.statuses.items())}
    result.notes.update(attempts=stats.attempts, connection_errors=stats.connection_errors,
                        refused=stats.refused, refusals=dict(stats.refusals),
                        entries=check.entries, checkpoints=len(check.checkpoint_sizes),
                        verified=check.verified, seed=SEED)
    print(f"{result.scenario}: {result.__dict__}")
    assert_sound(check, stats, cluster)
    assert stats.acked_events, "no delivery was acknowledged: the load did not run"
    return check, stats


# -- 1. app processes SIGKILLed under load ------------------------------------------------


def test_app_sigkill_under_load(make_cluster: Callable[..., Cluster], result: Result,
                                rng: random.Random) -> None:
    cluster = make_cluster()
    cluster.populate(120, [8, 14, 20, 120])
    cluster.start()
    platform = Platform(cluster, threads=4, tag="kill")
    platform.start()
    kills = 4
    for _ in range(kills):
        time.sleep(rng.uniform(1.5, 4.0))
        victim = rng.choice(cluster.apps)
        other = cluster.apps[1 - cluster.apps.index(victim)]
        cluster.wait_serving(other)  # one process at a time, as in a rolling failure
        cluster.kill(victim)
    time.sleep(2.0)
    for app in cluster.apps:
        cluster.wait_serving(app)
    closed = await_waves(cluster)
    check, _ = finish(cluster, platform, result, runs=kills)
    assert check.decisions == closed
    assert sum(a.kills for a in cluster.apps) == kills
    assert all(a.starts >= 1 for a in cluster.apps)


# -- 2. the scheduler SIGKILLed while it sweeps --------------------------------------------


def test_scheduler_sigkill_while_sweeping(make_cluster: Callable[..., Cluster],
                                          result: Result, rng: random.Random) -> None:
    cluster = make_cluster()
    waves = [8.0, 14.0, 20.0, 26.0]
    cluster.populate(160, waves)
    made_at = datetime.now(UTC)
    cluster.start()
    platform = Platform(cluster, threads=2, tag="sweep")
    platform.start()
    assert cluster.scheduler is not None
    mid_sweep = 0
    with contextlib.closing(cluster.pg_admin()) as admin:
        for wave in waves:
            due = made_at + timedelta(seconds=wave + cluster.grace_s)
            pause = (due - datetime.now(UTC)).total_seconds() - 0.3
            if pause > 0:
                time.sleep(pause)
            deadline = time.monotonic() + 4.0 + rng.uniform(0, 1.0)
            caught = False
            while time.monotonic() < deadline:
                if cluster.scheduler.alive() and cluster.scheduler_sweeping(admin):
                    caught = True
                    break
                time.sleep(0.002)
            if caught or cluster.scheduler.alive():
                cluster.kill(cluster.scheduler)
                mid_sweep += caught
    result.notes["kills_during_a_sweep_transaction"] = mid_sweep
    # Every wave is past close + grace before the checks: all of them must be decided.
    closed = await_waves(cluster)
    check, _ = finish(cluster, platform, result, runs=len(waves))
    assert cluster.scheduler.kills >= 1
    assert mid_sweep >= 1, "no kill landed inside a sweep transaction"
    assert check.decisions == closed == len(cluster.windows)


# -- 3. PostgreSQL restarted under load ------------------------------------------------------


def test_postgres_restart_under_load(make_cluster: Callable[..., Cluster],
                                     result: Result) -> None:
    cluster = make_cluster()
    cluster.populate(100, [8, 14, 20, 120])
    cluster.start()
    platform = Platform(cluster, threads=3, tag="pg")
    platform.start()
    outage_503 = []
    for mode in ("immediate", "fast"):
        time.sleep(3.0)
        before = platform.stats.statuses[503]
        cluster.pg_stop(mode)
        time.sleep(3.0)  # the outage: the apps answer meanwhile
        cluster.pg_start()
        platform.wait_recovered()
        outage_503.append(platform.stats.statuses[503] - before)
    time.sleep(2.0)
    result.notes["503_per_outage"] = outage_503
    closed = await_waves(cluster)  # the scheduler reconnected and decides
    check, _ = finish(cluster, platform, result, runs=2)
    assert check.decisions == closed
    assert all(n > 0 for n in outage_503), (
        f"no 503 problem+json during an outage: {outage_503}")
    assert sum(p.deaths for p in cluster.procs) == 0, "a process died: " + cluster.logs()


# -- 4. the database's disk full ------------------------------------------------------------


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int, owner: tuple[int, int] | None
               ) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MiB mounted at ``where`` (unmounted after)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755",
                           "tmpfs", str(where)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root or CAP_SYS_ADMIN): "
                    f"{done.stderr.strip()}")
    try:
        if owner is not None:
            os.chown(where, *owner)
        yield where
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(where)], capture_output=True,
                              check=False).returncode == 0:
                with contextlib.suppress(OSError):
                    where.rmdir()
                break
            time.sleep(0.5)


def fill(disk: Path) -> Path:
    """A filler file taking every free byte of ``disk``."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 512):
            block = b"\0" * size
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, block)
    finally:
        os.close(fd)
    return filler


def test_disk_full(make_cluster: Callable[..., Cluster], result: Result, fault_pg: PgServer,
                   tmp_path: Path) -> None:
    owner = None
    if fault_pg._run_as.uid is not None and fault_pg._run_as.gid is not None:
        owner = (fault_pg._run_as.uid, fault_pg._run_as.gid)
    disk_dir = Path(f"/tmp/absentia-faults-disk-{os.getpid()}")
    with small_disk(disk_dir, 64, owner) as disk:
        space = disk / "ts"
        space.mkdir()
        if owner is not None:
            os.chown(space, *owner)
        name = f"faults_disk_{os.getpid()}"
        conninfo = make_url(fault_pg.url("postgres")).set(
            drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"CREATE TABLESPACE {name} LOCATION '{space}'")
            conn.execute(f"CREATE DATABASE {name} TABLESPACE {name}")
        try:
            cluster = make_cluster(database_url=fault_pg.url(name))
            cluster.populate(80, [8, 14, 120])
            cluster.start()
            platform = Platform(cluster, threads=3, tag="disk")
            platform.start()
            time.sleep(3.0)
            before = platform.stats.statuses[507] + platform.stats.statuses[503]
            cluster.note("filling the disk")
            filler = fill(disk)
            time.sleep(4.0)  # writes fail meanwhile
            during = platform.stats.statuses[507] + platform.stats.statuses[503] - before
            full_507 = platform.stats.statuses[507]
            filler.unlink()
            cluster.note("filler removed")
            platform.wait_recovered()
            time.sleep(2.0)
            result.notes.update(failed_writes_while_full=during, answered_507=full_507)
            closed = await_waves(cluster)  # the scheduler's writes succeed again
            check, _ = finish(cluster, platform, result, runs=1)
            assert check.decisions == closed
            assert full_507 > 0, f"no 507 while the disk was full ({during} 503/507)"
            cluster.stop()
        finally:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"DROP TABLESPACE IF EXISTS {name}")


# -- 5. clock steps under libfaketime --------------------------------------------------------


def test_clock_jumps(make_cluster: Callable[..., Cluster], result: Result) -> None:
    if not Path(LIBFAKETIME).exists():
        pytest.fail(f"libfaketime is missing ({LIBFAKETIME}): run scripts/system-packages.sh",
                    pytrace=False)
    cluster = make_cluster(faketime=True)
    # Waves closing during the run, one after the clock steps, and windows open for hours
    # that a clock stepped forward must not decide.
    cluster.populate(100, [6, 12, 32, 7200])
    cluster.start()
    platform = Platform(cluster, threads=3, tag="clock")
    platform.start()
    roles = ["app0", "app1", "scheduler"]
    steps = 0
    for offset, hold in (("-1h", 5.0), ("+1d", 6.0)):
        time.sleep(3.0)
        for role in roles:
            cluster.set_clock(role, offset)
        steps += 1
        time.sleep(hold)
        for role in roles:
            cluster.set_clock(role, "+0")
        platform.wait_recovered()
    # The wave closing after the steps must be decided too: the jobs did not stall.
    closed = await_waves(cluster)
    check, _ = finish(cluster, platform, result, runs=steps)
    assert check.decisions == closed
    assert sum(p.deaths for p in cluster.procs) == 0, "a process crashed: " + cluster.logs()
    still_open = [w for w in cluster.windows if w.closes_at > datetime.now(UTC)]
    assert still_open
    assert not check.decided_early
    guard_lines = cluster.scheduler.log.read_text(errors="replace").count("clock guard:") \
        if cluster.scheduler else 0
    result.notes["clock_guard_log_lines"] = guard_lines
    assert guard_lines > 0, "the clock guard never noticed the step"
