"""Backup time slots (备用面试时间段): reserve them, read them, seat windows in them.

A backup slot is a campaign's reserved interview time with a capacity.  A make-up
(review, appeal overturn, mass make-up after an outage), a rebooking or an alternate-slot
accommodation may take a seat in one instead of typed times: the window takes the slot's
times and its id as ``slot``.  The seats used are the windows whose ``slot`` is the backup
slot's id, so they are derived from the ledger like everything else; seats are counted in
the plan that appends the window, under the log's write lock, so two grants racing for the
last seat cannot both get it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.context import Caller
from ledger.absence.fields import check_id, check_window_times, makeup_times, only, parse_time, req
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict, NotFound
from ledger.storage.store import NewEntry, Planned

log = logging.getLogger(__name__)

#: The most seats one backup slot may have.
MAX_CAPACITY = 50000
#: Slot ids the make-up and rebooking windows take when given typed times: a backup slot
#: of that id would count them as its seats.
TYPED_SLOTS = ("makeup", "rebook")


@dataclass(frozen=True)
class Placement:
    """Where a new window goes: its times and its slot id."""

    opens: datetime
    closes: datetime
    slot: str


@dataclass(frozen=True)
class WindowRequest:
    """What a command asked for a new window: typed times, or a backup slot's seat (its
    times are read in the plan, under the lock)."""

    opens: datetime | None = None
    closes: datetime | None = None
    backup_slot: str | None = None

    def place(self, conn: Connection, campaign: str, now: datetime, typed_slot: str
              ) -> Placement:
        """The window's placement: the typed times in ``typed_slot``, or a seat in the
        backup slot.

        Raises:
            NotFound: no such backup slot in ``campaign``.
            Conflict: the backup slot has ended or is full (named ``backup_slot``).
        """
        if self.backup_slot is not None:
            return take_seats(conn, campaign, self.backup_slot, now, 1)[0]
        if self.opens is None or self.closes is None:
            raise BadData("opens_at: give the window's times or a backup_slot",
                          field="opens_at")
        return Placement(self.opens, self.closes, typed_slot)


def window_request(data: Mapping[str, Any], now: datetime) -> WindowRequest:
    """``{"backup_slot"}`` or ``{"opens_at", "closes_at"}`` of ``data``, checked.

    Raises:
        BadData: both or neither given, or invalid (named).
    """
    if "backup_slot" in data:
        if "opens_at" in data or "closes_at" in data:
            raise BadData("backup_slot: give a backup slot or opens_at/closes_at, not both",
                          field="backup_slot")
        return WindowRequest(backup_slot=check_id(data["backup_slot"], "backup_slot"))
    opens, closes = makeup_times(data, now)
    return WindowRequest(opens, closes)


def seats_used(conn: Connection, campaign: str, slots: Sequence[str]) -> dict[str, int]:
    """The windows scheduled into each of ``slots`` of ``campaign`` (absent: none)."""
    if not slots:
        return {}
    rows = conn.execute(select(P.windows.c.slot, func.count()).where(
        P.windows.c.campaign == campaign, P.windows.c.slot.in_(list(slots)))
        .group_by(P.windows.c.slot)).all()
    return {r[0]: int(r[1]) for r in rows}


def take_seats(conn: Connection, campaign: str, slot: str, now: datetime, seats: int
               ) -> list[Placement]:
    """``seats`` placements in backup slot ``slot`` of ``campaign``.

    Raises:
        NotFound: no such backup slot.
        Conflict: it has ended, or has fewer than ``seats`` free seats.
    """
    row = conn.execute(select(P.backup_slots).where(
        P.backup_slots.c.campaign == campaign, P.backup_slots.c.slot == slot)).first()
    if row is None:
        raise NotFound(f"backup_slot: no backup slot {slot!r} in campaign {campaign}",
                       field="backup_slot")
    if now >= parse_utc(row.closes_at):
        raise Conflict(f"backup_slot: {slot} ended at {row.closes_at}",
                       field="backup_slot")
    used = seats_used(conn, campaign, [slot]).get(slot, 0)
    if used + seats > row.capacity:
        raise Conflict(f"backup_slot: {slot} is full ({used} of {row.capacity} seats "
                       f"used, {seats} asked)", field="backup_slot")
    return [Placement(parse_utc(row.opens_at), parse_utc(row.closes_at), slot)] * seats


def fill_in_order(conn: Connection, campaign: str, now: datetime, seats: int,
                  field: str) -> list[Placement]:
    """``seats`` placements in the campaign's backup slots that have not ended, earliest
    first (by opening, then id), each slot filled before the next.

    Raises:
        Conflict: fewer free seats than ``seats`` in all of them (named ``field``).
    """
    rows = conn.execute(select(P.backup_slots).where(
        P.backup_slots.c.campaign == campaign, P.backup_slots.c.closes_at > format_time(now))
        .order_by(P.backup_slots.c.opens_at, P.backup_slots.c.slot)).all()
    used = seats_used(conn, campaign, [r.slot for r in rows])
    out: list[Placement] = []
    for r in rows:
        free = max(0, r.capacity - used.get(r.slot, 0))
        take = min(free, seats - len(out))
        out += [Placement(parse_utc(r.opens_at), parse_utc(r.closes_at), r.slot)] * take
    if len(out) < seats:
        raise Conflict(f"{field}: the backup slots have {len(out)} free seats, "
                       f"{seats} are needed", field=field)
    return out


def is_backup_slot(conn: Connection, campaign: str, slot: str) -> bool:
    """Whether ``slot`` is a backup slot of ``campaign``."""
    return conn.execute(select(P.backup_slots.c.slot).where(
        P.backup_slots.c.campaign == campaign, P.backup_slots.c.slot == slot)
        ).first() is not None


def _slot_json(r: Any, used: int) -> dict[str, Any]:
    return {"slot": r.slot, "campaign": r.campaign, "opens_at": r.opens_at,
            "closes_at": r.closes_at, "capacity": r.capacity, "used": used,
            "free": max(0, r.capacity - used), "reserved_by": r.reserved_by,
            "reserved_at": r.reserved_at, "ledger_index": r.idx}


class BackupSlots(CampaignUseCase):
    """Reserve and read backup time slots."""

    def reserve_backup_slot(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """Reserve a backup slot: ``{"opens_at", "closes_at", "capacity", "slot"?}``
        (the id defaults to ``b`` and the opening in UTC, e.g. ``b20261205T0200``).

        Raises:
            BadData: times not in the future or not a window's (``check_window_times``),
                capacity not 1..50000, or a bad id (each named).
            NotFound: no such campaign.
            Conflict: the campaign has a backup slot or windows of that id (``slot``).
        """
        only(data, {"slot", "opens_at", "closes_at", "capacity"}, "")
        opens = parse_time(req(data, "opens_at"), "opens_at")
        closes = parse_time(req(data, "closes_at"), "closes_at")
        if opens <= now:
            raise BadData("opens_at: a backup slot opens in the future", field="opens_at")
        check_window_times(opens, closes, now)
        capacity = req(data, "capacity")
        if (not isinstance(capacity, int) or isinstance(capacity, bool)
                or not 1 <= capacity <= MAX_CAPACITY):
            raise BadData(f"capacity: a whole number of seats, 1..{MAX_CAPACITY}",
                          field="capacity")
        default = "b" + opens.astimezone(UTC).strftime("%Y%m%dT%H%M")
        slot = check_id(data.get("slot", default), "slot")
        if slot in TYPED_SLOTS:
            raise BadData(f"slot: {slot!r} names the make-up and rebooking windows given "
                          "typed times; choose another id", field="slot")
        self._campaigns.campaign(campaign)

        def plan(conn: Connection) -> Planned[None]:
            if is_backup_slot(conn, campaign, slot):
                raise Conflict(f"slot: campaign {campaign} already has a backup slot {slot}",
                               field="slot")
            if seats_used(conn, campaign, [slot]):
                raise Conflict(f"slot: windows of campaign {campaign} are scheduled in slot "
                               f"{slot}; a backup slot needs an unused id", field="slot")
            return Planned([NewEntry("slot.reserved", caller.actor, {
                "campaign": campaign, "slot": slot, "opens_at": format_time(opens),
                "closes_at": format_time(closes), "capacity": capacity})], None)

        self._run_planned(now, plan)
        return self.backup_slot(campaign, slot)

    def withdraw_backup_slot(self, caller: Caller, campaign: str, slot: str,
                             now: datetime) -> dict[str, Any]:
        """Withdraw a backup slot no window was scheduled into.

        Raises:
            NotFound: no such backup slot (named ``slot``).
            Conflict: windows are scheduled into it (they keep their seats; ``slot``).
        """
        def plan(conn: Connection) -> Planned[int]:
            if not is_backup_slot(conn, campaign, slot):
                raise NotFound(f"slot: no backup slot {slot!r} in campaign {campaign}",
                               field="slot")
            used = seats_used(conn, campaign, [slot]).get(slot, 0)
            if used:
                raise Conflict(f"slot: {used} windows are scheduled in backup slot {slot}; "
                               "a used backup slot stays", field="slot")
            return Planned([NewEntry("slot.withdrawn", caller.actor,
                                     {"campaign": campaign, "slot": slot})], 0)

        done = self._run_planned(now, plan)
        return {"campaign": campaign, "slot": slot, "withdrawn": True,
                "ledger_index": done.receipts[0].index}

    def backup_slot(self, campaign: str, slot: str) -> dict[str, Any]:
        """One backup slot with its seats used and free.

        Raises:
            NotFound: no such backup slot (named ``slot``).
        """
        with self.read() as conn:
            r = conn.execute(select(P.backup_slots).where(
                P.backup_slots.c.campaign == campaign, P.backup_slots.c.slot == slot)).first()
            if r is None:
                raise NotFound(f"no backup slot {slot!r} in campaign {campaign}", field="slot")
            return _slot_json(r, seats_used(conn, campaign, [slot]).get(slot, 0))

    def backup_slots(self, campaign: str, *, usable_at: datetime | None = None
                     ) -> list[dict[str, Any]]:
        """The campaign's backup slots, earliest first, with seats used and free; given
        ``usable_at``, only those not ended then with a free seat.

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        q = select(P.backup_slots).where(P.backup_slots.c.campaign == campaign)
        if usable_at is not None:
            q = q.where(P.backup_slots.c.closes_at > format_time(usable_at))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.backup_slots.c.opens_at,
                                           P.backup_slots.c.slot)).all()
            used = seats_used(conn, campaign, [r.slot for r in rows])
        out = [_slot_json(r, used.get(r.slot, 0)) for r in rows]
        return [s for s in out if s["free"] > 0] if usable_at is not None else out
