"""The command line of the auditor's offline verifier: ``absentia verify PREFIX``
(also ``python -m ledger.verify_cli``).

``ledger.verify`` checks; this module reads the arguments, the verifier keys (Ed25519,
or SM2 with the 国密 option: ``ledger.sm2``) and the witness policy (C2SP tlog-policy:
``ledger.tlog_policy``), and prints the outcome.  Dependencies: the standard library,
``cryptography`` and ``rfc8785``; ``tongsuopy`` only when an SM2 key is given.  No
Flask, no SQLAlchemy, no database.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, CouldNotCheck, LedgerError, NotFound, VerificationError
from ledger.note import Ed25519Verifier, NoteVerifier, SignedNote
from ledger.sm2 import SM2Verifier, is_sm2_vkey
from ledger.tlog_policy import Policy, k_of_n_policy, load_policy, verify_policy_cosignatures
from ledger.verify import (
    Source,
    _PinnedCheckpoint,
    _TerminalProgress,
    open_source,
    verify_log,
)
from ledger.witness.cosig import Cosignature


def parse_verifier(vkey: str) -> NoteVerifier:
    """An Ed25519 verifier key, or an SM2 one (type 0xff "sm2-sm3").

    Raises:
        BadData: the key is malformed.
    """
    return SM2Verifier.from_vkey(vkey) if is_sm2_vkey(vkey) else Ed25519Verifier.from_vkey(vkey)


def load_verifiers(keys: list[str], key_files: list[Path]) -> list[NoteVerifier]:
    """Parse verifier keys (Ed25519 or SM2) given inline and in files (one a line, '#'
    comments).

    Raises:
        BadData: a key is malformed.
        CouldNotCheck: a key file cannot be read.
    """
    out = [parse_verifier(k) for k in keys]
    for f in key_files:
        try:
            lines = f.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CouldNotCheck(f"cannot read key file {f}: {exc}") from exc
        out += [parse_verifier(ln) for ln in lines
                if ln.strip() and not ln.startswith("#")]
    return out


def main(argv: list[str] | None = None) -> int:
    """``absentia verify``: exit 0 if the log verifies, 1 if not, 2 if it could not check."""
    parser = argparse.ArgumentParser(
        prog="absentia verify",
        description="Verify an Absentia log offline from a tlog-tiles directory or URL prefix.")
    parser.add_argument("prefix", help="exported directory or http(s)://host/logs/NAME")
    parser.add_argument("--key", action="append", default=[], metavar="VKEY",
                        help="trusted verifier key (name+hash+base64), Ed25519 or SM2; "
                             "repeatable")
    parser.add_argument("--keys", action="append", default=[], type=Path, metavar="FILE",
                        help="file of trusted verifier keys, one a line; repeatable")
    parser.add_argument("--old", type=Path, metavar="CHECKPOINT",
                        help="an older trusted checkpoint that the log must extend")
    parser.add_argument("--origin", help="expected origin line")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes for entry checks (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="trusted witness cosigner key (type 0x04 vkey); repeatable")
    parser.add_argument("--witnesses-required", type=int, default=0, metavar="K",
                        help="fail unless the checkpoint carries K valid cosignatures by "
                             "the --witness keys")
    parser.add_argument("--policy", type=Path, metavar="FILE",
                        help="a C2SP tlog-policy file: fail unless the checkpoint's "
                             "cosignatures satisfy its quorum (and, if it lists logs, one of "
                             "them signed it); instead of --witness/--witnesses-required")
    args = parser.parse_args(argv)
    if not 0 <= args.witnesses_required <= len(args.witness):
        print(f"could not verify: --witnesses-required {args.witnesses_required} needs at "
              f"least that many --witness keys (got {len(args.witness)})", file=sys.stderr)
        return 2
    if args.policy is not None and (args.witness or args.witnesses_required):
        print("could not verify: give --policy FILE or --witness/--witnesses-required, not "
              "both", file=sys.stderr)
        return 2
    cosigned: list[tuple[str, Cosignature]] = []
    try:
        policy = load_policy(args.policy) if args.policy is not None else \
            k_of_n_policy(args.witness, args.witnesses_required) if args.witness else None
    except BadData as exc:
        print(f"could not verify: {exc}", file=sys.stderr)
        return 2
    try:
        key_files = list(args.keys)
        if policy is not None and policy.logs and not args.key and not key_files:
            args.key = policy.log_vkeys()  # the policy's logs are the trusted log keys
        elif not args.key and not key_files:
            local = Path(args.prefix) / "keys"
            if not args.prefix.startswith(("http://", "https://")) and local.is_file():
                sys.stderr.write(
                    f"warning: no --key/--keys given; trusting {local} from the export itself. "
                    "Pass the keys you obtained independently for a real audit.\n")
                key_files.append(local)
        verifiers = load_verifiers(args.key, key_files)
        old_text = args.old.read_bytes() if args.old else None
        progress = None if args.quiet or not sys.stderr.isatty() else _TerminalProgress()
        source: Source = open_source(args.prefix)
        if policy is not None:
            # Read the checkpoint once: the cosignatures checked are those of the
            # checkpoint whose tree is verified.
            source = _PinnedCheckpoint(source)
            note = SignedNote.parse(source.get("checkpoint"))
            check_policy_logs(note, policy)
            cosigned = verify_policy_cosignatures(note, policy)
        report = verify_log(source, verifiers, old_checkpoint=old_text,
                            origin=args.origin, progress=progress, jobs=max(1, args.jobs))
    except VerificationError as exc:
        where = f" (first bad index: {exc.index})" if exc.index is not None else ""
        print(f"FAILED{where}: {exc}", file=sys.stderr)
        return 1
    except BadData as exc:
        print(f"FAILED: malformed input: {exc}", file=sys.stderr)
        return 1
    except (NotFound, CouldNotCheck, OSError) as exc:
        print(f"could not verify: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"could not verify: {exc}", file=sys.stderr)
        return 2
    old = f", extends the checkpoint of size {report.old_size}" if report.old_size is not None \
        else ""
    print(f"OK: {report.origin}: {report.entries:,} entries, {report.tiles:,} tiles, root "
          f"{base64.b64encode(report.root).decode()}, signed by {', '.join(report.signed_by)}{old} "
          f"({report.seconds:.2f} s)")
    if args.witness:
        names = ", ".join(f"{c.name}+{c.key_id:08x}" for _, c in cosigned) or "none"
        print(f"OK: {len(cosigned)} witness cosignature(s) ({args.witnesses_required} "
              f"required): {names}")
    elif policy is not None:
        names = ", ".join(f"{name} ({c.name}+{c.key_id:08x})" for name, c in cosigned)
        print(f"OK: the witness policy's quorum {policy.quorum!r} is satisfied "
              f"({len(cosigned)} cosignature(s)): {names or 'none needed'}")
    return 0


def check_policy_logs(note: SignedNote, policy: Policy) -> None:
    """When ``policy`` lists logs, check that one of them signed ``note`` and that the
    checkpoint's origin is that log's key name (tlog-policy §Defining a log).

    Raises:
        VerificationError: no listed log signed it under its own origin, or a listed
            log's signature does not verify.
    """
    if not policy.logs:
        return
    origin = Checkpoint.from_body(note.text).origin
    try:
        signed = note.verify([Ed25519Verifier.from_vkey(v) for v in policy.log_vkeys()])
    except VerificationError as exc:
        raise VerificationError(f"the policy's logs: {exc}") from exc
    if not any(v.name == origin for v in signed):
        raise VerificationError(f"the checkpoint's origin {origin!r} is not the key name of "
                                "a policy log that signed it")


if __name__ == "__main__":
    sys.exit(main())
