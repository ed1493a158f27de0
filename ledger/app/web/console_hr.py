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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from markupsafe import Markup, escape

from ledger.absence.imports import MAX_IMPORT_BYTES
from ledger.absence.queries import activity as A  # noqa: N812 (the queries, read as A.latest)
from ledger.absence.queries.console import Report, campaign_reports
from ledger.absence.queries.lists import ListFilter, candidate_list, decision_list, window_list
from ledger.app.web import console
from ledger.app.web.activity_text import REVIEW_STATES, REVIEWS, review_of, why_of_code
from ledger.app.web.console import actor, session
from ledger.app.web.console_hr_import import file_message, header_table, shown, template_csv
from ledger.app.web.console_hr_notice import missing_notice_setting, setting_problem, settings_form
from ledger.app.web.console_hr_reviews import review_cards
from ledger.app.web.console_hr_text import ALL_TEXT, CAUSES, OUTCOMES, REASONS
from ledger.app.web.console_slots_text import backup_choices, slot_problem
from ledger.app.web.forms import Lang, words
from ledger.app.web.limits import FORM_OVERHEAD_BYTES, body_limit
from ledger.app.web.services import now, service
from ledger.config import PublicitySettings
from ledger.entry import parse_utc
from ledger.errors import (
    BadData,
    Conflict,
    CouldNotCheck,
    LedgerError,
    NotAllowed,
    NotFound,
    Unprocessable,
)
from ledger.timetext import written
from publicity import jobs as report_jobs
from publicity import notices as N  # noqa: N812 (the notices module, read as N.publish)
from publicity.calendar import WorkingCalendar
from publicity.jobs import JobLimits, JobRefused, ReportJob
from publicity.notice_diff import correction
from publicity.report import spawn_generate

bp = Blueprint("console_hr", __name__, url_prefix="/console")

PREVIEW = 20  # decisions shown on a campaign's page; the rest are in its lists
SOON = timedelta(hours=24)
BAR_FILL = "#1a5fb4"
PREVIEW_CSP = "default-src 'self'; frame-ancestors 'self'; form-action 'none'; sandbox"

DONE = {"reviewed", "makeup", "mass", "accommodation", "ruled", "imported", "published",
        "started", "created", "scheduled", "slot", "slot_withdrawn", "notice_settings"}


def lang() -> Lang:
    return Lang.of_request(ALL_TEXT)



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
          error: str = "", **context: Any) -> Response:
    lg = lang()
    if exc is not None and not error:
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


class _ErrorPage(Exception):
    """A ``LedgerError`` that ends the view with the error page (``_or_error_page``)."""

    def __init__(self, exc: LedgerError) -> None:
        super().__init__(str(exc))
        self.exc = exc


@contextmanager
def _or_error_page() -> Iterator[None]:
    """A ``LedgerError`` inside (an unknown campaign, window, decision…) ends the view
    with the error page, at the error's status.

    Raises:
        _ErrorPage: for the blueprint's handler, which answers with that page.
    """
    try:
        yield
    except LedgerError as exc:
        raise _ErrorPage(exc) from exc


def _campaign(campaign: str) -> dict[str, Any]:
    """The campaign a page is about; an unknown one ends the view with the error page.

    Raises:
        _ErrorPage: no such campaign.
    """
    with _or_error_page():
        return service().campaign(campaign)


@bp.errorhandler(_ErrorPage)
def _show_error_page(shown: _ErrorPage) -> Response:
    return _error_page(shown.exc)


def _get(path: str, *roles: str, endpoint: str | None = None
         ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a console page for GET at ``path`` for ``roles`` (``signed_in``), and keep
    the page function itself: a form's POST (``_form_post``) shows it again on a refusal.
    ``endpoint`` is the function's name unless given."""

    def register(page: Callable[..., Response]) -> Callable[..., Response]:
        bp.add_url_rule(path, endpoint or page.__name__, signed_in(*roles)(page))
        return page

    return register


def _form_post(path: str, form_page: Callable[..., Response], *roles: str
               ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """A form's POST handler at ``path`` for ``roles`` (``signed_in``): a ``LedgerError``
    it raises shows ``form_page`` again, with the error (``_refused_to``)."""

    def register(fn: Callable[..., Response]) -> Callable[..., Response]:
        view = signed_in(*roles)(_refused_to(form_page)(fn))
        bp.add_url_rule(path, fn.__name__, view, methods=["POST"])
        return view

    return register


def _refused_to(form_page: Callable[..., Response]
                ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """A form's POST handler: a ``LedgerError`` it raises shows ``form_page`` again (given
    the route's argument, the error's status and the error), with the error on it."""

    def wrap(fn: Callable[..., Response]) -> Callable[..., Response]:
        @wraps(fn)
        def inner(**view_args: str) -> Response:
            try:
                return fn(**view_args)
            except LedgerError as exc:
                return form_page(*view_args.values(), _status(exc), exc)

        return inner

    return wrap


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
    return console.headers(resp, opener_isolated=False)


def _f(name: str, limit: int = 2000) -> str:
    return request.form.get(name, "").strip()[:limit]


def _confirmed() -> None:
    """An irreversible action's form: its confirmation box must be ticked.

    Raises:
        BadData: it is not (field ``confirm``).
    """
    if request.form.get("confirm") != "yes":
        raise BadData("confirm: tick the box to confirm this irreversible action",
                      field="confirm")


def _reason() -> str:
    """A ruling form's reason (required, at most 200 characters).

    Raises:
        BadData: it is blank (field ``reason``).
    """
    reason = _f("reason")
    if not reason:
        raise BadData("reason: give the reason for this ruling", field="reason")
    return reason


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


def _makeup_times(tz: str) -> dict[str, str]:
    """A make-up form's ``opens_at`` and ``closes_at``, read in the campaign's zone.

    Raises:
        BadData: either is not a date and time.
    """
    return {name: _local_time(_f(name), tz, name) for name in ("opens_at", "closes_at")}


def _seat_or_times(tz: str) -> dict[str, Any]:
    """A make-up form's choice: ``{"backup_slot"}`` when a backup slot is chosen (the
    times typed beside it are not used), else the typed times (``_makeup_times``); ``*``
    (the mass make-up's choice) fills the backup slots in order.

    Raises:
        BadData: no slot chosen and the times are not dates and times.
    """
    chosen = _f("backup_slot", 200)
    if chosen == "*":
        return {"use_backup_slots": True}
    if chosen:
        return {"backup_slot": chosen}
    return _makeup_times(tz)


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


@_get("/campaigns", "hr", "reviewer")
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


@_get("/campaigns/<campaign>", "hr", "reviewer")
def campaign_detail(campaign: str) -> Response:
    """Counts and links to the campaign's lists (``console_hr_lists``), the first
    decisions in the lists' order, and the quarantined events."""
    svc = service()
    c = _campaign(campaign)
    everything = ListFilter()
    tz = c["timezone"]
    first = decision_list(svc.engine, campaign, everything, tz, size=PREVIEW)
    return _page("console_hr_campaign.html", c=c, decisions=first.rows,
                 counts={"decisions": first.total,
                         "candidates": candidate_list(svc.engine, campaign, everything, tz,
                                                      size=1).total,
                         "windows": window_list(svc.engine, campaign, everything, tz,
                                                size=1).total},
                 review_states=words("console_hr.review_states"),
                 quarantined=svc.quarantined(campaign, limit=100), log=svc.log,
                 stats=svc.statistics(campaign))


@_get("/decisions/<decision>", "hr", "reviewer")
def decision_page(decision: str) -> Response:
    svc = service()
    with _or_error_page():
        d = svc.decision(decision)
    tz, lg = _tz_of(d["campaign"]), lang()
    ruling = A.latest(svc.engine, decision, REVIEWS)
    if ruling is None and d["basis"] == "appeal" and d["supersedes"]:
        # Made by an appeal's ruling on the decision it supersedes.
        ruling = A.latest(svc.engine, d["supersedes"], ("appeal.ruled",))
    reviewed = review_of(ruling, tz, lg)
    return _page("console_hr_decision.html", d=d, log=svc.log, reviewed=reviewed,
                 decided_local=written(d["decided_at"], tz, lg.code, zone=True),
                 review_words=lg.of(REVIEW_STATES, d["review"]),
                 reason_words=why_of_code(d["reason"], lg))


# -- windows and accommodations -------------------------------------------------------


@_get("/windows/<window>", "hr", "reviewer", endpoint="window_page")
def _window_page(window: str, status: int = 200, exc: LedgerError | None = None
                 ) -> Response:
    with _or_error_page():
        w = service().window(window)
    tz = _tz_of(w["campaign"])
    return _page("console_hr_window.html", status, exc=exc, error=slot_problem(exc, lang()), w=w,
                 tz=tz, backup_choices=backup_choices(service(), w["campaign"], tz, lang(),
                                                      now()),
                 opens_local=_local(w["opens_at"], tz), closes_local=_local(w["closes_at"], tz),
                 closes_value=_input_value(w["closes_at"], tz),
                 open_for_change=w["decision"] is None
                 and parse_utc(w["closes_at"]) > now())


@_form_post("/windows/<window>/accommodation", _window_page, "hr")
def accommodation(window: str) -> Response:
    svc = service()
    w = svc.window(window)
    tz = _tz_of(w["campaign"])
    data = {"kind": _f("kind"), "reason": _f("reason", 100)}
    if _f("backup_slot"):  # the slot's times, not the ones typed
        data["backup_slot"] = _f("backup_slot", 200)
    else:
        data["closes_at"] = _local_time(_f("closes_at"), tz, "closes_at")
        if data["kind"] == "alternate_slot" and _f("opens_at"):
            data["opens_at"] = _local_time(_f("opens_at"), tz, "opens_at")
    if not data["reason"]:
        raise BadData("reason: required", field="reason")
    svc.grant_accommodation(actor(), window, data, now())
    return _redirect(f"/console/windows/{window}", done="accommodation")


# -- reviews --------------------------------------------------------------------------


@_get("/campaigns/<campaign>/reviews", "reviewer", endpoint="reviews")
def _reviews_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                  ) -> Response:
    svc = service()
    c = _campaign(campaign)
    pending = review_cards(svc, svc.decisions(campaign, pending_review=True, limit=500),
                           c["timezone"], lang())
    outages = [a for a in svc.alerts(campaign)
               if a["status"] == "open" and a["kind"] == "platform_outage"]
    return _page("console_hr_reviews.html", status, exc=exc, error=slot_problem(exc, lang()), c=c,
                 pending=pending, outages=outages,
                 backup_choices=backup_choices(svc, campaign, c["timezone"], lang(), now()),
                 **_makeup_defaults(c["timezone"]))


@_form_post("/campaigns/<campaign>/reviews", _reviews_page, "reviewer")
def review(campaign: str) -> Response:
    svc = service()
    tz = _tz_of(campaign)
    decision = _f("decision", 200)
    d = svc.decision(decision)
    if d["campaign"] != campaign:
        raise NotFound(f"no decision {decision!r} in {campaign}", field="decision")
    ruling = _f("ruling")
    data: dict[str, Any] = {"ruling": ruling}
    if ruling == "confirmed":  # irreversible: a confirmed forfeiture
        _confirmed()
        data["reason"] = _reason()
    elif _f("reason"):
        data["reason"] = _f("reason")
    if ruling == "makeup_granted":
        data |= _seat_or_times(tz)
    svc.review(actor(), decision, data, now())
    return _redirect(f"/console/campaigns/{campaign}/reviews",
                     done="makeup" if ruling == "makeup_granted" else "reviewed")


@_form_post("/campaigns/<campaign>/alerts", _reviews_page, "reviewer")
def mass_makeup(campaign: str) -> Response:
    svc = service()
    tz = _tz_of(campaign)
    alert = _f("alert", 300)
    if not any(a["alert"] == alert for a in svc.alerts(campaign)):
        raise NotFound(f"no alert {alert!r} in {campaign}", field="alert")
    _confirmed()
    done = svc.resolve_alert(actor(), alert, {"action": "mass_makeup", **_seat_or_times(tz)},
                             now())
    return _redirect(f"/console/campaigns/{campaign}/reviews", done="mass",
                     n=int(done["makeups"] or 0))


# -- appeals --------------------------------------------------------------------------


@_get("/campaigns/<campaign>/appeals", "reviewer")
def appeals(campaign: str) -> Response:
    svc = service()
    c = _campaign(campaign)
    every = svc.appeals(campaign)
    for a in every:
        a["filed_local"] = _local(a["filed_at"], c["timezone"])
        a["ruled_local"] = _local(a["ruled_at"], c["timezone"]) if a["ruled_at"] else ""
    items = [a for a in every if a["ruling"] is None]
    # Ruled appeals stay visible as history, the latest ruling first.
    ruled = sorted((a for a in every if a["ruling"] is not None),
                   key=lambda a: str(a["ruled_at"]), reverse=True)
    return _page("console_hr_appeals.html", c=c, items=items, ruled=ruled)


def _makeup_defaults(tz: str) -> dict[str, str]:
    """A make-up form's suggested times: tomorrow, two hours long, in the campaign's zone."""
    moment = now()
    return {"default_opens": _input_value((moment + timedelta(days=1)).isoformat(), tz),
            "default_closes": _input_value((moment + timedelta(days=1, hours=2)).isoformat(),
                                           tz)}


@_get("/appeals/<appeal>", "reviewer", endpoint="appeal_page")
def _appeal_page(appeal: str, status: int = 200, exc: LedgerError | None = None) -> Response:
    svc = service()
    with _or_error_page():
        a = svc.appeal(actor(), appeal, now())  # records pii.viewed
        c = svc.campaign(a["campaign"])
    return _page("console_hr_appeal.html", status, exc=exc, error=slot_problem(exc, lang()), a=a,
                 c=c, backup_choices=backup_choices(svc, a["campaign"], c["timezone"], lang(),
                                                    now()),
                 **_makeup_defaults(c["timezone"]))


@_form_post("/appeals/<appeal>/ruling", _appeal_page, "reviewer")
def rule_appeal(appeal: str) -> Response:
    svc = service()
    campaign = svc.appeal_record(appeal)["campaign"]
    tz = _tz_of(campaign)
    data: dict[str, Any] = {"ruling": _f("ruling")}
    if data["ruling"] not in ("upheld", "overturned"):  # no default: the reviewer chooses
        raise BadData("ruling: choose upheld or overturned", field="ruling")
    data["reason"] = _reason()
    if data["ruling"] == "overturned" and (_f("backup_slot") or _f("opens_at")
                                           or _f("closes_at")):
        data |= _seat_or_times(tz)
    svc.rule_appeal(actor(), appeal, data, now())
    return _redirect(f"/console/campaigns/{campaign}/appeals", done="ruled")


# -- import ---------------------------------------------------------------------------


@_get("/campaigns/<campaign>/import", "hr", endpoint="import_form")
def _import_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                 ) -> Response:
    c = _campaign(campaign)
    lg = lang()
    rows = shown(exc.errors, lg) if isinstance(exc, Unprocessable) else []
    # The row table says it all (the summary line is the domain's English); a refusal of
    # the whole file is said in the page's language.
    error = (file_message(str(exc), lg) or "") if exc is not None and not rows else ""
    return _page("console_hr_import.html", status, exc=None if rows else exc, error=error,
                 c=c, rows=rows, headers=header_table(lg))


@_get("/campaigns/<campaign>/import/template.csv", "hr", endpoint="import_template")
def import_template(campaign: str) -> Response:
    _campaign(campaign)
    return Response(template_csv(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="candidates-template.csv"'})


@_form_post("/campaigns/<campaign>/import", _import_page, "hr")
@body_limit(MAX_IMPORT_BYTES + FORM_OVERHEAD_BYTES)
def import_upload(campaign: str) -> Response:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadData("file: choose a CSV file", field="file")
    data = upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise BadData(f"file: larger than {MAX_IMPORT_BYTES // 1024 // 1024} MiB",
                      field="file")
    made = service().import_candidates(actor(), campaign, data, "text/csv", now())
    return _redirect(f"/console/campaigns/{campaign}/import", done="imported", n=len(made))


# -- notices --------------------------------------------------------------------------


def _notice_settings() -> tuple[int, str, WorkingCalendar]:
    found: PublicitySettings = current_app.extensions.get("absentia.publicity",
                                                          PublicitySettings())
    cal: WorkingCalendar = current_app.extensions.get("absentia.calendar", WorkingCalendar())
    return found.notice_days, found.base_url or "", cal


@_get("/campaigns/<campaign>/notice", "hr", endpoint="notice_form")
def _notice_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                 ) -> Response:
    svc = service()
    c = _campaign(campaign)
    days, base_url, cal = _notice_settings()
    problem = ""
    missing = missing_notice_setting(svc, campaign, str(c["policy"]), lang())
    try:
        N.render(svc, campaign, now(), days=days, calendar=cal, base_url=base_url)
    except LedgerError as e:
        problem = missing or str(e)
    error = missing if exc is not None and (exc.field or "").startswith("notice_") else ""
    error = error or setting_problem(exc, lang())
    items, _ = N.notices(svc, per_page=1000)
    published = [n | {"published_local": _local(n["published_at"], c["timezone"])}
                 for n in items if n["campaign"] == campaign]
    current = next((n["notice"] for n in published if n["superseded_by"] is None), "")
    changes = correction(svc, campaign, current) if current and not problem else None
    return _page("console_hr_notice.html", status, exc=exc, error=error, c=c, days=days,
                 problem=problem, ns=settings_form(svc, campaign, lang()),
                 published=published, current=current, changes=changes,
                 reason=_f("reason", 200) if request.method == "POST" else "")


@_get("/campaigns/<campaign>/notice/preview", "hr")
def notice_preview(campaign: str) -> Response:
    days, base_url, cal = _notice_settings()
    with _or_error_page():
        rendered = N.render(service(), campaign, now(), days=days, calendar=cal,
                            base_url=base_url)
    resp = Response(rendered.html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PREVIEW_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp


@_form_post("/campaigns/<campaign>/notice", _notice_page, "hr")
def notice_publish(campaign: str) -> Response:
    days, base_url, cal = _notice_settings()
    raw = _f("days") or str(days)
    if not raw.isdigit() or not 1 <= int(raw) <= 30:
        raise BadData("days: working days from 1 to 30", field="days")
    supersedes = _f("supersedes", 200) or None
    reason = _f("reason", 400).strip() or None
    if supersedes is not None:
        # A correction replaces a public record: said why, and meant (issue 13, item 7).
        if reason is None:
            raise Unprocessable("reason: a correction needs a reason (更正说明)",
                                field="reason")
        if _f("confirm") != "yes":
            raise Unprocessable("confirm: confirm that this notice replaces the published "
                                "one", field="confirm")
    N.publish(service(), actor(), campaign, now(), days=int(raw), calendar=cal,
              base_url=base_url, supersedes=supersedes, reason=reason,
              witnesses=current_app.extensions.get("absentia.witnesses"))
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


def _reports_of(campaign: str) -> list[Report]:
    return campaign_reports(service().engine, campaign)


def _job_json(j: ReportJob) -> dict[str, Any]:
    return {"job": j.job, "campaign": j.campaign, "state": j.state, "report": j.report,
            "download": f"/console/reports/{j.report}.pdf" if j.report else "",
            "error": j.error}


@_get("/campaigns/<campaign>/reports", "hr", "reviewer")
def reports(campaign: str) -> Response:
    return _reports_page(campaign)


def _reports_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                  ) -> Response:
    c = _campaign(campaign)
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


@_get("/report-jobs/<job>.json", "hr", "reviewer")
def job_status(job: str) -> Response:
    _children().reap()
    j = report_jobs.get(service().store, job)
    if j is None:
        resp = jsonify({"error": f"no job {job!r}"})
        resp.status_code = 404
        return resp
    return jsonify(_job_json(j))


@_get("/reports/<report>.pdf", "hr", "reviewer")
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
    with _or_error_page():
        person = svc.personal_data(actor(), subject, "contact", now())
    campaign = next((c["campaign"] for c in svc.campaigns()
                     if any(x["subject"] == subject for x in svc.candidates(c["campaign"]))),
                    "")
    return _page("console_hr_contact.html", person=person, campaign=campaign)
