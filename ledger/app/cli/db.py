"""``absentia db``: the database schema's migrations (upgrade, current, history, revision)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger.app.cli.common import CONFIG_OPTION, DATA_OPTION, ledger_errors, load_cli_settings
from ledger.app.registry import table_metadata
from ledger.migrations import head_revision, history, new_revision, schema_state, upgrade
from ledger.storage import make_engine


@click.group()
def db() -> None:
    """The database schema: upgrade it, show its revision and the migrations' history."""


def _db_engine(data_dir: Path, config_file: Path | None) -> Engine:

    s = load_cli_settings(data_dir, config_file)
    return make_engine(s.database_url, sqlite_synchronous=s.sqlite_synchronous)


@contextmanager
def _db_errors() -> Iterator[None]:
    """Database and migration failures as one line (no statement text, no traceback)."""
    with ledger_errors():
        try:
            yield
        except CommandError as exc:
            raise click.ClickException(f"{exc}; see `absentia db history`") from exc
        except SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise click.ClickException(
                f"database error: {first[0] if first else type(exc).__name__}; check "
                "[storage] url (or ABSENTIA_DATABASE_URL) and that the server answers"
            ) from exc


@db.command("upgrade")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--revision", default="head", show_default=True, help="the revision to reach")
def db_upgrade(data_dir: Path, config_file: Path | None, revision: str) -> None:
    """Migrate the schema to this release's newest revision (safe to run on several hosts
    at once: they take a lock and the later ones find nothing to do)."""
    engine = _db_engine(data_dir, config_file)
    with _db_errors():
        done = upgrade(engine, revision)
    if done.adopted:
        click.echo("adopted a database created before migrations (stamped 0001)")
    if done.changed:
        click.echo(f"upgraded from {done.before or 'an empty database'} to {done.after}")
    else:
        click.echo(f"already at {done.after}; nothing to do")


@db.command("current")
@DATA_OPTION
@CONFIG_OPTION
def db_current(data_dir: Path, config_file: Path | None) -> None:
    """Print the database's revision and whether it is this release's head (exit 1 if
    it is older: run `absentia db upgrade`)."""
    engine = _db_engine(data_dir, config_file)
    with _db_errors(), engine.connect() as conn:
        current, head, usable = schema_state(conn)
    if current == head:
        click.echo(f"{current} (head)")
    elif usable:
        click.echo(f"{current} (newer than this release's head {head})")
    else:
        click.echo(f"{current or 'none'} (this release's head is {head}; run "
                   "`absentia db upgrade`)")
        sys.exit(1)


@db.command("history")
def db_history() -> None:
    """List the migrations, oldest first: revision, the one it follows, what it does."""
    with ledger_errors():
        head = head_revision()
        for rev, parent, doc in history():
            click.echo(f"{parent or '<base>'} -> {rev}{' (head)' if rev == head else ''}, {doc}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="what the revision changes")
@click.option("--empty", is_flag=True, help="write an empty revision (no autogenerate)")
def db_revision(message: str, empty: bool) -> None:
    """Write a new migration (for developers): the difference between the models and
    the schema the revisions make, into ledger/migrations/versions/.  Review it."""
    with ledger_errors():
        path = new_revision(message, table_metadata(), autogenerate=not empty)
    click.echo(f"wrote {path}; review it, then run the migration tests")

