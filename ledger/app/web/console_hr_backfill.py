"""The HR console's 递补 page: a campaign's rankings (import one per post), a written
withdrawal or disqualification recorded, and every vacancy's answer, with approve and
decline forms for the reviewer (a reason required to decline; approval invites).

The routes are added to ``console_hr.bp`` (importing this module registers them;
``ledger.app.web`` does).  Times are shown in the campaign's zone as people write them
(``ledger.timetext``); registration numbers, never names or scores, identify candidates.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from ledger.absence.imports import MAX_IMPORT_BYTES
from ledger.absence.queries.backfill_invitations import invited_windows
from ledger.absence.rankings import XLSX
from ledger.app.web.console import actor
from ledger.app.web.console_hr import (
    _campaign,
    _confirmed,
    _f,
    _form_post,
    _get,
    _local_time,
    _makeup_defaults,
    _notice_settings,
    _page,
    _reason,
    _redirect,
    _tz_of,
    lang,
)
from ledger.app.web.console_hr_notice import missing_notice_setting
from ledger.app.web.console_hr_reviews import CHANNELS, STATUS
from ledger.app.web.forms import Lang, words
from ledger.app.web.limits import FORM_OVERHEAD_BYTES, body_limit
from ledger.app.web.services import now, service
from ledger.errors import BadData, LedgerError, NotFound, Unprocessable
from ledger.timetext import written
from publicity.backfill_notice import publish_backfill_list

STATUSES: dict[str, tuple[str, str]] = words("console_hr.backfill_statuses")
REASONS: dict[str, tuple[str, str]] = words("console_hr.backfill_reasons")
ERRORS: dict[str, tuple[str, str]] = words("console_hr.backfill_errors")
COLUMNS: dict[str, tuple[str, str]] = words("console_hr.backfill_columns")


# The ranking import's messages (``ledger.absence.rankings``, ``backfill``), to words keys.
_MESSAGES = tuple((re.compile(p), k) for p, k in (
    (r"is required|required column is missing", "required"),
    (r"is not a score between 0 and \d+", "score"), (r"has more than 3 decimals", "decimals"),
    (r"is not a registration number.*", "registration"),
    (r"same registration number as row (\d+)", "same_registration"),
    (r"is not a candidate of this campaign", "unknown"),
    (r"is a candidate of another post", "other_post"),
    (r"column (\d+) is not a known column", "unknown_column"),
    (r"column (\d+) repeats the \w+ column", "repeated_column"),
    (r"has more cells than the header's (\d+)", "cells"),
    (r"the policy breaks ties by the written test.*", "written_needed"),
    (r"no rows|at most \d+ rows", "rows")))


def _shown(errors: list[dict[str, object]], lg: Lang) -> list[dict[str, Any]]:
    """The ranking's row errors in the page's language (rows as the spreadsheet numbers
    them: the domain numbers them so already)."""
    out = []
    for e in errors:
        message = str(e.get("message", ""))
        for pattern, key in _MESSAGES:
            found = pattern.fullmatch(message)
            if found:
                message = lg.of(ERRORS, key).format(*found.groups())
                break
        field = str(e.get("field", ""))
        out.append({"row": e.get("row"), "field": lg.of(COLUMNS, field) if field in COLUMNS
                    else field, "message": message})
    return out


def _invited(answers: list[dict[str, Any]], tz: str, lg: Lang) -> list[dict[str, Any]]:
    """The approved answers' windows, with when they open and close and how each
    invitation stands, in ``lg``'s words."""
    approved = [a for a in answers if a["status"] == "approved" and a["window"]]
    found = invited_windows(service().engine, {a["window"] for a in approved})
    out = []
    for a in approved:
        w = found.get(a["window"])
        if w is None:
            continue
        out.append({"registration": a["registration"], "window": w.window,
                    "times": lg.t("pub14_window_times", opens=written(w.opens_at, tz, lg.code),
                                  closes=written(w.closes_at, tz, lg.code, zone=True)),
                    "invitations": [f"{lg.of(CHANNELS, i.channel)}：{lg.of(STATUS, i.status)}"
                                    if lg.code == "zh" else
                                    f"{lg.of(CHANNELS, i.channel)}: {lg.of(STATUS, i.status)}"
                                    for i in w.invitations]})
    return out


def _answers(campaign: str, tz: str, lg: Lang) -> list[dict[str, Any]]:
    out = []
    for a in service().backfills(campaign):
        shown_reason = (lg.of(REASONS, a["reason"]) if a["status"] == "unfilled"
                        else a["reason"] or "")
        out.append(a | {"status_text": lg.of(STATUSES, a["status"]),
                        "reason_text": shown_reason,
                        "at_text": written(a["at"], tz, lg.code, zone=True)})
    return out


@_get("/campaigns/<campaign>/backfill", "hr", "reviewer", "auditor", endpoint="backfill")
def _backfill_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                   ) -> Response:
    c = _campaign(campaign)
    lg = lang()
    rows = (_shown(exc.errors, lg) if isinstance(exc, Unprocessable)
            and exc.field in ("rows", "header") else [])
    # The 递补名单 refused for a missing notice setting: which one, in the page's language.
    error = (missing_notice_setting(service(), campaign, str(c["policy"]), lg)
             if exc is not None and (exc.field or "").startswith("notice_") else "")
    answers = _answers(campaign, c["timezone"], lg)
    return _page("console_hr_backfill.html", status, exc=None if rows else exc, c=c,
                 error=error,
                 rows=rows, rankings=service().rankings(campaign), answers=answers,
                 invited=_invited(answers, c["timezone"], lg),
                 stats=service().backfill_statistics(campaign), reasons_table=REASONS,
                 **_makeup_defaults(c["timezone"]))


@_form_post("/campaigns/<campaign>/backfill/ranking", _backfill_page, "hr")
@body_limit(MAX_IMPORT_BYTES + FORM_OVERHEAD_BYTES)
def backfill_ranking(campaign: str) -> Response:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadData("file: choose a CSV or Excel file", field="file")
    data = upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise BadData(f"file: larger than {MAX_IMPORT_BYTES // 1024 // 1024} MiB",
                      field="file")
    ctype = XLSX if upload.filename.lower().endswith(".xlsx") else "text/csv"
    service().import_ranking(actor(), campaign, data, ctype, {
        k: _f(k, 64) for k in ("post", "pass_line", "places", "interview_day")}, now())
    return _redirect(f"/console/campaigns/{campaign}/backfill")


@_form_post("/campaigns/<campaign>/backfill/vacancy", _backfill_page, "hr")
def backfill_vacancy(campaign: str) -> Response:
    tz = _tz_of(campaign)
    service().record_vacancy(actor(), campaign, {
        "registration": _f("registration", 64), "kind": _f("kind", 32),
        "at": _local_time(_f("at"), tz, "at")}, now())
    return _redirect(f"/console/campaigns/{campaign}/backfill")


@_form_post("/campaigns/<campaign>/backfill/notice", _backfill_page, "hr")
def backfill_notice(campaign: str) -> Response:
    _confirmed()
    days, _, cal = _notice_settings()
    made = publish_backfill_list(service(), actor(), campaign, now(), days=days, calendar=cal)
    resp = Response(status=303)
    resp.headers["Location"] = f"/notices/backfill/{made['notice']}"
    return resp


@_form_post("/campaigns/<campaign>/backfill/ruling", _backfill_page, "reviewer")
def backfill_ruling(campaign: str) -> Response:
    svc = service()
    tz = _tz_of(campaign)
    proposal = _f("proposal", 200)
    if svc.backfill_proposal(proposal)["campaign"] != campaign:
        raise NotFound(f"no proposal {proposal!r} in {campaign}", field="proposal")
    if _f("ruling") == "declined":  # irreversible: the next candidate is proposed
        _confirmed()
        svc.decline_backfill(actor(), proposal, {"reason": _reason()}, now())
    else:  # irreversible too: the candidate is invited at once
        _confirmed()
        data = {name: _local_time(_f(name), tz, name) for name in ("opens_at", "closes_at")}
        if _f("reason"):
            data["reason"] = _f("reason", 200)
        svc.approve_backfill(actor(), proposal, data, now())
    return _redirect(f"/console/campaigns/{campaign}/backfill")
