"""The public notice page through the production server under load (goal: >= 3,000
requests/s with p99 <= 50 ms, 64 connections, on this 2-core machine).

Setup (not measured): a campaign of ``--notice-candidates`` candidates decided and
published as a notice, in a scratch data directory; then ``absentia serve --workers 2``.
Load: ``wrk`` (Debian's package; ``scripts/system-packages.sh`` installs it) with 64
connections for ``--notice-seconds`` on ``GET /notices/<id>`` (the published bytes,
~0.5 KB a line).  Baseline, same run, same server, same wrk settings: ``GET /healthz``,
the smallest route the app has (the framework's own ceiling).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Baseline, Figure, rate, report, say, scratch_dir, show, stopped_after
from bench.bench_ingest import (
    CAMPAIGN,
    HR,
    THREADS,
    Server,
    free_port,
    open_service,
    populate,
    write_config,
)
from publicity.notices import publish

ABSENTIA = Path(sys.executable).parent / "absentia"
GOAL_RPS = 3000.0
GOAL_P99_MS = 50.0


def parse_wrk(text: str) -> tuple[float, float, int]:
    """(requests/s, p99 in ms, non-2xx/3xx + socket errors) from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([0-9.]+)(us|ms|s)\b", text)
    if m is None:
        raise RuntimeError(f"no p99 in wrk's output:\n{text}")
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+)"):
        for found in re.findall(pattern, text):
            errors += int(found)
    return rps, p99, errors


def wrk(url: str, seconds: float, connections: int) -> tuple[float, float, int, str]:
    # As a browser does, the client accepts gzip (the notice is stored compressed too).
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s",
                          "-H", "Accept-Encoding: gzip", "--latency", url],
                         capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout
    rps, p99, errors = parse_wrk(out)
    return rps, p99, errors, out


def run(candidates: int, seconds: float, connections: int = 64, threads: int = THREADS
        ) -> tuple[list[Figure], list[str]]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run scripts/system-packages.sh (apt-get install wrk)")
    servers: list[Server] = []
    with scratch_dir("notice") as work, stopped_after(servers):
        data = work / "data"
        config = write_config(data, "sqlite:///{data}/absentia.db", "FULL", threads)
        now = datetime.now(UTC)
        _, store, service = open_service(data, config, now)
        say(f"[notice] setting up {candidates:,} decided candidates in {work}")
        earlier = now - timedelta(hours=4)  # windows scheduled then, closed since
        populate(service, candidates, earlier, now - timedelta(hours=3),
                 now - timedelta(hours=2))
        service.sweep(now)
        record = publish(service, HR, CAMPAIGN, now)
        from publicity.notices import document

        html_bytes = len(document(service, record["notice"]))
        store.engine.dispose()
        port = free_port()
        server = Server([str(ABSENTIA), "serve", "--data", str(data), "--config", str(config),
                         "--port", str(port), "--workers", "2"], port, work / "server.log")
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        wrk(f"{base}/notices/{record['notice']}", 2, connections)  # warm-up
        say(f"[notice] wrk -c{connections} for {seconds:.0f} s on the notice "
            f"({record['lines']:,} lines, {html_bytes:,} bytes) and on /healthz")
        cpu0 = server.cpu_seconds()
        rps, p99, errors, _ = wrk(f"{base}/notices/{record['notice']}", seconds, connections)
        cpu = server.cpu_seconds() - cpu0
        b_rps, b_p99, b_errors, _ = wrk(f"{base}/healthz", seconds, connections)
        met = rps >= GOAL_RPS and p99 <= GOAL_P99_MS and errors == 0
        fig = show(Figure(
            "notice", f"GET /notices/<id>, {connections} connections", rps, "requests/s",
            f"{rate(rps)} requests (p99 {p99:.1f} ms, errors {errors})",
            [Baseline("GET /healthz, same server and load", b_rps,
                      f"{rate(b_rps)} requests (p99 {b_p99:.1f} ms, errors {b_errors})")],
            f">= {GOAL_RPS:,.0f} requests/s, p99 <= {GOAL_P99_MS:.0f} ms", met,
            {"p99_ms": p99, "errors": errors, "baseline_p99_ms": b_p99,
             "lines": record["lines"], "page_bytes": html_bytes,
             "server_cpu_s": cpu, "seconds": seconds}))
        notes = [f"notice: absentia serve --workers 2 (gthread, {threads} threads); "
                 f"wrk -t2 -c{connections} on the same 2 CPUs; server CPU {cpu:.1f} s over "
                 f"{seconds:.0f} s"]
        return [fig], notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notice-candidates", type=int, default=200,
                        help="lines on the notice (default 200)")
    parser.add_argument("--notice-seconds", type=float, default=15.0,
                        help="seconds of load per URL (default 15)")
    parser.add_argument("--notice-threads", type=int, default=THREADS,
                        help=f"gunicorn threads per worker (default {THREADS}, as config.toml)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="50 lines, 5 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.notice_candidates, args.notice_seconds = 50, 5.0
    started = time.perf_counter()
    figures, notes = run(args.notice_candidates, args.notice_seconds,
                         threads=args.notice_threads)
    report("notice", figures, {"notice": time.perf_counter() - started}, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
