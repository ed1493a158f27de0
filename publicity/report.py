"""Signed archive reports (电子档案): PDF/A-3b per campaign, with embedded proofs.

A report is rendered by WeasyPrint from ``templates/report.html``, PAdES-signed by the
office's document-signing certificate (``publicity.signing``) and recorded in the ledger
(``report.generated``: the SHA-256 of the signed file).  Rendering is heavy: it runs in
the ``absentia report generate`` process, never inside a web worker
(``spawn_generate`` starts that process for the web or the scheduler).

Embedded files (PDF/A-3 associated files, ``/AF`` on the catalog):

``absentia-report-bundle.jsonl`` (AFRelationship ``Source``), JSON Lines, UTF-8:
  line 1, the header: ``{"format": "absentia-report-bundle/v2", "report", "campaign",
  "log", "origin", "checkpoint_size", "decisions", "backfills", "objections"}``;
  then one line per decision in ledger order: ``{"index": n, "entry_b64": base64 of the
  exact entry bytes (RFC 8785 JSON), "proof": the C2SP tlog-proof text of entry n
  against the checkpoint}``; then the 递补 and objection entries the report summarises
  (``publicity.report_proofs``), the same with ``"kind": "backfill"|"objection"``.
  A v1 bundle (decisions only) still verifies.
``checkpoint.txt`` (``Data``): the signed checkpoint note (C2SP tlog-checkpoint).
``verifier-keys.txt`` (``Data``): the log's verifier keys, one a line (C2SP signed-note).

One bundle rather than one file per proof keeps a 10,000-decision report at four file
specifications instead of 20,000.
"""

from __future__ import annotations

import base64
import html
import io
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from ledger.absence.queries.reports import report_decisions, window_span
from ledger.absence.service import AbsenceService
from ledger.config import PublicitySettings, Settings
from ledger.errors import Conflict, CouldNotCheck, NotFound
from ledger.hsm import hsm_of
from ledger.ids import sha256_hex
from ledger.merkle import MemoryTree, leaf_hash
from ledger.proof import TlogProof
from ledger.storage.reads import entries_by_index, leaf_hashes
from ledger.storage.store import NewEntry, StoredCheckpoint
from ledger.timetext import written, zone_label
from ledger.witness.client import WitnessSettings, load_witness_settings, require_cosigned
from publicity import jobs, report_sm2
from publicity.backfill_report import BackfillLine, backfill_kpis, backfill_lines
from publicity.report_proofs import BUNDLE_DOC, Summarised, summarised
from publicity.report_proofs import (  # the bundle's files, re-exported for callers
    BUNDLE_FORMAT as BUNDLE_FORMAT,
)
from publicity.report_proofs import (
    BUNDLE_NAME as BUNDLE_NAME,
)
from publicity.report_proofs import (
    CHECKPOINT_NAME as CHECKPOINT_NAME,
)
from publicity.report_proofs import (
    KEYS_NAME as KEYS_NAME,
)
from publicity.report_proofs import (
    bundle_files as bundle_files,
)
from publicity.signing import (
    SigningIdentity,
    load_or_create_identity,
    sign_pdf,
)
from publicity.textwidth import fit as _fit
from publicity.textwidth import width as _width

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
#: Lines per <pre> block of the decision list: one A4 page at 6.3 pt.
CHUNK_ROWS = 86
SANS = "Noto Sans CJK SC"
SERIF = "Noto Serif CJK SC"

EXIT_OK, EXIT_COULD_NOT_CHECK, EXIT_SIGNATURE, EXIT_PROOF, EXIT_NOT_OURS = 0, 2, 3, 4, 5

CAUSE_LABELS = {"technical": "技术故障 technical", "compatibility": "兼容性 compatibility",
                "notification_failed": "通知未送达 notification failed",
                "withdrawn": "主动放弃 withdrawn", "no_show": "未到场 no-show"}
OUTCOME_LABELS = {"attended": "已参加 attended", "forfeited": "视为放弃 forfeited",
                  "rebook_offered": "可改约 rebook offered",
                  "makeup_pending_review": "补考待审 make-up pending",
                  "makeup_granted": "准予补考 make-up granted", "locked": "锁定 locked"}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Row:
    n: int
    index: int
    registration: str
    post: str
    outcome: str
    cause: str
    leaf_hex: str
    superseded: bool


@dataclass(frozen=True)
class MissingGlyph:
    code: int
    where: str


@dataclass
class ReportData:
    """Everything a report shows and embeds, read from the ledger at one checkpoint."""

    report_id: str
    log: str
    origin: str
    campaign: dict[str, Any]
    stats: dict[str, Any]
    period: tuple[str, str]
    rows: list[Row]
    entries: dict[int, bytes]
    proofs: dict[int, str]
    checkpoint: StoredCheckpoint
    verifier_keys: tuple[str, ...]
    generated_at: datetime
    base_url: str
    missing: list[MissingGlyph] = field(default_factory=list)
    backfills: list[BackfillLine] = field(default_factory=list)  # 递补: every answer
    summarised: list[Summarised] = field(default_factory=list)  # 递补, objection entries

    @property
    def verify_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/reports/{self.report_id}"


@dataclass(frozen=True)
class ReportResult:
    report_id: str
    path: Path
    sha256: str
    decisions: int
    checkpoint_size: int
    ledger_index: int
    missing_glyphs: tuple[str, ...]
    seconds: dict[str, float]


# -- reading the ledger ------------------------------------------------------------------

def publicity_config(settings: Settings) -> PublicitySettings:
    """The ``[publicity]`` settings."""
    return settings.publicity


def new_report_id(campaign: str, now: datetime) -> str:
    return f"rpt-{campaign[:80]}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _period(service: AbsenceService, campaign: str) -> tuple[str, str]:
    span = window_span(service.engine, campaign)
    return (span.opens_at or "—", span.closes_at or "—")


def collect(service: AbsenceService, campaign: str, now: datetime, *, base_url: str,
            report_id: str | None = None, progress: Progress = _quiet,
            witnesses: WitnessSettings | None = None) -> ReportData:
    """Sign a checkpoint, then read the campaign, its decisions, entries and proofs.

    Under a k-of-n witness policy (``witnesses``) the checkpoint is one k witnesses
    cosigned, and the report embeds it with their cosignatures.

    Raises:
        NotFound: no such campaign.  CouldNotCheck: the checkpoint key cannot be used.
        WitnessQuorumUnavailable: fewer witnesses than required cosigned in time.
    """
    info = service.campaign(campaign)
    stats = service.statistics(campaign) | {
        "objections": service.objections.campaign_counts(campaign)}
    # Sign first so that every decision made so far is covered; prove against this size
    # (not "the latest", which a concurrent signer may move on).
    cosigned = require_cosigned(service.store, service.log, witnesses, now)
    cp = replace(cosigned.checkpoint, note=cosigned.note)
    progress(f"checkpoint: size {cp.size}"
             + (f", {cosigned.describe()}" if cosigned.required else ""))
    raw = [r for r in report_decisions(service.engine, campaign) if r.index < cp.size]
    entries = entries_by_index(service.store, service.log, [r.index for r in raw])
    proofs: dict[int, str] = {}
    rows: list[Row] = []
    t0 = time.monotonic()
    prover = (MemoryTree(leaf_hashes(service.store, service.log, cp.size))
              if len(raw) > 64 else None)
    if prover is not None and prover.root() != cp.root:
        raise CouldNotCheck("the stored leaf hashes do not add up to the checkpoint's root: "
                            "the database was altered; run `absentia verify` on an export")
    progress(f"tree of {cp.size:,} leaves read ({time.monotonic() - t0:.1f} s)")

    def prove(idx: int) -> str:
        path = (prover.inclusion(idx) if prover is not None
                else service.store.inclusion_proof(service.log, idx, cp.size))
        return TlogProof(idx, tuple(path), cp.note).to_text()

    for n, d in enumerate(raw, 1):
        idx = d.index
        proofs[idx] = prove(idx)
        rows.append(Row(n, idx, d.registration, d.post, d.outcome, d.cause or "-",
                        leaf_hash(entries[idx]).hex(), d.superseded_by is not None))
        if n % 2000 == 0 or n == len(raw):
            progress(f"proofs: {n:,}/{len(raw):,} ({time.monotonic() - t0:.1f} s)")
    log = service.store.log(service.log)
    return ReportData(
        report_id=report_id or new_report_id(campaign, now), log=log.name, origin=log.origin,
        campaign=info, stats=stats, period=_period(service, campaign), rows=rows,
        entries=entries, proofs=proofs, checkpoint=cp, verifier_keys=log.verifier_keys,
        generated_at=now, base_url=base_url, backfills=backfill_lines(service, campaign),
        summarised=summarised(service, campaign, cp.size, prove))


# -- glyph coverage ----------------------------------------------------------------------

def font_file(family: str) -> tuple[str, int] | None:
    """(file, face index) of the font fontconfig picks for ``family``, if it is that family."""
    if shutil.which("fc-match") is None:
        return None
    out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{family}", family],
                         capture_output=True, text=True, timeout=10, check=False).stdout
    parts = out.split("\n")
    if len(parts) < 3 or family.lower() not in parts[2].lower():
        return None
    return parts[0], int(parts[1] or 0)


_CMAPS: dict[tuple[str, int], set[int]] = {}


def covered_codepoints(family: str = SANS) -> set[int]:
    """Code points the installed ``family`` font maps (empty if the font is absent)."""
    found = font_file(family)
    if found is None:
        return set()
    if found not in _CMAPS:
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

        font = TTFont(found[0], fontNumber=found[1], lazy=True)
        _CMAPS[found] = set(font.getBestCmap() or {})
        font.close()
    return _CMAPS[found]


def missing_glyphs(texts: dict[str, str], family: str = SANS) -> list[MissingGlyph]:
    """Characters of ``texts`` (where -> text) the font cannot render (controls excepted)."""
    cmap = covered_codepoints(family)
    out: list[MissingGlyph] = []
    seen: set[tuple[int, str]] = set()
    for where, text in texts.items():
        for ch in text:
            c = ord(ch)
            if c in cmap or ch in "\n\t" or (c, where) in seen:
                continue
            seen.add((c, where))
            out.append(MissingGlyph(c, where))
    return out


def _mark(text: str, missing: set[int]) -> str:
    """``text`` with each character the font lacks shown as 〔U+XXXX〕 (never dropped)."""
    return "".join(f"〔U+{ord(c):04X}〕" if ord(c) in missing else c for c in text)


# -- charts (inline SVG, no JS) ----------------------------------------------------------

def bar_chart(items: Sequence[tuple[str, float, str]], *, width: int = 480,
              bar: int = 14, colour: str = "#2f5d8a") -> str:
    """A horizontal bar chart: (label, value, value text) per bar."""
    label_w, gap = 170, 6
    top = max((v for _, v, _ in items), default=0) or 1
    height = len(items) * (bar + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'font-family="{SANS}" font-size="9">']
    for i, (label, value, text) in enumerate(items):
        y = gap + i * (bar + gap)
        w = int((width - label_w - 60) * value / top)
        parts.append(f'<text x="{label_w - 4}" y="{y + bar - 3}" text-anchor="end">'
                     f'{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar}" '
                     f'fill="{colour}"/>'
                     f'<text x="{label_w + w + 4}" y="{y + bar - 3}">{html.escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def charts_and_kpis(stats: dict[str, Any]) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    absent, decided = stats["absent"], stats["decided"]
    ap, mk = stats["appeals"], stats["makeups"]
    kpis = [("已决定 Decided (first rulings, regular windows)", f"{decided:,}"),
            ("缺席 Absent", f"{absent:,}"), ("缺席率 Absence rate", _pct(stats["absence_rate"])),
            ("补考 Make-ups granted", f"{mk['granted']:,} ({_pct(mk['rate'])})"),
            ("补考到场 Make-ups attended", f"{mk['attended']:,}"),
            ("申诉 Appeals filed", f"{ap['filed']:,}"),
            ("改判 Overturned", f"{ap['overturned']:,}"),
            ("改判率 Overturn rate", _pct(ap["overturn_rate"])),
            ("误判率 Misjudgment rate", _pct(ap["misjudgment_rate"])),
            ("待复查 Pending review", f"{stats['pending_review']:,}"), *backfill_kpis(stats)]
    if ob := stats.get("objections"):  # 公示异议 and how they were answered
        kpis += [("公示异议 Objections received", f"{ob['received']:,}"),
                 ("维持/取消/暂缓 Upheld/cancelled/deferred",
                  f"{ob['upheld']:,} / {ob['cancelled']:,} / {ob['deferred']:,}")]
    charts = [
        {"title": "出勤与缺席 Attendance and absence",
         "svg": bar_chart([("已参加 attended", stats["attended"], f"{stats['attended']:,}"),
                           ("缺席 absent", absent,
                            f"{absent:,} ({_pct(stats['absence_rate'])})")])},
        {"title": "缺席原因 Causes of absence",
         "svg": bar_chart([(CAUSE_LABELS.get(c, c), n, f"{n:,} ({_pct(stats['cause_shares'][c])})")
                           for c, n in stats["causes"].items()], colour="#8a5a2f")},
        {"title": "补考 Make-ups",
         "svg": bar_chart([("准予 granted", mk["granted"], f"{mk['granted']:,}"),
                           ("到场 attended", mk["attended"], f"{mk['attended']:,}")],
                          colour="#3c7a3c")},
        {"title": "申诉 Appeals",
         "svg": bar_chart([("提出 filed", ap["filed"], f"{ap['filed']:,}"),
                           ("维持 upheld", ap["upheld"], f"{ap['upheld']:,}"),
                           ("改判 overturned", ap["overturned"],
                            f"{ap['overturned']:,} ({_pct(ap['overturn_rate'])})"),
                           ("未决 open", ap["open"], f"{ap['open']:,}")], colour="#7a3c6d")},
    ]
    return charts, kpis


# -- rendering ---------------------------------------------------------------------------

def _chunks(rows: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


ROW_COLUMNS = ("序", "报名号", "岗位", "结果", "原因", "账本序号", "叶哈希 Leaf hash")
#: A post title longer than this (in monospace columns) is cut with "…" in the table
#: (the appendix lists every post in full, with its code).
POST_COLUMNS = 20


def outcome_words(code: str) -> str:
    """An outcome as the table writes it (Chinese; the code if it is unknown)."""
    return OUTCOME_LABELS.get(code, code).split(" ")[0]


def cause_words(code: str) -> str:
    """A cause as the table writes it (Chinese; "-" for none, the code if unknown)."""
    return CAUSE_LABELS.get(code, code).split(" ")[0] if code and code != "-" else "-"


def row_lines(rows: Sequence[Row], titles: dict[str, str] | None = None
              ) -> tuple[str, list[str]]:
    """The decision table as fixed-width text: (header, one line per row).

    People read words: the post's title (``titles``: code -> title; the code if it has
    none), the outcome and the cause in Chinese; the codes are in the appendix.  Columns
    are padded by display width (a CJK character takes two), so a monospace CJK font
    lines them up; the leaf hash is last, after the ledger index, which is what
    ``table_hashes`` reads back.
    """
    names = titles or {}
    cells = [(str(r.n), r.registration, _fit(names.get(r.post, r.post), POST_COLUMNS),
              outcome_words(r.outcome) + ("*" if r.superseded else ""),
              cause_words(r.cause), str(r.index), r.leaf_hex) for r in rows]
    widths = [max([_width(h)] + [_width(c[i]) for c in cells])
              for i, h in enumerate(ROW_COLUMNS)]

    def pad(text: str, width: int, right: bool = False) -> str:
        fill = " " * (width - _width(text))
        return fill + text if right else text + fill

    def line(values: Sequence[str]) -> str:
        out = [pad(values[0], widths[0], right=True)]
        out += [pad(v, w) for v, w in zip(values[1:5], widths[1:5], strict=True)]
        out += [pad(values[5], widths[5], right=True), values[6]]
        return " ".join(out)

    return line(ROW_COLUMNS), [line(c) for c in cells]


def _written_time(value: str, tz: ZoneInfo) -> str:
    """An RFC 3339 UTC time of the campaign as people write it, at its zone's clock
    ("—" stays "—"; text that is not such a time is shown as it is)."""
    try:
        return written(value, tz, "zh")
    except ValueError:
        return value


def render_html(data: ReportData, *, chunk_rows: int = CHUNK_ROWS) -> str:
    import jinja2
    import segno

    missing = {g.code for g in data.missing}
    tz = ZoneInfo(data.campaign.get("timezone") or "UTC")
    qr = segno.make(data.verify_url, error="m")
    charts, kpis = charts_and_kpis(data.stats)
    root_b64 = base64.b64encode(data.checkpoint.root).decode()
    rows = data.rows
    if missing:
        rows = [Row(r.n, r.index, r.registration, _mark(r.post, missing), r.outcome, r.cause,
                    r.leaf_hex, r.superseded) for r in rows]
    titles = {p["post"]: _mark(p["title"], missing) for p in data.campaign["posts"]}
    header, lines = row_lines(rows, titles)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    return env.get_template("report.html").render(
        report_id=data.report_id, origin=data.origin, log=data.log, campaign=data.campaign,
        title_display=_mark(data.campaign["title"], missing),
        posts=[{"post": p["post"], "title": _mark(p["title"], missing)}
               for p in data.campaign["posts"]],
        period_start=_written_time(data.period[0], tz),
        period_end=_written_time(data.period[1], tz),
        zone_zh=zone_label(tz, "zh", data.generated_at),
        zone_en=zone_label(tz, "en", data.generated_at),
        generated_local=written(data.generated_at, tz, "zh", seconds=True),
        generated_utc=data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        checkpoint_size=data.checkpoint.size, checkpoint_root=root_b64,
        checkpoint_note=data.checkpoint.note, verifier_keys=data.verifier_keys,
        qr_svg=qr.svg_inline(scale=3, border=2), verify_url=data.verify_url,
        missing_glyphs=data.missing, kpis=kpis, charts=charts, rows=rows,
        header=header, chunks=list(_chunks(lines, chunk_rows)),
        superseded=any(r.superseded for r in rows),
        bundle_doc=BUNDLE_DOC, backfills=data.backfills)


def render_pdf(data: ReportData, files: dict[str, tuple[bytes, str, str]], *,
               chunk_rows: int = CHUNK_ROWS) -> bytes:
    """The unsigned PDF/A-3b with the files attached as associated files."""
    import weasyprint  # type: ignore[import-untyped]

    attachments = [weasyprint.Attachment(file_obj=io.BytesIO(content), name=name,
                                         description=desc, relationship=rel,
                                         created=data.generated_at, modified=data.generated_at)
                   for name, (content, rel, desc) in files.items()]
    doc = weasyprint.HTML(string=render_html(data, chunk_rows=chunk_rows),
                          base_url=str(TEMPLATES) + "/")
    out = doc.write_pdf(pdf_variant="pdf/a-3b", attachments=attachments,
                        uncompressed_pdf=False)
    assert isinstance(out, bytes)
    return out


def sign_report(pdf: bytes, data: ReportData, identity: SigningIdentity) -> bytes:
    return sign_pdf(pdf, identity, reason=f"Archive report {data.report_id}",
                    location=data.origin, name=data.origin)


# -- the command -------------------------------------------------------------------------

def generate(service: AbsenceService, settings: Settings, campaign: str, now: datetime, *,
             out: Path | None = None, base_url: str | None = None,
             progress: Progress = _quiet) -> ReportResult:
    """Build, sign, write and record the report of ``campaign``.

    Raises:
        NotFound: no such campaign.  CouldNotCheck, NotAllowed: keys cannot be used.
        WitnessQuorumUnavailable: the witness policy's cosignatures did not come in time.
    """
    cfg = publicity_config(settings)
    seconds: dict[str, float] = {}
    t = time.monotonic()
    data = collect(service, campaign, now,
                   base_url=base_url or (DEFAULT_BASE_URL if cfg.base_url is None
                                         else cfg.base_url),
                   progress=progress, witnesses=load_witness_settings(settings))
    texts = {"campaign title": data.campaign["title"]}
    texts.update({f"post {p['post']} title": p["title"] for p in data.campaign["posts"]})
    data.missing = missing_glyphs(texts)
    for g in data.missing:
        progress(f"warning: U+{g.code:04X} ({g.where}) has no glyph in {SANS}; "
                 "shown as 〔U+XXXX〕")
    seconds["collect"] = time.monotonic() - t
    t = time.monotonic()
    files = bundle_files(data, service.store.sm2_signers.get(data.log))  # 国密: SM2-signed
    progress(f"rendering {len(data.rows):,} decisions with WeasyPrint")
    pdf = render_pdf(data, files)
    seconds["render"] = time.monotonic() - t
    t = time.monotonic()
    identity = load_or_create_identity(settings.key_dir, cfg, data.origin, now,
                                       hsm_of(settings.pkcs11))
    signed = sign_report(pdf, data, identity)
    seconds["sign"] = time.monotonic() - t
    path = out or settings.data_dir / "reports" / f"{data.report_id}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(signed)
    os.replace(tmp, path)
    report_sm2.write_detached(path, files)  # <report>.pdf.sig with the 国密 option
    digest = sha256_hex(signed)
    receipts = service.record(now, lambda conn: [NewEntry(
        "report.generated", "system:report", {
            "report": data.report_id, "campaign": campaign, "sha256": digest,
            "decisions": len(data.rows), "checkpoint_size": data.checkpoint.size})])
    progress(f"recorded as ledger entry {receipts[0].index}")
    return ReportResult(data.report_id, path, digest, len(data.rows), data.checkpoint.size,
                        receipts[0].index,
                        tuple(f"U+{g.code:04X} ({g.where})" for g in data.missing), seconds)


def generate_job(service: AbsenceService, settings: Settings, job: str,
                 clock: Callable[[], datetime], *, campaign: str | None = None,
                 out: Path | None = None, base_url: str | None = None,
                 progress: Progress = _quiet) -> ReportResult:
    """Run the report job ``job`` (``publicity.jobs``): wait for its turn among the
    running jobs, generate the report, record the end (done, or failed and why).

    Raises:
        NotFound: no such job.  Conflict: the job is not queued (it ended, or is of
            another campaign than ``campaign``).  Anything ``generate`` raises, after
            recording the job as failed.
    """
    store = service.store
    found = jobs.get(store, job)
    if found is None:
        raise NotFound(f"no report job {job!r}", field="job")
    if campaign is not None and found.campaign != campaign:
        raise Conflict(f"report job {job} is of campaign {found.campaign}", field="job")
    limits = jobs.JobLimits.from_config(publicity_config(settings))
    progress(f"job {job}: waiting for a turn (at most {limits.max_running} at a time)")
    jobs.wait_for_turn(store, job, limits, clock)
    try:
        result = generate(service, settings, found.campaign, clock(), out=out,
                          base_url=base_url, progress=progress)
    except BaseException as exc:
        jobs.finish(store, job, clock(), error=str(exc) or type(exc).__name__)
        raise
    jobs.finish(store, job, clock(), report=result.report_id)
    return result


def spawn_generate(data_dir: Path, campaign: str, *, config_file: Path | None = None,
                   out: Path | None = None, job: str | None = None,
                   stderr: IO[bytes] | int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start ``absentia report generate`` as a separate process (for the web/scheduler),
    running the report job ``job`` if given (``publicity.jobs``); its error output goes to
    ``stderr`` (a pipe by default)."""
    exe = Path(sys.executable).with_name("absentia")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                           "from ledger.app.cli import main; main()"]
    cmd += ["report", "generate", "--data", str(data_dir), "--campaign", campaign]
    if config_file is not None:
        cmd += ["--config", str(config_file)]
    if out is not None:
        cmd += ["--out", str(out)]
    if job is not None:
        cmd += ["--job", job]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
