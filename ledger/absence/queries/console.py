"""What the HR console reads of the projection: a campaign's signed reports, and one
report as the ledger recorded it (the page a report's QR code opens)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import campaigns, reports

__all__ = ["Report", "ReportRecord", "campaign_reports", "report_record"]


@dataclass(frozen=True)
class Report:
    """A signed report of a campaign, as its ``report.generated`` entry recorded it."""

    report: str
    campaign: str
    sha256: str  # of the signed PDF, hex
    decisions: int  # how many decisions it lists
    checkpoint_size: int  # the tree size of the checkpoint it cites
    generated_at: str  # RFC 3339 UTC, as the ledger wrote it
    idx: int  # the index of its ledger entry


@dataclass(frozen=True)
class ReportRecord(Report):
    """A report and the title of its campaign."""

    title: str


def campaign_reports(source: Source, campaign: str) -> list[Report]:
    """The reports of ``campaign``, newest (highest ledger index) first; none for an
    unknown campaign.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        rows = conn.execute(select(reports).where(reports.c.campaign == campaign)
                            .order_by(reports.c.idx.desc())).all()
    return [Report(r.report, r.campaign, r.sha256, int(r.decisions),
                   int(r.checkpoint_size), r.generated_at, int(r.idx)) for r in rows]


def report_record(source: Source, report: str) -> ReportRecord | None:
    """The report ``report`` with its campaign's title; None if there is none.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        r = conn.execute(select(reports, campaigns.c.title)
                         .join(campaigns, campaigns.c.campaign == reports.c.campaign)
                         .where(reports.c.report == report)).first()
    if r is None:
        return None
    return ReportRecord(r.report, r.campaign, r.sha256, int(r.decisions),
                        int(r.checkpoint_size), r.generated_at, int(r.idx), r.title)
