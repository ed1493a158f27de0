"""Public pages: the notice list, each notice as published, and the HR publishing API.

A published notice is served from its stored bytes with a strong ETag (its SHA-256,
the one the ledger holds) and a long cache: ``/notices/<id>`` its Chinese page (the
official text), ``/notices/<id>?lang=en`` its English page (each is a document of its
own, with its own digest in ``notice.published``; a notice published as one bilingual
page serves that page for both).  A superseded notice stays readable: its
page carries a banner pointing to the correction (inserted at the marker the stored
bytes keep), and ``/notices/<id>/original`` serves the exact bytes still.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from markupsafe import escape

from ledger.absence.queries.console import report_record
from ledger.absence.service import AbsenceService
from ledger.app.web import public_lang
from ledger.app.web.api import body, caller, ok, roles
from ledger.app.web.forms import words
from ledger.app.web.problems import problem
from ledger.app.web.services import now, service
from ledger.app.web.validators import (
    IMMUTABLE,
    SHORT,
    ImmutableBytes,
    not_modified,
    validated,
)
from ledger.config import PublicitySettings
from ledger.errors import BadData, NotFound
from ledger.timetext import written_short, zone_label
from ledger.witness.client import WitnessQuorumUnavailable, WitnessSettings
from publicity import notices as N  # noqa: N812 (the notices module, read as N.publish)
from publicity.calendar import WorkingCalendar

STATIC = Path(__file__).resolve().parent / "static"
#: A superseded notice's page (its banner may still change wording): revalidated often.
SUPERSEDED = "public, max-age=300"

bp = Blueprint("publicity", __name__, static_folder=str(STATIC),
               static_url_path="/static/publicity")




def settings() -> PublicitySettings:
    found: PublicitySettings = current_app.extensions.get("absentia.publicity",
                                                          PublicitySettings())
    return found


def witness_settings() -> WitnessSettings | None:
    """The k-of-n witness policy publishing waits for (None: none configured)."""
    found: WitnessSettings | None = current_app.extensions.get("absentia.witnesses")
    return found


@bp.app_errorhandler(WitnessQuorumUnavailable)
def _witnesses_unavailable(exc: WitnessQuorumUnavailable) -> Response:
    """503 problem+json naming the witnesses that did not cosign, with Retry-After."""
    resp = problem("unavailable", str(exc), field="witnesses",
                   witnesses=exc.status.to_json())
    resp.headers["Retry-After"] = str(exc.retry_after_s)
    return resp


def calendar() -> WorkingCalendar:
    cal: WorkingCalendar = current_app.extensions.get("absentia.calendar", WorkingCalendar())
    return cal


@bp.get("/notices")
def notice_list() -> str:
    raw = request.args.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 100_000:
        raise BadData("page: a positive integer", field="page")
    page, per_page = int(raw), 20
    items, total = N.notices(service(), page=page, per_page=per_page)
    pages = max((total + per_page - 1) // per_page, 1)
    lg = public_lang.lang()
    zones: dict[str, str] = {}
    for n in items:  # times at the campaign's wall clock (北京时间), not UTC
        if n["campaign"] not in zones:
            zones[n["campaign"]] = str(service().campaign(n["campaign"])["timezone"])
        tz = zones[n["campaign"]]
        n["published_local"] = written_short(n["published_at"], tz)
        n["period_end_local"] = written_short(n["period_end"], tz)
        n["zone"] = zone_label(tz, lg.code)
    shown = sorted({n["zone"] for n in items})
    mixed = len(shown) > 1  # then each row names its zone
    zone = shown[0] if len(shown) == 1 else zone_label("Asia/Shanghai", lg.code)
    return render_template("notices.html", lg=lg, switch=public_lang.switch_urls(),
                           items=items, page=page, pages=pages, total=total, zone=zone,
                           mixed=mixed)


#: Gzip-encoded notice pages, compressed once (per process), by their ETag.
_GZIPPED = ImmutableBytes(32 * 1024 * 1024)


def _serve(data: bytes, etag: str, cache: str) -> Response:
    """The bytes with a strong ETag; gzip-encoded (compressed once, kept) for clients
    that accept it, under an ETag of its own (RFC 9110 §8.8.3: another representation).
    A matching If-None-Match gets its 304 before anything is compressed."""
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    tag = etag + "-gzip" if gzipped else etag
    early = not_modified(tag, cache, "Accept-Encoding")
    if early is not None:
        return early
    if gzipped:
        hit = _GZIPPED.get(etag)
        packed = hit[0] if hit is not None else gzip.compress(data, compresslevel=9, mtime=0)
        if hit is None:
            _GZIPPED.put(etag, packed, tag)
        resp = Response(packed, mimetype="text/html")
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(data, mimetype="text/html")
    return validated(resp, tag, cache, "Accept-Encoding")


class _NoticeCache:
    """Published bytes never change, so they are kept (a bounded LRU by notice and
    language); whether a notice has been superseded can change, so its record is
    re-read after ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 5.0, max_items: int = 256) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[dict[str, Any], bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, svc: AbsenceService, notice_id: str, lang: str = "zh"
            ) -> tuple[dict[str, Any], bytes]:
        t = time.monotonic()
        key = f"{notice_id}@{lang}"
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
        if hit is not None and t - hit[2] < self.ttl_s:
            return hit[0], hit[1]
        record = N.notice(svc, notice_id)
        data = hit[1] if hit is not None else N.document(svc, notice_id, lang)
        with self._lock:
            self._items[key] = (record, data, t)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return record, data


def _lang() -> str:
    """The page language the request asks for: ``en`` with ``?lang=en``, else ``zh``."""
    return "en" if request.args.get("lang") == "en" else "zh"


def _digest(record: dict[str, Any], lang: str) -> str:
    """The ledger's SHA-256 of the page served in ``lang``."""
    return str(record["sha256_en"] if lang == "en" and record["sha256_en"]
               else record["sha256"])


_CACHE = _NoticeCache()


@bp.get("/static/publicity/verify-words.json")
def verify_words() -> Response:
    """The words ``static/verify.js`` shows (``words_tiles.toml``, key -> [zh, en]): the
    script picks the page's language; a notice's stored bytes need not carry them."""
    data = json.dumps(words("public.verify"), ensure_ascii=False, sort_keys=True).encode()
    resp = Response(data, mimetype="application/json")
    resp.set_etag(hashlib.sha256(data).hexdigest())
    resp.headers["Cache-Control"] = "public, max-age=3600"
    resp.make_conditional(request)
    return resp


@bp.get("/notices/<notice_id>")
def notice_page(notice_id: str) -> Response:
    svc = service()
    cache: _NoticeCache = current_app.extensions.get("absentia.notice_cache", _CACHE)
    lang = _lang()
    record, data = cache.get(svc, notice_id, lang)
    if record["superseded_by"] is None:
        return _serve(data, _digest(record, lang), IMMUTABLE)
    # The page is the stored bytes plus a banner naming the correction: its ETag is
    # derived from the stored digest, the language and the correction, so a 304 needs
    # neither the banner nor a digest of the page.
    etag = hashlib.sha256(f"{_digest(record, lang)}\n{lang}\n{record['superseded_by']}"
                          .encode()).hexdigest()
    early = not_modified(etag + ("-gzip" if "gzip" in request.headers.get(
        "Accept-Encoding", "") else ""), SUPERSEDED, "Accept-Encoding")
    if early is not None:
        return early
    newer = escape(record["superseded_by"])
    me = escape(notice_id)
    if not record["sha256_en"]:  # one bilingual page: a bilingual banner
        banner = (f'<div class="banner" role="alert"><strong>本公示已被更正。</strong>'
                  f'This notice was superseded by a correction: <a href="/notices/{newer}">'
                  f'{newer}</a>. 下列内容保持发布时原样 The text below is unchanged as '
                  f'published (<a href="/notices/{me}/original">original bytes</a>).</div>')
    elif lang == "en":
        banner = (f'<div class="banner" role="alert"><strong>This notice was superseded '
                  f'by a correction:</strong> <a href="/notices/{newer}?lang=en">{newer}'
                  f'</a>. The text below is unchanged as published (<a href="/notices/'
                  f'{me}/original?lang=en">original bytes</a>).</div>')
    else:
        banner = (f'<div class="banner" role="alert"><strong>本公示已被更正：</strong>'
                  f'<a href="/notices/{newer}">{newer}</a>。下列内容保持发布时原样（<a '
                  f'href="/notices/{me}/original">发布时的原始文件</a>）。</div>')
    shown = data.replace(N.BANNER_MARK.encode(), banner.encode(), 1)
    return _serve(shown, etag, SUPERSEDED)


@bp.get("/notices/<notice_id>/original")
def notice_original(notice_id: str) -> Response:
    svc = service()
    lang = _lang()
    record = N.notice(svc, notice_id)
    return _serve(N.document(svc, notice_id, lang), _digest(record, lang), IMMUTABLE)


@bp.get("/api/v1/notices/<notice_id>")
def notice_record(notice_id: str) -> Response:
    """The notice's ledger record: SHA-256 of its bytes, period, what superseded it
    (public, and cached briefly: a correction changes ``superseded_by``; its ETag is
    added by ``validators.public_validators``)."""
    resp = ok(N.notice(service(), notice_id))
    resp.headers["Cache-Control"] = SHORT
    return resp


@bp.post("/api/v1/campaigns/<campaign>/notices")
@roles("hr")
def publish(campaign: str) -> Response:
    """Publish a campaign's notice: ``{"days"?: 5, "supersedes"?: "<notice>"}``."""
    data = body()
    for key in data:
        if key not in ("days", "supersedes"):
            raise BadData(f"{key}: unknown field", field=key)
    days = data.get("days", settings().notice_days)
    if isinstance(days, float) and days.is_integer():
        days = int(days)  # JSON has one number type: 12.0 is the integer 12
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 30:
        raise BadData("days: working days from 1 to 30", field="days")
    supersedes = data.get("supersedes")
    if supersedes is not None and not isinstance(supersedes, str):
        raise BadData("supersedes: a notice id", field="supersedes")
    record = N.publish(service(), caller(), campaign, now(), days=days, calendar=calendar(),
                       base_url=settings().base_url or "", supersedes=supersedes,
                       witnesses=witness_settings())
    return ok(record | {"url": f"/notices/{record['notice']}"}, 201)


@bp.route("/api/v1/campaigns/<campaign>/notice-settings", methods=["PUT", "POST"])
@roles("hr")
def set_notice_settings(campaign: str) -> Response:
    """Set the campaign's notice settings after it opened (``campaign.notice_settings``):
    ``{"issuing_office"?, "supervision_phone"?, "objection_address"?,
    "objection_email"?, "roster"?, "fields"?}``, overriding its policy's field by field."""
    return ok(service().set_notice_settings(caller(), campaign, body(), now()))


@bp.get("/api/v1/campaigns/<campaign>/notice-settings")
@roles("hr", "reviewer", "auditor")
def notice_settings(campaign: str) -> Response:
    """The campaign's effective notice settings (its policy's, overridden by what HR set)
    and the required ones still missing."""
    found = N.recorded_settings(service(), campaign)
    return ok({"campaign": campaign,
               **{k.removeprefix("notice_"): v for k, v in found.to_body().items()},
               "missing": [k.removeprefix("notice_") for k, _ in found.missing()]})


@bp.get("/api/v1/campaigns/<campaign>/notices/preview")
@roles("hr")
def preview(campaign: str) -> Response:
    """Exactly what the public would see if HR published now (nothing is recorded): the
    Chinese page, or with ``?lang=en`` the English one."""
    rendered = N.render(service(), campaign, now(), days=settings().notice_days,
                        calendar=calendar(), base_url=settings().base_url or "")
    resp = Response(rendered.html_en if _lang() == "en" else rendered.html,
                    mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/reports/<report_id>")
def report_page(report_id: str) -> str:
    """What the QR code on a report's cover opens: the report as the ledger recorded it
    (the SHA-256 of the signed file), to compare with the file in hand."""
    svc = service()
    row = report_record(svc.engine, report_id)
    if row is None:
        raise NotFound(f"no report {report_id!r}", field="report")
    return render_template("report_record.html", report=row, log=svc.store.log(svc.log))
