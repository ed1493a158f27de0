"""``absentia`` commands on the absence domain's credentials and tables: tokens,
platform-secret, users, rebuild."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ledger.absence.rebuild import check_rebuild
from ledger.absence.rebuild import rebuild as rebuild_tables
from ledger.accounts.store import MIN_PASSWORD, TOTP_REQUIRED
from ledger.app.cli.common import (
    CONFIG_OPTION,
    DATA_OPTION,
    Progress,
    ledger_errors,
    open_accounts,
    open_service,
)
from ledger.app.wiring import read_webhook_secrets, rotate_webhook_secret


@click.group()
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
    _, service = open_service(data_dir, config_file)
    with ledger_errors():
        text = service.create_token(role, datetime.now(UTC), label)
    click.echo(text)
    click.echo(f"(a {role} token: send it as 'Authorization: Bearer …'; it is not shown again)",
               err=True)


@tokens.command("list")
@DATA_OPTION
@CONFIG_OPTION
def tokens_list(data_dir: Path, config_file: Path | None) -> None:
    """List tokens (ids and roles; the secrets are not stored)."""
    _, service = open_service(data_dir, config_file)
    for t in service.tokens():
        state = "revoked" if t["revoked"] else "active"
        click.echo(f"{t['token']}\t{t['role']}\t{state}\t{t['created_at']}\t{t['label'] or ''}")


@tokens.command("revoke")
@DATA_OPTION
@CONFIG_OPTION
@click.argument("token_id")
def tokens_revoke(data_dir: Path, config_file: Path | None, token_id: str) -> None:
    """Revoke a token by its id (tok_…)."""
    _, service = open_service(data_dir, config_file)
    with ledger_errors():
        service.revoke_token(token_id, datetime.now(UTC))
    click.echo(f"revoked {token_id}")


@click.command("platform-secret")
@DATA_OPTION
@CONFIG_OPTION
@click.option("--rotate", is_flag=True, help="make a new secret current; the previous one "
                                              "stays accepted until the next rotation")
def platform_secret(data_dir: Path, config_file: Path | None, rotate: bool) -> None:
    """Print the interview platform's webhook secret (Standard Webhooks whsec_…)."""
    _, service = open_service(data_dir, config_file)
    path = service.cfg.webhook_secrets_path
    with ledger_errors():
        if rotate:
            rotate_webhook_secret(path)
        current = read_webhook_secrets(path)
    click.echo(current[0].to_text())
    if len(current) > 1:
        click.echo("(the previous secret is still accepted until the next rotation)", err=True)


@click.command()
@DATA_OPTION
@CONFIG_OPTION
@click.option("--check", is_flag=True, help="compare the live tables with a replay instead "
                                             "of replacing them; exit 1 if they differ")
def rebuild(data_dir: Path, config_file: Path | None, check: bool) -> None:
    """Rebuild the tables the app reads by replaying the ledger (or --check them)."""
    _, service = open_service(data_dir, config_file)
    with ledger_errors():
        if check:
            result = check_rebuild(service.store, service.log, Progress("replaying"))
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
        n = rebuild_tables(service.store, service.log, datetime.now(UTC), Progress("replaying"))
    click.echo(f"rebuilt the tables from {n:,} entries")



@click.group()
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
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD} "
                                   "characters")
    accounts = open_accounts(data_dir, config_file)
    with ledger_errors():
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
    accounts = open_accounts(data_dir, config_file)
    for a in accounts.users():
        click.echo(f"{a.user}\t{a.login}\t{a.role}\t"
                   f"{'totp' if a.totp_enrolled else 'no-totp'}\t{a.locked_until or ''}\t"
                   f"{a.created_at}")

