"""The 国密 option on checkpoints: a configured SM2 key signs every checkpoint's second
line, is recorded in the log once, is listed by ``GET /logs``; OpenSSL's command line (an
implementation we did not write) verifies our SM2 lines and we verify its signatures;
``absentia verify --key <SM2 vkey>`` checks the line, and Ed25519-only checks ignore it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.app.web import create_app
from ledger.checkpoint import Checkpoint
from ledger.config import load_settings
from ledger.errors import BadData, CouldNotCheck, NotAllowed
from ledger.note import Ed25519Verifier, NoteVerifier, SignedNote
from ledger.sm2 import SM2Signer, SM2Verifier
from ledger.storage.open import open_store
from ledger.storage.store import LedgerStore

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
ORIGIN = "example.gov.cn/hr/2026"
# GB/T 35276 §5.4's default ID: Debian's OpenSSL 3.0 pkeyutl needs it named explicitly.
DISTID = "distid:1234567812345678"


def _config(tmp_path: Path, sm2: bool = True) -> Path:
    config = tmp_path / "c.toml"
    line = 'sm2_key = "file:{data}/keys/hr.sm2.pem"\n' if sm2 else ""
    config.write_text(f'[storage]\nurl = "sqlite:///{{data}}/a.db"\n'
                      f'[[logs]]\nname = "hr"\norigin = "{ORIGIN}"\n{line}', encoding="utf-8")
    return config


def _open(tmp_path: Path, sm2: bool = True) -> LedgerStore:
    (tmp_path / "data").mkdir(exist_ok=True)
    return open_store(load_settings(tmp_path / "data", _config(tmp_path, sm2)), entry_types())


def _lines(note: str) -> tuple[str, list[str]]:
    body, _, sigs = note.partition("\n\n")
    return body + "\n", sigs.splitlines()


def _sm2_parts(store: LedgerStore) -> tuple[SM2Verifier, str, bytes]:
    """The log's SM2 verifier, the latest checkpoint's text and its SM2 DER signature."""
    (vkey,) = store.log("hr").sm2_verifier_keys
    verifier = SM2Verifier.from_vkey(vkey)
    note = SignedNote.parse(store.latest_checkpoint("hr").note)
    (sig,) = [s for s in note.signatures if s.key_id == verifier.key_id]
    return verifier, note.text, sig.signature


def test_a_configured_sm2_key_signs_every_checkpoint_and_is_recorded_once(
        tmp_path: Path) -> None:
    store = _open(tmp_path)
    key_file = tmp_path / "data" / "keys" / "hr.sm2.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    info = store.log("hr")
    (vkey,) = info.sm2_verifier_keys
    sm2 = SM2Verifier.from_vkey(vkey)
    assert sm2.name == ORIGIN
    (ed_vkey,) = info.verifier_keys
    ed = Ed25519Verifier.from_vkey(ed_vkey)
    note = store.latest_checkpoint("hr").note
    _, sigs = _lines(note)
    assert len(sigs) == 2
    assert all(s.startswith(f"\u2014 {ORIGIN} ") for s in sigs)
    # Ed25519-only verifiers ignore the SM2 line; with both keys both lines check.
    assert Checkpoint.open(note, [ed]).size == 2  # log.created, log.sm2_key_added
    both: list[NoteVerifier] = [ed, sm2]
    assert SignedNote.parse(note).verify(both) == both
    with store.engine.connect() as conn:
        bodies = conn.execute(text("SELECT data FROM ledger_entries "
                                   "WHERE entry_type = 'log.sm2_key_added'")).scalars().all()
    assert [json.loads(b)["body"] for b in bodies] == [{"verifier_key": vkey}]
    store.engine.dispose()

    # A second process (a restart) adopts the same key without recording it again, and
    # every new checkpoint carries the SM2 line.
    again = _open(tmp_path)
    assert again.log("hr").sm2_verifier_keys == (vkey,)
    assert again.head("hr").size == 2
    again.rotate_key("hr", datetime.now(UTC))
    note = again.latest_checkpoint("hr").note
    assert len(_lines(note)[1]) == 2
    assert SignedNote.parse(note).verify([sm2]) == [sm2]
    again.engine.dispose()


def test_without_the_option_checkpoints_have_one_line_and_no_sm2_key(tmp_path: Path) -> None:
    store = _open(tmp_path, sm2=False)
    assert store.log("hr").sm2_verifier_keys == ()
    assert len(_lines(store.latest_checkpoint("hr").note)[1]) == 1
    assert not (tmp_path / "data" / "keys" / "hr.sm2.pem").exists()
    store.engine.dispose()


def test_get_logs_lists_the_sm2_key_beside_the_ed25519_one(tmp_path: Path) -> None:
    store = _open(tmp_path)
    client = create_app(store=store).test_client()
    (listed,) = client.get("/logs").get_json()
    assert listed["verifier_keys"] == list(store.log("hr").verifier_keys)
    assert listed["sm2_verifier_keys"] == list(store.log("hr").sm2_verifier_keys)
    one = client.get("/logs/hr").get_json()
    assert one["sm2_verifier_keys"] == listed["sm2_verifier_keys"]
    assert SignedNote.parse(one["checkpoint"]).verify(
        [SM2Verifier.from_vkey(listed["sm2_verifier_keys"][0])])
    store.engine.dispose()


def test_a_loose_sm2_key_file_and_a_bad_uri_are_refused(tmp_path: Path) -> None:
    (tmp_path / "data" / "keys").mkdir(parents=True)
    loose = tmp_path / "data" / "keys" / "hr.sm2.pem"
    loose.write_bytes(SM2Signer.generate_pem())
    loose.chmod(0o644)
    with pytest.raises(NotAllowed, match="chmod 600"):
        _open(tmp_path)
    # An Ed25519 key where the SM2 key should be: refused, naming the file.
    ed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    loose.unlink()
    loose.write_bytes(ed)
    loose.chmod(0o600)
    with pytest.raises(CouldNotCheck, match=r"hr\.sm2\.pem: not an SM2 private key"):
        _open(tmp_path)
    config = tmp_path / "bad.toml"
    config.write_text('[[logs]]\nname = "hr"\norigin = "o"\nsm2_key = "/k.pem"\n', "utf-8")
    with pytest.raises(BadData, match=r"logs\[0\]\.sm2_key") as info:
        load_settings(tmp_path, config)
    assert info.value.field == "logs[0].sm2_key"


def _openssl(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], input=data, capture_output=True, timeout=60,
                          check=False)


@needs_openssl
def test_openssl_verifies_our_checkpoint_sm2_signature_and_a_flipped_byte_fails(
        tmp_path: Path) -> None:
    store = _open(tmp_path)
    verifier, note_text, der = _sm2_parts(store)
    (tmp_path / "pub.pem").write_text(verifier.public_pem, encoding="ascii")
    (tmp_path / "note.txt").write_bytes(note_text.encode())
    (tmp_path / "sig.der").write_bytes(der)
    check = ("pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin",
             "-in", str(tmp_path / "note.txt"), "-sigfile", str(tmp_path / "sig.der"),
             "-digest", "sm3", "-pkeyopt", DISTID)
    res = _openssl(*check)
    assert res.returncode == 0, res.stderr
    assert b"Signature Verified Successfully" in res.stdout
    # The SPKI in the vkey is what OpenSSL reads as an SM2 key.
    shown = _openssl("pkey", "-pubin", "-in", str(tmp_path / "pub.pem"), "-noout", "-text")
    assert b"SM2" in shown.stdout
    # One flipped byte of the note, or of the signature: OpenSSL refuses.
    flipped = bytearray(note_text.encode())
    flipped[len(ORIGIN) + 1] ^= 0x01  # a digit of the tree size
    (tmp_path / "note.txt").write_bytes(bytes(flipped))
    res = _openssl(*check)
    assert res.returncode != 0
    assert b"Signature Verified Successfully" not in res.stdout
    (tmp_path / "note.txt").write_bytes(note_text.encode())
    bad_sig = bytearray(der)
    bad_sig[-1] ^= 0x01
    (tmp_path / "sig.der").write_bytes(bytes(bad_sig))
    res = _openssl(*check)
    assert res.returncode != 0
    assert b"Signature Verified Successfully" not in res.stdout
    store.engine.dispose()


@needs_openssl
def test_we_verify_openssl_made_sm2_signatures_with_the_logs_key(tmp_path: Path) -> None:
    store = _open(tmp_path)
    verifier, note_text, _ = _sm2_parts(store)
    (tmp_path / "note.txt").write_bytes(note_text.encode())
    key = tmp_path / "data" / "keys" / "hr.sm2.pem"
    res = _openssl("pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in",
                   str(tmp_path / "note.txt"), "-digest", "sm3", "-pkeyopt", DISTID,
                   "-out", str(tmp_path / "openssl.der"))
    assert res.returncode == 0, res.stderr
    made = (tmp_path / "openssl.der").read_bytes()
    assert verifier.verify(note_text.encode(), made)
    assert not verifier.verify(note_text.encode() + b"x", made)
    # OpenSSL's signature put in the note's SM2 line verifies as a checkpoint.
    ed = Ed25519Verifier.from_vkey(store.log("hr").verifier_keys[0])
    cp_note = SignedNote.parse(store.latest_checkpoint("hr").note)
    line = "\u2014 " + ORIGIN + " " + base64.b64encode(
        verifier.key_id.to_bytes(4, "big") + made).decode() + "\n"
    own_ed = [s.line() for s in cp_note.signatures if s.key_id == ed.key_id]
    rebuilt = note_text + "\n" + own_ed[0] + line
    both: list[NoteVerifier] = [ed, verifier]
    assert SignedNote.parse(rebuilt).verify(both) == both
    store.engine.dispose()


def _absentia_verify(*args: str) -> subprocess.CompletedProcess[str]:
    absentia = Path(sys.executable).parent / "absentia"
    env = {k: v for k, v in os.environ.items()
           if k not in ("ABSENTIA_DATABASE_URL", "ABSENTIA_CONFIG")}
    return subprocess.run([str(absentia), "verify", *args, "--quiet"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_absentia_verify_checks_the_sm2_line_given_an_sm2_key(tmp_path: Path) -> None:
    store = _open(tmp_path)
    out = tmp_path / "export"
    export_log(store, "hr", out)
    info = store.log("hr")
    ed, sm2 = info.verifier_keys[0], info.sm2_verifier_keys[0]
    other = SM2Signer.from_pem(ORIGIN, SM2Signer.generate_pem()).verifier.vkey

    res = _absentia_verify(str(out), "--key", ed)  # Ed25519 only: the SM2 line is ignored
    assert res.returncode == 0, res.stderr
    assert "(SM2-SM3)" not in res.stdout
    res = _absentia_verify(str(out), "--key", ed, "--key", sm2)
    assert res.returncode == 0, res.stderr
    assert f"{ORIGIN}+{sm2.split('+')[1]} (SM2-SM3)" in res.stdout
    res = _absentia_verify(str(out), "--key", sm2)  # SM2 alone is enough
    assert res.returncode == 0, res.stderr
    # An SM2 key that did not sign: the auditor asked for SM2, so this fails.
    res = _absentia_verify(str(out), "--key", ed, "--key", other)
    assert res.returncode == 1
    assert "no SM2 signature" in res.stderr

    # The SM2 line altered: verifying with the SM2 key fails, Ed25519-only still passes.
    body, sigs = _lines((out / "checkpoint").read_text(encoding="utf-8"))
    name_part, b64 = sigs[1].rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 0x01
    sigs[1] = f"{name_part} {base64.b64encode(bytes(blob)).decode()}"
    (out / "checkpoint").write_text(body + "\n" + "\n".join(sigs) + "\n", encoding="utf-8")
    res = _absentia_verify(str(out), "--key", ed, "--key", sm2)
    assert res.returncode == 1
    assert "does not verify" in res.stderr
    assert _absentia_verify(str(out), "--key", ed).returncode == 0
    store.engine.dispose()
