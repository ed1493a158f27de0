"""ledger.absence.reviews: a reviewer rules once on a decision pending review."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import Conflict
from tests.unit.ledger.absence._domain import CLOSES, GRACE, OPENS, REVIEWER, Domain


def pending(domain: Domain) -> str:
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [domain.event(1, "c", "connection_failed", at)]},
                          at + timedelta(minutes=1))
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    decision = domain.decided()[domain.windows[1]]
    assert decision["outcome"] == "makeup_pending_review"
    return str(decision["decision"])


def test_a_confirmed_review_is_recorded_and_cannot_be_made_twice(domain: Domain) -> None:
    decision = pending(domain)
    now = CLOSES + timedelta(hours=1)
    domain.service.review(REVIEWER, decision, {"ruling": "confirmed"}, now)
    (entry,) = domain.entries("decision.reviewed")
    assert entry["body"]["ruling"] == "confirmed"
    assert domain.service.decision(decision)["review"] == "confirmed"
    size = domain.size()
    with pytest.raises(Conflict):
        domain.service.review(REVIEWER, decision, {"ruling": "confirmed"},
                              now + timedelta(minutes=1))
    assert domain.size() == size


def test_a_granted_make_up_schedules_a_window(domain: Domain) -> None:
    decision = pending(domain)
    now = CLOSES + timedelta(hours=1)
    opens, closes = now + timedelta(days=1), now + timedelta(days=1, hours=1)
    domain.service.review(REVIEWER, decision, {"ruling": "makeup_granted",
                                               "opens_at": opens.isoformat(),
                                               "closes_at": closes.isoformat()}, now)
    makeups = [e["body"] for e in domain.entries("window.scheduled")
               if e["body"]["kind"] == "makeup"]
    assert len(makeups) == 1
    assert domain.service.decision(decision)["review"] == "makeup_granted"
