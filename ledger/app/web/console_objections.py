"""The HR console's objection pages (异议): a campaign's list, HR entering an objection
received by phone, letter or e-mail, and one objection's page with its steps
(acknowledge, tell the candidate and invite their statement, record it, rule with a
reason; a cancel needs the confirmation tick).

Every page goes through ``console.signed_in`` (sign-in, role, CSRF on POST) and every
command through ``service().objections`` with ``console.actor()``.  A POST that
succeeds answers 303 to the objection's page; a ``LedgerError`` shows the page again
with the error, at the status the API would answer.  The objector's details are on a
page of their own, whose every view records ``pii.viewed``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ledger.app.web import console
from ledger.app.web.console import actor, session
from ledger.app.web.console_hr import _local_time
from ledger.app.web.console_hr_attachments import attachment_response
from ledger.app.web.console_hr_text import ALL_TEXT
from ledger.app.web.forms import Lang
from ledger.app.web.objections import CHANNELS, GROUNDS, RULINGS, STATES, TEXT, calendar
from ledger.app.web.objections import deadline_day as _day
from ledger.app.web.services import now, service
from ledger.errors import BadData, Conflict, CouldNotCheck, LedgerError, NotAllowed, NotFound
from ledger.timetext import written

bp = Blueprint("console_objections", __name__, url_prefix="/console")

_TEXT = {**ALL_TEXT, **TEXT}
ENTER_FIELDS = ("notice", "channel", "received_at", "name", "contact", "registration",
                "line", "ground", "statement")


def lang() -> Lang:
    return Lang.of_request(_TEXT)


def _status(exc: LedgerError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | CouldNotCheck):
        return 409
    if isinstance(exc, NotAllowed):
        return 403
    return 400


def _page(template: str, status: int = 200, *, exc: LedgerError | None = None,
          **context: Any) -> Response:
    lg = lang()
    error = ""
    if exc is not None:
        error = str(exc) + (f" ({lg.t('error_field')}{exc.field})" if exc.field else "")
    flash = lg.t("saved") if request.args.get("done") and status == 200 else ""
    return console._page(template, status, csrf=session().csrf, lg=lg, session=session(),
                         roles=console.ROLES, error=error, flash=flash, grounds=GROUNDS,
                         states=STATES, rulings=RULINGS, channels=CHANNELS, **context)


def _redirect(path: str) -> Response:
    resp = Response(status=303)
    resp.headers["Location"] = path + ("?done=1&lang=en" if lang().code == "en" else "?done=1")
    return resp


def _f(name: str, limit: int = 2000) -> str:
    return request.form.get(name, "").strip()[:limit]


def _shown(o: dict[str, Any], tz: str, lg: Lang) -> dict[str, Any]:
    def w(v: str | None) -> str:
        return written(v, tz, lg.code, zone=True) if v else ""
    return o | {"filed_local": w(o["filed_at"]), "ack_day": _day(o["ack_by"], tz, lg.code),
                "reply_day": _day(o["reply_by"], tz, lg.code),
                "respond_day": _day(o["respond_by"], tz, lg.code) if o["respond_by"] else "",
                "acknowledged_local": w(o["acknowledged_at"]),
                "statement_local": w(o["statement_at"]), "ruled_local": w(o["ruled_at"])}


# -- the campaign's list, and entering an objection --------------------------------


def _list_page(campaign: str, status: int = 200, exc: LedgerError | None = None,
               values: dict[str, str] | None = None) -> Response:
    svc = service()
    lg = lang()
    try:
        c = svc.campaign(campaign)
    except LedgerError as e:
        return _page("console_hr_error.html", _status(e), exc=e)
    items = [_shown(o, c["timezone"], lg) for o in svc.objections.objections(campaign)]
    notices = [n | {"end_day": _day(n["period_end"], c["timezone"], lg.code)}
               for n in svc.objections.open_notices(campaign, now())]
    return _page("console_objections.html", status, exc=exc, c=c, items=items,
                 notices=notices, values=values or {})


@bp.get("/campaigns/<campaign>/objections")
@console.signed_in("hr", "reviewer")
def objection_list(campaign: str) -> Response:
    return _list_page(campaign)


@bp.post("/campaigns/<campaign>/objections")
@console.signed_in("hr")
def enter(campaign: str) -> Response:
    values = {k: _f(k) for k in ENTER_FIELDS}
    data = {k: values[k] for k in ("name", "contact", "ground", "statement")}
    data |= {k: values[k] for k in ("registration", "line") if values[k]}
    try:
        channel = values["channel"]
        if channel not in ("phone", "letter", "email"):
            raise BadData("channel: choose phone, letter or e-mail", field="channel")
        if values["received_at"]:  # the campaign's wall clock, as typed
            data["received_at"] = _local_time(values["received_at"],
                                              service().campaign(campaign)["timezone"],
                                              "received_at")
        filed = service().objections.file_objection(
            values["notice"], data, now(), calendar(), caller=actor(), channel=channel)
    except LedgerError as exc:
        return _list_page(campaign, _status(exc), exc, values)
    return _redirect(f"/console/objections/{filed['objection']}")


# -- one objection ----------------------------------------------------------------


def _objection_page(ref: str, status: int = 200, exc: LedgerError | None = None
                    ) -> Response:
    svc = service()
    lg = lang()
    try:
        o = svc.objections.objection_record(ref)
        c = svc.campaign(o["campaign"])
    except LedgerError as e:
        return _page("console_hr_error.html", _status(e), exc=e)
    return _page("console_objection.html", status, exc=exc, c=c,
                 o=_shown(o, c["timezone"], lg), role=session().role,
                 attachments=svc.objections.attachments(ref))


@bp.get("/objections/<ref>")
@console.signed_in("hr", "reviewer")
def objection_page(ref: str) -> Response:
    return _objection_page(ref)


@bp.get("/objections/<ref>/objector")
@console.signed_in("hr", "reviewer")
def objector_page(ref: str) -> Response:
    svc = service()
    try:
        o = svc.objections.objection_record(ref)
        c = svc.campaign(o["campaign"])
        who = svc.objections.objector(actor(), ref, now())  # records pii.viewed
    except LedgerError as e:
        return _page("console_hr_error.html", _status(e), exc=e)
    return _page("console_objector.html", c=c, o=o, who=who)


@bp.get("/objections/<ref>/attachments/<int:position>")
@console.signed_in("hr", "reviewer")
def objection_attachment(ref: str, position: int) -> Response:
    """One attachment's bytes: the read is recorded (``pii.viewed``, purpose
    ``objection``) before they are sent, under the appeal attachment view's headers."""
    try:
        f = service().objections.attachment(actor(), ref, position, now())
    except LedgerError as e:
        return _page("console_hr_error.html", _status(e), exc=e)
    return attachment_response(f, f"objection-{position}")


def _step(ref: str, do: Any) -> Response:
    try:
        do()
    except LedgerError as exc:
        return _objection_page(ref, _status(exc), exc)
    return _redirect(f"/console/objections/{ref}")


@bp.post("/objections/<ref>/acknowledgement")
@console.signed_in("hr", "reviewer")
def acknowledge(ref: str) -> Response:
    return _step(ref, lambda: service().objections.acknowledge(actor(), ref, now()))


@bp.post("/objections/<ref>/invitation")
@console.signed_in("hr", "reviewer")
def invite(ref: str) -> Response:
    data = {"registration": _f("registration", 64)} if _f("registration", 64) else {}
    return _step(ref, lambda: service().objections.invite_statement(
        actor(), ref, data, now(), calendar()))


@bp.post("/objections/<ref>/statement")
@console.signed_in("hr", "reviewer")
def statement(ref: str) -> Response:
    data = {"statement": _f("statement"), "channel": _f("channel", 16)}
    return _step(ref, lambda: service().objections.record_statement(actor(), ref, data,
                                                                     now()))


@bp.post("/objections/<ref>/ruling")
@console.signed_in("reviewer")
def rule(ref: str) -> Response:
    data: dict[str, Any] = {"ruling": _f("ruling", 16), "reason": _f("reason", 400)}
    if request.form.get("confirm") == "1":
        data["confirm"] = True
    return _step(ref, lambda: service().objections.rule(actor(), ref, data, now()))
