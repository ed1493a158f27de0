"""Durable append throughput, each figure beside a raw insert of the same bytes.

SQLite in a temporary directory, through ``make_engine`` (WAL, ``synchronous=FULL``):

a. single appends, one entry per transaction: (i) sequential ``store.append``;
   (ii) ``Sequencer.append`` from N threads (group commit).  Baselines: a plain
   SQLAlchemy Core insert of the same entry bytes into a two-column table, one row per
   transaction, sequentially and from N threads each committing its own transaction.
   Goal: >= 5,000 appends/s.
b. ``append_batch`` in batches of 1,000 against ``executemany`` of the same bytes,
   1,000 rows per transaction.  Goal: >= 40 % of the raw rate.
c. the Sequencer and ``append_batch`` again, into a scratch copy of the large log
   that ``bench_verify`` caches (``--large-log``, 1,000,000 entries by default; skipped
   if not cached, unless ``--build-large``), beside the fresh-log figures of this run:
   a log's size must not slow its appends.

The entries are ``ledger.app.samples.sample_events`` (about 300 bytes each, with idempotency
keys).  The baselines insert exactly the bytes the ledger stored in the run they stand
beside (read back from its database).  Ledger and raw side run in alternating rounds
(so that other load on the machine hits both alike), each in its own fresh database,
and either stops at ``--max-seconds`` of its own time (its rate is then over what it
did).

With ``ABSENTIA_BENCH_PG_URL`` set (``postgresql+psycopg://user@host/db``, a scratch
database: the ledger's tables are append-only, so the benchmark's logs stay there) the
same is measured on PostgreSQL; otherwise that part is skipped, and says so.  On
PostgreSQL (i) is measured twice: on the append path (``absentia_append``, the head's
lock for one round trip) and on the locked path it replaced (the head's lock first,
then one statement per table), each as a ratio to raw rounds alternating with it.
Goal: >= 0.85.  ``--pg`` starts a throwaway server when the variable is not set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    insert,
    select,
    text,
)

from bench import _dataset
from bench._common import (
    Baseline,
    Figure,
    parse_args,
    rate,
    say,
    scratch_dir,
    show,
    throwaway_postgres,
    timed_report,
)
from ledger.app.registry import entry_types
from ledger.app.samples import sample_events
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, NewEntry, Receipt, make_engine
from ledger.storage.db import SQLITE_BEGIN
from ledger.storage.sequencer import Sequencer
from ledger.storage.store import PreparedEntry
from ledger.storage.tables import entries

PG_ENV = "ABSENTIA_BENCH_PG_URL"
GOAL_SINGLE = 5_000.0
GOAL_BATCH_RATIO = 0.40
GOAL_PG_SINGLE_RATIO = 0.85  # issue 15: sequential single appends vs raw, PostgreSQL
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


class CountingStore(LedgerStore):
    """A LedgerStore that counts its append transactions (to report group sizes)."""

    commits = 0

    def append_prepared(
        self, name: str, prepared: Sequence[PreparedEntry], now: datetime
    ) -> list[Receipt]:
        self.commits += 1
        return super().append_prepared(name, prepared, now)


@dataclass
class Side:
    """What one side of a comparison did, summed over its rounds."""

    done: int = 0
    seconds: float = 0.0
    commits: int = 0
    errors: int = 0

    @property
    def per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def add(self, done: int, seconds: float, commits: int, errors: int = 0) -> None:
        self.done += done
        self.seconds += seconds
        self.commits += commits
        self.errors += errors

    def detail(self) -> dict[str, float]:
        return {"entries": self.done, "seconds": round(self.seconds, 3),
                "commits": self.commits, "errors": self.errors,
                "entries_per_commit": round(self.done / self.commits, 2) if self.commits else 0}


Expired = Callable[[], bool]
#: One round of one side: (entries done, seconds, commits, errors).
RoundResult = tuple[int, float, int, int]


class Target:
    """Where a set of measurements runs: fresh SQLite files, or one PostgreSQL database."""

    def __init__(self, label: str, work: Path, pg_url: str | None = None) -> None:
        self.label = label
        self.work = work
        self.pg_url = pg_url
        self.key_dir = work / "keys"
        self.tag = f"{os.getpid()}x{int(time.time())}"
        self._pg_engine: Engine | None = None
        self._engines: list[Engine] = []
        self.raw_tables: list[Table] = []

    def engine(self, what: str) -> Engine:
        if self.pg_url is None:
            self.work.mkdir(parents=True, exist_ok=True)
            engine = make_engine(f"sqlite:///{self.work / (what + '.db')}")
            self._engines.append(engine)
            return engine
        if self._pg_engine is None:
            self._pg_engine = make_engine(self.pg_url)
        return self._pg_engine

    def close(self) -> None:
        if self._pg_engine is not None:
            for t in self.raw_tables:
                with self._pg_engine.begin() as conn:
                    t.drop(conn, checkfirst=True)
            self._pg_engine.dispose()
        for e in self._engines:
            e.dispose()


class LedgerSide:
    """A fresh log; reads back the bytes it stored, for the raw side to insert."""

    def __init__(self, target: Target, what: str, *, locked: bool = False) -> None:
        self.store = CountingStore(target.engine(what), target.key_dir, entry_types())
        self.store.appender.locked = locked
        upgrade(self.store.engine)
        self.name = f"bench-{what}" if target.pg_url is None else f"bench-{what}-{target.tag}"
        self.store.create_log(self.name, f"bench.absentia.invalid/{self.name}", START)
        self.next_index = 1  # entry 0 records the log's creation

    def read_back(self, count: int) -> list[bytes]:
        """The bytes of the next ``count`` entries appended (in index order)."""
        log = self.store.log(self.name)
        lo = self.next_index
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(entries.c.data)
                .where(entries.c.log_id == log.id, entries.c.idx >= lo, entries.c.idx < lo + count)
                .order_by(entries.c.idx)
            ).scalars().all()
        self.next_index += count
        return [bytes(r) for r in rows]


class RawSide:
    """A plain two-column table (integer key, the entry bytes), nothing else."""

    def __init__(self, target: Target, what: str) -> None:
        self.engine = target.engine(what)
        name = f"bench_raw_{what}" if target.pg_url is None else f"bench_raw_{what}_{target.tag}"
        self.table = Table(
            name, MetaData(),
            Column("idx", Integer, primary_key=True, autoincrement=False),
            Column("data", LargeBinary, nullable=False),
        )
        with self.engine.begin() as conn:
            self.table.create(conn)
        target.raw_tables.append(self.table)
        self.insert = insert(self.table)
        self.next_index = 0

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction, begun as the ledger begins its own (IMMEDIATE on SQLite)."""
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin():
                yield conn

    def take(self, data: Sequence[bytes]) -> list[tuple[int, bytes]]:
        """Give the rows their keys."""
        lo = self.next_index
        self.next_index += len(data)
        return [(lo + j, d) for j, d in enumerate(data)]


def sequencer_work(seq: Sequencer, name: str, items: Sequence[NewEntry], n_threads: int,
                   errors: list[BaseException]) -> Callable[[int, Expired], tuple[int, int]]:
    """What thread ``k`` of ``n_threads`` does: ``seq.append`` every n-th item."""

    def work(k: int, expired: Expired) -> tuple[int, int]:
        done = failed = 0
        for item in items[k::n_threads]:
            if expired():
                break
            try:
                seq.append(name, item)
                done += 1
            except Exception as exc:
                failed += 1
                errors.append(exc)
        return done, failed

    return work


def in_threads(n_threads: int, work: Callable[[int, Expired], tuple[int, int]],
               expired: Expired) -> tuple[int, int, float]:
    """Run ``work(thread_no, expired)`` in threads released together.

    Returns (done, errors, seconds from release to the last thread's end).
    """
    results: list[tuple[int, int]] = [(0, 0)] * n_threads
    barrier = threading.Barrier(n_threads + 1)

    def body(k: int) -> None:
        barrier.wait()
        results[k] = work(k, expired)

    threads = [threading.Thread(target=body, args=(k,), name=f"bench-{k}")
               for k in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return sum(r[0] for r in results), sum(r[1] for r in results), seconds


def budget(side: Side, max_s: float) -> Expired:
    """True once ``side`` has spent ``max_s`` seconds, counting the round begun now."""
    started = time.perf_counter()
    spent = side.seconds
    return lambda: spent + time.perf_counter() - started > max_s


def compare(what: str, items: Sequence[NewEntry], rounds: int, max_s: float,
            ledger_round: Callable[[Sequence[NewEntry], Expired], RoundResult],
            read_back: Callable[[int], list[bytes]],
            raw_round: Callable[[Sequence[bytes], Expired], RoundResult]) -> tuple[Side, Side]:
    """Alternate rounds of ledger appends and raw inserts of the bytes just stored.

    Alternating keeps slow drifts of the machine (other load, the disk's mood) out of the
    ratio.  Each side stops once its own time exceeds ``max_s``.
    """
    led, raw = Side(), Side()
    per = -(-len(items) // rounds)
    for r in range(rounds):
        chunk = items[r * per : (r + 1) * per]
        if not chunk or led.seconds > max_s or raw.seconds > max_s:
            break
        d, s, c, e = ledger_round(chunk, budget(led, max_s))
        led.add(d, s, c, e)
        data = read_back(d)
        d2, s2, c2, e2 = raw_round(data, budget(raw, max_s))
        raw.add(d2, s2, c2, e2)
        say(f"  {what}, round {r + 1}/{rounds}: ledger {d:,} in {s:.2f} s ({rate(d / s)}), "
            f"raw {d2:,} in {s2:.2f} s ({rate(d2 / s2 if s2 else 0.0)})")
    return led, raw


# -- the measurements ----------------------------------------------------------------


def sequential_singles(target: Target, items: Sequence[NewEntry], rounds: int, max_s: float,
                       *, locked: bool = False) -> tuple[Side, Side]:
    """(i) ``store.append`` one at a time against one raw insert+commit at a time;
    ``locked``: on the path before 0016_append (PostgreSQL: head lock, then statements)."""
    what = "single_locked" if locked else "single"
    ledger = LedgerSide(target, what, locked=locked)
    raw = RawSide(target, "raw_" + what)

    def ledger_round(chunk: Sequence[NewEntry], expired: Expired) -> RoundResult:
        done = 0
        before = ledger.store.commits
        started = time.perf_counter()
        for item in chunk:
            ledger.store.append(ledger.name, item, now())
            done += 1
            if expired():
                break
        return done, time.perf_counter() - started, ledger.store.commits - before, 0

    def raw_round(data: Sequence[bytes], expired: Expired) -> RoundResult:
        done = 0
        rows = raw.take(data)
        started = time.perf_counter()
        for idx, d in rows:
            with raw.transaction() as conn:
                conn.execute(raw.insert, {"idx": idx, "data": d})
            done += 1
            if expired():
                break
        return done, time.perf_counter() - started, done, 0

    return compare("sequential singles", items, rounds, max_s, ledger_round, ledger.read_back,
                   raw_round)


def concurrent_singles(target: Target, items: Sequence[NewEntry], n_threads: int, rounds: int,
                       max_s: float) -> tuple[Side, Side]:
    """(ii) ``Sequencer.append`` from threads against raw insert+commit from threads."""
    ledger = LedgerSide(target, "sequencer")
    raw = RawSide(target, "raw_threads")
    seq = Sequencer(ledger.store, now)
    errors: list[BaseException] = []

    def ledger_round(chunk: Sequence[NewEntry], expired: Expired) -> RoundResult:
        before = ledger.store.commits
        work = sequencer_work(seq, ledger.name, chunk, n_threads, errors)
        done, failed, seconds = in_threads(n_threads, work, expired)
        return done, seconds, ledger.store.commits - before, failed

    def raw_round(data: Sequence[bytes], expired: Expired) -> RoundResult:
        rows = raw.take(data)

        def work(k: int, expired: Expired) -> tuple[int, int]:
            done = failed = 0
            for idx, d in rows[k::n_threads]:
                if expired():
                    break
                try:
                    with raw.transaction() as conn:
                        conn.execute(raw.insert, {"idx": idx, "data": d})
                    done += 1
                except Exception as exc:
                    failed += 1
                    errors.append(exc)
            return done, failed

        done, failed, seconds = in_threads(n_threads, work, expired)
        return done, seconds, done, failed

    try:
        result = compare(f"{n_threads} threads", items, rounds, max_s, ledger_round,
                         ledger.read_back, raw_round)
    finally:
        seq.close()
    if errors:
        say(f"  {len(errors)} concurrent writes failed, the first: {errors[0]!r}")
    return result


def batches(target: Target, items: Sequence[NewEntry], batch: int, rounds: int, max_s: float
            ) -> tuple[Side, Side]:
    """(b) ``append_batch`` against ``executemany``, ``batch`` entries per transaction."""
    ledger = LedgerSide(target, "batched")
    raw = RawSide(target, "raw_batched")

    def ledger_round(chunk: Sequence[NewEntry], expired: Expired) -> RoundResult:
        done = commits = 0
        started = time.perf_counter()
        for lo in range(0, len(chunk), batch):
            part = chunk[lo : lo + batch]
            ledger.store.append_batch(ledger.name, part, now())
            done += len(part)
            commits += 1
            if expired():
                break
        return done, time.perf_counter() - started, commits, 0

    def raw_round(data: Sequence[bytes], expired: Expired) -> RoundResult:
        done = commits = 0
        rows = raw.take(data)
        started = time.perf_counter()
        for lo in range(0, len(rows), batch):
            params = [{"idx": idx, "data": d} for idx, d in rows[lo : lo + batch]]
            with raw.transaction() as conn:
                conn.execute(raw.insert, params)
            done += len(params)
            commits += 1
            if expired():
                break
        return done, time.perf_counter() - started, commits, 0

    return compare(f"batches of {batch:,}", items, rounds, max_s, ledger_round,
                   ledger.read_back, raw_round)


# -- one database --------------------------------------------------------------------


def settings_note(target: Target) -> str:
    engine = target.engine("settings")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            jm = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return (f"{target.label}: journal_mode={jm}, synchronous="
                    f"{names.get(int(sync or 0), sync)}, a fresh database file per measurement")
        ver = conn.execute(text("SHOW server_version")).scalar()
        sc = conn.execute(text("SHOW synchronous_commit")).scalar()
        fs = conn.execute(text("SHOW fsync")).scalar()
        return f"{target.label}: server {ver}, synchronous_commit={sc}, fsync={fs}"


@dataclass(frozen=True)
class FreshLog:
    """The rates measured on fresh logs, baselines for the large-log figures."""

    sequencer: Side
    raw_threads: Side
    batched: Side
    raw_batched: Side


def measure(target: Target, items: Sequence[NewEntry], n_threads: int, batch: int,
            rounds: int, max_s: float) -> tuple[list[Figure], FreshLog]:
    bench = f"append/{target.label}"
    n = len(items)
    figures: list[Figure] = []

    say(f"[append/{target.label}] (i) sequential single appends vs raw insert+commit: "
        f"{n:,} entries in {rounds} alternating rounds (<= {max_s:.0f} s a side)")
    led, raw = sequential_singles(target, items, rounds, max_s)
    figures.append(show(Figure(
        bench, "single appends, sequential (1 per transaction)", led.per_s, "entries/s",
        rate(led.per_s),
        [Baseline("raw SQLAlchemy insert+commit of the same bytes, sequential", raw.per_s,
                  rate(raw.per_s))],
        f">= {GOAL_SINGLE:,.0f}/s", led.per_s >= GOAL_SINGLE,
        {"ledger": led.detail(), "raw": raw.detail()})))
    if target.pg_url is not None:
        say(f"[append/{target.label}] (i') the same on the locked path (before 0016_append: "
            "the head's lock first, then one statement per table)")
        old, old_raw = sequential_singles(target, items, rounds, max_s, locked=True)
        ratio = led.per_s / raw.per_s if raw.per_s else 0.0
        old_ratio = old.per_s / old_raw.per_s if old_raw.per_s else 0.0
        figures.append(show(Figure(
            bench, "single appends, sequential: ratio to raw insert+commit", ratio, "ratio",
            f"{ratio:.2f} ({rate(led.per_s)} vs {rate(raw.per_s)})",
            [Baseline("the locked path (before 0016_append), ratio to its own raw rounds",
                      old_ratio, f"{old_ratio:.2f} ({rate(old.per_s)} vs "
                                 f"{rate(old_raw.per_s)})")],
            f">= {GOAL_PG_SINGLE_RATIO:.2f}", ratio >= GOAL_PG_SINGLE_RATIO,
            {"ledger": led.detail(), "raw": raw.detail(), "locked": old.detail(),
             "locked_raw": old_raw.detail()})))

    say(f"[append/{target.label}] (ii) Sequencer group commit from {n_threads} threads vs raw "
        f"insert+commit from {n_threads} threads")
    led2, raw2 = concurrent_singles(target, items, n_threads, rounds, max_s)
    per_commit = led2.done / led2.commits if led2.commits else 0.0
    figures.append(show(Figure(
        bench, f"single appends via Sequencer, {n_threads} threads", led2.per_s,
        "entries/s", f"{rate(led2.per_s)} ({per_commit:.1f}/commit)",
        [Baseline(f"raw insert+commit of the same bytes, {n_threads} threads", raw2.per_s,
                  rate(raw2.per_s)),
         Baseline("raw insert+commit, sequential (above)", raw.per_s, rate(raw.per_s))],
        f">= {GOAL_SINGLE:,.0f}/s", led2.per_s >= GOAL_SINGLE,
        {"ledger": led2.detail(), "raw": raw2.detail(), "threads": n_threads})))

    say(f"[append/{target.label}] (b) append_batch vs executemany, {batch:,} per transaction")
    led3, raw3 = batches(target, items, batch, rounds, max_s)
    ratio = led3.per_s / raw3.per_s if raw3.per_s else 0.0
    figures.append(show(Figure(
        bench, f"batched appends ({batch:,}/transaction)", led3.per_s, "entries/s",
        rate(led3.per_s),
        [Baseline(f"raw executemany of the same bytes, {batch:,}/transaction", raw3.per_s,
                  rate(raw3.per_s))],
        f">= {GOAL_BATCH_RATIO:.0%} of raw", ratio >= GOAL_BATCH_RATIO,
        {"ledger": led3.detail(), "raw": raw3.detail(), "batch": batch})))
    return figures, FreshLog(led2, raw2, led3, raw3)


def large_log(work: Path, n: int, items: Sequence[NewEntry], n_threads: int, batch: int,
              max_s: float, fresh: FreshLog) -> list[Figure]:
    """(c) Sequencer and batched appends into a scratch copy of the large log."""
    ds = _dataset.ensure(n)
    copy = work / "large"
    copy.mkdir()
    mb = (ds.base / "ledger.db").stat().st_size / 1e6
    say(f"[append/large] copying the {n:,}-entry log ({mb:,.0f} MB) to a scratch file")
    shutil.copyfile(ds.base / "ledger.db", copy / "ledger.db")
    shutil.copytree(ds.key_dir, copy / "keys")
    # The large log already holds the sample's idempotency keys: use new ones.
    again = [replace(e, idempotency_key=None if e.idempotency_key is None
                     else "again-" + e.idempotency_key) for e in items]
    half = len(again) // 2
    name = _dataset.LOG
    engine = make_engine(f"sqlite:///{copy / 'ledger.db'}")
    try:
        store = CountingStore(engine, copy / "keys", entry_types())
        say(f"[append/large] Sequencer from {n_threads} threads into the {n:,}-entry log "
            f"(<= {max_s:.0f} s)")
        seq = Sequencer(store, now)
        errors: list[BaseException] = []
        try:
            done, failed, seconds = in_threads(
                n_threads, sequencer_work(seq, name, again[:half], n_threads, errors),
                budget(Side(), max_s))
        finally:
            seq.close()
        if errors:
            say(f"  {len(errors)} appends failed, the first: {errors[0]!r}")
        seq_side = Side(done, seconds, store.commits, failed)
        say(f"  {rate(seq_side.per_s)}, {seq_side.commits} commits")
        say(f"[append/large] append_batch of {batch:,} into the {n:,}-entry log "
            f"(<= {max_s:.0f} s)")
        batch_side = Side()
        expired = budget(batch_side, max_s)
        rest = again[half:]
        started = time.perf_counter()
        for lo in range(0, len(rest), batch):
            part = rest[lo : lo + batch]
            store.append_batch(name, part, now())
            batch_side.add(len(part), 0.0, 1)
            if expired():
                break
        batch_side.seconds = time.perf_counter() - started
        say(f"  {rate(batch_side.per_s)}, {batch_side.commits} commits")
    finally:
        engine.dispose()
    p = f"[{n:,}-entry log] "
    per_commit = seq_side.done / seq_side.commits if seq_side.commits else 0.0
    ratio = batch_side.per_s / fresh.raw_batched.per_s if fresh.raw_batched.per_s else 0.0
    return [
        show(Figure(
            "append/sqlite", f"{p}single appends via Sequencer, {n_threads} threads",
            seq_side.per_s, "entries/s", f"{rate(seq_side.per_s)} ({per_commit:.1f}/commit)",
            [Baseline("the same into a fresh log (above)", fresh.sequencer.per_s,
                      rate(fresh.sequencer.per_s)),
             Baseline(f"raw insert+commit, {n_threads} threads (above)",
                      fresh.raw_threads.per_s, rate(fresh.raw_threads.per_s))],
            f">= {GOAL_SINGLE:,.0f}/s", seq_side.per_s >= GOAL_SINGLE,
            {"ledger": seq_side.detail(), "log_size": n, "threads": n_threads})),
        show(Figure(
            "append/sqlite", f"{p}batched appends ({batch:,}/transaction)", batch_side.per_s,
            "entries/s", rate(batch_side.per_s),
            [Baseline(f"raw executemany, {batch:,}/transaction (above)",
                      fresh.raw_batched.per_s, rate(fresh.raw_batched.per_s)),
             Baseline("the same into a fresh log (above)", fresh.batched.per_s,
                      rate(fresh.batched.per_s))],
            f">= {GOAL_BATCH_RATIO:.0%} of raw", ratio >= GOAL_BATCH_RATIO,
            {"ledger": batch_side.detail(), "log_size": n, "batch": batch})),
    ]


def run(entries_n: int = 20_000, threads: int = 16, batch: int = 1_000, rounds: int = 4,
        max_seconds: float = 20.0, pg_url: str | None = None, large_log_n: int = 0,
        build_large: bool = False) -> tuple[list[Figure], list[str]]:
    """Every append measurement; returns the figures and notes on the settings.

    ``large_log_n``: also append into a copy of the cached log of that size (built
    first only with ``build_large``; 0 skips it).
    """
    say(f"[append] generating {entries_n:,} sample entries")
    items = [e for _, e in islice(sample_events(entries_n, START), entries_n)]
    figures: list[Figure] = []
    notes: list[str] = []
    with scratch_dir("append") as work:
        target = Target("sqlite", work)
        try:
            notes.append(settings_note(target))
            got, fresh = measure(target, items, threads, batch, rounds, max_seconds)
            figures += got
        finally:
            target.close()
        if large_log_n and (build_large or _dataset.is_cached(large_log_n)):
            figures += large_log(work, large_log_n, items, threads, batch, max_seconds / 2,
                                 fresh)
        else:
            msg = ("large-log append benchmark skipped: " +
                   ("disabled" if not large_log_n else
                    f"no cached {large_log_n:,}-entry log (run bench_verify.py first, or "
                    "pass --build-large)"))
            say(f"[append] {msg}")
            notes.append(msg)
        if pg_url:
            pg = Target("postgresql", work / "pg", pg_url)
            try:
                notes.append(settings_note(pg))
                figures += measure(pg, items, threads, batch, rounds, max_seconds)[0]
            finally:
                pg.close()
        else:
            msg = f"PostgreSQL append benchmark skipped: {PG_ENV} is not set"
            say(f"[append] {msg}")
            notes.append(msg)
    return figures, notes


def add_measurement_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the append measurements (shared with ``run_all``)."""
    parser.add_argument("--append-entries", type=int, default=20_000,
                        help="entries per append measurement (default 20,000)")
    parser.add_argument("--threads", type=int, default=16,
                        help="threads for the concurrent measurements (default 16)")
    parser.add_argument("--batch", type=int, default=1_000,
                        help="entries per transaction when batching (default 1,000)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating ledger/raw rounds per comparison (default 4)")
    parser.add_argument("--max-seconds", type=float, default=20.0,
                        help="stop either side of a comparison after this long (default 20)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_measurement_arguments(parser)
    parser.add_argument("--large-log", type=int, default=1_000_000, metavar="N",
                        help="also append into a copy of the cached N-entry log of "
                             "bench_verify, if cached (default 1,000,000; 0: no)")
    parser.add_argument("--build-large", action="store_true",
                        help="build that log first if it is not cached")
    parser.add_argument("--pg", action="store_true",
                        help=f"measure on a throwaway PostgreSQL server if {PG_ENV} is unset")


def run_from_args(args: argparse.Namespace) -> tuple[list[Figure], list[str]]:
    url = os.environ.get(PG_ENV) or None
    with throwaway_postgres(args.pg and url is None) as create:
        return run(args.append_entries, args.threads, args.batch, args.rounds,
                   args.max_seconds, url or (create() if create else None), args.large_log,
                   args.build_large)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, argv=argv)
    timed_report("append benchmark", "append", lambda: run_from_args(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
