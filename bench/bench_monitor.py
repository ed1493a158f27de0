"""``absentia monitor`` following a log that grows at 1,000 entries/s: lag and CPU.

A writer (this process) appends sample events to a real SQLite store at ``--rate``
entries/s (default 1,000), signs a checkpoint every ``--checkpoint-every`` seconds and
publishes it to a tlog-tiles directory the way a static mirror does (the changed tiles
first, the checkpoint last, by rename).  The monitor runs as its own process
(``python -m ledger.monitor_run DIR --interval 1 --metrics FILE``) for ``--seconds``
(default 60).  Sampled every 0.25 s: the entries the monitor trusts (its metrics file)
beside the head, and the lag in seconds (now minus the time the head reached the size the
monitor trusts).  Figures: the worst lag (goal <= 5 s) and the monitor's CPU (user+system
seconds from /proc per wall second).  Baselines in the same run: the writer's own CPU, and
``verify_log`` re-run from scratch on the final export (the cost of re-verifying every
interval instead of following).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Baseline, Figure, parse_args, percentile, say, show, timed_report
from ledger.app.registry import entry_types
from ledger.app.samples import append_sample_events
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.tiles import bundles_for_size, tiles_for_size
from ledger.verify import DirectorySource, verify_log
from ledger.witness.client import cosigned_note

GOAL_LAG_S = 5.0
LOG = "bench-monitor"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--monitor-seconds", type=float, default=60.0,
                        help="how long the log grows with the monitor following (default 60)")
    parser.add_argument("--monitor-rate", type=float, default=1000.0,
                        help="entries appended per second (default 1,000)")
    parser.add_argument("--checkpoint-every", type=float, default=1.0,
                        help="seconds between published checkpoints (default 1)")


def _publish(store: LedgerStore, out: Path, old: int) -> int:
    """Sign a checkpoint and write what changed since size ``old``; return the new size."""
    cp = store.sign_checkpoint(LOG, T0)
    before = set(bundles_for_size(old)) | set(tiles_for_size(old))
    for ref in [*bundles_for_size(cp.size), *tiles_for_size(cp.size)]:
        if ref not in before:
            _write(out / ref.path(), store.tile(LOG, ref, strict=False))
    _write(out / "checkpoint", cosigned_note(store, LOG, cp).encode())
    return cp.size


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name.replace("/", "_") + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_SIZE = re.compile(r"^absentia_monitor_log_size\{[^}]*\} (\d+)$", re.M)


def run(seconds: float = 60.0, rate_per_s: float = 1000.0,
        checkpoint_every: float = 1.0) -> tuple[list[Figure], list[str]]:
    """Grow a log for ``seconds`` with a monitor process following; figures and notes."""
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp_text:
        tmp = Path(tmp_text)
        store = LedgerStore(make_engine(f"sqlite:///{tmp}/l.db"), tmp / "keys", entry_types())
        upgrade(store.engine)
        store.create_log(LOG, "bench.example/monitor", T0)
        export, metrics = tmp / "export", tmp / "monitor.prom"
        published = _publish(store, export, 0)
        vkeys = store.log(LOG).verifier_keys
        cmd = [sys.executable, "-m", "ledger.monitor_run", str(export), "--state",
               str(tmp / "state"), "--interval", "1", "--metrics", str(metrics), "--quiet"]
        for k in vkeys:
            cmd += ["--key", k]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        reached: list[tuple[float, int]] = [(time.monotonic(), 0)]  # (when, head size)
        lags: list[float] = []
        lag_entries: list[int] = []
        say(f"[monitor] growing the log at {rate_per_s:,.0f} entries/s for {seconds:.0f} s")
        started = time.monotonic()
        cpu0 = time.process_time()
        next_cp = started + checkpoint_every
        next_sample = started + 0.25
        appended = 0
        try:
            while (now := time.monotonic()) < started + seconds:
                due = int(rate_per_s * (now - started)) - appended
                if due > 0:
                    append_sample_events(store, LOG, min(due, 500), T0, seed=appended,
                                         batch_size=100)
                    appended += min(due, 500)
                    reached.append((time.monotonic(), appended))
                if now >= next_cp:
                    published = _publish(store, export, published)
                    next_cp += checkpoint_every
                if now >= next_sample:
                    next_sample += 0.25
                    m = _SIZE.search(metrics.read_text()) if metrics.exists() else None
                    trusted = int(m.group(1)) if m else 0
                    since = next((t for t, s in reached if s >= trusted), reached[-1][0])
                    lags.append(time.monotonic() - since)
                    lag_entries.append(appended - trusted)
                time.sleep(0.005)
            writer_cpu = time.process_time() - cpu0
            wall = time.monotonic() - started
            monitor_cpu = _cpu_seconds(proc.pid)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=60)
        alerts = [ln for ln in err.splitlines() if ln.startswith("ALERT")]
        if alerts:
            raise RuntimeError(f"the monitor alerted on a genuine log: {alerts[:3]}")
        say(f"[monitor] baseline: verify_log from scratch over the final {published:,} entries")
        t0 = time.process_time()
        verify_log(DirectorySource(export), store.verifiers(LOG), jobs=1)
        verify_cpu = time.process_time() - t0
        store.engine.dispose()
    steady = sorted(lags[len(lags) // 10:])  # the first tenth: the monitor process starting
    worst = max(steady) if steady else float("nan")
    per_wall = monitor_cpu / wall
    baselines_cpu = [
        Baseline("the writer's own CPU (append + sign + publish)", writer_cpu / wall,
                 f"{writer_cpu / wall:.3f} CPU-s/s"),
        Baseline("verify_log from scratch every 1 s interval at the final size",
                 verify_cpu / 1.0, f"{verify_cpu:.3f} CPU-s/s ({published:,} entries)"),
    ]
    lag_baseline = [Baseline("verify_log from scratch once at the final size (CPU s)",
                             verify_cpu, f"{verify_cpu:.2f} s")]
    figures = [
        show(Figure("monitor", f"lag behind the head at {rate_per_s:,.0f} entries/s",
                    worst, "s",
                    f"max {worst:.2f} s, p50 {percentile(steady, 50):.2f} s, max "
                    f"{max(lag_entries[len(lag_entries) // 10:] or [0]):,} entries",
                    lag_baseline, f"<= {GOAL_LAG_S:g} s", worst <= GOAL_LAG_S,
                    {"samples": len(steady), "entries": published, "wall_s": round(wall, 1)})),
        show(Figure("monitor", "monitor CPU while following", per_wall, "CPU-s/s",
                    f"{per_wall:.3f} CPU-s/s ({monitor_cpu:.2f} s over {wall:.0f} s)",
                    baselines_cpu, "well below a from-scratch verify each interval",
                    per_wall < verify_cpu, {"monitor_cpu_s": round(monitor_cpu, 3)})),
    ]
    notes = [f"monitor: {published:,} entries published in {wall:.0f} s "
             f"({published / wall:,.0f} entries/s reached by the writer); load average "
             f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())} (shared machine: noisy)"]
    return figures, notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, add_arguments, argv=argv)
    timed_report("monitor benchmark", "monitor",
                 lambda: run(args.monitor_seconds, args.monitor_rate, args.checkpoint_every))
    return 0


if __name__ == "__main__":
    sys.exit(main())
