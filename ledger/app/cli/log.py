"""``absentia`` commands on the logs themselves: keys, checkpoint, export (one log, or a
backup of everything), restore, verify."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from ledger.absence.settings import load_absence_settings
from ledger.absence.vault_token import create_token_master_key
from ledger.app import backup as bk
from ledger.app.backup_export import backup
from ledger.app.backup_format import open_backup
from ledger.app.cli.common import (
    CONFIG_OPTION,
    DATA_OPTION,
    Progress,
    ledger_errors,
    load_cli_settings,
    open_ledger,
)
from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.hsm import hsm_of
from ledger.keys import KeyDirectory
from ledger.pkcs11uri import Pkcs11Uri, is_pkcs11
from ledger.storage import LedgerStore, make_engine, status
from ledger.verify_cli import main as verify_main
from ledger.witness.client import load_witness_settings


@click.group(invoke_without_command=True)
@DATA_OPTION
@CONFIG_OPTION
@click.option("--rotate", "rotate_log", default=None, metavar="LOG",
              help="make a new signing key current for LOG")
@click.option("--key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="with --rotate: your Ed25519 PKCS#8 PEM key (mode 0600) "
                                 "instead of a generated one")
@click.option("--uri", "token_uri", default=None, metavar="PKCS11-URI",
              help="with --rotate: make the new key inside this PKCS#11 token object "
                   "(pkcs11:token=...;object=NEW-LABEL)")
@click.pass_context
def keys(ctx: click.Context, data_dir: Path, config_file: Path | None,
         rotate_log: str | None, key_file: Path | None, token_uri: str | None) -> None:
    """List each log's name, origin and verifier keys (oldest first, SM2 ones last);
    rotate with --rotate.

    `absentia keys create` makes a log's key inside a PKCS#11 token, `absentia keys token`
    lists a token's keys.
    """
    if ctx.invoked_subcommand is not None:
        return
    if (key_file is not None or token_uri is not None) and rotate_log is None:
        raise click.BadParameter("goes with --rotate LOG",
                                 param_hint="--key-file" if key_file else "--uri")
    if key_file is not None and token_uri is not None:
        raise click.BadParameter("give --key-file or --uri, not both", param_hint="--uri")
    if token_uri is not None and rotate_log is not None:
        settings = load_cli_settings(data_dir, config_file)
        _make_in_token(settings, token_uri, rotate_log)
    _, store = open_ledger(data_dir, config_file)
    with ledger_errors():
        if rotate_log:
            uri = token_uri if token_uri is not None else (
                None if key_file is None else f"file:{key_file.resolve()}")
            store.rotate_key(rotate_log, datetime.now(UTC), key_uri=uri)
            click.echo(f"rotated the signing key of {rotate_log}; old checkpoints still verify")
        for info in store.list_logs():
            click.echo(f"{info.name}\t{info.origin}")
            for i, k in enumerate(info.verifier_keys):
                current = "  (current)" if i == len(info.verifier_keys) - 1 else ""
                click.echo(f"  {k}{current}")
            for k in info.sm2_verifier_keys:  # the 国密 option's second signature line
                click.echo(f"  {k}  (SM2)")


def _origin(settings: Settings, log_name: str) -> str:
    for lc in settings.logs:
        if lc.name == log_name:
            return lc.origin
    raise click.ClickException(f"log {log_name!r} is not in the config's [[logs]]; add it "
                               "there first (its origin names the key)")


def _make_in_token(settings: Settings, uri: str, log_name: str) -> None:
    """Generate the log's Ed25519 key in the token; print its URI and verifier key.

    Raises click.ClickException (exit 1) when the token, PIN or label is refused.
    """
    directory = KeyDirectory(settings.key_dir, hsm_of(settings.pkcs11))
    with ledger_errors():
        signer = directory.create_in_token(uri, _origin(settings, log_name))
    click.echo(f"created {Pkcs11Uri.parse(uri)} in the token (Ed25519, not extractable)")
    click.echo(f"  verifier key {signer.verifier.vkey}")


@keys.command("create")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--log", "log_name", default=None, help="the log whose key this is")
@click.option("--vault", is_flag=True,
              help="the vault's master key instead ([absence] master_key = \"pkcs11:...\")")
@click.option("--uri", "token_uri", default=None, metavar="PKCS11-URI",
              help="where to make it (default: the key named in the config)")
def keys_create(data_dir: Path, config_file: Path | None, log_name: str | None, vault: bool,
                token_uri: str | None) -> None:
    """Make LOG's checkpoint-signing key (--log) or the vault's master key (--vault)
    inside a PKCS#11 token.

    A log not yet in the database is created with it; an existing log rotates to it
    (recorded in the log; old checkpoints still verify).  The vault's key is an AES
    wrapping key and an HMAC key (LABEL-derive); make it before the first start.
    """
    if (log_name is None) == (not vault):
        raise click.UsageError("give --log NAME or --vault")
    settings = load_cli_settings(data_dir, config_file)
    if vault:
        _make_vault_key(settings, token_uri)
        return
    assert log_name is not None
    configured = next((lc.key_uri for lc in settings.logs if lc.name == log_name), None)
    uri = token_uri or configured
    if uri is None or not is_pkcs11(uri):
        raise click.UsageError(f"log {log_name!r} has no pkcs11: key in the config: pass "
                               "--uri 'pkcs11:token=...;object=...' or set [[logs]] key")
    _make_in_token(settings, uri, log_name)
    try:
        engine = make_engine(settings.database_url,
                             sqlite_synchronous=settings.sqlite_synchronous)
        exists = log_name in status.log_names(engine)
    except SQLAlchemyError:
        exists = False  # a new database: open_ledger makes it
    _, store = open_ledger(data_dir, config_file)
    with ledger_errors():
        if exists:
            store.rotate_key(log_name, datetime.now(UTC), key_uri=uri)
            click.echo(f"rotated the signing key of {log_name}; old checkpoints still verify")
        else:
            store.ensure_log(log_name, _origin(settings, log_name), datetime.now(UTC),
                             key_uri=uri)
            click.echo(f"log {log_name} signs with it")


def _make_vault_key(settings: Settings, token_uri: str | None) -> None:
    """Make the vault's token master key (exit 1 with the reason when refused)."""
    with ledger_errors():
        uri = token_uri or load_absence_settings(settings).master_key_uri
        if uri is None:
            raise click.UsageError("[absence] master_key is not a pkcs11: URI: pass --uri")
        hsm = hsm_of(settings.pkcs11)
        if hsm is None:
            raise click.ClickException("the config has no [pkcs11] table: set module and "
                                       "pin_file or pin_env")
        made = create_token_master_key(uri, hsm)
    click.echo(f"created the vault master key {made} in the token (AES-256 key wrap and "
               "HMAC-SHA256, not extractable)")


@keys.command("token")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--token", "label", default="absentia", show_default=True,
              help="the token's label")
def keys_token(data_dir: Path, config_file: Path | None, label: str) -> None:
    """List the keys inside a PKCS#11 token: label, type, ID (and an Ed25519 key's
    verifier key for the log that signs with it).  Values never leave the token."""
    settings = load_cli_settings(data_dir, config_file)
    directory = KeyDirectory(settings.key_dir, hsm_of(settings.pkcs11))
    names = {lc.key_uri: lc.origin for lc in settings.logs if lc.key_uri}
    hsm = hsm_of(settings.pkcs11)
    if hsm is None:
        raise click.ClickException("the config has no [pkcs11] table: set module and "
                                   "pin_file or pin_env")
    with ledger_errors():
        token = hsm.token(label)
        for obj in token.objects():
            line = f"{obj.label}\t{obj.kind}\t{obj.object_class}\tid={obj.id.hex()}"
            here = Pkcs11Uri(label, obj.label).to_text()
            if obj.kind == "ed25519" and obj.object_class == "public" and here in names:
                line += "\t" + directory.load(here, names[here]).verifier.vkey
            click.echo(line)


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--log", "log_name", required=True, help="log to sign")
def checkpoint(data_dir: Path, config_file: Path | None, log_name: str) -> None:
    """Sign a checkpoint now and print it."""
    _, store = open_ledger(data_dir, config_file)
    with ledger_errors():
        click.echo(store.sign_checkpoint(log_name, datetime.now(UTC)).note, nl=False)


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--log", "log_name", default=None, help="log to export")
@click.option("--all", "everything", is_flag=True,
              help="back up every log and every table (restore with `absentia restore`)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="output directory")
def export(data_dir: Path, config_file: Path | None, log_name: str | None, everything: bool,
           out: Path) -> None:
    """Write a log as a static tlog-tiles directory with a keys file (--log), or a backup
    of the whole database (--all)."""
    if everything == (log_name is not None):
        raise click.UsageError("give either --log LOG or --all")
    _, store = open_ledger(data_dir, config_file)
    if everything:
        _backup(store, out)
        return
    assert log_name is not None
    with ledger_errors():
        store.sign_checkpoint(log_name, datetime.now(UTC))
        result = export_log(store, log_name, out, Progress("exporting"))
    click.echo(f"exported {log_name}: {result.size:,} entries, {result.files:,} files in {out}")


def _backup(store: LedgerStore, out: Path) -> None:
    """``export --all``: every log's checkpoint signed now, then one snapshot of it all."""
    with ledger_errors():
        for info in store.list_logs():
            store.sign_checkpoint(info.name, datetime.now(UTC))
        result = backup(store.engine, out, datetime.now(UTC), Progress)
    for lg in result.logs:
        click.echo(f"log {lg.name} ({lg.origin}): {lg.size:,} entries, checkpoint "
                   f"{lg.checkpoint_size:,}")
    click.echo(f"{len(result.tables)} tables, {sum(result.tables.values()):,} rows, "
               f"{result.files:,} files in {out}")
    for name in result.unknown_tables:
        click.echo(f"warning: table {name} is not one of the app's and was not backed up",
                   err=True)
    click.echo(f"note: {bk.NOT_INCLUDED}")


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.argument("backup_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--not-before", "not_before", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="a signed checkpoint (e.g. a witness's or an auditor's latest) that the "
                   "restored log must reach; repeatable")
@click.option("--skip-witness-check", is_flag=True,
              help="do not ask the configured witnesses how far each log had grown")
def restore(data_dir: Path, config_file: Path | None, backup_dir: Path,
            not_before: tuple[Path, ...], skip_witness_check: bool) -> None:
    """Restore a backup (`export --all`) into the configured database.

    Checks the files' SHA-256s and verifies every log before touching the database;
    refuses, writing nothing, unless the database is empty or each of its logs is a
    prefix of the backup's, or when a configured witness has cosigned a log further
    than the backup holds (a rollback).  Stop the app first; it needs the same key_dir and
    vault master key as the backed-up one (they are not in the backup).
    """

    s = load_cli_settings(data_dir, config_file)
    with ledger_errors():
        b = open_backup(backup_dir)
        n = bk.check_files(b, Progress("checking files"))
        click.echo(f"{n:,} files match the manifest's SHA-256s")
        bk.check_backup(b, [p.read_bytes() for p in not_before], Progress)
        click.echo(f"{len(b.logs)} logs verify offline"
                   + (", each reaching its --not-before checkpoint" if not_before else ""))
        ws = load_witness_settings(s)
        if ws.witnesses and not skip_witness_check:
            for log_name, probe in bk.check_witnesses(b, ws.witnesses, ws.policy.timeout_s):
                seen = "" if probe.seen is None else f" (its size {probe.seen:,})"
                click.echo(f"witness {probe.witness} on {log_name}: "
                           f"{probe.state.replace('_', ' ')}{seen}")
        elif ws.witnesses:
            click.echo("warning: the witnesses were not asked (--skip-witness-check)",
                       err=True)
        try:
            absence = load_absence_settings(s)
            projection_log: str | None = absence.log
            master_key: Path | None = (absence.master_key_path if absence.master_key_uri
                                       is None else None)  # a token key: nothing to copy
        except LedgerError:
            projection_log, master_key = None, None
        store = LedgerStore(make_engine(s.database_url,
                                        sqlite_synchronous=s.sqlite_synchronous),
                            s.key_dir, entry_types(), pkcs11=s.pkcs11)
        try:
            result = bk.restore(store, b, projection_log=projection_log, progress=Progress)
        except SQLAlchemyError as exc:
            raise click.ClickException(
                f"the database refused the restore ({type(exc).__name__}: "
                f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}); its transaction was "
                "rolled back: check the database and run the restore again") from exc
        warnings = bk.key_warnings(store, b, master_key)
    how = "into an empty database" if result.mode == "empty" else "rolled forward"
    click.echo(f"restored ({how}): {sum(result.rows.values()):,} rows in {len(result.rows)} tables")
    for lg in result.logs:
        click.echo(f"  log {lg.name}: {result.sizes_before[lg.name]:,} -> {lg.size:,} entries "
                   f"(checkpoint {lg.checkpoint_size:,})")
    for line in result.checks:
        click.echo(f"  checked: {line}")
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"note: {bk.NOT_INCLUDED}")


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def verify(args: tuple[str, ...]) -> None:
    """Verify a log offline: PREFIX [--key VKEY]... [--keys FILE] [--old CHECKPOINT]."""
    sys.exit(verify_main(list(args)))

