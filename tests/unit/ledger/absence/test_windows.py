"""ledger.absence.windows: interview windows scheduled (each with its invitation) and
accommodations granted before the close."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.errors import BadData, Conflict, NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, HR, OPENS, T0, Domain


def test_each_window_is_recorded_with_its_invitation(domain: Domain) -> None:
    scheduled = domain.entries("window.scheduled")
    queued = domain.entries("notification.queued")
    subjects = [domain.service.window(w)["subject"] for w in domain.windows]
    assert sorted(e["body"]["window"] for e in scheduled) == sorted(domain.windows)
    assert {e["body"]["kind"] for e in scheduled} == {"regular"}
    assert {e["body"]["opens_at"] for e in scheduled} == {"2026-11-25T00:10:00.000Z"}
    assert sorted(e["body"]["subject"] for e in queued) == sorted(subjects)
    assert {e["body"]["template"] for e in queued} == {"invitation"}
    assert {e["body"]["channel"] for e in queued} == {"email"}
    text = str(scheduled + queued)
    for row in domain.rows:  # pseudonyms only: no name, number or address
        assert all(row[k] not in text for k in ("name", "id_number", "phone", "email"))
    listed = domain.service.windows(CAMPAIGN, undecided_only=True)
    assert sorted(w["window"] for w in listed) == sorted(domain.windows)
    one = domain.service.window(domain.windows[0])
    assert (one["opens_at"], one["closes_at"], one["decision"]) == (
        "2026-11-25T00:10:00.000Z", "2026-11-25T01:10:00.000Z", None)


def test_a_subject_with_an_undecided_window_gets_no_second_one(domain: Domain) -> None:
    subject = domain.service.window(domain.windows[2])["subject"]
    size = domain.size()
    with pytest.raises(Conflict) as err:
        domain.service.schedule_windows(HR, CAMPAIGN, {
            "opens_at": (CLOSES + timedelta(days=1)).isoformat(),
            "closes_at": (CLOSES + timedelta(days=1, hours=1)).isoformat(),
            "subjects": [subject]}, T0)
    assert err.value.field == "subjects"
    assert "undecided window" in str(err.value)
    assert domain.size() == size


@pytest.mark.parametrize(("data", "error", "field"), [
    ({"opens_at": CLOSES.isoformat(), "closes_at": OPENS.isoformat()}, BadData,
     "closes_at"),
    ({"opens_at": OPENS.isoformat(), "closes_at": (OPENS + timedelta(days=40)).isoformat()},
     BadData, "opens_at"),
    ({"opens_at": OPENS.isoformat()}, BadData, "closes_at"),
    ({"opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(), "room": "3"}, BadData,
     "room"),
    ({"opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(), "subjects": []},
     BadData, "subjects"),
    ({"opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(),
      "subjects": ["sub_aaaaaaaaaaaaaaaaaaaaaaaaaa"]}, NotFound, "subjects"),
    ({"opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(), "post": "p99"},
     NotFound, "post"),
])
def test_a_bad_schedule_is_refused_naming_the_field(domain: Domain, data: dict[str, Any],
                                                    error: type[Exception], field: str
                                                    ) -> None:
    size = domain.size()
    with pytest.raises(error) as err:
        domain.service.schedule_windows(HR, CAMPAIGN, data, T0)
    assert getattr(err.value, "field", None) == field
    assert domain.size() == size


def test_an_extension_moves_the_close_and_keeps_what_was_scheduled(domain: Domain) -> None:
    window = domain.windows[0]
    later = CLOSES + timedelta(minutes=30)
    now = OPENS + timedelta(minutes=20)
    out = domain.service.grant_accommodation(HR, window, {
        "kind": "extended", "closes_at": later.isoformat(), "reason": "poor_signal"}, now)
    (entry,) = domain.entries("accommodation.granted")
    assert entry["body"] == {"window": window, "kind": "extended",
                             "opens_at": "2026-11-25T00:10:00.000Z",
                             "closes_at": "2026-11-25T01:40:00.000Z", "reason": "poor_signal"}
    assert out["closes_at"] == "2026-11-25T01:40:00.000Z"
    assert out["scheduled_closes_at"] == "2026-11-25T01:10:00.000Z"
    assert out["accommodation"] == "extended"


@pytest.mark.parametrize(("data", "at", "error", "field"), [
    ({"kind": "extended", "closes_at": (CLOSES - timedelta(minutes=5)).isoformat(),
      "reason": "other"}, OPENS, BadData, "closes_at"),
    ({"kind": "longer", "closes_at": CLOSES.isoformat(), "reason": "other"}, OPENS, BadData,
     "kind"),
    ({"kind": "extended", "closes_at": (CLOSES + timedelta(hours=1)).isoformat()}, OPENS,
     BadData, "reason"),
    ({"kind": "extended", "closes_at": (CLOSES + timedelta(hours=1)).isoformat(),
      "reason": "other"}, CLOSES, Conflict, "window"),  # too late: the window has closed
])
def test_a_bad_accommodation_writes_nothing(domain: Domain, data: dict[str, Any],
                                            at: datetime, error: type[Exception],
                                            field: str) -> None:
    size = domain.size()
    with pytest.raises(error) as err:
        domain.service.grant_accommodation(HR, domain.windows[1], data, at)
    assert getattr(err.value, "field", None) == field
    assert domain.size() == size
    assert domain.service.window(domain.windows[1])["accommodation"] is None


def test_an_unknown_reason_is_refused_naming_the_requests_field(domain: Domain) -> None:
    size = domain.size()
    with pytest.raises(BadData) as err:
        domain.service.grant_accommodation(HR, domain.windows[1], {
            "kind": "extended", "closes_at": (CLOSES + timedelta(hours=1)).isoformat(),
            "reason": "assistive_tech"}, OPENS)
    assert domain.size() == size
    assert err.value.field == "reason"


def test_an_unknown_window_is_not_found(domain: Domain) -> None:
    with pytest.raises(NotFound) as err:
        domain.service.window("w_nope")
    assert err.value.field == "window"
    with pytest.raises(NotFound):
        domain.service.grant_accommodation(HR, "w_nope", {
            "kind": "extended", "closes_at": CLOSES.isoformat(), "reason": "other"}, OPENS)
