"""What the benchmarks share: figures beside same-run baselines, progress, table, JSON."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy

from tests.pgserver import PgServer

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"


def say(text: str) -> None:
    """A progress line on stderr (the figures go to stdout)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def rate(n: float) -> str:
    """``12,345/s``."""
    return f"{n:,.0f}/s"


def ms(seconds: float) -> str:
    """Seconds as milliseconds with 3 significant decimals: ``1.234 ms``."""
    return f"{seconds * 1000:.3f} ms"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Latency:
    """Latency percentiles of one set of requests, in seconds."""

    p50: float
    p90: float
    p99: float
    mean: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        s = sorted(samples)
        return cls(percentile(s, 50), percentile(s, 90), percentile(s, 99),
                   sum(s) / len(s) if s else float("nan"), len(s))

    def text(self) -> str:
        return (f"p50 {self.p50 * 1000:.3f} / p90 {self.p90 * 1000:.3f} / "
                f"p99 {self.p99 * 1000:.3f} ms")


@dataclass(frozen=True)
class Baseline:
    """A reference measured in the same run as the figure it stands beside."""

    name: str
    value: float
    text: str


@dataclass
class Figure:
    """One measured figure, its same-run baselines and its goal.

    ``ratio`` is always ``value / baseline.value`` in the figure's own unit (a rate, or a
    latency), so for rates above 1 is faster than the baseline and for latencies above
    1 is slower.
    """

    bench: str
    name: str
    value: float
    unit: str
    text: str
    baselines: list[Baseline]
    goal: str
    goal_met: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def ratio(self, b: Baseline) -> float:
        return self.value / b.value if b.value else float("nan")

    def line(self) -> str:
        parts = [f"{self.bench}: {self.name}: {self.text}"]
        parts += [f"{b.name}: {b.text} | ratio {self.ratio(b):.3g}" for b in self.baselines]
        parts.append(f"goal {self.goal} ({'met' if self.goal_met else 'NOT met'})")
        return " | ".join(parts)


def show(fig: Figure) -> Figure:
    """Print a figure's line as soon as it is measured."""
    print(fig.line(), flush=True)
    return fig


class Progress:
    """Prints ``label: done/total (pct, rate, elapsed)`` at most every ``every_s`` seconds."""

    def __init__(self, label: str, every_s: float = 5.0) -> None:
        self.label = label
        self.every_s = every_s
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.started
        pct = 100.0 * done / total if total else 100.0
        per_s = done / elapsed if elapsed > 0 else 0.0
        say(f"  {self.label}: {done:,}/{total:,} ({pct:5.1f} %, {per_s:,.0f}/s, "
            f"{elapsed:.1f} s)")


def table(figures: Sequence[Figure]) -> str:
    """The figures as a plain-text table, one row per (figure, baseline)."""
    head = ("benchmark", "figure", "baseline (same run)", "baseline figure", "ratio", "goal",
            "met")
    rows: list[tuple[str, ...]] = []
    for f in figures:
        for i, b in enumerate(f.baselines or [Baseline("-", float("nan"), "-")]):
            first = i == 0
            rows.append((
                f"{f.bench}: {f.name}" if first else "",
                f.text if first else "",
                b.name,
                b.text,
                f"{f.ratio(b):.3g}",
                f.goal if first else "",
                ("yes" if f.goal_met else "NO") if first else "",
            ))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([fmt(head), rule, *(fmt(r) for r in rows)])


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews figures)."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def environment() -> dict[str, Any]:
    """What the figures depend on besides the code."""
    return {
        "load_average_at_end": load_average(),
        "python": sys.version.split()[0],
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_results(figures: Sequence[Figure], durations: dict[str, float],
                  notes: Sequence[str] = (), path: Path = RESULTS_JSON) -> Path:
    """Overwrite ``path`` with the figures of this run."""
    doc = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "durations_s": {k: round(v, 2) for k, v in durations.items()},
        "notes": list(notes),
        "figures": [
            {**asdict(f), "ratios": [f.ratio(b) for b in f.baselines]} for f in figures
        ],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def report(title: str, figures: Sequence[Figure], durations: dict[str, float],
           notes: Sequence[str] = ()) -> None:
    """Print the final table and write ``bench/results.json``."""
    print()
    print(f"== {title} ==")
    print(table(figures))
    for n in notes:
        print(f"note: {n}")
    print("run time: " + ", ".join(f"{k} {v:.1f} s" for k, v in durations.items()))
    print(f"machine: {os.cpu_count()} CPUs, load average now {load_average()} (1/5/15 min)")
    path = write_results(figures, durations, notes)
    print(f"results written to {path.relative_to(BENCH_DIR.parent)}", flush=True)


def parse_args(doc: str | None, *adders: Callable[[argparse.ArgumentParser], None],
               argv: list[str] | None = None) -> argparse.Namespace:
    """A benchmark's command line: its docstring's first line and each adder's options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    for add in adders:
        add(parser)
    return parser.parse_args(argv)


def timed_report(title: str, key: str,
                 run: Callable[[], tuple[list[Figure], list[str]]]) -> list[Figure]:
    """Run one benchmark, then ``report`` its figures with its run time under ``key``."""
    started = time.perf_counter()
    figures, notes = run()
    report(title, figures, {key: time.perf_counter() - started}, notes)
    return figures


@contextmanager
def throwaway_postgres(wanted: bool) -> Iterator[Callable[[], str] | None]:
    """``create_database`` of a throwaway PostgreSQL server (stopped after), or None."""
    if not wanted:
        yield None
        return
    say("[postgresql] starting a throwaway server")
    server = PgServer(external_url="")
    server.start()
    try:
        yield server.create_database
    finally:
        server.stop()


@contextmanager
def scratch_dir(bench: str, keep: bool = False) -> Iterator[Path]:
    """A fresh work directory ``<tmp>/absentia-bench-<bench>-*``, removed afterwards
    (kept, and its path said, with ``keep``: a benchmark's ``--keep``)."""
    work = Path(tempfile.mkdtemp(prefix=f"absentia-bench-{bench}-"))
    try:
        yield work
    finally:
        if keep:
            say(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


class Stoppable(Protocol):
    """Anything with a ``stop()``: a benchmark's server process."""

    def stop(self) -> None: ...


@contextmanager
def stopped_after(things: Sequence[Stoppable]) -> Iterator[None]:
    """Stop each of ``things`` on leaving (those appended to the list inside, too)."""
    try:
        yield
    finally:
        for thing in things:
            thing.stop()


def add_event_load_arguments(parser: argparse.ArgumentParser, prefix: str, *,
                             seconds: float, warmup: float, per: str, servers: str,
                             seconds_unset: bool = False) -> None:
    """The options of a load of signed platform events (``bench_ingest``, ``bench_load``):
    ``--<prefix>-candidates``, ``-seconds`` (measured ``seconds`` per ``per``; with
    ``seconds_unset`` it defaults to None, and the caller uses ``seconds`` unless a
    ``--quick`` chose otherwise), ``-warmup``, ``-batch``, ``-clients``, ``-connections``
    and ``-workers`` (gunicorn workers of ``servers``)."""

    def option(name: str, kind: type[float], default: float | None, text: str) -> None:
        parser.add_argument(f"--{prefix}-{name}", type=kind, default=default, help=text)

    option("candidates", int, 2_000,
           "candidates (= open windows) the events go to (default 2,000)")
    option("seconds", float, None if seconds_unset else seconds,
           f"measured seconds per {per} (default {seconds:g})")
    option("warmup", float, warmup,
           f"warm-up seconds before each phase, not counted (default {warmup:g})")
    option("batch", int, 20, "events per delivery in the batch phase (default 20)")
    option("clients", int, 2, "client processes sending the events (default 2)")
    option("connections", int, 16, "keep-alive connections per client process (default 16)")
    option("workers", int, 2, f"gunicorn workers of {servers} (default 2)")
