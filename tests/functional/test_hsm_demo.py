"""``absentia demo --hsm``: the whole demo with every key in a SoftHSM2 token it
initialises under the data directory (a real program, a real token)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

ABSENTIA = Path(sys.executable).parent / "absentia"
LOG = "hr-bureau-2026"


def test_demo_with_every_key_in_a_softhsm2_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("ABSENTIA_DATABASE_URL", "ABSENTIA_CONFIG", "SOFTHSM2_CONF")}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=900, check=False)

    res = run("demo", "--hsm", "--data", data, "--no-serve", "--candidates", "300")
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-2000:])
    assert "keys in the SoftHSM2 token 'absentia-demo'" in res.stdout
    assert "verified offline" in res.stdout
    # No private key of a log or of the vault is a file: they are in the token.
    assert not list((data / "keys").glob(f"{LOG}/*.pem"))
    assert not (data / "keys" / "vault-master.key").exists()
    assert not (data / "keys" / "publicity" / "signing-key.pem").exists()

    env["SOFTHSM2_CONF"] = str(data / "hsm" / "softhsm2.conf")
    config = data / "hsm" / "config.toml"
    listed = run("keys", "token", "--token", "absentia-demo", "--data", data,
                 "--config", config)
    assert listed.returncode == 0, listed.stderr
    rows = {tuple(line.split("\t")[:3]) for line in listed.stdout.splitlines()}
    assert {(f"log-{LOG}", "ed25519", "private"), ("vault", "aes", "secret-key"),
            ("vault-derive", "hmac", "secret-key"),
            ("document-signing", "ec-p256", "private")} <= rows
    vkey = next(line.split("\t")[-1] for line in listed.stdout.splitlines()
                if line.startswith(f"log-{LOG}\ted25519\tpublic"))
    export = data / "export" / LOG
    checked = run("verify", export, "--key", vkey, "--quiet")
    assert checked.returncode == 0, checked.stderr

    # The archive report is signed by the token's document-signing key.
    cert = x509.load_pem_x509_certificate(
        (data / "keys" / "publicity" / "token-document-signing.pem").read_bytes())
    (cn,) = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    reports = sorted((data / "reports").glob("*.pdf"))
    assert reports
    out = subprocess.run(["pdfsig", str(reports[0])], capture_output=True, text=True,
                         timeout=60, check=False)
    assert "Signature is Valid" in out.stdout
    assert f"Signer Certificate Common Name: {cn.value!s}" in out.stdout

    # Later commands (new processes) sign with the same token key.
    keys = run("keys", "--data", data, "--config", config)
    assert keys.returncode == 0, keys.stderr
    assert f"  {vkey}  (current)" in keys.stdout


def test_a_token_that_cannot_be_made_is_refused_without_its_pin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """softhsm2-util really fails (its configuration names a token folder that does not
    exist): the refusal says what the tool said, never its command line, which holds the
    PINs (before, the whole command line was in the message)."""
    from ledger.app import demo_hsm
    from ledger.errors import CouldNotCheck

    monkeypatch.setenv("SOFTHSM2_CONF", os.environ.get("SOFTHSM2_CONF", ""))
    folder = tmp_path / "data" / "hsm"
    folder.mkdir(parents=True)
    (folder / "softhsm2.conf").write_text(
        f"directories.tokendir = {tmp_path / 'no-such-folder'}\nobjectstore.backend = file\n",
        encoding="utf-8")
    with pytest.raises(CouldNotCheck) as refused:
        demo_hsm.prepare(tmp_path / "data", None)
    assert "softhsm2-util could not initialise the demo token" in str(refused.value)
    assert "--pin" not in str(refused.value)
    assert not (folder / "pin").exists()
