"""Checking an archive report offline (``absentia report verify``): its PAdES signature,
the embedded bundle's proofs and entries against the report's table, the witness
cosignatures or policy, and the 国密 option's SM2 bundle signature (``report_sm2``).

Raises nothing but what each function's docstring names; exit codes are ``report``'s.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger import jsonread
from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, CouldNotCheck, LedgerError, VerificationError
from ledger.merkle import leaf_hash
from ledger.note import SignedNote
from ledger.proof import TlogProof
from ledger.tlog_policy import Policy, k_of_n_policy, verify_policy_cosignatures
from ledger.verify import require_sm2
from ledger.verify_cli import check_policy_logs, parse_verifier
from publicity import report_sm2
from publicity.report import (
    EXIT_COULD_NOT_CHECK,
    EXIT_NOT_OURS,
    EXIT_OK,
    EXIT_PROOF,
    EXIT_SIGNATURE,
)
from publicity.report_proofs import (
    BUNDLE_FORMATS,
    BUNDLE_NAME,
    CHECKPOINT_NAME,
    KEYS_NAME,
    check_kind,
)
from publicity.signing import (
    check_signature,
)

# -- verification ------------------------------------------------------------------------

@dataclass
class VerifyResult:
    code: int
    lines: list[str]


def embedded_files(pdf: bytes) -> dict[str, bytes]:
    """The PDF's embedded files by name (empty if none).

    Raises:
        CouldNotCheck: the file is not a PDF pyHanko can read.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        names = reader.root.get("/Names")
        tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
        if tree is None:
            return {}
        out: dict[str, bytes] = {}
        stack = [tree.get_object()]
        while stack:
            node = stack.pop()
            for kid in node.get("/Kids", []):
                stack.append(kid.get_object())
            pairs = node.get("/Names", [])
            for i in range(0, len(pairs) - 1, 2):
                spec = pairs[i + 1].get_object()
                stream = spec["/EF"]["/F"].get_object()
                out[str(pairs[i])] = stream.data
        return out
    except Exception as exc:  # pyHanko raises many types on malformed input
        raise CouldNotCheck(f"cannot read the PDF's embedded files: {exc}") from exc


def table_hashes(pdf_path: Path) -> dict[int, str]:
    """ledger index -> leaf hash (hex) as printed in the decision table (pdftotext).

    Raises:
        CouldNotCheck: pdftotext is missing or fails.
    """
    if shutil.which("pdftotext") is None:
        raise CouldNotCheck("pdftotext (poppler-utils) is needed to read the decision table")
    proc = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True,
                          timeout=300, check=False)
    if proc.returncode != 0:
        raise CouldNotCheck(f"pdftotext failed: {proc.stderr.decode(errors='replace')}")
    found: dict[int, str] = {}
    for m in re.finditer(r"(?m)\b(\d+)\s+([0-9a-f]{64})\s*$", proc.stdout.decode()):
        found[int(m.group(1))] = m.group(2)
    return found


def _trust_roots(pdf: bytes, ca_files: Sequence[Path]) -> tuple[list[Any], str]:
    from cryptography import x509

    if ca_files:
        return ([c for f in ca_files for c in x509.load_pem_x509_certificates(f.read_bytes())],
                "the CA you gave (--ca " + ", ".join(str(f) for f in ca_files) + ")")
    # Offline without a CA: the self-signed root the signature embeds (reported as such).
    from pyhanko.pdf_utils.reader import PdfFileReader

    roots = []
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        for sig in reader.embedded_signatures:
            for c in sig.signed_data["certificates"]:
                cert = c.chosen
                if cert.subject == cert.issuer:
                    roots.append(x509.load_der_x509_certificate(cert.dump()))
    except Exception as exc:  # pyHanko raises many types on malformed input
        raise CouldNotCheck(f"cannot parse the PDF: {exc}") from exc
    return roots, ("the CA embedded in this file (not independent: pass --ca FILE, the "
                   "office's CA certificate in PEM, to check it against a CA you trust)")


def verify_report(path: Path, *, ca_files: Sequence[Path] = (),
                  keys: Sequence[str] = (), witnesses: Sequence[str] = (),
                  witnesses_required: int = 0, policy: Policy | None = None,
                  sm2_keys: Sequence[Path] = ()) -> VerifyResult:
    """Check a report offline: signature, embedded proofs, entries against the table;
    with ``witnesses_required`` that many cosignatures by the ``witnesses`` keys, or with
    ``policy`` (a C2SP tlog-policy) its quorum and its logs; and the bundle's SM2
    signature (``report_sm2``; SM2 vkeys in ``keys``, or ``sm2_keys`` files)."""
    lines: list[str] = []
    try:
        pdf = path.read_bytes()
    except OSError as exc:
        return VerifyResult(EXIT_COULD_NOT_CHECK, [f"could not read {path}: {exc}"])
    if not pdf.startswith(b"%PDF-"):
        return VerifyResult(EXIT_NOT_OURS, [f"{path} is not a PDF"])
    # 1. the signature (first: a tampered byte may also break what follows)
    try:
        roots, whose = _trust_roots(pdf, ca_files)
        sig = check_signature(pdf, roots)
    except CouldNotCheck as exc:
        return VerifyResult(EXIT_NOT_OURS, [f"not our report: {exc}"])
    except (OSError, ValueError) as exc:
        return VerifyResult(EXIT_COULD_NOT_CHECK, [f"signature: could not check: {exc}"])
    try:
        files = embedded_files(pdf)
    except CouldNotCheck as exc:
        if sig is None:
            return VerifyResult(EXIT_NOT_OURS, [f"not our report: {exc}"])
        files = {}
        lines.append(f"embedded files: unreadable ({exc})")
    if sig is None:
        if BUNDLE_NAME in files:
            return VerifyResult(EXIT_SIGNATURE, ["signature: MISSING (the report is unsigned)"])
        return VerifyResult(EXIT_NOT_OURS, ["not our report: no signature, no embedded bundle"])
    lines.append(f"signature: intact={sig.intact} valid={sig.valid} "
                 f"covers whole file={sig.entire_file} chains to the CA={sig.trusted}")
    lines.append(f"signer: {sig.signer}")
    if sig.chain:
        lines.append("chain: " + " <- ".join(reversed(sig.chain)))
    if not sig.ok:
        lines.append(f"signature: INVALID ({sig.summary})")
        return VerifyResult(EXIT_SIGNATURE, lines)
    if ca_files and not sig.trusted:
        lines.append(f"signature: NOT TRUSTED: the signer certificate does not chain to "
                     f"{whose} ({sig.summary})")
        return VerifyResult(EXIT_SIGNATURE, lines)
    lines.append("signature valid; signer certificate chains to: " + whose if sig.trusted
                 else "signature valid; signer certificate does not chain to: " + whose)
    # 2. the bundle
    if not files:
        lines.append("not our report: no embedded files")
        return VerifyResult(EXIT_NOT_OURS, lines)
    if BUNDLE_NAME not in files:
        lines.append(f"not our report: no embedded {BUNDLE_NAME}")
        return VerifyResult(EXIT_NOT_OURS, lines)
    try:
        if policy is None and (witnesses or witnesses_required):
            policy = k_of_n_policy(list(witnesses), witnesses_required)
        code, more = _verify_bundle(files, keys, path, policy)
        if code == EXIT_OK:  # the 国密 option's SM2 signature of the bundle
            ok, sm2_lines = report_sm2.check(files, path, keys, sm2_keys)
            code, more = report_sm2.EXIT_CODES[ok], more + sm2_lines
    except BadData as exc:
        lines.append(f"witnesses: could not check: {exc}")
        return VerifyResult(EXIT_COULD_NOT_CHECK, lines)
    except CouldNotCheck as exc:
        lines.append(f"table: could not check: {exc}")
        return VerifyResult(EXIT_COULD_NOT_CHECK, lines)
    return VerifyResult(code, lines + more)


def _verify_bundle(files: dict[str, bytes], keys: Sequence[str], path: Path,
                   policy: Policy | None = None) -> tuple[int, list[str]]:
    lines: list[str] = []
    try:
        text = files[BUNDLE_NAME].decode()
        records = [jsonread.read(ln, field="bundle", max_bytes=len(ln))
                   for ln in text.splitlines() if ln]
        head = records[0]
        if head.get("format") not in BUNDLE_FORMATS:
            return EXIT_NOT_OURS, [f"not our report: bundle format {head.get('format')!r}"]
        note = files[CHECKPOINT_NAME].decode()
        vkeys = list(keys) or [k for k in files[KEYS_NAME].decode().splitlines() if k.strip()]
        verifiers = [parse_verifier(k) for k in vkeys]  # Ed25519, or SM2 (the 国密 option)
    except (KeyError, IndexError, ValueError, UnicodeDecodeError, BadData) as exc:
        return EXIT_PROOF, [f"bundle: malformed ({exc})"]
    lines.append(f"keys: {'given' if keys else 'embedded'} ({len(verifiers)}): "
                 + ", ".join(v.name + '+' + f'{v.key_id:08x}' for v in verifiers))
    try:
        cp = Checkpoint.open(note, verifiers, head.get("origin"))
        require_sm2(verifiers, SignedNote.parse(note).verify(verifiers))
    except LedgerError as exc:
        return EXIT_PROOF, [*lines, f"checkpoint: FAILED ({exc})"]
    if cp.size != head.get("checkpoint_size"):
        return EXIT_PROOF, [*lines, "checkpoint: size differs from the bundle header"]
    lines.append(f"checkpoint: {cp.origin} size {cp.size} signed by a trusted key")
    if policy is not None:
        try:
            check_policy_logs(SignedNote.parse(note), policy)
            got = verify_policy_cosignatures(SignedNote.parse(note), policy)
        except LedgerError as exc:
            return EXIT_PROOF, [*lines, f"witnesses: FAILED ({exc})"]
        lines.append(f"witnesses: {len(got)} valid cosignature(s), {policy.min_witnesses()} "
                     f"required, quorum {policy.quorum!r} satisfied: "
                     + (", ".join(name for name, _ in got) or "none"))
    table = table_hashes(path)
    failures: list[str] = []
    seen: set[int] = set()
    kinds = [str(r.get("kind", "decision")) for r in records[1:]]
    for rec, kind in zip(records[1:], kinds, strict=True):
        try:
            idx = int(rec["index"])
            entry = base64.b64decode(rec["entry_b64"], validate=True)
            proof = TlogProof.from_text(rec["proof"])
            if proof.index != idx:
                raise VerificationError(f"proof is for index {proof.index}")
            if proof.checkpoint != note:
                raise VerificationError("proof's checkpoint is not the embedded checkpoint")
            parsed = jsonread.read(entry, field="entry", max_bytes=len(entry))
            if parsed.get("index") != idx:
                raise VerificationError("entry bytes carry another index")
            leaf = leaf_hash(entry)
            report_sm2.check_digests(rec, entry)
            proof.verify(leaf, verifiers, cp.origin)
            if kind != "decision":  # 递补 or objection: proven, listed by index only
                check_kind(kind, parsed)
                continue
            if table.get(idx) != leaf.hex():
                raise VerificationError(
                    f"table shows leaf hash {table.get(idx)!r}, entry hashes to {leaf.hex()}")
            seen.add(idx)
        except (KeyError, ValueError, TypeError, LedgerError) as exc:
            failures.append(f"entry {rec.get('index')!r}: {exc}")
    missing = sorted(set(table) - seen)
    if missing:
        failures.append(f"table rows without a verified proof: {missing[:10]}")
    for key, kind in (("decisions", "decision"), ("backfills", "backfill"),
                      ("objections", "objection")):
        if head.get(key, 0) != kinds.count(kind):
            failures.append(f"header says {head.get(key, 0)} {key}, bundle holds "
                            f"{kinds.count(kind)}")
    for f in failures[:20]:
        lines.append(f"FAILED {f}")
    if failures:
        lines.append(f"proofs: {len(failures)} failure(s) of {len(records) - 1} decisions")
        return EXIT_PROOF, lines
    lines.append(f"proofs: all {len(seen):,} decisions included in checkpoint {cp.size}; "
                 "entry hashes match the table")
    if len(kinds) > len(seen):
        lines.append(f"proofs: {kinds.count('backfill'):,} 递补 and "
                     f"{kinds.count('objection'):,} objection entries included too")
    return EXIT_OK, lines
