"""Run every benchmark in sequence (``make bench``) and print one table of all figures.

First the large log that the first three use is built, or reused from its cache
(``bench/_dataset.py``); then append (``bench_append``, including appends into a copy
of the large log), the write guards' cost (``bench_guards``), verify
(``bench_verify``), proofs (``bench_proofs``), platform events over HTTP
(``bench_ingest``), the sweep (``bench_sweep``, its setup cached too), the notice page
(``bench_notice``), verifying a notice in headless chromium (``bench_browser_verify``),
a report (``bench_report``), the registration-number search (``bench_search``), the
国密 option's SM2 signatures (``bench_sm2``), minutes of sustained load on two app
processes and the scheduler against one PostgreSQL (``bench_load``) and the log monitor
following a log growing at 1,000 entries/s (``bench_monitor``).  A benchmark that
fails is reported and the others still run; the exit status is then 1.  The figures are
also written to ``bench/results.json``.  ``--quick`` runs everything small (a smoke test).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (
    _dataset,
    bench_append,
    bench_browser_verify,
    bench_guards,
    bench_ingest,
    bench_load,
    bench_monitor,
    bench_notice,
    bench_proofs,
    bench_report,
    bench_search,
    bench_sm2,
    bench_sweep,
    bench_verify,
)
from bench._common import Figure, report, say
from tests.pgserver import PgServer

Step = Callable[[], tuple[list[Figure], list[str]]]
STEPS = ("append", "guards", "verify", "proofs", "ingest", "sweep", "notice", "browser",
         "report", "search", "sm2", "load", "monitor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    bench_proofs.add_arguments(parser)  # --entries, --rebuild (the large log), --requests
    bench_append.add_measurement_arguments(parser)
    bench_ingest.add_arguments(parser)
    bench_sweep.add_arguments(parser)
    bench_notice.add_arguments(parser)
    bench_browser_verify.add_arguments(parser)
    bench_search.add_arguments(parser)
    bench_load.add_arguments(parser)
    bench_monitor.add_arguments(parser)
    parser.add_argument("--report-decisions", type=int, default=10_000,
                        help="decisions in the benchmarked report (default 10,000)")
    parser.add_argument("--only", action="append", choices=STEPS,
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="skip the PostgreSQL append and sweep figures (else a server "
                             "is started)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, for a smoke test (20,000-entry log, 2,000 appends, "
                             "200 proof requests, 500 candidates and 5 s per ingest phase, "
                             "a sweep of 2,000 windows and 1,000 on PostgreSQL, 5 s per "
                             "load phase, 10 s of monitor following)")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.append_entries, args.requests = 20_000, 2_000, 200
        args.ingest_candidates, args.ingest_seconds, args.ingest_warmup = 500, 5.0, 1.0
        args.sweep_windows, args.sweep_pg_windows = 2_000, 1_000
        args.notice_candidates, args.notice_seconds = 50, 5.0
        args.browser_lines, args.browser_sample = "200,2000", 50
        args.report_decisions = 1_000
        args.search_candidates, args.searches = 10_000, 50
        args.load_seconds, args.load_warmup = 5.0, 1.0
        args.load_candidates, args.load_notice_candidates = 500, 50
        args.monitor_seconds = 10.0

    pg_url = os.environ.get(bench_append.PG_ENV) or None
    pg_server: PgServer | None = None
    if pg_url is None and not args.no_postgres and ({"append", "guards", "sweep"}
                                                        & set(args.only or STEPS)):
        # The same throwaway PostgreSQL server the tests start (initdb/pg_ctl).
        say("[postgresql] starting a throwaway server for the append and sweep benchmarks")
        pg_server = PgServer(external_url="")
        pg_server.start()
        pg_url = pg_server.create_database()
    steps: dict[str, Step] = {
        "append": lambda: bench_append.run(args.append_entries, args.threads, args.batch,
                                           args.rounds, args.max_seconds, pg_url,
                                           args.entries, True),
        # Two fresh databases on the throwaway server (the triggers are per database).
        "guards": lambda: bench_guards.run(
            max(args.append_entries // 5, 1_000), 3,
            pg_server.create_database if pg_server is not None else None),
        "verify": lambda: bench_verify.run(args.entries),
        "proofs": lambda: bench_proofs.run(args.entries, args.requests),
        "ingest": lambda: bench_ingest.run(args.ingest_candidates, args.ingest_seconds,
                                           args.ingest_warmup, args.ingest_batch,
                                           args.ingest_clients, args.ingest_connections,
                                           args.ingest_workers, args.ingest_sync,
                                           threads=args.ingest_threads),
        # A database of its own (its campaign and log would clash in a reused one), so
        # only on the throwaway server.
        "sweep": lambda: bench_sweep.run(
            args.sweep_windows,
            pg_server.create_database() if pg_server is not None else None,
            args.sweep_pg_windows, args.sweep_rebuild),
        "notice": lambda: bench_notice.run(args.notice_candidates, args.notice_seconds),
        "browser": lambda: bench_browser_verify.run(
            [int(x) for x in args.browser_lines.split(",")], args.browser_sample),
        "report": lambda: bench_report.run(args.report_decisions),
        "search": lambda: bench_search.run(args.search_candidates, args.searches),
        # The 国密 option: checkpoints with and without the SM2 line, SM2 beside Ed25519.
        "sm2": lambda: bench_sm2.run(100 if args.quick else 300, 3),
        # Its own PostgreSQL server, tuned for the load (bench_load.PG_SETTINGS).
        "load": lambda: bench_load.run(args.load_candidates, args.load_notice_candidates,
                                       bench_load.options(args)),
        "monitor": lambda: bench_monitor.run(args.monitor_seconds, args.monitor_rate,
                                             args.checkpoint_every),
    }
    figures: list[Figure] = []
    notes: list[str] = []
    durations: dict[str, float] = {}
    failed = False
    started = time.perf_counter()
    say("\n===== dataset =====")
    try:
        _dataset.ensure(args.entries, args.rebuild)
    except Exception as exc:
        traceback.print_exc()
        notes.append(f"building the large log FAILED: {exc!r}")
        failed = True
    durations["dataset"] = time.perf_counter() - started
    try:
        for name in args.only or STEPS:
            say(f"\n===== {name} =====")
            t0 = time.perf_counter()
            try:
                got, more = steps[name]()
            except Exception as exc:
                traceback.print_exc()
                notes.append(f"{name} benchmark FAILED: {exc!r}")
                failed = True
            else:
                figures += got
                notes += more
            durations[name] = time.perf_counter() - t0
    finally:
        if pg_server is not None:
            pg_server.stop()
    durations["total"] = time.perf_counter() - started
    report("all benchmarks", figures, durations, notes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
