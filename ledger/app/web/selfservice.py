"""Candidate self-service pages: check one's own result, and appeal, without an account.

Server-rendered, Chinese by default (``?lang=en`` or the language link for English),
readable on a phone, WCAG 2.1 AA (every input labelled, ``lang`` attributes, the site's
contrast and focus styles).  A candidate proves who they are with the registration number
and the last characters of their ID number, as in the JSON API
(``/api/v1/campaigns/<c>/status``): the same ``AbsenceService`` calls, the same rate
limits (per client address and per registration number), and the same answer for a
wrong factor as for an unknown registration.  A malformed registration number or factor
(the factor is digits and a final digit or X) is a 400 saying what to type.

An appeal may carry up to 3 files (multipart, ``attachments``; the route's body limit
is ``APPEAL_FORM_BYTES``): a refused file re-renders the result page with the appeal
form, the error naming the field and the file (the name the browser sent, shown only
back to the candidate, never stored), and the ground and statement kept; a body over
the limit is a 413 status form.

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

import math
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from ledger.absence.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    AttachmentRefused,
    AttachmentTooLarge,
    check_attachments,
)
from ledger.absence.queries.selfservice import open_appeal_of, statement_invitations_of
from ledger.app.web import forms
from ledger.app.web.api import lookup_limited, public_limited
from ledger.app.web.candidate_words import read
from ledger.app.web.forms import Lang, words
from ledger.app.web.guards import checked_first
from ledger.app.web.limits import APPEAL_FORM_BYTES, PUBLIC_FORM_BYTES, body_limit
from ledger.app.web.services import now, service
from ledger.entry import parse_utc
from ledger.errors import BadData, Conflict, NotAllowed, NotFound
from ledger.timetext import as_zone, written, written_date, zone_label
from publicity.calendar import WorkingCalendar
from publicity.errors import CalendarUnknown

bp = Blueprint("selfservice", __name__)

CSRF_COOKIE = "absentia_form"
CSRF_FIELD = "form_token"
MAX_FIELD = 64  # registration numbers, factors, campaign ids are short

#: Working days (on the official calendar, 调休 included) within which an appeal is
#: normally answered: the documented rule is a reply within 10 working days (docs:
#: /work/shared/domain.md, "reply within 10").  The policies hold no answer period (their
#: ``appeal_period_s`` is the time to file one), so this one rule serves every campaign.
APPEAL_ANSWER_DAYS = 10

#: The statement form's body limit: 2000 characters of up to 4 UTF-8 bytes each,
#: percent-encoded (3 characters a byte), and the short fields.
STATEMENT_FORM_BYTES = 2000 * 4 * 3 + PUBLIC_FORM_BYTES

#: Interface text: key -> (Chinese, English).
TEXT: dict[str, tuple[str, str]] = words("selfservice.text")
GROUNDS: dict[str, tuple[str, str]] = words("selfservice.grounds")
CAUSES: dict[str, tuple[str, str]] = words("selfservice.causes")
KINDS: dict[str, tuple[str, str]] = words("selfservice.kinds")
ACCOMMODATIONS: dict[str, tuple[str, str]] = words("selfservice.accommodations")
#: The candidate's own statement on an objection (陈述、申辩): words_statement.toml.
STATEMENT_TEXT: dict[str, tuple[str, str]] = words("statement.text")
OBJECTION_GROUNDS: dict[str, tuple[str, str]] = words("objection.grounds")


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
    return forms.csrf_matches(CSRF_COOKIE, CSRF_FIELD)


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a page with the form token (set as cookie), no caching."""
    lg = context.pop("lg", None) or lang()
    return forms.public_page(template, lg, CSRF_COOKIE, CSRF_FIELD, status, **context)


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


def retry_text(lg: Lang, campaign: str, wait_s: int) -> str:
    """When a rate-limited candidate may try again: the wall-clock time (the campaign's
    zone, Beijing time for an unknown campaign) ``wait_s`` seconds from now, rounded up
    to the minute, and the minutes until then."""
    try:
        tz = str(service().campaign(campaign)["timezone"])
    except (NotFound, BadData):
        tz = "Asia/Shanghai"
    after = now() + timedelta(seconds=wait_s)
    if after.second or after.microsecond:
        after = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock = after.astimezone(ZoneInfo(tz)).strftime("%H:%M")
    return lg.t("rate_until", time=clock, zone=zone_label(tz, lg.code),
                minutes=max(1, math.ceil(wait_s / 60)))


def guard() -> Response | None:
    """Rate limits (per address, then per registration number: the JSON API's), then
    the CSRF check; a refusal page, or None to go on."""
    lg = lang()
    registration = field("registration")
    try:
        public_limited()  # the JSON API's limiter (app.extensions["absentia.rate_limiter"])
        lookup_limited(field("campaign"), registration)
    except TooManyRequests as exc:
        wait = exc.retry_after if isinstance(exc.retry_after, int) and exc.retry_after else 60
        resp = form_page(429, error=retry_text(lg, field("campaign"), wait),
                         registration=registration)
        resp.headers["Retry-After"] = str(wait)
        return resp
    except BadData as exc:
        return form_page(400, error=lg.t("bad") + str(exc), registration=registration)
    if not csrf_ok():
        return form_page(400, error=lg.t("csrf"))
    return None


#: A self-service POST: the rate limits and the CSRF check (``guard``) come first.
guarded = checked_first(guard)


def refusal(exc: NotAllowed | BadData | Conflict, campaign: str, registration: str
            ) -> Response:
    """The form again, with what was typed: a factor that does not match (or an unknown
    registration) is 403, the same words either way; bad data 400; a conflict 409."""
    lg = lang()
    if isinstance(exc, NotAllowed):
        status, error = 403, lg.t("not_match")
    elif isinstance(exc, Conflict):
        status, error = 409, lg.t("conflict") + str(exc)
    else:
        status, error = 400, lg.t("bad") + str(exc)
    return form_page(status, error=error, registration=registration, campaign=campaign)


@bp.post("/status")
@body_limit(PUBLIC_FORM_BYTES)
@guarded
def status_lookup() -> Response:
    campaign, registration = field("campaign"), field("registration")
    try:
        found = service().status(campaign, registration, field("factor"))
    except (NotAllowed, BadData) as exc:
        return refusal(exc, campaign, registration)
    return result_page(campaign, found, lang())


def appeal_period(policy_digest: str) -> int | None:
    """The appeal period of the policy ``policy_digest`` (None if it is not known)."""
    try:
        return service().policy_by_digest(policy_digest).appeal_period_s
    except NotFound:
        return None


def result_page(campaign: str, found: dict[str, Any], lg: Lang, *, error: str = "",
                typed: dict[str, str] | None = None,
                statement_error: dict[str, str] | None = None) -> Response:
    svc = service()
    info = svc.campaign(campaign)
    tz = ZoneInfo(info["timezone"])
    windows = []
    latest: dict[str, Any] | None = None
    for w in found["windows"]:
        decisions = []
        for d in w["decisions"]:
            reading = read(d, lg, info["timezone"], appeal_period(d["policy_digest"]))
            decisions.append({
                "status": reading.status, "text": reading.text, "who": reading.who,
                "review_reason": d.get("review_reason") or "",
                "cause": lg.of(CAUSES, d["cause"]),
                "decided_at": written(d["decided_at"], tz, lg.code, zone=True),
                "current": reading.current, "index": d["ledger_index"]})
            if d["superseded_by"] is None and d["outcome"] != "attended" and (
                    latest is None or d["ledger_index"] > latest["ledger_index"]):
                latest = d
        decisions.sort(key=lambda x: (not x["current"], -int(x["index"])))
        windows.append({"kind": lg.of(KINDS, w["kind"]),
                        "opens": written(w["opens_at"], tz, lg.code, zone=True),
                        "closes": written(w["closes_at"], tz, lg.code, zone=True),
                        "accommodation": lg.of(ACCOMMODATIONS, w["accommodation"])
                        if w["accommodation"] else "",
                        "decisions": decisions})
    appeal = appeal_state(latest, tz)
    return page("status_result.html", lg=lg, campaign=info, registration=found["registration"],
                windows=windows, appeal=appeal, log=svc.log, grounds=GROUNDS, tz=info["timezone"],
                factor_chars=svc.cfg.factor_chars, error=error, typed=typed or {},
                max_files=MAX_ATTACHMENTS,
                invitations=invitations(campaign, found["registration"], tz, lg,
                                        statement_error),
                statement_alert=(statement_error or {}).get("error", "")
                if statement_error and not statement_error.get("objection") else "",
                sw=Lang(lg.code, STATEMENT_TEXT))


def invitations(campaign: str, registration: str, tz: ZoneInfo, lg: Lang,
                error: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The candidate's unanswered invitations to state their case, as the page shows
    them: the grounds category in words, the last day (a date at the campaign's wall
    clock: ``respond_by`` is 24:00 of it), whether it is still open, and the error and
    text of a refused submission of that objection (``error``: objection, error,
    statement)."""
    sw = Lang(lg.code, STATEMENT_TEXT)
    zone = zone_label(tz, lg.code)
    out = []
    for inv in statement_invitations_of(service().engine, campaign, registration):
        ends = parse_utc(inv.respond_by)
        day = written_date((ends.astimezone(tz) - timedelta(microseconds=1)).date(), lg.code)
        is_open = now() < ends
        mine = error if error and error.get("objection") == inv.objection else {}
        out.append({
            "objection": inv.objection, "open": is_open,
            "intro": sw.t("statement_intro", ground=lg.of(OBJECTION_GROUNDS, inv.ground)),
            "until": sw.t("statement_until" if is_open else "statement_passed",
                          until=day, zone=zone),
            "error": mine.get("error", ""), "typed": mine.get("statement", "")})
    return out


def appeal_again(exc: AttachmentRefused, campaign: str, data: dict[str, str], error: str
                 ) -> Response:
    """The result page again with its appeal form, the refusal of a file and what the
    candidate typed (ground, statement); files must be chosen again (a browser never
    refills a file input).  413 for a file too large, else 400.  A registration and
    factor that do not match get the status form's refusal instead."""
    try:
        found = service().status(campaign, data["registration"], data["factor"])
    except (NotAllowed, BadData) as other:
        return refusal(other, campaign, data["registration"])
    status = 413 if isinstance(exc, AttachmentTooLarge) else 400
    resp = result_page(campaign, found, lang(), error=error, typed=data)
    resp.status_code = status
    return resp


def answer_day(filed: datetime, tz: str | tzinfo, calendar: WorkingCalendar,
               days: int = APPEAL_ANSWER_DAYS) -> date:
    """The day by which an appeal filed at ``filed`` is normally answered: the ``days``-th
    working day of the official calendar after the day of filing at ``tz``'s wall clock.

    Raises:
        CalendarUnknown: the official calendar of a year on the way is not known.
        zoneinfo.ZoneInfoNotFoundError: an unknown zone name.
    """
    return calendar.add_working_days(filed.astimezone(as_zone(tz)).date(), days)


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
    return {"until": written(ends, tz, lang().code, zone=True),
            "open": open_appeal is not None}


def uploaded() -> list[tuple[str, bytes]]:
    """The files of the appeal form's ``attachments`` input: (name as sent, bytes), in
    order; the empty part a browser sends when no file was chosen is skipped.  Reads at
    most one byte past the size limit of each (enough to refuse it), and none past the
    number allowed."""
    parts = [f for f in request.files.getlist("attachments") if f.filename]
    out = []
    for f in parts[:MAX_ATTACHMENTS + 1]:
        out.append((f.filename or "", f.stream.read(MAX_ATTACHMENT_BYTES + 1)))
    return out


def attachment_error(lg: Lang, exc: AttachmentRefused, names: list[str]) -> str:
    """The refusal of one attachment in the page's words: the field, the file (its name
    as the candidate's browser sent it, shown only to them) and why."""
    name = names[exc.position - 1] if exc.position <= len(names) else ""
    return lg.t("attach_error", field=lg.t("attach_label"), position=exc.position,
                name=name or "—", why=lg.t("attach_" + exc.reason))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> Response:
    """A body over the view's limit (the appeal's files together, or any form): the
    status form saying what the limit is, 413.  Nothing of the body is read, so neither
    is its language field: the page is Chinese (``?lang=en`` English) and the message
    says it in both languages."""
    lg = Lang("en" if request.args.get("lang") == "en" else "zh", TEXT)
    zh, en = TEXT["attach_body_too_large"]
    return page("status.html", 413, lg=lg, campaigns=campaign_choices(),
                chosen=request.args.get("campaign", ""), registration="",
                error=f"{zh} / {en}" if lg.code == "zh" else en,
                factor_chars=service().cfg.factor_chars)


@bp.post("/appeal")
@body_limit(APPEAL_FORM_BYTES)
@guarded
def appeal() -> Response:
    lg = lang()
    campaign, registration = field("campaign"), field("registration")
    data = {"registration": registration, "factor": field("factor"),
            "ground": request.form.get("ground", ""),
            "statement": request.form.get("statement", "").strip()}
    files = uploaded()
    names = [name for name, _ in files]
    try:
        check_attachments([content for _, content in files])
        filed = service().file_appeal(campaign, data, now(),
                                      attachments=[content for _, content in files])
    except AttachmentRefused as exc:
        return appeal_again(exc, campaign, data, attachment_error(lg, exc, names))
    except (NotAllowed, BadData, Conflict) as exc:
        return refusal(exc, campaign, registration)
    info = service().campaign(campaign)
    cal: WorkingCalendar = current_app.extensions.get("absentia.calendar", WorkingCalendar())
    try:
        answer_by = written_date(answer_day(now(), info["timezone"], cal), lg.code)
    except CalendarUnknown:
        answer_by = ""  # the page then names the period without a date, never a guess
    return page("status_result.html", lg=lg, filed=filed, campaign=info, answer_by=answer_by,
                attached=len(files),
                registration=registration, windows=None, appeal=None, log=service().log,
                grounds=GROUNDS, tz="")


@bp.post("/statement")
@body_limit(STATEMENT_FORM_BYTES)
@guarded
def statement() -> Response:
    """The candidate states their case on an objection (``Objections.record_statement``
    through ``AbsenceService.state_case``, channel ``web``): a confirmation saying what
    happens next; a refused statement re-renders the result page with the error at the
    form (400 bad text, 404 no such invitation, 409 closed) and the text kept; a factor
    that does not match is the status form's 403."""
    lg = lang()
    sw = Lang(lg.code, STATEMENT_TEXT)
    campaign, registration = field("campaign"), field("registration")
    objection = field("objection")
    text = request.form.get("statement", "").strip()
    data = {"registration": registration, "factor": field("factor"),
            "objection": objection, "statement": text}
    try:
        done = service().state_case(campaign, data, now())
    except NotAllowed as exc:
        return refusal(exc, campaign, registration)
    except (BadData, NotFound, Conflict) as exc:
        if isinstance(exc, BadData) and exc.field in ("registration", "factor"):
            return refusal(exc, campaign, registration)
        try:
            found = service().status(campaign, registration, field("factor"))
        except (NotAllowed, BadData) as other:
            return refusal(other, campaign, registration)
        at_form = isinstance(exc, BadData) and exc.field == "statement"
        key, status = (("statement_error_text", 400) if at_form
                       else ("statement_error_unknown", 400) if isinstance(exc, BadData)
                       else ("statement_error_unknown", 404) if isinstance(exc, NotFound)
                       else ("statement_error_closed", 409))
        # Bad text: at the form, the text kept.  Otherwise the form is gone from the
        # page (or never was): the page says why at its top.
        resp = result_page(campaign, found, lg, statement_error={
            "objection": objection if at_form else "",
            "error": sw.t(key), "statement": text})
        resp.status_code = status
        return resp
    info = service().campaign(campaign)
    return page("status_result.html", lg=lg, stated=done, campaign=info,
                registration=registration, windows=None, appeal=None, log=service().log,
                grounds=GROUNDS, tz="", sw=sw, invitations=[])
