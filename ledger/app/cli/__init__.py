"""``absentia``: the command line.  The outer layer: it reads the clock and the config.

One module per command group (``common`` holds what they share); this package only
gathers them under the root group.
"""

from __future__ import annotations

import click

from ledger.app import logging_setup
from ledger.app.cli import absence, db, demo, log, monitor, report, serve, witness


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log more")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="log lines on stderr: text, or one JSON object a line (default: "
                   "[logging] format in the config)")
def cli(verbose: bool, log_format: str | None) -> None:
    """Absentia: the audit ledger of missed AI interviews."""
    logging_setup.configure(log_format, "INFO" if verbose else None, explicit=True)


for command in (serve.serve, serve.scheduler, log.keys, log.checkpoint, log.export,
                log.restore, log.verify, monitor.monitor, demo.demo, absence.tokens,
                absence.platform_secret, absence.rebuild, absence.users, report.report,
                witness.witness, db.db):
    cli.add_command(command)


def main() -> None:
    """Console entry point."""
    cli()
