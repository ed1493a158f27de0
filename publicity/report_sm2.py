"""The 国密 option in archive reports: SM3 digests in the bundle, an SM2 detached signature.

Every line of the bundle (``publicity.report_proofs``) carries ``sm3``, the SM3 digest
(GB/T 32905) of its entry's bytes, beside ``leaf_sha256``, the RFC 9162 leaf hash that
its proof and the decision table rest on.  With an SM2 key configured for the log
(``[[logs]] sm2_key``), the bundle's bytes are signed with SM2-with-SM3 (default
distinguishing ID ``1234567812345678``, ``ledger.sm2``): the DER signature is embedded
as ``absentia-report-bundle.jsonl.sm2.sig`` with the signer's verifier key
(``sm2-verifier-key.txt``), and ``absentia report generate`` writes it beside the PDF
as ``<report>.pdf.sig`` too.  An auditor checks it with OpenSSL (``docs/keys.md``):
``pdfdetach -saveall`` the PDF, then ``openssl pkeyutl -verify -pubin -inkey pub.pem
-rawin -in absentia-report-bundle.jsonl -sigfile <report>.pdf.sig -digest sm3
-pkeyopt distid:1234567812345678``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ledger import jsonread
from ledger.errors import BadData, LedgerError, VerificationError
from ledger.note import NoteSigner
from ledger.sm2 import SM2Verifier, is_sm2_vkey, sm3, spki_from_pem

BUNDLE_NAME = "absentia-report-bundle.jsonl"  # report_proofs.BUNDLE_NAME (which imports us)
SIG_NAME = BUNDLE_NAME + ".sm2.sig"
SM2_KEY_NAME = "sm2-verifier-key.txt"
SIG_SUFFIX = ".sig"
#: ``check``'s verdict as ``absentia report verify``'s exit code (publicity.report's).
EXIT_CODES = {True: 0, False: 3, None: 2}


def digests(entry: bytes) -> dict[str, str]:
    """The SHA-256 leaf hash (RFC 9162 §2.1.1: SHA-256(0x00 || entry)) and the SM3 digest
    of the entry bytes, hex, as each bundle line carries them."""
    return {"leaf_sha256": hashlib.sha256(b"\x00" + entry).hexdigest(), "sm3": sm3(entry).hex()}


def check_digests(record: Mapping[str, Any], entry: bytes) -> None:
    """A bundle line's digests (when it has them: older bundles do not) match its entry.

    Raises:
        VerificationError: a digest differs.
    """
    for key, value in digests(entry).items():
        if key in record and record[key] != value:
            raise VerificationError(f"the bundle's {key} {record[key]!r} is not its entry's")


def signature_files(bundle: bytes, signer: NoteSigner | None
                    ) -> dict[str, tuple[bytes, str, str]]:
    """The embedded files of the SM2 signature of ``bundle`` (none without a signer)."""
    if signer is None:
        return {}
    vkey = getattr(getattr(signer, "verifier", None), "vkey", "")
    return {
        SIG_NAME: (signer.sign(bundle), "Data",
                   "SM2-with-SM3 detached signature of the bundle (DER, GB/T 35276; "
                   "ID 1234567812345678)"),
        SM2_KEY_NAME: ((vkey + "\n").encode(), "Data",
                       "SM2 verifier key of the log (0xff sm2-sm3 signed-note key)"),
    }


def write_detached(pdf_path: Path, files: Mapping[str, tuple[bytes, str, str]]) -> Path | None:
    """Write the embedded SM2 signature beside the PDF as ``<pdf>.sig`` (if there is one)."""
    if SIG_NAME not in files:
        return None
    path = pdf_path.with_name(pdf_path.name + SIG_SUFFIX)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(files[SIG_NAME][0])
    os.replace(tmp, path)
    return path


def given_keys(keys: Sequence[str], sm2_key_files: Sequence[Path], origin: str
               ) -> list[SM2Verifier]:
    """The SM2 verifiers an auditor gave: ``--key`` SM2 vkeys and ``--sm2-key`` files (a PEM
    public key, named ``origin``, or a file holding a vkey).

    Raises:
        BadData: a key is malformed.
        OSError: a file cannot be read.
    """
    out = [SM2Verifier.from_vkey(k) for k in keys if is_sm2_vkey(k)]
    for f in sm2_key_files:
        text = f.read_text(encoding="utf-8")
        if "-----BEGIN PUBLIC KEY-----" in text:
            out.append(SM2Verifier.from_spki(origin, spki_from_pem(text)))
        else:
            out += [SM2Verifier.from_vkey(ln) for ln in text.splitlines() if ln.strip()]
    return out


def check(files: Mapping[str, bytes], pdf_path: Path, keys: Sequence[str],
          sm2_key_files: Sequence[Path]) -> tuple[bool | None, list[str]]:
    """``check_signature`` with the SM2 keys among ``keys`` and in ``sm2_key_files`` (a PEM
    key is named by the bundle's origin); None: a key could not be read (``EXIT_CODES``)."""
    try:
        head = jsonread.read(files.get(BUNDLE_NAME, b"{}").split(b"\n")[0], field="bundle")
        verifiers = given_keys(keys, sm2_key_files, str(head.get("origin", "")))
    except (BadData, OSError, UnicodeDecodeError) as exc:
        return None, [f"sm2: could not check: {exc}"]
    return check_signature(files, pdf_path, verifiers)


def check_signature(files: Mapping[str, bytes], pdf_path: Path,
                    verifiers: Sequence[SM2Verifier]) -> tuple[bool, list[str]]:
    """Check the bundle's SM2 signature: embedded and beside the PDF, with the given keys
    (or, without any, the embedded key: then said to be not independent).

    Returns (ok, lines).  Given keys, a missing signature is a failure; without keys
    and without a signature there is nothing to check (ok, one line saying so).
    """
    sigs: dict[str, bytes] = {}
    if SIG_NAME in files:
        sigs["embedded"] = files[SIG_NAME]
    beside = pdf_path.with_name(pdf_path.name + SIG_SUFFIX)
    if beside.is_file():
        sigs[beside.name] = beside.read_bytes()
    keys, whose = list(verifiers), "given"
    if not keys:
        if not sigs:
            return True, ["sm2: no SM2 signature (the 国密 option is not configured)"]
        try:
            keys = [SM2Verifier.from_vkey(ln) for ln in
                    files.get(SM2_KEY_NAME, b"").decode().splitlines() if ln.strip()]
        except (BadData, UnicodeDecodeError) as exc:
            return False, [f"sm2: FAILED: the embedded SM2 key is malformed ({exc})"]
        whose = "embedded (not independent: pass --key <SM2 vkey> or --sm2-key FILE)"
    if not sigs:
        return False, ["sm2: FAILED: an SM2 key was given but the report carries no SM2 "
                       f"signature ({SIG_NAME} embedded, or {beside.name} beside it)"]
    bundle = files.get(BUNDLE_NAME, b"")
    lines = []
    for where, sig in sigs.items():
        try:
            ok = any(k.verify(bundle, sig) for k in keys)
        except LedgerError as exc:
            return False, [f"sm2: could not check the {where} signature: {exc}"]
        if not ok:
            return False, [f"sm2: FAILED: the {where} SM2 signature of the bundle does not "
                           f"verify with the {whose} key(s)"]
        lines.append(f"sm2: the {where} SM2-with-SM3 signature of the bundle verifies with "
                     f"the {whose} key: " + ", ".join(f"{k.name}+{k.key_id:08x}" for k in keys))
    return True, lines
