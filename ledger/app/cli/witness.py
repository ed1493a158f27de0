"""``absentia witness``: create a witness, serve it, tell it which logs to witness."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ledger.app.cli.common import open_ledger
from ledger.app.witness_server import (
    WitnessDatabase,
    create_key,
    load_key,
    load_witness_config,
    open_witness,
    serve_witness,
)
from ledger.errors import LedgerError
from ledger.note import check_key_name
from ledger.storage.db import make_engine
from ledger.witness.client import load_witness_settings, push_checkpoint, witness_status
from ledger.witness.cosig import CosignatureV1Signer

CONFIG_NAME = "witness.toml"
KEY_NAME = "witness-key.pem"

CONFIG_TEMPLATE = """\
# An Absentia witness (C2SP tlog-witness).  Paths are relative to this file's directory;
# {{dir}} is that directory.
name = "{name}"
key = "{key}"
database_url = "sqlite:///{{dir}}/witness.db"
host = "127.0.0.1"
port = {port}

# The logs this witness cosigns: the origin line of their checkpoints and their
# verifier keys (`absentia keys` on the log's host prints them).  Or use
# `absentia witness add-log`.
# [[logs]]
# origin = "absentia.example.gov.cn/hr-bureau/2026"
# vkeys = ["absentia.example.gov.cn/hr-bureau/2026+1234abcd+AQ..."]
"""

CONFIG_OPTION = click.option(
    "--config", "config_file", required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="the witness's config file (absentia witness init writes one)")


def _fail(exc: LedgerError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def witness() -> None:
    """A transparency-log witness: checks consistency, cosigns checkpoints."""


@witness.command("init")
@click.option("--dir", "directory", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="the witness's directory (created mode 0700): key, config, database")
@click.option("--name", required=True,
              help="the witness's cosigner name, a schema-less URL (witness.example.org/w1)")
@click.option("--port", type=int, default=7380, show_default=True, help="port to serve on")
def init(directory: Path, name: str, port: int) -> None:
    """Create the witness's key and config file; print its verifier key (vkey)."""
    config = directory / CONFIG_NAME
    try:
        if config.exists():
            cfg = load_witness_config(config)
            if cfg.name != name:
                raise click.ClickException(
                    f"{config} exists for the witness {cfg.name!r}; use another --dir")
            signer = CosignatureV1Signer(cfg.name, load_key(cfg.key_path))
            click.echo(f"{config} exists already", err=True)
        else:
            check_key_name(name)
            key = directory / KEY_NAME
            # A key left by an interrupted init is kept, never replaced.
            signer = CosignatureV1Signer(name, load_key(key) if key.exists()
                                         else create_key(key))
            directory.chmod(0o700)
            config.write_text(CONFIG_TEMPLATE.format(name=name, key=KEY_NAME, port=port),
                              encoding="utf-8")
            click.echo(f"created {directory / KEY_NAME} (mode 0600) and {config}", err=True)
    except LedgerError as exc:
        raise _fail(exc) from exc
    click.echo(signer.verifier.vkey)
    click.echo("(give this vkey to the logs, in their [[witnesses]] tables)", err=True)


@witness.command("add-log")
@CONFIG_OPTION
@click.option("--origin", required=True, help="the log's origin line")
@click.option("--vkey", "vkeys", required=True, multiple=True,
              help="the log's verifier key (repeatable: every key it signs with)")
def add_log(config_file: Path, origin: str, vkeys: tuple[str, ...]) -> None:
    """Witness a log (or replace its keys; the cosigned size is kept)."""
    try:
        cfg = load_witness_config(config_file)
        found = WitnessDatabase(make_engine(cfg.database_url)).add_log(
            origin, vkeys, datetime.now(UTC))
    except LedgerError as exc:
        raise _fail(exc) from exc
    click.echo(f"witnessing {found.origin} ({len(found.vkeys)} keys), cosigned size "
               f"{found.size}")


@witness.command("status")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("data"), show_default=True, help="the log's data directory")
@click.option("--config", "config_file", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="the log's config file (default: the project's config.toml)")
@click.option("--push", is_flag=True, help="sign a checkpoint and push it to every "
                                            "witness first, waiting up to timeout_s")
def status(data_dir: Path, config_file: Path | None, push: bool) -> None:
    """The log side: how far each configured witness has cosigned each log."""
    settings, store = open_ledger(data_dir, config_file)
    now = datetime.now(UTC)
    try:
        ws = load_witness_settings(settings)
        if not ws.witnesses:
            raise click.ClickException("no [[witnesses]] (or witness_policy.file) in the config: "
                                     "nothing to show")
        for info in store.list_logs():
            if push:
                cp = store.sign_checkpoint(info.name, now)
                push_checkpoint(store, info.name, ws.witnesses, cp, now,
                                timeout_s=ws.policy.timeout_s)
            size = store.latest_checkpoint(info.name).size
            need = (f"the policy file's quorum {ws.quorum.quorum!r} (at least "
                    f"{ws.policy.required} of {len(ws.witnesses)} cosignatures)"
                    if ws.quorum is not None else
                    f"{ws.policy.required} of {len(ws.witnesses)} cosignatures")
            click.echo(f"{info.name}\tcheckpoint {size}\t{need} required to publish")
            for st in witness_status(store, info.name, now, ws.witnesses):
                when = st.cosigned_at.isoformat() if st.cosigned_at else "never"
                click.echo(f"  {st.name}\tcosigned {st.cosigned_size} "
                           f"(behind by {size - st.cosigned_size}) at {when}"
                           + (f"\tlast error: {st.last_error}" if st.last_error else ""))
    except LedgerError as exc:
        raise _fail(exc) from exc


@witness.command("serve")
@CONFIG_OPTION
@click.option("--host", default=None, help="address to bind (default from the config)")
@click.option("--port", type=int, default=None, help="port (default from the config)")
@click.option("--workers", type=int, default=1, show_default=True,
              help="gunicorn worker processes")
def serve(config_file: Path, host: str | None, port: int | None, workers: int) -> None:
    """Serve POST /add-checkpoint (gunicorn) until interrupted."""
    try:
        cfg = load_witness_config(config_file)
        load_key(cfg.key_path)  # fail here, in one line, rather than in every worker
        w = open_witness(cfg, datetime.now(UTC))
    except LedgerError as exc:
        raise _fail(exc) from exc
    h, p = host or cfg.host, port or cfg.port
    click.echo(f"witness {w.signer.verifier.vkey} on http://{h}:{p}/ "
               f"({len(w.state.all())} logs; Ctrl-C stops)", err=True)
    serve_witness(cfg, h, p, workers=workers)
