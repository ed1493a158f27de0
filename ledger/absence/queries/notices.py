"""What a public result notice reads (``publicity.notices``): whether a campaign's
decisions are final, each candidate's current result, and the published notices.

Reads only; the notice's bytes are written by ``ledger.absence.notice_documents`` in
the plan that records ``notice.published``, and ``p_notices`` by the projection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select

from ledger.absence.notice_documents import document_key
from ledger.absence.queries import Source, connected
from ledger.absence.tables import (
    campaigns,
    decisions,
    notice_documents,
    notices,
    policies,
    posts,
    subjects,
    windows,
)


@dataclass(frozen=True)
class Finality:
    """How far a campaign's decisions are from final."""

    undecided: int  # windows without a decision
    pending: int  # current decisions pending review

    @property
    def final(self) -> bool:
        """Every window decided and no current decision pending review."""
        return self.undecided == 0 and self.pending == 0


@dataclass(frozen=True)
class SubjectResult:
    """A candidate's result as a notice shows it: the decision of their last window (a
    make-up or a rebooking holds the result), pseudonymous (no personal data)."""

    subject: str
    registration: str
    post: str  # the post's title, or its id when the campaign has no such post
    outcome: str
    cause: str | None
    review: str | None  # pending, confirmed, makeup_granted, or None
    index: int  # the ledger index of the decision


@dataclass(frozen=True)
class NoticeRecord:
    """A published notice's row (``p_notices``), not its bytes."""

    notice: str
    campaign: str
    sha256: str
    lines: int
    checkpoint_size: int
    period_start: str  # RFC 3339 UTC, as the ledger records it
    period_end: str
    supersedes: str | None
    superseded_by: str | None
    published_at: str
    index: int  # the ledger index of its ``notice.published`` entry
    sha256_en: str | None = None  # its English page's; None: one bilingual page


@dataclass(frozen=True)
class ListedNotice:
    """A notice as the list of notices shows it: its record and its campaign's title."""

    record: NoticeRecord
    title: str


def finality(source: Source, campaign: str) -> Finality:
    """How many of ``campaign``'s windows are undecided and how many of its current
    decisions are pending review (an unknown campaign has none of either)."""
    with connected(source) as conn:
        undecided = conn.execute(select(func.count()).select_from(windows).where(
            windows.c.campaign == campaign, windows.c.decision.is_(None))).scalar_one()
        pending = conn.execute(select(func.count()).select_from(decisions).where(
            decisions.c.campaign == campaign, decisions.c.review == "pending",
            decisions.c.superseded_by.is_(None))).scalar_one()
    return Finality(int(undecided), int(pending))


def subject_results(source: Source, campaign: str) -> list[SubjectResult]:
    """One result per candidate of ``campaign`` with a decided window, by registration
    number: the decision of the candidate's last scheduled decided window."""
    with connected(source) as conn:
        titles = dict(conn.execute(select(posts.c.post, posts.c.title).where(
            posts.c.campaign == campaign)).all())
        rows = conn.execute(
            select(subjects.c.subject, subjects.c.registration, subjects.c.post,
                   decisions.c.outcome, decisions.c.cause, decisions.c.review,
                   decisions.c.idx)
            .join(windows, windows.c.subject == subjects.c.subject)
            .join(decisions, decisions.c.decision == windows.c.decision)
            .where(subjects.c.campaign == campaign)
            .order_by(subjects.c.registration, windows.c.scheduled_index)).all()
    latest: dict[str, SubjectResult] = {}
    for r in rows:  # in scheduling order: the last one wins
        latest[r.subject] = SubjectResult(r.subject, r.registration,
                                          titles.get(r.post, r.post), r.outcome, r.cause,
                                          r.review, int(r.idx))
    return sorted(latest.values(), key=lambda s: s.registration)


def notice_record(source: Source, notice: str) -> NoticeRecord | None:
    """The notice ``notice``'s record, or None if there is no such notice."""
    with connected(source) as conn:
        row = conn.execute(select(notices).where(notices.c.notice == notice)).first()
    return None if row is None else _record(row)


def notice_page(source: Source, *, page: int = 1, per_page: int = 20
                ) -> tuple[list[ListedNotice], int]:
    """One page (from 1) of the notices, newest first, and how many there are in all."""
    with connected(source) as conn:
        total = conn.execute(select(func.count()).select_from(notices)).scalar_one()
        rows = conn.execute(select(notices, campaigns.c.title)
                            .join(campaigns, campaigns.c.campaign == notices.c.campaign)
                            .order_by(notices.c.idx.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return [ListedNotice(_record(r), r.title) for r in rows], int(total)


def notice_html(source: Source, notice: str, lang: str = "zh") -> bytes | None:
    """The published bytes of ``notice`` in ``lang`` (``zh``: the Chinese page, or the
    one bilingual page of an older notice), or None if there is no such page."""
    with connected(source) as conn:
        html = conn.execute(select(notice_documents.c.html).where(
            notice_documents.c.notice == document_key(notice, lang))).scalar()
    return None if html is None else bytes(html)


def policy_body(source: Source, digest: str) -> dict[str, Any] | None:
    """The recorded body of the policy ``digest`` (``policy.adopted``), or None."""
    with connected(source) as conn:
        body = conn.execute(select(policies.c.body).where(
            policies.c.digest == digest)).scalar()
    if body is None:
        return None
    found: dict[str, Any] = json.loads(body)
    return found


def _record(row: Row[Any]) -> NoticeRecord:
    return NoticeRecord(
        notice=row.notice, campaign=row.campaign, sha256=row.sha256, lines=int(row.lines),
        checkpoint_size=int(row.checkpoint_size), period_start=row.period_start,
        period_end=row.period_end, supersedes=row.supersedes,
        superseded_by=row.superseded_by, published_at=row.published_at, index=int(row.idx),
        sha256_en=row.sha256_en)
