"""SIGKILL a writer mid-run: no acknowledged entry is lost, nothing half-written stays.

Writer processes append batches of 50 in a loop and print every receipt once the
batch has committed (``_writer.py crash``).  Once a few hundred entries have been
acknowledged the test kills the writers with SIGKILL, at whatever point they are
(usually inside a transaction), and then checks the database:

* every acknowledged index is stored with the leaf hash its receipt gave;
* indexes are gap-free from 0, the hash chain and the head are intact;
* batches are atomic: the log holds whole batches only (at most one committed batch
  may lack its acknowledgement: killed between commit and print);
* a new writer can append right away (no stuck lock) and continues gap-free.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledger.storage import LedgerStore
from tests.functional._writer import Writer, check_log, finish, spawn_writer, start_writers

BATCH = 50
CRASH_WRITERS = 2
ACK_TARGET = 500  # acknowledged entries (over all writers) before the kill
ACK_DEADLINE_S = 30.0  # kill after this long even if fewer were acknowledged
MIN_ACKED = 100  # fewer than this by the deadline: the writers made no progress
APP_NAME = "absentia_crash_writer"  # PostgreSQL application_name of the killed writers


@dataclass
class CrashingWriter:
    """A crash-mode writer and what it acknowledged (complete stdout lines only)."""

    proc: subprocess.Popen[str]
    err: Path
    acked: list[tuple[int, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reader: threading.Thread | None = None

    def start_reading(self) -> None:
        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if not line.endswith("\n"):
                    break  # cut short by the kill: not an acknowledgement
                idx, b64 = line.split()
                with self.lock:
                    self.acked.append((int(idx), base64.b64decode(b64)))

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-3000:]


def crash_writers(store: LedgerStore, url: str, log: str, tmp_path: Path, round_: int
                  ) -> dict[int, bytes]:
    """Run crash-mode writers, SIGKILL them mid-run, return every acknowledged receipt."""
    ws: list[CrashingWriter] = []
    try:
        for i in range(CRASH_WRITERS):
            err = tmp_path / f"crash-{round_}-{i}.err"
            proc = spawn_writer(
                "crash", "--url", url, "--keys", str(store.keys.root), "--log", log,
                "--tag", f"r{round_}w{i}", "--batch", str(BATCH), "--max-batches", "400",
                stderr_path=err)
            w = CrashingWriter(proc, err)
            w.start_reading()
            ws.append(w)
        deadline = time.monotonic() + ACK_DEADLINE_S
        while sum(w.count() for w in ws) < ACK_TARGET and time.monotonic() < deadline:
            for w in ws:
                assert w.proc.poll() is None, f"writer exited before the kill:\n{w.stderr()}"
            time.sleep(0.005)
        time.sleep(random.uniform(0, 0.05))  # land anywhere in a transaction
        for w in ws:
            os.kill(w.proc.pid, signal.SIGKILL)
        for w in ws:
            assert w.proc.wait(timeout=30) == -signal.SIGKILL, (
                f"writer ended before the kill:\n{w.stderr()}")
            assert w.reader is not None
            w.reader.join(timeout=30)
            assert not w.reader.is_alive(), "stdout of a killed writer never closed"
    finally:
        for w in ws:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(timeout=30)
            if w.proc.stdout is not None:
                w.proc.stdout.close()
    acked: dict[int, bytes] = {}
    for w in ws:
        for idx, h in w.acked:
            assert idx not in acked, f"index {idx} acknowledged twice"
            acked[idx] = h
    assert len(acked) >= MIN_ACKED, (
        f"only {len(acked)} entries acknowledged in {ACK_DEADLINE_S} s:\n"
        + "\n".join(w.stderr() for w in ws))
    return acked


def wait_for_orphans(store: LedgerStore, timeout_s: float = 30.0) -> None:
    """PostgreSQL: wait until the killed writers' server backends have gone.

    A backend whose client died still finishes what it was doing (a COMMIT sent just
    before the kill commits), so checking the log earlier could race that commit.
    """
    if store.engine.dialect.name != "postgresql":
        return  # SQLite: the dead process held nothing but file locks, now released
    deadline = time.monotonic() + timeout_s
    q = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a")
    while True:
        with store.engine.connect() as conn:
            left = conn.execute(q, {"a": APP_NAME}).scalar_one()
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} backends of killed writers linger"
        time.sleep(0.05)


def test_sigkill_mid_run_loses_nothing_acknowledged_and_writers_continue(
    store: LedgerStore, db_url: str, tmp_path: Path
) -> None:
    store.create_log("crash", "example.org/crash", datetime.now(UTC))
    crash_url = db_url
    if store.engine.dialect.name == "postgresql":
        crash_url = make_url(db_url).update_query_dict({"application_name": APP_NAME}
                                                       ).render_as_string(hide_password=False)
    stored = 1  # entry 0: log.created
    for round_ in range(2):
        acked = crash_writers(store, crash_url, "crash", tmp_path, round_)
        wait_for_orphans(store)

        rows = check_log(store, "crash")  # gap-free, chained, head and checkpoint agree
        for idx, h in sorted(acked.items()):
            assert idx < len(rows), f"acknowledged entry {idx} is lost"
            assert rows[idx].leaf_hash == h, f"acknowledged entry {idx} was changed"
        assert min(acked) >= stored, "an acknowledgement names an entry of an earlier round"
        # Whole batches only: a half-written batch would leave a remainder.
        new = len(rows) - stored
        assert new % BATCH == 0, f"{new} entries added: a batch was cut by the kill"
        unacked = new - len(acked)
        assert 0 <= unacked <= CRASH_WRITERS * BATCH, f"{unacked} unacknowledged entries"
        for idx in range(stored, len(rows)):
            body = rows[idx].obj["body"]
            assert body["event_id"].startswith(f"r{round_}w"), "an entry from nowhere"

        # A fresh writer gets the lock at once and continues where the log ends.
        after_dir = tmp_path / f"after-{round_}"
        after_dir.mkdir()
        started: list[Writer] = []
        try:
            [after] = start_writers(started, after_dir, "append", [
                (f"after{round_}", ["--url", db_url, "--keys", str(store.keys.root),
                                    "--log", "crash", "--count", "25", "--batch", "5"]),
            ])
            recs = finish([after], timeout_s=60)[after.tag]
        finally:
            for w in started:
                if w.proc.poll() is None:
                    w.proc.kill()
                    w.proc.wait(timeout=30)
        assert [r.index for r in recs] == list(range(len(rows), len(rows) + 25))
        rows = check_log(store, "crash")
        assert len(rows) == recs[-1].index + 1
        for r in recs:
            assert rows[r.index].leaf_hash == r.leaf_hash
        stored = len(rows)
