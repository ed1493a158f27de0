"""ledger.absence.queries.activity: the entries that touched a campaign or a decision,
paged by key from p_activity, equal to a replay of the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.absence.queries import activity as A  # noqa: N812
from ledger.absence.rebuild import check_rebuild
from tests.unit.ledger.absence._domain import (
    CAMPAIGN,
    CLOSES,
    GRACE,
    OPENS,
    REVIEWER,
    Domain,
)


def _reviewed(domain: Domain) -> str:
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [domain.event(1, "c", "connection_failed", at)]},
                          at + timedelta(minutes=1))
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    decision = str(domain.decided()[domain.windows[1]]["decision"])
    domain.service.review(REVIEWER, decision, {"ruling": "confirmed"},
                          CLOSES + timedelta(hours=1))
    return decision


def test_a_decision_lists_its_making_and_its_review_newest_first(domain: Domain) -> None:
    decision = _reviewed(domain)
    page = A.decision_activity(domain.service.engine, decision)
    kinds = [e.kind for e in page.items]
    assert kinds[-1] == "decision.made"
    assert "decision.reviewed" in kinds
    review = next(e for e in page.items if e.kind == "decision.reviewed")
    assert review.actor == REVIEWER.actor
    assert review.why == "confirmed"
    assert [e.index for e in page.items] == sorted((e.index for e in page.items), reverse=True)
    latest = A.latest(domain.service.engine, decision, ("decision.reviewed",))
    assert latest == review
    assert A.latest(domain.service.engine, decision, ("appeal.ruled",)) is None


def test_campaign_pages_hold_every_entry_of_the_campaign_once(domain: Domain) -> None:
    _reviewed(domain)
    engine = domain.service.engine
    first = A.campaign_activity(engine, CAMPAIGN, per_page=3)
    assert first.total >= 6
    assert first.pages == -(-first.total // 3)
    seen = [e.index for n in range(1, first.pages + 1)
            for e in A.campaign_activity(engine, CAMPAIGN, page=n, per_page=3).items]
    assert len(seen) == len(set(seen)) == first.total
    entries = domain.entries()
    named = {i for i, e in enumerate(entries) if e["body"].get("campaign") == CAMPAIGN}
    assert named <= set(seen)
    assert A.campaign_activity(engine, CAMPAIGN, page=first.pages + 1, per_page=3).items == []
    assert A.campaign_activity(engine, "no-such").total == 0


def test_the_activity_rows_equal_a_replay(domain: Domain) -> None:
    _reviewed(domain)
    result = check_rebuild(domain.service.store, domain.service.log)
    assert result.equal, result.differences
    assert result.tables["p_activity"] > 0


def test_bad_pages_are_refused(domain: Domain) -> None:
    with pytest.raises(ValueError, match="page"):
        A.campaign_activity(domain.service.engine, CAMPAIGN, page=0)
    with pytest.raises(ValueError, match="per_page"):
        A.decision_activity(domain.service.engine, "d", per_page=A.MAX_PER_PAGE + 1)
