"""Platform events ingested over HTTP through the production server, with a loss check.

A data directory with a campaign of ``--candidates`` candidates, each with an open
window (closing in 30 days), on SQLite with ``synchronous=FULL`` (an acknowledged
commit survives power loss).  Then the real server, ``absentia serve --workers 2``
(gunicorn gthread, the scheduler in the master), and a load generator in separate
processes: ``--clients`` processes x ``--connections`` keep-alive connections each, on
plain sockets (pre-formatted HTTP/1.1, so the client spends little CPU), each request a
signed Standard Webhooks delivery.  Measured for ``--seconds`` each (after a warm-up):

a. single-event deliveries;  b. deliveries of ``--batch`` events.

Figures: events/s (goal >= 2,000/s, batches accepted), requests/s, p50/p90/p99
latency, and the CPU seconds of server and client (the client must not be the limit).
Loss check: every event id acknowledged with a 2xx must be in the ledger exactly once
(``LedgerStore.iter_entries``); the counts are printed and a failure raises.

Baseline, same run, same load generator: ``bench/_plain_app.py``, a tiny Flask app under
the same gunicorn settings that verifies the same HMAC and INSERTs the raw JSON into a
SQLite table in the same durability mode, one transaction per request (loss-checked too).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Baseline,
    Figure,
    Latency,
    add_event_load_arguments,
    rate,
    report,
    say,
    scratch_dir,
    show,
    stopped_after,
)
from ledger.absence.service import AbsenceService, Caller
from ledger.absence.webhooks import WebhookSecret, sign
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence, read_webhook_secrets
from ledger.config import Settings, load_settings
from ledger.entry import format_time
from ledger.storage import LedgerStore
from ledger.storage.open import open_store
from tests.configs import absence_tables

GOAL_EVENTS = 2_000.0
LOG = "bench-hr"
CAMPAIGN = "bench2026"
PATH = "/api/v1/platform/events"
HR = Caller("hr:bench", "hr")
KINDS = ("invited", "joined", "completed")

CONFIG = """
[storage]
url = "{url}"
sqlite_synchronous = "{sync}"
key_dir = "{{data}}/keys"

[checkpoints]
min_interval_s = 1.0

[server]
threads = {threads}

[[logs]]
name = "{log}"
origin = "bench.absentia.invalid/{log}"

{absence}
[scheduler]
sweep_interval_s = 30
# The invitations queued in setup are not sent during the measurement (they would
# compete for the log's write lock with the events measured).
outbox_interval_s = 86400
lease_ttl_s = 30
"""


#: gunicorn threads per worker (the project's default in config.toml).
THREADS = 16


def write_config(data: Path, url: str, sync: str, threads: int = THREADS) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    path = data / "config.toml"
    path.write_text(CONFIG.format(url=url, sync=sync, log=LOG, threads=threads,
                                  absence=absence_tables(LOG, retention_days=None)),
                    encoding="utf-8")
    return path


def open_service(data: Path, config: Path, now: datetime) -> tuple[Settings, LedgerStore,
                                                                 AbsenceService]:
    settings = load_settings(data, config)
    store = open_store(settings, entry_types())
    return settings, store, open_absence(settings, store, now)


def candidates_csv(start: int, size: int) -> bytes:
    """Valid candidates ``start`` .. ``start + size - 1``: distinct registrations and ID
    numbers (``tests.functional._absence.candidates_csv`` draws them at random, and
    100,000 random ID numbers collide)."""
    from ledger.absence.imports import id_check_character

    lines = ["registration,name,id_number,phone,email,post"]
    for i in range(start, start + size):
        day = i // 1000
        first = (f"110105{1970 + day // 336:04d}{day % 336 // 28 + 1:02d}"
                 f"{day % 28 + 1:02d}{i % 1000:03d}")
        lines.append(f"B{i:07d},张{'伟芳娜敏静强磊洋'[i % 8]},{first}{id_check_character(first)},"
                     f"138{i % 100_000_000:08d},cand{i}@example.com,p01")
    return ("\n".join(lines) + "\n").encode("utf-8")


def populate(service: AbsenceService, n: int, now: datetime, opens: datetime,
             closes: datetime, *, chunk: int = 5_000, progress: Any = None,
             campaign: str = CAMPAIGN) -> None:
    """A campaign of ``n`` candidates, each with one window from ``opens`` to ``closes``."""
    service.create_campaign(HR, {"campaign": campaign, "title": "bench campaign",
                                 "posts": [{"post": "p01", "title": "post"}]}, now)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        data = candidates_csv(start, size)
        service.import_candidates(HR, campaign, data, "text/csv", now)
        if progress is not None:
            progress(start + size, n)
    subjects = [c["subject"] for c in service.candidates(campaign)]
    span = {"opens_at": format_time(opens), "closes_at": format_time(closes), "slot": "s1"}
    for start in range(0, len(subjects), chunk):
        service.schedule_windows(HR, campaign, {**span, "subjects": subjects[start:start + chunk]},
                                 now)


def window_subjects(service: AbsenceService, campaign: str = CAMPAIGN
                    ) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    after = ""
    while True:
        page = service.windows(campaign, limit=10_000, after=after)
        if not page:
            return out
        out += [(w["window"], w["subject"]) for w in page]
        after = page[-1]["window"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the server under test -------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc``; those gone meanwhile are left out)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                text = Path(f"/proc/{p}/task/{task}/children").read_text()
                todo += [int(c) for c in text.split()]
        except OSError:
            continue
    return out


def cpu_seconds(pids: list[int], *, reaped: bool = False) -> float:
    """User + system CPU seconds of the live processes among ``pids`` (from ``/proc``);
    with ``reaped``, plus that of their children that exited and were waited for (so that
    the total over a process tree does not drop when a child exits)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += sum(int(f) for f in fields[11:15 if reaped else 13]) / tick
    return total


class Server:
    """A server process (its own process group) and its CPU time."""

    def __init__(self, argv: list[str], port: int, log_file: Path) -> None:
        self.port = port
        self.log_file = log_file
        self._log = log_file.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}): "
                                   f"{log_file.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /nonexistent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/1."):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """The master and its workers."""
        return process_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its live workers."""
        return cpu_seconds(self.pids())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # gunicorn: graceful stop of the workers
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self._log.close()


# -- the load generator --------------------------------------------------------------


@dataclass
class Load:
    """What one client process sends: for ``seconds`` after ``start`` (unix time)."""

    port: int
    secret: str
    targets: list[tuple[str, str]]
    batch: int
    connections: int
    start: float
    warmup: float
    seconds: float
    tag: str


@dataclass
class LoadResult:
    """Requests completed inside the measured interval, and everything acknowledged."""

    latencies: list[float] = field(default_factory=list)
    events: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    cpu_s: float = 0.0


def _request(port: int, secret: WebhookSecret, msg_id: str, body: bytes) -> bytes:
    ts = int(time.time())
    sig = sign(secret, msg_id, ts, body)
    return (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"webhook-id: {msg_id}\r\nwebhook-timestamp: {ts}\r\n"
            f"webhook-signature: {sig}\r\n\r\n").encode("ascii") + body


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response; ``buf`` keeps bytes read past it."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head_end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    end = head_end + 4 + length
    while len(buf) < end:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    body = bytes(buf[head_end + 4:end])
    del buf[:end]
    return status, body


def _connection(load: Load, secret: WebhookSecret, conn_no: int, out: LoadResult,
                lock: threading.Lock) -> None:
    rng = random.Random(f"{load.tag}-{conn_no}")
    at = format_time(datetime.now(UTC))
    measured_from = load.start + load.warmup
    stop_at = measured_from + load.seconds
    latencies: list[float] = []
    acked: list[str] = []
    statuses: dict[int, int] = {}
    events = errors = seq = 0
    sock: socket.socket | None = None
    buf = bytearray()
    while time.time() < load.start:
        time.sleep(0.001)
    while True:
        if time.time() >= stop_at:
            break
        ids = []
        evs = []
        for _ in range(load.batch):
            window, subject = rng.choice(load.targets)
            eid = f"{load.tag}-{conn_no}-{seq}"
            seq += 1
            ids.append(eid)
            evs.append({"id": eid, "window": window, "kind": rng.choice(KINDS), "at": at,
                        "subject": subject})
        payload: Any = evs[0] if load.batch == 1 else {"events": evs}
        body = json.dumps(payload, separators=(",", ":")).encode()
        data = _request(load.port, secret, f"wh-{ids[0]}", body)
        t0 = time.time()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", load.port), timeout=120)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = bytearray()
            sock.sendall(data)
            status, _ = _read_response(sock, buf)
        except OSError:
            errors += 1
            if sock is not None:
                sock.close()
            sock = None
            continue
        t1 = time.time()
        statuses[status] = statuses.get(status, 0) + 1
        if 200 <= status < 300:
            acked += ids
            if t0 >= measured_from and t1 <= stop_at:
                latencies.append(t1 - t0)
                events += load.batch
        else:
            errors += 1
    if sock is not None:
        sock.close()
    with lock:
        out.latencies += latencies
        out.acked += acked
        out.events += events
        out.errors += errors
        for k, v in statuses.items():
            out.statuses[k] = out.statuses.get(k, 0) + v


def client_process(load: Load, results: Any) -> None:
    """One load-generating process: ``load.connections`` threads, one socket each."""
    secret = WebhookSecret.parse(load.secret)
    out = LoadResult()
    lock = threading.Lock()
    before = resource.getrusage(resource.RUSAGE_SELF)
    threads = [threading.Thread(target=_connection, args=(load, secret, i, out, lock))
               for i in range(load.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    out.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results.put(out)


@dataclass
class Measured:
    """One load phase against one server."""

    events_per_s: float
    requests_per_s: float
    latency: Latency
    acked: list[str]
    errors: int
    statuses: dict[int, int]
    client_cpu_s: float
    server_cpu_s: float
    wall_s: float

    def detail(self) -> dict[str, Any]:
        return {"events_per_s": round(self.events_per_s, 1),
                "requests_per_s": round(self.requests_per_s, 1),
                "latency_ms": {"p50": round(self.latency.p50 * 1000, 3),
                               "p90": round(self.latency.p90 * 1000, 3),
                               "p99": round(self.latency.p99 * 1000, 3)},
                "acknowledged_events": len(self.acked), "errors": self.errors,
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "client_cpu_s": round(self.client_cpu_s, 2),
                "server_cpu_s": round(self.server_cpu_s, 2), "wall_s": round(self.wall_s, 2)}

    def text(self) -> str:
        return (f"{rate(self.events_per_s)} events, {rate(self.requests_per_s)} requests, "
                f"{self.latency.text()}")


def drive(server: Server, secret: WebhookSecret, targets: list[tuple[str, str]], batch: int,
          clients: int, connections: int, warmup: float, seconds: float, tag: str
          ) -> Measured:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    start = time.time() + 1.5  # spawned interpreters import first
    procs = [ctx.Process(target=client_process, args=(
        Load(server.port, secret.to_text(), targets, batch, connections, start, warmup,
             seconds, f"{tag}{p}"), results)) for p in range(clients)]
    for p in procs:
        p.start()
    while time.time() < start + warmup:
        time.sleep(0.01)
    cpu0, t0 = server.cpu_seconds(), time.time()
    while time.time() < start + warmup + seconds:
        time.sleep(0.01)
    cpu1, t1 = server.cpu_seconds(), time.time()
    got: list[LoadResult] = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    lat = [x for r in got for x in r.latencies]
    statuses: dict[int, int] = {}
    for r in got:
        for k, v in r.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    return Measured(
        events_per_s=sum(r.events for r in got) / seconds,
        requests_per_s=len(lat) / seconds,
        latency=Latency.of(lat),
        acked=[a for r in got for a in r.acked],
        errors=sum(r.errors for r in got),
        statuses=statuses,
        client_cpu_s=sum(r.cpu_s for r in got),
        server_cpu_s=cpu1 - cpu0,
        wall_s=t1 - t0,
    )


# -- loss checks ---------------------------------------------------------------------


def ledger_event_counts(store: LedgerStore, start: int) -> tuple[dict[str, int], int]:
    """How often each platform event id is in the ledger (entries from ``start``)."""
    counts: dict[str, int] = {}
    last = start
    for idx, data in store.iter_entries(LOG, start=start):
        last = idx + 1
        e = json.loads(data)
        if e["type"] in ("platform.event", "platform.quarantined"):
            eid = e["body"]["event_id"]
            counts[eid] = counts.get(eid, 0) + 1
    return counts, last


def plain_event_counts(db: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    conn = sqlite3.connect(db)
    try:
        for (body,) in conn.execute("SELECT body FROM deliveries"):
            payload = json.loads(body)
            evs = payload.get("events", [payload])
            for ev in evs:
                counts[ev["id"]] = counts.get(ev["id"], 0) + 1
    finally:
        conn.close()
    return counts


def loss_check(what: str, acked: list[str], counts: dict[str, int], tag: str) -> str:
    """Every acknowledged id exactly once; raises if not."""
    ours = {k: v for k, v in counts.items() if k.startswith(tag)}
    missing = [a for a in acked if a not in ours]
    twice = [a for a in acked if ours.get(a, 0) > 1]
    text = (f"loss check {what}: {len(acked):,} events acknowledged (2xx), "
            f"{len(ours):,} distinct in the store, {sum(ours.values()):,} stored rows; "
            f"missing {len(missing)}, more than once {len(twice)}")
    say("  " + text)
    if missing or twice or len(set(acked)) != len(acked):
        raise AssertionError(f"{text}; e.g. {(missing or twice)[:3]}")
    return text


# -- the benchmark -------------------------------------------------------------------


def run(candidates: int, seconds: float, warmup: float, batch: int, clients: int,
        connections: int, workers: int, sync: str, keep: bool = False,
        threads: int = THREADS) -> tuple[list[Figure], list[str]]:
    notes: list[str] = []
    figures: list[Figure] = []
    servers: list[Server] = []
    with scratch_dir("ingest", keep) as work, stopped_after(servers):
        data = work / "data"
        config = write_config(data, "sqlite:///{data}/absentia.db", sync, threads)
        now = datetime.now(UTC)
        _, store, service = open_service(data, config, now)
        say(f"[ingest] setting up {candidates:,} candidates with open windows in {work}")
        t0 = time.perf_counter()
        populate(service, candidates, now, now - timedelta(hours=1), now + timedelta(days=30))
        targets = window_subjects(service)
        secret = read_webhook_secrets(service.cfg.webhook_secrets_path)[0]
        start_index = store.head(LOG).size
        say(f"  setup took {time.perf_counter() - t0:.1f} s ({len(targets):,} windows)")

        absentia = str(Path(sys.executable).parent / "absentia")
        ledger_port, plain_port = free_port(), free_port()
        say(f"[ingest] starting: absentia serve --workers {workers} (port {ledger_port}) "
            f"and the plain endpoint (port {plain_port})")
        ledger_srv = Server([absentia, "serve", "--data", str(data), "--config", str(config),
                             "--port", str(ledger_port), "--workers", str(workers)],
                            ledger_port, work / "ledger-server.log")
        servers.append(ledger_srv)
        plain_db = work / "plain.db"
        plain_srv = Server([sys.executable, str(Path(__file__).parent / "_plain_app.py"),
                            "--db", str(plain_db), "--secrets",
                            str(service.cfg.webhook_secrets_path), "--port", str(plain_port),
                            "--workers", str(workers), "--synchronous", sync],
                           plain_port, work / "plain-server.log")
        servers.append(plain_srv)

        conc = clients * connections
        cpus = os.cpu_count() or 1
        for size, label in ((1, "single-event deliveries"), (batch, f"batches of {batch}")):
            results: dict[str, Measured] = {}
            # The plain endpoint first, then the ledger: both under the same load.
            for side, srv in (("plain", plain_srv), ("ledger", ledger_srv)):
                tag = f"{side[0]}{size}x{int(time.time())}-"
                say(f"[ingest] {side}: {label}, {conc} connections ({clients} processes), "
                    f"{seconds:.0f} s after {warmup:.0f} s warm-up")
                m = drive(srv, secret, targets, size, clients, connections, warmup, seconds,
                          tag)
                say(f"  {m.text()}; errors {m.errors}; CPU s: server {m.server_cpu_s:.1f}, "
                    f"client {m.client_cpu_s:.1f} of {cpus * m.wall_s:.1f} available")
                if side == "ledger":
                    counts, _ = ledger_event_counts(store, start_index)
                else:
                    counts = plain_event_counts(plain_db)
                notes.append(loss_check(f"{side} {label}", m.acked, counts, tag))
                results[side] = m
            led, plain = results["ledger"], results["plain"]
            # The goal is events/s, and deliveries may be batches: it applies to
            # both phases, and a single-event phase shows the per-request ceiling.
            goal_met = led.events_per_s >= GOAL_EVENTS
            extra = {"ledger": led.detail(), "plain": plain.detail(),
                     "connections": conc, "client_processes": clients,
                     "server_workers": workers, "server_threads": threads,
                     "sqlite_synchronous": sync, "events_per_delivery": size,
                     "candidates": candidates, "measured_s": seconds}
            figures.append(show(Figure(
                "ingest", f"HTTP events/s, {label}", led.events_per_s, "events/s",
                f"{rate(led.events_per_s)} events ({rate(led.requests_per_s)} requests, "
                f"p50 {led.latency.p50 * 1000:.1f} / p99 {led.latency.p99 * 1000:.1f} ms)",
                [Baseline("plain endpoint, same JSON to SQLite, no ledger",
                          plain.events_per_s,
                          f"{rate(plain.events_per_s)} events ({rate(plain.requests_per_s)} "
                          f"requests, p50 {plain.latency.p50 * 1000:.1f} / "
                          f"p99 {plain.latency.p99 * 1000:.1f} ms)")],
                f">= {GOAL_EVENTS:,.0f} events/s", goal_met, extra)))
            notes.append(
                f"ingest {label}: CPU seconds over {led.wall_s:.1f} s on {cpus} CPUs: "
                f"ledger server {led.server_cpu_s:.1f} + client {led.client_cpu_s:.1f}; "
                f"plain server {plain.server_cpu_s:.1f} + client {plain.client_cpu_s:.1f}")
        notes.append(f"ingest: SQLite synchronous={sync}, WAL; absentia serve --workers "
                     f"{workers} (gthread, {threads} threads); {conc} keep-alive connections from "
                     f"{clients} client processes; the outbox job is off during the run "
                     "(invitations would compete for the write lock)")
        store.engine.dispose()
    return figures, notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_event_load_arguments(parser, "ingest", seconds=15.0, warmup=2.0, per="phase",
                             servers="both servers")
    parser.add_argument("--ingest-threads", type=int, default=THREADS,
                        help=f"gunicorn threads per worker of the ledger server "
                             f"(default {THREADS}, as config.toml)")
    parser.add_argument("--ingest-sync", default="FULL", choices=("FULL", "NORMAL"),
                        help="SQLite synchronous mode of both servers (default FULL)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true",
                        help="small: 500 candidates, 5 s per phase")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.ingest_candidates, args.ingest_seconds, args.ingest_warmup = 500, 5.0, 1.0
    started = time.perf_counter()
    figures, notes = run(args.ingest_candidates, args.ingest_seconds, args.ingest_warmup,
                         args.ingest_batch, args.ingest_clients, args.ingest_connections,
                         args.ingest_workers, args.ingest_sync, args.keep,
                         args.ingest_threads)
    report("ingest", figures, {"ingest": time.perf_counter() - started}, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
