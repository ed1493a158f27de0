"""Sustained load on a cluster: two app processes and the scheduler on one PostgreSQL.

A real PostgreSQL 15 (``tests/pgserver.py``, the tests' throwaway server) on loopback,
with benchmark settings (``PG_SETTINGS``: more connections and shared buffers, fewer
checkpoints; ``fsync`` and ``synchronous_commit`` stay on, so an acknowledged event is
durable).  Two databases on it, set up alike (not measured): a campaign of
``--load-candidates`` candidates with open windows (``bench_ingest.populate``), a small closed
campaign decided and published as a notice (``publicity.notices.publish``), a signed
checkpoint.

Under test ("cluster"): ``absentia serve --no-scheduler --workers W`` twice, on two ports,
and ``absentia scheduler``, all on the first database.  Baseline, same run ("single"): one
``absentia serve --workers W`` (the scheduler in its master) on the second.  The same load
generator drives both; for the cluster it spreads its connections over both ports (a
client-side load balancer), for the single server all go to its one port.

Phases, each measured for ``--load-seconds`` (alone: ``--seconds``; 120 by default)
after ``--load-warmup`` (single, then cluster):

a. ingest: signed single-event deliveries (``bench_ingest``'s socket load generator,
   ``--load-clients`` processes x ``--load-connections`` keep-alive connections);
b. ingest: deliveries of ``--load-batch`` events;
c. public pages: two ``wrk`` processes (``--load-wrk-connections`` each, one per port for
   the cluster), every connection cycling through the notice page, the log's checkpoint,
   a hash tile and the ``/status`` form;
d. mixed: (a) and (c) at the same time;
e. (cluster only) (d) routed: the ingest to the first app process, the pages to the
   second (as a proxy sending ``/api/v1/platform/`` elsewhere would); its baseline is the
   cluster's (d);
f. (a) with the pages read at a steady ``--load-page-rate`` (1,000/s) by an open-loop
   generator (``bench._paced``) instead of wrk;
g. (single only) (d) with the pages served by ``absentia serve --read-only`` beside the
   server, on the same database (read-only sessions): the layout of docs/deployment.md
   §10; its baseline is the single server's (d).

Ingest under page load is then shown as a share of ingest alone (a), beside the goals
of issue 15 (>= 50 % under wrk, >= 70 % under the steady rate).

For each: throughput, p50/p99, errors (non-2xx, connection errors, timeouts; warm-up
included), and for ingest the loss check (every acknowledged event id in the ledger
exactly once, else the figure's goal is not met and the run exits 1); the CPU split
between the servers, the load generator, PostgreSQL and the rest of the machine
(``/proc``); the mean number of the database's sessions waiting for a lock and idle in a
transaction (``pg_stat_activity``, each second); and ERROR lines in the servers' logs.
On a 2-core machine the load generator and PostgreSQL share the cores with the app
processes, so the figures show correctness under sustained load and how throughput
behaves with more processes, not what two machines would do.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench import _common
from bench._common import Baseline, Figure, Latency, Progress, rate, report, say, scratch_dir, show
from bench._paced import LATE_S, PacedLoad, PacedResult, gated, paced_process
from bench.bench_ingest import (
    HR,
    LOG,
    THREADS,
    Load,
    LoadResult,
    Server,
    client_process,
    cpu_seconds,
    free_port,
    ledger_event_counts,
    loss_check,
    open_service,
    populate,
    process_tree,
    window_subjects,
    write_config,
)
from ledger.absence.webhooks import WebhookSecret
from ledger.app.wiring import read_webhook_secrets
from ledger.storage import LedgerStore
from publicity.notices import publish
from tests.pgserver import PgServer

ABSENTIA = Path(sys.executable).parent / "absentia"
#: Measured seconds per phase and setup.
SECONDS = 120.0
NOTICE_CAMPAIGN = "bench-notice"
#: PostgreSQL settings over the tests' defaults (durability untouched: fsync and
#: synchronous_commit on).  Three app processes' pools need more than 100 connections;
#: larger buffers and fewer checkpoints keep minutes of appends steady.
PG_SETTINGS = {
    "max_connections": "250",
    "shared_buffers": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "synchronous_commit": "on",
    "fsync": "on",
}
#: wrk's per-request timeout (its default is 2 s); a timeout counts as an error.
WRK_TIMEOUT_S = 10
WRK_SCRIPT = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  for i = 1, 1000 do
    io.write(string.format("Q %%d\\n", latency:percentile(i / 10.0)))
  end
end
"""
GOAL_INGEST = "0 errors, every acked event in the ledger once (both setups)"
GOAL_PAGES = "0 errors (both setups)"
#: Issue 15: ingest under page load, as a share of ingest alone (same setup, same run).
GOAL_UNDER_PACED = 0.70  # pages read at a steady rate (--load-page-rate, 1,000/s)
GOAL_UNDER_WRK = 0.50  # pages read by wrk as fast as it can (64 connections)
#: The paced page load's default rate (requests/s, over both of its processes).
PAGE_RATE = 1000.0


# -- the two setups ----------------------------------------------------------------------


@dataclass
class Setup:
    """One database, its data directory, and the processes serving it."""

    name: str
    data: Path
    config: Path
    store: LedgerStore
    targets: list[tuple[str, str]]
    secret: WebhookSecret
    paths: list[str]
    servers: list[Server] = field(default_factory=list)
    reader: Server | None = None  # ``serve --read-only`` beside them (single: phase g)
    scheduler: subprocess.Popen[bytes] | None = None
    scheduler_log: Path | None = None
    scanned: int = 0  # ledger entries the loss checks have read

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers]

    def pids(self) -> list[int]:
        out = [p for s in self.servers for p in s.pids()]
        if self.reader is not None:
            out += self.reader.pids()
        if self.scheduler is not None:
            out += process_tree(self.scheduler.pid)
        return out

    def describe(self) -> str:
        return ", ".join(f"port {p}" for p in self.ports) + (
            " + absentia scheduler" if self.scheduler is not None else
            " (scheduler in the master)")


def prepare(name: str, work: Path, url: str, candidates: int, notice_candidates: int,
            threads: int, page_gate: bool = True) -> Setup:
    """A database with the ingest campaign, a published notice and a checkpoint
    (``page_gate`` False: the servers' config turns the page gate off, ``Options``)."""
    data = work / name / "data"
    config = write_config(data, url, "FULL", threads)
    if not page_gate:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(f"threads = {threads}\n", f"threads = {threads}\n"
                                       "page_threads = 0\nswitch_interval_ms = 5.0\n", 1),
                          encoding="utf-8")
    now = datetime.now(UTC)
    _, store, service = open_service(data, config, now)
    t0 = time.perf_counter()
    say(f"[load] {name}: a published notice of {notice_candidates:,} decided candidates")
    earlier = now - timedelta(hours=4)
    populate(service, notice_candidates, earlier, now - timedelta(hours=3),
             now - timedelta(hours=2), campaign=NOTICE_CAMPAIGN)
    service.sweep(now)
    record = publish(service, HR, NOTICE_CAMPAIGN, now)
    say(f"[load] {name}: {candidates:,} candidates with open windows")
    populate(service, candidates, now, now - timedelta(hours=1), now + timedelta(days=30),
             chunk=1_000, progress=Progress(f"{name}: importing"))
    targets = window_subjects(service)
    size = store.sign_checkpoint(LOG, datetime.now(UTC)).size
    tile = "tile/0/000" if size >= 256 else f"tile/0/000.p/{size}"
    paths = [f"/notices/{record['notice']}", f"/logs/{LOG}/checkpoint", f"/logs/{LOG}/{tile}",
             "/status"]
    secret = read_webhook_secrets(service.cfg.webhook_secrets_path)[0]
    say(f"  {name}: set up in {time.perf_counter() - t0:.1f} s ({len(targets):,} windows, "
        f"log size {size:,})")
    return Setup(name, data, config, store, targets, secret, paths,
                 scanned=store.head(LOG).size)


def start_single(s: Setup, work: Path, workers: int) -> None:
    port = free_port()
    say(f"[load] single: absentia serve --workers {workers} on port {port}")
    s.servers.append(Server([str(ABSENTIA), "serve", "--data", str(s.data), "--config",
                             str(s.config), "--port", str(port), "--workers", str(workers)],
                            port, work / "single-serve.log"))


def start_cluster(s: Setup, work: Path, workers: int) -> None:
    # One after the other: each waits until the previous answers HTTP.
    for i in range(2):
        port = free_port()
        say(f"[load] cluster: absentia serve --no-scheduler --workers {workers} on port "
            f"{port}")
        s.servers.append(Server([str(ABSENTIA), "serve", "--no-scheduler", "--data",
                                 str(s.data), "--config", str(s.config), "--port", str(port),
                                 "--workers", str(workers)], port,
                                work / f"cluster-serve-{i}.log"))
    say("[load] cluster: absentia scheduler")
    log_file = s.scheduler_log = work / "cluster-scheduler.log"
    with log_file.open("wb") as out:
        s.scheduler = subprocess.Popen([str(ABSENTIA), "scheduler", "--data", str(s.data),
                                        "--config", str(s.config)], stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while b"scheduler running" not in log_file.read_bytes():
        if s.scheduler.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("absentia scheduler did not start: "
                               f"{log_file.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)


def check_pages(s: Setup) -> None:
    """Each page answers 200 on each port (wrk counts only statuses >= 400 as errors),
    the read-only process's pages (all but the status form) on its port.

    Raises:
        RuntimeError: a page answered something else.
    """
    reader = [] if s.reader is None else [(s.reader.port, p) for p in s.paths
                                          if p != "/status"]
    for port, path in [(port, path) for port in s.ports for path in s.paths] + reader:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{s.name}: GET {path} on port {port} answered "
                               f"{resp.status}, not 200")


def log_problems(s: Setup) -> int:
    """Lines logged at ERROR, and tracebacks, in the setup's server logs so far."""
    files = [srv.log_file for srv in s.servers] + (
        [s.reader.log_file] if s.reader is not None else []) + (
        [s.scheduler_log] if s.scheduler_log is not None else [])
    return sum(1 for f in files for line in f.read_text(errors="replace").splitlines()
               if " ERROR " in line or line.startswith("Traceback"))


def stop(s: Setup) -> None:
    for srv in s.servers + ([s.reader] if s.reader is not None else []):
        srv.stop()
    if s.scheduler is not None and s.scheduler.poll() is None:
        s.scheduler.terminate()
        try:
            s.scheduler.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(s.scheduler.pid, 9)
            s.scheduler.wait(10)
    s.store.engine.dispose()


# -- CPU ---------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent not idle since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is inside user)
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSplit:
    """Cores used on average over a window, by whom."""

    servers: float
    load_generator: float
    postgres: float
    rest: float
    wall_s: float

    def text(self) -> str:
        return (f"{self.servers:.2f} / {self.load_generator:.2f} / {self.postgres:.2f} / "
                f"{self.rest:.2f}")

    def detail(self) -> dict[str, float]:
        return {"servers_cores": round(self.servers, 3),
                "load_generator_cores": round(self.load_generator, 3),
                "postgres_cores": round(self.postgres, 3),
                "rest_of_machine_cores": round(self.rest, 3), "window_s": round(self.wall_s, 2)}


class CpuMeter:
    """CPU seconds of the groups of processes between ``start`` and ``stop``.

    A group is its process trees; children that exit meanwhile (PostgreSQL backends of
    closed pool connections) count through their parent's reaped-children times.  The
    group ``bench`` (this process) counts only itself: its reaped children are the load
    generator's.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.t0 = 0.0
        self.before: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        out = {name: cpu_seconds(pids(), reaped=name != "bench")
               for name, pids in self.groups.items()}
        out["machine"] = machine_busy_seconds()
        return out

    def start(self) -> None:
        self.t0 = time.time()
        self.before = self._sample()

    def stop(self) -> CpuSplit:
        after = self._sample()
        wall = time.time() - self.t0
        d = {k: max(0.0, after[k] - self.before[k]) / wall for k in after}
        rest = d["machine"] - sum(v for k, v in d.items() if k != "machine")
        return CpuSplit(d["servers"], d["load_generator"], d["postgres"], max(0.0, rest),
                        wall)


# -- wrk ---------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    quantiles_us: list[int]  # latency at 0.1 %, 0.2 %, ... 100 %


def wrk_start(port: int, paths: list[str], seconds: int, connections: int, script: Path
              ) -> subprocess.Popen[str]:
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths), encoding="utf-8")
    # As a browser does, accept gzip (notices and entry bundles are served compressed).
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                             f"--timeout={WRK_TIMEOUT_S}s", "-H", "Accept-Encoding: gzip",
                             "-s", str(script), f"http://127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc: subprocess.Popen[str], seconds: float) -> WrkResult:
    out, _ = proc.communicate(timeout=seconds + 120)
    result: WrkResult | None = None
    quantiles: list[int] = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            n, dur, *errs = (int(x) for x in line.split()[1:])
            names = ("connect", "read", "write", "status >= 400", "timeout")
            result = WrkResult(n, dur / 1e6, dict(zip(names, errs, strict=True)), [])
        elif line.startswith("Q "):
            quantiles.append(int(line.split()[1]))
    if result is None or proc.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{out[-2000:]}")
    result.quantiles_us = quantiles
    return result


def merged_percentile(results: list[WrkResult], q: float) -> float:
    """The ``q`` percentile (seconds) of the union of several wrk runs, from their
    per-mille quantiles weighted by their request counts."""
    points = sorted((v, r.requests / len(r.quantiles_us)) for r in results
                    for v in r.quantiles_us if r.quantiles_us)
    total = sum(w for _, w in points)
    if not total:
        return float("nan")
    acc = 0.0
    for v, w in points:
        acc += w
        if acc >= q / 100.0 * total - 1e-9:
            return v / 1e6
    return points[-1][0] / 1e6


# -- one phase ---------------------------------------------------------------------------


def pg_sessions(store: LedgerStore) -> tuple[int, int]:
    """Sessions of the store's database now waiting for a lock, and idle in a transaction
    (holding its locks while the app computes)."""
    with store.engine.connect() as conn:
        row = conn.execute(text(
            "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), "
            "count(*) FILTER (WHERE state = 'idle in transaction') "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).one()
    return int(row[0]), int(row[1])


@dataclass
class Options:
    seconds: float
    warmup: float
    batch: int
    clients: int
    connections: int
    wrk_connections: int
    workers: int
    threads: int
    page_rate: float = PAGE_RATE
    #: False: the servers run without the page gate and with Python's 5 ms switch
    #: interval (``[server] page_threads = 0``, ``switch_interval_ms = 5``), the
    #: configuration before them, to compare with the defaults in another run.
    page_gate: bool = True


@dataclass
class Outcome:
    """One setup under one phase's load."""

    setup: str
    ingest_events_s: float = 0.0
    ingest_requests_s: float = 0.0
    ingest_latency: Latency | None = None
    ingest_errors: int = 0
    ingest_statuses: dict[int, int] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    loss: str = ""
    loss_ok: bool = True
    pages_rps: float = 0.0
    pages_p50: float = float("nan")
    pages_p99: float = float("nan")
    pages_errors: dict[str, int] = field(default_factory=dict)
    cpu: CpuSplit | None = None
    #: Mean sessions of the setup's database waiting for a lock / idle in a transaction
    #: (waiting for the app), sampled each second (``pg_stat_activity``).
    pg_lock_waits: float = 0.0
    pg_idle_in_tx: float = 0.0

    def ingest_text(self) -> str:
        lat = self.ingest_latency
        assert lat is not None
        return (f"{rate(self.ingest_events_s)} events ({rate(self.ingest_requests_s)} "
                f"requests), p50 {lat.p50 * 1000:.1f} / p99 {lat.p99 * 1000:.1f} ms, "
                f"errors {self.ingest_errors}")

    def pages_text(self) -> str:
        return (f"{rate(self.pages_rps)} requests, p50 {self.pages_p50 * 1000:.1f} / p99 "
                f"{self.pages_p99 * 1000:.1f} ms, errors {sum(self.pages_errors.values())}")

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"setup": self.setup}
        if self.ingest_latency is not None:
            lat = self.ingest_latency
            out["ingest"] = {
                "events_per_s": round(self.ingest_events_s, 1),
                "requests_per_s": round(self.ingest_requests_s, 1),
                "latency_ms": {"p50": round(lat.p50 * 1000, 3), "p90": round(lat.p90 * 1000, 3),
                               "p99": round(lat.p99 * 1000, 3)},
                "errors": self.ingest_errors,
                "statuses": {str(k): v for k, v in self.ingest_statuses.items()},
                "acknowledged_events": len(self.acked), "loss_check": self.loss,
                "loss_ok": self.loss_ok}
        if self.pages_errors:
            out["pages"] = {"requests_per_s": round(self.pages_rps, 1),
                            "latency_ms": {"p50": round(self.pages_p50 * 1000, 3),
                                           "p99": round(self.pages_p99 * 1000, 3)},
                            "errors": self.pages_errors}
        if self.cpu is not None:
            out["cpu"] = self.cpu.detail()
        out["postgres_sessions_mean"] = {"waiting_for_a_lock": round(self.pg_lock_waits, 2),
                                         "idle_in_transaction": round(self.pg_idle_in_tx, 2)}
        return out


def run_phase(s: Setup, label: str, opt: Options, work: Path, postgres_pid: int, *,
              batch: int | None, pages: bool, routed: bool = False,
              paced: bool = False, reader: bool = False) -> Outcome:
    """``s`` under ingest deliveries of ``batch`` events (None: none) and/or page load
    (``pages``: wrk, as fast as it can; with ``paced``: ``opt.page_rate`` requests/s
    from ``bench._paced`` instead); ``routed``: the ingest to the first app process
    only, the pages to the second; ``reader``: the pages to the setup's read-only
    process."""
    out = Outcome(s.name + (" (routed)" if routed else " (+ read-only)" if reader else ""))
    ports = s.ports[:1] if routed else s.ports
    page_ports = [s.ports[-1]] * 2 if routed else [ports[i % len(ports)] for i in range(2)]
    paths = s.paths
    if reader and s.reader is not None:
        # The status form is the writer's (each lookup counts in the rate-limit table).
        page_ports, paths = [s.reader.port] * 2, [p for p in s.paths if p != "/status"]
    tag = f"{s.name[0]}{label[0]}x{int(time.time())}-"
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    # Every load-generator process starts at one time, set once all have imported
    # (``bench._paced.gated``): a fixed lead time is too short on a loaded machine.
    ready = ctx.Queue()
    start_at = ctx.Value("d", 0.0)
    clients = [] if batch is None else [ctx.Process(target=gated, args=(
        client_process, Load(ports[p % len(ports)], s.secret.to_text(), s.targets, batch,
                             opt.connections, 0.0, opt.warmup, opt.seconds, f"{tag}{p}"),
        0.0, results, ready, start_at)) for p in range(opt.clients)]
    # The paced page load: two processes (one per cluster port), half the rate each,
    # measured over the same interval as the ingest (after the warm-up).
    pacers = [ctx.Process(target=gated, args=(
        paced_process, PacedLoad(p, paths, opt.page_rate / 2, 0.0, opt.seconds),
        opt.warmup, results, ready, start_at)) for p in page_ports] if pages and paced else []
    for c in clients + pacers:
        c.start()
    for _ in clients + pacers:
        ready.get(timeout=300)
    start = start_at.value = time.time() + 0.2
    wrks: list[subprocess.Popen[str]] = []
    warm: list[WrkResult] = []
    meter = CpuMeter({
        "servers": s.pids,
        "load_generator": lambda: [p for c in clients if c.pid is not None
                                   for p in process_tree(c.pid)] + [w.pid for w in wrks]
                                  + [pc.pid for pc in pacers if pc.pid is not None],
        "postgres": lambda: process_tree(postgres_pid),
        "bench": lambda: [os.getpid()],
    })
    time.sleep(max(0.0, start - time.time()))
    if pages and not paced and opt.warmup >= 1:
        ws = [wrk_start(p, paths, round(opt.warmup), opt.wrk_connections,
                        work / f"wrk-{i}.lua") for i, p in enumerate(page_ports)]
        warm = [wrk_result(w, opt.warmup) for w in ws]
    time.sleep(max(0.0, start + opt.warmup - time.time()))
    head0 = s.store.head(LOG).size
    if pages and not paced:
        wrks = [wrk_start(p, paths, round(opt.seconds), opt.wrk_connections,
                          work / f"wrk-{i}.lua") for i, p in enumerate(page_ports)]
    meter.start()
    t0 = time.time()
    # The CPU window ends half a second early: every process measured is still alive.
    cpu_end = t0 + opt.seconds - 0.5
    next_note = t0 + 10
    next_sample = t0 + 0.5
    sessions: list[tuple[int, int]] = []
    while time.time() < cpu_end:
        time.sleep(max(0.0, min(cpu_end, next_note, next_sample) - time.time()))
        if time.time() >= next_sample:
            sessions.append(pg_sessions(s.store))
            next_sample += 1.0
        if time.time() >= next_note:
            grown = s.store.head(LOG).size - head0
            say(f"  {s.name} {label}: {time.time() - t0:.0f}/{opt.seconds:.0f} s" + (
                f", ledger +{grown:,} entries ({grown / (time.time() - t0):,.0f}/s)"
                if batch is not None else ""))
            next_note += 10
    out.cpu = meter.stop()
    if sessions:
        out.pg_lock_waits = sum(w for w, _ in sessions) / len(sessions)
        out.pg_idle_in_tx = sum(i for _, i in sessions) / len(sessions)
    # Both kinds of load generator put their results on one queue: sort them out.
    queued: list[Any] = [results.get(timeout=300) for _ in range(len(clients) + len(pacers))]
    paced_got = [r for r in queued if isinstance(r, PacedResult)]
    for pc in pacers:
        pc.join(60)
    if paced_got:
        lat = sorted(x for r in paced_got for x in r.latencies)
        out.pages_rps = sum(r.requests for r in paced_got) / opt.seconds
        out.pages_p50 = _common.percentile(lat, 50)
        out.pages_p99 = _common.percentile(lat, 99)
        out.pages_errors = {"status >= 400": 0, "timeout": 0, "connect/read": 0}
        for pr in paced_got:
            for k, v in pr.errors.items():
                out.pages_errors[k] = out.pages_errors.get(k, 0) + v
        late = sum(pr.late for pr in paced_got)
        unsent = sum(pr.unsent for pr in paced_got)
        out.pages_errors["not sent (behind at the end)"] = unsent
        say(f"  {s.name} {label}: pages {out.pages_text()} (paced at "
            f"{opt.page_rate:,.0f}/s; {late:,} sent over {LATE_S * 1000:.0f} ms late, "
            f"{unsent:,} still due at the end)")
    if pages and not paced:
        got = [wrk_result(w, opt.seconds) for w in wrks]
        out.pages_rps = sum(r.requests / r.seconds for r in got)
        out.pages_p50 = merged_percentile(got, 50)
        out.pages_p99 = merged_percentile(got, 99)
        errors: dict[str, int] = {}
        for r in got + warm:
            for k, v in r.errors.items():
                errors[k] = errors.get(k, 0) + v
        out.pages_errors = errors
        say(f"  {s.name} {label}: pages {out.pages_text()}")
    if batch is not None:
        loads: list[LoadResult] = [r for r in queued if isinstance(r, LoadResult)]
        for c in clients:
            c.join(60)
        lat = [x for r in loads for x in r.latencies]
        out.ingest_events_s = sum(r.events for r in loads) / opt.seconds
        out.ingest_requests_s = len(lat) / opt.seconds
        out.ingest_latency = Latency.of(lat)
        out.ingest_errors = sum(r.errors for r in loads)
        for lr in loads:
            for code, n in lr.statuses.items():
                out.ingest_statuses[code] = out.ingest_statuses.get(code, 0) + n
        out.acked = [a for r in loads for a in r.acked]
        say(f"  {s.name} {label}: ingest {out.ingest_text()}")
        counts, s.scanned = ledger_event_counts(s.store, s.scanned)
        try:
            out.loss = loss_check(f"{s.name} {label}", out.acked, counts, tag)
        except AssertionError as exc:
            out.loss, out.loss_ok = f"FAILED: {exc}", False
            say(f"  LOSS CHECK FAILED: {exc}")
    say(f"  {s.name} {label}: CPU cores used (servers / load generator / postgres / rest): "
        f"{out.cpu.text()} of {os.cpu_count()}; PostgreSQL sessions waiting for a lock "
        f"{out.pg_lock_waits:.1f}, idle in a transaction {out.pg_idle_in_tx:.1f} (mean)")
    return out


# -- the benchmark -----------------------------------------------------------------------


def phase_table(rows: list[tuple[str, Outcome, str]]) -> str:
    head = ("phase", "setup", "throughput", "p50", "p99", "errors", "loss check",
            "CPU cores: servers / loadgen / pg / rest", "pg lock waits / idle in tx")
    lines: list[tuple[str, ...]] = []
    for label, o, what in rows:
        if what == "ingest":
            lat = o.ingest_latency
            assert lat is not None
            cells = (f"{rate(o.ingest_events_s)} events", f"{lat.p50 * 1000:.1f} ms",
                     f"{lat.p99 * 1000:.1f} ms", str(o.ingest_errors),
                     f"{len(o.acked):,} acked, " + ("ok" if o.loss_ok else "FAILED"))
        else:
            cells = (f"{rate(o.pages_rps)} requests", f"{o.pages_p50 * 1000:.1f} ms",
                     f"{o.pages_p99 * 1000:.1f} ms", str(sum(o.pages_errors.values())), "-")
        lines.append((label, o.setup, *cells, o.cpu.text() if o.cpu else "-",
                      f"{o.pg_lock_waits:.1f} / {o.pg_idle_in_tx:.1f}"))
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]

    def fmt(r: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([fmt(head), "-+-".join("-" * w for w in widths), *map(fmt, lines)])


def figure(label: str, what: str, cluster: Outcome, single: Outcome, opt: Options,
           baseline: str | None = None) -> Figure:
    ok = all((o.ingest_errors == 0 and o.loss_ok) if what == "ingest" else
             sum(o.pages_errors.values()) == 0 for o in (cluster, single))
    value = cluster.ingest_events_s if what == "ingest" else cluster.pages_rps
    base = single.ingest_events_s if what == "ingest" else single.pages_rps
    text = cluster.ingest_text() if what == "ingest" else cluster.pages_text()
    btext = single.ingest_text() if what == "ingest" else single.pages_text()
    return show(Figure(
        "load", f"{label}: 2 x serve --workers {opt.workers} + scheduler, PostgreSQL",
        value, "events/s" if what == "ingest" else "requests/s", text,
        [Baseline(baseline or f"1 x serve --workers {opt.workers} (scheduler inside), same "
                  "PostgreSQL server, same load", base, btext)],
        GOAL_INGEST if what == "ingest" else GOAL_PAGES, ok,
        {"cluster": cluster.detail(), "single": single.detail(), "measured_s": opt.seconds,
         "warmup_s": opt.warmup}))


def single_figure(label: str, what: str, value: Outcome, base: Outcome, opt: Options
                  ) -> Figure:
    """Phase g: the single server with a read-only process beside it, beside (d)."""
    ok = (value.ingest_errors == 0 and value.loss_ok) if what == "ingest" else (
        sum(value.pages_errors.values()) == 0)
    ingest = what == "ingest"
    return show(Figure(
        "load", f"{label}: serve --workers {opt.workers} + serve --read-only --workers "
        f"{opt.workers}, PostgreSQL", value.ingest_events_s if ingest else value.pages_rps,
        "events/s" if ingest else "requests/s",
        value.ingest_text() if ingest else value.pages_text(),
        [Baseline("the single server alone under (d): it serves both kinds",
                  base.ingest_events_s if ingest else base.pages_rps,
                  base.ingest_text() if ingest else base.pages_text())],
        GOAL_INGEST if ingest else GOAL_PAGES, ok,
        {"with_reader": value.detail(), "single_d": base.detail()}))


SOLO = "a. ingest, 1 event/delivery"
UNDER_WRK = "d. mixed: ingest 1 event/delivery + pages"
UNDER_PACED = "f. mixed: ingest 1 event/delivery + pages at a steady {rate:,.0f}/s"


def starvation_figures(by_phase: dict[str, dict[str, Outcome]], opt: Options
                       ) -> list[Figure]:
    """Ingest under page load beside ingest alone (phase a), per setup: under wrk
    (phase d, goal ``GOAL_UNDER_WRK``) and under the paced pages (phase f, goal
    ``GOAL_UNDER_PACED``)."""
    out = []
    paced = UNDER_PACED.format(rate=opt.page_rate)
    for label, goal, what in ((UNDER_WRK, GOAL_UNDER_WRK, "pages read by wrk as fast as "
                               f"it can (2 x {opt.wrk_connections} connections)"),
                              (paced, GOAL_UNDER_PACED, f"pages read at a steady "
                               f"{opt.page_rate:,.0f} requests/s")):
        for setup in ("single", "cluster"):
            solo, mixed = by_phase[SOLO][setup], by_phase[label][setup]
            ratio = (mixed.ingest_events_s / solo.ingest_events_s
                     if solo.ingest_events_s else float("nan"))
            out.append(show(Figure(
                "load", f"ingest while {what}, {setup}", mixed.ingest_events_s, "events/s",
                f"{mixed.ingest_text()}; pages {mixed.pages_text()}",
                [Baseline(f"ingest alone, {setup}, same run (phase a)", solo.ingest_events_s,
                          solo.ingest_text())],
                f">= {goal:.0%} of ingest alone", ratio >= goal,
                {"ratio": round(ratio, 3), "goal": goal})))
    return out


def starvation_table(by_phase: dict[str, dict[str, Outcome]], opt: Options) -> str:
    """Ingest under page load as a share of ingest alone, beside the goals."""
    paced = UNDER_PACED.format(rate=opt.page_rate)
    lines = ["== load: does ingest starve behind the pages? (events/s, share of phase a) ==",
             "setup   | ingest alone | under wrk (goal >= 50 %)       | under "
             f"{opt.page_rate:,.0f} pages/s (goal >= 70 %)"]
    for setup in ("single", "cluster"):
        a = by_phase[SOLO][setup].ingest_events_s
        cells = []
        for label in (UNDER_WRK, paced):
            o = by_phase[label][setup]
            share = o.ingest_events_s / a if a else float("nan")
            cells.append(f"{o.ingest_events_s:7,.0f} ({share:4.0%}), pages "
                         f"{o.pages_rps:6,.0f}/s")
        lines.append(f"{setup:7} | {a:12,.0f} | {cells[0]:30} | {cells[1]}")
    return "\n".join(lines)


def run(candidates: int, notice_candidates: int, opt: Options, keep: bool = False,
        ingest_only: bool = False) -> tuple[list[Figure], list[str]]:
    """Set up, run the phases on both setups, and return the figures (``ingest_only``:
    phases a and b only, ingest alone: single server vs cluster).

    Raises:
        SystemExit: ``wrk`` is not installed.
        RuntimeError: a server or wrk failed.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run scripts/system-packages.sh (apt-get install wrk)")
    # Always a server of its own (never ABSENTIA_TEST_PG_URL's): its settings are part of
    # the setup, and its CPU time is read from /proc.
    pg = PgServer(external_url="", settings=PG_SETTINGS)
    setups: list[Setup] = []
    figures: list[Figure] = []
    notes: list[str] = []
    with scratch_dir("load", keep) as work, stopped_with_logs(setups, pg):
        say(f"[load] starting PostgreSQL with {PG_SETTINGS}")
        pg.start()
        postgres_pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
        single = prepare("single", work, pg.create_database(), candidates,
                         notice_candidates, opt.threads, opt.page_gate)
        cluster = prepare("cluster", work, pg.create_database(), candidates,
                          notice_candidates, opt.threads, opt.page_gate)
        setups += [single, cluster]
        start_single(single, work, opt.workers)
        start_cluster(cluster, work, opt.workers)
        for s in setups:
            check_pages(s)
        phases: list[tuple[str, int | None, bool, bool]] = [
            (SOLO, 1, False, False),
            (f"b. ingest, {opt.batch} events/delivery", opt.batch, False, False),
            ("c. public pages", None, True, False),
            (UNDER_WRK, 1, True, False),
            (UNDER_PACED.format(rate=opt.page_rate), 1, True, True),
        ][:2 if ingest_only else None]
        rows: list[tuple[str, Outcome, str]] = []
        by_phase: dict[str, dict[str, Outcome]] = {}
        for label, batch, pages, paced in phases:
            got: dict[str, Outcome] = {}
            for s in (single, cluster):
                say(f"\n[load] {label}: {s.name} ({s.describe()}), {opt.seconds:.0f} s after "
                    f"{opt.warmup:.0f} s warm-up")
                got[s.name] = run_phase(s, label, opt, work, postgres_pid, batch=batch,
                                        pages=pages, paced=paced)
            by_phase[label] = got
            kinds = (["ingest"] if batch is not None else []) + (["pages"] if pages else [])
            for what in kinds:
                name = label if len(kinds) == 1 else f"{label} ({what})"
                for s in (single, cluster):
                    rows.append((name, got[s.name], what))
                figures.append(figure(name, what, got["cluster"], got["single"], opt))
            for o in got.values():
                if o.loss:
                    notes.append(o.loss)
        if ingest_only:
            print(phase_table(rows))
            return figures, notes
        # (d) again on the cluster, each kind of traffic to an app process of its own (as
        # a proxy routing /api/v1/platform/ elsewhere would): does the ingest still starve
        # behind the pages?  Its baseline is the cluster's own (d).
        label = "e. mixed, routed: ingest -> app process 1, pages -> app process 2"
        say(f"\n[load] {label}: cluster, {opt.seconds:.0f} s after {opt.warmup:.0f} s warm-up")
        routed = run_phase(cluster, label, opt, work, postgres_pid, batch=1, pages=True,
                           routed=True)
        for what in ("ingest", "pages"):
            rows.append((f"{label} ({what})", routed, what))
            figures.append(figure(f"{label} ({what})", what, routed, got["cluster"], opt,
                                  "the same cluster under (d): both app processes serving "
                                  "both kinds"))
        notes.append(routed.loss)
        # (d) again on the single server, the pages read from `serve --read-only` beside
        # it (docs/deployment.md §10): does moving the reads off the writer help ingest?
        label = "g. mixed, pages from serve --read-only: ingest -> writer, pages -> reader"
        say(f"\n[load] {label}: single, {opt.seconds:.0f} s after {opt.warmup:.0f} s warm-up")
        beside = run_phase(single, label, opt, work, postgres_pid, batch=1, pages=True,
                           reader=True)
        for what in ("ingest", "pages"):
            rows.append((f"{label} ({what})", beside, what))
            figures.append(single_figure(f"{label} ({what})", what, beside,
                                         by_phase[UNDER_WRK]["single"], opt))
        notes.append(beside.loss)
        figures += starvation_figures(by_phase, opt)
        print()
        print("== load: cluster (2 app processes + scheduler) beside a single server, "
              "same PostgreSQL, same run ==")
        print(phase_table(rows))
        print()
        print(starvation_table(by_phase, opt))
        cpus = os.cpu_count() or 1
        notes += [
            f"load: this machine has {cpus} CPU cores: the two app processes (each gunicorn "
            f"with {opt.workers} workers x {opt.threads} threads), the scheduler, PostgreSQL "
            "and the load generator all compete for them, so the cluster cannot show the "
            "gain of a second machine; the point is no errors and no lost events under "
            "sustained load, and how throughput behaves with more processes",
            "load: CPU split = cores used on average over the measured interval by the "
            "setup's server processes / the load generator (ingest clients + wrk) / "
            "PostgreSQL / everything else on the machine (incl. the idle other setup and "
            "other users), from /proc",
            f"load: PostgreSQL 15 on loopback, settings {PG_SETTINGS}; the two setups each "
            "have a database of their own on it, populated alike",
            f"load: ingest: {opt.clients} client processes x {opt.connections} keep-alive "
            f"connections (spread over the cluster's two ports); pages: 2 wrk processes x "
            f"{opt.wrk_connections} connections (one per cluster port), each cycling the "
            f"notice page, /logs/{LOG}/checkpoint, a hash tile and /status; wrk timeout "
            f"{WRK_TIMEOUT_S} s; errors include the warm-up",
        ]
        for s in setups:
            n = log_problems(s)
            notes.append(f"load: {s.name}: {n} ERROR lines or tracebacks in its server logs "
                         "during the run")
        if not all(f.goal_met for f in figures):
            notes.append("load: FAILED: errors or lost events under load (see the table)")
    return figures, notes


@contextmanager
def stopped_with_logs(setups: list[Setup], pg: PgServer) -> Iterator[None]:
    """On leaving, stop each of ``setups`` (those appended inside too), saying if its
    server logs got ERROR lines while stopping, then ``pg``."""
    try:
        yield
    finally:
        for s in setups:
            try:
                before = log_problems(s)
                stop(s)
                if log_problems(s) > before:
                    say(f"  {s.name}: {log_problems(s) - before} ERROR lines or tracebacks "
                        "in its server logs while stopping (see --keep)")
            except Exception as exc:  # keep stopping the others
                say(f"  stopping {s.name} failed: {exc!r}")
        pg.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_event_load_arguments(parser, "load", seconds=SECONDS, warmup=5.0,
                                     per="phase and setup", servers="each app process",
                                     seconds_unset=True)
    parser.add_argument("--load-notice-candidates", type=int, default=200,
                        help="lines on the published notice (default 200)")
    parser.add_argument("--load-wrk-connections", type=int, default=32,
                        help="connections of each of the 2 wrk processes (default 32)")
    parser.add_argument("--load-page-rate", type=float, default=PAGE_RATE,
                        help="requests/s of the paced page load of phase f (default "
                             f"{PAGE_RATE:,.0f})")


def options(args: argparse.Namespace) -> Options:
    return Options(args.load_seconds or SECONDS, args.load_warmup, args.load_batch,
                   args.load_clients, args.load_connections, args.load_wrk_connections,
                   args.load_workers, THREADS, args.load_page_rate,
                   not getattr(args, "no_page_gate", False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    parser.add_argument("--seconds", type=float, dest="load_seconds",
                        help="the same as --load-seconds")
    parser.add_argument("--quick", action="store_true",
                        help="15 s per phase (unless --seconds), 2 s warm-up, 500 "
                             "candidates, 50 notice lines")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--no-page-gate", action="store_true",
                        help="servers without the page gate, at Python's 5 ms switch "
                             "interval (the configuration before them), to compare")
    parser.add_argument("--ingest-only", action="store_true",
                        help="phases a and b only (ingest alone, single vs cluster)")
    args = parser.parse_args(argv)
    if args.quick:
        args.load_seconds = args.load_seconds or 15.0
        args.load_warmup = 2.0
        args.load_candidates, args.load_notice_candidates = 500, 50
    started = time.perf_counter()
    figures, notes = run(args.load_candidates, args.load_notice_candidates, options(args),
                         keep=args.keep, ingest_only=args.ingest_only)
    report("load", figures, {"load": time.perf_counter() - started}, notes)
    return 0 if all(f.goal_met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
