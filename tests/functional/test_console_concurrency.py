"""An office at work: console users, the platform and the scheduler at once, on a real server.

A real ``absentia serve`` (gunicorn, two workers of several threads, the scheduler in the
master: sweeps, outbox, checkpoints, the lease) runs on SQLite and on PostgreSQL.  Against
it, at the same time:

* 8 console users, each signed in over HTTP with their own cookies (HR operators, HR
  reviewers with a TOTP authenticator enrolled at their first sign-in, auditors), click
  through their pages a fixed number of rounds; HR operators also extend a window
  (a POST that appends to the ledger), auditors start a verification; at the end every
  user signs out (a POST that appends too);
* the interview platform posts signed batches of events (Standard Webhooks), and sends
  some batches again (a retry after a lost answer must be answered from the first
  receipt).

The load is bounded by request counts, not by time.  Checked: no answer is a 5xx, and
every event the platform saw acknowledged is in the ledger exactly once, at the index
its receipt names.  The counts are printed (``-s`` shows them).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pyotp
import pytest

from ledger.absence.webhooks import WebhookSecret, sign
from tests.functional._absence import LOG, Env, candidates_csv, make_env
from tests.functional.test_console_hr import accounts, build
from tests.functional.test_console_signin import CSRF_RE, PASSWORD, SECRET_RE
from tests.functional.test_ops import start, stop, wait_until
from tests.functional.test_web_api import free_port

ROLES = ("hr", "hr", "hr", "reviewer", "reviewer", "auditor", "auditor", "auditor")
ROUNDS = 30  # per user; each round is 4 to 7 requests
BATCHES = 80  # platform deliveries, 10 events each
EVENTS_PER_BATCH = 10
RESEND_EVERY = 6  # every 6th delivery is sent a second time
LIVE = "live"
DUE = 8  # windows the scheduler's sweep decides while the load runs
GRACE_S = 600  # the government policy's grace in the test configuration
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Browser:
    """One person's browser: a keep-alive connection and its cookies."""

    def __init__(self, port: int, tally: Tally) -> None:
        self.port = port
        self.tally = tally
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, body: bytes | None = None
                ) -> tuple[int, str, dict[str, str]]:
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read().decode("utf-8", "replace")
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                # A keep-alive connection the server closed while idle: open another.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                if val and "max-age=0" not in value.lower():
                    self.cookies[key.strip()] = val
                else:
                    self.cookies.pop(key.strip(), None)
        self.tally.count(method, path, resp.status, data)
        return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}

    def get(self, path: str) -> tuple[int, str]:
        status, text, _ = self.request("GET", path)
        return status, text

    def submit(self, page: str, action: str, data: dict[str, str]) -> tuple[int, str]:
        """GET ``page``, POST ``data`` with its CSRF token to ``action``."""
        status, text = self.get(page)
        m = CSRF_RE.search(text)
        if status != 200 or m is None:
            return status, text
        status, text, _ = self.request("POST", action, {"csrf_token": m.group(1), **data})
        return status, text


@dataclass
class Tally:
    """Every answer's status, by route; the 5xx answers kept for the failure message."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    posts: Counter[tuple[str, int]] = field(default_factory=Counter)  # (last segment, status)
    failures: list[str] = field(default_factory=list)

    def count(self, method: str, path: str, status: int, text: str) -> None:
        with self.lock:
            self.statuses[status] += 1
            if method == "POST":
                self.posts[(path.rsplit("/", 1)[-1], status)] += 1
            if status >= 500:
                self.failures.append(f"{status} {method} {path.split('?')[0]}: {text[:200]}")

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)


def sign_in(b: Browser, login: str) -> str:
    """Sign in (enrolling a TOTP authenticator where the role needs one); the next page."""
    status, text = b.get("/console/sign-in")
    assert status == 200, text[-500:]
    m = CSRF_RE.search(text)
    assert m is not None
    status, text, headers = b.request("POST", "/console/sign-in", {
        "csrf_token": m.group(1), "login": login, "password": PASSWORD})
    assert status == 303, (status, text[-500:])
    where = headers["location"]
    if where.endswith("/console/sign-in/enrol"):
        status, text = b.get("/console/sign-in/enrol")
        assert status == 200, text[-500:]
        secret = SECRET_RE.search(text)
        csrf = CSRF_RE.search(text)
        assert secret is not None
        assert csrf is not None
        code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
        status, text, headers = b.request("POST", "/console/sign-in/enrol", {
            "csrf_token": csrf.group(1), "code": code})
        # Signed in: the page shows the recovery codes once, then goes on to the console.
        assert status == 200, (status, text[-500:])
        assert 'id="recovery-codes"' in text, text[-500:]
        where = "/console/"
    assert where.endswith("/console/"), where
    return where


@dataclass
class Office:
    """What the clicking needs to know: the campaigns, windows and decisions to open."""

    campaign: str
    live_windows: list[str]
    decisions: list[str]
    close_at: datetime  # the live windows' close, extensions go beyond it


def clicks(b: Browser, role: str, office: Office, me: int) -> None:
    """``ROUNDS`` rounds of the pages of ``role``, then sign out."""
    c = office.campaign
    for r in range(ROUNDS):
        b.get("/console/")
        if role in ("hr", "reviewer"):
            b.get("/console/campaigns")
            b.get(f"/console/campaigns/{c}")
            b.get(f"/console/decisions/{office.decisions[(me + r) % len(office.decisions)]}")
            b.get(f"/console/windows/{office.live_windows[(me + r) % len(office.live_windows)]}")
        if role == "hr":
            # Extend this user's own live window a minute further each round.
            w = office.live_windows[me]
            closes = (office.close_at + timedelta(hours=1, minutes=r + 1)).astimezone(SHANGHAI)
            b.submit(f"/console/windows/{w}", f"/console/windows/{w}/accommodation",
                     {"kind": "extended", "closes_at": closes.strftime("%Y-%m-%dT%H:%M"),
                      "reason": "poor_signal"})
        if role == "reviewer":
            b.get(f"/console/campaigns/{c}/reviews")
            b.get(f"/console/campaigns/{c}/appeals")
        if role == "auditor":
            b.get("/console/audit/")
            b.get(f"/console/audit/logs/{LOG}")
            b.get("/console/audit/access")
            if r == 0:
                b.submit(f"/console/audit/logs/{LOG}", f"/console/audit/logs/{LOG}/verify", {})
    b.submit("/console/", "/console/sign-out", {})


@dataclass
class Platform:
    """The interview platform's deliveries: what it sent and what was acknowledged."""

    port: int
    secret: WebhookSecret
    windows: list[str]
    tally: Tally
    acknowledged: dict[str, int] = field(default_factory=dict)  # event id -> index
    replays: int = 0

    def deliver(self, b: Browser, msg_id: str, body: bytes) -> dict[str, Any] | None:
        ts = int(time.time())
        status, text, _ = b.request("POST", "/api/v1/platform/events", body=body, headers={
            "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.secret, msg_id, ts, body),
            "Content-Type": "application/json"})
        if status not in (200, 201):
            return None
        receipt: dict[str, Any] = json.loads(text)
        return receipt

    def run(self) -> None:
        b = Browser(self.port, self.tally)
        n = 0
        for batch in range(BATCHES):
            at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
            events = []
            for _ in range(EVENTS_PER_BATCH):
                events.append({"id": f"pe-{n:05d}", "window": self.windows[n % len(self.windows)],
                               "kind": "connection_failed", "at": at.isoformat()})
                n += 1
            body = json.dumps({"events": events}).encode()
            sends = 2 if batch % RESEND_EVERY == 0 else 1
            first: dict[str, Any] | None = None
            for _ in range(sends):
                receipt = self.deliver(b, f"batch-{batch:04d}", body)
                if receipt is None:
                    continue
                if first is None:
                    first = receipt
                else:
                    assert receipt["replayed"], receipt
                    assert receipt["events"] == first["events"]
                    self.replays += 1
                for line in receipt["events"]:
                    self.acknowledged[line["id"]] = line["index"]


def build_office(env: Env) -> Office:
    """A campaign the platform reports on live, windows the sweep decides during the run,
    and the decided campaign of the HR console tests; every entry's time in the past."""
    now = datetime.now(UTC).replace(microsecond=0)
    env.clock(now - timedelta(hours=3))
    env.campaign(LIVE)
    data, _ = candidates_csv(len(ROLES) + DUE, seed=3, prefix="L")
    assert env.import_csv(LIVE, data).status_code == 201
    subjects = [c["subject"] for c in env.service.candidates(LIVE)]
    close_at = now + timedelta(hours=2)
    live = _windows(env, subjects[:len(ROLES)], now - timedelta(minutes=30), close_at)
    # Due for the sweep (closed longer ago than the policy's grace) one after another
    # while the load runs: the scheduler decides them then.
    for k, subject in enumerate(subjects[len(ROLES):]):
        _windows(env, [subject], now - timedelta(hours=2, minutes=50),
                 now - timedelta(seconds=GRACE_S + 10 - 3 * k))
    build(env, start=now - timedelta(hours=2))
    decisions = [d["decision"] for d in env.service.decisions("c2026", limit=50)]
    assert decisions
    return Office("c2026", live, decisions, close_at)


def _windows(env: Env, subjects: list[str], opens: datetime, closes: datetime) -> list[str]:
    resp = env.post(f"/api/v1/campaigns/{LIVE}/windows", "hr", {
        "opens_at": opens.isoformat(), "closes_at": closes.isoformat(), "subjects": subjects,
        "slot": f"s{len(subjects)}-{int(closes.timestamp())}"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return [w["window"] for w in json.loads(resp.get_data())["windows"]]


@pytest.fixture
def office(tmp_path: Path, db_url: str) -> Iterator[tuple[Env, Office, list[str]]]:
    with make_env(tmp_path, db_url) as env:
        office = build_office(env)
        logins = []
        for i, role in enumerate(ROLES):
            login = f"{role}.{i}"
            accounts(env).create_user(login, PASSWORD, role, env.now[0])
            logins.append(login)
        yield env, office, logins


@pytest.mark.slow
def test_console_users_platform_and_scheduler_at_once(
        tmp_path: Path, office: tuple[Env, Office, list[str]]) -> None:
    env, where, logins = office
    port = free_port()
    config = env.data / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + (
        f"\n[server]\nport = {port}\nworkers = 2\nthreads = 6\n"), encoding="utf-8")
    serve = start(["serve", "--data", str(env.data), "--config", str(config)],
                  tmp_path / "serve.err", tmp_path / "serve.out")
    tally = Tally()
    errors: list[BaseException] = []
    try:
        wait_until("/healthz", lambda: _answers(port), [serve])
        browsers = [Browser(port, tally) for _ in ROLES]
        for b, login in zip(browsers, logins, strict=True):
            sign_in(b, login)
        platform = Platform(port, env.secret, where.live_windows, tally)

        def guarded(fn: Any, *args: Any) -> None:
            try:
                fn(*args)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=guarded, args=(clicks, b, role, where, i))
                   for i, (b, role) in enumerate(zip(browsers, ROLES, strict=True))]
        threads.append(threading.Thread(target=guarded, args=(platform.run,)))
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - began
    finally:
        stop(serve)
    swept = len(env.service.decisions(LIVE, limit=100))
    print(f"\n[{env.store.engine.dialect.name}] requests {tally.requests}, 5xx "
          f"{tally.server_errors}, statuses {dict(sorted(tally.statuses.items()))}, "
          f"events acknowledged {len(platform.acknowledged)}, replays {platform.replays}, "
          f"windows the scheduler decided {swept}, load {took:.0f} s, "
          f"posts {dict(sorted(tally.posts.items()))}")
    if errors:
        raise errors[0]
    assert tally.server_errors == 0, "\n".join(tally.failures[:20])
    # The scheduler was at work too: the windows already due when the load began were
    # decided by its sweep while it ran (the later ones may fall after the last request).
    assert swept >= 1, "the scheduler's sweep decided nothing during the load"
    assert len(platform.acknowledged) == BATCHES * EVENTS_PER_BATCH
    # Every acknowledged event is in the ledger once, at the index its receipt names.
    by_event: dict[str, list[int]] = {}
    kinds: Counter[str] = Counter()
    for idx, data in env.store.iter_entries(LOG):
        e = json.loads(data)
        kinds[e["type"]] += 1
        if e["type"] in ("platform.event", "platform.quarantined"):
            by_event.setdefault(e["body"]["event_id"], []).append(idx)
    for event_id, index in platform.acknowledged.items():
        assert by_event.get(event_id) == [index], (event_id, by_event.get(event_id), index)
    # The console's writes were all recorded too: each extension, each sign-out.
    assert tally.posts[("accommodation", 303)] == ROLES.count("hr") * ROUNDS
    assert kinds["accommodation.granted"] == ROLES.count("hr") * ROUNDS
    assert kinds["user.signed_out"] == len(ROLES)
    text = (tmp_path / "serve.err").read_text(encoding="utf-8", errors="replace")
    assert not re.search(r"Traceback|database is locked", text), text[-3000:]


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False
