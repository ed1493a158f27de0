"""The 国密 option in archive reports: ``absentia demo --sm2`` and a configured ``sm2_key``
give reports whose bundle carries SM3 digests of every entry and an SM2 detached
signature (embedded, and ``.sig`` beside the PDF); ``absentia report verify --key <SM2
vkey>`` / ``--sm2-key FILE`` checks it, and so does OpenSSL's command line."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.sm2 import SM2Signer, SM2Verifier, sm3
from publicity.report import BUNDLE_NAME, CHECKPOINT_NAME, KEYS_NAME
from publicity.report_sm2 import SIG_NAME, SM2_KEY_NAME
from publicity.report_verify import embedded_files

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ABSENTIA = str(Path(sys.executable).parent / "absentia")
LOG = "hr-bureau-2026"
OPENSSL = shutil.which("openssl")
DISTID = "distid:1234567812345678"


@dataclass
class SM2Report:
    data: Path
    config: Path
    demo_out: str
    demo_pdf: Path
    pdf: Path
    sm2_vkey: str
    ed_vkey: str


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ABSENTIA, *args], capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture(scope="module")
def sm2_report(tmp_path_factory: pytest.TempPathFactory) -> SM2Report:
    base = tmp_path_factory.mktemp("sm2report")
    data = base / "data"
    demo = _run("demo", "--data", str(data), "--no-serve", "--candidates", "200", "--sm2")
    assert demo.returncode == 0, demo.stderr
    m = re.search(r"written to (\S+\.pdf)", demo.stdout)
    assert m, demo.stdout
    # The same key configured: `report generate` (a new process) signs with it too.
    config = base / "config.toml"
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    marker = 'name = "hr-bureau-2026"\n'
    assert marker in text
    config.write_text(text.replace(marker, marker + 'sm2_key = "file:{data}/keys/'
                                   'hr-bureau-2026.sm2.pem"\n', 1), encoding="utf-8")
    out = _run("report", "generate", "--data", str(data), "--config", str(config),
               "--campaign", "hrb-2026-autumn")
    assert out.returncode == 0, out.stderr
    pdf, sig = (Path(p) for p in out.stdout.strip().splitlines()[-2:])
    assert sig == pdf.with_name(pdf.name + ".sig")
    keys = _run("keys", "--data", str(data), "--config", str(config))
    assert keys.returncode == 0, keys.stderr
    (sm2_vkey,) = [ln.split()[0] for ln in keys.stdout.splitlines() if ln.endswith("(SM2)")]
    ed_vkey = next(ln.split()[0] for ln in keys.stdout.splitlines()
               if ln.endswith("(current)"))
    return SM2Report(data, config, demo.stdout, Path(m.group(1)), pdf, sm2_vkey, ed_vkey)


def test_the_demo_gives_its_log_an_sm2_key_and_says_how_to_check_it(
        sm2_report: SM2Report) -> None:
    assert f"SM2 (国密) verifier key {sm2_report.sm2_vkey}" in sm2_report.demo_out
    assert f"SM2 signature of its bundle: {sm2_report.demo_pdf}.sig" in sm2_report.demo_out
    key = sm2_report.data / "keys" / f"{LOG}.sm2.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert SM2Signer.from_pem("x", key.read_bytes()).verifier.spki == \
        SM2Verifier.from_vkey(sm2_report.sm2_vkey).spki
    # The demo's own report verifies with the SM2 key, embedded signature and .sig beside.
    res = _run("report", "verify", str(sm2_report.demo_pdf), "--key", sm2_report.ed_vkey,
               "--key", sm2_report.sm2_vkey)
    assert res.returncode == 0, res.stdout
    assert "sm2: the embedded SM2-with-SM3 signature of the bundle verifies" in res.stdout


def test_the_bundle_carries_sm3_and_sha256_digests_and_the_sm2_files(
        sm2_report: SM2Report) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    raw = sm2_report.pdf.read_bytes()
    files = embedded_files(raw)
    assert set(files) == {BUNDLE_NAME, CHECKPOINT_NAME, KEYS_NAME, SIG_NAME, SM2_KEY_NAME}
    lines = files[BUNDLE_NAME].decode().splitlines()
    head = json.loads(lines[0])
    assert head["digests"] == ["sha256", "sm3"]
    for line in lines[1:]:
        rec = json.loads(line)
        entry = base64.b64decode(rec["entry_b64"])
        assert rec["sm3"] == sm3(entry).hex()
        assert rec["leaf_sha256"] == hashlib.sha256(b"\x00" + entry).hexdigest()
    assert files[SM2_KEY_NAME].decode().strip() == sm2_report.sm2_vkey
    assert files[SIG_NAME] == sm2_report.pdf.with_name(sm2_report.pdf.name + ".sig").read_bytes()
    assert SM2Verifier.from_vkey(sm2_report.sm2_vkey).verify(files[BUNDLE_NAME], files[SIG_NAME])
    # Still PDF/A-3: each file is an associated file with its relationship.
    reader = PdfFileReader(io.BytesIO(raw))
    xmp = reader.root["/Metadata"].get_object().data.decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp)
    rels = {str(ref.get_object()["/F"]): str(ref.get_object()["/AFRelationship"])
            for ref in reader.root["/AF"]}
    assert rels == {BUNDLE_NAME: "/Source", CHECKPOINT_NAME: "/Data", KEYS_NAME: "/Data",
                    SIG_NAME: "/Data", SM2_KEY_NAME: "/Data"}
    # The embedded checkpoint carries the SM2 line.
    assert files[CHECKPOINT_NAME].decode().count("\n\u2014 ") == 2


def test_report_verify_checks_the_sm2_signature_given_an_sm2_key(
        sm2_report: SM2Report, tmp_path: Path) -> None:
    pdf = sm2_report.pdf
    res = _run("report", "verify", str(pdf), "--key", sm2_report.ed_vkey,
               "--key", sm2_report.sm2_vkey)
    assert res.returncode == 0, res.stdout
    assert "sm2: the embedded SM2-with-SM3 signature of the bundle verifies with the " \
           "given key" in res.stdout
    assert f"sm2: the {pdf.name}.sig SM2-with-SM3 signature" in res.stdout
    # A PEM public key file (what an auditor has from OpenSSL) works as --sm2-key.
    pem = tmp_path / "sm2.pub.pem"
    pem.write_text(SM2Verifier.from_vkey(sm2_report.sm2_vkey).public_pem, encoding="ascii")
    res = _run("report", "verify", str(pdf), "--sm2-key", str(pem))
    assert res.returncode == 0, res.stdout
    # Without keys: the embedded key is used, and the output says it is not independent.
    res = _run("report", "verify", str(pdf))
    assert res.returncode == 0, res.stdout
    assert "embedded (not independent" in res.stdout
    # Another SM2 key: signature invalid (3).
    other = SM2Signer.from_pem("absentia.example.gov.cn/hr-bureau/2026",
                               SM2Signer.generate_pem()).verifier
    (tmp_path / "other.pem").write_text(other.public_pem, encoding="ascii")
    res = _run("report", "verify", str(pdf), "--sm2-key", str(tmp_path / "other.pem"))
    assert res.returncode == 3, res.stdout
    assert "does not verify" in res.stdout


def test_a_tampered_sig_beside_the_pdf_fails_and_a_missing_one_is_noticed(
        sm2_report: SM2Report, tmp_path: Path) -> None:
    pdf = tmp_path / sm2_report.pdf.name
    shutil.copy(sm2_report.pdf, pdf)
    sig = bytearray((sm2_report.pdf.with_name(sm2_report.pdf.name + ".sig")).read_bytes())
    sig[-1] ^= 0x01
    (tmp_path / (pdf.name + ".sig")).write_bytes(bytes(sig))
    res = _run("report", "verify", str(pdf), "--key", sm2_report.sm2_vkey)
    assert res.returncode == 3, res.stdout
    assert f"the {pdf.name}.sig SM2 signature of the bundle does not verify" in res.stdout


def test_ed25519_only_keys_still_verify_an_sm2_signed_report(sm2_report: SM2Report) -> None:
    # The checkpoint's SM2 line is an unknown key's to an Ed25519-only verifier: ignored.
    res = _run("report", "verify", str(sm2_report.pdf), "--key", sm2_report.ed_vkey)
    assert res.returncode == 0, res.stdout
    assert "checkpoint: absentia.example.gov.cn/hr-bureau/2026 size" in res.stdout


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_openssl_verifies_the_bundle_signature(sm2_report: SM2Report, tmp_path: Path) -> None:
    assert OPENSSL is not None
    files = embedded_files(sm2_report.pdf.read_bytes())
    bundle = tmp_path / BUNDLE_NAME
    bundle.write_bytes(files[BUNDLE_NAME])
    pub = tmp_path / "pub.pem"
    pub.write_text(SM2Verifier.from_vkey(sm2_report.sm2_vkey).public_pem, encoding="ascii")
    sig = sm2_report.pdf.with_name(sm2_report.pdf.name + ".sig")
    cmd = [OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in",
           str(bundle), "-sigfile", str(sig), "-digest", "sm3", "-pkeyopt", DISTID]
    res = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert b"Signature Verified Successfully" in res.stdout
    altered = bytearray(files[BUNDLE_NAME])
    altered[len(altered) // 2] ^= 0x01
    bundle.write_bytes(bytes(altered))
    res = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert res.returncode != 0
    assert b"Signature Verified Successfully" not in res.stdout
