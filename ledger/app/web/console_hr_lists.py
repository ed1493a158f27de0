"""A campaign's long lists on the HR console: decisions, candidates and interview windows,
paged, filtered (a GET form that keeps its values), searched by registration number, and
exported as CSV (UTF-8 with a BOM, so Excel reads it right) or Excel (openpyxl's
write-only workbook), exactly the filtered rows of every page.

Registered on ``console_hr``'s blueprint: ``/console/campaigns/<c>/decisions``,
``/candidates`` and ``/windows``; ``?format=csv`` or ``?format=xlsx`` exports.  Every
time is written in the campaign's zone through ``ledger.timetext``; outcomes, causes,
review states and window kinds are words of the catalog, never codes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Response, request
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ledger.absence.queries.lists import (
    REVIEW_STATES,
    CandidateRow,
    DecisionRow,
    ListFilter,
    Page,
    WindowRow,
    campaign_posts,
    campaign_slots,
    candidate_list,
    decision_list,
    window_list,
)
from ledger.app.web.console_hr import _campaign, _get, _page, lang
from ledger.app.web.console_hr_text import CAUSES, OUTCOMES
from ledger.app.web.forms import Lang, words
from ledger.app.web.services import service
from ledger.timetext import written, written_short, zone_label

__all__ = ["PAGE_SIZES"]

PAGE_SIZES = (20, 50, 100, 200)
REVIEWS: dict[str, tuple[str, str]] = words("console_hr.review_states")
KINDS: dict[str, tuple[str, str]] = words("selfservice.kinds")
ACCOMMODATIONS: dict[str, tuple[str, str]] = words("selfservice.accommodations")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The filters a list's GET form sends, in the order of its fields.
FILTER_FIELDS = ("q", "post", "outcome", "cause", "review", "slot", "since", "until")


@dataclass(frozen=True)
class _Query:
    """The list's query string as the form sent it: filters, page and size."""

    values: dict[str, str]
    page: int
    size: int

    def link(self, **changed: str | int) -> str:
        """This list's query string with ``changed`` (filters kept, language kept)."""
        args: dict[str, str | int] = {k: v for k, v in self.values.items() if v}
        args["size"] = self.size
        args["page"] = self.page
        args.update(changed)
        if lang().code == "en":
            args["lang"] = "en"
        return "?" + urlencode(args)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _query() -> tuple[_Query, ListFilter]:
    values = {k: request.args.get(k, "")[:64].strip() for k in FILTER_FIELDS}
    since, until = _day(values["since"]), _day(values["until"])
    values["since"] = since.isoformat() if since else ""
    values["until"] = until.isoformat() if until else ""
    if values["review"] not in REVIEW_STATES:
        values["review"] = ""
    page_text, size_text = request.args.get("page", "1"), request.args.get("size", "50")
    page = int(page_text) if page_text.isdigit() else 1
    size = int(size_text) if size_text.isdigit() and int(size_text) in PAGE_SIZES else 50
    f = ListFilter(post=values["post"], outcome=values["outcome"], cause=values["cause"],
                   review=values["review"], slot=values["slot"], since=since, until=until,
                   search=values["q"])
    return _Query(values, page, size), f


# -- the columns of each list, for the page and the exports -----------------------------

Column = tuple[str, Callable[[Any], str]]


def _review(lg: Lang, review: str | None, superseded_by: str | None) -> str:
    text = lg.of(REVIEWS, review) if review else ""
    if superseded_by:
        text = (text + " · " if text else "") + lg.t("list_superseded")
    return text


def _yes(lg: Lang, value: bool) -> str:
    return lg.t("list_yes") if value else lg.t("list_no")


def _decision_columns(lg: Lang, tz: str, posts: dict[str, str], slots: dict[str, str]
                      ) -> list[Column]:
    zone = zone_label(tz, lg.code)
    return [
        (lg.t("registration"), lambda r: r.registration),
        (lg.t("post"), lambda r: posts.get(r.post, r.post)),
        (lg.t("list_slot"), lambda r: written_short(slots.get(r.slot), tz)),
        (lg.t("outcome"), lambda r: lg.of(OUTCOMES, r.outcome)),
        (lg.t("cause"), lambda r: lg.of(CAUSES, r.cause)),
        (lg.t("list_review_state"), lambda r: _review(lg, r.review, r.superseded_by)),
        (lg.t("list_decided_at", zone=zone), lambda r: written_short(r.decided_at, tz)),
        (lg.t("list_decision_id"), lambda r: r.decision),
    ]


def _candidate_columns(lg: Lang, posts: dict[str, str]) -> list[Column]:
    return [
        (lg.t("registration"), lambda r: r.registration),
        (lg.t("post"), lambda r: posts.get(r.post, r.post)),
        (lg.t("subject"), lambda r: r.subject),
        (lg.t("list_misses"), lambda r: str(r.misses)),
        (lg.t("list_locked"), lambda r: _yes(lg, r.locked)),
        (lg.t("list_erased"), lambda r: _yes(lg, r.erased)),
    ]


def _window_columns(lg: Lang, tz: str, posts: dict[str, str], slots: dict[str, str]
                    ) -> list[Column]:
    zone = zone_label(tz, lg.code)
    return [
        (lg.t("registration"), lambda r: r.registration),
        (lg.t("post"), lambda r: posts.get(r.post, r.post)),
        (lg.t("list_slot"), lambda r: written_short(slots.get(r.slot), tz)),
        (lg.t("kind"), lambda r: lg.of(KINDS, r.kind)),
        (lg.t("list_opens_at", zone=zone), lambda r: written_short(r.opens_at, tz)),
        (lg.t("list_closes_at", zone=zone), lambda r: written_short(r.closes_at, tz)),
        (lg.t("list_accommodation"),
         lambda r: lg.of(ACCOMMODATIONS, r.accommodation) if r.accommodation else ""),
        (lg.t("list_window_id"), lambda r: r.window),
    ]


# -- exports ----------------------------------------------------------------------------


def _csv(columns: Sequence[Column], rows: Iterable[Any], name: str) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([head for head, _ in columns])
    for r in rows:
        writer.writerow([cell(r) for _, cell in columns])
    resp = Response(out.getvalue().encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return resp


def _xlsx(columns: Sequence[Column], rows: Iterable[Any], name: str, title: str) -> Response:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heads = []
    for head, _ in columns:
        c = WriteOnlyCell(sheet, value=head)
        c.font = bold
        heads.append(c)
    sheet.append(heads)
    for r in rows:
        sheet.append([cell(r) for _, cell in columns])
    out = io.BytesIO()
    book.save(out)
    resp = Response(out.getvalue(), mimetype=XLSX)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return resp


def _row_link(r: Any) -> str:
    """The page of a row's decision or window (its last column's link), or none."""
    if isinstance(r, DecisionRow):
        return f"/console/decisions/{r.decision}"
    if isinstance(r, WindowRow):
        return f"/console/windows/{r.window}"
    return ""


# -- the pages --------------------------------------------------------------------------


def _list(campaign: str, which: str,
          fetch: Callable[[ListFilter, str, int, int | None], Page[Any]],
          columns: Callable[[Lang, str, dict[str, str], dict[str, str]], list[Column]],
          filters: Sequence[str]) -> Response:
    c = _campaign(campaign)
    tz = c["timezone"]
    lg = lang()
    q, f = _query()
    engine = service().engine
    posts = campaign_posts(engine, campaign)
    slots = campaign_slots(engine, campaign)
    cols = columns(lg, tz, posts, slots)
    title = lg.t("list_title_" + which)
    fmt = request.args.get("format", "")
    if fmt in ("csv", "xlsx"):
        every = fetch(f, tz, 1, None).rows
        name = f"{campaign}-{which}"
        return _csv(cols, every, name) if fmt == "csv" else _xlsx(cols, every, name, title)
    page = fetch(f, tz, q.page, q.size)
    q = _Query(q.values, page.page, q.size)
    first, last = max(1, page.page - 4), min(page.pages, page.page + 4)
    return _page("console_hr_list.html", c=c, which=which, title=title, page=page, q=q,
                 heads=[h for h, _ in cols],
                 cells=[[cell(r) for _, cell in cols] for r in page.rows],
                 links=[_row_link(r) for r in page.rows], rows=page.rows,
                 total=f"{page.total:,}", near=range(first, last + 1), filters=filters,
                 posts=posts, slots={s: written(o, tz, lg.code) for s, o in slots.items()},
                 sizes=PAGE_SIZES, review_states=REVIEW_STATES, zone=zone_label(tz, lg.code),
                 export_csv=q.link(format="csv", page=1),
                 export_xlsx=q.link(format="xlsx", page=1))


@_get("/campaigns/<campaign>/decisions", "hr", "reviewer", endpoint="decision_list")
def decisions_page(campaign: str) -> Response:
    engine = service().engine

    def fetch(f: ListFilter, tz: str, page: int, size: int | None) -> Page[DecisionRow]:
        return decision_list(engine, campaign, f, tz, page=page, size=size)

    return _list(campaign, "decisions", fetch, _decision_columns,
                 ("q", "post", "outcome", "cause", "review", "slot", "since", "until"))


@_get("/campaigns/<campaign>/candidates", "hr", "reviewer", endpoint="candidate_list")
def candidates_page(campaign: str) -> Response:
    engine = service().engine

    def fetch(f: ListFilter, tz: str, page: int, size: int | None) -> Page[CandidateRow]:
        return candidate_list(engine, campaign, f, tz, page=page, size=size)

    def columns(lg: Lang, tz: str, posts: dict[str, str], slots: dict[str, str]
                ) -> list[Column]:
        return _candidate_columns(lg, posts)

    return _list(campaign, "candidates", fetch, columns, ("q", "post"))


@_get("/campaigns/<campaign>/windows", "hr", "reviewer", endpoint="window_list")
def windows_page(campaign: str) -> Response:
    engine = service().engine

    def fetch(f: ListFilter, tz: str, page: int, size: int | None) -> Page[WindowRow]:
        return window_list(engine, campaign, f, tz, page=page, size=size)

    return _list(campaign, "windows", fetch, _window_columns,
                 ("q", "post", "outcome", "cause", "review", "slot", "since", "until"))
