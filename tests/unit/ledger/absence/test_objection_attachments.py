"""An objection's attachments: checked as an appeal's, sealed under the objection's own
data key, listed in ``objection.filed`` by kind and HMAC, read only with ``pii.viewed``
recorded first, destroyed with the objector's record."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from ledger.absence import tables as P  # noqa: N812
from ledger.absence.attachments import (
    MAX_ATTACHMENT_BYTES,
    AttachmentRefused,
    AttachmentTooLarge,
    matches_listed,
)
from ledger.absence.rebuild import check_rebuild
from ledger.errors import CouldNotCheck, NotFound
from tests.unit.ledger.absence._domain import HR, REVIEWER, T0, Domain
from tests.unit.ledger.absence.test_objections import NAME, WORKDAY, publish

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40 + "王小明的证明".encode()
PDF = b"%PDF-1.7\n" + b"1 0 obj\n" * 10


def file(d: Domain, attachments: list[bytes]) -> dict[str, Any]:
    data = {"name": NAME, "contact": "13912345678", "ground": "qualification",
            "statement": "见附件。", "registration": d.rows[0]["registration"]}
    return d.service.objections.file_objection("n1", data, T0 + timedelta(hours=1),
                                               WORKDAY, attachments=attachments)


def test_attachments_are_sealed_listed_and_read_with_pii_viewed(domain: Domain) -> None:
    publish(domain)
    filed = file(domain, attachments=[PNG, PDF])
    ref = filed["objection"]
    assert filed["attachments"] == 2
    body = domain.entries("objection.filed")[0]["body"]
    o = domain.service.objections
    assert body["attachments"] == (f"png:{o.attachment_hmac(PNG)},"
                                   f"pdf:{o.attachment_hmac(PDF)}")
    with domain.service.engine.connect() as conn:
        rows = conn.execute(select(P.objection_attachments)
                            .order_by(P.objection_attachments.c.position)).all()
    assert [(r.position, r.kind, r.size) for r in rows] == [(1, "png", len(PNG)),
                                                             (2, "pdf", len(PDF))]
    assert all(PNG not in bytes(r.ciphertext) and b"PDF" not in bytes(r.ciphertext)
               for r in rows)
    before = len(domain.entries("pii.viewed"))
    listed = o.attachments(ref)
    assert [(a["kind"], a["verified"], a["erased"]) for a in listed] == [
        ("png", True, False), ("pdf", True, False)]
    assert len(domain.entries("pii.viewed")) == before  # listing reads nothing personal
    got = o.attachment(REVIEWER, ref, 1, T0 + timedelta(hours=2))
    assert (got.kind, got.content) == ("png", PNG)
    assert domain.entries("pii.viewed")[-1]["body"] == {
        "objection": ref, "purpose": "objection", "fields": "attachment"}
    with pytest.raises(NotFound):
        o.attachment(REVIEWER, ref, 3, T0 + timedelta(hours=2))
    check_rebuild(domain.service.store, domain.service.log)


def test_refused_files_write_nothing(domain: Domain) -> None:
    publish(domain)
    for files, reason, position in (([PNG] * 4, "too_many", 4),
                                    ([PNG, b"just text, named x.jpg"], "unknown_type", 2),
                                    ([b""], "empty", 1)):
        with pytest.raises(AttachmentRefused) as exc:
            file(domain, attachments=files)
        assert (exc.value.reason, exc.value.position, exc.value.field) == (
            reason, position, "attachments")
    with pytest.raises(AttachmentTooLarge):
        file(domain, attachments=[b"%PDF-" + b"0" * MAX_ATTACHMENT_BYTES])
    assert domain.entries("objection.filed") == []
    with domain.service.engine.connect() as conn:
        assert conn.execute(select(P.objection_attachments)).all() == []
        assert conn.execute(select(P.vault_objectors)).all() == []


def test_an_altered_attachment_fails_the_check(domain: Domain) -> None:
    publish(domain)
    ref = file(domain, attachments=[PNG])["objection"]
    with domain.service.engine.begin() as conn:
        raw = conn.execute(select(P.objection_attachments.c.ciphertext)).scalar_one()
        conn.execute(update(P.objection_attachments).values(
            ciphertext=bytes(raw[:-1]) + bytes([raw[-1] ^ 1])))
    o = domain.service.objections
    assert o.attachments(ref)[0]["verified"] is False
    with pytest.raises(CouldNotCheck):
        o.attachment(REVIEWER, ref, 1, T0 + timedelta(hours=2))


def test_erasing_the_objector_destroys_the_attachments(domain: Domain) -> None:
    publish(domain)
    ref = file(domain, attachments=[PNG])["objection"]
    o = domain.service.objections
    o.erase_objector(HR, ref, "request", T0 + timedelta(days=1))
    with domain.service.engine.connect() as conn:
        assert conn.execute(select(P.objection_attachments.c.ciphertext)).scalar() is None
    assert o.attachments(ref)[0]["erased"] is True
    with pytest.raises(NotFound):
        o.attachment(REVIEWER, ref, 1, T0 + timedelta(days=2))
    raw = json.dumps(domain.entries(), ensure_ascii=False)
    assert "王小明" not in raw
    check_rebuild(domain.service.store, domain.service.log)


def test_without_attachments_the_entry_has_no_field(domain: Domain) -> None:
    publish(domain)
    ref = domain.service.objections.file_objection(
        "n1", {"name": "李四", "contact": "x@example.cn", "ground": "other",
               "statement": "见附件", "line": 1}, T0 + timedelta(hours=1), WORKDAY)["objection"]
    assert "attachments" not in domain.entries("objection.filed")[0]["body"]
    assert domain.service.objections.attachments(ref) == []


def test_matches_listed_compares_kind_digest_and_position() -> None:
    listed = [("png", "a" * 64), ("pdf", "b" * 64)]
    assert matches_listed(listed, 1, "png", "a" * 64)
    assert matches_listed(listed, 2, "pdf", "b" * 64)
    assert not matches_listed(listed, 2, "png", "b" * 64)  # served as another type
    assert not matches_listed(listed, 1, "png", "b" * 64)  # other bytes
    assert not matches_listed(listed, 3, "png", "a" * 64)  # not listed
    assert not matches_listed(listed, 0, "png", "a" * 64)
    assert not matches_listed(listed, 1, "png", None)  # bytes gone
