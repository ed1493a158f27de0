"""In-browser verification of a public notice (headless Chromium): from the log's tiles,
beside the per-line method measured in the same run.

Setup (not measured): in a scratch data directory, a campaign of ``n`` candidates for each
size in ``--browser-lines`` (default 2,000 and 20,000), decided and published as a
notice; then ``absentia serve --workers 2``.  Measured, in Debian's chromium (headless,
selenium), with the browser's HTTP cache and ``localStorage`` emptied first (a reader
who never saw this log):

- "Verify every line" by tiles (``static/verify.js``): the time from the click until
  ``<main data-verification>`` says verified, in the page's own clock
  (``performance.now()``), and the requests made meanwhile (Resource Timing; the words
  file the page loads at start is not counted).  Goal for 2,000 lines: <= 2 s and <= 60
  requests.
- One candidate's line, found by registration number (goal <= 0.3 s).
- Baseline: the per-line method (``?verify=per-line``: one tlog-proof and one entry a
  line), on the first ``--browser-sample`` lines only (the other rows are removed from
  the page before the click) and extrapolated linearly to the whole notice: its time
  grows with the lines (requests 2 a line, at most 8 in flight), and a whole 2,000-line
  run takes minutes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Baseline, Figure, report, say, scratch_dir, show, stopped_after
from bench.bench_ingest import (
    HR,
    Server,
    free_port,
    open_service,
    populate,
    write_config,
)
from publicity.notices import publish

ABSENTIA = Path(sys.executable).parent / "absentia"
GOAL_ALL_S = 2.0
GOAL_REQUESTS = 60
GOAL_ONE_S = 0.3

# Click (or submit the lookup) and resolve when <main data-verification> settles.
MEASURE = """
const done = arguments[arguments.length - 1];
const [mode, reg, keep] = arguments;
const main = document.querySelector("main");
const rows = Array.from(document.querySelectorAll("#lines tr[data-index]"));
if (keep > 0) rows.slice(keep).forEach(r => r.remove());
performance.setResourceTimingBufferSize(1000000);
performance.clearResourceTimings();
const t0 = performance.now();
const obs = new MutationObserver(() => {
  const state = main.getAttribute("data-verification");
  if (state !== "verified" && state !== "failed") return;
  obs.disconnect();
  done({ms: performance.now() - t0, state: state,
        lines: Number(main.getAttribute("data-verified-lines")),
        requests: performance.getEntriesByType("resource").length});
});
obs.observe(main, {attributes: true});
if (mode === "one") {
  document.getElementById("find-registration").value = reg;
  document.getElementById("find-form").requestSubmit();
} else {
  document.getElementById("verify-all").click();
}
"""


def measure(driver: Any, url: str, mode: str, reg: str = "", keep: int = 0) -> dict[str, Any]:
    """Open ``url`` as a reader who never saw the log; verify; the page's figures."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get(url)
    driver.execute_script("window.localStorage.clear();")
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.ID, "verify-panel") or d.find_elements(By.ID, "verify-all"))
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "verify-panel"))
    out: dict[str, Any] = driver.execute_async_script(MEASURE, mode, reg, keep)
    if out["state"] != "verified":
        raise RuntimeError(f"verification {out['state']} at {url}: {out}")
    return out


def run(sizes: list[int], sample: int) -> tuple[list[Figure], list[str]]:
    from tests.functional.test_notice_browser import start_chromium

    servers: list[Server] = []
    figures: list[Figure] = []
    notes: list[str] = []
    with scratch_dir("browser") as work, stopped_after(servers):
        data = work / "data"
        config = write_config(data, "sqlite:///{data}/absentia.db", "OFF")
        now = datetime.now(UTC)
        _, store, service = open_service(data, config, now)
        notices: list[tuple[int, str, str]] = []
        for n in sizes:
            campaign = f"browser{n}"
            say(f"[browser] setting up a notice of {n:,} decided candidates in {work}")
            earlier = now - timedelta(hours=4)
            populate(service, n, earlier, now - timedelta(hours=3), now - timedelta(hours=2),
                     campaign=campaign)
            service.sweep(now)
            record = publish(service, HR, campaign, now)
            notices.append((n, record["notice"], "B0000001"))
        size = store.latest_checkpoint(store.list_logs()[0].name).size
        store.engine.dispose()
        port = free_port()
        servers.append(Server([str(ABSENTIA), "serve", "--data", str(data), "--config",
                               str(config), "--port", str(port), "--workers", "2"], port,
                              work / "server.log"))
        base = f"http://127.0.0.1:{port}"
        profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=work))
        driver = start_chromium(profile)
        try:
            driver.set_script_timeout(900)
            driver.set_page_load_timeout(120)
            for n, notice, reg in notices:
                url = f"{base}/notices/{notice}"
                measure(driver, url, "all")  # warm-up: the server's caches, chromium's JIT
                tiles = measure(driver, url, "all")
                one = measure(driver, url, "one", reg)
                keep = min(sample, n)
                per_line = measure(driver, url + "?verify=per-line", "all", keep=keep)
                per_line_s = per_line["ms"] / 1000 * n / keep
                per_line_req = per_line["requests"] * n / keep
                all_s = tiles["ms"] / 1000
                goal = n <= 2_000
                met = (all_s <= GOAL_ALL_S and tiles["requests"] <= GOAL_REQUESTS
                       and one["ms"] / 1000 <= GOAL_ONE_S) if goal else True
                figures.append(show(Figure(
                    "browser_verify", f"verify every line of a {n:,}-line notice by tiles",
                    all_s, "s",
                    f"{all_s:.2f} s, {tiles['requests']} requests ({tiles['lines']:,} lines "
                    f"verified; one line by registration {one['ms']:.0f} ms, "
                    f"{one['requests']} requests)",
                    [Baseline(f"per-line method, {keep} lines measured, extrapolated to "
                              f"{n:,}", per_line_s,
                              f"{per_line_s:.1f} s, {per_line_req:,.0f} requests "
                              f"({per_line['ms'] / 1000:.2f} s and {per_line['requests']} "
                              f"requests for {keep})")],
                    (f"<= {GOAL_ALL_S:g} s and <= {GOAL_REQUESTS} requests; one line <= "
                     f"{GOAL_ONE_S:g} s") if goal else "none (the 2,000-line goal scales)",
                    met,
                    {"lines": n, "requests": tiles["requests"], "one_line_s": one["ms"] / 1000,
                     "one_line_requests": one["requests"], "per_line_sample": keep,
                     "per_line_sample_s": per_line["ms"] / 1000,
                     "per_line_sample_requests": per_line["requests"],
                     "log_size": size})))
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        notes.append(f"browser_verify: headless chromium against absentia serve --workers 2 "
                     f"on SQLite, one log of {size:,} entries holding every notice; browser "
                     "cache and localStorage emptied before each run; the per-line baseline "
                     f"measured on {sample} lines and extrapolated linearly")
    return figures, notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--browser-lines", default="2000,20000",
                        help="notice sizes, comma-separated (default 2000,20000)")
    parser.add_argument("--browser-sample", type=int, default=200,
                        help="lines the per-line baseline verifies (default 200)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="200 and 2,000 lines, sample 50")
    args = parser.parse_args(argv)
    if args.quick:
        args.browser_lines, args.browser_sample = "200,2000", 50
    started = time.perf_counter()
    figures, notes = run([int(x) for x in args.browser_lines.split(",")], args.browser_sample)
    report("browser_verify", figures, {"browser_verify": time.perf_counter() - started}, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
