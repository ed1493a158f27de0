"""What the use cases share to read: a row by its key (or NotFound), a projection's rows
newest first (of a campaign, or all), and a field's choice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from ledger.errors import BadData, NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, HR, OPENS, REVIEWER, Domain


@pytest.mark.parametrize(("read", "field"), [
    (lambda d: d.service.window("w_nope"), "window"),
    (lambda d: d.service.decision("w_nope"), "decision"),
    (lambda d: d.service.appeal_record("w_nope"), "appeal"),
    (lambda d: d.service.campaign("w_nope"), "campaign"),
])
def test_an_unknown_key_is_not_found_and_named(domain: Domain, read: Callable[[Domain], Any],
                                                field: str) -> None:
    with pytest.raises(NotFound, match=rf"^no {field} 'w_nope'$") as err:
        read(domain)
    assert err.value.field == field


def test_quarantined_events_are_newest_first_of_a_campaign_or_all(domain: Domain) -> None:
    at = OPENS + timedelta(minutes=1)
    unknown = [{"id": f"u{i}", "window": f"w_unknown{i}", "kind": "joined",
                "at": at.isoformat()} for i in range(3)]
    domain.service.ingest("m1", {"events": unknown}, at)
    late = CLOSES + timedelta(minutes=1)  # the window has closed: quarantined, of c1
    domain.service.ingest("m2", {"events": [domain.event(0, "late", "joined", late)]}, late)

    every = domain.service.quarantined(None)
    assert [q["event_id"] for q in every] == ["late", "u2", "u1", "u0"]
    assert [q["index"] for q in every] == sorted((q["index"] for q in every), reverse=True)
    assert [q["event_id"] for q in domain.service.quarantined(None, limit=2)] == ["late", "u2"]
    assert [q["event_id"] for q in domain.service.quarantined(CAMPAIGN)] == ["late"]
    with pytest.raises(NotFound, match="no campaign 'c_nope'"):
        domain.service.quarantined("c_nope")


def test_a_choice_outside_the_list_is_bad_data_naming_the_choices(domain: Domain) -> None:
    with pytest.raises(BadData, match=r"^ruling: one of confirmed, makeup_granted$") as err:
        domain.service.review(REVIEWER, "d_x", {"ruling": "maybe"}, CLOSES)
    assert err.value.field == "ruling"
    with pytest.raises(BadData, match=r"^ruling: required$"):
        domain.service.review(REVIEWER, "d_x", {}, CLOSES)
    with pytest.raises(BadData, match=r"^action: one of mass_makeup, dismissed$"):
        domain.service.resolve_alert(HR, "a_x", {"action": "ignore"}, CLOSES)
