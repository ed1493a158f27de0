"""``absentia serve`` as a real process (gunicorn and its workers) for tests that must see
what the served stack does: its headers, its log output."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional._absence import write_config
from tests.functional.test_cli import ABSENTIA, cli_env
from tests.functional.test_web_api import free_port

WAIT_S = 60  # bound of the waits below, not a timing claim


@dataclass(frozen=True)
class Served:
    """A running server: where it listens and the file its output goes to."""

    port: int
    log_path: Path

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on a fresh connection from 127.0.0.1; (response, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp, resp.read()
        finally:
            conn.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serving(tmp_path: Path, db_url: str, extra: str = "", *,
            workers: int = 1) -> Iterator[Served]:
    """``absentia serve`` on a fresh data directory (config ``extra`` TOML appended), until
    it answers /readyz; stopped with SIGTERM on exit."""
    data = tmp_path / "data"
    config = write_config(data, db_url, extra)
    with serve_process(["serve", "--data", str(data), "--config", str(config),
                        "--workers", str(workers)], tmp_path / "serve.log") as served:
        yield served


@contextmanager
def serve_process(args: list[str], log_path: Path,
                  env: dict[str, str] | None = None) -> Iterator[Served]:
    """``absentia ARGS --port P`` (a serve command) in a session of its own, logging to
    ``log_path``, until it answers /readyz; stopped with SIGTERM (then SIGKILL) on exit."""
    port = free_port()
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [str(ABSENTIA), *args, "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env or cli_env(),
            start_new_session=True)
        served = Served(port, log_path)
        try:
            deadline = time.monotonic() + WAIT_S
            while True:
                assert proc.poll() is None, served.log()[-3000:]
                try:
                    if served.request("GET", "/readyz")[0].status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"absentia {' '.join(args[:2])} not ready: "
                                f"{served.log()[-3000:]}")
                time.sleep(0.2)
            yield served
        finally:
            proc.terminate()  # gunicorn's master stops its workers on SIGTERM
            try:
                proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the session started above, nothing else
                proc.wait(timeout=WAIT_S)
