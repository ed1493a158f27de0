"""Registration-number search over 100,000 candidates (SQLite): the console's query
(``ledger.absence.queries.lists.candidate_list``, a range on the index
``(campaign, registration_key)``) beside two full scans of the same rows, in one run.

The schema is made by the migrations; the projection's candidate rows are inserted
directly in bulk (a benchmark of the read, not of the import).  Each search looks up a
random existing number typed in mixed case with spaces around it, and must find it.
Baselines: the same list with the filter written as ``lower(registration) LIKE 'x%'``
(the index is not used: every row of the campaign is read), and reading every row of
the campaign and matching in Python.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Baseline, Figure, ms, parse_args, say, show, timed_report
from ledger.absence.queries.lists import ListFilter, candidate_list
from ledger.absence.tables import subjects
from ledger.migrations import upgrade

CAMPAIGN = "bench-search"
TZ = "Asia/Shanghai"
GOAL_S = 0.005  # one search, median, on the index


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search-candidates", type=int, default=100_000,
                        help="candidates in the campaign (default 100,000)")
    parser.add_argument("--searches", type=int, default=200,
                        help="searches timed per method (default 200)")


def _fill(engine: Engine, n: int) -> list[str]:
    regs = [f"HR26-{i:06d}" for i in range(n)]
    rows = [{"subject": f"s{i:08d}", "campaign": CAMPAIGN, "post": f"p{i % 20:02d}",
             "registration": r, "registration_key": r.lower(), "commitment": "0" * 64,
             "contact": "email", "registered_index": i, "misses": 0, "locked": 0,
             "erased": 0} for i, r in enumerate(regs)]
    with engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(insert(subjects), rows[start:start + 10_000])
    return regs


def _median(fn: Callable[[str], int], typed: list[str]) -> float:
    times = []
    for t in typed:
        started = time.perf_counter()
        found = fn(t)
        times.append(time.perf_counter() - started)
        if found != 1:
            raise RuntimeError(f"search for {t!r} found {found} rows, expected 1")
    times.sort()
    return times[len(times) // 2]


def run(n: int, searches: int) -> tuple[list[Figure], list[str]]:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'search.db'}")
        try:
            upgrade(engine)
            say(f"[search] inserting {n:,} candidates")
            t0 = time.perf_counter()
            regs = _fill(engine, n)
            say(f"  inserted in {time.perf_counter() - t0:.1f} s")
            rng = random.Random(13)
            typed = [f"  {r.lower() if rng.random() < 0.5 else r} " for r in
                     rng.sample(regs, min(searches, n))]

            def indexed(t: str) -> int:
                return candidate_list(engine, CAMPAIGN, ListFilter(search=t), TZ).total

            def like(t: str) -> int:
                q = (select(func.count()).select_from(subjects)
                     .where(subjects.c.campaign == CAMPAIGN,
                            func.lower(subjects.c.registration).like(t.strip().lower() + "%")))
                with engine.connect() as conn:
                    return int(conn.execute(q).scalar_one())

            def read_all(t: str) -> int:
                key = t.strip().lower()
                with engine.connect() as conn:
                    rows = conn.execute(select(subjects.c.registration)
                                        .where(subjects.c.campaign == CAMPAIGN)).all()
                return sum(1 for r in rows if r.registration.lower().startswith(key))

            indexed(typed[0])  # warm the page cache for all three
            fast = _median(indexed, typed)
            scan = _median(like, typed)
            full = _median(read_all, typed[: max(1, len(typed) // 10)])
        finally:
            engine.dispose()
    fig = show(Figure(
        "search", f"registration search, {n:,} candidates (candidate_list, median)", fast,
        "s", ms(fast),
        [Baseline("lower(registration) LIKE (index not used)", scan, ms(scan)),
         Baseline("read every row, match in Python", full, ms(full))],
        f"<= {ms(GOAL_S)} a search", fast <= GOAL_S,
        {"candidates": n, "searches": len(typed), "like_s": scan, "read_all_s": full}))
    return [fig], [f"search: {len(typed)} searches per method (read-all: "
                   f"{max(1, len(typed) // 10)}), each found exactly one candidate"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, argv=argv)
    timed_report("search benchmark", "search",
                 lambda: run(args.search_candidates, args.searches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
