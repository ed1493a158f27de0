"""Reading objection rows: the counts a notice shows, whether a candidate has left the
process, and the two shapes an objection is given in (public, and for the office).
Pure reads over the projection (``p_objections`` and the 递补 tables)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.objections)
from ledger.absence.backfill import VACATING_OUTCOMES
from ledger.absence.context import row_by_key
from ledger.errors import Conflict

#: An objection in one of these states may still be acknowledged, answered or ruled.
OPEN_STATES = ("filed", "acknowledged", "deferred")


def objection_counts(conn: Connection, notice: str | None = None, *,
                     campaign: str | None = None) -> dict[str, int]:
    """A notice's (or a campaign's) objections by how they stand: ``received``, ``open``,
    ``upheld``, ``cancelled``, ``deferred`` (counts only: no personal data)."""
    o = P.objections.c
    where = o.notice == notice if campaign is None else o.campaign == campaign
    rows = conn.execute(select(o.state, o.ruling, func.count()).where(where)
                        .group_by(o.state, o.ruling)).all()
    out = {"received": 0, "open": 0, "upheld": 0, "cancelled": 0, "deferred": 0}
    for state, ruling, n in rows:
        out["received"] += n
        if ruling in ("upheld", "cancelled", "deferred"):
            out[ruling] += n
        if state in ("filed", "acknowledged"):
            out["open"] += n
    return out


def has_left(conn: Connection, subject: str) -> bool:
    """Whether ``subject`` left the process already (a recorded vacancy, a vacancy
    answered, or a final absence decision that vacates): a cancellation then leaves no
    second vacancy."""
    if conn.execute(select(P.vacancies.c.vacancy).where(
            P.vacancies.c.subject == subject)).first():
        return True
    if conn.execute(select(P.backfills.c.item).where(
            P.backfills.c.vacated == subject)).first():
        return True
    d = P.decisions.c
    return conn.execute(select(d.decision).where(
        d.subject == subject, d.superseded_by.is_(None),
        d.outcome.in_(VACATING_OUTCOMES)
        | ((d.outcome == "makeup_pending_review") & (d.review == "confirmed")))
        ).first() is not None


def open_row(conn: Connection, objection: str) -> Row[Any]:
    o = row_by_key(conn, P.objections.c.objection, objection)
    if o.state not in OPEN_STATES:
        raise Conflict(f"objection {objection} was ruled already ({o.ruling})",
                       field="objection")
    return o


def public(row: Any) -> dict[str, Any]:
    return {"objection": row.objection, "notice": row.notice, "state": row.state,
            "ground": row.ground, "channel": row.channel, "filed_at": row.filed_at,
            "ack_by": row.ack_by, "reply_by": row.reply_by,
            "acknowledged_at": row.acknowledged_at, "ruling": row.ruling,
            "ruled_at": row.ruled_at, "ruling_reason": row.ruling_reason}


def record(row: Any) -> dict[str, Any]:
    return {**public(row), "campaign": row.campaign, "subject": row.subject,
            "line": row.line, "statement_hmac": row.statement_hmac,
            "objector_sha256": row.objector_sha256, "filed_by": row.filed_by,
            "invited_at": row.invited_at, "respond_by": row.respond_by,
            "statement_at": row.statement_at, "ruled_by": row.ruled_by,
            "objector_erased": bool(row.objector_erased), "ledger_index": row.idx}
