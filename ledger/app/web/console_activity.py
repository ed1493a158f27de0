"""Who did what, in the HR console: a campaign's and a decision's activity pages (every
ledger entry that touched it: its kind in words, by whom with login name and role, when
in the campaign's time, why), and what the decision page shows of its review.

The routes join the console's blueprint (``console_hr.bp``): importing this module
registers them, so the app factory imports it beside ``console_hr``.  The entries are
read a page at a time by key (``ledger.absence.queries.activity``); actor ids
(``hr:u_…``) become login names through the accounts.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ledger.absence.queries import activity as A  # noqa: N812 (the queries, read as A.latest)
from ledger.app.web.activity_text import shown
from ledger.app.web.console_hr import _campaign, _get, _or_error_page, _page, _tz_of, lang
from ledger.app.web.services import service
from ledger.timetext import zone_label

PER_PAGE = 50


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**7 else 1


def _activity_page(title: str, back: str, page: A.ActivityPage, tz: str,
                   **context: Any) -> Response:
    lg = lang()
    return _page("console_hr_activity.html", title=title, back=back, page=page,
                 rows=shown(page, tz, lg), zone=zone_label(tz, lg.code), log=service().log,
                 **context)


@_get("/campaigns/<campaign>/activity", "hr", "reviewer")
def campaign_activity(campaign: str) -> Response:
    c = _campaign(campaign)
    page = A.campaign_activity(service().engine, campaign, page=_page_number(),
                               per_page=PER_PAGE)
    return _activity_page(c["title"], f"/console/campaigns/{campaign}", page,
                          c["timezone"], c=c, base=f"/console/campaigns/{campaign}/activity")


@_get("/decisions/<decision>/activity", "hr", "reviewer")
def decision_activity(decision: str) -> Response:
    svc = service()
    with _or_error_page():
        d = svc.decision(decision)
    page = A.decision_activity(svc.engine, decision, page=_page_number(), per_page=PER_PAGE)
    return _activity_page(decision, f"/console/decisions/{decision}", page,
                          _tz_of(d["campaign"]), base=f"/console/decisions/{decision}/activity")
