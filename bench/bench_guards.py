"""What the database's write guards cost the append path (migration 0004).

Every INSERT into an append-only table first looks up its keys (the guard that refuses
SQLite's REPLACE), and every head update checks that the head points at the entry just
stored.  Measured here: ``append_batch`` in batches and single appends, into a store
with the guards beside the same store with only the 0004 triggers dropped (the
baseline), in alternating rounds of the same run, on SQLite (a temporary directory,
WAL, ``synchronous=FULL``) and on a throwaway PostgreSQL server (the tests' ``initdb`` /
``pg_ctl`` one), two fresh databases each.

    python bench/bench_guards.py [--entries N] [--rounds R] [--no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench._common import (
    Baseline,
    Figure,
    parse_args,
    rate,
    say,
    show,
    throwaway_postgres,
    timed_report,
)
from ledger.app.registry import entry_types
from ledger.app.samples import sample_events
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.storage.store import NewEntry

BENCH = "guards"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
GUARDS_SQLITE = [f"{t}_no_replace" for t in (
    "ledger_logs", "ledger_entries", "ledger_nodes", "ledger_checkpoints", "ledger_keys",
    "ledger_cosignatures", "ledger_heads")] + ["ledger_heads_forward"]
GUARDS_PG = [("ledger_heads_forward", "ledger_heads")]  # PostgreSQL needs no insert guard


def drop_guards(store: LedgerStore) -> None:
    """Drop the 0004 triggers only (the UPDATE/DELETE triggers of 0001 stay)."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in GUARDS_SQLITE:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            for name, table in GUARDS_PG:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))


def entries(n: int, seed: int) -> list[NewEntry]:
    return [e for _, e in sample_events(n, T0, seed=seed)]


def measure(store: LedgerStore, log: str, items: list[NewEntry], batch: int) -> float:
    """Entries per second appended in batches of ``batch`` (1: one per transaction)."""
    started = time.perf_counter()
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        if batch == 1:
            store.append(log, chunk[0], T0)
        else:
            store.append_batch(log, chunk, T0)
    return len(items) / (time.perf_counter() - started)


def one_database(kind: str, make: Callable[[str], str], n: int, rounds: int
                 ) -> list[Figure]:
    """Guarded and unguarded stores side by side on one kind of database."""
    stores: dict[str, LedgerStore] = {}
    with tempfile.TemporaryDirectory(prefix="absentia-bench-guards-") as tmp:
        for side in ("guarded", "unguarded"):
            store = LedgerStore(make_engine(make(side)), Path(tmp) / f"keys-{side}", entry_types())
            upgrade(store.engine)
            if side == "unguarded":
                drop_guards(store)
            stores[side] = store
        rates: dict[tuple[str, int], list[float]] = {}
        seed = 0
        for r in range(rounds):
            for batch in (1_000, 1):
                count = n if batch > 1 else max(n // 10, 100)
                for side in (("guarded", "unguarded") if r % 2 == 0
                             else ("unguarded", "guarded")):
                    seed += 1
                    log = f"b{r}-{batch}"
                    stores[side].ensure_log(log, f"bench.example/{side}/{log}", T0)
                    got = measure(stores[side], log, entries(count, seed), batch)
                    rates.setdefault((side, batch), []).append(got)
                    say(f"  [{kind}] round {r + 1}/{rounds}, {side}, batch {batch}: "
                        f"{rate(got)}")
        for store in stores.values():
            store.engine.dispose()
    figures = []
    for batch in (1_000, 1):
        best = {side: max(rates[(side, batch)]) for side in ("guarded", "unguarded")}
        what = "append_batch of 1,000" if batch > 1 else "single appends"
        figures.append(show(Figure(
            BENCH, f"{kind}: {what}, with the write guards", best["guarded"], "entries/s",
            rate(best["guarded"]),
            [Baseline("the same without the 0004 guards", best["unguarded"],
                      rate(best["unguarded"]))],
            ">= 0.85 of the unguarded rate",
            best["guarded"] >= 0.85 * best["unguarded"])))
    return figures


def run(n: int, rounds: int, new_pg_database: Callable[[], str] | None
        ) -> tuple[list[Figure], list[str]]:
    """The guard cost on SQLite, and on PostgreSQL when ``new_pg_database`` (a fresh
    database's URL each call) is given."""
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="absentia-bench-guards-db-") as tmp:
        figures = one_database("sqlite", lambda side: f"sqlite:///{tmp}/{side}.db", n,
                               rounds)
    if new_pg_database is None:
        notes.append("guards: PostgreSQL skipped (no server)")
        return figures, notes
    # Two databases, not two schemas: the trigger functions are per database.
    figures += one_database("postgresql", lambda side: new_pg_database(), n, rounds)
    return figures, notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entries", type=int, default=20_000,
                        help="entries per batched round (single appends: a tenth)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true",
                        help="skip PostgreSQL (else a throwaway server is started)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, argv=argv)
    with throwaway_postgres(not args.no_postgres) as create_database:
        timed_report("write guards", "total",
                     lambda: run(args.entries, args.rounds, create_database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
