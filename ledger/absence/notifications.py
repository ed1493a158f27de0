"""Notifications: queue a message (an entry), and the outbox bookkeeping of each attempt."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.context import (
    new_id,
    sealed_person,
    sha256_hex,
)
from ledger.absence.fields import (
    error_code,
)
from ledger.entry import format_time
from ledger.errors import BadData, NotFound
from ledger.storage.store import NewEntry

log = logging.getLogger(__name__)


def notify_entry(subject: str, contact: str, template: str, now: datetime, *,
            within_s: int = 3600, **refs: str) -> NewEntry:
    """Queue a message; ``due_by`` is when the policy says it must have gone out."""
    channel = "email" if "email" in contact.split(",") else "sms"
    return NewEntry("notification.queued", "system", {
        "notification": new_id("n"), "subject": subject, "channel": channel,
        "template": template, "due_by": format_time(now + timedelta(seconds=within_s)),
        **refs})


class Notifications(CampaignUseCase):
    """The outbox's reads and records."""

    def due_notifications(self, now: datetime, limit: int = 200) -> list[Any]:
        """Outbox rows due for an attempt."""
        with self.read() as conn:
            return list(conn.execute(select(P.notifications).where(
                P.notifications.c.status == "pending",
                P.notifications.c.next_attempt_at <= format_time(now))
                .order_by(P.notifications.c.next_attempt_at).limit(limit)).all())

    def recipient(self, subject: str, channel: str) -> tuple[str, str] | None:
        """(name, address) for sending, or None if erased / no such contact."""
        with self.read() as conn:
            sealed = sealed_person(conn, subject)
        if sealed is None:
            return None
        d = self.vault.open(subject, sealed)
        to = d.email if channel == "email" else d.phone
        return (d.name, to) if to else None

    def record_attempt(self, notification: str, attempt: int, now: datetime, *,
                       provider_id: str | None = None, error: str | None = None,
                       final: bool = False, retry_at: datetime | None = None) -> bool:
        """Record one send attempt's outcome; False if another runner recorded it first."""

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.notifications.c.status, P.notifications.c.attempts)
                               .where(P.notifications.c.notification == notification)).first()
            if row is None or row.status != "pending" or row.attempts != attempt - 1:
                return []
            if provider_id is not None:
                return [NewEntry("notification.sent", "scheduler", {
                    "notification": notification, "attempt": attempt,
                    "provider_ref_sha256": sha256_hex(provider_id.encode())})]
            body: dict[str, Any] = {"notification": notification, "attempt": attempt,
                                    "error": error_code(error or "unknown"), "final": int(final)}
            if retry_at is not None and not final:
                body["retry_at"] = format_time(retry_at)
            return [NewEntry("notification.failed", "scheduler", body)]

        return bool(self._run(now, plan))

    def record_delivery(self, notification: str, status: str, now: datetime) -> bool:
        """A gateway's delivery receipt for a sent message.

        Raises:
            NotFound: no such notification.  BadData: unknown status.
        """
        if status not in ("delivered", "undeliverable"):
            raise BadData("status: one of delivered, undeliverable", field="status")

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.notifications.c.status).where(
                P.notifications.c.notification == notification)).first()
            if row is None:
                raise NotFound(f"no notification {notification!r}", field="reference")
            if row.status != "sent":
                return []
            return [NewEntry("notification.delivered", "gateway",
                             {"notification": notification, "status": status})]

        return bool(self._run(now, plan))

    def notifications(self, campaign: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The campaign's notifications (no addresses).

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        with self.read() as conn:
            rows = conn.execute(select(P.notifications).join(
                P.subjects, P.subjects.c.subject == P.notifications.c.subject).where(
                P.subjects.c.campaign == campaign).order_by(P.notifications.c.queued_at)
                .limit(limit)).all()
        return [{"notification": r.notification, "subject": r.subject, "channel": r.channel,
                 "template": r.template, "window": r.window, "decision": r.decision,
                 "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
                 "due_by": r.due_by, "queued_at": r.queued_at} for r in rows]
