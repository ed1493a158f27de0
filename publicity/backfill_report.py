"""The archive report's 递补 section: counts, and every vacancy's answer (who left, who
was proposed, what the reviewer ruled, or why the vacancy stayed unfilled).

Candidates appear by registration number only (as in the report's decision list);
scores never do (they are sealed in the vault).  Pure apart from one read of the
service.  Bilingual labels, Chinese first, as the rest of the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.absence.service import AbsenceService

#: Why a vacancy stayed unfilled (``backfill.unfilled`` reason codes), in words.
UNFILLED_WORDS = {
    "cutoff_passed": "已过递补截止时间 after the cut-off",
    "no_eligible": "无符合条件人选 no eligible candidate",
    "not_applicable": "不实行递补 递补 does not apply",
    "day_of_no_show_excluded": "当日缺考不递补 no-show on the day not backfilled",
    "withdrawal_too_late": "放弃晚于期限 withdrawal too late",
    "rounds_exhausted": "轮次已用完 no rounds left",
}
STATUS_WORDS = {"proposed": "待审核 pending", "approved": "已递补 approved",
                "declined": "未同意 declined", "unfilled": "不递补 not filled"}


@dataclass(frozen=True)
class BackfillLine:
    """One answer to a vacancy, as the report lists it."""

    vacated: str
    proposed: str
    rank: str
    round: int
    status: str
    reason: str
    ledger_index: int


def backfill_kpis(stats: dict[str, Any]) -> list[tuple[str, str]]:
    """The 递补 counts of ``stats["backfill"]`` as (label, value) rows; none if the
    statistics have no such block (a report of a service without 递补)."""
    b = stats.get("backfill")
    if not b:
        return []
    rows = [("递补空缺 Vacancies", f"{b['vacancies']:,}"),
            ("已递补 Filled", f"{b['filled']:,}"),
            ("递补提议 Proposals (approved / declined / pending)",
             f"{b['proposals']:,} ({b['approved']:,} / {b['declined']:,} / {b['pending']:,})")]
    rows += [(f"未递补 Unfilled: {UNFILLED_WORDS.get(k, k)}", f"{n:,}")
             for k, n in b["unfilled"].items() if n]
    return rows


def backfill_lines(service: AbsenceService, campaign: str) -> list[BackfillLine]:
    """Every answer to ``campaign``'s vacancies, in ledger order.

    Raises:
        NotFound: no such campaign.
    """
    return [BackfillLine(
        a["vacated_registration"] or "—", a["registration"] or "—",
        str(a["rank"]) if a["rank"] is not None else "—", a["round"],
        STATUS_WORDS.get(a["status"], a["status"]),
        UNFILLED_WORDS.get(a["reason"] or "", "") if a["status"] == "unfilled"
        else a["reason"] or "", a["ledger_index"]) for a in service.backfills(campaign)]
