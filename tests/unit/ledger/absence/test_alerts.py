"""ledger.absence.alerts: the anomaly rules run over a campaign's decisions (each alert
recorded once), and an outage answered with a make-up for every affected candidate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger.errors import BadData, Conflict, NotFound
from tests.functional._absence import candidates_csv
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

DECIDED = CLOSES + GRACE + timedelta(seconds=1)
OUTAGE = "c2"


def outage(domain: Domain, failed: int = 5) -> list[str]:
    """Campaign c2: six candidates in one slot, ``failed`` of them cut off by the
    platform, all decided; their windows, the failed ones first."""
    service = domain.service
    service.create_campaign(HR, {"campaign": OUTAGE, "title": "t", "policy": "government",
                                 "posts": [{"post": "p01", "title": "p"}]}, T0)
    csv, _ = candidates_csv(6, seed=2, prefix="Q")
    service.import_candidates(HR, OUTAGE, csv, "text/csv", T0)
    made = service.schedule_windows(HR, OUTAGE, {"opens_at": OPENS.isoformat(),
                                                 "closes_at": CLOSES.isoformat()}, T0)
    windows = [w["window"] for w in sorted(made, key=lambda w: w["registration"])]
    at = OPENS + timedelta(minutes=5)
    if failed:
        service.ingest("outage", {"events": [
            {"id": f"f{i}", "window": w, "kind": "connection_failed", "at": at.isoformat()}
            for i, w in enumerate(windows[:failed])]}, at)
    service.sweep(DECIDED)
    return windows


def test_the_sweep_raises_an_outage_once(domain: Domain) -> None:
    windows = outage(domain)  # the sweep runs the rules over what it decided
    (entry,) = domain.entries("alert.raised")
    body = entry["body"]
    assert entry["actor"] == "scheduler"
    assert (body["kind"], body["count"], body["total"], body["threshold"]) == (
        "platform_outage", 5, 6, 5)
    assert sorted(body["windows"].split(",")) == sorted(windows[:5])
    assert body["slot_start"] == "2026-11-25T00:00:00.000Z"
    size = domain.size()
    assert domain.service.raise_alerts(OUTAGE, DECIDED + timedelta(minutes=2)) == []
    assert domain.service.raise_alerts(CAMPAIGN, DECIDED) == []  # nothing to see there
    assert domain.size() == size
    (alert,) = domain.service.alerts(OUTAGE)
    assert (alert["alert"], alert["status"]) == (body["alert"], "open")
    assert domain.service.alerts(CAMPAIGN) == []
    with pytest.raises(NotFound):
        domain.service.alerts("c_none")


def test_final_notification_failures_raise_an_alert(domain: Domain) -> None:
    outage(domain, failed=0)
    queued = domain.service.notifications(OUTAGE)
    failed_at = DECIDED + timedelta(minutes=3)
    for n in queued[:5]:
        assert domain.service.record_attempt(n["notification"], 1, failed_at,
                                             error="smtp_rejected", final=True)
    raised = domain.service.raise_alerts(OUTAGE, failed_at)
    (entry,) = domain.entries("alert.raised")
    assert raised == [entry["body"]["alert"]]
    assert (entry["body"]["kind"], entry["body"]["count"]) == ("notification_failures", 5)
    assert sorted(entry["body"]["windows"].split(",")) == sorted(
        n["notification"] for n in queued[:5])
    assert domain.service.raise_alerts(OUTAGE, failed_at) == []


def test_four_failures_in_six_are_no_outage(domain: Domain) -> None:
    outage(domain, failed=4)  # below outage_min_technical = 5
    assert domain.entries("alert.raised") == []
    assert domain.service.raise_alerts(OUTAGE, DECIDED) == []


def test_a_mass_make_up_grants_every_affected_window_once(domain: Domain) -> None:
    windows = outage(domain)
    (alert,) = domain.service.alerts(OUTAGE)
    now = DECIDED + timedelta(hours=1)
    data = {"action": "mass_makeup", "opens_at": (now + timedelta(days=1)).isoformat(),
            "closes_at": (now + timedelta(days=1, hours=1)).isoformat()}
    out = domain.service.resolve_alert(REVIEWER, alert["alert"], data, now)
    assert (out["status"], out["action"], out["makeups"]) == ("resolved", "mass_makeup", 5)
    makeups = [e["body"] for e in domain.entries("window.scheduled")
               if e["body"]["kind"] == "makeup"]
    decided = {d["window"]: d for d in domain.service.decisions(OUTAGE)}
    assert sorted(m["origin_decision"] for m in makeups) == sorted(
        decided[w]["decision"] for w in windows[:5])
    (resolved,) = domain.entries("alert.resolved")
    assert resolved["body"] == {"alert": alert["alert"], "action": "mass_makeup",
                                "makeups": 5}
    assert {decided[w]["review"] for w in windows[:5]} == {"makeup_granted"}
    size = domain.size()
    with pytest.raises(Conflict) as err:
        domain.service.resolve_alert(REVIEWER, alert["alert"], data, now)
    assert err.value.field == "alert"
    assert domain.size() == size


@pytest.mark.parametrize(("data", "error", "field"), [
    ({"action": "ignore"}, BadData, "action"),
    ({"action": "mass_makeup"}, BadData, "opens_at"),
    ({"action": "dismissed", "note": "x"}, BadData, "note"),
])
def test_a_bad_resolution_writes_nothing(domain: Domain, data: dict[str, Any],
                                         error: type[Exception], field: str) -> None:
    outage(domain)
    (alert,) = domain.service.alerts(OUTAGE)
    size = domain.size()
    with pytest.raises(error) as err:
        domain.service.resolve_alert(REVIEWER, alert["alert"], data, DECIDED)
    assert getattr(err.value, "field", None) == field
    assert domain.size() == size
    assert domain.service.alerts(OUTAGE)[0]["status"] == "open"


def test_an_unknown_alert_is_not_found_and_a_dismissal_closes_one(domain: Domain) -> None:
    with pytest.raises(NotFound) as err:
        domain.service.resolve_alert(REVIEWER, "c2:none", {"action": "dismissed"}, DECIDED)
    assert err.value.field == "alert"
    outage(domain)
    (alert,) = domain.service.alerts(OUTAGE)
    out = domain.service.resolve_alert(REVIEWER, alert["alert"], {"action": "dismissed"},
                                       DECIDED)
    assert (out["action"], out["makeups"]) == ("dismissed", 0)
    assert out["status"] != "open"
    assert [e for e in domain.entries("window.scheduled") if e["body"]["kind"] == "makeup"
            ] == []
