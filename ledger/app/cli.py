"""``absentia``: the command line.  The outer layer: it reads the clock and the config."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ledger.absence.service import AbsenceService
from ledger.app.registry import entry_types
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
    from ledger.app import logging_setup

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        s = load_settings(data_dir, config_file)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    logging_setup.configure(s.log_format, s.log_level)
    return s


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
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="log lines on stderr: text, or one JSON object a line (default: "
                   "[logging] format in the config)")
def cli(verbose: bool, log_format: str | None) -> None:
    """Absentia: the audit ledger of missed AI interviews."""
    from ledger.app import logging_setup

    logging_setup.configure(log_format, "INFO" if verbose else None, explicit=True)


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Turn ledger errors into a one-line message and exit status 1, never a traceback."""
    try:
        yield
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc


def _open(data_dir: Path, config_file: Path | None) -> tuple[Settings, LedgerStore]:
    from ledger.storage.open import open_store

    settings = _settings(data_dir, config_file)
    with _ledger_errors():
        return settings, open_store(settings, entry_types())


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--host", default=None, help="address to bind (default from config)")
@click.option("--port", type=int, default=None, help="port (default from config)")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes")
@click.option("--no-scheduler", is_flag=True,
              help="serve only; the jobs run in `absentia scheduler` (several app hosts)")
def serve(data_dir: Path, config_file: Path | None, host: str | None, port: int | None,
          workers: int | None, no_scheduler: bool) -> None:
    """Serve the web pages, the API and the tlog-tiles read API (gunicorn).

    By default the scheduled jobs run in the server's master process too; with several
    app hosts, they may all run them (a lease lets one work at a time) or leave them to
    `absentia scheduler` with --no-scheduler.
    """
    from ledger.app.server import serve as run

    s = _settings(data_dir, config_file)
    click.echo(f"serving on http://{host or s.host}:{port or s.port}/ (Ctrl-C stops)")
    with _ledger_errors():
        run(s, host or s.host, port or s.port, workers, scheduler=not no_scheduler)


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
@click.option("--log", "log_name", default=None, help="log to export")
@click.option("--all", "everything", is_flag=True,
              help="back up every log and every table (restore with `absentia restore`)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="output directory")
def export(data_dir: Path, config_file: Path | None, log_name: str | None, everything: bool,
           out: Path) -> None:
    """Write a log as a static tlog-tiles directory with a keys file (--log), or a backup
    of the whole database (--all)."""
    from ledger.app.export import export_log

    if everything == (log_name is not None):
        raise click.UsageError("give either --log LOG or --all")
    _, store = _open(data_dir, config_file)
    if everything:
        _backup(store, out)
        return
    assert log_name is not None
    with _ledger_errors():
        store.sign_checkpoint(log_name, datetime.now(UTC))
        result = export_log(store, log_name, out, _Progress("exporting"))
    click.echo(f"exported {log_name}: {result.size:,} entries, {result.files:,} files in {out}")


def _backup(store: LedgerStore, out: Path) -> None:
    """``export --all``: every log's checkpoint signed now, then one snapshot of it all."""
    from ledger.app.backup import NOT_INCLUDED, backup

    with _ledger_errors():
        for info in store.list_logs():
            store.sign_checkpoint(info.name, datetime.now(UTC))
        result = backup(store.engine, out, datetime.now(UTC), _Progress)
    for lg in result.logs:
        click.echo(f"log {lg.name} ({lg.origin}): {lg.size:,} entries, checkpoint "
                   f"{lg.checkpoint_size:,}")
    click.echo(f"{len(result.tables)} tables, {sum(result.tables.values()):,} rows, "
               f"{result.files:,} files in {out}")
    for name in result.unknown_tables:
        click.echo(f"warning: table {name} is not one of the app's and was not backed up",
                   err=True)
    click.echo(f"note: {NOT_INCLUDED}")


@cli.command()
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
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.absence.settings import load_absence_settings
    from ledger.app import backup as bk
    from ledger.storage import make_engine
    from ledger.witness.client import load_witness_settings

    s = _settings(data_dir, config_file)
    with _ledger_errors():
        b = bk.open_backup(backup_dir)
        n = bk.check_files(b, _Progress("checking files"))
        click.echo(f"{n:,} files match the manifest's SHA-256s")
        bk.check_backup(b, [p.read_bytes() for p in not_before], _Progress)
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
            master_key: Path | None = absence.master_key_path
        except LedgerError:
            projection_log, master_key = None, None
        store = LedgerStore(make_engine(s.database_url,
                                        sqlite_synchronous=s.sqlite_synchronous),
                            s.key_dir, entry_types())
        try:
            result = bk.restore(store, b, projection_log=projection_log, progress=_Progress)
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
@click.option("--candidates", type=int, default=2000, show_default=True,
              help="candidates in the simulated campaign")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="the same seed runs the same campaign")
@click.option("--no-serve", is_flag=True, help="stop after verifying instead of serving")
def demo(data_dir: Path, config_file: Path | None, candidates: int, seed: int,
         no_serve: bool) -> None:
    """Run a recruitment campaign on a simulated clock, sign, export, verify, then serve.

    About 2,000 candidates, 12 % absent in the article's mix, a platform outage that
    raises an alert, accommodations, reviews, make-ups and appeals; notifications go to
    a file (outbox.jsonl in the data directory), never to anyone.
    """
    import json

    from ledger.absence.notify import Channel, FileChannel
    from ledger.absence.rebuild import check_rebuild
    from ledger.absence.settings import load_absence_settings
    from ledger.app.demo import TZ, demo_start, min_candidates, run_campaign
    from ledger.app.export import export_log
    from ledger.app.wiring import open_absence
    from ledger.migrations import upgrade
    from ledger.storage import make_engine
    from ledger.verify import DirectorySource, verify_log

    s = _settings(data_dir, config_file)
    with _ledger_errors():
        cfg = load_absence_settings(s)
        if candidates < min_candidates(cfg.thresholds):
            raise click.BadParameter(
                f"at least {min_candidates(cfg.thresholds)} (so that one slot's outage can "
                "cross the [alerts] thresholds)", param_hint="--candidates")
        name = cfg.log
        store = LedgerStore(make_engine(s.database_url,
                                        sqlite_synchronous=s.sqlite_synchronous),
                            s.key_dir, entry_types())
        upgrade(store.engine)
        last = None
        if name in {info.name for info in store.list_logs()} and store.head(name).size:
            entry = json.loads(store.entry(name, store.head(name).size - 1))
            last = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        # The campaign runs on a simulated clock; the logs are created at its start so
        # that entry times never go backwards.
        start = demo_start(last)
        for lc in s.logs:
            store.ensure_log(lc.name, lc.origin, start, key_uri=lc.key_uri)
        service = open_absence(s, store, start)
        outbox = s.data_dir / "outbox.jsonl"
        file_channel = FileChannel(outbox)
        channels: dict[str, Channel] = {"email": file_channel, "sms": file_channel}
        click.echo(f"simulating a campaign of {candidates:,} candidates from "
                   f"{start.astimezone(TZ):%Y-%m-%d %H:%M} ({TZ.key}), seed {seed}")
        bar = _Progress("simulating")

        def say(line: str) -> None:
            if bar.tty:  # clear the progress bar's line first
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()
            click.echo(line)

        summary = run_campaign(service, channels, start, candidates=candidates, seed=seed,
                               progress=bar, say=say)
    st = summary.statistics

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f} %"

    causes, shares = st["causes"], st["cause_shares"]
    voluntary = causes["withdrawn"] + causes["no_show"]
    technical = causes["technical"] + causes["compatibility"]
    absent = st["absent"] or 1
    click.echo(f"\ncampaign {summary.campaign}: {st['decided']:,} windows decided, "
               f"{st['absent']:,} absent ({pct(st['absence_rate'])})")
    click.echo(f"  causes: voluntary {pct(voluntary / absent)} (withdrew {causes['withdrawn']}, "
               f"no-show {causes['no_show']}), technical {pct(technical / absent)} "
               f"(connection {causes['technical']}, device {causes['compatibility']}), "
               f"notification failed {pct(shares['notification_failed'])} "
               f"({causes['notification_failed']})")
    mk, ap = st["makeups"], st["appeals"]
    click.echo(f"  make-ups: {mk['granted']} granted ({pct(mk['rate'])} of absences), "
               f"{mk['attended']} attended; pending review: {st['pending_review']}")
    click.echo(f"  appeals: {ap['filed']} filed, {ap['upheld']} upheld, {ap['overturned']} "
               f"overturned (overturn rate {pct(ap['overturn_rate'])}, misjudgment rate "
               f"{pct(ap['misjudgment_rate'])})")
    for a in summary.alerts:
        click.echo(f"  alert {a['alert']}: {a['count']} of {a['total']} "
                   f"(threshold {a['threshold']}), {a['status']}: {a['action']}"
                   + (f", {a['makeups']} make-ups" if a["makeups"] else ""))
    notes = summary.notifications
    click.echo(f"  notifications: {notes['sent']:,} sent, {notes['failed']:,} failed "
               f"(written to {outbox}, delivered to no one)")
    with _ledger_errors():
        notice = _demo_notice(s, service, summary.campaign, summary.finished)
    click.echo(f"\npublic notice {notice['notice']}: {notice['lines']:,} lines, notice period "
               f"until {notice['period_end']} (UTC)")
    click.echo(f"  written to {notice['file']} (sha256 {notice['sha256'][:16]}…, as recorded "
               f"in the ledger at #{notice['ledger_index']})")
    from publicity.report import generate as generate_report

    with _ledger_errors():
        archived = generate_report(service, s, summary.campaign,
                                   summary.finished + timedelta(hours=2))
    click.echo(f"signed archive report {archived.report_id}: {archived.decisions:,} decisions, "
               f"PDF/A-3b signed with PAdES")
    click.echo(f"  written to {archived.path} (sha256 {archived.sha256[:16]}…, ledger "
               f"#{archived.ledger_index}); check it: absentia report verify {archived.path}")
    with _ledger_errors():
        console_accounts = _demo_accounts(service, summary.finished + timedelta(hours=3))
    with _ledger_errors():
        cp = store.sign_checkpoint(name, datetime.now(UTC))
        out = s.data_dir / "export" / name
        export_log(store, name, out, _Progress("exporting"))
        report = verify_log(DirectorySource(out), store.verifiers(name),
                            progress=_Progress("verifying"))
        check = check_rebuild(store, name, _Progress("replaying"))
    click.echo(f"\nlog {name} ({store.log(name).origin}): {cp.size:,} entries, "
               "checkpoint signed")
    click.echo(f"exported to {out}")
    click.echo(f"verified offline: {report.entries:,} entries, {report.tiles:,} tiles "
               f"in {report.seconds:.2f} s")
    click.echo(f"  check it yourself: absentia verify {out} --keys {out / 'keys'}")
    if not check.equal:
        raise click.ClickException(
            f"rebuild check: {len(check.differences)} tables differ from a replay: "
            + "; ".join(f"{t}: {d}" for t, d in sorted(check.differences.items())))
    click.echo(f"rebuild check: the live tables equal a replay of {check.entries:,} entries "
               f"({len(check.tables)} tables)")
    base = f"http://{s.host}:{s.port}"
    click.echo("\nAPI tokens (one per role; shown once, only their SHA-256 is kept):")
    for role, text in summary.tokens.items():
        click.echo(f"  {role:9} {text}")
    reg, factor = summary.example
    click.echo("try:")
    click.echo(f"  curl -H 'Authorization: Bearer {summary.tokens['auditor']}' "
               f"{base}/api/v1/campaigns/{summary.campaign}/statistics")
    click.echo(f"  curl -H 'Authorization: Bearer {summary.tokens['reviewer']}' "
               f"{base}/api/v1/campaigns/{summary.campaign}/alerts")
    click.echo(f"  open {base}/notices/{notice['notice']} (the public notice; "
               "its lines verify in the browser)")
    click.echo(f"  curl -X POST -H 'Content-Type: application/json' -d "
               f"'{{\"registration\": \"{reg}\", \"factor\": \"{factor}\"}}' "
               f"{base}/api/v1/campaigns/{summary.campaign}/status")
    click.echo(f"\nconsole: sign in at {base}/console/sign-in")
    for role, login, password in console_accounts:
        click.echo(f"  {role:9} login {login:14} password {password}")
    click.echo("  (the reviewer and the admin set up a TOTP authenticator app at their first "
               "sign-in: have one ready)")
    if no_serve:
        return
    from ledger.app.server import serve as run

    click.echo(f"serving on {base}/ (Ctrl-C stops)")
    click.echo(f"  verify over HTTP: absentia verify {base}/logs/{name} --keys {out / 'keys'}")
    with _ledger_errors():
        run(s, s.host, s.port)


def _demo_notice(s: Settings, service: AbsenceService, campaign: str, finished: datetime
                 ) -> dict[str, Any]:
    """Publish the demo campaign's notice an hour after it ended; write its bytes out."""
    from ledger.absence.service import Caller
    from publicity.calendar import WorkingCalendar
    from publicity.notices import document, publish

    record = publish(service, Caller("hr:demo", "hr"), campaign, finished + timedelta(hours=1),
                     days=s.publicity.notice_days,
                     calendar=WorkingCalendar.from_config(s.publicity.calendar),
                     base_url=s.publicity.base_url or "")
    path = s.data_dir / "notices" / f"{record['notice']}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document(service, record["notice"]))
    return record | {"file": path}


def _demo_accounts(service: AbsenceService, at: datetime) -> list[tuple[str, str, str]]:
    """Demo console accounts (role, login, password); a login that exists is kept as it is
    (a demo run again on the same data) and its password is not shown again."""
    import secrets

    from ledger.absence.vault import Vault
    from ledger.accounts.store import Accounts

    accounts = Accounts(service.store, service.log,
                        Vault.load_or_create_master_key(service.cfg.master_key_path))
    taken = {a.login for a in accounts.users()}
    out = []
    for role in ("admin", "hr", "reviewer", "auditor"):
        login = f"demo-{role}"
        if login in taken:
            out.append((role, login, "(exists: shown when it was created)"))
            continue
        password = secrets.token_urlsafe(12)
        accounts.create_user(login, password, role, at)
        out.append((role, login, password))
    return out


def _open_absence(data_dir: Path, config_file: Path | None) -> tuple[Settings, AbsenceService]:
    from ledger.app.wiring import open_absence

    settings, store = _open(data_dir, config_file)
    with _ledger_errors():
        return settings, open_absence(settings, store, datetime.now(UTC))


@cli.group()
def tokens() -> None:
    """API bearer tokens per role (platform, hr, reviewer, auditor)."""


@tokens.command("create")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--role", required=True, type=click.Choice(["platform", "hr", "reviewer",
                                                           "auditor"]))
@click.option("--label", default=None, help="a note on whose token this is (a-z 0-9 . _ -)")
def tokens_create(data_dir: Path, config_file: Path | None, role: str, label: str | None
                  ) -> None:
    """Create a token; it is printed once and only its SHA-256 is kept."""
    _, service = _open_absence(data_dir, config_file)
    with _ledger_errors():
        text = service.create_token(role, datetime.now(UTC), label)
    click.echo(text)
    click.echo(f"(a {role} token: send it as 'Authorization: Bearer …'; it is not shown again)",
               err=True)


@tokens.command("list")
@DATA_OPTION
@CONFIG_OPTION
def tokens_list(data_dir: Path, config_file: Path | None) -> None:
    """List tokens (ids and roles; the secrets are not stored)."""
    _, service = _open_absence(data_dir, config_file)
    for t in service.tokens():
        state = "revoked" if t["revoked"] else "active"
        click.echo(f"{t['token']}\t{t['role']}\t{state}\t{t['created_at']}\t{t['label'] or ''}")


@tokens.command("revoke")
@DATA_OPTION
@CONFIG_OPTION
@click.argument("token_id")
def tokens_revoke(data_dir: Path, config_file: Path | None, token_id: str) -> None:
    """Revoke a token by its id (tok_…)."""
    _, service = _open_absence(data_dir, config_file)
    with _ledger_errors():
        service.revoke_token(token_id, datetime.now(UTC))
    click.echo(f"revoked {token_id}")


@cli.command("platform-secret")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--rotate", is_flag=True, help="make a new secret current; the previous one "
                                              "stays accepted until the next rotation")
def platform_secret(data_dir: Path, config_file: Path | None, rotate: bool) -> None:
    """Print the interview platform's webhook secret (Standard Webhooks whsec_…)."""
    from ledger.app.wiring import read_webhook_secrets, rotate_webhook_secret

    _, service = _open_absence(data_dir, config_file)
    path = service.cfg.webhook_secrets_path
    with _ledger_errors():
        if rotate:
            rotate_webhook_secret(path)
        current = read_webhook_secrets(path)
    click.echo(current[0].to_text())
    if len(current) > 1:
        click.echo("(the previous secret is still accepted until the next rotation)", err=True)


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--check", is_flag=True, help="compare the live tables with a replay instead "
                                             "of replacing them; exit 1 if they differ")
def rebuild(data_dir: Path, config_file: Path | None, check: bool) -> None:
    """Rebuild the tables the app reads by replaying the ledger (or --check them)."""
    from ledger.absence.rebuild import check_rebuild
    from ledger.absence.rebuild import rebuild as run

    _, service = _open_absence(data_dir, config_file)
    with _ledger_errors():
        if check:
            result = check_rebuild(service.store, service.log, _Progress("replaying"))
            for table, n in sorted(result.tables.items()):
                mark = "DIFFERS: " + result.differences[table] if table in result.differences \
                    else "equal"
                click.echo(f"  {table:22} {n:>9,} rows  {mark}")
            if not result.equal:
                raise click.ClickException(
                    f"{len(result.differences)} tables differ from a replay of "
                    f"{result.entries:,} entries; run `absentia rebuild` to restore them")
            click.echo(f"live tables equal a replay of {result.entries:,} entries")
            return
        n = run(service.store, service.log, datetime.now(UTC), _Progress("replaying"))
    click.echo(f"rebuilt the tables from {n:,} entries")


@cli.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="run the sweep and the outbox once and exit")
def scheduler(data_dir: Path, config_file: Path | None, once: bool) -> None:
    """Run the scheduled jobs (sweep, outbox, checkpoints) in the foreground.

    Any number may run on several hosts: a lease in the database lets one work at a time,
    and another takes over within the lease's time to live if it stops.
    """
    from ledger.app.scheduler import start_scheduler, stop_scheduler
    from ledger.app.wiring import absence_jobs

    s, service = _open_absence(data_dir, config_file)
    with _ledger_errors():
        jobs = absence_jobs(service, s)
        if once:
            now = datetime.now(UTC)
            for name, (_, fn) in jobs.items():
                click.echo(f"{name}: {fn(now)}")
            return
        from ledger.witness.client import load_witness_settings

        sched = start_scheduler(service.store, s.checkpoint_min_interval_s, jobs=jobs,
                                lease_ttl_s=service.cfg.lease_ttl_s,
                                witnesses=load_witness_settings(s))
    from ledger.app.logging_setup import status

    status("scheduler running (Ctrl-C or SIGTERM stops)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_scheduler(sched)


@cli.group()
def report() -> None:
    """Signed archive reports (PDF/A-3b, PAdES) of a campaign, and their offline check."""


@report.command("generate")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--campaign", required=True, help="the campaign to report on")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="output file (default: DATA/reports/<report id>.pdf)")
@click.option("--base-url", default=None,
              help="public base URL for the QR code (default: [publicity] base_url)")
@click.option("--job", default=None,
              help="run this queued report job (as the console and the scheduler do): "
                   "wait for its turn, record its end")
def report_generate(data_dir: Path, config_file: Path | None, campaign: str,
                    out: Path | None, base_url: str | None, job: str | None) -> None:
    """Render, sign, write and record (report.generated) the campaign's archive report."""
    from publicity.report import generate, generate_job

    started = time.monotonic()

    def progress(text: str) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f} s] {text}", err=True)

    settings, service = _open_absence(data_dir, config_file)
    with _ledger_errors():
        if job is None:
            result = generate(service, settings, campaign, datetime.now(UTC), out=out,
                              base_url=base_url, progress=progress)
        else:
            result = generate_job(service, settings, job, lambda: datetime.now(UTC),
                                  campaign=campaign, out=out, base_url=base_url,
                                  progress=progress)
    for glyph in result.missing_glyphs:
        click.echo(f"warning: no glyph for {glyph}", err=True)
    click.echo(f"report {result.report_id}: {result.decisions:,} decisions, checkpoint "
               f"{result.checkpoint_size}, sha256 {result.sha256}, ledger entry "
               f"{result.ledger_index}")
    click.echo(str(result.path))


@report.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--ca", "ca_files", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="PEM CA certificate to trust (default: the root embedded in the signature)")
@click.option("--keys", "keys_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="file of trusted verifier keys (default: the embedded ones)")
@click.option("--witness", "witness_keys", multiple=True, metavar="VKEY",
              help="a trusted witness's cosigner key (type 0x04 vkey); repeatable")
@click.option("--witnesses-required", type=click.IntRange(min=0), default=0,
              help="fail (exit 4) unless the checkpoint has this many witness cosignatures")
def report_verify(file: Path, ca_files: tuple[Path, ...], keys_file: Path | None,
                  witness_keys: tuple[str, ...], witnesses_required: int) -> None:
    """Check a report offline: exit 0 ok, 2 could not check, 3 signature invalid,
    4 a proof or entry fails, 5 not an Absentia report."""
    from publicity.report import verify_report

    keys = [] if keys_file is None else [
        ln.strip() for ln in keys_file.read_text().splitlines() if ln.strip()]
    if witnesses_required > len(witness_keys):
        raise click.BadParameter(f"needs at least {witnesses_required} --witness keys",
                                 param_hint="--witnesses-required")
    result = verify_report(file, ca_files=ca_files, keys=keys, witnesses=witness_keys,
                           witnesses_required=witnesses_required)
    for line in result.lines:
        click.echo(line)
    click.echo({0: "OK", 2: "COULD NOT CHECK", 3: "SIGNATURE INVALID", 4: "PROOF FAILED",
                5: "NOT AN ABSENTIA REPORT"}.get(result.code, "?"))
    sys.exit(result.code)


def _open_accounts(data_dir: Path, config_file: Path | None) -> Any:
    """The console accounts on the absence domain's log (ledger.accounts.store.Accounts)."""
    from ledger.absence.vault import Vault
    from ledger.accounts.store import Accounts

    _, service = _open_absence(data_dir, config_file)
    with _ledger_errors():
        accounts = Accounts(service.store, service.log,
                            Vault.load_or_create_master_key(service.cfg.master_key_path))
    return accounts


@cli.group()
def users() -> None:
    """Console accounts (hr, reviewer, auditor, admin): create the first admin here."""


@users.command("create")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--login", required=True, help="the sign-in name (kept off the ledger)")
@click.option("--role", required=True, type=click.Choice(["hr", "reviewer", "auditor", "admin"]))
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="read the password from this file (first line) instead of "
                                 "prompting")
def users_create(data_dir: Path, config_file: Path | None, login: str, role: str,
                 password_file: Path | None) -> None:
    """Create a console account; the ledger records its id and role (not the login)."""
    from ledger.accounts.store import MIN_PASSWORD, TOTP_REQUIRED

    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD} "
                                   "characters")
    accounts = _open_accounts(data_dir, config_file)
    with _ledger_errors():
        user = accounts.create_user(login, password, role, datetime.now(UTC))
    click.echo(f"{user}\t{role}")
    if role in TOTP_REQUIRED:
        click.echo(f"(a {role} must set up a TOTP authenticator app at the first sign-in at "
                   "/console/sign-in: have one ready)", err=True)


@users.command("list")
@DATA_OPTION
@CONFIG_OPTION
def users_list(data_dir: Path, config_file: Path | None) -> None:
    """List accounts: id, login, role, TOTP enrolled, locked until."""
    accounts = _open_accounts(data_dir, config_file)
    for a in accounts.users():
        click.echo(f"{a.user}\t{a.login}\t{a.role}\t"
                   f"{'totp' if a.totp_enrolled else 'no-totp'}\t{a.locked_until or ''}\t"
                   f"{a.created_at}")


def _add_witness_commands() -> None:
    from ledger.app.witness_cli import witness

    cli.add_command(witness)


_add_witness_commands()


@cli.group()
def db() -> None:
    """The database schema: upgrade it, show its revision and the migrations' history."""


def _db_engine(data_dir: Path, config_file: Path | None) -> Any:
    from ledger.storage import make_engine

    s = _settings(data_dir, config_file)
    return make_engine(s.database_url, sqlite_synchronous=s.sqlite_synchronous)


@contextmanager
def _db_errors() -> Iterator[None]:
    """Database and migration failures as one line (no statement text, no traceback)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    with _ledger_errors():
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
    from ledger.migrations import upgrade

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
    from ledger.migrations import schema_state

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
    from ledger.migrations import head_revision, history

    with _ledger_errors():
        head = head_revision()
        for rev, parent, doc in history():
            click.echo(f"{parent or '<base>'} -> {rev}{' (head)' if rev == head else ''}, {doc}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="what the revision changes")
@click.option("--empty", is_flag=True, help="write an empty revision (no autogenerate)")
def db_revision(message: str, empty: bool) -> None:
    """Write a new migration (for developers): the difference between the models and
    the schema the revisions make, into ledger/migrations/versions/.  Review it."""
    from ledger.migrations import new_revision

    with _ledger_errors():
        path = new_revision(message, autogenerate=not empty)
    click.echo(f"wrote {path}; review it, then run the migration tests")


def main() -> None:
    """Console entry point."""
    cli()
