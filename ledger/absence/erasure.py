"""Erasure: destroy a candidate's vault key and record it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.context import (
    Caller,
    UseCase,
)
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict, NotFound
from ledger.storage.store import NewEntry

log = logging.getLogger(__name__)



class Erasure(UseCase):
    """Erase candidates."""


    def erase(self, caller: Caller, subject: str, reason: str, now: datetime
              ) -> dict[str, Any]:
        """Destroy a candidate's vault key; record ``subject.erased``.

        Raises:
            BadData: unknown reason.
            NotFound: no such subject.
            Conflict: already erased, or the retention period has not ended.
        """
        if reason not in ("retention_expired", "request"):
            raise BadData("reason: one of retention_expired, request", field="reason")

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.subjects.c.erased, P.campaigns.c.created_at)
                               .join(P.campaigns, P.campaigns.c.campaign
                                     == P.subjects.c.campaign)
                               .where(P.subjects.c.subject == subject)).first()
            if row is None:
                raise NotFound(f"no subject {subject!r}", field="subject")
            if row.erased:
                raise Conflict(f"{subject} is erased already", field="subject")
            ends = parse_utc(row.created_at) + timedelta(days=self.cfg.retention_days)
            if reason == "retention_expired" and now < ends:
                raise Conflict(f"retention runs until {format_time(ends)}; erase on "
                               "request instead, or wait", field="reason")
            conn.execute(update(P.vault_people).where(P.vault_people.c.subject == subject)
                         .values(wrapped_key=None, ciphertext=None, blind_index=None))
            conn.execute(update(P.vault_documents)
                         .where(P.vault_documents.c.subject == subject)
                         .values(ciphertext=None))
            conn.execute(update(P.appeal_attachments)
                         .where(P.appeal_attachments.c.subject == subject)
                         .values(ciphertext=None))
            return [NewEntry("subject.erased", caller.actor,
                             {"subject": subject, "reason": reason})]

        rc = self._run(now, plan)[0]
        return {"subject": subject, "erased": True, "ledger_index": rc.index}
