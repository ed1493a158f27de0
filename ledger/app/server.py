"""Serving: gunicorn (the production WSGI server) with the scheduler in the master."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from ledger.app.logging_setup import no_request_line
from ledger.app.registry import entry_types
from ledger.app.scheduler import start_scheduler, stop_scheduler
from ledger.app.web import create_app
from ledger.app.wiring import absence_jobs, open_absence
from ledger.config import Settings
from ledger.storage.open import open_store
from ledger.witness.client import load_witness_settings

log = logging.getLogger(__name__)


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn with the project's options, serving what ``factory`` builds (in each
    worker, after the fork, so each opens its own database connections)."""

    def __init__(self, factory: Callable[[], Flask], bind: str, workers: int,
                 threads: int, *, loglevel: str = "warning",
                 post_fork: Callable[[], None] | None = None) -> None:
        self.factory = factory
        self.options: dict[str, Any] = {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "errorlog": "-",
            # The app's log format ([logging] format: text or JSON lines) on the error log.
            "logger_class": "ledger.app.logging_setup.GunicornLogger",
            "pre_request": no_request_line,  # not gunicorn's "<method> <path>" at DEBUG
            "loglevel": loglevel,
            "graceful_timeout": 10,
            # Whether a request came over https, and from whom, is decided in the app alone
            # (werkzeug's ProxyFix, by [server] trusted_proxies).  gunicorn would otherwise
            # believe X-Forwarded-Proto/-Ssl/-Protocol from 127.0.0.1 and ::1 (and from
            # any UNIX-socket peer) and hand the app https with trusted_proxies = 0.
            "forwarded_allow_ips": "",
            "secure_scheme_headers": {},
            "forwarder_headers": "",
        }
        if post_fork is not None:  # run in each worker right after the fork
            self.options["post_fork"] = lambda _server, _worker: post_fork()
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def served(settings: Settings, factory: Callable[[], Flask]) -> Callable[[], Flask]:
    """``factory`` run in a served worker: first the worker's thread switch interval
    (``[server] switch_interval_ms``; only served processes change it, never a test's)."""
    def build() -> Flask:
        if settings.switch_interval_ms > 0:
            sys.setswitchinterval(settings.switch_interval_ms / 1000)
        return factory()
    return build


def serve(settings: Settings, host: str, port: int, workers: int | None = None, *,
          scheduler: bool = True, read_only: bool = False) -> None:
    """Serve the app until interrupted.

    With ``scheduler``, the master process also runs the scheduled jobs (checkpoints,
    and under the database lease the sweep, outbox and reports); without, another
    process (``absentia scheduler``) must.  ``read_only`` (or ``[server] role =
    "public"``): the public pages and read API only, on a read-only database; no
    scheduler, no migration, nothing written (``ledger.app.web.readonly``).
    """
    if read_only or settings.role == "public":
        # The master opens nothing: each worker opens the database read-only itself.
        GunicornApp(served(settings, lambda: create_app(settings, read_only=True)),
                    f"{host}:{port}",
                    workers or settings.workers, settings.threads,
                    loglevel=settings.log_level.lower()).run()
        return
    store = open_store(settings, entry_types())
    service = open_absence(settings, store, datetime.now(UTC))
    jobs = None
    if scheduler:
        jobs = start_scheduler(store, settings.checkpoint_min_interval_s,
                               jobs=absence_jobs(service, settings),
                               lease_ttl_s=service.cfg.lease_ttl_s,
                               witnesses=load_witness_settings(settings))
    master = os.getpid()
    try:
        # Each worker opens its own engine (create_app); the master's connections, copied
        # by the fork, are dropped there without closing them (they are the master's).
        GunicornApp(served(settings, lambda: create_app(settings)), f"{host}:{port}",
                    workers or settings.workers, settings.threads,
                    loglevel=settings.log_level.lower(),
                    post_fork=lambda: store.engine.dispose(close=False)).run()
    finally:
        # A worker leaves run() through this frame too (it was forked inside it): only
        # the master stops the jobs and releases the lease, on its own connections.
        if jobs is not None and os.getpid() == master:
            stop_scheduler(jobs)
