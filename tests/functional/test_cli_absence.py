"""The absence domain's commands, run as real programs: tokens, the platform secret,
the scheduler's one-shot run, and rebuilding the projections from the ledger."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.absence.webhooks import WebhookSecret
from ledger.app.wiring import read_webhook_secrets
from tests.functional._absence import candidates_csv, make_env, write_config

ABSENTIA = Path(sys.executable).parent / "absentia"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ABSENTIA_DATABASE_URL", "ABSENTIA_CONFIG")}
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_tokens_are_shown_once_stored_hashed_and_revocable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config(data, "sqlite:///{data}/absentia.db")
    created = run("tokens", "create", "--data", data, "--config", config, "--role", "auditor",
                  "--label", "audit-office")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("abs_tok_")
    assert "not shown again" in created.stderr
    # Only the SHA-256 is kept: the token text is nowhere in the database file.
    db = data / "absentia.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        rows = conn.execute("SELECT token, role, secret_sha256 FROM p_tokens").fetchall()
    token_id = token.split("_")[1] + "_" + token.split("_")[2]
    assert len(rows) == 1
    assert rows[0][:2] == (token_id, "auditor")
    assert rows[0][2] == hashlib.sha256(token.encode()).hexdigest()
    secret = token.rsplit("_", 1)[1]
    assert secret.encode() not in db.read_bytes()
    listed = run("tokens", "list", "--data", data, "--config", config)
    assert listed.returncode == 0
    assert f"{token_id}\tauditor\tactive" in listed.stdout
    assert secret not in listed.stdout
    bad = run("tokens", "create", "--data", data, "--config", config, "--role", "root")
    assert bad.returncode == 2
    assert "root" in bad.stderr
    revoked = run("tokens", "revoke", "--data", data, "--config", config, token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"{token_id}\tauditor\trevoked" in run(
        "tokens", "list", "--data", data, "--config", config).stdout
    unknown = run("tokens", "revoke", "--data", data, "--config", config, "tok_nope")
    assert unknown.returncode == 1
    assert "no token" in unknown.stderr


def test_platform_secret_rotation_keeps_the_previous_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config(data, "sqlite:///{data}/absentia.db")
    first = run("platform-secret", "--data", data, "--config", config)
    assert first.returncode == 0, first.stderr
    old = first.stdout.strip()
    WebhookSecret.parse(old)
    path = data / "keys" / "platform-webhook-secrets"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rotated = run("platform-secret", "--rotate", "--data", data, "--config", config)
    assert rotated.returncode == 0
    new = rotated.stdout.strip()
    assert new != old
    assert "previous secret is still accepted" in rotated.stderr
    accepted = [s.to_text() for s in read_webhook_secrets(path)]
    assert accepted == [new, old]
    third = run("platform-secret", "--rotate", "--data", data, "--config", config).stdout
    assert [s.to_text() for s in read_webhook_secrets(path)] == [third.strip(), new]
    path.chmod(0o644)
    refused = run("platform-secret", "--data", data, "--config", config)
    assert refused.returncode == 1
    assert f"chmod 600 {path}" in refused.stderr


def test_scheduler_once_decides_and_rebuild_restores_tampered_tables(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data}/absentia.db"
    now = datetime.now(UTC)
    with make_env(tmp_path, url) as env:
        env.clock(now - timedelta(hours=5))
        env.campaign()
        csv, _ = candidates_csv(6, seed=11)
        assert env.import_csv("c2026", csv).status_code == 201
        resp = env.post("/api/v1/campaigns/c2026/windows", "hr", {
            "opens_at": (now - timedelta(hours=4)).isoformat(),
            "closes_at": (now - timedelta(hours=3)).isoformat()})
        assert resp.status_code == 201
    config = data / "config.toml"
    once = run("scheduler", "--once", "--data", data, "--config", config)
    assert once.returncode == 0, once.stderr
    assert "sweep: 6" in once.stdout
    # The due report's child was waited for: it is recorded, and nothing writes after.
    assert "reports finished: 1" in once.stdout, once.stdout + once.stderr
    with closing(sqlite3.connect(data / "absentia.db")) as conn:
        assert conn.execute("SELECT count(*) FROM p_reports WHERE campaign = 'c2026'"
                            ).fetchone() == (1,)
    checked = run("rebuild", "--check", "--data", data, "--config", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "live tables equal a replay" in checked.stdout
    # Tamper with a projection row (not the ledger): --check names the table...
    with closing(sqlite3.connect(data / "absentia.db")) as conn:
        conn.execute("UPDATE p_decisions SET outcome = 'attended'")
        conn.commit()
    differs = run("rebuild", "--check", "--data", data, "--config", config)
    assert differs.returncode == 1
    assert "p_decisions" in differs.stdout
    assert "DIFFERS" in differs.stdout
    assert "run `absentia rebuild`" in differs.stderr
    # ...and a rebuild replays the ledger over it.
    rebuilt = run("rebuild", "--data", data, "--config", config)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run("rebuild", "--check", "--data", data, "--config", config).returncode == 0
    with closing(sqlite3.connect(data / "absentia.db")) as conn:
        outcomes = {r[0] for r in conn.execute("SELECT outcome FROM p_decisions")}
    assert outcomes == {"forfeited"}  # government policy, nobody came


def test_served_api_answers_with_a_created_token(tmp_path: Path) -> None:
    """The real server (gunicorn) serves the API to a token made by the CLI."""
    data = tmp_path / "data"
    config = write_config(data, "sqlite:///{data}/absentia.db")
    token = run("tokens", "create", "--data", data, "--config", config, "--role",
                "auditor").stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(ABSENTIA), "serve", "--data", str(data), "--config",
                             str(config), "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60  # a bounded wait for the server to come up
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/campaigns",
                                             headers={"Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
                    assert json.loads(resp.read()) == []
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.3)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/campaigns")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)  # noqa: S310
        assert info.value.code == 401
        assert info.value.headers["Content-Type"] == "application/problem+json"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
