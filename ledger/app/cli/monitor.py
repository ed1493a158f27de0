"""``absentia monitor``: the auditor's continuous log monitor (``ledger.monitor_run``)."""

from __future__ import annotations

import sys

import click

from ledger.monitor_run import main as monitor_main


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def monitor(args: tuple[str, ...]) -> None:
    """Follow logs continuously: PREFIX... --key VKEY --state DIR [--once] (see --help)."""
    sys.exit(monitor_main(list(args)))
