"""``absentia report``: generate a campaign's signed archive report, check one offline."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from ledger.app.cli.common import CONFIG_OPTION, DATA_OPTION, ledger_errors, open_service
from ledger.errors import BadData
from ledger.tlog_policy import load_policy
from publicity.report import generate, generate_job
from publicity.report_verify import verify_report


@click.group()
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
    started = time.monotonic()

    def progress(text: str) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f} s] {text}", err=True)

    settings, service = open_service(data_dir, config_file)
    with ledger_errors():
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
    sig = result.path.with_name(result.path.name + ".sig")
    if sig.is_file():  # the 国密 option: the bundle's SM2 detached signature
        click.echo(str(sig))


@report.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--ca", "ca_files", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="PEM CA certificate to trust (default: the root embedded in the signature)")
@click.option("--keys", "keys_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="file of trusted verifier keys (default: the embedded ones)")
@click.option("--key", "inline_keys", multiple=True, metavar="VKEY",
              help="a trusted verifier key (Ed25519, or SM2: then the checkpoint's SM2 line "
                   "and the bundle's SM2 signature must verify); repeatable")
@click.option("--sm2-key", "sm2_keys", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="a trusted SM2 public key (PEM) or SM2 verifier key file: the bundle's "
                   "SM2 signature must verify with it; repeatable")
@click.option("--witness", "witness_keys", multiple=True, metavar="VKEY",
              help="a trusted witness's cosigner key (type 0x04 vkey); repeatable")
@click.option("--witnesses-required", type=click.IntRange(min=0), default=0,
              help="fail (exit 4) unless the checkpoint has this many witness cosignatures")
@click.option("--policy", "policy_file", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="a C2SP tlog-policy file: fail (exit 4) unless the checkpoint's "
                   "cosignatures satisfy its quorum (instead of --witness/--witnesses-required)")
def report_verify(file: Path, ca_files: tuple[Path, ...], keys_file: Path | None,
                  inline_keys: tuple[str, ...], sm2_keys: tuple[Path, ...],
                  witness_keys: tuple[str, ...], witnesses_required: int,
                  policy_file: Path | None) -> None:
    """Check a report offline: exit 0 ok, 2 could not check, 3 signature invalid,
    4 a proof or entry fails, 5 not an Absentia report."""
    keys = list(inline_keys) + ([] if keys_file is None else [
        ln.strip() for ln in keys_file.read_text().splitlines() if ln.strip()])
    if witnesses_required > len(witness_keys):
        raise click.BadParameter(f"needs at least {witnesses_required} --witness keys",
                                 param_hint="--witnesses-required")
    if policy_file is not None and (witness_keys or witnesses_required):
        raise click.BadParameter("give --policy or --witness/--witnesses-required, not both",
                                 param_hint="--policy")
    try:
        policy = None if policy_file is None else load_policy(policy_file)
    except BadData as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from exc
    result = verify_report(file, ca_files=ca_files, keys=keys, witnesses=witness_keys,
                           witnesses_required=witnesses_required, policy=policy,
                           sm2_keys=sm2_keys)
    for line in result.lines:
        click.echo(line)
    click.echo({0: "OK", 2: "COULD NOT CHECK", 3: "SIGNATURE INVALID", 4: "PROOF FAILED",
                5: "NOT AN ABSENTIA REPORT"}.get(result.code, "?"))
    sys.exit(result.code)

