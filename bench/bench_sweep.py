"""A sweep deciding many windows that closed at once (goal: 100,000 in <= 30 s).

Setup (not measured, cached under ``<tmp>/absentia-bench-sweep-<n>`` on SQLite):
a campaign of ``n`` candidates, each with a window that closed at the same moment,
and platform events ingested in deliveries of 500 (``service.ingest``): per window
85 % ``joined`` + ``completed``, 7 % ``joined`` + ``connection_failed``, 3 % ``withdrew``,
5 % nothing (no-show).  Each run works on a scratch copy of the cached database.

Measured: ``service.sweep(now)`` once, deciding every window (decision entries, the
notifications of the absences, projections, alerts), on SQLite with
``synchronous=FULL``; and, with a PostgreSQL server, on a smaller campaign
(``--sweep-pg-windows``, 10,000 by default).

Baseline, same run: the decision entries the sweep appended, read back, INSERTed with a
plain ``executemany`` into a two-column scratch table in the same database, in
transactions of the sweep's batch size (1,000): the raw cost of writing that many rows.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text

from bench._common import (
    Baseline,
    Figure,
    Progress,
    parse_args,
    rate,
    say,
    scratch_dir,
    show,
    throwaway_postgres,
    timed_report,
)
from bench.bench_ingest import (
    LOG,
    open_service,
    populate,
    window_subjects,
    write_config,
)
from ledger.absence.service import AbsenceService
from ledger.entry import format_time
from ledger.storage import LedgerStore
from ledger.storage.db import SQLITE_BEGIN

GOAL_S = 30.0
GOAL_WINDOWS = 100_000
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
OPENS, CLOSES = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
INGEST_AT = T0 + timedelta(hours=1, minutes=50)
SWEEP_AT = T0 + timedelta(hours=3)
BATCH = 1_000
#: Bump when what the cache holds changes.
CACHE_VERSION = 1


def plan_events(targets: list[tuple[str, str]], seed: int = 7) -> list[dict[str, str]]:
    """The platform events of the mix described in the module doc."""
    rng = random.Random(seed)
    evs: list[dict[str, str]] = []
    t_join = format_time(OPENS + timedelta(minutes=5))
    t_end = format_time(OPENS + timedelta(minutes=35))
    for i, (window, subject) in enumerate(targets):
        r = rng.random()
        kinds = (["joined", "completed"] if r < 0.85 else
                 ["joined", "connection_failed"] if r < 0.92 else
                 ["withdrew"] if r < 0.95 else [])
        for k, kind in enumerate(kinds):
            evs.append({"id": f"ev{i}-{k}", "window": window, "kind": kind,
                        "at": t_join if k == 0 else t_end, "subject": subject})
    return evs


def prepare(service: AbsenceService, n: int) -> int:
    """Candidates, closed windows and platform events; returns how many events."""
    say(f"[sweep] preparing {n:,} candidates and windows (setup, not measured)")
    t0 = time.perf_counter()
    populate(service, n, T0, OPENS, CLOSES, progress=Progress("importing candidates"))
    targets = window_subjects(service)
    say(f"  imported and scheduled in {time.perf_counter() - t0:.1f} s")
    evs = plan_events(targets)
    progress = Progress("ingesting platform events")
    for start in range(0, len(evs), 500):
        service.ingest(f"wh-setup-{start}", {"events": evs[start:start + 500]}, INGEST_AT)
        progress(min(start + 500, len(evs)), len(evs))
    return len(evs)


def cached_sqlite(n: int, rebuild: bool) -> Path:
    """The prepared data directory for ``n`` windows (built once)."""
    base = Path(tempfile.gettempdir()) / f"absentia-bench-sweep-{n}-v{CACHE_VERSION}"
    if (base / "complete.json").exists() and not rebuild:
        say(f"[sweep] using the cached setup in {base}")
        return base
    shutil.rmtree(base, ignore_errors=True)
    data = base / "data"
    config = write_config(data, "sqlite:///{data}/absentia.db", "NORMAL")
    _, store, service = open_service(data, config, T0)
    events = prepare(service, n)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.engine.dispose()
    (base / "complete.json").write_text(json.dumps({"windows": n, "events": events}))
    return base


def raw_baseline(engine: Engine, rows: list[bytes], batch: int) -> float:
    """Seconds to executemany ``rows`` into a scratch table, ``batch`` per transaction."""
    sqlite = engine.dialect.name == "sqlite"
    name = f"bench_raw_sweep_{int(time.time() * 1000)}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (idx INTEGER PRIMARY KEY, data BYTEA)"
                          if not sqlite else
                          f"CREATE TABLE {name} (idx INTEGER PRIMARY KEY, data BLOB)"))
    t0 = time.perf_counter()
    for start in range(0, len(rows), batch):
        with engine.connect() as conn:
            if sqlite:
                conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin():
                cur = conn.connection.cursor()
                mark = "?" if sqlite else "%s"
                cur.executemany(f"INSERT INTO {name} (idx, data) VALUES ({mark}, {mark})",
                                [(start + i, r) for i, r in enumerate(rows[start:start + batch])])
                cur.close()
    seconds = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {name}"))
    return seconds


def decision_bytes(store: LedgerStore, start: int) -> tuple[list[bytes], int]:
    """The ``decision.made`` entries from ``start`` on, and how many entries in all."""
    out: list[bytes] = []
    total = 0
    for _, data in store.iter_entries(LOG, start=start):
        total += 1
        if b'"type":"decision.made"' in data:
            out.append(data)
    return out, total


def measure(label: str, store: LedgerStore, service: AbsenceService, n: int,
            goal: bool) -> Figure:
    start = store.head(LOG).size
    say(f"[sweep] {label}: sweeping {n:,} closed windows")
    t0 = time.perf_counter()
    decided = service.sweep(SWEEP_AT, batch=BATCH)
    seconds = time.perf_counter() - t0
    rows, appended = decision_bytes(store, start)
    if decided != n or len(rows) != n:
        raise AssertionError(f"the sweep decided {decided:,} windows ({len(rows):,} "
                             f"decision entries), expected {n:,}")
    with service.engine.connect() as conn:
        outcomes: dict[str, int] = dict(conn.execute(text(
            "SELECT outcome, count(*) FROM p_decisions GROUP BY outcome")).all())
    say(f"  {seconds:.2f} s ({rate(decided / seconds)}); {appended:,} entries appended; "
        f"outcomes {outcomes}")
    raw_s = raw_baseline(store.engine, rows, BATCH)
    say(f"  baseline: executemany of the {len(rows):,} decision entries: {raw_s:.2f} s")
    scaled = seconds * GOAL_WINDOWS / n
    return show(Figure(
        "sweep", f"sweep deciding {n:,} windows ({label})", decided / seconds, "windows/s",
        f"{seconds:.2f} s, {rate(decided / seconds)} windows",
        [Baseline(f"executemany of the {n:,} decision entries' bytes, {BATCH:,} per "
                  "transaction", n / raw_s, f"{raw_s:.2f} s, {rate(n / raw_s)} rows")],
        f"<= {GOAL_S:.0f} s for {GOAL_WINDOWS:,}" + ("" if n == GOAL_WINDOWS else
                                                       f" (x{GOAL_WINDOWS / n:g}: "
                                                       f"{scaled:.1f} s)"),
        (scaled <= GOAL_S) if goal else True,
        {"windows": n, "seconds": round(seconds, 3), "entries_appended": appended,
         "outcomes": outcomes, "raw_seconds": round(raw_s, 3), "batch": BATCH}))


def run(windows: int, pg_url: str | None, pg_windows: int, rebuild: bool = False
        ) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    notes: list[str] = []
    base = cached_sqlite(windows, rebuild)
    with scratch_dir("sweep") as work:
        shutil.copytree(base / "data", work / "data")
        data = work / "data"
        config = write_config(data, "sqlite:///{data}/absentia.db", "FULL")
        _, store, service = open_service(data, config, SWEEP_AT)
        figures.append(measure("SQLite, synchronous=FULL", store, service, windows, True))
        store.engine.dispose()
    if pg_url is None:
        notes.append("sweep: PostgreSQL skipped (no server)")
    else:
        with scratch_dir("sweep-pg") as work:
            data = work / "data"
            config = write_config(data, pg_url, "FULL")
            _, store, service = open_service(data, config, T0)
            prepare(service, pg_windows)
            figures.append(measure("PostgreSQL", store, service, pg_windows, False))
            store.engine.dispose()
    return figures, notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweep-windows", type=int, default=GOAL_WINDOWS,
                        help=f"windows closed at once (default {GOAL_WINDOWS:,})")
    parser.add_argument("--sweep-pg-windows", type=int, default=10_000,
                        help="windows on PostgreSQL (default 10,000)")
    parser.add_argument("--sweep-rebuild", action="store_true",
                        help="rebuild the cached sweep setup")


def standalone_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2,000 windows (1,000 on PG)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, standalone_arguments, argv=argv)
    if args.quick:
        args.sweep_windows, args.sweep_pg_windows = 2_000, 1_000
    with throwaway_postgres(not args.no_postgres) as create_database:
        pg_url = create_database() if create_database is not None else None
        timed_report("sweep", "sweep", lambda: run(args.sweep_windows, pg_url,
                                                   args.sweep_pg_windows, args.sweep_rebuild))
    return 0


if __name__ == "__main__":
    sys.exit(main())
