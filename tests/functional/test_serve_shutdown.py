"""``absentia serve`` stops cleanly: only the master stops the jobs and releases the lease.

gunicorn forks its workers inside ``serve``'s ``try`` block, so a worker leaving its
loop passes through the same ``finally`` as the master.  Before the fix every worker
"stopped" the master's scheduler and released the lease on connections copied from the
master, which on PostgreSQL broke the master's own session mid-transaction ("could not
release the scheduler lease", "server closed the connection unexpectedly").  Real
processes: the server with two workers, on SQLite and PostgreSQL, stopped with SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.functional._absence import write_config
from tests.functional.test_cli import ABSENTIA, cli_env
from tests.functional.test_web_api import free_port

WAIT_S = 60  # bound of the waits below, not a timing claim


def test_only_the_master_stops_the_jobs_and_releases_the_lease(tmp_path: Path,
                                                               db_url: str) -> None:
    data = tmp_path / "data"
    config = write_config(data, db_url, '\n[logging]\nformat = "json"\nlevel = "INFO"\n')
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [str(ABSENTIA), "serve", "--data", str(data), "--config", str(config),
             "--port", str(port), "--workers", "2"],
            stdout=log_file, stderr=subprocess.STDOUT, env=cli_env(),
            start_new_session=True)
        try:
            deadline = time.monotonic() + WAIT_S
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"absentia serve not ready: {log_path.read_text()[-3000:]}")
                time.sleep(0.2)
            time.sleep(1)  # the lease is taken and the jobs run at least once
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=WAIT_S) == 0, log_path.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = [json.loads(line) for line in log_path.read_text().splitlines()
             if line.startswith("{")]
    shutdowns = [r for r in lines if r["message"] == "Scheduler has been shut down"]
    assert len(shutdowns) == 1, [r["message"] for r in lines]
    errors = [r for r in lines if r["level"] in ("ERROR", "CRITICAL")]
    assert errors == [], errors
