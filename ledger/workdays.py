"""Working days: pure date arithmetic over a caller's working-day calendar.

Which days are worked (holidays, adjusted working days 调休) is the caller's to say: a
``WorkingDays`` calendar (``publicity.calendar.WorkingCalendar`` is one; the composition
root hands it over) or a ``WorkingDay`` predicate (its ``is_working_day``).  The official
calendar with its config overrides lives in ``publicity.calendar``, which the domain may
not import; ``OfficialWorkingDays`` is the stand-in when none is given: the
``chinesecalendar`` package alone.  The domain (递补 cut-offs, objection deadlines) and
publicity (notice periods) count the same way.  Nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol

import chinese_calendar

from ledger.errors import CouldNotCheck

#: The farthest back a count may go (a year of days): a calendar that never answers
#: "working day" must not loop for ever.
MAX_DAYS_BACK = 366 * 2


class WorkingDays(Protocol):
    """A calendar that tells working days (调休 included) from days off."""

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (raises if the calendar does not know it)."""
        ...


class OfficialWorkingDays:
    """The official calendar as the ``chinesecalendar`` package knows it."""

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day.

        Raises:
            CouldNotCheck: the package does not know the year.
        """
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise CouldNotCheck(
                f"the official calendar of {day.year} is not known; upgrade the "
                "chinesecalendar package or declare the year in [publicity.calendar]",
                field="publicity.calendar") from None


def working_day_before(calendar: WorkingDays, day: date, days: int) -> date:
    """The ``days``-th working day before ``day`` (``day`` itself not counted); ``day``
    itself when ``days`` is 0.

    Raises:
        ValueError: ``days`` is negative (a programming error).
        CouldNotCheck: no working day within ``MAX_DAYS_BACK`` days; or whatever the
            calendar raises for a year it does not know.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    current, counted = day, 0
    while counted < days:
        current -= timedelta(days=1)
        if (day - current).days > MAX_DAYS_BACK:
            raise CouldNotCheck(f"no {days} working days within {MAX_DAYS_BACK} days "
                                f"before {day.isoformat()}", field="calendar")
        if calendar.is_working_day(current):
            counted += 1
    return current



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


__all__ = ["MAX_DAYS_BACK", "OfficialWorkingDays", "WorkingDay", "WorkingDays",
           "add_working_days", "end_of_working_days", "working_day_before"]
