"""Scheduler failover with real processes: the database lease, SIGKILL, racing sweeps.

* The lease (``ledger.app.scheduler.Lease``) on both databases: one holder at a time,
  expiry, renewal, release, and a thread race with exactly one winner.
* Two ``absentia scheduler`` processes on one database: one holds the lease and decides
  past-due windows; it is SIGKILLed; the other takes the lease over and decides windows
  created after the kill.  Every window is decided once, every notification is sent
  once, the tables equal a replay, and SIGTERM releases the lease.
* Two processes sweeping at once without any lease still decide every window once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.absence.rebuild import check_rebuild
from ledger.absence.service import AbsenceService, Caller
from ledger.app.registry import entry_types
from ledger.entry import format_time
from ledger.migrations import upgrade_connection
from ledger.storage import LedgerStore, make_engine
from ledger.storage.leases import Lease
from tests.functional._absence import LOG, Env, candidates_csv, make_env

ABSENTIA = Path(sys.executable).parent / "absentia"
ROOT = Path(__file__).resolve().parents[2]
HR = Caller("hr:test", "hr")
CAMPAIGN = "c2026"
LEASE_TTL_S = 3.0  # [scheduler] lease_ttl_s in _absence.CONFIG
WAIT_S = 60.0  # upper bound of the polls below (a bound, not a timing claim)
START_WAIT_S = 20.0  # bound for a scheduler to start and take the free lease

T = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


# --- the lease --------------------------------------------------------------------------


@pytest.fixture
def lease_store(store: LedgerStore) -> LedgerStore:
    """``store`` with the operational tables (``scheduler_leases``) created."""
    with store.engine.begin() as conn:
        upgrade_connection(conn)
    return store


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_lease_one_holder_then_expiry_takeover(lease_store: LedgerStore) -> None:
    a = Lease(lease_store, 10, holder="host-a:1:aaaa", db_clock=False)
    b = Lease(lease_store, 10, holder="host-b:2:bbbb", db_clock=False)
    assert a.holder_now() is None

    assert a.acquire(T) is True
    assert a.held is True
    assert b.acquire(T) is False
    assert b.held is False
    assert b.acquire(T + timedelta(seconds=9.999)) is False
    assert a.holder_now() == ("host-a:1:aaaa", ms(T) + 10_000)

    later = T + timedelta(seconds=10, milliseconds=1)  # a's lease has expired
    assert b.acquire(later) is True
    assert b.holder_now() == ("host-b:2:bbbb", ms(later) + 10_000)
    # a has not noticed yet (its next renewal would); its renewal now fails.
    assert a.acquire(later) is False
    assert a.held is False


@pytest.mark.postgres
def test_a_host_stepped_a_day_ahead_writes_no_day_long_lease(pg_url: str, key_dir: Path
                                                              ) -> None:
    """On PostgreSQL the lease's times come from the server's clock: a scheduler whose
    clock jumped a day forward must not hold the lease for a day after it dies."""
    store = LedgerStore(make_engine(pg_url), key_dir, entry_types())
    try:
        with store.engine.begin() as conn:
            upgrade_connection(conn)
        with store.engine.connect() as conn:
            server_ms = int(conn.exec_driver_sql(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint").scalar_one())
        stepped = datetime.fromtimestamp(server_ms / 1000, UTC) + timedelta(days=1)
        ahead = Lease(store, 10, holder="stepped-host")
        assert ahead.acquire(stepped)
        row = ahead.holder_now()
        assert row is not None
        # Expires ten seconds after the server's now (plus the test's own few seconds),
        # not ten seconds after the stepped clock's.
        assert server_ms + 10_000 <= row[1] < server_ms + 10_000 + 3_600_000
        # The same by the stepped clock itself would have been a day later.
        naive = Lease(store, 10, holder="naive-host", name="naive", db_clock=False)
        assert naive.acquire(stepped)
        naive_row = naive.holder_now()
        assert naive_row is not None
        assert naive_row[1] >= server_ms + 86_400_000
    finally:
        store.engine.dispose()


def test_lease_renewal_keeps_it(lease_store: LedgerStore) -> None:
    a = Lease(lease_store, 10, holder="a", db_clock=False)
    b = Lease(lease_store, 10, holder="b", db_clock=False)
    assert a.acquire(T)
    assert a.acquire(T + timedelta(seconds=8))  # renew: now expires at T+18 s
    assert a.holder_now() == ("a", ms(T) + 18_000)
    assert not b.acquire(T + timedelta(seconds=12))  # would have expired without renewal
    assert not b.acquire(T + timedelta(seconds=17))
    assert b.acquire(T + timedelta(seconds=18, milliseconds=1))


def test_lease_release_hands_over_at_once(lease_store: LedgerStore) -> None:
    a = Lease(lease_store, 10, holder="a", db_clock=False)
    b = Lease(lease_store, 10, holder="b", db_clock=False)
    assert a.acquire(T)
    a.release()
    assert a.held is False
    assert a.holder_now() == ("a", 0)
    assert b.acquire(T + timedelta(seconds=1))  # long before a's expiry
    assert b.holder_now() == ("b", ms(T) + 11_000)


def test_stale_holder_release_does_not_clear_the_new_holder(lease_store: LedgerStore) -> None:
    a = Lease(lease_store, 10, holder="a", db_clock=False)
    b = Lease(lease_store, 10, holder="b", db_clock=False)
    assert a.acquire(T)
    later = T + timedelta(seconds=11)
    assert b.acquire(later)
    assert a.held is True  # a has not renewed since: it still believes it holds the lease
    a.release()
    assert b.holder_now() == ("b", ms(later) + 10_000)
    c = Lease(lease_store, 10, holder="c", db_clock=False)
    assert not c.acquire(later + timedelta(seconds=1))


@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "expired"])
def test_lease_racing_threads_one_winner(lease_store: LedgerStore, existing: bool) -> None:
    now = T
    if existing:  # a row that has expired: the race is on the update, not the insert
        assert Lease(lease_store, 1, holder="old", db_clock=False).acquire(T - timedelta(seconds=5))
    n = 8
    leases = [Lease(lease_store, 10, holder=f"racer-{i}", db_clock=False) for i in range(n)]
    barrier = threading.Barrier(n)
    results: list[bool | None] = [None] * n
    errors: list[BaseException] = []

    def race(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = leases[i].acquire(now)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(r is not None for r in results)
    winners = [i for i, r in enumerate(results) if r]
    assert len(winners) == 1, results
    assert [lease.held for lease in leases].count(True) == 1
    assert leases[0].holder_now() == (f"racer-{winners[0]}", ms(now) + 10_000)


# --- helpers for the process tests ---------------------------------------------------------


def wait_for(what: str, check: Callable[[], bool], procs: list[subprocess.Popen[bytes]],
             logs: list[Path], timeout_s: float = WAIT_S) -> None:
    """Poll ``check`` until true; fail (with the processes' stderr) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        for p, log in zip(procs, logs, strict=True):
            if p.poll() is not None:
                pytest.fail(f"scheduler {p.pid} exited ({p.returncode}) while waiting for "
                            f"{what}:\n{tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout_s:.0f} s waiting for {what}:\n"
                        + "\n".join(tail(log) for log in logs))
        time.sleep(0.2)


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no output)"


def kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        if p.returncode is None:
            p.wait(timeout=30)


def past_windows(env: Env, *, seed: int, prefix: str, n: int) -> list[str]:
    """Import ``n`` candidates and give each a window that closed over 2 h ago (real time).

    The commands run on the env's clock set 3 h back, when the window was still ahead.
    """
    service = env.service
    then = env.clock(datetime.now(UTC) - timedelta(hours=3))
    data, _rows = candidates_csv(n, seed=seed, prefix=prefix)
    imported = service.import_candidates(HR, CAMPAIGN, data, "text/csv", then)
    subjects = [r["subject"] for r in imported]
    made = service.schedule_windows(HR, CAMPAIGN, {
        "opens_at": format_time(then + timedelta(minutes=1)),
        "closes_at": format_time(then + timedelta(minutes=50)),
        "subjects": subjects}, then)
    assert len(made) == n
    return [m["window"] for m in made]


def undecided(service: AbsenceService, windows: list[str]) -> int:
    open_ = {w["window"] for w in service.windows(CAMPAIGN, undecided_only=True)}
    return len(open_ & set(windows))


def pending_notifications(service: AbsenceService) -> int:
    return sum(1 for n in service.notifications(CAMPAIGN) if n["status"] == "pending")


def holder_pid(holder: str) -> int:
    return int(holder.rsplit(":", 2)[1])


def entries(store: LedgerStore) -> list[dict[str, Any]]:
    return [json.loads(d) for _, d in store.iter_entries(LOG)]


def start_scheduler_process(env: Env, config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [str(ABSENTIA), "scheduler", "--data", str(env.data), "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, cwd=ROOT)


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as e:
        e.service.create_campaign(HR, {
            "campaign": CAMPAIGN, "title": "2026年市人社局公开招聘", "policy": "government",
            "posts": [{"post": "p01", "title": "岗位p01"}]}, e.clock(datetime.now(UTC)
                                                                     - timedelta(hours=4)))
        yield e


# --- failover -------------------------------------------------------------------------------


def test_scheduler_failover_after_sigkill(env: Env, tmp_path: Path) -> None:
    service, store = env.service, env.store
    config = env.data / "config.toml"
    first = past_windows(env, seed=1, prefix="R", n=40)
    store.engine.dispose()  # the schedulers work on their own connections

    logs = [tmp_path / "sched-0.log", tmp_path / "sched-1.log"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        lease = Lease(store, LEASE_TTL_S)
        # One after the other: starting both at once is test_schedulers_start_at_once.
        procs.append(start_scheduler_process(env, config, logs[0]))
        wait_for("the first scheduler to take the lease", lambda: lease.holder_now()
                 is not None, procs, logs[:1], timeout_s=START_WAIT_S)
        procs.append(start_scheduler_process(env, config, logs[1]))
        wait_for("the first 40 windows to be decided and their notifications sent",
                 lambda: undecided(service, first) == 0 and pending_notifications(service) == 0,
                 procs, logs)
        row = lease.holder_now()
        assert row is not None
        holder, expires_at = row
        by_pid = {p.pid: p for p in procs}
        assert holder_pid(holder) in by_pid, (holder, list(by_pid))
        assert expires_at > 0
        victim = by_pid[holder_pid(holder)]
        [survivor] = [p for p in procs if p is not victim]

        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL

        second = past_windows(env, seed=2, prefix="S", n=10)

        def survivor_holds() -> bool:
            now_row = lease.holder_now()
            return now_row is not None and holder_pid(now_row[0]) == survivor.pid

        # Expiry (lease_ttl_s) plus a renewal period (ttl/3) is the expected delay; the
        # bound below only keeps a broken takeover from hanging the test.
        wait_for("the survivor to take the lease", survivor_holds, [survivor], [
            logs[procs.index(survivor)]], timeout_s=LEASE_TTL_S + 30)
        wait_for("the windows created after the kill to be decided",
                 lambda: undecided(service, second) == 0 and pending_notifications(service) == 0,
                 [survivor], [logs[procs.index(survivor)]])
        assert undecided(service, first) == 0

        # SIGTERM: the survivor stops cleanly and gives the lease up.
        survivor_holder = lease.holder_now()
        assert survivor_holder is not None
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0, tail(logs[procs.index(survivor)])
        assert lease.holder_now() == (survivor_holder[0], 0)
    finally:
        kill_all(procs)

    everything = first + second
    log_entries = entries(store)
    decisions = Counter(e["body"]["window"] for e in log_entries if e["type"] == "decision.made")
    assert decisions == Counter({w: 1 for w in everything})
    # The windows were made already closed, so each invitation expired unsent.  Whether
    # the outbox recorded that before the sweep decided decides the cause: no show
    # (forfeited) or the invitation never reaching the candidate (review for a make-up,
    # resting on the expiry entry).
    expiry_index = {e["body"]["notification"]: e["index"] for e in log_entries
                    if e["type"] == "notification.failed"}
    invitation_of = {b["window"]: n for n, b in queued_bodies(log_entries).items()
                     if b["template"] == "invitation"}
    for e in log_entries:
        if e["type"] == "decision.made":
            assert e["actor"] == "scheduler"
            b = e["body"]
            if b["cause"] == "notification_failed":
                assert b["outcome"] == "makeup_pending_review"
                assert b["evidence"] == str(expiry_index[invitation_of[b["window"]]])
            else:
                assert (b["outcome"], b["cause"]) == ("forfeited", "no_show")

    queued = queued_bodies(log_entries)
    invitations = Counter(b["window"] for b in queued.values() if b["template"] == "invitation")
    assert invitations == Counter({w: 1 for w in everything})
    decision_notes = Counter(b["window"] for b in queued.values() if b["template"] == "decision")
    assert decision_notes == Counter({w: 1 for w in everything})
    assert len(queued) == 2 * len(everything)

    outcomes = [(e["body"]["notification"], e["body"]["attempt"]) for e in log_entries
                if e["type"] in ("notification.sent", "notification.failed")]
    assert len(outcomes) == len(set(outcomes)), "an attempt was recorded twice"
    sent = Counter(e["body"]["notification"] for e in log_entries
                   if e["type"] == "notification.sent")
    # The windows were created already closed: their invitations are not sent any more
    # (recorded as expired), and every decision notice goes out once.
    notices = [n for n, b in queued.items() if b["template"] == "decision"]
    expired = Counter(e["body"]["notification"] for e in log_entries
                      if e["type"] == "notification.failed"
                      and e["body"]["error"] == "window_closed")
    assert sent == Counter(dict.fromkeys(notices, 1))  # the file channel never fails
    assert expired == Counter(n for n, b in queued.items() if b["template"] == "invitation")

    # What the channel actually sent (the file outbox of both processes): once each.
    lines = [json.loads(x) for x in (env.data / "outbox.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert Counter(x["reference"] for x in lines) == Counter(dict.fromkeys(notices, 1))

    stats = service.statistics(CAMPAIGN)
    assert stats["windows"]["undecided"] == 0
    assert stats["decided"] == len(everything)
    assert stats["notifications"] == {"sent": len(everything), "failed": len(everything)}

    check = check_rebuild(store, LOG)
    assert check.equal, check.differences
    assert check.entries == len(log_entries)


def queued_bodies(log_entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """notification id -> body of its notification.queued entry."""
    return {e["body"]["notification"]: e["body"] for e in log_entries
            if e["type"] == "notification.queued"}


def test_schedulers_start_at_once(env: Env, tmp_path: Path) -> None:
    """Two schedulers started together (as by a service manager) both come up; one works."""
    config = env.data / "config.toml"
    windows = past_windows(env, seed=4, prefix="U", n=5)
    env.store.engine.dispose()
    logs = [tmp_path / "start-0.log", tmp_path / "start-1.log"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for log in logs:
            procs.append(start_scheduler_process(env, config, log))
        wait_for("the windows to be decided", lambda: undecided(env.service, windows) == 0,
                 procs, logs, timeout_s=START_WAIT_S + 10)
        row = Lease(env.store, LEASE_TTL_S).holder_now()
        assert row is not None
        assert holder_pid(row[0]) in {p.pid for p in procs}
        for p, log in zip(procs, logs, strict=True):
            assert p.poll() is None, f"a scheduler died at startup:\n{tail(log)}"
    finally:
        kill_all(procs)


# --- racing sweeps without the lease -------------------------------------------------------

SWEEP_SCRIPT = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from ledger.app.wiring import open_absence
from ledger.config import load_settings
from ledger.storage.open import open_store
from ledger.app.registry import entry_types

data, config, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = load_settings(data, config)
service = open_absence(settings, open_store(settings, entry_types()), datetime.now(UTC))
print("ready", flush=True)
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.002)
print(service.sweep(datetime.now(UTC), batch=3), flush=True)
"""


def test_two_sweeps_racing_in_two_processes_decide_once(env: Env, tmp_path: Path) -> None:
    service, store = env.service, env.store
    windows = past_windows(env, seed=3, prefix="T", n=30)
    store.engine.dispose()
    go = tmp_path / "go"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(2):  # one after the other: concurrent start-up is tested above
            p = subprocess.Popen(
                [sys.executable, "-c", SWEEP_SCRIPT, str(env.data),
                 str(env.data / "config.toml"), str(go)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=ROOT)
            procs.append(p)
            assert p.stdout is not None
            assert p.stderr is not None
            line = p.stdout.readline()
            if line != b"ready\n":
                p.wait(timeout=30)
                pytest.fail(f"sweeper did not start:\n{p.stderr.read().decode()[-3000:]}")
        go.touch()  # both start sweeping at once
        counts = []
        for p in procs:
            out, err = p.communicate(timeout=WAIT_S)
            assert p.returncode == 0, err.decode(errors="replace")
            counts.append(int(out.strip()))
    finally:
        kill_all(procs)

    assert sum(counts) == len(windows), counts
    log_entries = entries(store)
    decisions = Counter(e["body"]["window"] for e in log_entries if e["type"] == "decision.made")
    assert decisions == Counter(dict.fromkeys(windows, 1))
    decision_notes = Counter(e["body"]["window"] for e in log_entries
                             if e["type"] == "notification.queued"
                             and e["body"]["template"] == "decision")
    assert decision_notes == Counter(dict.fromkeys(windows, 1))
    assert undecided(service, windows) == 0
    check = check_rebuild(store, LOG)
    assert check.equal, check.differences
