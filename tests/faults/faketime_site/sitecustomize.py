"""Loaded (via PYTHONPATH) only by the processes the fault tests run under libfaketime.

The clock-step scenario leaves the monotonic clock real (``FAKETIME_DONT_FAKE_MONOTONIC``:
an NTP step moves the wall clock only).  In that mode libfaketime 0.9.10 (Debian's)
mangles ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...)`` into an invalid call
(EINVAL; libfaketime issue #426), which is what Python 3.11's ``time.sleep`` uses.  A
relative ``select`` timeout, which libfaketime passes through, sleeps the same.
"""

from __future__ import annotations

import select
import time


def _sleep(secs: float) -> None:
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        select.select([], [], [], left)


time.sleep = _sleep  # type: ignore[assignment]
