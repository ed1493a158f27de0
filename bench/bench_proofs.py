"""Proof latency on a large log, beside the latency of one primary-key read.

Reuses the log of ``bench_verify`` (``bench/_dataset.py``; built if missing) and serves
``--requests`` inclusion proofs (random index, size = the tree size) and as many
consistency proofs (random old size, new = the tree size), each:

* cold: a new ``LedgerStore(..., tile_cache=0)``, so every tile comes from the
  database (SQLite's and the OS's page caches stay warm, as on a running server);
* warm: a new ``LedgerStore`` with the default tile cache, after one untimed pass over
  the same requests.

Baseline, in the same run and on the same engine: one indexed SELECT of one leaf hash
by primary key in its own read transaction, as the store reads (and, for reference, the
same SELECT through the bare ``sqlite3`` driver).  The sets are timed interleaved,
request by request, so that load on the machine hits them all alike.
Goal: p50 <= 2 ms.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, select

from bench import _dataset
from bench._common import Baseline, Figure, Latency, Progress, parse_args, say, show, timed_report
from ledger import merkle
from ledger.storage import LedgerStore
from ledger.storage.tables import entries

GOAL_P50_S = 0.002


def sanity_check(store: LedgerStore, size: int, root: bytes, idxs: list[int], olds: list[int]
                 ) -> None:
    """Check a few of the proofs the benchmark times (it must time real work)."""
    log = _dataset.LOG
    for i in idxs[:10]:
        leaf = merkle.leaf_hash(store.entry(log, i))
        merkle.verify_inclusion(leaf, i, size, store.inclusion_proof(log, i, size), root)
    old = min(olds)
    with store.engine.connect() as conn:
        leaves = [bytes(h) for h in conn.execute(
            select(entries.c.leaf_hash).where(
                entries.c.log_id == store.log(log).id, entries.c.idx < old)
            .order_by(entries.c.idx)).scalars()]
    merkle.verify_consistency(old, size, merkle.root_from_leaf_hashes(leaves), root,
                              store.consistency_proof(log, old, size))


def run(entries_n: int = 1_000_000, requests: int = 2_000, rebuild: bool = False,
        seed: int = 2026) -> tuple[list[Figure], list[str]]:
    """Proof latencies, cold and warm; returns the figures and notes."""
    ds = _dataset.ensure(entries_n, rebuild)
    log = _dataset.LOG
    engine = ds.engine()
    try:
        probe = ds.store(engine)
        head = probe.head(log)
        size, root = head.size, head.root
        log_id = probe.log(log).id
        rng = random.Random(seed)
        idxs = [rng.randrange(size) for _ in range(requests)]
        olds = [rng.randrange(1, size) if size > 1 else 1 for _ in range(requests)]
        say(f"[proofs] {requests:,} inclusion and {requests:,} consistency proofs at size "
            f"{size:,}; checking a few first")
        sanity_check(probe, size, root, idxs, olds)

        pk = select(entries.c.leaf_hash).where(
            entries.c.log_id == bindparam("log_id"), entries.c.idx == bindparam("idx"))

        def pk_read(i: int) -> object:
            with engine.connect() as conn, conn.begin():
                return conn.execute(pk, {"log_id": log_id, "idx": i}).scalar_one()

        bare = sqlite3.connect(str(ds.base / "ledger.db"), check_same_thread=False)
        bare_sql = "SELECT leaf_hash FROM ledger_entries WHERE log_id = ? AND idx = ?"

        def bare_read(i: int) -> object:
            return bare.execute(bare_sql, (log_id, i)).fetchone()

        cold_incl = ds.store(engine, tile_cache=0)
        cold_cons = ds.store(engine, tile_cache=0)
        warm_incl = ds.store(engine)
        warm_cons = ds.store(engine)
        say("[proofs] warming the tile caches of the warm stores (untimed)")
        warm_progress = Progress("warm-up", every_s=5.0)
        for k, (i, o) in enumerate(zip(idxs, olds, strict=True), 1):
            warm_incl.inclusion_proof(log, i, size)
            warm_cons.consistency_proof(log, o, size)
            pk_read(i)
            bare_read(i)
            warm_progress(k, requests)

        sets: dict[str, tuple[Callable[[int], object], list[int]]] = {
            "pk": (pk_read, idxs),
            "bare": (bare_read, idxs),
            "incl_cold": (lambda i: cold_incl.inclusion_proof(log, i, size), idxs),
            "incl_warm": (lambda i: warm_incl.inclusion_proof(log, i, size), idxs),
            "cons_cold": (lambda o: cold_cons.consistency_proof(log, o, size), olds),
            "cons_warm": (lambda o: warm_cons.consistency_proof(log, o, size), olds),
        }
        samples: dict[str, list[float]] = {k: [] for k in sets}
        say("[proofs] timing all sets interleaved, request by request")
        progress = Progress("requests", every_s=5.0)
        clock = time.perf_counter
        order = list(sets)
        for k in range(requests):
            rng.shuffle(order)
            for name in order:
                fn, args = sets[name]
                t0 = clock()
                fn(args[k])
                samples[name].append(clock() - t0)
            progress(k + 1, requests)
        bare.close()
    finally:
        engine.dispose()

    lat = {k: Latency.of(v) for k, v in samples.items()}
    baselines = [
        Baseline("one SELECT of a leaf hash by primary key (SQLAlchemy, own transaction)",
                 lat["pk"].p50, lat["pk"].text()),
        Baseline("the same SELECT through bare sqlite3", lat["bare"].p50, lat["bare"].text()),
    ]
    figures: list[Figure] = []
    for key, what in (("incl_cold", "inclusion proof, cold tile cache"),
                      ("incl_warm", "inclusion proof, warm tile cache"),
                      ("cons_cold", "consistency proof, cold tile cache"),
                      ("cons_warm", "consistency proof, warm tile cache")):
        la = lat[key]
        figures.append(show(Figure(
            "proofs", f"{what}, size {size:,}", la.p50, "s (p50)", la.text(), baselines,
            f"p50 <= {GOAL_P50_S * 1000:g} ms", la.p50 <= GOAL_P50_S,
            {"p50_s": la.p50, "p90_s": la.p90, "p99_s": la.p99, "mean_s": la.mean,
             "requests": la.n,
             "baseline_pk": asdict(lat["pk"]), "baseline_bare_sqlite3": asdict(lat["bare"])})))
    notes = [f"proofs: ratio = p50 / baseline p50; {requests:,} requests per set, "
             f"seed {seed}, dataset {ds.base}"]
    return figures, notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The large log's options (``_dataset.add_arguments``) and ``--requests``."""
    _dataset.add_arguments(parser)
    parser.add_argument("--requests", type=int, default=2_000,
                        help="proof requests per measurement set (default 2,000)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, argv=argv)
    timed_report("proof benchmark", "proofs",
                 lambda: run(args.entries, args.requests, args.rebuild))
    return 0


if __name__ == "__main__":
    sys.exit(main())
