"""The HR office's console pages (operators ``hr`` and reviewers ``reviewer``).

Every page goes through ``console.signed_in`` (sign-in, role, CSRF on POST) and every
command through ``AbsenceService`` with ``console.actor()``: the ledger records who did
what.  A POST that succeeds answers 303 to a GET page (with ``?done=<what>``); a
``LedgerError`` is shown on the page with its field, with the status the API would use
(400, 404, 409, 422), never a 500.  Reading personal data (contact details, appeal
statements) goes through the service, which records ``pii.viewed`` first.

Times typed in ``datetime-local`` inputs are wall-clock times in the campaign's zone.
Chinese by default, English with ``?lang=en``.  No inline script or style (CSP): the
report progress poller is ``ledger/app/web/static/console-hr.js``.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from markupsafe import Markup, escape
from sqlalchemy import select

from ledger.absence import projection as P  # noqa: N812 (the tables, read as P.reports)
from ledger.absence.imports import MAX_IMPORT_BYTES
from ledger.absence.service import AbsenceService
from ledger.app.web import console
from ledger.app.web.console import actor, now, session
from ledger.app.web.forms import Lang
from ledger.app.web.limits import FORM_OVERHEAD_BYTES, body_limit
from ledger.config import PublicitySettings
from ledger.errors import (
    BadData,
    Conflict,
    CouldNotCheck,
    LedgerError,
    NotAllowed,
    NotFound,
    Unprocessable,
)
from ledger.timefmt import parse_utc
from publicity import jobs as report_jobs
from publicity import notices as N  # noqa: N812 (the notices module, read as N.publish)
from publicity.calendar import WorkingCalendar
from publicity.jobs import JobLimits, JobRefused, ReportJob
from publicity.report import spawn_generate

bp = Blueprint("console_hr", __name__, url_prefix="/console")

PER_PAGE = 50
SOON = timedelta(hours=24)
BAR_FILL = "#1a5fb4"
PREVIEW_CSP = "default-src 'self'; frame-ancestors 'self'; form-action 'none'; sandbox"

TEXT: dict[str, tuple[str, str]] = {
    "campaigns": ("招聘批次", "Campaigns"),
    "campaign": ("批次", "Campaign"),
    "no_campaigns": ("尚无招聘批次。", "No campaigns yet."),
    "absence_rate": ("缺席率", "Absence rate"),
    "decided": ("已决定", "Decided"),
    "absent": ("缺席", "Absent"),
    "causes": ("缺席原因", "Causes of absence"),
    "open_alerts": ("未处理预警", "Open alerts"),
    "none": ("无", "None"),
    "closing_soon": ("24小时内截止的未决面试窗口", "Undecided windows closing within 24 h"),
    "pending_review": ("待复查", "Pending review"),
    "candidates": ("考生", "Candidates"),
    "detail": ("详情", "Details"),
    "windows": ("面试窗口", "Interview windows"),
    "window": ("窗口", "Window"),
    "subject": ("考生编号", "Candidate id"),
    "registration": ("报名号", "Registration"),
    "post": ("岗位", "Post"),
    "opens_at": ("开始时间", "Opens at"),
    "closes_at": ("截止时间", "Closes at"),
    "kind": ("类型", "Kind"),
    "decision": ("认定", "Decision"),
    "decisions": ("缺席认定", "Decisions"),
    "outcome": ("结果", "Outcome"),
    "cause": ("原因", "Cause"),
    "evidence": ("证据（账本序号）", "Evidence (ledger indexes)"),
    "explanation": ("说明", "Explanation"),
    "review": ("复查", "Review"),
    "quarantined": ("隔离的平台事件", "Quarantined platform events"),
    "reason": ("理由", "Reason"),
    "at": ("时间", "At"),
    "next_page": ("下一页", "Next page"),
    "first_page": ("第一页", "First page"),
    "ledger_index": ("账本序号", "Ledger index"),
    "explanation_zh": ("中文说明", "Explanation (Chinese)"),
    "explanation_en": ("英文说明", "Explanation (English)"),
    "matches": ("说明与账本记录的摘要一致", "The explanation matches the digest in the ledger"),
    "mismatch": ("说明与账本记录的摘要不一致！", "The explanation does NOT match the ledger!"),
    "reviews": ("复查队列", "Review queue"),
    "no_pending": ("没有待复查的案例。", "No cases are pending review."),
    "confirm": ("维持认定", "Confirm the ruling"),
    "grant_makeup": ("准予补考", "Grant a make-up"),
    "makeup_opens": ("补考开始时间", "Make-up opens at"),
    "makeup_closes": ("补考截止时间", "Make-up closes at"),
    "tz_hint": ("时间按本批次时区 {tz} 填写。", "Times are in the campaign's zone, {tz}."),
    "outage": ("平台故障预警", "Platform outage alert"),
    "mass_makeup": ("为全部受影响考生安排补考", "Grant a make-up to every affected candidate"),
    "affected": ("受影响窗口数", "Windows affected"),
    "alert": ("预警", "Alert"),
    "accommodation": ("特殊关怀（延长或改期）", "Accommodation (extend or move)"),
    "acc_kind": ("方式", "How"),
    "extended": ("延长截止时间", "Extend the close"),
    "alternate_slot": ("改到其他时段", "Move to another slot"),
    "new_opens": ("新的开始时间（仅改期）", "New opening (moving only)"),
    "new_closes": ("新的截止时间", "New close"),
    "acc_reason": ("理由", "Reason"),
    "grant": ("批准", "Grant"),
    "appeals": ("申诉", "Appeals"),
    "no_appeals": ("没有待处理的申诉。", "No open appeals."),
    "appeal": ("申诉", "Appeal"),
    "ground": ("申诉理由类别", "Ground"),
    "filed_at": ("提出时间", "Filed at"),
    "open": ("打开", "Open"),
    "statement": ("申诉陈述", "Statement"),
    "access_recorded": ("本次查看已记入账本。", "This view was recorded in the ledger."),
    "ruling": ("裁决", "Ruling"),
    "upheld": ("维持原认定", "Upheld (the ruling stands)"),
    "overturned": ("撤销原认定", "Overturned"),
    "makeup_optional": ("补考时间（撤销时可选）", "Make-up times (optional, when overturning)"),
    "rule": ("提交裁决", "Record the ruling"),
    "ruled": ("已裁决：", "Ruled: "),
    "import": ("导入考生", "Import candidates"),
    "csv_file": ("CSV 文件（UTF-8）", "CSV file (UTF-8)"),
    "csv_hint": ("列：registration,name,id_number,phone,email,post。全部导入或全部不导入。",
                 "Columns: registration,name,id_number,phone,email,post. All rows or none."),
    "upload": ("上传并导入", "Upload and import"),
    "nothing_imported": ("未导入任何考生。请改正以下各行后重新上传。",
                         "Nothing was imported. Correct these rows and upload again."),
    "row": ("行", "Row"),
    "field": ("字段", "Field"),
    "message": ("问题", "Problem"),
    "notice": ("公示", "Public notice"),
    "preview": ("预览（公众将看到的内容）", "Preview (exactly what the public will see)"),
    "preview_link": ("在新页面中打开预览", "Open the preview on its own page"),
    "days": ("公示期（工作日）", "Notice period (working days)"),
    "publish": ("发布公示", "Publish the notice"),
    "published": ("已发布的公示", "Published notices"),
    "no_notices": ("尚未发布公示。", "No notice published yet."),
    "superseded": ("已被更正", "superseded"),
    "cannot_preview": ("目前无法预览：", "No preview now: "),
    "reports": ("档案报表", "Archive reports"),
    "generate": ("生成报表", "Generate a report"),
    "no_reports": ("尚无报表。", "No reports yet."),
    "download": ("下载 PDF", "Download the PDF"),
    "job": ("生成任务", "Generation job"),
    "running": ("正在生成……", "Generating…"),
    "done": ("已完成", "Done"),
    "failed": ("失败", "Failed"),
    "not_configured": ("本服务未配置报表生成（缺少数据目录设置）。",
                       "Report generation is not configured on this server (no data directory)."),
    "contact": ("联系方式", "Contact details"),
    "show_contact": ("查看联系方式", "Show contact details"),
    "contact_note": ("查看个人信息会记入账本（谁、何时、为何）。",
                     "Viewing personal data is recorded in the ledger (who, when, why)."),
    "name": ("姓名", "Name"),
    "phone": ("手机", "Phone"),
    "email": ("电子邮箱", "E-mail"),
    "id_number": ("身份证号", "ID number"),
    "generated_at": ("生成时间", "Generated at"),
    "report": ("报表", "Report"),
    "back_campaign": ("返回批次详情", "Back to the campaign"),
    "back_campaigns": ("返回批次列表", "Back to the campaigns"),
    "error_field": ("字段：", "Field: "),
    "done_reviewed": ("复查结果已记录。", "The review was recorded."),
    "done_makeup": ("已准予补考并安排补考窗口。",
                    "A make-up was granted and its window scheduled."),
    "done_mass": ("已为受影响考生安排补考：{n} 个窗口。",
                  "Make-ups granted to the affected candidates: {n} windows."),
    "done_accommodation": ("特殊关怀已记录。", "The accommodation was recorded."),
    "done_ruled": ("申诉裁决已记录。", "The ruling was recorded."),
    "done_imported": ("已导入 {n} 名考生。", "{n} candidates were imported."),
    "done_published": ("公示已发布。", "The notice was published."),
    "done_started": ("报表生成已开始。", "Report generation started."),
    "actions": ("操作", "Actions"),
}
ALL_TEXT: dict[str, tuple[str, str]] = {**console.TEXT, **TEXT}

CAUSES: dict[str, tuple[str, str]] = {
    "technical": ("技术故障", "technical fault"),
    "compatibility": ("设备兼容", "device compatibility"),
    "notification_failed": ("通知未送达", "notification not delivered"),
    "withdrawn": ("主动放弃", "withdrew"),
    "no_show": ("未参加", "did not attend"),
}
OUTCOMES: dict[str, tuple[str, str]] = {
    "attended": ("已参加", "attended"),
    "forfeited": ("视为自动放弃", "deemed withdrawn"),
    "makeup_pending_review": ("待复查（可能补考）", "pending review (make-up possible)"),
    "makeup_granted": ("准予补考", "make-up granted"),
    "rebook_offered": ("可重新预约", "rebooking offered"),
    "locked": ("已锁定", "locked"),
    "confirmed": ("维持认定", "confirmed"),
}
REASONS: dict[str, tuple[str, str]] = {
    "poor_signal": ("网络信号差的地区", "area with poor signal"),
    "special_needs": ("特殊需要（如残障）", "special needs (e.g. disability)"),
    "low_digital_literacy": ("数字技能不足", "low digital literacy"),
    "other": ("其他", "other"),
}
DONE = {"reviewed", "makeup", "mass", "accommodation", "ruled", "imported", "published",
        "started"}


def lang() -> Lang:
    return Lang.of_request(ALL_TEXT)


def service() -> AbsenceService:
    s: AbsenceService = current_app.extensions["absentia.absence"]
    return s


#: Console pages: sign-in, role and CSRF checks (see ``ledger.app.web.console``).
signed_in = console.signed_in


def _status(exc: LedgerError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | CouldNotCheck):
        return 409
    if isinstance(exc, Unprocessable):
        return 422
    if isinstance(exc, NotAllowed):
        return 403
    return 400


def _page(template: str, status: int = 200, *, exc: LedgerError | None = None,
          **context: Any) -> Response:
    lg = lang()
    error = ""
    if exc is not None:
        error = str(exc) + (f" ({lg.t('error_field')}{exc.field})" if exc.field else "")
    done = request.args.get("done", "")
    flash = ""
    if done in DONE and status == 200:
        n = request.args.get("n", "0")
        flash = lg.t("done_" + done, n=int(n) if n.isdigit() else 0)
    return console._page(template, status, csrf=session().csrf, lg=lg, session=session(),
                         roles=console.ROLES, error=error, flash=flash, causes=CAUSES,
                         outcomes=OUTCOMES, reasons=REASONS, **context)


def _error_page(exc: LedgerError) -> Response:
    return _page("console_hr_error.html", _status(exc), exc=exc)


def _redirect(path: str, **query: str | int) -> Response:
    lg = lang()
    q = {k: str(v) for k, v in query.items()}
    if lg.code == "en":
        q["lang"] = "en"
    resp = Response(status=303)
    resp.headers["Location"] = path + ("?" + urlencode(q) if q else "")
    return resp


@bp.after_request
def _headers(resp: Response) -> Response:
    if "Content-Security-Policy" not in resp.headers:
        resp.headers["Content-Security-Policy"] = console.CSP
        resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if request.is_secure:
        resp.headers["Strict-Transport-Security"] = "max-age=31536000"
    return resp


def _f(name: str, limit: int = 2000) -> str:
    return request.form.get(name, "").strip()[:limit]


def _local_time(value: str, tz: str, name: str) -> str:
    """A ``datetime-local`` value in the campaign's zone, as RFC 3339 with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadData(f"{name}: give a date and time such as 2026-12-01T09:00",
                      field=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.isoformat()


def _local(value: str | None, tz: str) -> str:
    """An RFC 3339 time shown in the campaign's zone (``YYYY-MM-DD HH:MM``)."""
    if not value:
        return "—"
    moment = parse_utc(value)
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _input_value(value: str, tz: str) -> str:
    moment = parse_utc(value)
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _tz_of(campaign: str) -> str:
    tz: str = service().campaign(campaign)["timezone"]
    return tz


# -- the chart ------------------------------------------------------------------------


def cause_chart(causes: dict[str, int], lg: Lang, label: str) -> Markup:
    """Absence causes as an inline SVG bar chart (server-side, no script)."""
    width, label_w, bar, gap = 420, 130, 18, 8
    top = max(causes.values(), default=0) or 1
    height = len(causes) * (bar + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="{escape(label)}"><title>{escape(label)}</title>']
    for i, (cause, n) in enumerate(causes.items()):
        y = gap + i * (bar + gap)
        w = int((width - label_w - 50) * n / top)
        name = lg.of(CAUSES, cause)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" font-size="12" '
            f'fill="#1a1a1a">{escape(name)}</text>'
            f'<rect class="bar" data-cause="{escape(cause)}" data-count="{n}" x="{label_w}" '
            f'y="{y}" width="{w}" height="{bar}" fill="{BAR_FILL}"/>'
            f'<text x="{label_w + w + 4}" y="{y + bar - 5}" font-size="12" '
            f'fill="#1a1a1a">{n}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text is escaped above)


# -- dashboard and detail -------------------------------------------------------------


@bp.get("/campaigns")
@signed_in("hr", "reviewer")
def campaigns() -> Response:
    svc = service()
    lg = lang()
    moment = now()
    rows = []
    for c in svc.campaigns():
        stats = svc.statistics(c["campaign"])
        alerts = [a for a in svc.alerts(c["campaign"]) if a["status"] == "open"]
        soon = []
        for w in svc.windows(c["campaign"], undecided_only=True):
            closes = parse_utc(w["closes_at"])
            if moment <= closes <= moment + SOON:
                soon.append(w | {"closes_local": _local(w["closes_at"], c["timezone"])})
        rows.append({"c": c, "stats": stats, "alerts": alerts, "soon": soon,
                     "chart": cause_chart(stats["causes"], lg,
                                          f"{lg.t('causes')} · {c['title']}")})
    return _page("console_hr_campaigns.html", rows=rows)


@bp.get("/campaigns/<campaign>")
@signed_in("hr", "reviewer")
def campaign_detail(campaign: str) -> Response:
    svc = service()
    try:
        c = svc.campaign(campaign)
    except LedgerError as exc:
        return _error_page(exc)
    after = request.args.get("after", "")[:200]
    windows = svc.windows(campaign, limit=PER_PAGE + 1, after=after)
    more = len(windows) > PER_PAGE
    windows = windows[:PER_PAGE]
    tz = c["timezone"]
    for w in windows:
        w["opens_local"], w["closes_local"] = _local(w["opens_at"], tz), _local(w["closes_at"], tz)
    decisions = svc.decisions(campaign, limit=500)
    return _page("console_hr_campaign.html", c=c, windows=windows, after=after,
                 next_after=windows[-1]["window"] if more else "", decisions=decisions,
                 quarantined=svc.quarantined(campaign, limit=100),
                 candidates=svc.candidates(campaign), log=svc.log,
                 stats=svc.statistics(campaign))


@bp.get("/decisions/<decision>")
@signed_in("hr", "reviewer")
def decision_page(decision: str) -> Response:
    svc = service()
    try:
        d = svc.decision(decision)
    except LedgerError as exc:
        return _error_page(exc)
    return _page("console_hr_decision.html", d=d, log=svc.log,
                 decided_local=_local(d["decided_at"], _tz_of(d["campaign"])))


# -- windows and accommodations -------------------------------------------------------


def _window_page(window: str, status: int = 200, exc: LedgerError | None = None
                 ) -> Response:
    try:
        w = service().window(window)
    except LedgerError as e:
        return _error_page(e)
    tz = _tz_of(w["campaign"])
    return _page("console_hr_window.html", status, exc=exc, w=w, tz=tz,
                 opens_local=_local(w["opens_at"], tz), closes_local=_local(w["closes_at"], tz),
                 closes_value=_input_value(w["closes_at"], tz),
                 open_for_change=w["decision"] is None
                 and parse_utc(w["closes_at"]) > now())


@bp.get("/windows/<window>")
@signed_in("hr", "reviewer")
def window_page(window: str) -> Response:
    return _window_page(window)


@bp.post("/windows/<window>/accommodation")
@signed_in("hr")
def accommodation(window: str) -> Response:
    svc = service()
    try:
        w = svc.window(window)
        tz = _tz_of(w["campaign"])
        data = {"kind": _f("kind"), "reason": _f("reason", 100),
                "closes_at": _local_time(_f("closes_at"), tz, "closes_at")}
        if data["kind"] == "alternate_slot" and _f("opens_at"):
            data["opens_at"] = _local_time(_f("opens_at"), tz, "opens_at")
        if not data["reason"]:
            raise BadData("reason: required", field="reason")
        svc.grant_accommodation(actor(), window, data, now())
    except LedgerError as exc:
        return _window_page(window, _status(exc), exc)
    return _redirect(f"/console/windows/{window}", done="accommodation")


# -- reviews --------------------------------------------------------------------------


def _reviews_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                  ) -> Response:
    svc = service()
    try:
        c = svc.campaign(campaign)
    except LedgerError as e:
        return _error_page(e)
    pending = svc.decisions(campaign, pending_review=True, limit=500)
    outages = [a for a in svc.alerts(campaign)
               if a["status"] == "open" and a["kind"] == "platform_outage"]
    return _page("console_hr_reviews.html", status, exc=exc, c=c, pending=pending,
                 outages=outages, **_makeup_defaults(c["timezone"]))


@bp.get("/campaigns/<campaign>/reviews")
@signed_in("reviewer")
def reviews(campaign: str) -> Response:
    return _reviews_page(campaign)


@bp.post("/campaigns/<campaign>/reviews")
@signed_in("reviewer")
def review(campaign: str) -> Response:
    svc = service()
    try:
        tz = _tz_of(campaign)
        decision = _f("decision", 200)
        d = svc.decision(decision)
        if d["campaign"] != campaign:
            raise NotFound(f"no decision {decision!r} in {campaign}", field="decision")
        ruling = _f("ruling")
        data: dict[str, Any] = {"ruling": ruling}
        if ruling == "makeup_granted":
            data["opens_at"] = _local_time(_f("opens_at"), tz, "opens_at")
            data["closes_at"] = _local_time(_f("closes_at"), tz, "closes_at")
        svc.review(actor(), decision, data, now())
    except LedgerError as exc:
        return _reviews_page(campaign, _status(exc), exc)
    return _redirect(f"/console/campaigns/{campaign}/reviews",
                     done="makeup" if ruling == "makeup_granted" else "reviewed")


@bp.post("/campaigns/<campaign>/alerts")
@signed_in("reviewer")
def mass_makeup(campaign: str) -> Response:
    svc = service()
    try:
        tz = _tz_of(campaign)
        alert = _f("alert", 300)
        if not any(a["alert"] == alert for a in svc.alerts(campaign)):
            raise NotFound(f"no alert {alert!r} in {campaign}", field="alert")
        done = svc.resolve_alert(actor(), alert, {
            "action": "mass_makeup",
            "opens_at": _local_time(_f("opens_at"), tz, "opens_at"),
            "closes_at": _local_time(_f("closes_at"), tz, "closes_at")}, now())
    except LedgerError as exc:
        return _reviews_page(campaign, _status(exc), exc)
    return _redirect(f"/console/campaigns/{campaign}/reviews", done="mass",
                     n=int(done["makeups"] or 0))


# -- appeals --------------------------------------------------------------------------


@bp.get("/campaigns/<campaign>/appeals")
@signed_in("reviewer")
def appeals(campaign: str) -> Response:
    svc = service()
    try:
        c = svc.campaign(campaign)
    except LedgerError as exc:
        return _error_page(exc)
    items = svc.appeals(campaign, open_only=True)
    for a in items:
        a["filed_local"] = _local(a["filed_at"], c["timezone"])
    return _page("console_hr_appeals.html", c=c, items=items)


def _makeup_defaults(tz: str) -> dict[str, str]:
    """A make-up form's suggested times: tomorrow, two hours long, in the campaign's zone."""
    moment = now()
    return {"default_opens": _input_value((moment + timedelta(days=1)).isoformat(), tz),
            "default_closes": _input_value((moment + timedelta(days=1, hours=2)).isoformat(),
                                           tz)}


def _appeal_page(appeal: str, status: int = 200, exc: LedgerError | None = None) -> Response:
    svc = service()
    try:
        a = svc.appeal(actor(), appeal, now())  # records pii.viewed
        c = svc.campaign(a["campaign"])
    except LedgerError as e:
        return _error_page(e)
    return _page("console_hr_appeal.html", status, exc=exc, a=a, c=c,
                 **_makeup_defaults(c["timezone"]))


@bp.get("/appeals/<appeal>")
@signed_in("reviewer")
def appeal_page(appeal: str) -> Response:
    return _appeal_page(appeal)


@bp.post("/appeals/<appeal>/ruling")
@signed_in("reviewer")
def rule_appeal(appeal: str) -> Response:
    svc = service()
    try:
        campaign = svc.appeal_record(appeal)["campaign"]
        tz = _tz_of(campaign)
        data: dict[str, Any] = {"ruling": _f("ruling")}
        if data["ruling"] == "overturned" and (_f("opens_at") or _f("closes_at")):
            data["opens_at"] = _local_time(_f("opens_at"), tz, "opens_at")
            data["closes_at"] = _local_time(_f("closes_at"), tz, "closes_at")
        svc.rule_appeal(actor(), appeal, data, now())
    except LedgerError as exc:
        return _appeal_page(appeal, _status(exc), exc)
    return _redirect(f"/console/campaigns/{campaign}/appeals", done="ruled")


# -- import ---------------------------------------------------------------------------


def _import_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                 ) -> Response:
    try:
        c = service().campaign(campaign)
    except LedgerError as e:
        return _error_page(e)
    rows = exc.errors if isinstance(exc, Unprocessable) else []
    return _page("console_hr_import.html", status, exc=exc, c=c, rows=rows)


@bp.get("/campaigns/<campaign>/import")
@signed_in("hr")
def import_form(campaign: str) -> Response:
    return _import_page(campaign)


@bp.post("/campaigns/<campaign>/import")
@signed_in("hr")
@body_limit(MAX_IMPORT_BYTES + FORM_OVERHEAD_BYTES)
def import_upload(campaign: str) -> Response:
    try:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise BadData("file: choose a CSV file", field="file")
        data = upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise BadData(f"file: larger than {MAX_IMPORT_BYTES // 1024 // 1024} MiB",
                          field="file")
        made = service().import_candidates(actor(), campaign, data, "text/csv", now())
    except LedgerError as exc:
        return _import_page(campaign, _status(exc), exc)
    return _redirect(f"/console/campaigns/{campaign}/import", done="imported", n=len(made))


# -- notices --------------------------------------------------------------------------


def _notice_settings() -> tuple[int, str, WorkingCalendar]:
    found: PublicitySettings = current_app.extensions.get("absentia.publicity",
                                                          PublicitySettings())
    cal: WorkingCalendar = current_app.extensions.get("absentia.calendar", WorkingCalendar())
    return found.notice_days, found.base_url or "", cal


def _notice_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                 ) -> Response:
    svc = service()
    try:
        c = svc.campaign(campaign)
    except LedgerError as e:
        return _error_page(e)
    days, base_url, cal = _notice_settings()
    problem = ""
    try:
        N.render(svc, campaign, now(), days=days, calendar=cal, base_url=base_url)
    except LedgerError as e:
        problem = str(e)
    items, _ = N.notices(svc, per_page=1000)
    published = [n | {"published_local": _local(n["published_at"], c["timezone"])}
                 for n in items if n["campaign"] == campaign]
    current = next((n["notice"] for n in published if n["superseded_by"] is None), "")
    return _page("console_hr_notice.html", status, exc=exc, c=c, days=days, problem=problem,
                 published=published, current=current)


@bp.get("/campaigns/<campaign>/notice")
@signed_in("hr")
def notice_form(campaign: str) -> Response:
    return _notice_page(campaign)


@bp.get("/campaigns/<campaign>/notice/preview")
@signed_in("hr")
def notice_preview(campaign: str) -> Response:
    days, base_url, cal = _notice_settings()
    try:
        rendered = N.render(service(), campaign, now(), days=days, calendar=cal,
                            base_url=base_url)
    except LedgerError as exc:
        return _error_page(exc)
    resp = Response(rendered.html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PREVIEW_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp


@bp.post("/campaigns/<campaign>/notice")
@signed_in("hr")
def notice_publish(campaign: str) -> Response:
    days, base_url, cal = _notice_settings()
    try:
        raw = _f("days") or str(days)
        if not raw.isdigit() or not 1 <= int(raw) <= 30:
            raise BadData("days: working days from 1 to 30", field="days")
        supersedes = _f("supersedes", 200) or None
        N.publish(service(), actor(), campaign, now(), days=int(raw), calendar=cal,
                  base_url=base_url, supersedes=supersedes,
                  witnesses=current_app.extensions.get("absentia.witnesses"))
    except LedgerError as exc:
        return _notice_page(campaign, _status(exc), exc)
    return _redirect(f"/console/campaigns/{campaign}/notice", done="published")


# -- reports --------------------------------------------------------------------------


def _spawn(data_dir: Path, campaign: str, config_file: Path | None, job: str) -> Any:
    return spawn_generate(data_dir, campaign, config_file=config_file, job=job)


#: How a job's process is started (tests may replace it):
#: (data_dir, campaign, config, job id) -> a process with ``poll()`` and ``stderr``.
SPAWN: list[Callable[[Path, str, Path | None, str], Any]] = [_spawn]


class _Children:
    """The report processes this process started, by job, until they are reaped.

    The jobs' state is in the database (``publicity.jobs``), where every process sees
    it; a child records its own end.  This only reaps the children and records the end
    of one that could not (killed, crashed before it opened the database).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, Any] = {}

    def add(self, job: str, process: Any) -> None:
        with self.lock:
            self.items[job] = process

    def reap(self) -> None:
        with self.lock:
            ended = {j: p for j, p in self.items.items() if p.poll() is not None}
            for j in ended:
                del self.items[j]
        for j, p in ended.items():
            if p.poll() != 0:
                report_jobs.finish(service().store, j, now(),
                                   error=_last_line(p, f"exit status {p.poll()}"))


def _last_line(process: Any, default: str) -> str:
    err = b""
    if getattr(process, "stderr", None) is not None:
        try:
            err = process.stderr.read() or b""
        except (OSError, ValueError):
            err = b""
    return (err.decode("utf-8", "replace").strip().splitlines() or [default])[-1][:500]


def _children() -> _Children:
    found = current_app.extensions.get("absentia.report_children")
    if found is None:
        found = current_app.extensions.setdefault("absentia.report_children", _Children())
    c: _Children = found
    return c


def _job_limits() -> JobLimits:
    found: PublicitySettings = current_app.extensions.get("absentia.publicity",
                                                          PublicitySettings())
    return JobLimits.from_config(found)


def _report_settings() -> tuple[Path, Path | None] | None:
    settings = current_app.extensions.get("absentia.settings")
    if settings is None:
        return None
    return Path(settings.data_dir), settings.config_path


def _reports_of(campaign: str) -> list[Any]:
    with service().read() as conn:
        return list(conn.execute(select(P.reports).where(P.reports.c.campaign == campaign)
                                 .order_by(P.reports.c.idx.desc())).all())


def _job_json(j: ReportJob) -> dict[str, Any]:
    return {"job": j.job, "campaign": j.campaign, "state": j.state, "report": j.report,
            "download": f"/console/reports/{j.report}.pdf" if j.report else "",
            "error": j.error}


@bp.get("/campaigns/<campaign>/reports")
@signed_in("hr", "reviewer")
def reports(campaign: str) -> Response:
    return _reports_page(campaign)


def _reports_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                  ) -> Response:
    try:
        c = service().campaign(campaign)
    except LedgerError as e:
        return _error_page(e)
    rows = [{"report": r.report, "sha256": r.sha256, "decisions": r.decisions,
             "generated_local": _local(r.generated_at, c["timezone"]),
             "file": _report_path(r.report).is_file()} for r in _reports_of(campaign)]
    _children().reap()
    return _page("console_hr_reports.html", status, exc=exc, c=c, rows=rows,
                 jobs=[_job_json(j) for j in report_jobs.of_campaign(service().store,
                                                                    campaign)],
                 configured=_report_settings() is not None)


def _report_path(report: str) -> Path:
    found = _report_settings()
    base = found[0] if found is not None else Path("data")
    return base / "reports" / f"{report}.pdf"


@bp.post("/campaigns/<campaign>/reports")
@signed_in("hr", "reviewer")
def generate_report(campaign: str) -> Response:
    """Queue a report job and start its process; 409 naming the job if the campaign has
    one queued or running, or if the queue is full (``publicity.jobs``)."""
    try:
        service().campaign(campaign)
        found = _report_settings()
        if found is None:
            raise CouldNotCheck("report generation is not configured on this server",
                                field="report")
        _children().reap()
        job = report_jobs.request(service().store, campaign, session().user, now(),
                                  _job_limits())
        try:
            process = SPAWN[0](found[0], campaign, found[1], job.job)
        except (OSError, subprocess.SubprocessError) as exc:
            report_jobs.finish(service().store, job.job, now(), error=str(exc))
            raise CouldNotCheck(f"the report process did not start: {exc}",
                                field="report") from exc
        _children().add(job.job, process)
    except JobRefused as exc:  # the page, with the job in the way listed: 409
        return _reports_page(campaign, _status(exc), exc)
    except LedgerError as exc:
        return _page("console_hr_error.html", _status(exc), exc=exc)
    return _redirect(f"/console/campaigns/{campaign}/reports", done="started")


@bp.get("/report-jobs/<job>.json")
@signed_in("hr", "reviewer")
def job_status(job: str) -> Response:
    _children().reap()
    j = report_jobs.get(service().store, job)
    if j is None:
        resp = jsonify({"error": f"no job {job!r}"})
        resp.status_code = 404
        return resp
    return jsonify(_job_json(j))


@bp.get("/reports/<report>.pdf")
@signed_in("hr", "reviewer")
def report_file(report: str) -> Response:
    exists = any(r.report == report for c in service().campaigns()
                 for r in _reports_of(c["campaign"]))
    path = _report_path(report)
    if not exists or not path.is_file() or "/" in report or report.startswith("."):
        return _error_page(NotFound(f"no report file {report!r}", field="report"))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"{report}.pdf")


# -- personal data --------------------------------------------------------------------


@bp.post("/candidates/<subject>/contact")
@signed_in("hr")
def contact(subject: str) -> Response:
    """A candidate's contact details.  Answered directly (no redirect): the details must
    not travel in a URL, and a GET must not record a view."""
    svc = service()
    try:
        person = svc.personal_data(actor(), subject, "contact", now())
    except LedgerError as exc:
        return _error_page(exc)
    campaign = next((c["campaign"] for c in svc.campaigns()
                     if any(x["subject"] == subject for x in svc.candidates(c["campaign"]))),
                    "")
    return _page("console_hr_contact.html", person=person, campaign=campaign)
