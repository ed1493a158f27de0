"""Archive reports: real rendering (WeasyPrint), real signing (pyHanko), real checks.

One demo campaign is built and reported on once (module scope, through the CLI as an
operator would); the checks then read that file with pyHanko, poppler and our verifier.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ledger.absence.service import AbsenceService, Caller
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence
from ledger.config import PublicitySettings, Settings, load_settings
from ledger.storage.open import open_store
from publicity.report import (
    BUNDLE_NAME,
    CHECKPOINT_NAME,
    KEYS_NAME,
    bundle_files,
    collect,
    generate,
    render_pdf,
    sign_report,
)
from publicity.report_verify import embedded_files
from publicity.signing import CA_CERT, SUBDIR, check_signature, load_or_create_identity

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ABSENTIA = str(BIN / "absentia")
RARE = "\U0002a6d6"  # CJK Ext. B, not in Noto Sans CJK SC


@dataclass
class Report:
    data: Path
    pdf: Path
    report_id: str
    stdout: str


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ABSENTIA, *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    data = tmp_path_factory.mktemp("report") / "data"
    demo = _run("demo", "--data", str(data), "--no-serve", "--candidates", "200")
    assert demo.returncode == 0, demo.stderr
    out = _run("report", "generate", "--data", str(data), "--campaign", "hrb-2026-autumn")
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip().splitlines()[-1])
    m = re.search(r"report (\S+):", out.stdout)
    assert m
    assert path.exists()
    return Report(data, path, m.group(1), out.stdout)


@pytest.fixture
def service(report: Report) -> Iterator[tuple[Settings, AbsenceService]]:
    settings = load_settings(report.data)
    store = open_store(settings, entry_types())
    try:
        yield settings, open_absence(settings, store, datetime.now(UTC))
    finally:
        store.engine.dispose()


def _ca(report: Report) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        (report.data / "keys" / SUBDIR / CA_CERT).read_bytes())


def test_pyhanko_validates_the_signature_with_the_local_ca(report: Report) -> None:
    sig = check_signature(report.pdf.read_bytes(), [_ca(report)])
    assert sig is not None
    assert (sig.intact, sig.valid, sig.trusted, sig.entire_file) == (True,) * 4, sig.summary
    assert "document signing" in sig.signer


def test_pdfsig_validates_and_the_whole_document_is_signed(report: Report) -> None:
    out = subprocess.run(["pdfsig", str(report.pdf)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "Signature is Valid" in out.stdout
    assert "Total document signed" in out.stdout


def test_stays_pdf_a_3b_after_signing(report: Report) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    raw = report.pdf.read_bytes()
    assert raw.startswith(b"%PDF-1.7")
    reader = PdfFileReader(io.BytesIO(raw))
    xmp = reader.root["/Metadata"].get_object().data.decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp), xmp
    assert re.search(r'pdfaid:conformance(="|>)B', xmp), xmp
    # PDF/A-3 is PDF 1.7: the signature must not raise the catalog's version.
    assert str(reader.root.get("/Version", "/1.7")) in ("/1.7", "1.7")
    assert reader.root.get("/OutputIntents") is not None


def test_fonts_are_noto_cjk_and_embedded(report: Report) -> None:
    out = subprocess.run(["pdffonts", str(report.pdf)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    rows = [ln.split() for ln in out.splitlines()[2:] if ln.strip()]
    assert rows
    names = " ".join(r[0] for r in rows)
    assert "Noto-Sans-CJK-SC" in names
    assert "Noto-Serif-CJK-SC" in names
    for r in rows:  # name, type words..., encoding, emb, sub, uni, object, gen
        assert r[-5] == "yes", f"font not embedded: {r}"


def test_bundle_is_attached_as_associated_files(report: Report) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    raw = report.pdf.read_bytes()
    files = embedded_files(raw)
    assert set(files) == {BUNDLE_NAME, CHECKPOINT_NAME, KEYS_NAME}
    lines = files[BUNDLE_NAME].decode().splitlines()
    head = json.loads(lines[0])
    assert head["format"] == "absentia-report-bundle/v2"
    assert head["report"] == report.report_id
    # Every decision, and the 递补 and objection entries the report summarises.
    assert head["decisions"] + head.get("backfills", 0) + head.get("objections", 0) == (
        len(lines) - 1)
    assert head["decisions"] > 100
    first = json.loads(lines[1])
    assert first["proof"].startswith("c2sp.org/tlog-proof@v1\n")
    assert json.loads(base64.b64decode(first["entry_b64"]))["index"] == first["index"]
    reader = PdfFileReader(io.BytesIO(raw))
    rels = {}
    for ref in reader.root["/AF"]:
        spec = ref.get_object()
        rels[str(spec["/F"])] = str(spec["/AFRelationship"])
    assert rels[BUNDLE_NAME] == "/Source"
    assert rels[CHECKPOINT_NAME] == "/Data"


def test_cover_has_the_verification_url_and_no_personal_data(report: Report) -> None:
    # The caption under the QR code, top right of page 1 (points; the title is left of it).
    caption = subprocess.run(["pdftotext", "-layout", "-f", "1", "-l", "1", "-x", "420", "-y",
                              "0", "-W", "175", "-H", "200", str(report.pdf), "-"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"http://127.0.0.1:5000/reports/{report.report_id}" in re.sub(r"\s", "", caption)
    text = subprocess.run(["pdftotext", "-layout", str(report.pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "sub_" not in text  # no pseudonyms either, only registration numbers
    assert not re.search(r"\b1[3-9]\d{9}\b", text)  # no mobile numbers


def test_verify_cli_accepts_the_report(report: Report) -> None:
    out = _run("report", "verify", str(report.pdf))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "proofs: all" in out.stdout
    pinned = _run("report", "verify", str(report.pdf), "--ca",
                  str(report.data / "keys" / SUBDIR / CA_CERT))
    assert pinned.returncode == 0, pinned.stdout
    assert ("signature valid; signer certificate chains to: the CA you gave (--ca"
            in pinned.stdout)
    assert "not independent" not in pinned.stdout
    # without --ca, the trust comes from the file itself, and the output says so
    assert ("signature valid; signer certificate chains to: the CA embedded in this file "
            "(not independent" in out.stdout)
    assert "trusted=True" not in out.stdout


def test_verify_cli_with_a_wrong_ca_fails(report: Report, tmp_path: Path) -> None:
    """--ca naming a CA that did not issue the signer's certificate: exit 3, said plainly."""
    other = tmp_path / "other-ca.pem"
    other.write_bytes(_other_ca_pem())
    out = _run("report", "verify", str(report.pdf), "--ca", str(other))
    assert out.returncode == 3, out.stdout + out.stderr
    assert "NOT TRUSTED: the signer certificate does not chain to the CA you gave" in out.stdout
    assert "signature valid" not in out.stdout


def _other_ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some other CA")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_report_generated_entry_holds_the_file_hash(report: Report,
                                                     service: tuple[Settings, AbsenceService]
                                                     ) -> None:
    _, svc = service
    digest = hashlib.sha256(report.pdf.read_bytes()).hexdigest()
    bodies = [json.loads(d)["body"] for _, d in svc.store.iter_entries(svc.log)
              if json.loads(d)["type"] == "report.generated"]
    mine = [b for b in bodies if b["report"] == report.report_id]
    assert len(mine) == 1
    assert mine[0]["sha256"] == digest
    assert mine[0]["campaign"] == "hrb-2026-autumn"
    assert f"sha256 {digest}" in report.stdout


def test_a_flipped_byte_in_the_signed_range_fails_with_3(report: Report,
                                                          tmp_path: Path) -> None:
    raw = bytearray(report.pdf.read_bytes())
    at = raw.index(b"stream", len(raw) // 3) + 40  # inside a compressed stream, signed
    raw[at] ^= 0x01
    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(bytes(raw))
    out = _run("report", "verify", str(bad))
    assert out.returncode == 3, out.stdout + out.stderr


def test_an_altered_entry_in_a_re_signed_report_fails_with_4(
        report: Report, service: tuple[Settings, AbsenceService], tmp_path: Path) -> None:
    settings, svc = service
    now = datetime.now(UTC)
    data = collect(svc, "hrb-2026-autumn", now, base_url="http://example.test")
    files = bundle_files(data)
    content, rel, desc = files[BUNDLE_NAME]
    lines = content.decode().splitlines()
    rec = json.loads(lines[5])
    entry = json.loads(base64.b64decode(rec["entry_b64"]))
    entry["body"]["outcome"] = "attended" if entry["body"].get("outcome") != "attended" \
        else "forfeited"
    rec["entry_b64"] = base64.b64encode(json.dumps(entry).encode()).decode()
    lines[5] = json.dumps(rec)
    files[BUNDLE_NAME] = (("\n".join(lines) + "\n").encode(), rel, desc)
    identity = load_or_create_identity(settings.key_dir, PublicitySettings(), data.origin, now)
    bad = tmp_path / "altered.pdf"
    bad.write_bytes(sign_report(render_pdf(data, files), data, identity))
    out = _run("report", "verify", str(bad))
    assert out.returncode == 4, out.stdout + out.stderr
    assert f"entry {rec['index']}" in out.stdout


def test_a_random_pdf_is_not_ours_5(tmp_path: Path) -> None:
    import weasyprint  # type: ignore[import-untyped]

    other = tmp_path / "other.pdf"
    weasyprint.HTML(string="<p>hello</p>").write_pdf(other)
    assert _run("report", "verify", str(other)).returncode == 5
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(os.urandom(2000))
    assert _run("report", "verify", str(junk)).returncode == 5


def test_a_rare_character_without_a_glyph_is_reported(
        report: Report, service: tuple[Settings, AbsenceService], tmp_path: Path) -> None:
    settings, svc = service
    now = datetime.now(UTC)
    svc.create_campaign(Caller("hr:test", "hr"), {
        "campaign": "rare-2026", "title": f"{RARE}姓人员招聘", "posts": [
            {"post": "p01", "title": "岗位一"}]}, now)
    result = generate(svc, settings, "rare-2026", now, out=tmp_path / "rare.pdf")
    assert result.missing_glyphs == ("U+2A6D6 (campaign title)",)
    text = subprocess.run(["pdftotext", str(tmp_path / "rare.pdf"), "-"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "U+2A6D6" in text
    assert _run("report", "verify", str(tmp_path / "rare.pdf")).returncode == 0


def test_the_qr_codes_page_shows_the_recorded_digest(
        report: Report, service: tuple[Settings, AbsenceService]) -> None:
    """The verification URL on the cover answers with the SHA-256 the ledger holds."""
    from ledger.app.web import create_app

    settings, svc = service
    client = create_app(settings, svc.store, absence=svc).test_client()
    page = client.get(f"/reports/{report.report_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert hashlib.sha256(report.pdf.read_bytes()).hexdigest() in text
    assert "absentia report verify" in text
    missing = client.get("/reports/rp_nope")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"


def test_the_scheduled_job_reports_campaigns_whose_decisions_changed(tmp_path: Path,
                                                                     db_url: str) -> None:
    """Due campaigns get a report from a child process; then they are not due until a
    new decision is recorded."""
    from datetime import timedelta

    from publicity.scheduled import ReportChildren, campaigns_due, generate_due_reports
    from tests.functional._absence import candidates_csv, make_env

    with make_env(tmp_path, db_url) as env:  # the child process opens the same database
        start = datetime.now(UTC) - timedelta(hours=3)
        env.clock(start)
        env.campaign()
        data, _ = candidates_csv(4, seed=31)
        assert env.import_csv("c2026", data).status_code == 201
        assert env.post("/api/v1/campaigns/c2026/windows", "hr", {
            "opens_at": (start + timedelta(minutes=5)).isoformat(),
            "closes_at": (start + timedelta(hours=1)).isoformat()}).status_code == 201
        assert campaigns_due(env.service) == []  # nothing decided yet: nothing to archive
        env.clock(start + timedelta(hours=2))
        assert env.service.sweep(env.now[0]) == 4
        assert campaigns_due(env.service) == ["c2026"]
        children = ReportChildren()
        # The job starts the child and returns; the child's end is seen on the next run.
        assert generate_due_reports(env.service, env.settings, env.now[0], children) == 0
        (child,) = children.running.values()
        assert child.process.wait(timeout=600) == 0
        assert campaigns_due(env.service) == []
        assert generate_due_reports(env.service, env.settings, env.now[0], children) == 1
        assert children.running == {}
        pdfs = list((env.data / "reports").glob("*.pdf"))
        assert len(pdfs) == 1
        assert _run("report", "verify", str(pdfs[0])).returncode == 0


def test_a_stuck_report_does_not_hold_the_scheduler(tmp_path: Path, sqlite_url: str) -> None:
    """The reports job returns while its child still runs, so the sweep and the outbox
    (which take the same one-job-at-a-time turn) run meanwhile; a child that never ends
    is killed after the timeout and its job recorded as failed.  Before: the job waited
    for the child, up to 1,800 s, holding that turn.  The stand-in child is a real
    process that never finishes (a report stuck)."""
    from datetime import timedelta

    from publicity import jobs
    from publicity.scheduled import ReportChildren, generate_due_reports
    from tests.functional._absence import make_env, run_day

    def stuck(data_dir: Path, campaign: str, config: Path | None, job: str,
              stderr: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "import sys, time; "
                                 "sys.stderr.write('rendering'); time.sleep(3600)"],
                                stdout=subprocess.DEVNULL, stderr=stderr)

    with make_env(tmp_path, sqlite_url) as env:
        start = env.clock(datetime.now(UTC) - timedelta(hours=3))
        run_day(env, "c2026", [("joined", "completed")] * 2, start)
        children = ReportChildren(spawn=stuck)
        assert generate_due_reports(env.service, env.settings, env.now[0], children) == 0
        (job, child) = next(iter(children.running.items()))
        assert child.process.poll() is None  # returned while the report still runs
        queued = jobs.get(env.store, job)
        assert queued is not None
        assert queued.state == "queued"
        # The next run neither waits nor starts a second child for the campaign.
        assert generate_due_reports(env.service, env.settings, env.now[0], children) == 0
        assert list(children.running) == [job]
        # Past the timeout the child is killed and its job failed, naming the exit.
        children.timeout_s = 0
        assert generate_due_reports(env.service, env.settings, env.now[0], children) == 0
        assert child.process.returncode not in (None, 0)
        ended = jobs.get(env.store, job)
        assert ended is not None
        assert ended.state == "failed"
        assert ended.error.startswith("exit status")
