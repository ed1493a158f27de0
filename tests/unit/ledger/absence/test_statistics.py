"""ledger.absence.statistics: a campaign's counts read from its projections: absence
rate and causes over first decisions, make-ups, appeals and overturns."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import NotFound
from tests.unit.ledger.absence._domain import (
    CAMPAIGN,
    CLOSES,
    GRACE,
    OPENS,
    REVIEWER,
    Domain,
)

DECIDED = CLOSES + GRACE + timedelta(seconds=1)


def test_before_any_decision_the_rates_are_undefined(domain: Domain) -> None:
    stats = domain.service.statistics(CAMPAIGN)
    assert stats["windows"] == {"regular": 4, "makeup": 0, "rebook": 0, "undecided": 4}
    assert (stats["decided"], stats["absence_rate"]) == (0, None)
    assert stats["appeals"]["appeal_rate"] is None
    assert stats["notifications"] == {"pending": 4}  # the invitations
    with pytest.raises(NotFound):
        domain.service.statistics("c_none")


def test_counts_follow_decisions_appeals_and_overturns(domain: Domain) -> None:
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [
        domain.event(0, "a", "joined", at), domain.event(0, "b", "completed", at),
        domain.event(1, "c", "connection_failed", at)]}, at + timedelta(minutes=1))
    domain.service.ingest("m2", {"events": [  # after the close: quarantined
        domain.event(3, "d", "joined", CLOSES + timedelta(minutes=1))]},
        CLOSES + timedelta(minutes=2))
    domain.service.sweep(DECIDED)
    row = domain.rows[2]
    filed = domain.service.file_appeal(CAMPAIGN, {
        "registration": row["registration"], "factor": row["id_number"][-4:],
        "ground": "technical", "statement": "网络中断。"}, DECIDED + timedelta(hours=1))
    domain.service.rule_appeal(REVIEWER, filed["appeal"], {
        "ruling": "overturned",
        "opens_at": (DECIDED + timedelta(days=2)).isoformat(),
        "closes_at": (DECIDED + timedelta(days=2, hours=1)).isoformat()},
        DECIDED + timedelta(days=1))
    stats = domain.service.statistics(CAMPAIGN)
    assert (stats["decided"], stats["attended"], stats["absent"]) == (4, 1, 3)
    assert stats["absence_rate"] == 0.75
    assert stats["causes"] == {"technical": 1, "compatibility": 0,
                               "notification_failed": 0, "withdrawn": 0, "no_show": 2}
    assert stats["cause_shares"]["no_show"] == round(2 / 3, 4)
    # The first decisions count: the overturn supersedes one, it does not add one.
    assert stats["outcomes"] == {"attended": 1, "makeup_pending_review": 1, "forfeited": 2}
    assert stats["pending_review"] == 1
    assert stats["windows"] == {"regular": 4, "makeup": 1, "rebook": 0, "undecided": 1}
    assert stats["makeups"] == {"granted": 1, "rate": round(1 / 3, 4), "attended": 0}
    assert stats["appeals"] == {"filed": 1, "open": 0, "upheld": 0, "overturned": 1,
                                "appeal_rate": round(1 / 3, 4), "overturn_rate": 1.0,
                                "misjudgment_rate": round(1 / 3, 4)}
    assert stats["quarantined_events"] == 1
    assert stats["alerts"] == 0
