"""Request bodies: every JSON body is read by one reader (depth, size, surrogates,
duplicate names, NaN), each endpoint takes bodies up to its own size, and a slow client
cannot hold the server's threads.

The first tests use the Flask test client on a real database; the last ones start
``absentia serve`` (gunicorn, one worker of four threads) and talk to it over real
sockets, some of them deliberately slow.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional._absence import LOG, Env, make_env, write_config
from tests.functional.test_cli import ABSENTIA, cli_env
from tests.functional.test_web_api import free_port

PROBLEM = "application/problem+json"
DEEP = b"[" * 30_000 + b"]" * 30_000  # far beyond the interpreter's recursion, < 64 KiB
WAIT_S = 60  # bound of the waits below, not a timing claim


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as e:
        e.campaign("c2026")
        yield e


def problem(resp: Any, status: int, field: str) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == PROBLEM
    body: dict[str, Any] = json.loads(resp.get_data())
    assert body["field"] == field, body
    return body


def entries(env: Env) -> int:
    return sum(1 for _ in env.store.iter_entries(LOG))


@pytest.mark.parametrize("raw", [
    DEEP,
    b'{"registration": "R00-00000", "factor": "\\ud800"}',
    b'{"registration": "R00-00000", "registration": "R00-00001", "factor": "1234"}',
    b'{"registration": "R00-00000", "factor": NaN}',
])
def test_public_status_refuses_malformed_json_with_400(env: Env, raw: bytes) -> None:
    resp = env.client.post("/api/v1/campaigns/c2026/status", data=raw,
                           content_type="application/json")
    if raw is DEEP:  # larger than the lookup takes, before it is even parsed
        problem(resp, 413, "body")
    else:
        problem(resp, 400, "body")


@pytest.mark.parametrize("raw", [
    DEEP, b'{"reason": "\\udfff"}', b'{"reason": "a", "reason": "b"}', b"[1e999]"])
def test_token_endpoints_refuse_malformed_json_with_400(env: Env, raw: bytes) -> None:
    before = entries(env)
    resp = env.client.post("/api/v1/campaigns", data=raw, content_type="application/json",
                           headers=env.auth("hr"))
    problem(resp, 400, "body")
    assert entries(env) == before


@pytest.mark.parametrize("raw", [
    DEEP, b'{"id": "e1", "type": "session.started", "window": "\\ud800"}',
    b'{"events": [], "events": []}'])
def test_signed_platform_delivery_of_malformed_json_is_400(env: Env, raw: bytes) -> None:
    before = entries(env)
    problem(env.webhook(None, msg_id="msg_deep", raw=raw), 400, "body")
    assert entries(env) == before


def test_candidate_import_of_deep_json_is_400(env: Env) -> None:
    resp = env.client.post("/api/v1/campaigns/c2026/candidates", data=DEEP,
                           content_type="application/json", headers=env.auth("hr"))
    problem(resp, 400, "body")


def test_bodies_beyond_an_endpoints_limit_are_413(env: Env) -> None:
    big = json.dumps({"registration": "R00-00000", "factor": "1234",
                      "pad": "x" * 2000}).encode()
    problem(env.client.post("/api/v1/campaigns/c2026/status", data=big,
                            content_type="application/json"), 413, "body")
    # The same size is fine where more is expected (a token endpoint's 64 KiB).
    resp = env.client.post("/api/v1/candidates/sub_nope/erasure", data=big,
                           content_type="application/json", headers=env.auth("hr"))
    assert resp.status_code == 400, resp.get_data(as_text=True)  # read, then refused by field
    assert resp.get_json()["field"] in ("registration", "factor", "pad")
    # The public HTML form takes 4 KiB: no form of it is larger.
    form = env.client.post("/status", data={"registration": "R" * 5000})
    assert (form.status_code, form.mimetype) == (413, "text/html")  # a page for a person
    huge = b"[" + b"0," * (40 * 1024) + b"0]"  # 80 KiB
    problem(env.client.post("/api/v1/campaigns", data=huge, content_type="application/json",
                            headers=env.auth("hr")), 413, "body")


# -- a real server, real sockets -------------------------------------------------------


def _serve(tmp_path: Path, body_timeout_s: float) -> Iterator[int]:
    data = tmp_path / "data"
    config = write_config(data, f"sqlite:///{tmp_path / 'served.db'}",
                          f"\n[server]\nthreads = 4\nbody_timeout_s = {body_timeout_s}\n")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [str(ABSENTIA), "serve", "--data", str(data), "--config", str(config),
             "--port", str(port), "--workers", "1", "--no-scheduler"],
            stdout=log_file, stderr=subprocess.STDOUT, env=cli_env(), start_new_session=True)
        try:
            deadline = time.monotonic() + WAIT_S
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                timeout=2) as resp:
                        if resp.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the session started above
                proc.wait(timeout=10)
            print(log_path.read_text()[-3000:])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """``absentia serve``: one worker, four threads, 2 s for a body; yields the port."""
    yield from _serve(tmp_path, 2.0)


def _status_request(length: int) -> bytes:
    return (f"POST /api/v1/campaigns/c2026/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


def _answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection or WAIT_S pass."""
    sock.settimeout(WAIT_S)
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return got


def test_slow_clients_do_not_starve_the_server(served: int) -> None:
    # Eight clients (twice the threads) each send headers and then a byte a second of a
    # body that never completes.  Before: they held every thread as long as they kept
    # trickling and /healthz did not answer.  Now each gets 408 at its body's deadline
    # and loses the connection, and /healthz answers meanwhile.
    slow = [socket.create_connection(("127.0.0.1", served)) for _ in range(8)]
    stop = threading.Event()
    answers: list[bytes] = []

    def trickle() -> None:
        while not stop.wait(1.0):
            for s in slow:
                with contextlib.suppress(OSError):  # closed by the server: fine
                    s.send(b" ")

    try:
        for s in slow:
            s.sendall(_status_request(500) + b"{")
        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        with urllib.request.urlopen(f"http://127.0.0.1:{served}/healthz",
                                    timeout=WAIT_S) as resp:
            assert resp.read() == b"ok\n"
        answers = [_answer(s) for s in slow]
    finally:
        stop.set()
        for s in slow:
            s.close()
    for got in answers:
        assert got.startswith(b"HTTP/1.1 408 "), got[:200]
        assert b"application/problem+json" in got


def test_a_10_mib_body_is_refused_before_it_is_read(served: int) -> None:
    size = 10 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", served)) as sock:
        sock.sendall(_status_request(size))
        # Not a byte of the body sent: the answer comes from the declared length alone.
        got = _answer(sock)
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["field"] == "body"
