"""What a candidate's self-service pages read of the projection beyond the lookup use
case: whether the decision they would appeal already has an open appeal."""

from __future__ import annotations

from sqlalchemy import select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import appeals

__all__ = ["open_appeal_of"]


def open_appeal_of(source: Source, decision: str) -> str | None:
    """The id of the appeal of ``decision`` not yet ruled on; None if there is none (no
    appeal, or every appeal of it ruled).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        found: str | None = conn.execute(
            select(appeals.c.appeal).where(appeals.c.decision == decision,
                                           appeals.c.ruling.is_(None))
            .order_by(appeals.c.idx).limit(1)).scalar()
    return found
