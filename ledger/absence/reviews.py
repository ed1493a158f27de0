"""Reviews: a reviewer confirms a decision or grants a make-up; rebooking offers used."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.context import Caller, Context, UseCase, new_id
from ledger.absence.decisions import Decisions, decision_row
from ledger.absence.fields import choice, only, stated_reason
from ledger.absence.notifications import notify_entry
from ledger.absence.slots import Placement, window_request
from ledger.absence.windows import Windows, window_entries
from ledger.entry import parse_utc
from ledger.errors import Conflict
from ledger.storage.store import NewEntry, Planned

log = logging.getLogger(__name__)


def review_entries(conn: Connection, caller: Caller, row: Any, ruling: str,
                    place: Placement | None, now: datetime,
                    alert: str | None, reason: str | None = None) -> list[NewEntry]:
    contact = conn.execute(select(P.subjects.c.contact).where(
        P.subjects.c.subject == row.subject)).scalar_one()
    body: dict[str, Any] = {"decision": row.decision, "ruling": ruling}
    if alert:
        body["alert"] = alert
    if reason:
        body["reason"] = reason
    items = []
    if place is not None:
        w = new_id("w")
        body["makeup_window"] = w
        items = window_entries(caller, row.campaign, row.subject, contact, w,
                               place.opens, place.closes, place.slot, "makeup",
                               row.decision, now)
        return [NewEntry("decision.reviewed", caller.actor, body), *items]
    return [NewEntry("decision.reviewed", caller.actor, body),
            notify_entry(row.subject, contact, "decision", now, decision=row.decision)]


class Reviews(UseCase):
    """Review decisions and use rebooking offers."""

    def __init__(self, ctx: Context, windows: Windows, decisions: Decisions) -> None:
        """Reviews of ``decisions``, opening ``windows``."""
        super().__init__(ctx)
        self._windows = windows
        self._decisions = decisions

    def review(self, caller: Caller, decision: str, data: Mapping[str, Any], now: datetime
               ) -> dict[str, Any]:
        """A reviewer confirms a pending case or grants a make-up window.

        ``{"ruling": "confirmed"}`` or ``{"ruling": "makeup_granted", "opens_at",
        "closes_at"}`` (or ``"backup_slot"``: a seat in a backup slot), each with an
        optional ``reason`` (1..200 printable characters, no personal data: the entry
        records it and the candidate is shown it).

        Raises:
            BadData: invalid fields.  NotFound: no such decision.
            Conflict: not pending review, or superseded; the backup slot has ended
                or is full (named ``backup_slot``).
        """
        only(data, {"ruling", "opens_at", "closes_at", "backup_slot", "reason"}, "")
        ruling = choice(data, "ruling", ("confirmed", "makeup_granted"))
        reason = stated_reason(data)
        request = window_request(data, now) if ruling == "makeup_granted" else None

        def plan(conn: Connection) -> list[NewEntry]:
            row = decision_row(conn, decision)
            if row.review != "pending" or row.superseded_by is not None:
                raise Conflict(f"decision {decision} is not pending review "
                               f"(review: {row.review or 'none'})", field="decision")
            place = (request.place(conn, row.campaign, now, "makeup")
                     if request is not None else None)
            return review_entries(conn, caller, row, ruling, place, now, alert=None,
                                  reason=reason)

        self._run(now, plan)
        return self._decisions.decision(decision)

    def rebook(self, caller: Caller, decision: str, data: Mapping[str, Any], now: datetime
               ) -> dict[str, Any]:
        """Enterprise policy: open a new window for a candidate offered a rebooking.

        ``{"opens_at", "closes_at"}`` or ``{"backup_slot"}``, before the decision's
        ``rebook_until``.

        Raises:
            BadData: invalid times.  NotFound: no such decision or backup slot.
            Conflict: no rebooking was offered, it expired, the candidate is locked or
                already has an undecided window; the backup slot has ended or is full.
        """
        only(data, {"opens_at", "closes_at", "backup_slot"}, "")
        request = window_request(data, now)
        def plan(conn: Connection) -> Planned[str]:
            row = decision_row(conn, decision)
            if row.outcome != "rebook_offered" or row.superseded_by is not None:
                raise Conflict(f"decision {decision} offers no rebooking ({row.outcome})",
                               field="decision")
            if row.offer == "taken":
                raise Conflict(f"the rebooking offered by decision {decision} was already "
                               "used", field="decision")
            if row.offer == "lapsed" or now > parse_utc(row.rebook_until):
                raise Conflict(f"the rebooking offer ended at {row.rebook_until}",
                               field="decision")
            subj = conn.execute(select(P.subjects).where(
                P.subjects.c.subject == row.subject)).one()
            if subj.locked or subj.erased:
                raise Conflict(f"subject {row.subject} is {'locked' if subj.locked else 'erased'}",
                               field="decision")
            if conn.execute(select(P.windows.c.window).where(
                    P.windows.c.subject == row.subject,
                    P.windows.c.decision.is_(None))).first():
                raise Conflict(f"subject {row.subject} already has an undecided window",
                               field="decision")
            place = request.place(conn, row.campaign, now, "rebook")
            w = new_id("w")
            return Planned(window_entries(caller, row.campaign, row.subject, subj.contact, w,
                                          place.opens, place.closes, place.slot, "rebook",
                                          row.decision, now), w)

        return self._windows.window(self._run_planned(now, plan).value)
