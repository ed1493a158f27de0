"""The HR console's backup time slots (备用面试时间段): the schedule page's form that
reserves one (wall-clock times in the campaign's zone, a capacity).  A refusal shows the
schedule page again with the error in the page's language (``console_slots_text``).

The routes are added to ``console_hr.bp`` (importing this module registers them;
``ledger.app.web`` does).  Where a window takes a seat (review, appeal ruling,
accommodation, mass make-up), the forms of ``console_hr`` offer the slots.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from ledger.app.web.console import actor
from ledger.app.web.console_hr import _campaign, _f, _form_post, _local_time, _redirect, _tz_of
from ledger.app.web.console_hr_setup import schedule_page
from ledger.app.web.services import now, service
from ledger.errors import BadData

#: The form's fields (``bs_``: backup slot), as the schedule page shows them again.
FIELDS = ("bs_slot", "bs_opens", "bs_closes", "bs_capacity")


@_form_post("/campaigns/<campaign>/backup-slots", schedule_page, "hr")
def backup_slot_reserve(campaign: str) -> Response:
    """Reserve a backup slot from the schedule page's form."""
    _campaign(campaign)
    tz = _tz_of(campaign)
    opens, closes, capacity = _f("bs_opens", 40), _f("bs_closes", 40), _f("bs_capacity", 10)
    if not opens:
        raise BadData("opens_at: required", field="opens_at")
    if not closes:
        raise BadData("closes_at: required", field="closes_at")
    if not (capacity.isascii() and capacity.isdigit()):  # int() refuses "²", isdigit not
        raise BadData("capacity: a whole number of seats", field="capacity")
    data: dict[str, Any] = {"opens_at": _local_time(opens, tz, "opens_at"),
                            "closes_at": _local_time(closes, tz, "closes_at"),
                            "capacity": int(capacity)}
    if _f("bs_slot"):
        data["slot"] = _f("bs_slot", 200)
    service().reserve_backup_slot(actor(), campaign, data, now())
    return _redirect(f"/console/campaigns/{campaign}/schedule", done="slot")


@_form_post("/campaigns/<campaign>/backup-slots/withdrawal", schedule_page, "hr")
def backup_slot_withdraw(campaign: str) -> Response:
    """Withdraw a backup slot no window was scheduled into (the table's button)."""
    _campaign(campaign)
    slot = _f("slot", 200)
    if not slot:
        raise BadData("slot: no backup slot named", field="slot")
    service().withdraw_backup_slot(actor(), campaign, slot, now())
    return _redirect(f"/console/campaigns/{campaign}/schedule", done="slot_withdrawn")


__all__ = ["FIELDS", "backup_slot_reserve", "backup_slot_withdraw"]
