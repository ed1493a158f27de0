"""Serving: gunicorn (the production WSGI server) with the scheduler in the master."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from ledger.absence.setup import absence_jobs, open_absence
from ledger.config import Settings
from ledger.scheduler import start_scheduler, stop_scheduler
from ledger.web import create_app, open_store

log = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Each worker opens its own engine after the fork.
        return create_app(self.settings)


def serve(settings: Settings, host: str, port: int, workers: int | None = None) -> None:
    """Serve the app until interrupted; checkpoints are signed by the master's scheduler."""
    store = open_store(settings)
    service = open_absence(settings, store, datetime.now(UTC))
    scheduler = start_scheduler(store, settings.checkpoint_min_interval_s,
                                jobs=absence_jobs(service, settings),
                                lease_ttl_s=service.cfg.lease_ttl_s)
    try:
        _Gunicorn(settings, {
            "bind": f"{host}:{port}",
            "workers": workers or settings.workers,
            "threads": settings.threads,
            "worker_class": "gthread",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "graceful_timeout": 10,
        }).run()
    finally:
        stop_scheduler(scheduler)
