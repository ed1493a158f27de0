"""``absentia``: the command line.  The outer layer: it reads the clock and the config."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from ledger.config import Settings, load_settings
from ledger.errors import LedgerError
from ledger.storage import LedgerStore

DATA_OPTION = click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
    show_default=True, help="data directory (database, keys, exports)")
CONFIG_OPTION = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None, help="config file (default: the project's config.toml)")


def _settings(data_dir: Path, config_file: Path | None) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return load_settings(data_dir, config_file)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc


class _Progress:
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


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log more")
def cli(verbose: bool) -> None:
    """Absentia: the audit ledger of missed AI interviews."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Turn ledger errors into a one-line message and exit status 1, never a traceback."""
    try:
        yield
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc


def _open(data_dir: Path, config_file: Path | None) -> tuple[Settings, LedgerStore]:
    from ledger.web import open_store

    settings = _settings(data_dir, config_file)
    with _ledger_errors():
        return settings, open_store(settings)


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--host", default=None, help="address to bind (default from config)")
@click.option("--port", type=int, default=None, help="port (default from config)")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes")
def serve(data_dir: Path, config_file: Path | None, host: str | None, port: int | None,
          workers: int | None) -> None:
    """Serve the web pages and the tlog-tiles read API."""
    from ledger.server import serve as run

    s = _settings(data_dir, config_file)
    click.echo(f"serving on http://{host or s.host}:{port or s.port}/ (Ctrl-C stops)")
    with _ledger_errors():
        run(s, host or s.host, port or s.port, workers)


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--rotate", "rotate_log", default=None, metavar="LOG",
              help="make a new signing key current for LOG")
@click.option("--key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="with --rotate: your Ed25519 PKCS#8 PEM key (mode 0600) "
                                 "instead of a generated one")
def keys(data_dir: Path, config_file: Path | None, rotate_log: str | None,
         key_file: Path | None) -> None:
    """List each log's name, origin and verifier keys (oldest first); rotate with --rotate."""
    if key_file is not None and rotate_log is None:
        raise click.BadParameter("goes with --rotate LOG", param_hint="--key-file")
    _, store = _open(data_dir, config_file)
    with _ledger_errors():
        if rotate_log:
            store.rotate_key(rotate_log, datetime.now(UTC), key_uri=None if key_file is None
                             else f"file:{key_file.resolve()}")
            click.echo(f"rotated the signing key of {rotate_log}; old checkpoints still verify")
        for info in store.list_logs():
            click.echo(f"{info.name}\t{info.origin}")
            for i, k in enumerate(info.verifier_keys):
                current = "  (current)" if i == len(info.verifier_keys) - 1 else ""
                click.echo(f"  {k}{current}")


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--log", "log_name", required=True, help="log to sign")
def checkpoint(data_dir: Path, config_file: Path | None, log_name: str) -> None:
    """Sign a checkpoint now and print it."""
    _, store = _open(data_dir, config_file)
    with _ledger_errors():
        click.echo(store.sign_checkpoint(log_name, datetime.now(UTC)).note, nl=False)


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--log", "log_name", required=True, help="log to export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="output directory")
def export(data_dir: Path, config_file: Path | None, log_name: str, out: Path) -> None:
    """Write a log as a static tlog-tiles directory with a keys file."""
    from ledger.export import export_log

    _, store = _open(data_dir, config_file)
    with _ledger_errors():
        store.sign_checkpoint(log_name, datetime.now(UTC))
        result = export_log(store, log_name, out, _Progress("exporting"))
    click.echo(f"exported {log_name}: {result.size:,} entries, {result.files:,} files in {out}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def verify(args: tuple[str, ...]) -> None:
    """Verify a log offline: PREFIX [--key VKEY]... [--keys FILE] [--old CHECKPOINT]."""
    from ledger.verify import main as verify_main

    sys.exit(verify_main(list(args)))


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--entries", type=int, default=3000, show_default=True,
              help="sample events to append")
@click.option("--no-serve", is_flag=True, help="stop after verifying instead of serving")
def demo(data_dir: Path, config_file: Path | None, entries: int, no_serve: bool) -> None:
    """Create a log, append sample events, sign, export, verify, then serve."""
    from ledger.demo import append_sample_events
    from ledger.export import export_log
    from ledger.verify import DirectorySource, verify_log

    if entries < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--entries")
    s, store = _open(data_dir, config_file)
    if not s.logs:
        raise click.ClickException("config has no [[logs]]; add one (see config.toml)")
    name = s.logs[0].name
    out = s.data_dir / "export" / name
    with _ledger_errors():
        append_sample_events(store, name, entries, datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
                             progress=_Progress("appending"))
        cp = store.sign_checkpoint(name, datetime.now(UTC))
        export_log(store, name, out, _Progress("exporting"))
        report = verify_log(DirectorySource(out), store.verifiers(name),
                            progress=_Progress("verifying"))
    click.echo(f"log {name} ({store.log(name).origin}): {cp.size:,} entries, checkpoint signed")
    click.echo(f"exported to {out}")
    click.echo(f"verified offline: {report.entries:,} entries, {report.tiles:,} tiles "
               f"in {report.seconds:.2f} s")
    click.echo(f"  check it yourself: absentia verify {out} --keys {out / 'keys'}")
    if no_serve:
        return
    from ledger.server import serve as run

    click.echo(f"serving on http://{s.host}:{s.port}/ (Ctrl-C stops)")
    click.echo(f"  verify over HTTP: absentia verify http://{s.host}:{s.port}/logs/{name} "
               f"--keys {out / 'keys'}")
    with _ledger_errors():
        run(s, s.host, s.port)


def main() -> None:
    """Console entry point."""
    cli()
