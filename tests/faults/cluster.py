"""The fault tests' cluster: PostgreSQL, two app processes, a scheduler, a platform.

``Cluster`` runs, on one real PostgreSQL 15 server (``tests.pgserver.PgServer``, our own
instance so that the tests may stop and restart it):

* two app processes, ``absentia serve --no-scheduler --workers 1 --port P`` (gunicorn);
* one ``absentia scheduler`` process (sweep, outbox, checkpoints);

all on one database, one data directory and one key directory, each in its own process
group.  A supervisor thread restarts any of them that dies, as systemd's
``Restart=always`` would (a SIGKILL kills the whole group, as systemd's control-group
kill does).  Each process connects with its own ``application_name`` (so the tests can
see in ``pg_stat_activity`` what the scheduler is doing), and with ``faketime=True`` runs
under libfaketime with its own offset file (``set_clock``), so that a test can step one
host's clock.

``Platform`` is the interview platform behind a load balancer: threads sending signed
Standard Webhooks deliveries (a unique webhook-id each); on a connection error or a 5xx
it retries the SAME delivery, re-signed with the current time, on the other app
process.  It records every event id acknowledged with a 2xx, every status, and whether
each 5xx was an RFC 9457 problem+json.

``check_ledger`` then reads the ledger itself: acknowledged events found, events recorded
twice, windows decided twice, the checkpoints' sizes, and the chain (``absentia export``
then ``absentia verify`` with the log's verifier keys, in subprocesses).
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from ledger.absence.rebuild import check_rebuild
from ledger.absence.service import Caller
from ledger.absence.webhooks import WebhookSecret, sign
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence, read_webhook_secrets
from ledger.config import load_settings
from ledger.entry import format_time
from ledger.storage import LedgerStore, make_engine
from ledger.storage.open import open_store
from tests.configs import absence_tables
from tests.pgserver import PgServer

ROOT = Path(__file__).resolve().parents[2]
ABSENTIA = str(Path(sys.executable).parent / "absentia")
LOG = "faults"
CAMPAIGN = "f2026"
HR = Caller("hr:faults", "hr")
KINDS = ("invited", "joined", "completed")
EVENTS_PATH = "/api/v1/platform/events"
PROBLEM_JSON = "application/problem+json"
#: Bounds of the waits below: they keep a broken recovery from hanging the run; they are
#: not timing claims.
START_WAIT_S = 60.0
RECOVER_WAIT_S = 60.0
DELIVERY_GIVE_UP_S = 90.0
#: Debian's libfaketime (package libfaketime), for this machine's architecture.
LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))),
                   "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

CONFIG = """
[storage]
url = "{url}"
key_dir = "{{data}}/keys"

[checkpoints]
min_interval_s = 0.5

[server]
threads = 8

[[logs]]
name = "{log}"
origin = "faults.absentia.invalid/{log}"

{absence}
[scheduler]
sweep_interval_s = 0.5
outbox_interval_s = 1
lease_ttl_s = 3
max_clock_skew_s = 5

[publicity]
base_url = "http://127.0.0.1:5000"
report_interval_s = 86400
"""


def config_text(url: str, grace_s: int) -> str:
    """The cluster's config on the database ``url``, with the policy's ``grace_s``."""
    return CONFIG.format(url=url, log=LOG, absence=absence_tables(
        LOG, grace_s=grace_s, government="notify_within_s = 3600"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


# -- processes ------------------------------------------------------------------------


class Proc:
    """One supervised service process (its own process group)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path,
                 port: int | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.port = port
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.deaths = 0  # exits the supervisor noticed (killed or crashed)
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            with self.log.open("ab") as out:
                out.write(f"\n--- start {self.starts + 1} at {time.time():.3f}\n".encode())
                out.flush()
                self.popen = subprocess.Popen(
                    self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
            self.starts += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (gunicorn's master and workers)."""
        with self.lock:
            if self._signal(signal.SIGKILL, 30):
                self.kills += 1

    def stop(self) -> None:
        """SIGTERM the whole process group; SIGKILL it if it is not gone in 15 s."""
        with self.lock:
            try:
                self._signal(signal.SIGTERM, 15)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL, 15)

    def _signal(self, sig: signal.Signals, wait_s: float) -> bool:
        """Send ``sig`` to the running process's group and wait ``wait_s`` for its exit;
        False if it was not running (hold ``self.lock``).

        Raises:
            subprocess.TimeoutExpired: it was still running after ``wait_s``.
        """
        p = self.popen
        if p is None or p.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
        p.wait(timeout=wait_s)
        return True


@dataclass
class Window:
    window: str
    subject: str
    closes_at: datetime


class Cluster:
    """PostgreSQL + two app processes + a scheduler, on one data directory."""

    def __init__(self, work: Path, pg: PgServer, *, faketime: bool = False,
                 grace_s: int = 2, database_url: str | None = None) -> None:
        self.work = work
        self.pg = pg
        self.data = work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.url = database_url or pg.create_database()
        self.grace_s = grace_s
        self.config = self.data / "config.toml"
        self.config.write_text(config_text(self.url, grace_s), encoding="utf-8")
        self.faketime = faketime
        self.apps: list[Proc] = []
        self.scheduler: Proc | None = None
        self.windows: list[Window] = []
        self.secret: WebhookSecret | None = None
        self.verifier_keys: list[str] = []
        self._supervise = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restart_delay_s = 0.3
        self.events: list[str] = []  # what the harness did, for the failure messages

    # -- set-up ---------------------------------------------------------------------

    def populate(self, n: int, closes_in_s: list[float]) -> None:
        """A campaign of ``n`` candidates, the windows opened 5 minutes ago and closing
        ``closes_in_s`` seconds from now (round-robin over the candidates)."""
        settings = load_settings(self.data, self.config)
        store = open_store(settings, entry_types())
        try:
            now = datetime.now(UTC)
            service = open_absence(settings, store, now)
            self.secret = read_webhook_secrets(service.cfg.webhook_secrets_path)[0]
            service.create_campaign(HR, {"campaign": CAMPAIGN, "title": "fault campaign",
                                         "posts": [{"post": "p01", "title": "post"}]}, now)
            service.import_candidates(HR, CAMPAIGN, candidates_csv(n), "text/csv", now)
            subjects = [c["subject"] for c in service.candidates(CAMPAIGN)]
            groups: dict[float, list[str]] = {}
            for i, s in enumerate(subjects):
                groups.setdefault(closes_in_s[i % len(closes_in_s)], []).append(s)
            for offset, subs in sorted(groups.items()):
                closes = now + timedelta(seconds=offset)
                made = service.schedule_windows(HR, CAMPAIGN, {
                    "opens_at": format_time(now - timedelta(minutes=5)),
                    "closes_at": format_time(closes), "slot": f"s{int(offset)}",
                    "subjects": subs}, now)
                self.windows += [Window(m["window"], m["subject"], closes) for m in made]
            self.verifier_keys = list(store.log(LOG).verifier_keys)
        finally:
            store.engine.dispose()

    def _env(self, role: str) -> dict[str, str]:
        env = dict(os.environ)
        url = make_url(self.url).update_query_dict({"application_name": role})
        env["ABSENTIA_DATABASE_URL"] = url.render_as_string(hide_password=False)
        env["PYTHONUNBUFFERED"] = "1"
        if self.faketime:
            clock = self.clock_file(role)
            if not clock.exists():
                clock.write_text("+0\n")
            # The monotonic clock stays real, as under an NTP step; faketime_site works
            # around libfaketime's time.sleep bug in that mode.
            env.update(LD_PRELOAD=LIBFAKETIME, FAKETIME_TIMESTAMP_FILE=str(clock),
                       FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                       PYTHONPATH=os.pathsep.join(
                           [str(Path(__file__).parent / "faketime_site"),
                            *filter(None, [os.environ.get("PYTHONPATH")])]))
        return env

    def clock_file(self, role: str) -> Path:
        return self.work / f"faketime-{role}"

    def set_clock(self, role: str, offset: str) -> None:
        """Step ``role``'s clock to real time plus ``offset`` (libfaketime: "+1d", "-1h")."""
        tmp = self.clock_file(role).with_suffix(".tmp")
        tmp.write_text(offset + "\n")
        tmp.replace(self.clock_file(role))
        self.note(f"clock of {role} set to {offset}")

    def start(self) -> None:
        """Start the two apps and the scheduler, wait until they serve, supervise them."""
        common = ["--data", str(self.data), "--config", str(self.config)]
        for i in range(2):
            port = free_port()
            role = f"app{i}"
            self.apps.append(Proc(role, [ABSENTIA, "serve", *common, "--no-scheduler",
                                         "--workers", "1", "--port", str(port)],
                                  self._env(role), self.work / f"{role}.log", port))
        self.scheduler = Proc("scheduler", [ABSENTIA, "scheduler", *common],
                              self._env("scheduler"), self.work / "scheduler.log")
        for p in self.procs:
            p.start()
        for app in self.apps:
            self.wait_serving(app)
        self._supervise.set()
        self._supervisor = threading.Thread(target=self._supervise_loop, daemon=True,
                                            name="supervisor")
        self._supervisor.start()

    @property
    def procs(self) -> list[Proc]:
        return [*self.apps, *([self.scheduler] if self.scheduler else [])]

    def _supervise_loop(self) -> None:
        while self._supervise.is_set():
            for p in self.procs:
                if p.popen is not None and p.popen.poll() is not None and \
                        self._supervise.is_set():
                    p.deaths += 1
                    self.note(f"{p.name} exited ({p.popen.returncode}); restarting it")
                    time.sleep(self.restart_delay_s)
                    p.start()
            time.sleep(0.1)

    def note(self, what: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {what}")

    def wait_serving(self, app: Proc, timeout_s: float = START_WAIT_S) -> None:
        """Until ``app`` answers /healthz (with a bound, for a broken start)."""
        assert app.port is not None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{app.name} did not serve within {timeout_s:.0f} s:\n"
                                     f"{tail(app.log)}")
            time.sleep(0.1)

    def kill(self, proc: Proc) -> None:
        self.note(f"SIGKILL {proc.name}")
        proc.kill()

    def stop(self) -> None:
        self._supervise.clear()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
        for p in self.procs:
            p.stop()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{tail(p.log)}" for p in self.procs) + \
            "\n== harness\n" + "\n".join(self.events[-40:])

    # -- PostgreSQL -----------------------------------------------------------------

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl -D <data> ARGS`` as the server's account."""
        assert self.pg.bin_dir is not None
        return self.pg._run([str(self.pg.bin_dir / "pg_ctl"), "-D", str(self.pg.data_dir),
                             *args], timeout=120)

    def pg_stop(self, mode: str) -> None:
        self.note(f"pg_ctl stop -m {mode}")
        done = self.pg_ctl("-m", mode, "-w", "-t", "60", "stop")
        assert done.returncode == 0, f"pg_ctl stop: {done.stdout}{done.stderr}"

    def pg_start(self) -> None:
        self.note("pg_ctl start")
        done = self.pg._pg_ctl_start()
        assert done.returncode == 0, f"pg_ctl start: {done.stdout}{done.stderr}"

    def pg_admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection to the server's ``postgres`` database."""
        conninfo = make_url(self.pg.url("postgres")).set(drivername="postgresql")
        return psycopg.connect(conninfo.render_as_string(hide_password=False),
                               autocommit=True, connect_timeout=5)

    @staticmethod
    def scheduler_sweeping(conn: psycopg.Connection[Any]) -> bool:
        """Is the scheduler's connection inside a transaction deciding windows?"""
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'scheduler' "
            "AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction')"
        ).fetchall()
        return any("p_windows" in q or "p_decisions" in q or "decision" in q
                   for (q,) in rows)

    def open_store(self) -> LedgerStore:
        settings = load_settings(self.data, self.config)
        return LedgerStore(make_engine(settings.database_url), settings.key_dir, entry_types())


def candidates_csv(n: int) -> bytes:
    """``n`` valid candidates with distinct registrations and ID numbers."""
    from ledger.absence.imports import id_check_character

    lines = ["registration,name,id_number,phone,email,post"]
    for i in range(n):
        first = f"110105{1980 + i // 300:04d}{i // 28 % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
        lines.append(f"F{i:05d},张{'伟芳娜敏静强磊洋'[i % 8]},{first}{id_check_character(first)},"
                     f"138{i:08d},cand{i}@example.com,p01")
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- the platform ----------------------------------------------------------------------


@dataclass
class PlatformStats:
    deliveries: int = 0  # distinct deliveries (webhook-ids) sent
    attempts: int = 0  # HTTP requests, retries included
    acked_events: list[str] = field(default_factory=list)
    acked_deliveries: int = 0
    refused: int = 0  # deliveries answered with a 4xx (not retried, not acknowledged)
    abandoned: int = 0  # deliveries still failing after DELIVERY_GIVE_UP_S
    connection_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    bad_5xx: list[str] = field(default_factory=list)  # 5xx that were 500s or not problem+json
    refusals: Counter[str] = field(default_factory=Counter)  # 4xx problem types


class Platform:
    """The interview platform: signed deliveries through a retrying load balancer."""

    def __init__(self, cluster: Cluster, *, threads: int = 3, tag: str = "ev",
                 seed: int = 1, pause_s: float = 0.0) -> None:
        self.cluster = cluster
        self.threads = threads
        self.tag = tag
        self.rng = random.Random(seed)
        self.pause_s = pause_s
        self.stats = PlatformStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._seq = 0

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True, name=f"platform-{i}")
            self._workers.append(t)
            t.start()

    def stop(self) -> PlatformStats:
        self._stop.set()
        for t in self._workers:
            t.join(timeout=DELIVERY_GIVE_UP_S + 30)
        return self.stats

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def delivery(self, rng: random.Random) -> tuple[str, list[str], bytes]:
        """(webhook-id, event ids, body): one to three events for random windows."""
        n = self._next()
        now = format_time(datetime.now(UTC))
        events = []
        for k in range(rng.randint(1, 3)):
            w = rng.choice(self.cluster.windows)
            events.append({"id": f"{self.tag}-{n}-{k}", "window": w.window,
                           "kind": rng.choice(KINDS), "at": now, "subject": w.subject})
        payload: Any = events[0] if len(events) == 1 else {"events": events}
        return f"wh-{self.tag}-{n}", [e["id"] for e in events], json.dumps(payload).encode()

    def _run(self, i: int) -> None:
        rng = random.Random(self.rng.random())
        while not self._stop.is_set():
            self.send_one(rng, first_app=i % 2)
            if self.pause_s:
                time.sleep(self.pause_s)

    def send_one(self, rng: random.Random, first_app: int = 0) -> bool:
        """Deliver one new delivery until acknowledged, refused (4xx) or given up."""
        webhook_id, ids, body = self.delivery(rng)
        with self._lock:
            self.stats.deliveries += 1
        app_no = first_app
        give_up = time.monotonic() + DELIVERY_GIVE_UP_S
        while True:
            app = self.cluster.apps[app_no % len(self.cluster.apps)]
            status, ctype, answer = self._post(app.port, webhook_id, body)
            with self._lock:
                self.stats.attempts += 1
                if status is None:
                    self.stats.connection_errors += 1
                else:
                    self.stats.statuses[status] += 1
            if status is not None and 200 <= status < 300:
                with self._lock:
                    self.stats.acked_events += ids
                    self.stats.acked_deliveries += 1
                return True
            if status is not None and status < 500:
                with self._lock:
                    self.stats.refused += 1
                    self.stats.refusals[_problem_type(answer)] += 1
                return False
            if status is not None and (status == 500 or not ctype.startswith(PROBLEM_JSON)):
                with self._lock:
                    self.stats.bad_5xx.append(f"{status} {ctype} {answer[:300]!r}")
            if time.monotonic() > give_up:
                with self._lock:
                    self.stats.abandoned += 1
                return False
            app_no += 1  # the load balancer tries the other app process
            time.sleep(0.05 if app_no % 2 else 0.2)

    def _post(self, port: int | None, webhook_id: str, body: bytes
              ) -> tuple[int | None, str, bytes]:
        assert self.cluster.secret is not None
        ts = int(time.time())
        headers = {"webhook-id": webhook_id, "webhook-timestamp": str(ts),
                   "webhook-signature": sign(self.cluster.secret, webhook_id, ts, body),
                   "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", EVENTS_PATH, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type") or "", resp.read()
        except (OSError, http.client.HTTPException):
            return None, "", b""
        finally:
            conn.close()

    def wait_recovered(self, timeout_s: float = RECOVER_WAIT_S) -> int:
        """Until a fresh delivery to EACH app process is acknowledged; return how many
        deliveries that took.  Nothing is restarted here."""
        rng = random.Random(7)
        tries = 0
        for app_no in range(len(self.cluster.apps)):
            deadline = time.monotonic() + timeout_s
            while True:
                webhook_id, ids, body = self.delivery(rng)
                tries += 1
                with self._lock:
                    self.stats.deliveries += 1
                    self.stats.attempts += 1
                status, ctype, answer = self._post(self.cluster.apps[app_no].port, webhook_id,
                                                   body)
                with self._lock:
                    if status is None:
                        self.stats.connection_errors += 1
                    else:
                        self.stats.statuses[status] += 1
                    if status is not None and 200 <= status < 300:
                        self.stats.acked_events += ids
                        self.stats.acked_deliveries += 1
                    elif status is not None and status >= 500 and (
                            status == 500 or not ctype.startswith(PROBLEM_JSON)):
                        self.stats.bad_5xx.append(f"{status} {ctype} {answer[:300]!r}")
                if status is not None and 200 <= status < 300:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"app{app_no} did not recover within {timeout_s:.0f} s (last answer "
                        f"{status} {answer[:300]!r}):\n{self.cluster.logs()}")
                time.sleep(0.2)
        return tries


def _problem_type(answer: bytes) -> str:
    try:
        return str(json.loads(answer).get("type", "?"))
    except ValueError:
        return "?"


# -- the checks -----------------------------------------------------------------------


@dataclass
class LedgerCheck:
    entries: int
    events_found: int  # acknowledged event ids found in the ledger
    missing: list[str]  # acknowledged but not in the ledger
    duplicates: list[str]  # event ids recorded more than once
    decisions: int
    decided_twice: list[str]  # windows with more than one (non-superseding) decision
    decided_early: list[str]  # windows decided before their close + grace (real time)
    checkpoint_sizes: list[int]
    verify_output: str
    verified: bool
    rebuild_equal: bool


def check_ledger(cluster: Cluster, acked: list[str], *, check_early: bool = False
                 ) -> LedgerCheck:
    """Read the ledger: acknowledged events, duplicates, decisions, checkpoints, chain.

    ``check_early``: list the windows decided although their close + grace was still
    ahead (in real time) when the ledger was read (a clock running ahead).
    """
    store = cluster.open_store()
    read_at = datetime.now(UTC)  # every decision read below was made before this
    try:
        counts: Counter[str] = Counter()
        decisions: Counter[str] = Counter()
        n = 0
        for _, data in store.iter_entries(LOG):
            n += 1
            e = json.loads(data)
            if e["type"] in ("platform.event", "platform.quarantined"):
                counts[e["body"]["event_id"]] += 1
            elif e["type"] == "decision.made" and "supersedes" not in e["body"]:
                decisions[e["body"]["window"]] += 1
        acked_set = set(acked)
        missing = sorted(acked_set - set(counts))
        duplicates = sorted(k for k, v in counts.items() if v > 1)
        closes = {w.window: w.closes_at for w in cluster.windows}
        early = []
        if check_early:
            grace = timedelta(seconds=cluster.grace_s)
            early = sorted(w for w in decisions
                           if w in closes and closes[w] + grace > read_at)
        sizes = [cp.size for cp in store.checkpoint_history(LOG)]
        rebuild = check_rebuild(store, LOG)  # the tables the app reads equal a replay
    finally:
        store.engine.dispose()
    out = cluster.work / f"export-{int(time.time() * 1000)}"
    exported = subprocess.run(
        [ABSENTIA, "export", "--data", str(cluster.data), "--config", str(cluster.config),
         "--log", LOG, "--out", str(out)], capture_output=True, text=True, check=False,
        cwd=ROOT, env=cluster._env("export") | {"LD_PRELOAD": ""}, timeout=300)
    verify_text = exported.stdout + exported.stderr
    verified = False
    if exported.returncode == 0:
        args = [ABSENTIA, "verify", str(out), "--quiet", "--jobs", "1"]
        for k in cluster.verifier_keys:
            args += ["--key", k]
        done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT,
                              timeout=300)
        verify_text += done.stdout + done.stderr
        verified = done.returncode == 0
    return LedgerCheck(
        entries=n, events_found=len(acked_set & set(counts)), missing=missing,
        duplicates=duplicates, decisions=sum(decisions.values()),
        decided_twice=sorted(w for w, c in decisions.items() if c > 1),
        decided_early=early, checkpoint_sizes=sizes, verify_output=verify_text.strip(),
        verified=verified, rebuild_equal=rebuild.equal)


def assert_sound(check: LedgerCheck, stats: PlatformStats, cluster: Cluster) -> None:
    """The checks every scenario ends with (the message carries the processes' logs)."""
    found: list[tuple[list[str], str]] = [
        (check.missing, "acknowledged events are not in the ledger"),
        (check.duplicates, "events recorded twice"),
        (check.decided_twice, "windows decided twice"),
        (check.decided_early, "windows decided before their close + grace")]
    problems = [f"{len(ids)} {what}, e.g. {ids[:5]}" for ids, what in found if ids]
    if check.checkpoint_sizes != sorted(check.checkpoint_sizes):
        problems.append(f"checkpoint sizes went backwards: {check.checkpoint_sizes}")
    if not check.verified:
        problems.append(f"the exported log does not verify: {check.verify_output[-2000:]}")
    if not check.rebuild_equal:
        problems.append("the tables differ from a replay of the ledger")
    if stats.bad_5xx:
        problems.append(f"{len(stats.bad_5xx)} 5xx answers were a 500 or not problem+json, "
                        f"e.g. {stats.bad_5xx[:3]}")
    if stats.abandoned:
        problems.append(f"{stats.abandoned} deliveries were never acknowledged")
    if problems:
        raise AssertionError("\n".join(problems) + "\n" + cluster.logs())


__all__ = ["CAMPAIGN", "LOG", "Cluster", "LedgerCheck", "Platform", "PlatformStats", "Proc",
           "assert_sound", "check_ledger", "tail"]
