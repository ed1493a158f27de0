"""Backup time slots (备用面试时间段) in the console's words: the schedule page's table,
the choices a make-up, rebooking or alternate-slot form offers, and the refusals of the
backup-slot commands in the page's language, naming the field.  Times are written at the
campaign's wall clock (``ledger.timetext``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.absence.service import AbsenceService
from ledger.app.web.forms import Lang, words
from ledger.errors import LedgerError
from ledger.timetext import written_short

PROBLEMS: dict[str, tuple[str, str]] = words("console_hr.slots_problems")
# Fragments of the domain's messages (ledger.absence.slots, windows), each to a words key;
# the first that matches is said.
_PROBLEMS = (("a used backup slot stays", "used"), ("no backup slot named", "unknown"),
             ("is full", "full"), ("ended at", "ended"), ("no backup slot", "unknown"),
             ("not both", "both"), ("alternate slot takes", "alternate_only"),
             ("already has a backup slot", "taken_id"), ("are scheduled in slot", "taken_id"),
             ("names the make-up", "typed_id"), ("backup slot opens in the future",
                                                 "opens_future"),
             ("the window is in", "already_in"), ("free seats,", "too_few"),
             ("is a backup slot of", "backup_id"), ("capacity:", "capacity"))
#: The label of each field a backup-slot refusal names (a console words key).
_LABELS = {"backup_slot": "slots_use", "use_backup_slots": "slots_use",
           "slot": "slots_f_slot_label", "opens_at": "setup_f_opens_at",
           "closes_at": "setup_f_closes_at", "capacity": "setup_f_capacity"}


def slot_problem(exc: LedgerError | None, lg: Lang) -> str:
    """``exc`` in ``lg``'s language when it is a backup-slot refusal: the field's label,
    then what is wrong; empty for any other error (the page says it its own way)."""
    if exc is None:
        return ""
    text = str(exc)
    key = next((k for frag, k in _PROBLEMS if frag in text), None)
    if key is None:
        return ""
    label = lg.t(_LABELS[exc.field]) if exc.field in _LABELS else ""
    colon = ": " if lg.code == "en" else "："
    detail = lg.pick(PROBLEMS[key])
    return f"{label}{colon}{detail}" if label else detail


def backup_rows(svc: AbsenceService, campaign: str, tz: str) -> list[dict[str, Any]]:
    """The campaign's backup slots for the schedule page's table, earliest first.

    Raises:
        NotFound: no such campaign.
    """
    return [{"slot": s["slot"], "opens": written_short(s["opens_at"], tz),
             "closes": written_short(s["closes_at"], tz), "used": s["used"],
             "capacity": s["capacity"]} for s in svc.backup_slots(campaign)]


def backup_choices(svc: AbsenceService, campaign: str, tz: str, lg: Lang, now: datetime
                   ) -> list[dict[str, str]]:
    """The backup slots a form may seat a window in now (not ended, a seat free): each
    with its id and the words that name it.

    Raises:
        NotFound: no such campaign.
    """
    return [{"slot": s["slot"], "label": lg.t(
        "slots_choice", slot=s["slot"], opens=written_short(s["opens_at"], tz),
        closes=written_short(s["closes_at"], tz), free=s["free"])}
        for s in svc.backup_slots(campaign, usable_at=now)]


__all__ = ["backup_choices", "backup_rows", "slot_problem"]
