"""Ingest before pages: public reads never take every thread of a worker.

On results day the public pages may be read as fast as a crowd (or ``wrk``) can ask,
while the interview platform's events must still be recorded.  A worker process has
``[server] threads`` threads and one interpreter lock: if every thread renders a page,
an event's request waits for a thread, and each of its database round trips waits for
the lock again.  The gate lets at most ``[server] page_threads`` threads of a process
serve reads (GET and HEAD outside the console and the platform's API) at a time; the
others stay free for the platform's events and the console's commands, and a read
beyond the limit waits its turn (it is never refused).  ``page_threads = 0`` turns the
gate off.  Nothing here raises.
"""

from __future__ import annotations

import threading

from flask import Flask, g, request

#: Paths whose GETs are never held back: the office's console, and the platform's API.
UNGATED = ("/console", "/api/v1/platform", "/healthz", "/readyz", "/metrics")


def init_app(app: Flask, page_threads: int) -> None:
    """Hold public reads of ``app`` to ``page_threads`` concurrent requests (0: no gate)."""
    if page_threads <= 0:
        return
    slots = threading.BoundedSemaphore(page_threads)
    app.extensions["absentia.page_gate"] = page_threads

    @app.before_request
    def take_a_page_slot() -> None:
        if request.method in ("GET", "HEAD") and not request.path.startswith(UNGATED):
            slots.acquire()
            g.absentia_page_slot = True

    @app.teardown_request
    def give_the_slot_back(_exc: BaseException | None) -> None:
        if g.pop("absentia_page_slot", False):
            slots.release()
