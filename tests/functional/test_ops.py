"""Operations: ``/readyz``, ``/metrics`` and JSON log lines, on real servers and databases.

* A real ``absentia serve --no-scheduler`` and a real ``absentia scheduler`` on a
  PostgreSQL server of this test's own (so stopping it troubles no other test), both
  logging JSON: ready, then the database is shut down (``/readyz`` 503 naming the
  database, ``/healthz`` still 200, ``/metrics`` 503, the scheduler logs the failure
  with its exception), then it is started again and ``/readyz`` is 200 again.  Every
  stderr line of both processes is a JSON object; request lines carry a request id and
  the route, never the path (nor anything typed into it, gunicorn's lines included).
* ``/readyz`` names a missing signing key and an old schema.
* ``/metrics`` parsed by ``prometheus_client``'s own parser: every figure equals what
  the database holds (log size, checkpoint, outbox, sweep lag before and after the
  sweep, quarantine, the lease), on SQLite and PostgreSQL; a metrics token is enforced;
  the witness lag follows a real witness process as it cosigns.
* ``absentia --log-format json``: the CLI's stderr is JSON lines.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import text

from ledger.absence.notify import FileChannel
from ledger.absence.outbox import dispatch
from ledger.app.scheduler import Lease
from ledger.app.web import create_app
from ledger.app.web.ops import LedgerCollector
from ledger.storage import make_engine
from ledger.witness.client import load_witness_settings, push_checkpoint
from tests.functional._absence import LOG, T0, Env, candidates_csv, make_env, write_config
from tests.functional._serve import serving
from tests.functional._witness import WitnessProcess
from tests.functional.test_cli import ABSENTIA, cli_env
from tests.functional.test_web_api import free_port
from tests.pgserver import PgServer, PgUnavailable

TIMEOUT_S = 60

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(exposition: str) -> Samples:
    """Every sample by (name, sorted labels), through the reference parser."""
    out: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def get(url: str, headers: dict[str, str] | None = None
        ) -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def wait_until(what: str, check: Any, procs: list[subprocess.Popen[bytes]],
               timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        for proc in procs:
            assert proc.poll() is None, f"{proc.args!r} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a process's stderr, each parsed as JSON (fails on any other line)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"{path.name} line {n} is not JSON: {line!r}")
        assert isinstance(obj, dict), line
        assert {"ts", "level", "logger", "message"} <= set(obj), obj
        assert datetime.strptime(obj["ts"], "%Y-%m-%dT%H:%M:%S.%fZ"), obj
        out.append(obj)
    return out


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A PostgreSQL server for this test alone: it will be shut down and restarted."""
    server = PgServer(external_url="")
    try:
        server.start()
    except PgUnavailable as exc:
        pytest.fail(f"PostgreSQL is required for this test: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def start(args: list[str], stderr: Path, stdout: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(ABSENTIA), *args], stdout=stdout.open("wb"),
                            stderr=stderr.open("wb"), env=cli_env(), start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session, nothing else
            proc.wait(timeout=10)


@pytest.mark.postgres
@pytest.mark.slow
def test_readyz_follows_the_database_and_every_log_line_is_json(
        tmp_path: Path, own_pg: PgServer) -> None:
    url = own_pg.create_database()
    data = tmp_path / "data"
    port = free_port()
    config = write_config(data, url, extra=(
        f'\n[server]\nport = {port}\nworkers = 2\n\n[logging]\nformat = "json"\n'
        'level = "INFO"\n'))
    base = f"http://127.0.0.1:{port}"
    serve = start(["serve", "--no-scheduler", "--data", str(data), "--config", str(config)],
                  tmp_path / "serve.err", tmp_path / "serve.out")
    procs = [serve]
    try:
        wait_until("/healthz", lambda: _answers(f"{base}/healthz"), procs)
        sched = start(["scheduler", "--data", str(data), "--config", str(config)],
                      tmp_path / "scheduler.err", tmp_path / "scheduler.out")
        procs.append(sched)
        status, body, headers = get(f"{base}/readyz?who=someone@example.com",
                                    {"X-Request-Id": "probe-1"})
        assert status == 200, body
        ready = json.loads(body)
        assert ready["status"] == "ready"
        assert ready["checks"]["database"]["ok"]
        assert ready["checks"]["schema"]["ok"]
        assert ready["checks"][f"log {LOG}"] == {"ok": True,
                                                 "detail": "exists; signing key loads"}
        assert headers["X-Request-Id"] == "probe-1"
        status, body, headers = get(f"{base}/metrics")
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                size = conn.execute(text("SELECT size FROM ledger_heads")).scalar_one()
        finally:
            engine.dispose()
        assert parse(body)[("absentia_log_entries_total", (("log", LOG),))] == size
        wait_until("the scheduler's lease", lambda: any(
            r["message"].startswith("scheduler lease") for r in json_lines(
                tmp_path / "scheduler.err")), procs)

        own_pg.pause()
        try:
            status, body, headers = get(f"{base}/readyz")
            assert status == 503
            assert headers["Content-Type"] == "application/problem+json"
            problem = json.loads(body)
            assert problem["status"] == 503
            assert "database" in problem["detail"]
            assert problem["checks"]["database"]["ok"] is False
            assert get(f"{base}/healthz")[0] == 200
            assert get(f"{base}/metrics")[0] == 503
            wait_until("the scheduler to log the outage with its exception", lambda: any(
                "exception" in r for r in json_lines(tmp_path / "scheduler.err")), procs)
        finally:
            own_pg.resume()
        wait_until("/readyz again", lambda: get(f"{base}/readyz")[0] == 200, procs)
    finally:
        for proc in procs:
            stop(proc)
    served = json_lines(tmp_path / "serve.err")
    scheduled = json_lines(tmp_path / "scheduler.err")
    # gunicorn's own error log is JSON too.
    assert any(r["logger"] == "gunicorn.error" for r in served)
    requests = [r for r in served if r["logger"] == "ledger.app.web.access"]
    probe = next(r for r in requests if r.get("request_id") == "probe-1")
    assert probe["route"] == "/readyz"
    assert "?" not in probe["message"]
    assert all("someone@example.com" not in json.dumps(r) for r in served)
    failed = [r for r in scheduled if "exception" in r]
    assert failed[0]["level"] == "ERROR"
    assert "Traceback" in failed[0]["exception"]


def _answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def test_readyz_names_a_signing_key_that_does_not_load(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        assert env.client.get("/readyz").status_code == 200
        with env.store.engine.connect() as conn:
            uri = conn.execute(text("SELECT key_uri FROM ledger_keys")).scalar_one()
        key = env.settings.key_dir / uri.removeprefix("file:")
        key.rename(key.with_suffix(".moved"))
        resp = env.client.get("/readyz")
        assert resp.status_code == 503
        assert resp.mimetype == "application/problem+json"
        body = resp.get_json()
        assert body["checks"][f"log {LOG}"]["ok"] is False
        assert f"log {LOG}: signing key does not load" in body["detail"]


def test_readyz_names_an_old_schema(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        with env.store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        resp = env.client.get("/readyz")
        assert resp.status_code == 503
        assert "absentia db upgrade" in resp.get_json()["checks"]["schema"]["detail"]


# -- metrics --------------------------------------------------------------------------


def scrape(env: Env, now: datetime) -> Samples:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(LedgerCollector(env.store, env.service, clock=lambda: now))
    return parse(generate_latest(reg).decode())


def local(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def test_metrics_equal_what_the_database_holds(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        env.campaign("c2026")
        data, _ = candidates_csv(5, seed=3)
        assert env.import_csv("c2026", data).status_code == 201
        resp = env.post("/api/v1/campaigns/c2026/windows", "hr",
                        {"opens_at": local(60), "closes_at": local(120)})
        assert resp.status_code == 201, resp.json
        windows = [w["window"] for w in (resp.json or {})["windows"]]
        env.clock(minutes=90)
        assert env.webhook({"events": [
            {"id": "e0", "window": windows[0], "kind": "completed", "at": local(70)},
            {"id": "stray", "window": "w_nope", "kind": "joined", "at": local(71)}]},
            msg_id="m1").status_code == 201
        cp = env.store.sign_checkpoint(LOG, env.now[0])
        Lease(env.store, 30, holder="host-a:1", db_clock=False).acquire(env.now[0])

        # 20 minutes after close + grace (600 s), nothing decided yet.
        now = T0 + timedelta(minutes=150)
        m = scrape(env, now)
        lg = (("log", LOG),)
        assert m[("absentia_log_entries_total", lg)] == env.store.head(LOG).size
        assert m[("absentia_checkpoint_size", lg)] == cp.size
        assert m[("absentia_checkpoint_age_seconds", lg)] == pytest.approx(
            now.timestamp() - cp.signed_at_ms / 1000)
        assert m[("absentia_sweep_lag_seconds", ())] == pytest.approx(20 * 60)
        assert m[("absentia_sweep_due_windows", ())] == len(windows)
        assert m[("absentia_quarantined_events_total", (("reason", "unknown_window"),))] == 1
        assert m[("absentia_webhook_deliveries_total", ())] == 1
        with env.store.engine.connect() as conn:
            pending = conn.execute(text(
                "SELECT count(*) FROM p_notifications WHERE status = 'pending' "
                "AND channel = 'email'")).scalar_one()
        assert pending == len(windows)  # the invitations
        assert m[("absentia_outbox_notifications",
                  (("channel", "email"), ("status", "pending")))] == pending
        assert m[("absentia_outbox_overdue", (("channel", "email"),))] == pending
        lease = m[("absentia_scheduler_lease_expires_in_seconds",
                   (("holder", "host-a:1"), ("lease", "jobs")))]
        assert lease == pytest.approx(30 - 60 * 60)  # taken at +90 min, read at +150
        # The test's clock is hours behind the real one, which PostgreSQL reports.
        if env.store.engine.dialect.name == "postgresql":
            assert m[("absentia_clock_skew_seconds", ())] == pytest.approx(
                now.timestamp() - time.time(), abs=300)
        else:
            assert ("absentia_clock_skew_seconds", ()) not in m

        env.clock(now)
        assert env.service.sweep(now) == len(windows)
        channel = FileChannel(env.data / "outbox.jsonl")
        dispatch(env.service, {"email": channel, "sms": channel}, now)
        after = scrape(env, now)
        assert after[("absentia_sweep_lag_seconds", ())] == 0
        assert after[("absentia_sweep_due_windows", ())] == 0
        assert ("absentia_outbox_notifications",
                (("channel", "email"), ("status", "pending"))) not in after
        assert after[("absentia_log_entries_total", lg)] == env.store.head(LOG).size
        assert after[("absentia_log_entries_total", lg)] > m[("absentia_log_entries_total", lg)]


def test_metrics_token_when_configured(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        resp = env.client.get("/metrics")
        assert resp.status_code == 200
        assert parse(resp.get_data(as_text=True))
        token_file = tmp_path / "metrics-token"
        token_file.write_text("s3cret-scrape\n")
        env.app.extensions["absentia.settings"] = dataclasses.replace(
            env.settings, metrics_token_file=token_file)
        assert env.client.get("/metrics").status_code == 401
        assert env.client.get("/metrics", headers={
            "Authorization": "Bearer wrong"}).status_code == 401
        ok = env.client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert ok.status_code == 200
        # The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
        for scheme in ("bearer", "BEARER"):
            assert env.client.get("/metrics", headers={
                "Authorization": f"{scheme} s3cret-scrape"}).status_code == 200
        assert env.client.get("/metrics", headers={
            "Authorization": "Bearer S3CRET-SCRAPE"}).status_code == 401
        assert ("absentia_log_entries_total", (("log", LOG),)) in parse(
            ok.get_data(as_text=True))
        # An empty token file is a misconfiguration, not an open door.
        token_file.write_text(" \n")
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
            refused = env.client.get("/metrics", headers=headers)
            assert refused.status_code == 503, headers
            assert "absentia_log_entries_total" not in refused.get_data(as_text=True)


#: An ID number someone typed into a URL (a valid GB 11643 check character).
TYPED_ID = "110105199001011232"


def test_logs_name_the_route_never_the_path(tmp_path: Path, sqlite_url: str) -> None:
    """A served process at DEBUG (its own log lines, gunicorn's included) never writes a
    path segment: matched requests by their route, the rest by a placeholder."""
    config = '\n[logging]\nformat = "json"\nlevel = "DEBUG"\n'
    with serving(tmp_path, sqlite_url, config) as srv:
        assert srv.request("GET", f"/api/v1/candidates/{TYPED_ID}/personal-data",
                           {"X-Request-Id": "matched"})[0].status == 401
        assert srv.request("GET", f"/{TYPED_ID}", {"X-Request-Id": "unmatched"}
                           )[0].status == 404
        assert srv.request("DELETE", f"/api/v1/candidates/{TYPED_ID}/personal-data",
                           {"X-Request-Id": "method"})[0].status == 405
        # The number as the method: a token gunicorn passes on, the app refuses.
        assert srv.request(TYPED_ID, "/readyz", {"X-Request-Id": "verb"})[0].status == 405
        # Request lines gunicorn itself refuses (and would quote in its warning).
        for line in (f"GET {TYPED_ID} HTTP/1.1", f"GET /{TYPED_ID} x HTTP/1.1",
                     f"GET /{TYPED_ID}\x7f HTTP/1.1"):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT_S) as sock:
                sock.sendall(f"{line}\r\nHost: a\r\n\r\n".encode())
                assert sock.recv(100).startswith(b"HTTP/1.1 400"), line
    output = srv.log()  # stdout and stderr: the status line, then JSON lines
    assert TYPED_ID not in output, [line for line in output.splitlines() if TYPED_ID in line]
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = {r["request_id"]: r for r in lines if r["logger"] == "ledger.app.web.access"}
    assert access["matched"]["route"] == "/api/v1/candidates/<subject>/personal-data"
    assert access["matched"]["message"].startswith(
        "GET /api/v1/candidates/<subject>/personal-data 401 ")
    assert access["unmatched"]["route"] == access["method"]["route"] == "<unmatched>"
    assert access["verb"]["http_method"] == "<other>"
    assert any(r["logger"] == "gunicorn.error" and "Invalid request" in r["message"]
               for r in lines)


def test_an_unexpected_error_is_logged_by_its_route(tmp_path: Path, sqlite_url: str,
                                                    caplog: pytest.LogCaptureFixture
                                                    ) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        app = create_app(env.settings, env.store, absence=env.service)

        @app.get("/api/v1/broken/<anything>")
        def broken(anything: str) -> str:
            raise RuntimeError("a bug in a view")

        with caplog.at_level(logging.INFO):
            resp = app.test_client().get(f"/api/v1/broken/{TYPED_ID}")
        assert resp.status_code == 500
        assert json.loads(resp.get_data())["instance"].endswith(TYPED_ID)  # to the caller
        assert "unhandled error on /api/v1/broken/<anything>" in caplog.text
        assert TYPED_ID not in caplog.text


def test_cli_logs_json_lines_with_the_option(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config(data, f"sqlite:///{data / 'ledger.db'}")
    done = subprocess.run(
        [str(ABSENTIA), "--log-format", "json", "-v", "db", "upgrade", "--data", str(data),
         "--config", str(config)], capture_output=True, text=True, timeout=TIMEOUT_S,
        env=cli_env(), check=False)
    assert done.returncode == 0, done.stderr
    (tmp_path / "cli.err").write_text(done.stderr, encoding="utf-8")
    lines = json_lines(tmp_path / "cli.err")
    upgraded = [r for r in lines if r["logger"] == "ledger.migrations"]
    assert upgraded[0]["level"] == "INFO"
    assert upgraded[0]["message"].startswith("database schema upgraded from nothing to")
    assert "request_id" not in upgraded[0]


def test_witness_lag_metrics_follow_a_real_witness(tmp_path: Path, sqlite_url: str) -> None:
    witness = WitnessProcess(tmp_path / "w1", "w1.example.net/witness")
    witness.init()
    extra = (f'\n[[witnesses]]\nname = "{witness.name}"\nurl = "{witness.url}"\n'
             f'vkey = "{witness.vkey}"\n')
    try:
        with make_env(tmp_path, sqlite_url, extra_config=extra) as env:
            ws = load_witness_settings(env.settings)
            info = env.store.log(LOG)
            witness.add_log(info.origin, *info.verifier_keys)
            witness.start()
            first = env.store.sign_checkpoint(LOG, T0)
            results = push_checkpoint(env.store, LOG, ws.witnesses, first, T0)
            assert [r.ok for r in results] == [True], results
            env.service.create_token("hr", T0 + timedelta(seconds=30), label="more")
            second = env.store.sign_checkpoint(LOG, T0 + timedelta(seconds=60))
            assert second.size > first.size

            def scrape_witness(now: datetime) -> Samples:
                reg = CollectorRegistry(auto_describe=False)
                reg.register(LedgerCollector(env.store, env.service, clock=lambda: now,
                                             witnesses=ws))
                return parse(generate_latest(reg).decode())

            key = (("log", LOG), ("witness", witness.name))
            behind = scrape_witness(T0 + timedelta(seconds=100))
            assert behind[("absentia_witness_lag_entries", key)] == second.size - first.size
            assert behind[("absentia_witness_lag_seconds", key)] == pytest.approx(40)
            results = push_checkpoint(env.store, LOG, ws.witnesses, second,
                                      T0 + timedelta(seconds=110))
            assert [r.ok for r in results] == [True], results
            caught_up = scrape_witness(T0 + timedelta(seconds=120))
            assert caught_up[("absentia_witness_lag_entries", key)] == 0
            assert caught_up[("absentia_witness_lag_seconds", key)] == 0
    finally:
        witness.stop()
