"""ledger.absence.attachments and the attachments of ledger.absence.appeals: files
recognised by their first bytes, sealed with the appeal, listed in the ledger by kind and
keyed digest only, read back with the read recorded first, gone after erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.attachments import (
    MAX_ATTACHMENT_BYTES,
    AttachmentRefused,
    AttachmentTooLarge,
    check_attachments,
    ledger_field,
    parse_ledger_field,
    sniff,
)
from ledger.errors import BadData, CouldNotCheck, NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, HR, REVIEWER, Domain

DECIDED = CLOSES + GRACE + timedelta(seconds=1)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"png body of a scan"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"jpeg body"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def test_kinds_are_recognised_by_their_first_bytes_only() -> None:
    assert [sniff(b) for b in (PNG, JPEG, PDF)] == ["png", "jpeg", "pdf"]
    assert sniff(b"just text, named scan.jpg") is None
    assert sniff(b"\xff\xd8") is None  # a JPEG's SOI alone is not a JPEG
    assert sniff(b"GIF89a...") is None


@pytest.mark.parametrize(("files", "position", "reason"), [
    ([PNG, PNG, PNG, PNG], 4, "too_many"),
    ([PNG, b""], 2, "empty"),
    ([b"hello, this is text"], 1, "unknown_type"),
    ([PDF, JPEG, b"%PDF" + b"x"], 3, "unknown_type"),
])
def test_refusals_name_the_attachment(files: list[bytes], position: int, reason: str
                                      ) -> None:
    with pytest.raises(AttachmentRefused) as info:
        check_attachments(files)
    assert (info.value.position, info.value.reason, info.value.field) == (
        position, reason, "attachments")
    assert f"attachments[{position}]" in str(info.value)


def test_a_file_over_the_limit_is_too_large_and_one_at_it_passes() -> None:
    at_limit = PNG + b"\x00" * (MAX_ATTACHMENT_BYTES - len(PNG))
    assert [a.kind for a in check_attachments([at_limit])] == ["png"]
    with pytest.raises(AttachmentTooLarge) as info:
        check_attachments([JPEG, at_limit + b"\x00"])
    assert info.value.position == 2
    assert "png body" not in repr(check_attachments([PNG])[0])  # content stays out of logs


def test_the_ledger_field_round_trips_and_refuses_anything_else() -> None:
    items = [("png", "a" * 64), ("pdf", "0" * 64)]
    assert parse_ledger_field(ledger_field(items)) == items
    assert parse_ledger_field(None) == []
    with pytest.raises(BadData):
        parse_ledger_field("gif:" + "a" * 64)


def appeal_data(domain: Domain, i: int) -> dict[str, str]:
    row = domain.rows[i]
    return {"registration": row["registration"], "factor": row["id_number"][-4:],
            "ground": "technical", "statement": "网络中断，附上截图。"}


def test_attachments_are_sealed_listed_by_digest_and_read_with_a_record(domain: Domain
                                                                        ) -> None:
    svc = domain.service
    svc.sweep(DECIDED)
    filed = svc.file_appeal(CAMPAIGN, appeal_data(domain, 0), DECIDED + timedelta(hours=1),
                            attachments=[PNG, PDF])
    assert filed["attachments"] == 2
    (entry,) = domain.entries("appeal.filed")
    assert entry["body"]["attachments"] == (f"png:{svc.attachment_hmac(PNG)},"
                                            f"pdf:{svc.attachment_hmac(PDF)}")
    with svc.store.engine.connect() as conn:
        stored = conn.execute(select(P.appeal_attachments).order_by(
            P.appeal_attachments.c.position)).all()
    assert [(r.position, r.kind, r.size) for r in stored] == [(1, "png", len(PNG)),
                                                              (2, "pdf", len(PDF))]
    assert all(b"png body" not in bytes(r.ciphertext) for r in stored)  # sealed
    seen = svc.appeal(REVIEWER, filed["appeal"], DECIDED + timedelta(hours=2))
    assert [(a["kind"], a["size"], a["verified"]) for a in seen["attachments"]] == [
        ("png", len(PNG), True), ("pdf", len(PDF), True)]
    before = len(domain.entries("pii.viewed"))
    got = svc.appeal_attachment(REVIEWER, filed["appeal"], 2, DECIDED + timedelta(hours=3))
    assert (got.kind, got.content, got.media_type) == ("pdf", PDF, "application/pdf")
    viewed = domain.entries("pii.viewed")
    assert len(viewed) == before + 1
    assert viewed[-1]["body"] == {"subject": entry["body"]["subject"], "purpose": "appeal",
                                  "fields": "attachment"}
    assert viewed[-1]["actor"] == REVIEWER.actor
    with pytest.raises(NotFound):
        svc.appeal_attachment(REVIEWER, filed["appeal"], 3, DECIDED + timedelta(hours=3))


def test_a_refused_file_files_nothing(domain: Domain) -> None:
    domain.service.sweep(DECIDED)
    size = domain.size()
    with pytest.raises(AttachmentRefused):
        domain.service.file_appeal(CAMPAIGN, appeal_data(domain, 1),
                                   DECIDED + timedelta(hours=1), attachments=[PNG, b"text"])
    assert domain.size() == size
    with domain.service.store.engine.connect() as conn:
        assert conn.execute(select(P.appeal_attachments)).first() is None


def test_an_altered_attachment_fails_the_check(domain: Domain) -> None:
    svc = domain.service
    svc.sweep(DECIDED)
    filed = svc.file_appeal(CAMPAIGN, appeal_data(domain, 2), DECIDED + timedelta(hours=1),
                            attachments=[JPEG, PNG])
    with svc.store.engine.begin() as conn:
        # Swap the two sealed files: each is bound to its place, so neither opens.
        rows = conn.execute(select(P.appeal_attachments.c.attachment,
                                   P.appeal_attachments.c.ciphertext)
                            .order_by(P.appeal_attachments.c.position)).all()
        for (name, _), (_, other) in zip(rows, reversed(rows), strict=True):
            conn.execute(update(P.appeal_attachments).where(
                P.appeal_attachments.c.attachment == name).values(ciphertext=other))
    seen = svc.appeal(REVIEWER, filed["appeal"], DECIDED + timedelta(hours=2))
    assert [a["verified"] for a in seen["attachments"]] == [False, False]
    with pytest.raises(CouldNotCheck):
        svc.appeal_attachment(REVIEWER, filed["appeal"], 1, DECIDED + timedelta(hours=2))


def test_erasure_makes_the_attachments_unreadable(domain: Domain) -> None:
    svc = domain.service
    svc.sweep(DECIDED)
    filed = svc.file_appeal(CAMPAIGN, appeal_data(domain, 3), DECIDED + timedelta(hours=1),
                            attachments=[PNG])
    subject = svc.appeal_record(filed["appeal"])["subject"]
    svc.erase(HR, subject, "request", DECIDED + timedelta(days=1))
    with svc.store.engine.connect() as conn:
        assert conn.execute(select(P.appeal_attachments.c.ciphertext)).scalar_one() is None
    seen = svc.appeal(REVIEWER, filed["appeal"], DECIDED + timedelta(days=2))
    assert [(a["erased"], a["verified"]) for a in seen["attachments"]] == [(True, False)]
    with pytest.raises(NotFound):
        svc.appeal_attachment(REVIEWER, filed["appeal"], 1, DECIDED + timedelta(days=2))
