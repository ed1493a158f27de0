"""The 递补名单 as its own public notice (公示), apart from the result notice.

Lists the approved proposals of a campaign: post, the promoted candidate's masked name
and registration number, their rank and round, with a notice period in working days on
the official calendar.  Like the result notice it names the issuing office (发布单位),
the notice period to its last working day as a date, the supervision telephone
(监督电话) and the objection channel (address and e-mail), and ends with the office and
the sign-off date (落款): the campaign's recorded notice settings
(``publicity.notices.settings_of``, which refuses naming a missing one), rendered by
the same template macros (``templates/_notice_rules.html``).  The exact HTML bytes
are stored (``notice_documents``) and the ledger records their SHA-256
(``backfill.list_published``), so a served page is checked against the record
(``AbsenceService.backfill_list_document``).  The result notice (``publicity.notices``)
is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ledger.absence.notice_documents import store_document
from ledger.absence.service import AbsenceService, Caller
from ledger.entry import format_time
from ledger.errors import Conflict
from ledger.ids import new_id, sha256_hex
from ledger.storage.store import NewEntry
from ledger.timetext import written
from publicity.calendar import DEFAULT_NOTICE_DAYS, WorkingCalendar, notice_period
from publicity.errors import PublishingRefused
from publicity.masking import mask_name
from publicity.notices import _env, period_text, published_contact, scan, settings_of, signed


@dataclass(frozen=True)
class BackfillNoticeLine:
    """One promoted candidate as the notice shows them."""

    post: str
    name: str
    registration: str
    rank: int
    round: int


def _chinese(chinese: str, english: str) -> str:
    """The 递补名单 is published in Chinese only (one page, one digest)."""
    return chinese


def render_backfill_list(service: AbsenceService, campaign: str, now: datetime, *,
                         days: int, calendar: WorkingCalendar, notice: str
                         ) -> tuple[bytes, int, tuple[datetime, datetime]]:
    """The notice's HTML bytes, its line count and its period.

    Raises:
        NotFound: no such campaign.  Conflict: no approved proposal to publish.
        PublishingRefused: a required notice setting is missing (named, checked first),
            or the page would show personal data.
        CalendarUnknown: the period reaches a year the calendar does not know.
    """
    info = service.campaign(campaign)
    chosen = settings_of(service, campaign)
    tz = ZoneInfo(info["timezone"])
    approved = [a for a in service.backfills(campaign) if a["status"] == "approved"]
    if not approved:
        raise Conflict("no approved 递补 to publish", field="campaign")
    details = service.personal_details_of(service.engine, [a["subject"] for a in approved])
    titles = {p["post"]: p["title"] for p in info["posts"]}
    names = [d.name for d in details.values() if d is not None]
    lines = []
    for a in approved:
        person = details[a["subject"]]
        lines.append(BackfillNoticeLine(
            titles.get(a["post"], a["post"]),
            mask_name(person.name) if person is not None else "（已删除）",
            a["registration"] or "—", a["rank"], a["round"]))
    period = notice_period(now, days, tz, calendar)
    html = _env().get_template("backfill_notice.html").render(
        notice=notice, campaign=info, lines=lines, days=days, settings=chosen,
        t=_chinese, published=written(format_time(now), tz, "zh"),
        period=period_text(period, days, tz, "zh"), **signed(now, tz))
    problems = scan(html, names, published_contact(chosen))
    if problems:
        raise PublishingRefused("the 递补 notice would show " + "; ".join(problems)
                                + ": nothing was published", field="notice")
    return html.encode("utf-8"), len(lines), period


def publish_backfill_list(service: AbsenceService, caller: Caller, campaign: str,
                          now: datetime, *, days: int = DEFAULT_NOTICE_DAYS,
                          calendar: WorkingCalendar | None = None) -> dict[str, Any]:
    """Render, check, store and record the 递补名单 (``backfill.list_published``).

    Raises:
        As ``render_backfill_list`` (nothing is written when it refuses).
    """
    notice = new_id("bn")
    data, count, period = render_backfill_list(service, campaign, now, days=days,
                                               calendar=calendar or WorkingCalendar(),
                                               notice=notice)

    def plan(conn: Connection) -> list[NewEntry]:
        store_document(conn, notice, data)
        return [NewEntry("backfill.list_published", caller.actor, {
            "notice": notice, "campaign": campaign, "sha256": sha256_hex(data),
            "lines": count, "period_start": format_time(period[0]),
            "period_end": format_time(period[1])})]

    service.record(now, plan)
    return {"notice": notice, "campaign": campaign, "lines": count,
            "sha256": sha256_hex(data), "period_end": format_time(period[1])}
