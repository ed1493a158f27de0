"""A decision as the candidate reads it: who decided, what, why, what happens next and
by when, in plain words (``[selfservice.status|who|what|why|next]`` in the catalog).

The ledger's own explanation (``ledger.absence.rules.explain``, which its digest covers)
names the rule code and the policy digest for auditors; the candidate's page shows this
text instead, built from the same decision facts, so that the headline, the history and
the paragraph say one thing.  Times are the campaign's wall clock (``ledger.timetext``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ledger.app.web.forms import Lang, words
from ledger.entry import parse_utc
from ledger.timetext import written

STATUS: dict[str, tuple[str, str]] = words("selfservice.status")
WHO: dict[str, tuple[str, str]] = words("selfservice.who")
WHAT: dict[str, tuple[str, str]] = words("selfservice.what")
WHY: dict[str, tuple[str, str]] = words("selfservice.why")
NEXT: dict[str, tuple[str, str]] = words("selfservice.next")


@dataclass(frozen=True)
class Reading:
    """One decision in the candidate's words: ``status`` (the headline), ``who``
    (system, reviewer or appeal), ``text`` (the paragraph) and ``current``."""

    status: str
    who: str
    text: str
    current: bool


def _t(lg: Lang, table: Mapping[str, tuple[str, str]], key: str, **fmt: str) -> str:
    return lg.pick(table[key]).format(**fmt)


def state_of(d: Mapping[str, Any]) -> str:
    """The decision's state as the candidate knows it: an outcome (``attended``,
    ``forfeited``, ``rebook_offered``, ``locked``), or for a case reviewed by hand
    ``pending``, ``confirmed`` or ``review_granted``, or ``appeal_granted``."""
    outcome = str(d["outcome"])
    if outcome == "makeup_granted":
        return "appeal_granted"
    if outcome == "makeup_pending_review":
        review = d.get("review")
        return {"confirmed": "confirmed", "makeup_granted": "review_granted"}.get(
            str(review), "pending")
    return outcome


def who_of(state: str) -> str:
    """Who decided: ``system``, ``reviewer`` or ``appeal``."""
    if state == "appeal_granted":
        return "appeal"
    if state in ("confirmed", "review_granted"):
        return "reviewer"
    return "system"


def read(d: Mapping[str, Any], lg: Lang, tz: str, appeal_period_s: int | None) -> Reading:
    """``d`` (a decision as ``AbsenceService.status`` lists it) in the candidate's words.

    ``appeal_period_s`` is the decision's policy's appeal period (None: not known, the
    text then names no appeal deadline).

    Raises:
        KeyError: ``d`` lacks ``outcome`` or ``decided_at``.
        ValueError: ``decided_at`` or ``rebook_until`` is not an RFC 3339 UTC time.
    """
    state = state_of(d)
    who = who_of(state)
    current = d.get("superseded_by") is None
    decided = parse_utc(str(d["decided_at"]))
    at = written(decided, tz, lg.code, zone=True)
    label = lg.of(STATUS, state) + ("" if current else lg.of(STATUS, "superseded"))
    if state == "appeal_granted":
        why = lg.of(WHY, "appeal")
    elif state == "attended" or not d.get("cause"):
        why = lg.of(WHY, "attended") if state == "attended" else ""
    else:
        why = lg.of(WHY, str(d["cause"]))
    until = (written(decided + timedelta(seconds=appeal_period_s), tz, lg.code, zone=True)
             if appeal_period_s is not None else "")
    if not current:
        after = lg.of(NEXT, "superseded")
    elif state == "attended":
        after = lg.of(NEXT, "none")
    elif state in ("review_granted", "appeal_granted"):
        after = lg.of(NEXT, "makeup")
    elif state == "pending" and until:
        after = _t(lg, NEXT, "pending", until=until)
    elif state == "rebook_offered" and d.get("rebook_until") and until:
        after = _t(lg, NEXT, "rebook", until=until, rebook=written(
            str(d["rebook_until"]), tz, lg.code, zone=True))
    elif until:
        after = _t(lg, NEXT, "appeal", until=until)
    else:
        after = ""
    sep = "" if lg.code == "zh" else " "
    parts = [_t(lg, WHO, who, at=at), lg.of(WHAT, state), why, after]
    return Reading(status=label, who=who, text=sep.join(p for p in parts if p),
                   current=current)
