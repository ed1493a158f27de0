"""The review card's evidence, in words: what the platform reported about a pending
decision's window, the notifications sent and their receipts, and the rule that
decided (its explanation), every time at the campaign's wall clock."""

from __future__ import annotations

from typing import Any

from ledger.absence.queries.reviews import review_evidence
from ledger.absence.service import AbsenceService
from ledger.app.web.forms import Lang, words
from ledger.timetext import written

KINDS: dict[str, tuple[str, str]] = words("console_hr.review_kinds")
TEMPLATES: dict[str, tuple[str, str]] = words("console_hr.review_templates")
CHANNELS: dict[str, tuple[str, str]] = words("console_hr.review_channels")
STATUS: dict[str, tuple[str, str]] = words("console_hr.review_status")

__all__ = ["review_cards"]


def review_cards(svc: AbsenceService, pending: list[dict[str, Any]], tz: str, lg: Lang
                 ) -> list[dict[str, Any]]:
    """``pending`` decisions, each with ``events``, ``messages`` and ``rule`` (the
    explanation in the page's language) for its card.

    Raises:
        NotFound: a decision vanished meanwhile.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    lang = lg.code
    cards = []
    for d in pending:
        ev = review_evidence(svc.engine, d["decision"])
        detail = svc.decision(d["decision"])
        ex = detail.get("explanation") or {}
        cards.append(d | {
            "events": [{"kind": lg.of(KINDS, e.kind), "at": written(e.at, tz, lang, zone=True),
                        "index": e.idx} for e in (ev.events if ev else ())],
            "messages": [{"template": lg.of(TEMPLATES, m.template),
                          "channel": lg.of(CHANNELS, m.channel),
                          "status": lg.of(STATUS, m.status), "attempts": m.attempts,
                          "at": written(m.updated_at, tz, lang, zone=True)}
                         for m in (ev.messages if ev else ())],
            "rule": ex.get("en" if lang == "en" else "zh", "")})
    return cards
