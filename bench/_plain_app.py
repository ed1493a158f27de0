"""The baseline of ``bench_ingest``: a plain endpoint that stores webhook JSON, no ledger.

``POST /api/v1/platform/events`` reads the body (same size cap), verifies the Standard
Webhooks HMAC with the same ``ledger.absence.webhooks.verify`` and the same secrets file,
parses the JSON, and INSERTs the raw body into one SQLite table (WAL, the ``synchronous``
mode given, ``BEGIN IMMEDIATE``, one transaction per request, the webhook id as primary
key so a repeated delivery is stored once).  Served by gunicorn with the settings
``ledger.app.server.serve`` uses (gthread, the workers and threads given).

Run: ``python bench/_plain_app.py --db FILE --secrets FILE --port P --workers 2``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, Response, request

from ledger.absence.webhooks import verify
from ledger.app.server import GunicornApp
from ledger.app.wiring import read_webhook_secrets
from ledger.errors import LedgerError

MAX_BODY_BYTES = 1_048_576
SCHEMA = ("CREATE TABLE IF NOT EXISTS deliveries (webhook_id TEXT PRIMARY KEY, "
          "events INTEGER NOT NULL, body BLOB NOT NULL)")


def connect(db: Path, synchronous: str) -> sqlite3.Connection:
    """A connection set up as ``ledger.storage.db.make_engine`` sets up SQLite."""
    conn = sqlite3.connect(db, timeout=60, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


def create_app(db: Path, secrets_path: Path, synchronous: str) -> Flask:
    app = Flask("absentia_bench_plain")
    local = threading.local()
    secrets = read_webhook_secrets(secrets_path, create=False)
    conn0 = connect(db, synchronous)
    conn0.execute(SCHEMA)
    conn0.close()

    def db_conn() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(db, synchronous)
        return conn

    @app.post("/api/v1/platform/events")
    def events() -> Response | tuple[dict[str, Any], int]:
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return {"error": "too large"}, 413
        try:
            msg = verify(secrets, request.headers, raw, datetime.now(UTC))
        except LedgerError as exc:
            return {"error": str(exc)}, 401
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return {"error": "not JSON"}, 400
        n = len(payload["events"]) if isinstance(payload, dict) and "events" in payload else 1
        conn = db_conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?)",
                               (msg.id, n, raw))
            created = cur.rowcount == 1
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {"webhook_id": msg.id, "events": n, "replayed": not created}, (
            201 if created else 200)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="plain webhook-to-SQLite endpoint")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--secrets", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--synchronous", default="FULL")
    args = parser.parse_args(argv)
    # The same server and options as `absentia serve` (ledger.app.server).
    GunicornApp(lambda: create_app(args.db, args.secrets, args.synchronous),
                f"127.0.0.1:{args.port}", args.workers, args.threads).run()


if __name__ == "__main__":
    main()
