"""``absentia demo``: a recruitment campaign on a simulated clock (``ledger.app.demo``),
its notice and signed report, exported, verified and rebuilt, then served."""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ledger.absence.notify import Channel, FileChannel
from ledger.absence.rebuild import check_rebuild
from ledger.absence.service import AbsenceService, Caller
from ledger.absence.settings import load_absence_settings
from ledger.accounts.store import Accounts
from ledger.app import demo_hsm
from ledger.app.cli.common import (
    CONFIG_OPTION,
    DATA_OPTION,
    Progress,
    ledger_errors,
    load_cli_settings,
)
from ledger.app.demo import TZ, demo_start, min_candidates, run_campaign
from ledger.app.demo_backfill import run_backfill_and_objections
from ledger.app.demo_console import WalkFailed, walk_console
from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.app.server import serve as run_server
from ledger.app.wiring import open_absence
from ledger.config import Settings
from ledger.entry import parse_utc
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.storage.sm2keys import use_sm2_key
from ledger.verify import DirectorySource, verify_log
from publicity.calendar import WorkingCalendar
from publicity.notices import document, publish
from publicity.report import generate as generate_report


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--candidates", type=int, default=2000, show_default=True,
              help="candidates in the simulated campaign")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="the same seed runs the same campaign")
@click.option("--no-serve", is_flag=True, help="stop after verifying instead of serving")
@click.option("--hsm", is_flag=True,
              help="every key inside a SoftHSM2 token initialised under DATA/hsm")
@click.option("--sm2", is_flag=True,
              help="the 国密 option: the logs get an SM2 key (KEY_DIR/<log>.sm2.pem), a second "
                   "SM2-with-SM3 line on every checkpoint and an SM2 signature on the report")
def demo(data_dir: Path, config_file: Path | None, candidates: int, seed: int,
         no_serve: bool, hsm: bool, sm2: bool) -> None:
    """Run a recruitment campaign on a simulated clock, sign, export, verify, then serve.

    About 2,000 candidates, 12 % absent in the article's mix, a platform outage that
    raises an alert, accommodations, reviews, make-ups and appeals; after the notice,
    递补 from ranked lists and two public objections (one leading to a cancellation);
    notifications go to a file (outbox.jsonl in the data directory), never to anyone.
    """
    if hsm:
        data_dir.mkdir(parents=True, exist_ok=True)
        with ledger_errors():
            config_file = demo_hsm.prepare(data_dir, config_file)
        click.echo(f"keys in the SoftHSM2 token {demo_hsm.TOKEN!r} ({data_dir / 'hsm'}); "
                   f"config {config_file}")
    s = load_cli_settings(data_dir, config_file)
    if sm2:  # as if each [[logs]] of the config said sm2_key = "file:KEY_DIR/<log>.sm2.pem"
        s = replace(s, logs=tuple(replace(lc, sm2_key=lc.sm2_key or f"file:{s.key_dir}/"
                                          f"{lc.name}.sm2.pem") for lc in s.logs))
    with ledger_errors():
        cfg = load_absence_settings(s)
        if candidates < min_candidates(cfg.thresholds):
            raise click.BadParameter(
                f"at least {min_candidates(cfg.thresholds)} (so that one slot's outage can "
                "cross the [alerts] thresholds)", param_hint="--candidates")
        name = cfg.log
        store = LedgerStore(make_engine(s.database_url,
                                        sqlite_synchronous=s.sqlite_synchronous),
                            s.key_dir, entry_types(), pkcs11=s.pkcs11)
        upgrade(store.engine)
        last = None
        if name in {info.name for info in store.list_logs()} and store.head(name).size:
            entry = json.loads(store.entry(name, store.head(name).size - 1))
            last = parse_utc(entry["time"])
        # The campaign runs on a simulated clock; the logs are created at its start so
        # that entry times never go backwards.
        start = demo_start(last)
        for lc in s.logs:
            store.ensure_log(lc.name, lc.origin, start, key_uri=lc.key_uri)
            if lc.sm2_key is not None:
                use_sm2_key(store, lc.name, lc.sm2_key, start)
        service = open_absence(s, store, start)
        outbox = s.data_dir / "outbox.jsonl"
        file_channel = FileChannel(outbox)
        channels: dict[str, Channel] = {"email": file_channel, "sms": file_channel}
        click.echo(f"simulating a campaign of {candidates:,} candidates from "
                   f"{start.astimezone(TZ):%Y-%m-%d %H:%M} ({TZ.key}), seed {seed}")
        bar = Progress("simulating")

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
    with ledger_errors():
        notice = _demo_notice(s, service, summary.campaign, summary.finished)
    click.echo(f"\npublic notice {notice['notice']}: {notice['lines']:,} lines, notice period "
               f"until {notice['period_end']} (UTC)")
    click.echo(f"  written to {notice['file']} (sha256 {notice['sha256'][:16]}…, as recorded "
               f"in the ledger at #{notice['ledger_index']})")

    with ledger_errors():
        # 递补 and objections during the notice period: days of the simulated clock.
        after = run_backfill_and_objections(
            service, channels, summary, notice["notice"],
            summary.finished + timedelta(hours=1, minutes=30), click.echo,
            calendar=WorkingCalendar.from_config(s.publicity.calendar))
        archived = generate_report(service, s, summary.campaign, after + timedelta(hours=1))
    click.echo(f"signed archive report {archived.report_id}: {archived.decisions:,} decisions, "
               f"PDF/A-3b signed with PAdES")
    click.echo(f"  written to {archived.path} (sha256 {archived.sha256[:16]}…, ledger "
               f"#{archived.ledger_index}); check it: absentia report verify {archived.path}")
    if archived.path.with_name(archived.path.name + ".sig").is_file():
        click.echo(f"  SM2 signature of its bundle: {archived.path}.sig")
    with ledger_errors():
        console_accounts = _demo_accounts(service, after + timedelta(hours=2))
    try:
        with ledger_errors():
            walk_console(service, s, summary, after + timedelta(hours=3), click.echo)
    except WalkFailed as exc:
        raise click.ClickException(str(exc)) from None
    with ledger_errors():
        cp = store.sign_checkpoint(name, datetime.now(UTC))
        out = s.data_dir / "export" / name
        export_log(store, name, out, Progress("exporting"))
        report = verify_log(DirectorySource(out), store.verifiers(name),
                            progress=Progress("verifying"))
        check = check_rebuild(store, name, Progress("replaying"))
    click.echo(f"\nlog {name} ({store.log(name).origin}): {cp.size:,} entries, "
               "checkpoint signed")
    click.echo(f"exported to {out}")
    click.echo(f"verified offline: {report.entries:,} entries, {report.tiles:,} tiles "
               f"in {report.seconds:.2f} s")
    click.echo(f"  check it yourself: absentia verify {out} --keys {out / 'keys'}")
    for vkey in store.log(name).sm2_verifier_keys:  # the 国密 option (--sm2)
        click.echo(f"  SM2 (国密) verifier key {vkey}\n  check its line: absentia verify {out} "
                   f"--keys {out / 'keys'} --key {vkey}")
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

    click.echo(f"serving on {base}/ (Ctrl-C stops)")
    click.echo(f"  verify over HTTP: absentia verify {base}/logs/{name} --keys {out / 'keys'}")
    with ledger_errors():
        run_server(s, s.host, s.port)


def _demo_notice(s: Settings, service: AbsenceService, campaign: str, finished: datetime
                 ) -> dict[str, Any]:
    """Publish the demo campaign's notice an hour after it ended; write its bytes out."""
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

    accounts = Accounts(service.store, service.log,
                        service.master_key)
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

