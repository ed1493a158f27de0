"""``absentia serve`` and ``absentia scheduler``: the long-running processes."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from ledger.app.cli.common import (
    CONFIG_OPTION,
    DATA_OPTION,
    ledger_errors,
    load_cli_settings,
    open_service,
)
from ledger.app.logging_setup import status
from ledger.app.scheduler import start_scheduler, stop_scheduler
from ledger.app.server import serve as run_server
from ledger.app.wiring import absence_jobs
from ledger.config import Settings
from ledger.witness.client import load_witness_settings
from publicity.scheduled import ReportChildren


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--host", default=None, help="address to bind (default from config)")
@click.option("--port", type=int, default=None, help="port (default from config)")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes")
@click.option("--no-scheduler", is_flag=True,
              help="serve only; the jobs run in `absentia scheduler` (several app hosts)")
@click.option("--read-only", is_flag=True,
              help="the public pages and read API only, on a read-only database or the "
                   "replica of [storage] read_url; never writes (also [server] role = "
                   "\"public\")")
def serve(data_dir: Path, config_file: Path | None, host: str | None, port: int | None,
          workers: int | None, no_scheduler: bool, read_only: bool) -> None:
    """Serve the web pages, the API and the tlog-tiles read API (gunicorn).

    By default the scheduled jobs run in the server's master process too; with several
    app hosts, they may all run them (a lease lets one work at a time) or leave them to
    `absentia scheduler` with --no-scheduler.  With --read-only, only the public pages
    and the read API, from a database opened read-only (no scheduler, no write lock).
    """
    s = load_cli_settings(data_dir, config_file)
    read_only = read_only or s.role == "public"
    if not read_only:
        warn_if_no_base_url(s)
    click.echo(f"serving on http://{host or s.host}:{port or s.port}/"
               + (" read-only" if read_only else "") + " (Ctrl-C stops)")
    with ledger_errors():
        run_server(s, host or s.host, port or s.port, workers, scheduler=not no_scheduler,
                   read_only=read_only)


NO_BASE_URL = ("warning: [publicity] base_url is not set in the configuration: notices "
               "print relative links in their offline-verification command and reports "
               "print http://127.0.0.1:5000 in their QR code; set it to this service's "
               "public address (e.g. https://absentia.example.gov.cn)")


def warn_if_no_base_url(s: Settings) -> bool:
    """Log ``NO_BASE_URL`` (logger ``absentia``, a JSON line on stderr like every other
    line there) when the public base URL that permanent records print is not configured;
    tell whether it warned."""
    if s.publicity.base_url:
        return False
    logging.getLogger("absentia").warning(NO_BASE_URL)
    return True


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="run each job once (the sweep, the outbox, the "
                                            "due reports, waited for) and exit")
def scheduler(data_dir: Path, config_file: Path | None, once: bool) -> None:
    """Run the scheduled jobs (sweep, outbox, checkpoints) in the foreground.

    Any number may run on several hosts: a lease in the database lets one work at a time,
    and another takes over within the lease's time to live if it stops.
    """
    s, service = open_service(data_dir, config_file)
    with ledger_errors():
        reports = ReportChildren()
        jobs = absence_jobs(service, s, reports)
        if once:
            now = datetime.now(UTC)
            for name, (_, fn) in jobs.items():
                click.echo(f"{name}: {fn(now)}")
            # The reports job only starts its children: wait for them, so that nothing
            # this run started still writes after it exits.
            finished = reports.wait(service, lambda: datetime.now(UTC))
            click.echo(f"reports finished: {finished}")
            return

        sched = start_scheduler(service.store, s.checkpoint_min_interval_s, jobs=jobs,
                                lease_ttl_s=service.cfg.lease_ttl_s,
                                witnesses=load_witness_settings(s))

    status("scheduler running (Ctrl-C or SIGTERM stops)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_scheduler(sched)

