"""A paced page load: GET requests at a steady rate (open loop), for ``bench_load``.

wrk drives as fast as the server answers (closed loop); wrk2, which paces, is not
packaged here.  This sends request *k* at ``start + k / rate`` whatever the answers
before it did, on ``threads`` keep-alive connections, and measures each request's
latency from the moment it was due (so a server falling behind shows as latency and
as a lower achieved rate, not as a quietly slower load: "coordinated omission" avoided,
as wrk2 does).  A request is an error if its status is 400 or more, or its connection
failed or timed out.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

#: Per-request timeout (seconds), as wrk's in bench_load; a timeout counts as an error.
TIMEOUT_S = 10.0
#: A request sent later than this after it was due counts as late (seconds).
LATE_S = 0.05


@dataclass(frozen=True)
class PacedLoad:
    port: int
    paths: list[str]
    rate: float  # requests per second of this process
    start: float  # time.time() of the first request
    seconds: float
    threads: int = 16


@dataclass
class PacedResult:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0  # requests sent more than LATE_S after they were due
    unsent: int = 0  # requests still due when the interval ended (the server fell behind)


def run(load: PacedLoad) -> PacedResult:
    """Drive ``load`` to its end; what was answered inside it (requests still due at
    the end are not sent, and answers after the end are not counted, so the achieved
    rate is what the server kept up with)."""
    out = PacedResult(seconds=load.seconds)
    lock = threading.Lock()
    slot = [0]
    total = int(load.rate * load.seconds)
    end = load.start + load.seconds

    def worker() -> None:
        conn: http.client.HTTPConnection | None = None
        lat: list[float] = []
        errors: dict[str, int] = {}
        late = 0
        while True:
            with lock:
                k = slot[0]
                slot[0] += 1
            if k >= total:
                break
            due = load.start + k / load.rate
            if time.time() >= end:  # behind schedule at the end: the rest is not sent
                with lock:
                    out.unsent += total - k
                    slot[0] = total
                break
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            elif -wait > LATE_S:
                late += 1
            path = load.paths[k % len(load.paths)]
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", load.port,
                                                      timeout=TIMEOUT_S)
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    errors["status >= 400"] = errors.get("status >= 400", 0) + 1
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except TimeoutError:
                errors["timeout"] = errors.get("timeout", 0) + 1
                conn = None
            except (OSError, http.client.HTTPException):
                errors["connect/read"] = errors.get("connect/read", 0) + 1
                conn = None
            if time.time() <= end:  # answered inside the interval: counted
                lat.append(time.time() - due)
        if conn is not None:
            conn.close()
        with lock:
            out.latencies += lat
            out.late += late
            for key, n in errors.items():
                out.errors[key] = out.errors.get(key, 0) + n

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(load.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.requests = len(out.latencies)
    return out


def paced_process(load: PacedLoad, results: Any) -> None:
    """A load-generator process: ``run(load)``, its result put on ``results``."""
    results.put(run(load))


def gated(target: Any, load: Any, offset: float, results: Any, ready: Any,
          start_at: Any) -> None:
    """A load-generator process that starts on time however slowly it was spawned: it
    says it is ready (its imports done), waits for the parent's start time
    (``start_at``, a shared double, 0 until set), then runs ``target`` on ``load`` with
    its ``start`` set to that time plus ``offset``.

    Under a heavy machine a spawned interpreter can take longer to import than any
    fixed lead time; the parent sets the start only once every child is ready.
    """
    ready.put(1)
    while start_at.value == 0:
        time.sleep(0.005)
    target(replace(load, start=start_at.value + offset), results)
