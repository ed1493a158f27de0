"""Writer process for the functional tests, and the checks the tests share.

Run as ``python -m tests.functional._writer MODE --url URL --keys DIR --log NAME ...``
from the project root (``spawn_writer`` does that).  Modes:

``append``
    Append ``--count`` entries, alternating runs of single appends with batches of
    ``--batch``; print one JSON line per receipt, then ``{"done": true}``.
``idem``
    Append entries with idempotency keys ``idem-0 .. idem-<count-1>`` (in
    ``--order``), in batches of ``--batch`` (1: single appends); one JSON line per
    receipt, then ``{"done": true}``.
``command``
    Run ``--count`` commands through ``LedgerStore.execute`` from ``--threads`` threads
    (group commits), each claiming one event id: the writer's own ``<tag>-<n>`` and,
    every ``--batch``-th, a ``shared-<k>`` every writer claims too.  The plan appends
    a claim only if the test's projection table ``t_claims`` has none for the id; the
    projection inserts it there.  One JSON line per receipt, then ``{"done": true}``.
``crash``
    Append batches of ``--batch`` in a loop (at most ``--max-batches``), printing
    ``<index> <leaf hash base64>`` for every receipt and flushing once the batch has
    committed, so every line read by the parent is an acknowledged entry.

With ``--barrier DIR`` a writer first connects, then creates ``DIR/ready-<tag>`` and
waits for ``DIR/go``, so that the parent can release all writers at once.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger import merkle
from ledger.app.registry import entry_types
from ledger.checkpoint import Checkpoint
from ledger.entry import ZERO_HASH
from ledger.storage import LedgerStore, NewEntry, Receipt, make_engine
from ledger.storage.tables import entries

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT_S = 120
ACTOR = "platform:test"
EVENT_TYPE = "platform.event"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def subject_for(event_id: str) -> str:
    """A valid, deterministic subject pseudonym: ``sub_`` + 26 base32 characters."""
    digest = hashlib.sha256(event_id.encode()).digest()
    return "sub_" + "".join(_B32[b % 32] for b in digest[:26])


def make_entry(event_id: str, idempotency_key: str | None = None) -> NewEntry:
    """A ``platform.event`` entry naming ``event_id`` (ASCII identifier)."""
    return NewEntry(
        EVENT_TYPE,
        ACTOR,
        {"event_id": event_id, "window": "w-1", "subject": subject_for(event_id),
         "kind": "joined", "at": "2026-11-25T08:00:00.000Z"},
        idempotency_key=idempotency_key,
    )


# -- the writer process ---------------------------------------------------------------


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")


def _wait_barrier(barrier: Path | None, tag: str) -> None:
    if barrier is None:
        return
    (barrier / f"ready-{tag}").touch()
    deadline = time.monotonic() + 120
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("writer: never released by the barrier")
        time.sleep(0.005)


def _receipt_json(r: Receipt, event_id: str) -> dict[str, Any]:
    return {"i": r.index, "h": base64.b64encode(r.leaf_hash).decode(), "e": event_id,
            "d": r.duplicate}


def _run_append(store: LedgerStore, log: str, tag: str, count: int, batch: int) -> None:
    n = 0
    single_run = True
    while n < count:
        if single_run:
            for _ in range(min(batch, count - n)):
                eid = f"{tag}-{n}"
                r = store.append(log, make_entry(eid), datetime.now(UTC))
                _emit(_receipt_json(r, eid))
                n += 1
        else:
            eids = [f"{tag}-{n + k}" for k in range(min(batch, count - n))]
            rs = store.append_batch(log, [make_entry(e) for e in eids], datetime.now(UTC))
            if len(rs) != len(eids):
                raise SystemExit(f"writer: {len(eids)} entries gave {len(rs)} receipts")
            for r, eid in zip(rs, eids, strict=True):
                _emit(_receipt_json(r, eid))
            n += len(eids)
        single_run = not single_run


def _run_idem(store: LedgerStore, log: str, count: int, batch: int, order: str) -> None:
    ks = list(range(count))
    if order == "reverse":
        ks.reverse()
    for lo in range(0, len(ks), batch):
        eids = [f"idem-{k}" for k in ks[lo : lo + batch]]
        items = [make_entry(e, idempotency_key=e) for e in eids]
        rs = store.append_batch(log, items, datetime.now(UTC))
        for r, eid in zip(rs, eids, strict=True):
            _emit(_receipt_json(r, eid))


CLAIMS_DDL = ("CREATE TABLE t_claims (event_id VARCHAR(64) PRIMARY KEY, "
               "idx BIGINT NOT NULL)")


def _run_command(store: LedgerStore, log: str, tag: str, count: int, every: int,
                 threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import Connection, text

    from ledger.storage.store import Appended

    out_lock = threading.Lock()

    def claim(eid: str) -> None:
        def plan(conn: Connection) -> list[NewEntry]:
            taken = conn.execute(text("SELECT 1 FROM t_claims WHERE event_id = :e"),
                                 {"e": eid}).first()
            return [] if taken else [make_entry(eid)]

        def project(conn: Connection, appended: Sequence[Appended]) -> None:
            for a in appended:
                conn.execute(text("INSERT INTO t_claims (event_id, idx) VALUES (:e, :i)"),
                             {"e": a.body["event_id"], "i": a.index})

        for r in store.execute(log, datetime.now(UTC), plan, project).receipts:
            with out_lock:
                _emit(_receipt_json(r, eid))

    ids = []
    for n in range(count):
        ids.append(f"{tag}-{n}")
        if n % every == 0:
            ids.append(f"shared-{n // every}")
    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(claim, e) for e in ids]:
            f.result()
    print(f"optimistic conflicts: {store.appender.conflicts}", file=sys.stderr)


def _run_crash(store: LedgerStore, log: str, tag: str, batch: int, max_batches: int) -> None:
    for b in range(max_batches):
        eids = [f"{tag}-{b}-{k}" for k in range(batch)]
        rs = store.append_batch(log, [make_entry(e) for e in eids], datetime.now(UTC))
        sys.stdout.write("".join(
            f"{r.index} {base64.b64encode(r.leaf_hash).decode()}\n" for r in rs))
        sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["append", "idem", "command", "crash"])
    p.add_argument("--url", required=True)
    p.add_argument("--keys", required=True, type=Path)
    p.add_argument("--log", required=True)
    p.add_argument("--tag", default="w")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--order", choices=["forward", "reverse"], default="forward")
    p.add_argument("--max-batches", type=int, default=1000)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--barrier", type=Path, default=None)
    a = p.parse_args(argv)
    engine = make_engine(a.url)
    store = LedgerStore(engine, a.keys, entry_types())
    store.head(a.log)  # connect and load the log before the start line
    _wait_barrier(a.barrier, a.tag)
    try:
        if a.mode == "append":
            _run_append(store, a.log, a.tag, a.count, a.batch)
        elif a.mode == "idem":
            _run_idem(store, a.log, a.count, a.batch, a.order)
        elif a.mode == "command":
            _run_command(store, a.log, a.tag, a.count, a.batch, a.threads)
        else:
            _run_crash(store, a.log, a.tag, a.batch, a.max_batches)
        _emit({"done": True})
        sys.stdout.flush()
    finally:
        engine.dispose()
    return 0


# -- used by the tests --------------------------------------------------------------------


def spawn_writer(mode: str, *args: str, stdout_path: Path | None = None,
                 stderr_path: Path | None = None) -> subprocess.Popen[str]:
    """Start a writer process (``python -m tests.functional._writer``) in the project root.

    Its stdout goes to ``stdout_path`` (or a pipe), its stderr to ``stderr_path`` (or a
    pipe).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    out: Any = subprocess.PIPE if stdout_path is None else stdout_path.open("w")
    err: Any = subprocess.PIPE if stderr_path is None else stderr_path.open("w")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.functional._writer", mode, *args],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err, text=True,
        )
    finally:
        for f in (out, err):
            if f is not subprocess.PIPE:
                f.close()


@dataclass(frozen=True)
class Rec:
    """A receipt as a writer process printed it."""

    index: int
    leaf_hash: bytes
    event_id: str
    duplicate: bool


@dataclass
class Writer:
    """A writer process started by ``start_writers``, with its output files."""

    tag: str
    proc: subprocess.Popen[str]
    out: Path
    err: Path

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-3000:]

    def receipts(self) -> list[Rec]:
        lines = self.out.read_text().splitlines()
        assert lines, f"writer {self.tag} printed nothing:\n{self.stderr()}"
        assert json.loads(lines[-1]) == {"done": True}, (
            f"writer {self.tag} did not finish:\n{self.stderr()}")
        recs = []
        for line in lines[:-1]:
            o: dict[str, Any] = json.loads(line)
            recs.append(Rec(o["i"], base64.b64decode(o["h"]), o["e"], o["d"]))
        return recs


def start_writers(
    writers: list[Writer], tmp_path: Path, mode: str, runs: list[tuple[str, list[str]]]
) -> list[Writer]:
    """Start one writer per (tag, args), wait until all are connected, release them.

    Each is added to ``writers`` as soon as it starts (for the caller to kill on failure).
    """
    barrier = tmp_path / f"barrier-{len(writers)}"
    barrier.mkdir()
    mine: list[Writer] = []
    for tag, args in runs:
        out, err = tmp_path / f"{tag}.out", tmp_path / f"{tag}.err"
        proc = spawn_writer(mode, *args, "--tag", tag, "--barrier", str(barrier),
                            stdout_path=out, stderr_path=err)
        w = Writer(tag, proc, out, err)
        writers.append(w)
        mine.append(w)
    deadline = time.monotonic() + 60
    while not all((barrier / f"ready-{w.tag}").exists() for w in mine):
        for w in mine:
            assert w.proc.poll() is None, f"writer {w.tag} exited early:\n{w.stderr()}"
        assert time.monotonic() < deadline, "writers did not get ready within 60 s"
        time.sleep(0.01)
    (barrier / "go").touch()
    return mine


def finish(ws: list[Writer], timeout_s: float = PROCESS_TIMEOUT_S) -> dict[str, list[Rec]]:
    """Wait for the writers (at most ``timeout_s`` in all) and return their receipts."""
    deadline = time.monotonic() + timeout_s
    for w in ws:
        try:
            rc = w.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"writer {w.tag} still running after {timeout_s} s "
                f"(stuck on a lock?):\n{w.stderr()}") from None
        assert rc == 0, f"writer {w.tag} failed with exit code {rc}:\n{w.stderr()}"
    return {w.tag: w.receipts() for w in ws}


@dataclass(frozen=True)
class Row:
    """One stored row of ``ledger_entries``."""

    idx: int
    leaf_hash: bytes
    data: bytes
    idem_key: str | None

    @property
    def obj(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


def read_rows(store: LedgerStore, log: str) -> list[Row]:
    """The stored entries of ``log`` in index order, straight from ``ledger_entries``."""
    log_id = store.log(log).id
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(entries.c.idx, entries.c.leaf_hash, entries.c.data, entries.c.idem_key)
            .where(entries.c.log_id == log_id).order_by(entries.c.idx)
        ).all()
    return [Row(int(r.idx), bytes(r.leaf_hash), bytes(r.data), r.idem_key) for r in rows]


def check_log(store: LedgerStore, log: str) -> list[Row]:
    """Assert the stored log is whole: gap-free, chained, matching head and checkpoint.

    Checks that indexes are exactly ``0..n-1``, each stored leaf hash is the hash of
    the stored bytes, each entry's ``index`` is its position and its ``prev`` the
    previous leaf hash (zero for entry 0), the head's size and root match the stored
    leaves, inclusion proofs from storage verify, and a checkpoint signed now opens
    with the log's keys and commits to the same root.  Returns the rows.
    """
    rows = read_rows(store, log)
    n = len(rows)
    assert [r.idx for r in rows] == list(range(n)), "indexes are not exactly 0..n-1"
    prev = ZERO_HASH
    for r in rows:
        assert merkle.leaf_hash(r.data) == r.leaf_hash, f"entry {r.idx}: leaf hash mismatch"
        obj = r.obj
        assert obj["index"] == r.idx, f"entry {r.idx} says index {obj['index']}"
        assert base64.b64decode(obj["prev"]) == prev, f"entry {r.idx}: chain broken (prev)"
        prev = r.leaf_hash
    leaves = [r.leaf_hash for r in rows]
    root = merkle.root_from_leaf_hashes(leaves)
    head = store.head(log)
    assert head.size == n, f"head says {head.size} entries, storage holds {n}"
    assert head.root == root, "head root differs from the root of the stored leaves"
    for i in sorted({0, n // 3, n // 2, n - 1}):
        path = store.inclusion_proof(log, i, n)
        merkle.verify_inclusion(leaves[i], i, n, path, root)
    cp = store.sign_checkpoint(log, datetime.now(UTC))
    opened = Checkpoint.open(cp.note, store.verifiers(log))
    assert (opened.size, opened.root) == (n, root), "checkpoint does not match storage"
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
