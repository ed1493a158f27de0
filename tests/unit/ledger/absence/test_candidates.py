"""ledger.absence.candidates: candidates imported whole or not at all (their personal
data sealed in the vault, pseudonyms on the ledger), and every read of their personal
data on record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.errors import BadData, NotAllowed, NotFound, Unprocessable
from tests.functional._absence import candidates_csv
from tests.unit.ledger.absence._domain import (
    CAMPAIGN,
    CLOSES,
    GRACE,
    HR,
    REVIEWER,
    T0,
    Domain,
)

PERSONAL = ("name", "id_number", "phone", "email")


def test_candidates_are_pseudonyms_on_the_ledger_and_sealed_in_the_vault(
        domain: Domain) -> None:
    registered = domain.entries("subject.registered")
    assert [e["body"]["registration"] for e in registered] == [
        r["registration"] for r in domain.rows]
    text = str(domain.entries())
    for row in domain.rows:
        assert all(row[k] not in text for k in PERSONAL)
    listed = domain.service.candidates(CAMPAIGN)
    assert [c["subject"] for c in listed] == [e["body"]["subject"] for e in registered]
    assert {c["contact"] for c in listed} == {"email,sms"}
    with domain.service.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(P.vault_people)
                            ).scalar_one() == len(domain.rows)
        details = domain.service.personal_details(conn, listed[0]["subject"])
    assert details is not None
    assert (details.name, details.id_number) == (domain.rows[0]["name"],
                                                 domain.rows[0]["id_number"])


@pytest.mark.parametrize(("prefix", "fields"), [
    ("R", {"registration", "id_number"}),  # the same rows again
    ("S", {"id_number"}),  # the same people under other registration numbers
])
def test_a_clashing_import_imports_nothing(domain: Domain, prefix: str, fields: set[str]
                                           ) -> None:
    csv, _ = candidates_csv(2, prefix=prefix)
    size = domain.size()
    with pytest.raises(Unprocessable) as err:
        domain.service.import_candidates(HR, CAMPAIGN, csv, "text/csv", T0)
    assert err.value.field == "rows"
    assert {e["field"] for e in err.value.errors} == fields
    assert domain.size() == size
    assert len(domain.service.candidates(CAMPAIGN)) == len(domain.rows)
    with domain.service.store.engine.connect() as conn:  # no orphan in the vault
        assert conn.execute(select(func.count()).select_from(P.vault_people)
                            ).scalar_one() == len(domain.rows)


def test_an_import_into_no_campaign_or_of_an_unreadable_file_is_refused(
        domain: Domain) -> None:
    csv, _ = candidates_csv(1, seed=7)
    size = domain.size()
    with pytest.raises(NotFound):
        domain.service.import_candidates(HR, "c_none", csv, "text/csv", T0)
    with pytest.raises(BadData):
        domain.service.import_candidates(HR, CAMPAIGN, b"\xff\xfe\x00", "text/csv", T0)
    assert domain.size() == size


def test_a_contact_read_gives_the_channels_and_is_recorded(domain: Domain) -> None:
    subject = domain.service.candidates(CAMPAIGN)[0]["subject"]
    now = T0 + timedelta(hours=1)
    out = domain.service.personal_data(HR, subject, "contact", now)
    row = domain.rows[0]
    assert out == {"subject": subject, "name": row["name"], "phone": row["phone"],
                   "email": row["email"], "access_recorded_at": out["access_recorded_at"]}
    (viewed,) = domain.entries("pii.viewed")
    assert viewed["index"] == out["access_recorded_at"]
    assert viewed["body"] == {"subject": subject, "purpose": "contact",
                              "fields": "email,name,phone"}
    assert viewed["actor"] == HR.actor
    (logged,) = domain.service.access_log(subject)
    assert (logged["actor"], logged["fields"]) == (HR.actor, ["email", "name", "phone"])


def test_a_review_read_needs_a_case_under_review(domain: Domain) -> None:
    subject = domain.service.candidates(CAMPAIGN)[1]["subject"]
    size = domain.size()
    with pytest.raises(NotAllowed) as err:
        domain.service.personal_data(REVIEWER, subject, "review", T0)
    assert err.value.field == "purpose"
    with pytest.raises(BadData) as bad:
        domain.service.personal_data(REVIEWER, subject, "curiosity", T0)
    assert bad.value.field == "purpose"
    with pytest.raises(NotFound):
        domain.service.personal_data(REVIEWER, "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa", "audit", T0)
    assert domain.size() == size
    # A technical failure goes to review: now the reviewer may read the case.
    at = CLOSES - timedelta(minutes=30)
    window = next(w for w in domain.windows if domain.service.window(w)["subject"] == subject)
    domain.service.ingest("m1", {"events": [{"id": "e1", "window": window,
                                             "kind": "connection_failed",
                                             "at": at.isoformat()}]}, at)
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    out = domain.service.personal_data(REVIEWER, subject, "review", CLOSES + timedelta(hours=1))
    assert out["id_number"] == domain.rows[1]["id_number"]
    assert [e["body"]["purpose"] for e in domain.entries("pii.viewed")] == ["review"]
