"""Offline verification of a large exported log, beside hashlib and plain reading.

Builds (or reuses, see ``bench/_dataset.py``) a log of ``--entries`` entries (default
1,000,000) exported as tlog-tiles, then times ``verify_log(..., jobs=1)`` and
``jobs=2``.  Baselines, measured in the same run over the same export: reading and
decoding every entry bundle and level-0 tile (``decode_bundle``/``split_tile``), and
``hashlib.sha256(b"\\x00" + entry)`` over every entry read from the bundles (leaf
hashing, the least any verifier must do).  Goal: >= 200,000 entries/s (1M in <= 5 s).
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _dataset
from bench._common import Baseline, Figure, Progress, parse_args, rate, say, show, timed_report
from ledger.errors import VerificationError
from ledger.tiles import TileRef, bundles_for_size, decode_bundle, split_tile
from ledger.verify import DirectorySource, verify_log

GOAL_RATE = 200_000.0


def read_and_hash(export: Path, size: int) -> tuple[float, float, int, int]:
    """One pass over the bundles: (read+decode seconds, hashing seconds, entries, bytes).

    Reading covers both files ``verify_log`` reads per bundle (the bundle and its level-0
    tile) and splitting them; hashing is ``sha256(0x00 || entry)`` of every entry.
    """
    sha256 = hashlib.sha256
    clock = time.perf_counter
    read_s = hash_s = 0.0
    n = nbytes = 0
    for ref in bundles_for_size(size):
        t0 = clock()
        raws = decode_bundle((export / ref.path()).read_bytes())
        split_tile((export / TileRef(0, ref.index, ref.width).path()).read_bytes())
        t1 = clock()
        for raw in raws:
            sha256(b"\x00" + raw).digest()
        hash_s += clock() - t1
        read_s += t1 - t0
        n += len(raws)
        nbytes += sum(len(r) for r in raws)
    return read_s, hash_s, n, nbytes


def run(entries_n: int = 1_000_000, rebuild: bool = False) -> tuple[list[Figure], list[str]]:
    """Verify with jobs=1 and jobs=2; returns the figures and notes."""
    ds = _dataset.ensure(entries_n, rebuild)
    engine = ds.engine()
    try:
        verifiers = ds.store(engine).verifiers(_dataset.LOG)
    finally:
        engine.dispose()
    size = ds.size
    goal_s = size / GOAL_RATE
    goal = f">= {GOAL_RATE:,.0f} entries/s ({size:,} in <= {goal_s:.2f} s)"

    say(f"[verify] warming the page cache, then the baselines over {size:,} entries")
    read_and_hash(ds.export_dir, size)  # untimed: every run then reads from the page cache
    read_s, hash_s, n, nbytes = read_and_hash(ds.export_dir, size)
    if n != size:
        raise RuntimeError(f"the export holds {n} entries, expected {size}")
    baselines = [
        Baseline("hashlib sha256(0x00||entry) of the same entries", n / hash_s,
                 f"{rate(n / hash_s)} ({hash_s:.2f} s)"),
        Baseline("read+decode bundles and level-0 tiles", n / read_s,
                 f"{rate(n / read_s)} ({read_s:.2f} s)"),
        Baseline("read+decode+hash (sum of both)", n / (read_s + hash_s),
                 f"{rate(n / (read_s + hash_s))} ({read_s + hash_s:.2f} s)"),
    ]
    say(f"  {n:,} entries, {nbytes / n:.0f} bytes each on average: read+decode "
        f"{read_s:.2f} s, hashing {hash_s:.2f} s")

    figures: list[Figure] = []
    for jobs in (1, 2):
        say(f"[verify] verify_log(jobs={jobs}) over {size:,} entries")
        started = time.perf_counter()
        try:
            rep = verify_log(DirectorySource(ds.export_dir), verifiers, jobs=jobs,
                             progress=Progress(f"verify jobs={jobs}"))
        except VerificationError as exc:
            raise RuntimeError(
                f"the cached export in {ds.base} does not verify ({exc}); if the code "
                "changed since it was built, pass --rebuild") from exc
        seconds = time.perf_counter() - started
        if rep.entries != size:
            raise RuntimeError(f"verify_log checked {rep.entries} entries, expected {size}")
        per_s = size / seconds
        figures.append(show(Figure(
            "verify", f"verify_log jobs={jobs}, {size:,} entries", per_s, "entries/s",
            f"{rate(per_s)} ({seconds:.2f} s)", baselines, goal, per_s >= GOAL_RATE,
            {"seconds": round(seconds, 3), "entries": rep.entries, "tiles": rep.tiles,
             "jobs": jobs, "baseline_read_s": round(read_s, 3),
             "baseline_hash_s": round(hash_s, 3), "dataset": ds.meta})))
    notes = [f"verify dataset: {size:,} entries in {ds.base} "
             f"({'reused' if ds.meta.get('reused') else 'built'}: appended in "
             f"{ds.meta['append_s']} s, exported in {ds.meta['export_s']} s, "
             f"{ds.meta['export_files']:,} files)"]
    return figures, notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, _dataset.add_arguments, argv=argv)
    timed_report("verify benchmark", "verify", lambda: run(args.entries, args.rebuild))
    return 0


if __name__ == "__main__":
    sys.exit(main())
