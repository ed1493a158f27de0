"""ledger.absence.erasure: the person's key destroyed, the chain and the decision kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import BadData, Conflict, NotAllowed
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, HR, T0, Domain


def test_erasure_on_request_destroys_the_details_once(domain: Domain) -> None:
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    subject = domain.service.window(domain.windows[0])["subject"]
    row = domain.rows[0]
    now = CLOSES + timedelta(days=1)
    domain.service.erase(HR, subject, "request", now)
    (entry,) = domain.entries("subject.erased")
    assert entry["body"] == {"subject": subject, "reason": "request"}
    with domain.service.store.engine.connect() as conn:
        assert domain.service.personal_details(conn, subject) is None
    with pytest.raises(NotAllowed):  # the candidate can no longer be found by their ID
        domain.service.status(CAMPAIGN, row["registration"], row["id_number"][-4:])
    assert domain.decided()[domain.windows[0]]["outcome"] == "forfeited"  # the record stays
    with pytest.raises(Conflict):
        domain.service.erase(HR, subject, "request", now + timedelta(minutes=1))


def test_retention_expiry_waits_for_the_retention_period(domain: Domain) -> None:
    subject = domain.service.window(domain.windows[1])["subject"]
    size = domain.size()
    with pytest.raises(Conflict):  # the test configuration keeps 30 days
        domain.service.erase(HR, subject, "retention_expired", T0 + timedelta(days=29))
    with pytest.raises(BadData):
        domain.service.erase(HR, subject, "bored", T0 + timedelta(days=29))
    assert domain.size() == size
    domain.service.erase(HR, subject, "retention_expired", T0 + timedelta(days=31))
    assert len(domain.entries("subject.erased")) == 1
