"""ledger.absence.sweep: each closed window decided once, after close + grace only."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.ledger.absence._domain import CLOSES, GRACE, OPENS, Domain


def test_windows_are_decided_once_after_close_and_grace(domain: Domain) -> None:
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [
        domain.event(0, "a", "joined", at), domain.event(0, "b", "completed", at),
        domain.event(1, "c", "connection_failed", at)]}, at + timedelta(minutes=1))
    assert domain.service.sweep(CLOSES) == 0  # closed, but within the grace period
    assert domain.service.sweep(CLOSES + GRACE - timedelta(seconds=1)) == 0
    assert domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1)) == 4
    assert domain.service.sweep(CLOSES + GRACE + timedelta(minutes=5)) == 0  # never twice
    decided = domain.decided()
    outcome = {i: decided[w]["outcome"] for i, w in enumerate(domain.windows)}
    cause = {i: decided[w]["cause"] for i, w in enumerate(domain.windows)}
    assert outcome[0] == "attended"
    assert (cause[1], outcome[1]) == ("technical", "makeup_pending_review")
    assert (cause[2], outcome[2]) == ("no_show", "forfeited")
    made = domain.entries("decision.made")
    assert sorted(e["body"]["window"] for e in made) == sorted(domain.windows)
