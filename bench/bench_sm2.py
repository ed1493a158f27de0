"""What the 国密 option costs: a checkpoint signed with the SM2 line beside one without.

Measured in the same run, alternating rounds: ``LedgerStore.sign_checkpoint`` after one
append (SQLite, a temporary directory, WAL, ``synchronous=FULL``) on a log with an SM2 key
(``use_sm2_key``) beside the same on a log without (the baseline); and the raw signature
and verification of one checkpoint note with SM2-with-SM3 (Tongsuo) beside Ed25519
(pyca/cryptography).

    python bench/bench_sm2.py [--checkpoints N] [--rounds R]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._common import Baseline, Figure, parse_args, rate, say, show, timed_report
from ledger.app.registry import entry_types
from ledger.checkpoint import Checkpoint
from ledger.migrations import upgrade
from ledger.note import Ed25519Signer
from ledger.sm2 import SM2Signer, clear_verify_cache
from ledger.storage import LedgerStore, make_engine
from ledger.storage.sm2keys import use_sm2_key
from ledger.storage.store import NewEntry

BENCH = "sm2"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
ORIGIN = "bench.example/sm2"


def _store(tmp: Path, side: str) -> LedgerStore:
    store = LedgerStore(make_engine(f"sqlite:///{tmp}/{side}.db"), tmp / f"keys-{side}",
                        entry_types())
    upgrade(store.engine)
    store.create_log("l", f"{ORIGIN}/{side}", T0)
    if side == "sm2":
        use_sm2_key(store, "l", f"file:{tmp}/keys-{side}/l.sm2.pem", T0)
    return store


def _checkpoints_per_s(store: LedgerStore, n: int, item: NewEntry, start: int) -> float:
    """Append one entry, then sign a checkpoint, ``n`` times: checkpoints a second."""
    began = time.perf_counter()
    for i in range(n):
        now = T0 + timedelta(seconds=start + i + 1)
        store.append("l", item, now)
        store.sign_checkpoint("l", now)
    return n / (time.perf_counter() - began)


def _ops_per_s(fn: Callable[[], object], n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - began)


def _uncached_verify(signer: SM2Signer, message: bytes, signature: bytes) -> bool:
    clear_verify_cache()
    return signer.verifier.verify(message, signature)


def run(n: int, rounds: int) -> tuple[list[Figure], list[str]]:
    """The checkpoint figures (store) and the raw signature figures."""
    item = NewEntry("window.closed", "system", {"window": "w-1", "closed_at":
                                                "2026-12-01T00:00:00Z", "completed": 1,
                                                "absent": 0})
    best = {"sm2": 0.0, "plain": 0.0}
    with tempfile.TemporaryDirectory(prefix="absentia-bench-sm2-") as tmp:
        stores = {side: _store(Path(tmp), side) for side in best}
        for r in range(rounds):
            for side, store in stores.items():
                got = _checkpoints_per_s(store, n, item, r * n)
                best[side] = max(best[side], got)
                say(f"[sm2] round {r + 1}/{rounds} {side}: {rate(got)} checkpoints")
        for store in stores.values():
            store.engine.dispose()
    figures = [show(Figure(
        BENCH, "append + checkpoint with the SM2 line (SQLite)", best["sm2"], "1/s",
        rate(best["sm2"]), [Baseline("without the SM2 line", best["plain"],
                                     rate(best["plain"]))],
        # Checkpoints are batched (one a second a log at most): what matters is the time
        # the SM2 line adds to one, not the ratio of fsync-bound cycles.
        "adds <= 10 ms a checkpoint",
        1 / best["sm2"] - 1 / best["plain"] <= 0.010))]
    note_text = Checkpoint(ORIGIN, 123_456, bytes(range(32))).body().encode()
    ed = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
    sm2 = SM2Signer.from_pem(ORIGIN, SM2Signer.generate_pem())
    ed_sig, sm2_sig = ed.sign(note_text), sm2.sign(note_text)
    count = n * 20
    for what, fn_sm2, fn_ed in (
            ("sign", lambda: sm2.sign(note_text), lambda: ed.sign(note_text)),
            # Uncached: ledger.sm2 caches a verification of the same bytes.
            ("verify", lambda: _uncached_verify(sm2, note_text, sm2_sig),
             lambda: ed.verifier.verify(note_text, ed_sig))):
        s, e = _ops_per_s(fn_sm2, count), _ops_per_s(fn_ed, count)
        figures.append(show(Figure(
            BENCH, f"SM2-with-SM3 {what} of a checkpoint note", s, "1/s", rate(s),
            [Baseline(f"Ed25519 {what}", e, rate(e))],
            # A log signs at most one checkpoint a second ([checkpoints] min_interval_s):
            # 100/s leaves room for 100 logs on one core.
            ">= 100/s", s >= 100)))
    return figures, [f"sm2: {n} checkpoints a round, best of {rounds}; {count} raw operations"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", type=int, default=300,
                        help="append + checkpoint cycles per round")
    parser.add_argument("--rounds", type=int, default=3)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, argv=argv)
    timed_report("the 国密 option (SM2)", "total", lambda: run(args.checkpoints, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
