"""Candidate self-service pages: check one's own result, and appeal, without an account.

Server-rendered, Chinese by default (``?lang=en`` or the language link for English),
readable on a phone, WCAG 2.1 AA (every input labelled, ``lang`` attributes, the site's
contrast and focus styles).  A candidate proves who they are with the registration number
and the last characters of their ID number, as in the JSON API
(``/api/v1/campaigns/<c>/status``): the same ``AbsenceService`` calls, the same rate
limits (per client address and per registration number), and the same answer for a
wrong factor as for an unknown registration.  A malformed registration number or factor
(the factor is digits and a final digit or X) is a 400 saying what to type.

The pages show no name and no personal data: only the registration number the
candidate typed, their windows and the decisions with their explanations.

CSRF: the forms are public and there is no session, so each form carries a
double-submit token: a random value in a ``SameSite=Strict; HttpOnly`` cookie and the
same value in a hidden field.  A POST whose field does not match the cookie is refused
with 400; a cross-site page can neither read the cookie nor make the browser send it.
Over HTTPS the cookie is ``__Host-`` prefixed and ``Secure`` (behind a TLS proxy that
needs werkzeug's ``ProxyFix`` so that ``request.is_secure`` is true).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import TooManyRequests

from ledger.absence.queries.selfservice import open_appeal_of
from ledger.absence.service import AbsenceService
from ledger.app.web import forms
from ledger.app.web.api import lookup_limited, now, public_limited
from ledger.app.web.forms import Lang
from ledger.app.web.limits import PUBLIC_FORM_BYTES, body_limit
from ledger.entry import parse_utc
from ledger.errors import BadData, Conflict, NotAllowed, NotFound

bp = Blueprint("selfservice", __name__)

CSRF_COOKIE = "absentia_form"
CSRF_FIELD = "form_token"
MAX_FIELD = 64  # registration numbers, factors, campaign ids are short

#: Interface text: key -> (Chinese, English).
TEXT: dict[str, tuple[str, str]] = {
    "title": ("考生结果查询与申诉", "Check your result and appeal"),
    "home": ("首页", "Home"),
    "notices": ("公示", "Notices"),
    "intro": ("输入报名号和身份证号后4位，查询本人的AI面试时段与认定结果。"
              "本页不显示姓名等个人信息。",
              "Enter your registration number and the last 4 characters of your ID number "
              "to see your AI interview windows and the decisions. This page shows no name "
              "or other personal data."),
    "campaign": ("招聘批次", "Recruitment campaign"),
    "registration": ("报名号", "Registration number"),
    "factor": ("身份证号后4位", "Last 4 characters of your ID number"),
    "factor_hint": ("末位为X的请输入X。", "If it ends in X, type X."),
    "submit": ("查询", "Check"),
    "no_campaign": ("暂无招聘批次。", "There is no campaign yet."),
    "not_match": ("报名号与身份证号后4位不匹配，或该报名号不存在。请核对后重试。",
                  "The registration number and the ID characters do not match, or there "
                  "is no such registration. Check them and try again."),
    "csrf": ("表单已过期或来自其他网站，未予处理。请重新打开查询页后再提交。",
             "The form expired or was sent from another site, so it was not accepted. "
             "Open the status page again and resubmit."),
    "rate": ("尝试次数过多，请稍后再试。", "Too many attempts; wait a minute and try again."),
    "bad": ("提交的内容有误：", "Something in the form is not right: "),
    "conflict": ("无法提交申诉：", "The appeal could not be filed: "),
    "result_title": ("查询结果", "Your result"),
    "windows": ("面试时段", "Interview windows"),
    "no_windows": ("尚未安排面试时段。", "No interview window has been scheduled yet."),
    "window": ("时段", "Window"),
    "kind": ("类型", "Kind"),
    "opens": ("开始", "Opens"),
    "closes": ("截止", "Closes"),
    "accommodation": ("调整", "Accommodation"),
    "decision": ("认定结果", "Decision"),
    "cause": ("原因类别", "Cause"),
    "decided_at": ("认定时间", "Decided at"),
    "explanation": ("说明", "Explanation"),
    "undecided": ("尚未认定。", "Not decided yet."),
    "superseded": ("已被后续决定取代", "superseded by a later decision"),
    "ledger": ("账本记录", "Ledger entry"),
    "proof": ("包含证明", "inclusion proof"),
    "appeal_title": ("提出申诉", "Appeal"),
    "appeal_intro": ("申诉期至 {until}。请说明理由；为确认身份，请再次输入身份证号后4位。",
                     "You may appeal until {until}. Give your reasons; to confirm it is "
                     "you, enter the last 4 characters of your ID number again."),
    "appeal_open": ("您的申诉已受理，正在复核中。",
                    "Your appeal has been filed and is under review."),
    "ground": ("申诉理由类别", "Ground"),
    "statement": ("申诉说明（不超过2000字）", "Statement (at most 2,000 characters)"),
    "appeal_submit": ("提交申诉", "File the appeal"),
    "filed_title": ("申诉已提交", "Appeal filed"),
    "filed": ("您的申诉已记录在账本中，编号 {appeal}，账本序号 #{index}。复核结果将另行通知。",
              "Your appeal is recorded in the ledger as {appeal}, ledger index #{index}. "
              "You will be told the ruling."),
    "back": ("返回查询", "Back to the status page"),
    "other_lang": ("English", "中文"),
}
GROUNDS: dict[str, tuple[str, str]] = {
    "technical": ("技术故障", "technical fault"),
    "notification": ("未收到通知", "notification not received"),
    "personal": ("个人原因", "personal reasons"),
    "other": ("其他", "other"),
}
OUTCOMES: dict[str, tuple[str, str]] = {
    "attended": ("已参加面试", "attended"),
    "forfeited": ("视为自动放弃", "deemed withdrawn"),
    "makeup_pending_review": ("待复核（可能安排补考）", "under review (a make-up may be granted)"),
    "rebook_offered": ("可重新预约", "rebooking offered"),
    "locked": ("多次缺席，已锁定", "locked after repeated absences"),
    "makeup_granted": ("安排补考", "make-up granted"),
}
REVIEWS: dict[str, tuple[str, str]] = {
    "pending": ("复核中", "review pending"),
    "confirmed": ("经复核维持", "confirmed on review"),
    "makeup_granted": ("经复核安排补考", "make-up granted on review"),
}
CAUSES: dict[str, tuple[str, str]] = {
    "technical": ("技术原因", "technical"),
    "compatibility": ("设备兼容", "device compatibility"),
    "notification_failed": ("通知未送达", "notification not delivered"),
    "withdrawn": ("主动放弃", "withdrew"),
    "no_show": ("未参加", "did not attend"),
}
KINDS: dict[str, tuple[str, str]] = {
    "regular": ("正式面试", "regular"),
    "makeup": ("补考", "make-up"),
    "rebook": ("重新预约", "rebooked"),
}
ACCOMMODATIONS: dict[str, tuple[str, str]] = {
    "extended": ("延长时段", "extended window"),
    "alternate_slot": ("备用时段", "alternate slot"),
}


def service() -> AbsenceService:
    s: AbsenceService = current_app.extensions["absentia.absence"]
    return s


def lang() -> Lang:
    return Lang.of_request(TEXT)


def field(name: str) -> str:
    """A short form field, stripped; an over-long value is dropped (it cannot match)."""
    value = request.form.get(name, "").strip()
    return value if len(value) <= MAX_FIELD else ""


# -- CSRF: double-submit token -----------------------------------------------------------


def form_token() -> str:
    """The token of this browser's forms: the cookie's if well formed, else a new one."""
    return forms.form_token(CSRF_COOKIE)


def csrf_ok() -> bool:
    """The hidden field equals the cookie (which a cross-site form cannot send)."""
    cookie = request.cookies.get(forms.cookie_name(CSRF_COOKIE), "")
    return forms.well_formed(cookie) and forms.same(cookie, request.form.get(CSRF_FIELD, ""))


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a page with the form token (set as cookie), no caching."""
    token = form_token()
    lg = context.pop("lg", None) or lang()
    html = render_template(template, lg=lg, token=token, csrf_field=CSRF_FIELD, **context)
    resp = Response(html, status=status, mimetype="text/html")
    forms.set_cookie(resp, CSRF_COOKIE, token)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Language"] = lg.html
    return resp


# -- views ---------------------------------------------------------------------------------


def campaign_choices() -> list[dict[str, str]]:
    return [{"campaign": c["campaign"], "title": c["title"]} for c in service().campaigns()]


def form_page(status: int = 200, *, error: str = "", registration: str = "",
              campaign: str = "") -> Response:
    chosen = campaign or request.values.get("campaign", "")
    return page("status.html", status, campaigns=campaign_choices(), chosen=chosen,
                registration=registration, error=error,
                factor_chars=service().cfg.factor_chars)


@bp.get("/status")
def status_form() -> Response:
    return form_page()


def guard() -> Response | None:
    """Rate limits (per address, then per registration number: the JSON API's), then
    the CSRF check; a refusal page, or None to go on."""
    lg = lang()
    registration = field("registration")
    try:
        public_limited()  # the JSON API's limiter (app.extensions["absentia.rate_limiter"])
        lookup_limited(field("campaign"), registration)
    except TooManyRequests as exc:
        resp = form_page(429, error=lg.t("rate"), registration=registration)
        resp.headers["Retry-After"] = str(exc.retry_after or 60)
        return resp
    except BadData as exc:
        return form_page(400, error=lg.t("bad") + str(exc), registration=registration)
    if not csrf_ok():
        return form_page(400, error=lg.t("csrf"))
    return None


@bp.post("/status")
@body_limit(PUBLIC_FORM_BYTES)
def status_lookup() -> Response:
    refused = guard()
    if refused is not None:
        return refused
    lg = lang()
    campaign, registration = field("campaign"), field("registration")
    try:
        found = service().status(campaign, registration, field("factor"))
    except NotAllowed:
        return form_page(403, error=lg.t("not_match"), registration=registration,
                         campaign=campaign)
    except BadData as exc:
        return form_page(400, error=lg.t("bad") + str(exc), registration=registration,
                         campaign=campaign)
    return result_page(campaign, found, lg)


def _local(moment: str | None, tz: ZoneInfo) -> str:
    if not moment:
        return "—"
    return parse_utc(moment).astimezone(tz).strftime(
        "%Y-%m-%d %H:%M")


def result_page(campaign: str, found: dict[str, Any], lg: Lang) -> Response:
    svc = service()
    info = svc.campaign(campaign)
    tz = ZoneInfo(info["timezone"])
    windows = []
    latest: dict[str, Any] | None = None
    for w in found["windows"]:
        decisions = []
        for d in w["decisions"]:
            ex = d.get("explanation") or {}
            decisions.append({
                "outcome": lg.of(OUTCOMES, d["outcome"]),
                "review": lg.of(REVIEWS, d["review"]) if d["review"] else "",
                "cause": lg.of(CAUSES, d["cause"]),
                "decided_at": _local(d["decided_at"], tz),
                "current": d["superseded_by"] is None,
                "zh": ex.get("zh", ""), "en": ex.get("en", ""),
                "index": d["ledger_index"]})
            if d["superseded_by"] is None and d["outcome"] != "attended" and (
                    latest is None or d["ledger_index"] > latest["ledger_index"]):
                latest = d
        windows.append({"kind": lg.of(KINDS, w["kind"]),
                        "opens": _local(w["opens_at"], tz), "closes": _local(w["closes_at"], tz),
                        "accommodation": lg.of(ACCOMMODATIONS, w["accommodation"])
                        if w["accommodation"] else "",
                        "decisions": decisions})
    appeal = appeal_state(latest, tz)
    return page("status_result.html", lg=lg, campaign=info, registration=found["registration"],
                windows=windows, appeal=appeal, log=svc.log, grounds=GROUNDS, tz=info["timezone"],
                factor_chars=svc.cfg.factor_chars)


def appeal_state(latest: dict[str, Any] | None, tz: ZoneInfo) -> dict[str, Any] | None:
    """``{"until", "open"}`` while the latest absence decision may be appealed, else None."""
    if latest is None:
        return None
    svc = service()
    try:
        policy = svc.policy_by_digest(latest["policy_digest"])
    except NotFound:
        return None
    ends = parse_utc(latest["decided_at"]) + timedelta(
        seconds=policy.appeal_period_s)
    if now() > ends:
        return None
    open_appeal = open_appeal_of(svc.engine, latest["decision"])
    return {"until": ends.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "open": open_appeal is not None}


@bp.post("/appeal")
def appeal() -> Response:
    refused = guard()
    if refused is not None:
        return refused
    lg = lang()
    campaign, registration = field("campaign"), field("registration")
    data = {"registration": registration, "factor": field("factor"),
            "ground": request.form.get("ground", ""),
            "statement": request.form.get("statement", "").strip()}
    try:
        filed = service().file_appeal(campaign, data, now())
    except NotAllowed:
        return form_page(403, error=lg.t("not_match"), registration=registration,
                         campaign=campaign)
    except (BadData, Conflict) as exc:
        key = "conflict" if isinstance(exc, Conflict) else "bad"
        return form_page(409 if isinstance(exc, Conflict) else 400,
                         error=lg.t(key) + str(exc), registration=registration,
                         campaign=campaign)
    return page("status_result.html", lg=lg, filed=filed, campaign=service().campaign(campaign),
                registration=registration, windows=None, appeal=None, log=service().log,
                grounds=GROUNDS, tz="")
