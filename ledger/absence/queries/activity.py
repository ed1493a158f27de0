"""Who did what: the ledger entries that touched a campaign or a decision, one page at a
time, read by key from ``p_activity`` (``ledger.absence.activity_index`` writes it), never
by scanning the log.

Actors are as the ledger records them (``hr:u_…``, ``reviewer:u_…``, ``platform``,
``scheduler``); turning a user id into a login name is the caller's (the accounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from ledger.absence.activity_index import CAMPAIGN, DECISION
from ledger.absence.queries import Source, connected
from ledger.absence.tables import activity

__all__ = ["MAX_PER_PAGE", "Activity", "ActivityPage", "campaign_activity",
           "decision_activity", "latest"]

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Activity:
    """One ledger entry that touched the thing."""

    index: int  # the entry's ledger index
    kind: str  # its type, e.g. "decision.reviewed"
    actor: str  # as recorded: "<role>:<user id>", "platform", "scheduler" …
    at: str  # RFC 3339 UTC, as the ledger wrote it
    why: str | None  # the reason it carries (a code, or a correction's text)


@dataclass(frozen=True)
class ActivityPage:
    """One page of entries, newest first, and how many there are in all."""

    items: list[Activity]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def _page(source: Source, target: str, page: int, per_page: int) -> ActivityPage:
    if page < 1:
        raise ValueError(f"page must be 1 or more, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be 1..{MAX_PER_PAGE}, not {per_page}")
    with connected(source) as conn:
        total = conn.execute(select(func.count()).select_from(activity)
                             .where(activity.c.target == target)).scalar_one()
        rows = conn.execute(select(activity).where(activity.c.target == target)
                            .order_by(activity.c.idx.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return ActivityPage([Activity(int(r.idx), r.kind, r.actor, r.at, r.why) for r in rows],
                        int(total), page, per_page)


def campaign_activity(source: Source, campaign: str, *, page: int = 1, per_page: int = 50
                      ) -> ActivityPage:
    """The entries that touched ``campaign``, newest first, page ``page`` (from 1).

    Raises:
        ValueError: ``page`` below 1, or ``per_page`` not 1..``MAX_PER_PAGE``.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    return _page(source, CAMPAIGN + campaign, page, per_page)


def decision_activity(source: Source, decision: str, *, page: int = 1, per_page: int = 50
                      ) -> ActivityPage:
    """The entries that touched ``decision`` (made it, reviewed it, appealed it, ruled on
    the appeal, superseded it, notified it), newest first, page ``page`` (from 1).

    Raises:
        ValueError: ``page`` below 1, or ``per_page`` not 1..``MAX_PER_PAGE``.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    return _page(source, DECISION + decision, page, per_page)


def latest(source: Source, decision: str, kinds: Sequence[str]) -> Activity | None:
    """The newest entry of one of ``kinds`` that touched ``decision`` (e.g. its review);
    None if there is none.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        r = conn.execute(select(activity).where(activity.c.target == DECISION + decision,
                                                activity.c.kind.in_(list(kinds)))
                         .order_by(activity.c.idx.desc()).limit(1)).first()
    return None if r is None else Activity(int(r.idx), r.kind, r.actor, r.at, r.why)
