"""Objections (异议) to a public notice: the public form, the objector's lookup, the API.

Public pages (Chinese first, ``?lang=en``), no account: ``/notices/<id>/objections``
shows how many objections a notice received and how they were answered (counts only),
``/notices/<id>/objections/new`` takes an objection by real name during the notice
period (rate-limited per client address, CSRF double-submit like the self-service
forms) and answers with a reference number and a secret; ``/objections/<ref>`` shows
its state to whoever gives both (the secret travels in the POST body, never in a URL).

The JSON API: the same filing and lookup (public, rate-limited), HR entering an
objection received by phone, letter or e-mail, and the handling steps (acknowledge,
invite the candidate's statement, record it, rule), each a ledger entry.  The clock
is read here; the official calendar comes from ``app.extensions["absentia.calendar"]``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from ledger.absence.attachments import (
    MAX_ATTACHMENTS,
    AttachmentRefused,
    AttachmentTooLarge,
    check_attachments,
)
from ledger.app.web import forms
from ledger.app.web.api import body, caller, decoded_attachments, ok, public_limited, roles
from ledger.app.web.forms import Lang, words
from ledger.app.web.limits import APPEAL_FORM_BYTES, APPEAL_JSON_BYTES, body_limit
from ledger.app.web.problems import problem
from ledger.app.web.ratelimit import RateLimiter, SharedRateLimiter, client_key
from ledger.app.web.selfservice import TEXT as ATTACH_TEXT
from ledger.app.web.selfservice import attachment_error, uploaded
from ledger.app.web.services import now, service
from ledger.entry import parse_utc
from ledger.errors import BadData, Conflict, LedgerError, NotFound
from ledger.timetext import as_zone, written
from ledger.workdays import WorkingDay
from publicity import notices as N  # noqa: N812 (the notices module, read as N.notice)
from publicity.calendar import WorkingCalendar

bp = Blueprint("objections", __name__)

TEXT: dict[str, tuple[str, str]] = words("objection.text")
GROUNDS: dict[str, tuple[str, str]] = words("objection.grounds")
STATES: dict[str, tuple[str, str]] = words("objection.states")
RULINGS: dict[str, tuple[str, str]] = words("objection.rulings")
CHANNELS: dict[str, tuple[str, str]] = words("objection.channels")

CSRF_COOKIE = "absentia_objection"
CSRF_FIELD = "form_token"
#: A filing: a 2000-character statement in Chinese is 6 kB of UTF-8, about 18 kB
#: percent-encoded; with the other fields, 32 kB is ample.
FORM_BYTES = 32 * 1024
#: A filing with its attachments, as a multipart form or as JSON (base64): an appeal's
#: limits (up to 3 files of 5 MiB and the fields).
FILING_FORM_BYTES = APPEAL_FORM_BYTES
FILING_JSON_BYTES = APPEAL_JSON_BYTES
#: Objections filed per client address per hour (on top of the public per-minute limit):
#: real-name objections are rare; a flood is not a public's voice.
FILINGS_PER_HOUR = 5
#: Lookups of an objection's state per client address per 15 minutes (the secret has
#: 144 bits, so this limits load, not guessing).
LOOKUPS_PER_15_MIN = 30


def calendar() -> WorkingDay:
    cal: WorkingCalendar = current_app.extensions.get("absentia.calendar", WorkingCalendar())
    return cal.is_working_day


def _limiter(name: str, n: int, per_s: float) -> RateLimiter:
    key = f"absentia.objection_{name}_limiter"
    found: RateLimiter | None = current_app.extensions.get(key)
    if found is None:
        found = current_app.extensions[key] = SharedRateLimiter(
            current_app.extensions["absentia.store"], n, per_s, bucket=f"objection-{name}")
    return found


def filing_limited() -> None:
    """Count a filing against the client's address (per minute and per hour).

    Raises:
        TooManyRequests: over a limit (429).
    """
    public_limited()
    _limiter("filing", FILINGS_PER_HOUR, 3600.0).check(client_key(request.remote_addr or "?"))


def lookup_limited() -> None:
    """Count a state lookup against the client's address.

    Raises:
        TooManyRequests: over the limit (429).
    """
    _limiter("lookup", LOOKUPS_PER_15_MIN, 900.0).check(
        client_key(request.remote_addr or "?"))


def deadline_day(value: str, tz: str, lang: str) -> str:
    """A deadline that ends at 24:00 of a day, written as that day (至…日)."""
    last = parse_utc(value).astimezone(as_zone(tz)) - timedelta(seconds=1)
    if lang == "en":
        return f"{last.day} {last.strftime('%b %Y')}"
    return f"{last.year}年{last.month}月{last.day}日"


# -- public pages -------------------------------------------------------------------


def lang() -> Lang:
    return Lang.of_request(TEXT)


def page(template: str, status: int = 200, **context: Any) -> Response:
    lg = context.pop("lg", None) or lang()
    return forms.public_page(template, lg, CSRF_COOKIE, CSRF_FIELD, status, **context)


def csrf_ok() -> bool:
    return forms.csrf_matches(CSRF_COOKIE, CSRF_FIELD)


def notice_context(notice_id: str, lg: Lang) -> dict[str, Any]:
    """The notice's title, period and state for the pages.

    Raises:
        NotFound: no such notice.
    """
    svc = service()
    record = N.notice(svc, notice_id)
    campaign = svc.campaign(record["campaign"])
    tz = campaign["timezone"]
    moment = now()
    open_ = (parse_utc(record["period_start"]) <= moment < parse_utc(record["period_end"])
             and record.get("superseded_by") is None)
    return {"notice": record, "campaign": campaign, "tz": tz, "open": open_,
            "period_end": deadline_day(record["period_end"], tz, lg.code),
            "counts": svc.objections.counts(notice_id)}


@bp.get("/notices/<notice_id>/objections")
def summary(notice_id: str) -> Response:
    lg = lang()
    return page("objection_summary.html", lg=lg, rulings=RULINGS,
                **notice_context(notice_id, lg))


def _form(notice_id: str, status: int = 200, *, error: str = "", error_field: str = "",
          values: dict[str, str] | None = None) -> Response:
    lg = lang()
    return page("objection_new.html", status, lg=lg, grounds=GROUNDS, error=error,
                error_field=error_field, values=values or {}, max_files=MAX_ATTACHMENTS,
                **notice_context(notice_id, lg))


@bp.get("/notices/<notice_id>/objections/new")
def new(notice_id: str) -> Response:
    return _form(notice_id)


FORM_FIELDS = ("name", "contact", "registration", "line", "ground", "statement")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> Response:
    """A body over the view's limit: on the public form, the form again (empty: nothing
    of the body is read, so neither is its language field; ``?lang=en`` English) saying
    what the limit is, 413; on the API, the problem document.  Nothing is recorded."""
    if request.path.startswith("/api/"):
        return problem("too-large", f"body: larger than the {request.max_content_length} "
                       "bytes this endpoint takes", status=413, field="body")
    lg = Lang("en" if request.args.get("lang") == "en" else "zh", TEXT)
    notice_id = str((request.view_args or {}).get("notice_id", ""))
    try:
        return page("objection_new.html", 413, lg=lg, grounds=GROUNDS,
                    error=lg.t("objattach_body_too_large"), error_field="attachments",
                    values={}, max_files=MAX_ATTACHMENTS, **notice_context(notice_id, lg))
    except NotFound:
        return problem("too-large", "body: too large", status=413, field="body")


@bp.post("/notices/<notice_id>/objections/new")
@body_limit(FILING_FORM_BYTES)
def file_form(notice_id: str) -> Response:
    lg = lang()
    values = {k: request.form.get(k, "") for k in FORM_FIELDS}
    try:
        filing_limited()
    except TooManyRequests as exc:
        wait = exc.retry_after if isinstance(exc.retry_after, int) and exc.retry_after else 60
        resp = _form(notice_id, 429, error=lg.t("rate_limited"), values=values)
        resp.headers["Retry-After"] = str(wait)
        return resp
    if not csrf_ok():
        return _form(notice_id, 400, error=lg.t("csrf"), values=values)
    data = {k: v.strip() for k, v in values.items() if v.strip() or k in (
        "name", "contact", "statement", "ground")}
    files = uploaded()
    try:
        check_attachments([content for _, content in files])
        filed = service().objections.file_objection(
            notice_id, data, now(), calendar(), attachments=[c for _, c in files])
    except AttachmentRefused as exc:
        why = attachment_error(Lang(lg.code, ATTACH_TEXT), exc, [n for n, _ in files])
        status = 413 if isinstance(exc, AttachmentTooLarge) else 400
        return _form(notice_id, status, error=f"{why} {lg.t('objattach_again')}",
                     values=values, error_field="attachments")
    except (BadData, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return _form(notice_id, status, error=field_error(lg, exc), values=values,
                     error_field=exc.field or "")
    ctx = notice_context(notice_id, lg)
    tz = ctx["tz"]
    return page("objection_filed.html", 201, lg=lg, filed=filed, attached=len(files),
                ack_by=deadline_day(filed["ack_by"], tz, lg.code),
                reply_by=deadline_day(filed["reply_by"], tz, lg.code), **ctx)


def field_error(lg: Lang, exc: LedgerError) -> str:
    """What went wrong, in the page's language, naming the field as the form labels it."""
    key = f"error_{exc.field}" if exc.field else ""
    if isinstance(exc, Conflict) and exc.field == "notice":
        return lg.t("error_closed")
    if key in TEXT:
        return lg.t(key)
    return lg.t("error_other") + str(exc)


@bp.get("/objections/<ref>")
def lookup_form(ref: str) -> Response:
    return page("objection_state.html", lg=lang(), ref=ref, state=None, error="")


@bp.post("/objections/<ref>")
@body_limit(1024)
def lookup(ref: str) -> Response:
    lg = lang()
    try:
        lookup_limited()
    except TooManyRequests:
        return page("objection_state.html", 429, lg=lg, ref=ref, state=None,
                    error=lg.t("rate_limited"))
    if not csrf_ok():
        return page("objection_state.html", 400, lg=lg, ref=ref, state=None,
                    error=lg.t("csrf"))
    try:
        state = service().objections.public_state(ref, request.form.get("secret", "").strip())
    except NotFound:
        return page("objection_state.html", 404, lg=lg, ref=ref, state=None,
                    error=lg.t("not_found"))
    ctx = notice_context(state["notice"], lg)
    tz = ctx["tz"]
    shown = {
        "state": lg.of(STATES, state["state"]),
        "ruling": lg.of(RULINGS, state["ruling"]) if state["ruling"] else "",
        "reason": state["ruling_reason"] or "",
        "filed_at": written(state["filed_at"], tz, lg.code, zone=True),
        "ack_by": deadline_day(state["ack_by"], tz, lg.code),
        "reply_by": deadline_day(state["reply_by"], tz, lg.code),
        "acknowledged_at": written(state["acknowledged_at"], tz, lg.code, zone=True)
        if state["acknowledged_at"] else "",
        "ruled_at": written(state["ruled_at"], tz, lg.code, zone=True)
        if state["ruled_at"] else "",
        "ground": lg.of(GROUNDS, state["ground"])}
    return page("objection_state.html", lg=lg, ref=ref, state=shown, error="", **ctx)


# -- JSON API -----------------------------------------------------------------------


@bp.post("/api/v1/notices/<notice_id>/objections")
@body_limit(FILING_JSON_BYTES)
def api_file(notice_id: str) -> Response:
    """File an objection (public, rate-limited): ``{"name", "contact", "ground",
    "statement", "registration"?, "line"?, "attachments"?}``; ``attachments`` is a list
    of up to 3 files, each a string of standard base64 (RFC 4648 §4, padded), checked
    as an appeal's.  201 with the reference and secret."""
    filing_limited()
    data = dict(body())
    files = decoded_attachments(data.pop("attachments", []))
    filed = service().objections.file_objection(notice_id, data, now(), calendar(),
                                                attachments=files)
    return ok(filed | {"url": f"/objections/{filed['objection']}"}, 201)


@bp.post("/api/v1/notices/<notice_id>/objections/received")
@roles("hr")
@body_limit(FILING_JSON_BYTES)
def api_enter(notice_id: str) -> Response:
    """HR enters an objection received by phone, letter or e-mail: the filing's fields
    (with its ``attachments``, as on the public route) and ``"channel"``."""
    data = dict(body())
    channel = data.pop("channel", None)
    if channel not in ("phone", "letter", "email"):
        raise BadData("channel: one of phone, letter, email", field="channel")
    files = decoded_attachments(data.pop("attachments", []))
    return ok(service().objections.file_objection(notice_id, data, now(), calendar(),
                                                  caller=caller(), channel=channel,
                                                  attachments=files), 201)


@bp.get("/api/v1/notices/<notice_id>/objections")
def api_counts(notice_id: str) -> Response:
    """How many objections the notice received and their outcomes (public)."""
    N.notice(service(), notice_id)
    return ok(service().objections.counts(notice_id))


@bp.post("/api/v1/objections/<ref>/state")
@body_limit(1024)
def api_state(ref: str) -> Response:
    """An objection's state for its objector: ``{"secret"}`` (public, rate-limited)."""
    lookup_limited()
    secret = body().get("secret")
    if not isinstance(secret, str):
        raise BadData("secret: the secret given when the objection was filed",
                      field="secret")
    return ok(service().objections.public_state(ref, secret))


@bp.get("/api/v1/campaigns/<campaign>/objections")
@roles("hr", "reviewer", "auditor")
def api_list(campaign: str) -> Response:
    service().campaign(campaign)
    return ok(service().objections.objections(campaign))


@bp.get("/api/v1/objections/<ref>")
@roles("hr", "reviewer", "auditor")
def api_record(ref: str) -> Response:
    return ok(service().objections.objection_record(ref))


@bp.get("/api/v1/objections/<ref>/objector")
@roles("hr", "reviewer")
def api_objector(ref: str) -> Response:
    """The objector's details and statements (personal data: the read is recorded)."""
    return ok(service().objections.objector(caller(), ref, now()))


@bp.post("/api/v1/objections/<ref>/acknowledgement")
@roles("hr", "reviewer")
def api_acknowledge(ref: str) -> Response:
    return ok(service().objections.acknowledge(caller(), ref, now()))


@bp.post("/api/v1/objections/<ref>/statement-invitation")
@roles("hr", "reviewer")
def api_invite(ref: str) -> Response:
    data = body() if request.content_length else {}
    return ok(service().objections.invite_statement(caller(), ref, data, now(), calendar()))


@bp.post("/api/v1/objections/<ref>/statement")
@roles("hr", "reviewer")
@body_limit(FORM_BYTES)
def api_statement(ref: str) -> Response:
    return ok(service().objections.record_statement(caller(), ref, body(), now()))


@bp.post("/api/v1/objections/<ref>/ruling")
@roles("reviewer")
def api_rule(ref: str) -> Response:
    return ok(service().objections.rule(caller(), ref, body(), now()))


@bp.post("/api/v1/objections/<ref>/objector-erasure")
@roles("hr")
def api_erase(ref: str) -> Response:
    """Destroy the objector's sealed record: ``{"reason": "retention_expired"|"request"}``."""
    reason = body().get("reason")
    return ok(service().objections.erase_objector(caller(), ref, str(reason), now()))

