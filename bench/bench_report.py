"""A signed archive report of 10,000 decisions (goal: <= 20 s and <= 1 GiB peak RSS).

Setup (not measured): the sweep benchmark's cached campaign (``bench_sweep.cached_sqlite``:
candidates, windows, platform events), copied to scratch and swept once so that every
window has a decision.

Measured: ``absentia report generate`` as its own process (as the web and the scheduler
start it): wall time and that process's peak RSS (``os.wait4`` rusage, ``ru_maxrss``).

Baseline, same run, same rows, same fonts: a naive WeasyPrint rendering of one big HTML
table (automatic table layout, one ``<table>``), unsigned, nothing embedded, in its own
process, measured the same way.

Run: ``.venv/bin/python bench/bench_report.py [--decisions N]``.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Baseline, Figure, report, say, scratch_dir, show, table
from bench.bench_ingest import CAMPAIGN, open_service, write_config
from bench.bench_sweep import SWEEP_AT, cached_sqlite

GOAL_S = 20.0
GOAL_RSS_MIB = 1024.0
GOAL_DECISIONS = 10_000


def timed_child(cmd: list[str], log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit status) of ``cmd`` run as a child process."""
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, proc.returncode


def naive_render(data: Path, config: Path, out: Path) -> None:
    """One big table of the same rows, same fonts, WeasyPrint defaults (the baseline)."""
    import weasyprint  # type: ignore[import-untyped]

    from ledger.absence.queries.reports import report_decisions
    from ledger.merkle import leaf_hash as lh
    from ledger.storage.reads import entries_by_index

    _, store, service = open_service(data, config, SWEEP_AT)
    rows = report_decisions(service.engine, CAMPAIGN)
    entries = entries_by_index(store, service.log, [r.index for r in rows])
    body = "".join(
        f"<tr><td>{n}</td><td>{html.escape(r.registration)}</td><td>{html.escape(r.post)}</td>"
        f"<td>{r.outcome}</td><td>{r.cause or '—'}</td><td>{r.index}</td>"
        f"<td>{lh(entries[r.index]).hex()}</td></tr>"
        for n, r in enumerate(rows, 1))
    doc = ("<html><head><style>html{font-family:'Noto Sans CJK SC';font-size:6.5pt}"
           "td.h{font-family:'Noto Sans Mono CJK SC'}</style></head><body><table><thead><tr>"
           "<th>#</th><th>报名号</th><th>岗位</th><th>结果</th><th>原因</th><th>Index</th>"
           f"<th>Leaf hash</th></tr></thead><tbody>{body}</tbody></table></body></html>")
    weasyprint.HTML(string=doc).write_pdf(out)
    store.engine.dispose()


def run(decisions: int, rebuild: bool = False) -> tuple[list[Figure], list[str]]:
    base = cached_sqlite(decisions, rebuild)
    notes: list[str] = []
    with scratch_dir("report") as work:
        shutil.copytree(base / "data", work / "data")
        data = work / "data"
        config = write_config(data, "sqlite:///{data}/absentia.db", "FULL")
        _, store, service = open_service(data, config, SWEEP_AT)
        say(f"[report] sweeping {decisions:,} windows (setup, not measured)")
        service.sweep(SWEEP_AT)
        store.engine.dispose()
        exe = str(Path(sys.executable).with_name("absentia"))
        say("[report] absentia report generate (measured)")
        wall, rss, code = timed_child(
            [exe, "report", "generate", "--data", str(data), "--config", str(config),
             "--campaign", CAMPAIGN, "--out", str(work / "report.pdf")], work / "gen.log")
        log = (work / "gen.log").read_text(errors="replace")
        if code != 0:
            raise RuntimeError(f"report generate failed ({code}):\n{log}")
        say(log.rstrip())
        size_mib = (work / "report.pdf").stat().st_size / 2**20
        say("[report] naive single-table rendering (baseline)")
        nwall, nrss, ncode = timed_child(
            [sys.executable, __file__, "--naive", str(data), str(config),
             str(work / "naive.pdf")], work / "naive.log")
        if ncode != 0:
            notes.append("naive baseline failed: "
                         + (work / "naive.log").read_text(errors="replace")[-500:])
        say("[report] absentia report verify (not a goal, for information)")
        vwall, vrss, vcode = timed_child([exe, "report", "verify", str(work / "report.pdf")],
                                         work / "verify.log")
        notes.append(f"report: {size_mib:.1f} MiB; verify exit {vcode} in {vwall:.1f} s, "
                     f"{vrss:.0f} MiB")
    time_fig = show(Figure(
        "report", f"signed PDF/A-3b report of {decisions:,} decisions (wall)", wall, "s",
        f"{wall:.1f} s", [Baseline("naive one-table WeasyPrint render", nwall,
                                   f"{nwall:.1f} s")],
        f"<= {GOAL_S:.0f} s", wall <= GOAL_S))
    rss_fig = show(Figure(
        "report", "peak RSS of the generate process", rss, "MiB", f"{rss:.0f} MiB",
        [Baseline("naive one-table WeasyPrint render", nrss, f"{nrss:.0f} MiB")],
        f"<= {GOAL_RSS_MIB:.0f} MiB", rss <= GOAL_RSS_MIB))
    return [time_fig, rss_fig], notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--decisions", type=int, default=GOAL_DECISIONS,
                        help=f"windows decided and reported (default {GOAL_DECISIONS:,})")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached setup")
    parser.add_argument("--write-results", action="store_true",
                        help="also overwrite bench/results.json (as run_all does)")
    parser.add_argument("--naive", nargs=3, metavar=("DATA", "CONFIG", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive:
        naive_render(Path(args.naive[0]), Path(args.naive[1]), Path(args.naive[2]))
        return 0
    started = time.perf_counter()
    figures, notes = run(args.decisions, args.rebuild)
    if args.write_results:
        report("report", figures, {"report": time.perf_counter() - started}, notes)
    else:
        print("\n== report ==\n" + table(figures))
        for n in notes:
            print(f"note: {n}")
        print(f"run time: {time.perf_counter() - started:.1f} s")
    return 0 if all(f.goal_met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
