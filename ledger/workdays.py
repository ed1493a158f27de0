"""Counting working days: pure date arithmetic over a caller's calendar.

Which days are worked (holidays, adjusted working days 调休) is the caller's to say: a
``WorkingDay`` predicate, e.g. ``publicity.calendar.WorkingCalendar.is_working_day`` on
the official calendar.  Nothing here reads the clock or knows a year's holidays, so the
domain (objection deadlines) and publicity (notice periods) count the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo

#: Whether a day is worked; may raise (e.g. a year the calendar does not know).
WorkingDay = Callable[[date], bool]


def add_working_days(start: date, days: int, is_working_day: WorkingDay) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted).

    Raises:
        ValueError: ``days`` is not positive.
        Exception: whatever ``is_working_day`` raises for a day on the way.
    """
    if days < 1:
        raise ValueError("count at least one working day")
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def end_of_working_days(moment: datetime, days: int, tz: tzinfo,
                        is_working_day: WorkingDay) -> datetime:
    """The end (24:00 in ``tz``) of the ``days``-th working day after the local day of
    ``moment``: a deadline "within N working days" of ``moment``.

    Raises:
        ValueError: ``days`` is not positive, or ``moment`` is naive.
        Exception: whatever ``is_working_day`` raises.
    """
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    last = add_working_days(moment.astimezone(tz).date(), days, is_working_day)
    return datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=tz)


__all__ = ["WorkingDay", "add_working_days", "end_of_working_days"]
