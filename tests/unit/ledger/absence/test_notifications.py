"""ledger.absence.notifications: the outbox's bookkeeping. Each attempt recorded once
(a second runner's record is refused), retries due at their time, delivery receipts;
addresses read from the vault for sending, never written to the ledger."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from ledger.errors import BadData, NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, HR, T0, Domain


def invitation(domain: Domain, i: int = 0) -> dict[str, str]:
    subject = domain.service.window(domain.windows[i])["subject"]
    (n,) = [n for n in domain.service.notifications(CAMPAIGN) if n["subject"] == subject]
    return dict(n)


def status(domain: Domain, notification: str) -> str:
    (n,) = [n for n in domain.service.notifications(CAMPAIGN)
            if n["notification"] == notification]
    return str(n["status"])


def test_a_sent_message_is_recorded_once_without_its_provider_reference(
        domain: Domain) -> None:
    n = invitation(domain)["notification"]
    assert {r.notification for r in domain.service.due_notifications(T0)} == {
        x["notification"] for x in domain.service.notifications(CAMPAIGN)}
    assert domain.service.due_notifications(T0 - timedelta(seconds=1)) == []
    now = T0 + timedelta(seconds=5)
    assert domain.service.record_attempt(n, 1, now, provider_id="<msg-7@smtp.example>")
    (sent,) = domain.entries("notification.sent")
    assert sent["body"] == {"notification": n, "attempt": 1, "provider_ref_sha256":
                            hashlib.sha256(b"<msg-7@smtp.example>").hexdigest()}
    assert status(domain, n) == "sent"
    assert n not in {r.notification for r in domain.service.due_notifications(now)}
    size = domain.size()  # another runner recording the same attempt: refused
    assert not domain.service.record_attempt(n, 1, now, provider_id="other")
    assert not domain.service.record_attempt(n, 2, now, error="smtp_connect")
    assert domain.size() == size


def test_a_failed_attempt_is_retried_at_its_time_then_fails_finally(domain: Domain) -> None:
    n = invitation(domain, 1)["notification"]
    now = T0 + timedelta(seconds=5)
    retry = now + timedelta(minutes=2)
    assert domain.service.record_attempt(n, 1, now, error="SMTP 451: try later",
                                         retry_at=retry)
    (failed,) = domain.entries("notification.failed")
    assert failed["body"] == {"notification": n, "attempt": 1, "error": "smtp_451__try_later",
                              "final": 0, "retry_at": "2026-11-25T00:02:05.000Z"}
    assert status(domain, n) == "pending"
    assert n not in {r.notification for r in domain.service.due_notifications(now)}
    assert n in {r.notification for r in domain.service.due_notifications(retry)}
    assert not domain.service.record_attempt(n, 1, retry, error="x")  # attempt 1 is done
    assert domain.service.record_attempt(n, 2, retry, error="invalid_recipient", final=True)
    assert status(domain, n) == "failed"
    assert n not in {r.notification
                     for r in domain.service.due_notifications(retry + timedelta(days=1))}


def test_an_error_text_with_non_ascii_letters_is_recorded_as_a_code(domain: Domain) -> None:
    n = invitation(domain, 2)["notification"]
    assert domain.service.record_attempt(n, 1, T0, error="Mailbox über quota", final=True)
    (failed,) = domain.entries("notification.failed")
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,39}", failed["body"]["error"])


def test_a_delivery_receipt_is_recorded_for_a_sent_message_only(domain: Domain) -> None:
    sent, pending = invitation(domain, 0)["notification"], invitation(domain, 1)["notification"]
    domain.service.record_attempt(sent, 1, T0, provider_id="p1")
    size = domain.size()
    assert not domain.service.record_delivery(pending, "delivered", T0)  # not sent yet
    with pytest.raises(BadData) as bad:
        domain.service.record_delivery(sent, "read", T0)
    assert bad.value.field == "status"
    with pytest.raises(NotFound) as missing:
        domain.service.record_delivery("n_none", "delivered", T0)
    assert missing.value.field == "reference"
    assert domain.size() == size
    assert domain.service.record_delivery(sent, "undeliverable", T0 + timedelta(minutes=1))
    (entry,) = domain.entries("notification.delivered")
    assert entry["body"] == {"notification": sent, "status": "undeliverable"}
    assert entry["actor"] == "gateway"
    assert not domain.service.record_delivery(sent, "delivered", T0 + timedelta(minutes=2))


def test_the_recipient_comes_from_the_vault_until_erasure(domain: Domain) -> None:
    subject = domain.service.window(domain.windows[3])["subject"]
    row = domain.rows[3]
    assert domain.service.recipient(subject, "email") == (row["name"], row["email"])
    assert domain.service.recipient(subject, "sms") == (row["name"], row["phone"])
    assert all(row[k] not in str(domain.entries()) for k in ("name", "email", "phone"))
    domain.service.erase(HR, subject, "request", T0 + timedelta(hours=1))
    assert domain.service.recipient(subject, "email") is None
    with pytest.raises(NotFound):
        domain.service.notifications("c_none")
