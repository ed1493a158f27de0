"""ledger.absence.ingest: platform events into entries, quarantine, replay by webhook id."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import BadData
from tests.unit.ledger.absence._domain import OPENS, Domain


def test_events_become_entries_and_a_replay_records_nothing(domain: Domain) -> None:
    at = OPENS + timedelta(minutes=5)
    now = at + timedelta(minutes=1)
    payload = {"events": [domain.event(0, "e1", "joined", at),
                          domain.event(0, "e2", "completed", at + timedelta(seconds=30)),
                          {"id": "e3", "window": "w_unknown", "kind": "joined",
                           "at": at.isoformat()}]}
    receipt, new = domain.service.ingest("#42", payload, now)
    assert new
    assert [e["status"] for e in receipt["events"]] == ["accepted", "accepted", "quarantined"]
    events = domain.entries("platform.event")
    assert [(e["body"]["event_id"], e["body"]["kind"]) for e in events] == [
        ("e1", "joined"), ("e2", "completed")]
    assert {e["body"]["webhook_id"] for e in events} == {"#42"}
    (quarantined,) = domain.entries("platform.quarantined")
    assert quarantined["body"]["reason"] == "unknown_window"
    size = domain.size()
    again, new = domain.service.ingest("#42", payload, now + timedelta(minutes=1))
    assert not new
    assert again == receipt
    assert domain.size() == size


def test_an_event_of_another_kind_is_refused_whole(domain: Domain) -> None:
    at = OPENS + timedelta(minutes=5)
    size = domain.size()
    with pytest.raises(BadData) as err:
        domain.service.ingest("m1", {"events": [domain.event(0, "e1", "joined", at),
                                                domain.event(1, "e2", "teleported", at)]},
                              at + timedelta(minutes=1))
    assert err.value.field is not None
    assert err.value.field.endswith("kind")
    assert domain.size() == size  # nothing of the delivery was written


def test_an_event_after_the_window_closed_is_quarantined(domain: Domain) -> None:
    late = OPENS + timedelta(hours=2)
    receipt, _ = domain.service.ingest("m1", {"events": [domain.event(2, "e1", "joined",
                                                                      late)]},
                                       late + timedelta(seconds=5))
    assert receipt["events"][0]["status"] == "quarantined"
    assert receipt["events"][0]["reason"] == "after_close"
    assert domain.entries("platform.event") == []
