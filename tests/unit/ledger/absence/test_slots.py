"""ledger.absence.slots: backup time slots reserved, listed with their seats, and taken by
make-ups, rebookings, alternate slots and a mass make-up (each seat counted under the
log's lock, a full slot refused naming ``backup_slot``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger.absence.queries import activity as A  # noqa: N812
from ledger.absence.rebuild import check_rebuild
from ledger.errors import BadData, Conflict, NotFound
from tests.unit.ledger.absence._domain import (
    CAMPAIGN,
    CLOSES,
    GRACE,
    HR,
    OPENS,
    REVIEWER,
    T0,
    Domain,
)
from tests.unit.ledger.absence.test_alerts import DECIDED, OUTAGE, outage

DAY = T0 + timedelta(days=2)
NOW = CLOSES + timedelta(hours=1)


def reserve(domain: Domain, slot: str, capacity: int, *, campaign: str = CAMPAIGN,
            hours: int = 0, now: Any = T0) -> dict[str, Any]:
    opens = DAY + timedelta(hours=hours)
    return domain.service.reserve_backup_slot(HR, campaign, {
        "slot": slot, "opens_at": opens.isoformat(),
        "closes_at": (opens + timedelta(hours=1)).isoformat(), "capacity": capacity}, now)


def pending(domain: Domain, *which: int) -> list[str]:
    """Decisions pending review for the candidates ``which`` (a connection failure)."""
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [domain.event(i, f"e{i}", "connection_failed", at)
                                            for i in which]}, at + timedelta(minutes=1))
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    decided = domain.decided()
    return [str(decided[domain.windows[i]]["decision"]) for i in which]


def test_a_reserved_slot_is_an_entry_and_listed_with_its_seats(domain: Domain) -> None:
    out = reserve(domain, "b1", 3)
    (entry,) = domain.entries("slot.reserved")
    assert entry["actor"] == HR.actor
    assert entry["body"] == {"campaign": CAMPAIGN, "slot": "b1",
                             "opens_at": "2026-11-27T00:00:00.000Z",
                             "closes_at": "2026-11-27T01:00:00.000Z", "capacity": 3}
    assert (out["slot"], out["capacity"], out["used"], out["free"]) == ("b1", 3, 0, 3)
    opens = DAY + timedelta(hours=5)
    default = domain.service.reserve_backup_slot(HR, CAMPAIGN, {
        "opens_at": opens.isoformat(), "closes_at": (opens + timedelta(hours=1)).isoformat(),
        "capacity": 1}, T0)
    assert default["slot"] == "b20261127T0500"
    assert [s["slot"] for s in domain.service.backup_slots(CAMPAIGN)] == [
        "b1", "b20261127T0500"]


@pytest.mark.parametrize(("data", "error", "field"), [
    ({"opens_at": (T0 - timedelta(hours=1)).isoformat(), "closes_at": DAY.isoformat(),
      "capacity": 1}, BadData, "opens_at"),
    ({"opens_at": DAY.isoformat(), "closes_at": DAY.isoformat(), "capacity": 1},
     BadData, "closes_at"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": 0}, BadData, "capacity"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": 50001}, BadData, "capacity"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": True}, BadData, "capacity"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": "3"}, BadData, "capacity"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": 3, "slot": "makeup"}, BadData, "slot"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": 3, "slot": "b1"}, Conflict, "slot"),
    ({"opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
      "capacity": 3, "slot": "s20261125T0010"}, Conflict, "slot"),  # the regular slot
])
def test_a_bad_reservation_writes_nothing(domain: Domain, data: dict[str, Any],
                                          error: type[Exception], field: str) -> None:
    reserve(domain, "b1", 1)
    size = domain.size()
    with pytest.raises(error) as err:
        domain.service.reserve_backup_slot(HR, CAMPAIGN, data, T0)
    assert getattr(err.value, "field", None) == field
    assert domain.size() == size


def test_a_slot_of_an_unknown_campaign_is_not_found(domain: Domain) -> None:
    with pytest.raises(NotFound):
        reserve(domain, "b1", 1, campaign="c_none")


def test_make_ups_take_seats_until_the_slot_is_full(domain: Domain) -> None:
    reserve(domain, "b1", 1)
    first, second = pending(domain, 1, 2)
    domain.service.review(REVIEWER, first, {"ruling": "makeup_granted",
                                            "backup_slot": "b1"}, NOW)
    (makeup,) = [e["body"] for e in domain.entries("window.scheduled")
                 if e["body"]["kind"] == "makeup"]
    assert (makeup["slot"], makeup["opens_at"], makeup["closes_at"]) == (
        "b1", "2026-11-27T00:00:00.000Z", "2026-11-27T01:00:00.000Z")
    (slot,) = domain.service.backup_slots(CAMPAIGN)
    assert (slot["used"], slot["free"]) == (1, 0)
    assert domain.service.backup_slots(CAMPAIGN, usable_at=NOW) == []
    size = domain.size()
    with pytest.raises(Conflict) as err:
        domain.service.review(REVIEWER, second, {"ruling": "makeup_granted",
                                                 "backup_slot": "b1"}, NOW)
    assert err.value.field == "backup_slot"
    with pytest.raises(NotFound) as nf:
        domain.service.review(REVIEWER, second, {"ruling": "makeup_granted",
                                                 "backup_slot": "b_none"}, NOW)
    assert nf.value.field == "backup_slot"
    with pytest.raises(BadData) as bad:
        domain.service.review(REVIEWER, second, {
            "ruling": "makeup_granted", "backup_slot": "b1",
            "opens_at": DAY.isoformat()}, NOW)
    assert bad.value.field == "backup_slot"
    assert domain.size() == size
    assert domain.service.decision(second)["review"] == "pending"


def test_an_ended_slot_gives_no_seat(domain: Domain) -> None:
    reserve(domain, "b1", 5)
    (decision,) = pending(domain, 1)
    with pytest.raises(Conflict) as err:
        domain.service.review(REVIEWER, decision, {"ruling": "makeup_granted",
                                                   "backup_slot": "b1"},
                              DAY + timedelta(hours=2))
    assert err.value.field == "backup_slot"


def test_an_overturned_appeal_takes_a_seat(domain: Domain) -> None:
    reserve(domain, "b1", 2)
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    row = domain.rows[0]
    filed = domain.service.file_appeal(CAMPAIGN, {
        "registration": row["registration"], "factor": row["id_number"][-4:],
        "ground": "technical", "statement": "网络中断"}, NOW)
    out = domain.service.rule_appeal(REVIEWER, filed["appeal"], {
        "ruling": "overturned", "backup_slot": "b1"}, NOW)
    assert domain.service.window(out["makeup_window"])["slot"] == "b1"
    assert domain.service.backup_slots(CAMPAIGN)[0]["used"] == 1


def test_an_alternate_slot_moves_the_window_into_a_backup_slot(domain: Domain) -> None:
    reserve(domain, "b1", 1)
    window = domain.windows[0]
    out = domain.service.grant_accommodation(HR, window, {
        "kind": "alternate_slot", "backup_slot": "b1", "reason": "poor_signal"}, T0)
    assert (out["slot"], out["opens_at"], out["accommodation"]) == (
        "b1", "2026-11-27T00:00:00.000Z", "alternate_slot")
    (entry,) = domain.entries("accommodation.granted")
    assert entry["body"]["slot"] == "b1"
    assert domain.service.backup_slots(CAMPAIGN)[0]["used"] == 1
    with pytest.raises(Conflict) as full:
        domain.service.grant_accommodation(HR, domain.windows[1], {
            "kind": "alternate_slot", "backup_slot": "b1", "reason": "poor_signal"}, T0)
    assert full.value.field == "backup_slot"
    with pytest.raises(BadData) as bad:
        domain.service.grant_accommodation(HR, domain.windows[1], {
            "kind": "extended", "backup_slot": "b1", "reason": "poor_signal"}, T0)
    assert bad.value.field == "backup_slot"
    with pytest.raises(Conflict) as regular:  # regular windows cannot be put in it
        domain.service.schedule_windows(HR, CAMPAIGN, {
            "opens_at": DAY.isoformat(), "closes_at": (DAY + timedelta(hours=1)).isoformat(),
            "slot": "b1", "subjects": [domain.service.window(window)["subject"]]}, T0)
    assert regular.value.field == "slot"
    result = check_rebuild(domain.service.store, domain.service.log)
    assert result.equal, result.differences
    assert result.tables["p_backup_slots"] == 1


def test_a_mass_make_up_fills_backup_slots_earliest_first(domain: Domain) -> None:
    outage(domain)
    now = DECIDED + timedelta(hours=1)
    reserve(domain, "late", 10, campaign=OUTAGE, hours=3, now=now)
    reserve(domain, "early", 2, campaign=OUTAGE, hours=1, now=now)
    (alert,) = domain.service.alerts(OUTAGE)
    size = domain.size()
    with pytest.raises(Conflict) as err:  # one slot of 2 cannot seat 5
        domain.service.resolve_alert(REVIEWER, alert["alert"], {
            "action": "mass_makeup", "backup_slot": "early"}, now)
    assert err.value.field == "backup_slot"
    with pytest.raises(BadData):
        domain.service.resolve_alert(REVIEWER, alert["alert"], {
            "action": "mass_makeup", "use_backup_slots": "yes"}, now)
    assert domain.size() == size
    out = domain.service.resolve_alert(REVIEWER, alert["alert"], {
        "action": "mass_makeup", "use_backup_slots": True}, now)
    assert out["makeups"] == 5
    seats = {s["slot"]: s["used"] for s in domain.service.backup_slots(OUTAGE)}
    assert seats == {"early": 2, "late": 3}


def test_a_mass_make_up_beyond_the_free_seats_writes_nothing(domain: Domain) -> None:
    outage(domain)
    now = DECIDED + timedelta(hours=1)
    reserve(domain, "early", 2, campaign=OUTAGE, hours=1, now=now)
    reserve(domain, "late", 2, campaign=OUTAGE, hours=3, now=now)
    (alert,) = domain.service.alerts(OUTAGE)
    size = domain.size()
    with pytest.raises(Conflict) as err:
        domain.service.resolve_alert(REVIEWER, alert["alert"], {
            "action": "mass_makeup", "use_backup_slots": True}, now)
    assert err.value.field == "use_backup_slots"
    assert domain.size() == size


def test_a_reservation_is_on_the_campaign_activity(domain: Domain) -> None:
    reserve(domain, "b1", 3)
    page = A.campaign_activity(domain.service.engine, CAMPAIGN)
    (row,) = [e for e in page.items if e.kind == "slot.reserved"]
    assert row.actor == HR.actor


def test_an_unused_slot_may_be_withdrawn_a_used_one_stays(domain: Domain) -> None:
    reserve(domain, "b1", 2)
    reserve(domain, "b2", 2, hours=2)
    out = domain.service.withdraw_backup_slot(HR, CAMPAIGN, "b2", T0)
    (entry,) = domain.entries("slot.withdrawn")
    assert entry["body"] == {"campaign": CAMPAIGN, "slot": "b2"}
    assert out["ledger_index"] == domain.size() - 1
    assert [s["slot"] for s in domain.service.backup_slots(CAMPAIGN)] == ["b1"]
    reserve(domain, "b2", 5, hours=3)  # the id is free again
    domain.service.grant_accommodation(HR, domain.windows[0], {
        "kind": "alternate_slot", "backup_slot": "b1", "reason": "poor_signal"}, T0)
    size = domain.size()
    with pytest.raises(Conflict) as used:
        domain.service.withdraw_backup_slot(HR, CAMPAIGN, "b1", T0)
    assert used.value.field == "slot"
    with pytest.raises(NotFound) as unknown:
        domain.service.withdraw_backup_slot(HR, CAMPAIGN, "b9", T0)
    assert unknown.value.field == "slot"
    assert domain.size() == size
    result = check_rebuild(domain.service.store, domain.service.log)
    assert result.equal, result.differences
    assert result.tables["p_backup_slots"] == 2
