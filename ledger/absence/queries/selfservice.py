"""What a candidate's self-service pages read of the projection beyond the lookup use
case: whether the decision they would appeal already has an open appeal, and the
invitations to state their case on an objection (陈述、申辩) they have not answered."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import appeals, objections, subjects

__all__ = ["StatementInvitation", "open_appeal_of", "statement_invitations_of"]


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


@dataclass(frozen=True)
class StatementInvitation:
    """An invitation to state one's case (陈述、申辩) not yet answered: the objection's
    reference, its grounds category and the end of the time given (RFC 3339 UTC).
    Nothing of the objector (who they are, what they said)."""

    objection: str
    ground: str
    respond_by: str


def statement_invitations_of(source: Source, campaign: str, registration: str
                             ) -> list[StatementInvitation]:
    """The unanswered invitations of the candidate registered in ``campaign`` as
    ``registration`` (exactly as registered: what ``Lookup.status`` returns after the
    factor matched), on objections not yet finally ruled, oldest first; the time
    given may have passed (the page then says so).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    o, s = objections.c, subjects.c
    with connected(source) as conn:
        rows = conn.execute(
            select(o.objection, o.ground, o.respond_by)
            .join(subjects, s.subject == o.subject)
            .where(s.campaign == campaign, s.registration == registration,
                   o.invited_at.is_not(None), o.statement_at.is_(None),
                   o.state.in_(("filed", "acknowledged", "deferred")))
            .order_by(o.idx)).all()
    return [StatementInvitation(r.objection, r.ground, r.respond_by) for r in rows]
