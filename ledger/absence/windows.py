"""Interview windows: schedule them, grant accommodations, read them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.context import Caller, new_id, row_by_key
from ledger.absence.entries import ACCOMMODATION_REASONS
from ledger.absence.fields import check_id, check_window_times, choice, only, parse_time, req
from ledger.absence.notifications import notify_entry
from ledger.absence.slots import is_backup_slot, take_seats
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict, NotFound
from ledger.storage.store import NewEntry, Planned

log = logging.getLogger(__name__)


def window_entries(caller: Caller, campaign: str, subject: str, contact: str,
                    window: str, opens: datetime, closes: datetime, slot: str, kind: str,
                    origin: str | None, now: datetime) -> list[NewEntry]:
    body: dict[str, Any] = {"window": window, "campaign": campaign, "subject": subject,
                            "opens_at": format_time(opens), "closes_at": format_time(closes),
                            "slot": slot, "kind": kind}
    if origin:
        body["origin_decision"] = origin
    return [NewEntry("window.scheduled", caller.actor, body),
            notify_entry(subject, contact, "makeup" if kind == "makeup" else "invitation",
                         now, window=window)]


class Windows(CampaignUseCase):
    """Schedule and read interview windows."""

    def schedule_windows(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                         now: datetime) -> list[dict[str, Any]]:
        """Open interview windows for listed subjects, a post, or the whole campaign.

        ``{"opens_at", "closes_at", "slot"?, "subjects"? | "post"?}``; each window also
        queues the invitation.

        Raises:
            BadData: bad times or fields.  NotFound: unknown campaign or subject.
            Conflict: a subject already has an undecided window, is locked or erased;
                ``slot`` is a backup slot's id (its seats are taken one by one).
        """
        only(data, {"opens_at", "closes_at", "slot", "subjects", "post"}, "")
        opens = parse_time(req(data, "opens_at"), "opens_at")
        closes = parse_time(req(data, "closes_at"), "closes_at")
        check_window_times(opens, closes, now)
        slot = check_id(data.get("slot", "s" + opens.strftime("%Y%m%dT%H%M")), "slot")
        subjects = data.get("subjects")
        post = data.get("post")
        if subjects is not None and (not isinstance(subjects, list) or not subjects):
            raise BadData("subjects: give a non-empty list of subject IDs", field="subjects")
        if post is not None and not isinstance(post, str):
            raise BadData("post: a post ID of the campaign", field="post")
        self._campaigns.campaign(campaign)
        return self._schedule(caller, campaign, opens, closes, slot, subjects, post, now,
                              kind="regular")

    def _schedule(self, caller: Caller, campaign: str, opens: datetime, closes: datetime,
                  slot: str, subjects: list[Any] | None, post: Any, now: datetime, *,
                  kind: str) -> list[dict[str, Any]]:
        def plan(conn: Connection) -> Planned[list[dict[str, Any]]]:
            if is_backup_slot(conn, campaign, slot):
                raise Conflict(f"slot: {slot} is a backup slot of {campaign}; its seats "
                               "are given by make-ups, rebookings and alternate slots",
                               field="slot")
            q = select(P.subjects).where(P.subjects.c.campaign == campaign)
            if subjects is not None:
                q = q.where(P.subjects.c.subject.in_([str(s) for s in subjects]))
            elif post is not None:
                q = q.where(P.subjects.c.post == post)
            rows = conn.execute(q.order_by(P.subjects.c.registration)).all()
            if subjects is not None:
                missing = set(map(str, subjects)) - {r.subject for r in rows}
                if missing:
                    raise NotFound(f"subjects: {len(missing)} are not candidates of "
                                   f"{campaign}, e.g. {sorted(missing)[0]}", field="subjects")
            if not rows:
                raise NotFound("no candidates match", field="subjects" if subjects else "post")
            open_w = set(conn.execute(select(P.windows.c.subject).where(
                P.windows.c.campaign == campaign, P.windows.c.decision.is_(None))).scalars())
            items: list[NewEntry] = []
            made: list[dict[str, Any]] = []
            for r in rows:
                if r.erased or r.locked or r.subject in open_w:
                    why = ("erased" if r.erased else "locked" if r.locked
                           else "has an undecided window")
                    raise Conflict(f"subject {r.subject} ({r.registration}) {why}",
                                   field="subjects")
                w = new_id("w")
                items += window_entries(caller, campaign, r.subject, r.contact, w,
                                        opens, closes, slot, kind, None, now)
                made.append({"window": w, "subject": r.subject, "registration": r.registration})
            return Planned(items, made)

        return self._run_planned(now, plan).value

    def window(self, window: str) -> dict[str, Any]:
        """A window with its platform events, quarantined events and decisions.

        Raises:
            NotFound: no such window.
        """
        with self.read() as conn:
            w = row_by_key(conn, P.windows.c.window, window)
            events = conn.execute(select(P.platform_events).where(
                P.platform_events.c.window == window).order_by(P.platform_events.c.idx)).all()
            quarantined = conn.execute(select(P.quarantine).where(
                P.quarantine.c.window == window).order_by(P.quarantine.c.idx)).all()
            decs = conn.execute(select(P.decisions.c.decision).where(
                P.decisions.c.window == window).order_by(P.decisions.c.idx)).scalars().all()
        return {"window": w.window, "campaign": w.campaign, "subject": w.subject,
                "slot": w.slot, "kind": w.kind, "opens_at": w.opens_at,
                "closes_at": w.closes_at, "scheduled_closes_at": w.scheduled_closes_at,
                "accommodation": w.accommodation, "origin_decision": w.origin_decision,
                "decision": w.decision, "ledger_index": w.scheduled_index,
                "events": [{"index": e.idx, "event_id": e.event_id, "kind": e.kind,
                            "at": e.at, "detail": e.detail} for e in events],
                "quarantined": [{"index": q.idx, "event_id": q.event_id, "kind": q.kind,
                                 "at": q.at, "reason": q.reason} for q in quarantined],
                "decisions": list(decs)}

    def windows(self, campaign: str, *, undecided_only: bool = False, limit: int = 1000,
                after: str = "") -> list[dict[str, Any]]:
        """The campaign's windows, by id, paginated by ``after``, each with its candidate's
        registration number (so the platform can match windows to its own candidates).

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        q = select(P.windows, P.subjects.c.registration).join(
            P.subjects, P.subjects.c.subject == P.windows.c.subject).where(
            P.windows.c.campaign == campaign, P.windows.c.window > after)
        if undecided_only:
            q = q.where(P.windows.c.decision.is_(None))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.windows.c.window).limit(limit)).all()
        return [{"window": r.window, "subject": r.subject, "registration": r.registration,
                 "slot": r.slot, "kind": r.kind,
                 "opens_at": r.opens_at, "closes_at": r.closes_at,
                 "accommodation": r.accommodation, "decision": r.decision} for r in rows]

    def grant_accommodation(self, caller: Caller, window: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """Extend a window or move it to another slot, before it closes.

        ``{"kind": "extended"|"alternate_slot", "closes_at", "opens_at"?, "reason"}``;
        an alternate slot may instead name ``"backup_slot"``: the window moves into a
        seat of that backup slot, taking its times.

        Raises:
            BadData: invalid fields.  NotFound: no such window or backup slot.
            Conflict: the window has closed or is decided; the backup slot has ended, is
                full or holds the window already (named ``backup_slot``).
        """
        only(data, {"kind", "opens_at", "closes_at", "backup_slot", "reason"}, "")
        kind = choice(data, "kind", ("extended", "alternate_slot"))
        reason = choice(data, "reason", ACCOMMODATION_REASONS)
        backup = None
        if "backup_slot" in data:
            if kind != "alternate_slot" or {"opens_at", "closes_at"} & set(data):
                raise BadData("backup_slot: an alternate slot takes a backup slot's times "
                              "(without opens_at/closes_at)", field="backup_slot")
            backup = check_id(data["backup_slot"], "backup_slot")
        else:
            closes = parse_time(req(data, "closes_at"), "closes_at")

        def plan(conn: Connection) -> list[NewEntry]:
            w = row_by_key(conn, P.windows.c.window, window)
            if w.decision is not None or now >= parse_utc(w.closes_at):
                raise Conflict(f"window closed at {w.closes_at}; accommodations are granted "
                               "before the close (after it, use review or appeal)",
                               field="window")
            if backup is not None:
                if w.slot == backup:
                    raise Conflict(f"backup_slot: the window is in {backup} already",
                                   field="backup_slot")
                seat = take_seats(conn, w.campaign, backup, now, 1)[0]
                check_window_times(seat.opens, seat.closes, now)
                return [NewEntry("accommodation.granted", caller.actor, {
                    "window": window, "kind": kind, "opens_at": format_time(seat.opens),
                    "closes_at": format_time(seat.closes), "reason": reason,
                    "slot": backup})]
            opens = (parse_time(data["opens_at"], "opens_at") if "opens_at" in data
                     else parse_utc(w.opens_at))
            if kind == "extended" and (closes <= parse_utc(w.closes_at) or "opens_at" in data):
                raise BadData("closes_at: an extension moves the close later and keeps "
                              "the opening", field="closes_at")
            check_window_times(opens, closes, now)
            return [NewEntry("accommodation.granted", caller.actor, {
                "window": window, "kind": kind, "opens_at": format_time(opens),
                "closes_at": format_time(closes), "reason": reason})]

        self._run(now, plan)
        return self.window(window)
