"""What a signed archive report reads (``publicity.report``, ``publicity.scheduled``,
``ledger.absence.report_jobs``): a campaign's decisions in ledger order, the span of its
windows, and which campaigns have decisions newer than their last report.

Reads only; ``p_reports`` is written by the projection (``report.generated``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import decisions, reports, subjects, windows


@dataclass(frozen=True)
class ReportDecision:
    """One decision of a campaign as a report lists it (every decision, superseded ones
    included), pseudonymous."""

    index: int  # the ledger index of the decision
    registration: str
    post: str  # the post's id
    outcome: str
    cause: str | None
    superseded_by: str | None  # the decision that replaced it, if any


@dataclass(frozen=True)
class WindowSpan:
    """When a campaign's windows open first and close last (RFC 3339 UTC as the ledger
    records them; None when the campaign has no windows)."""

    opens_at: str | None
    closes_at: str | None


@dataclass(frozen=True)
class ReportCoverage:
    """A campaign with decisions: its newest decision, and how far its newest report
    proves (a report proves every entry below its checkpoint size)."""

    campaign: str
    last_decision: int  # ledger index of its newest decision
    reported_size: int | None  # the largest checkpoint size of its reports; None if none


def report_decisions(source: Source, campaign: str) -> list[ReportDecision]:
    """Every decision of ``campaign``, in ledger order (empty for an unknown campaign)."""
    d, s = decisions, subjects
    with connected(source) as conn:
        rows = conn.execute(
            select(d.c.idx, s.c.registration, s.c.post, d.c.outcome, d.c.cause,
                   d.c.superseded_by)
            .join(s, s.c.subject == d.c.subject)
            .where(d.c.campaign == campaign).order_by(d.c.idx)).all()
    return [ReportDecision(int(r.idx), r.registration, r.post, r.outcome, r.cause,
                           r.superseded_by) for r in rows]


def window_span(source: Source, campaign: str) -> WindowSpan:
    """The earliest opening and the latest closing of ``campaign``'s windows."""
    w = windows
    with connected(source) as conn:
        lo, hi = conn.execute(select(func.min(w.c.opens_at), func.max(w.c.closes_at))
                              .where(w.c.campaign == campaign)).one()
    return WindowSpan(lo, hi)


def report_coverage(source: Source) -> list[ReportCoverage]:
    """Every campaign with at least one decision, by campaign id."""
    with connected(source) as conn:
        last_decision = dict(conn.execute(
            select(decisions.c.campaign, func.max(decisions.c.idx))
            .group_by(decisions.c.campaign)).all())
        reported = dict(conn.execute(
            select(reports.c.campaign, func.max(reports.c.checkpoint_size))
            .group_by(reports.c.campaign)).all())
    return [ReportCoverage(c, int(idx),
                           None if reported.get(c) is None else int(reported[c]))
            for c, idx in sorted(last_decision.items())]


def newest_report_index(source: Source, campaign: str) -> int | None:
    """The ledger index of ``campaign``'s newest ``report.generated`` entry, or None."""
    with connected(source) as conn:
        last = conn.execute(select(func.max(reports.c.idx))
                            .where(reports.c.campaign == campaign)).scalar()
    return None if last is None else int(last)
