"""What every ``absentia`` command group shares: the ``--data``/``--config`` options, the
settings, the progress bar, ledger errors as one line, and opening the database."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from ledger.absence.service import AbsenceService
from ledger.accounts.store import Accounts
from ledger.app import logging_setup
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence
from ledger.config import Settings, load_settings
from ledger.errors import LedgerError
from ledger.storage import LedgerStore
from ledger.storage.open import open_store

DATA_OPTION = click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
    show_default=True, help="data directory (database, keys, exports)")
CONFIG_OPTION = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None, help="config file (default: the project's config.toml)")


def load_cli_settings(data_dir: Path, config_file: Path | None) -> Settings:
    """The settings of ``data_dir`` (created if missing), with logging configured.

    Raises click.ClickException when the config cannot be read.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        s = load_settings(data_dir, config_file)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    logging_setup.configure(s.log_format, s.log_level)
    return s


class Progress:
    """A one-line progress bar on a terminal, silence elsewhere."""
    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and done != total:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done:,}/{total:,}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@contextmanager
def ledger_errors() -> Iterator[None]:
    """Turn ledger errors into a one-line message and exit status 1, never a traceback.

    Raises click.ClickException in place of any LedgerError raised inside.
    """
    try:
        yield
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc


def open_ledger(data_dir: Path, config_file: Path | None) -> tuple[Settings, LedgerStore]:
    """The settings and the opened (migrated) ledger store.

    Raises click.ClickException when the config or the database cannot be opened.
    """
    settings = load_cli_settings(data_dir, config_file)
    with ledger_errors():
        return settings, open_store(settings, entry_types())


def open_service(data_dir: Path, config_file: Path | None) -> tuple[Settings, AbsenceService]:
    """The settings and the absence domain on the opened store.

    Raises click.ClickException when the config, the database or the domain's keys fail.
    """
    settings, store = open_ledger(data_dir, config_file)
    with ledger_errors():
        return settings, open_absence(settings, store, datetime.now(UTC))


def open_accounts(data_dir: Path, config_file: Path | None) -> Accounts:
    """The console accounts on the absence domain's log.

    Raises click.ClickException as open_service does.
    """
    _, service = open_service(data_dir, config_file)
    with ledger_errors():
        accounts = Accounts(service.store, service.log,
                            service.master_key)
    return accounts
