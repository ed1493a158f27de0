"""Decisions: the entry a decision becomes, its explanation, and reads."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from ledger import jcs
from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.context import row_by_key, sha256_hex
from ledger.absence.rules import AbsenceDecision, Cause, Explanation, Outcome, Policy, explain
from ledger.entry import format_time, parse_utc
from ledger.errors import NotFound
from ledger.storage.store import NewEntry

log = logging.getLogger(__name__)


def explanation_digest(zh: str, en: str) -> str:
    """SHA-256 of the RFC 8785 JSON ``{"en", "zh"}``: what a decision told the candidate."""
    return sha256_hex(jcs.canonical({"en": en, "zh": zh}))


def explanation_of(d: AbsenceDecision, outcome: str, policy: Policy, tz: ZoneInfo
                   ) -> Explanation:
    """What a decision with ``outcome`` tells the candidate (the text its digest covers)."""
    ex = explain(d, policy, tz)
    if outcome == "makeup_granted":
        ex = Explanation(zh="经申诉复核，原缺考认定被撤销，安排补考。" + ex.zh,
                         en="On appeal the absence ruling was overturned and a "
                            "make-up session is granted. " + ex.en)
    return ex


def decision_entry(d: AbsenceDecision, campaign: str, policy: Policy,
                    tz: ZoneInfo, basis: str, *, decision_id: str,
                    idem: str | None = None, supersedes: str | None = None,
                    outcome: str | None = None, reason: str | None = None) -> NewEntry:
    ex = explanation_of(d, outcome or str(d.outcome), policy, tz)
    body: dict[str, Any] = {
        "decision": decision_id, "window": d.window, "campaign": campaign,
        "subject": d.subject, "outcome": outcome or str(d.outcome),
        "evidence": ",".join(map(str, d.evidence)), "policy_digest": d.policy_digest,
        "reason": reason or d.reason,
        "explanation_sha256": explanation_digest(ex.zh, ex.en), "basis": basis}
    if d.cause is not None:
        body["cause"] = str(d.cause)
    if d.rebook_until is not None:
        body["rebook_until"] = format_time(d.rebook_until)
    if supersedes is not None:
        body["supersedes"] = supersedes
    return NewEntry("decision.made", "scheduler" if basis == "sweep" else "system", body,
                    idempotency_key=idem)


def decision_row(conn: Connection, decision: str) -> Any:
    """The ``p_decisions`` row of ``decision``.

    Raises:
        NotFound: no such decision.
    """
    return row_by_key(conn, P.decisions.c.decision, decision)


def as_rule(row: Any) -> AbsenceDecision:
    return AbsenceDecision(
        window=row.window, subject=row.subject,
        outcome=Outcome(row.outcome) if row.outcome != "makeup_granted"
        else Outcome.MAKEUP_PENDING,
        cause=Cause(row.cause) if row.cause else None,
        evidence=tuple(int(x) for x in row.evidence.split(",") if x),
        decided_at=parse_utc(row.decided_at),
        rebook_until=parse_utc(row.rebook_until) if row.rebook_until else None,
        policy_digest=row.policy_digest, reason=row.reason)


def decision_json(row: Any, registration: str) -> dict[str, Any]:
    return {"decision": row.decision, "window": row.window, "campaign": row.campaign,
            "subject": row.subject, "registration": registration, "outcome": row.outcome,
            "cause": row.cause, "reason": row.reason,
            "evidence": [int(x) for x in row.evidence.split(",") if x],
            "policy_digest": row.policy_digest, "basis": row.basis,
            "rebook_until": row.rebook_until, "rebook_offer": _offer_state(row),
            "supersedes": row.supersedes,
            "superseded_by": row.superseded_by, "review": row.review,
            "review_reason": row.review_reason,
            "decided_at": row.decided_at, "ledger_index": row.idx,
            "explanation_sha256": row.explanation_sha256}


def _offer_state(row: Any) -> str | None:
    """A rebooking offer as the API shows it: None (no offer), open, taken or lapsed."""
    if row.outcome != "rebook_offered":
        return None
    return str(row.offer or "open")


class Decisions(CampaignUseCase):
    """Read decisions with their explanations."""

    def decision(self, decision: str) -> dict[str, Any]:
        """A decision with its evidence, explanation (zh/en) and what superseded it.

        Raises:
            NotFound: no such decision.
        """
        with self.read() as conn:
            row = decision_row(conn, decision)
            tz = ZoneInfo(conn.execute(select(P.campaigns.c.timezone).where(
                P.campaigns.c.campaign == row.campaign)).scalar_one())
            reg = conn.execute(select(P.subjects.c.registration).where(
                P.subjects.c.subject == row.subject)).scalar_one()
        out = decision_json(row, reg)
        try:
            policy = self.policy_by_digest(row.policy_digest)
            ex = explanation_of(as_rule(row), row.outcome, policy, tz)
            out["explanation"] = {"zh": ex.zh, "en": ex.en}
            out["explanation_matches_ledger"] = (
                explanation_digest(ex.zh, ex.en) == row.explanation_sha256)
        except NotFound as exc:
            out["explanation"] = None
            out["explanation_error"] = str(exc)
        return out

    def decisions(self, campaign: str, *, outcome: str | None = None,
                  pending_review: bool = False, limit: int = 1000, after: str = ""
                  ) -> list[dict[str, Any]]:
        """The campaign's decisions by id (no explanations: fetch one for that)."""
        self._campaigns.campaign(campaign)
        q = (select(P.decisions, P.subjects.c.registration)
             .join(P.subjects, P.subjects.c.subject == P.decisions.c.subject)
             .where(P.decisions.c.campaign == campaign, P.decisions.c.decision > after))
        if outcome is not None:
            q = q.where(P.decisions.c.outcome == outcome)
        if pending_review:
            q = q.where(P.decisions.c.review == "pending",
                        P.decisions.c.superseded_by.is_(None))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.decisions.c.decision).limit(limit)).all()
        return [decision_json(r, r.registration) for r in rows]
