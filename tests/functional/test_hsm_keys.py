"""Checkpoint keys inside a real SoftHSM2 token (``pkcs11:`` key URIs, CKM_EDDSA).

A token is initialised in a temporary directory (``tests/hsm.py``).  Checkpoints signed
in it open with the existing verifiers and ``absentia verify``; its private keys cannot
be read out; ``absentia keys create``/``--rotate --uri``/``keys token`` make and list
keys in it; a wrong PIN, a missing token or object is refused by name (CLI exit 1,
``/readyz`` 503).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from ledger.app.web import create_app
from ledger.checkpoint import Checkpoint
from ledger.hsm import Hsm
from ledger.note import SignedNote
from ledger.pkcs11uri import Pkcs11Uri
from ledger.storage import LedgerStore
from tests.functional._writer import make_entry
from tests.hsm import USER_PIN, SoftHsm

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ORIGIN = "absentia.example.gov.cn/hr-bureau/2026"
LOG = "hr-bureau-2026"
ABSENTIA = Path(sys.executable).parent / "absentia"


def unique(label: str) -> str:
    """A label no other test of the session's token uses."""
    return f"{label}-{os.urandom(4).hex()}"


@pytest.fixture
def hsm_store(store: LedgerStore, softhsm: SoftHsm) -> LedgerStore:
    store.keys.tokens = Hsm(softhsm.settings)
    return store


def test_checkpoints_signed_in_the_token_verify_with_the_existing_verifiers(
    hsm_store: LedgerStore, softhsm: SoftHsm
) -> None:
    uri = f"pkcs11:token=absentia;object={unique('hr-bureau-2026')}"
    signer = hsm_store.keys.create_in_token(uri, ORIGIN)
    info = hsm_store.create_log("l", ORIGIN, T0, key_uri=uri)
    assert info.verifier_keys == (signer.verifier.vkey,)
    hsm_store.append("l", make_entry("ev-1"), T0)
    stored = hsm_store.sign_checkpoint("l", T0)
    cp = Checkpoint.open(stored.note, hsm_store.verifiers("l"))
    assert cp.size == 2
    # The signature line is plain Ed25519 (signed-note type 0x01) over the note text:
    # the public key alone checks it, with no code of ours.
    note = SignedNote.parse(stored.note)
    (sig,) = note.signatures
    Ed25519PublicKey.from_public_bytes(signer.verifier.public_key).verify(
        sig.signature, note.text.encode())
    # Nothing was written to the key directory: the key is in the token.
    assert not list(hsm_store.keys.root.glob("**/*.pem"))


def test_a_private_key_in_the_token_cannot_be_exported(
    hsm_store: LedgerStore, softhsm: SoftHsm
) -> None:
    label = unique("no-export")
    hsm_store.keys.create_in_token(f"pkcs11:token=absentia;object={label}", ORIGIN)
    token = Hsm(softhsm.settings).token("absentia")
    aes = Pkcs11Uri("absentia", unique("wrapper"))
    token.create_aes(aes)
    session = token._session  # the test reads the token's attributes itself
    (private,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                      Attribute.LABEL: label})
    assert private[Attribute.SENSITIVE] is True
    assert private[Attribute.EXTRACTABLE] is False
    assert private[Attribute.NEVER_EXTRACTABLE] is True
    with pytest.raises(p11e.AttributeSensitive):
        private[Attribute.VALUE]
    (wrapper,) = session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                      Attribute.LABEL: aes.object})
    with pytest.raises(p11e.PKCS11Error):  # not even wrapped under another token key
        wrapper.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)
    with pytest.raises(p11e.AttributeSensitive):
        wrapper[Attribute.VALUE]


def test_readyz_names_a_token_object_that_is_gone(
    hsm_store: LedgerStore, softhsm: SoftHsm
) -> None:
    label = unique("gone")
    uri = f"pkcs11:token=absentia;object={label}"
    hsm_store.keys.create_in_token(uri, ORIGIN)
    hsm_store.create_log("l", ORIGIN, T0, key_uri=uri)
    client = create_app(store=hsm_store).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    session = Hsm(softhsm.settings).token("absentia")._session
    for obj in session.get_objects({Attribute.LABEL: label}):
        obj.destroy()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["checks"]["log l"]["ok"] is False
    assert f"no private key {uri} in the token" in body["detail"]
    assert "absentia keys create" in body["detail"]
    assert USER_PIN not in resp.get_data(as_text=True)


# -- the command line, as a real program -----------------------------------------------

def config(folder: Path, hsm: SoftHsm, key: str, *, pin_file: Path | None = None) -> Path:
    path = folder / "config.toml"
    pin = pin_file or hsm.pin_file
    path.write_text(f'[storage]\nurl = "sqlite:///{{data}}/absentia.db"\n\n'
                    f'[pkcs11]\nmodule = "{hsm.module}"\npin_file = "{pin}"\n\n'
                    f'[[logs]]\nname = "{LOG}"\norigin = "{ORIGIN}"\nkey = "{key}"\n',
                    encoding="utf-8")
    return path


def run(hsm: SoftHsm, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = hsm.env()
    env.pop("ABSENTIA_DATABASE_URL", None)
    env.pop("ABSENTIA_CONFIG", None)
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_cli_creates_rotates_lists_and_verifies_keys_in_the_token(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    first, second = unique("hrb-2026"), unique("hrb-2026-b")
    uri = f"pkcs11:token=absentia;object={first}"
    cfg = config(tmp_path, softhsm, uri)
    data = tmp_path / "data"
    res = run(softhsm, "keys", "create", "--data", data, "--config", cfg, "--log", LOG)
    assert res.returncode == 0, res.stderr
    assert f"created {uri} in the token (Ed25519, not extractable)" in res.stdout
    vkey = res.stdout.split("verifier key ", 1)[1].split()[0]
    assert f"log {LOG} signs with it" in res.stdout

    res = run(softhsm, "keys", "--data", data, "--config", cfg)
    assert res.returncode == 0, res.stderr
    assert f"  {vkey}  (current)" in res.stdout

    new_uri = f"pkcs11:token=absentia;object={second}"
    res = run(softhsm, "keys", "--data", data, "--config", cfg, "--rotate", LOG,
              "--uri", new_uri)
    assert res.returncode == 0, res.stderr
    assert f"rotated the signing key of {LOG}" in res.stdout
    new_vkey = res.stdout.split("verifier key ", 1)[1].split()[0]
    assert f"  {vkey}\n  {new_vkey}  (current)" in res.stdout

    res = run(softhsm, "keys", "token", "--data", data, "--config", cfg)
    assert res.returncode == 0, res.stderr
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    mine = {(r[0], r[1], r[2]) for r in rows if r[0] in (first, second)}
    assert mine == {(lbl, "ed25519", cls) for lbl in (first, second)
                    for cls in ("private", "public")}
    assert any(r[0] == first and r[-1] == vkey for r in rows)

    out = tmp_path / "export"
    res = run(softhsm, "export", "--data", data, "--config", cfg, "--log", LOG, "--out", out)
    assert res.returncode == 0, res.stderr
    res = run(softhsm, "verify", out, "--keys", out / "keys", "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"OK: {ORIGIN}")
    res = run(softhsm, "verify", out, "--key", new_vkey, "--quiet")
    assert res.returncode == 0, res.stderr


def test_cli_refuses_a_wrong_pin_a_missing_token_and_a_missing_object(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    label = unique("refusals")
    uri = f"pkcs11:token=absentia;object={label}"
    data = tmp_path / "data"
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("0000-0000\n", encoding="utf-8")
    wrong.chmod(0o600)
    res = run(softhsm, "keys", "create", "--data", data, "--log", LOG,
              "--config", config(tmp_path, softhsm, uri, pin_file=wrong))
    assert res.returncode == 1
    assert "the PIN of PKCS#11 token 'absentia' was refused" in res.stderr
    assert "0000-0000" not in res.stderr + res.stdout

    res = run(softhsm, "keys", "create", "--data", data, "--log", LOG, "--config",
              config(tmp_path, softhsm, f"pkcs11:token=no-such-token;object={label}"))
    assert res.returncode == 1
    assert "no PKCS#11 token labelled 'no-such-token'" in res.stderr
    assert "softhsm2-util --init-token" in res.stderr

    # The config names an object nobody created: every command that opens the log says so.
    res = run(softhsm, "keys", "--data", data, "--config", config(tmp_path, softhsm, uri))
    assert res.returncode == 1
    assert f"no private key {uri} in the token" in res.stderr
    assert "absentia keys create" in res.stderr
    assert USER_PIN not in res.stderr + res.stdout
