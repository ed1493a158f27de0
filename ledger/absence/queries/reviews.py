"""What a reviewer reads beside a pending decision: the evidence on its review card
(what the platform reported about the window, the messages sent about it and what
became of them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import decisions, notifications, platform_events

__all__ = ["PlatformReport", "ReviewEvidence", "SentMessage", "review_evidence"]


@dataclass(frozen=True)
class PlatformReport:
    """One event the interview platform reported about the decision's window."""

    kind: str  # a platform kind code (invited, joined, connection_failed…)
    at: str  # RFC 3339 UTC, when the platform says it happened
    detail: str | None  # the platform's detail code, if any
    idx: int  # its ledger index


@dataclass(frozen=True)
class SentMessage:
    """A notification about the decision's window or the decision, and its receipt."""

    template: str  # invitation, decision, makeup, appeal_ruling
    channel: str  # email / sms
    status: str  # pending / sent / failed / delivered
    attempts: int
    last_error: str | None  # the last failure's code
    queued_at: str  # RFC 3339 UTC
    updated_at: str  # RFC 3339 UTC


@dataclass(frozen=True)
class ReviewEvidence:
    """The evidence of one decision, oldest first."""

    decision: str
    events: tuple[PlatformReport, ...]
    messages: tuple[SentMessage, ...]


def review_evidence(source: Source, decision: str) -> ReviewEvidence | None:
    """The platform events of ``decision``'s window and the notifications about the
    window or the decision; None if there is no such decision.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        window = conn.execute(select(decisions.c.window).where(
            decisions.c.decision == decision)).scalar()
        if window is None:
            return None
        events = conn.execute(select(platform_events).where(
            platform_events.c.window == window).order_by(platform_events.c.at,
                                                         platform_events.c.idx)).all()
        sent = conn.execute(select(notifications).where(or_(
            notifications.c.window == window, notifications.c.decision == decision))
            .order_by(notifications.c.queued_at, notifications.c.notification)).all()
    return ReviewEvidence(
        decision,
        tuple(PlatformReport(e.kind, e.at, e.detail, int(e.idx)) for e in events),
        tuple(SentMessage(n.template, n.channel, n.status, int(n.attempts), n.last_error,
                          n.queued_at, n.updated_at) for n in sent))
