"""The console's long lists of a campaign: its decisions, candidates and windows, paged,
filtered and counted, in a stable order (registration number, then time, then id).

A page is an offset into that order; the order starts with the indexed
``(campaign, registration_key)``.  The search box finds registration numbers by prefix
of their lookup key (trimmed, case-insensitive), as a range on that index.  No personal
data: names and ID numbers are sealed in the vault; registration numbers are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import decisions, posts, subjects, windows

__all__ = [
    "MAX_PAGE_SIZE",
    "REVIEW_STATES",
    "CandidateRow",
    "DecisionRow",
    "ListFilter",
    "Page",
    "WindowRow",
    "campaign_posts",
    "campaign_slots",
    "candidate_list",
    "decision_list",
    "utc_bounds",
    "window_list",
]

MAX_PAGE_SIZE = 500
REVIEW_STATES = ("pending", "reviewed")
_REVIEWED = ("confirmed", "makeup_granted")
_BEYOND = "\U0010ffff"  # sorts after every character a registration key may hold

T = TypeVar("T")
_Query = Select[*tuple[Any, ...]]  # a query of rows of any columns


@dataclass(frozen=True)
class ListFilter:
    """What a list is narrowed to; an empty field does not narrow it.

    ``since``/``until`` are calendar dates in the campaign's zone (inclusive), applied to
    a decision's time or a window's opening; ``search`` is a registration number or its
    beginning, in any case, with spaces around it ignored.
    """

    post: str = ""
    outcome: str = ""
    cause: str = ""
    review: str = ""  # "pending" / "reviewed" (REVIEW_STATES) or ""
    slot: str = ""
    since: date | None = None
    until: date | None = None
    search: str = ""


@dataclass(frozen=True)
class Page(Generic[T]):
    """Page ``page`` (from 1) of ``size`` rows of a filtered list of ``total`` rows."""

    rows: tuple[T, ...]
    total: int
    page: int
    size: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, -(-self.total // self.size)))


@dataclass(frozen=True)
class DecisionRow:
    decision: str
    registration: str
    post: str
    window: str
    slot: str
    outcome: str
    cause: str | None
    review: str | None
    superseded_by: str | None
    decided_at: str  # RFC 3339 UTC
    evidence: tuple[int, ...]  # ledger indexes


@dataclass(frozen=True)
class CandidateRow:
    subject: str
    registration: str
    post: str
    misses: int
    locked: bool
    erased: bool


@dataclass(frozen=True)
class WindowRow:
    window: str
    registration: str
    post: str
    slot: str
    kind: str
    opens_at: str  # RFC 3339 UTC
    closes_at: str
    accommodation: str | None
    decision: str | None


def utc_bounds(since: date | None, until: date | None, tz: str
               ) -> tuple[str | None, str | None]:
    """The UTC instants (RFC 3339, as the projection writes them) that bound the days
    ``since``..``until`` (inclusive) of zone ``tz``: ``[start, end)``.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``tz`` is not a known zone.
    """
    zone = ZoneInfo(tz)

    def at(d: date) -> str:
        local = datetime.combine(d, time(0), zone)
        return local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")

    return (None if since is None else at(since),
            None if until is None else at(until + timedelta(days=1)))


def _search_key(text: str) -> str:
    return text.strip().lower()


def _narrow(q: _Query, f: ListFilter, tz: str, moment: Any | None, dialect: str
            ) -> _Query:
    if f.post:
        q = q.where(subjects.c.post == f.post)
    key = _search_key(f.search)
    if key and dialect == "sqlite":
        # SQLite compares text by its bytes: a prefix is a range on the index.
        q = q.where(subjects.c.registration_key >= key,
                    subjects.c.registration_key < key + _BEYOND)
    elif key:
        # Elsewhere the column's collation may not order by bytes: a prefix match.
        pattern = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(subjects.c.registration_key.like(pattern, escape="\\"))
    if moment is not None:
        start, end = utc_bounds(f.since, f.until, tz)
        if start is not None:
            q = q.where(moment >= start)
        if end is not None:
            q = q.where(moment < end)
    return q


def _paged(source: Source, q: _Query, order: Sequence[Any], page: int, size: int | None
           ) -> tuple[list[Any], int, int, int]:
    with connected(source) as conn:
        total = int(conn.execute(select(func.count()).select_from(q.subquery())).scalar_one())
        q = q.order_by(*order)
        if size is None:  # every row (an export)
            return list(conn.execute(q).all()), total, 1, max(total, 1)
        size = min(max(size, 1), MAX_PAGE_SIZE)
        pages = max(1, -(-total // size))
        page = min(max(page, 1), pages)
        rows = conn.execute(q.limit(size).offset((page - 1) * size)).all()
    return list(rows), total, page, size


def decision_list(source: Source, campaign: str, f: ListFilter, tz: str, *,
                  page: int = 1, size: int | None = 50) -> Page[DecisionRow]:
    """Page ``page`` of ``size`` (every row if None) of ``campaign``'s decisions that pass
    ``f`` (dates in zone ``tz``); a page past the end is the last one.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
        zoneinfo.ZoneInfoNotFoundError: ``tz`` is not a known zone.
    """
    d = decisions.c
    q: _Query = (select(d.decision, d.window, d.outcome, d.cause, d.review, d.superseded_by,
                d.decided_at, d.evidence, subjects.c.registration, subjects.c.post,
                windows.c.slot)
         .join(subjects, subjects.c.subject == d.subject)
         .join(windows, windows.c.window == d.window)
         .where(d.campaign == campaign, subjects.c.campaign == campaign))
    if f.outcome:
        q = q.where(d.outcome == f.outcome)
    if f.cause:
        q = q.where(d.cause == f.cause)
    if f.review == "pending":
        q = q.where(d.review == "pending", d.superseded_by.is_(None))
    elif f.review == "reviewed":
        q = q.where(d.review.in_(_REVIEWED))
    if f.slot:
        q = q.where(windows.c.slot == f.slot)
    q = _narrow(q, f, tz, d.decided_at, source.dialect.name)
    rows, total, page, size_ = _paged(
        source, q, (subjects.c.registration_key, d.decided_at, d.decision), page, size)
    return Page(tuple(DecisionRow(r.decision, r.registration, r.post, r.window, r.slot,
                                  r.outcome, r.cause, r.review, r.superseded_by,
                                  r.decided_at, _evidence(r.evidence)) for r in rows),
                total, page, size_)


def _evidence(text: str) -> tuple[int, ...]:
    """The ledger indexes of a decision's evidence (stored as ``"12,15,19"``)."""
    return tuple(int(x) for x in text.split(",") if x.strip().isdigit())


def candidate_list(source: Source, campaign: str, f: ListFilter, tz: str, *,
                   page: int = 1, size: int | None = 50) -> Page[CandidateRow]:
    """Page ``page`` of ``size`` (every row if None) of ``campaign``'s candidates that pass
    ``f`` (its post and search; a candidate has no time of its own, no outcome, slot...).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    s = subjects.c
    q: _Query = (select(s.subject, s.registration, s.post, s.misses, s.locked, s.erased)
         .where(s.campaign == campaign))
    q = _narrow(q, f, tz, None, source.dialect.name)
    rows, total, page, size_ = _paged(source, q, (s.registration_key, s.subject), page, size)
    return Page(tuple(CandidateRow(r.subject, r.registration, r.post, int(r.misses),
                                   bool(r.locked), bool(r.erased)) for r in rows),
                total, page, size_)


def window_list(source: Source, campaign: str, f: ListFilter, tz: str, *,
                page: int = 1, size: int | None = 50) -> Page[WindowRow]:
    """Page ``page`` of ``size`` (every row if None) of ``campaign``'s windows that pass
    ``f`` (dates on the opening time, in zone ``tz``; outcome, cause and review state
    through the window's current decision).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
        zoneinfo.ZoneInfoNotFoundError: ``tz`` is not a known zone.
    """
    w = windows.c
    q: _Query = (select(w.window, w.slot, w.kind, w.opens_at, w.closes_at, w.accommodation,
                w.decision, subjects.c.registration, subjects.c.post)
         .join(subjects, subjects.c.subject == w.subject)
         .where(w.campaign == campaign, subjects.c.campaign == campaign))
    if f.slot:
        q = q.where(w.slot == f.slot)
    if f.outcome or f.cause or f.review:
        q = q.join(decisions, decisions.c.decision == w.decision)
        if f.outcome:
            q = q.where(decisions.c.outcome == f.outcome)
        if f.cause:
            q = q.where(decisions.c.cause == f.cause)
        if f.review == "pending":
            q = q.where(decisions.c.review == "pending")
        elif f.review == "reviewed":
            q = q.where(decisions.c.review.in_(_REVIEWED))
    q = _narrow(q, f, tz, w.opens_at, source.dialect.name)
    rows, total, page, size_ = _paged(
        source, q, (subjects.c.registration_key, w.opens_at, w.window), page, size)
    return Page(tuple(WindowRow(r.window, r.registration, r.post, r.slot, r.kind, r.opens_at,
                                r.closes_at, r.accommodation, r.decision) for r in rows),
                total, page, size_)


def campaign_posts(source: Source, campaign: str) -> dict[str, str]:
    """``campaign``'s posts: post -> title, by post.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        rows = conn.execute(select(posts.c.post, posts.c.title)
                            .where(posts.c.campaign == campaign).order_by(posts.c.post)).all()
    return {r.post: r.title for r in rows}


def campaign_slots(source: Source, campaign: str) -> dict[str, str]:
    """``campaign``'s slots: slot -> the earliest opening (RFC 3339 UTC) of its windows,
    in the order they open.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    first = func.min(windows.c.opens_at)
    with connected(source) as conn:
        rows = conn.execute(select(windows.c.slot, first.label("opens"))
                            .where(windows.c.campaign == campaign)
                            .group_by(windows.c.slot).order_by(first, windows.c.slot)).all()
    return {r.slot: r.opens for r in rows}
