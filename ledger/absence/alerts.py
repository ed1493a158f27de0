"""Alerts: the anomaly rules run over a campaign, and their resolution."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.anomaly import DecidedWindow, detect
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.context import Caller, row_by_key
from ledger.absence.fields import choice, only
from ledger.absence.reviews import review_entries
from ledger.absence.rules import Cause, Outcome
from ledger.absence.slots import (
    Placement,
    WindowRequest,
    fill_in_order,
    take_seats,
    window_request,
)
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict
from ledger.storage.store import NewEntry, Planned

log = logging.getLogger(__name__)


class Alerts(CampaignUseCase):
    """Raise, read and resolve alerts."""

    def raise_alerts(self, campaign: str, now: datetime) -> list[str]:
        """Run the anomaly rules over the campaign; record alerts not raised before and
        return their ids (``campaign:key``; empty when nothing new was found)."""
        with self.read() as conn:
            rows = conn.execute(select(P.windows.c.window, P.windows.c.opens_at,
                                       P.decisions.c.outcome, P.decisions.c.cause)
                                .join(P.decisions, P.decisions.c.decision == "d_"
                                      + P.windows.c.window)
                                .where(P.windows.c.campaign == campaign,
                                       P.windows.c.kind == "regular")).all()
            fails = conn.execute(select(P.notifications.c.notification,
                                        P.notifications.c.updated_at)
                                 .join(P.subjects,
                                       P.subjects.c.subject == P.notifications.c.subject)
                                 .where(P.subjects.c.campaign == campaign,
                                        P.notifications.c.status == "failed",
                                        # Invitations that expired unsent are not a
                                        # delivery problem of the channel.
                                        P.notifications.c.last_error != "window_closed")
                                 ).all()
        decided = [DecidedWindow(r.window, parse_utc(r.opens_at),
                                 Outcome(r.outcome) if r.outcome != "makeup_granted"
                                 else Outcome.MAKEUP_PENDING,
                                 Cause(r.cause) if r.cause else None) for r in rows]
        found = detect(decided, [(n, parse_utc(at)) for n, at in fails], self.cfg.thresholds)
        if not found:
            return []

        def plan(conn: Connection) -> Planned[list[str]]:
            items, raised = [], []
            for a in found:
                alert_id = f"{campaign}:{a.key}"[:200]
                if conn.execute(select(P.alerts.c.alert)
                                .where(P.alerts.c.alert == alert_id)).first():
                    continue
                body: dict[str, Any] = {
                    "alert": alert_id, "campaign": campaign, "kind": a.kind,
                    "count": a.count, "total": a.total, "threshold": a.threshold,
                    "windows": ",".join(a.windows[:500])}
                if a.slot_start is not None:
                    body["slot_start"] = format_time(a.slot_start)
                items.append(NewEntry("alert.raised", "scheduler", body,
                                      idempotency_key=f"alert:{alert_id}"))
                raised.append(alert_id)
            return Planned(items, raised)

        return self._run_planned(now, plan).value

    def alerts(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Alerts, newest first (those of ``campaign``, or all).

        Raises:
            NotFound: ``campaign`` is given and no such campaign exists.
        """
        rows = self._campaigns.newest_first(P.alerts, campaign)
        return [{"alert": r.alert, "campaign": r.campaign, "kind": r.kind, "count": r.count,
                 "total": r.total, "threshold": r.threshold, "slot_start": r.slot_start,
                 "windows": [w for w in r.windows.split(",") if w], "status": r.status,
                 "action": r.action, "makeups": r.makeups, "raised_at": r.raised_at,
                 "ledger_index": r.idx} for r in rows]

    def resolve_alert(self, caller: Caller, alert: str, data: Mapping[str, Any],
                      now: datetime) -> dict[str, Any]:
        """Act on an alert: ``{"action": "mass_makeup", "opens_at", "closes_at"}`` grants
        a make-up to every affected window still pending review; or ``"dismissed"``.
        Instead of the times, ``"backup_slot"`` seats them all in one backup slot, and
        ``"use_backup_slots": true`` fills the campaign's backup slots earliest first.

        Raises:
            BadData: invalid fields.  NotFound: no such alert or backup slot.
            Conflict: resolved already, or a mass make-up for a non-outage alert; too few
                free seats in the backup slot(s) (named ``backup_slot`` or
                ``use_backup_slots``).
        """
        only(data, {"action", "opens_at", "closes_at", "backup_slot", "use_backup_slots"}, "")
        action = choice(data, "action", ("mass_makeup", "dismissed"))
        fill = "use_backup_slots" in data
        if fill and (data["use_backup_slots"] is not True
                     or {"opens_at", "closes_at", "backup_slot"} & set(data)):
            raise BadData("use_backup_slots: true, without backup_slot or times",
                          field="use_backup_slots")
        request = (window_request(data, now) if action == "mass_makeup" and not fill
                   else WindowRequest())

        def plan(conn: Connection) -> list[NewEntry]:
            a = row_by_key(conn, P.alerts.c.alert, alert)
            if a.status != "open":
                raise Conflict(f"alert was resolved already ({a.action})", field="alert")
            items: list[NewEntry] = []
            if action == "mass_makeup":
                if a.kind != "platform_outage":
                    raise Conflict("a mass make-up answers a platform outage alert",
                                   field="action")
                ids = [w for w in a.windows.split(",") if w]
                rows = conn.execute(select(P.decisions).where(
                    P.decisions.c.window.in_(ids), P.decisions.c.review == "pending",
                    P.decisions.c.superseded_by.is_(None))
                    .order_by(P.decisions.c.decision)).all()
                places: list[Placement]
                if fill:
                    places = fill_in_order(conn, a.campaign, now, len(rows), "use_backup_slots")
                elif request.backup_slot is not None:
                    places = take_seats(conn, a.campaign, request.backup_slot, now, len(rows))
                else:
                    places = [request.place(conn, a.campaign, now, "makeup")] * len(rows)
                for row, place in zip(rows, places, strict=True):
                    items += review_entries(conn, caller, row, "makeup_granted", place,
                                            now, alert=alert)
            n = sum(1 for i in items if i.type == "window.scheduled")
            return [*items, NewEntry("alert.resolved", caller.actor,
                                     {"alert": alert, "action": action, "makeups": n})]

        self._run(now, plan)
        return next(a for a in self.alerts() if a["alert"] == alert)
