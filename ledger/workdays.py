"""Working days counted backwards from a day, on any working-day calendar.

The absence domain needs working days for 递补 deadlines ("no 递补 after the N-th
working day before the interview day"); the official calendar with its overrides lives
in ``publicity.calendar``, which the domain may not import.  So the domain asks for a
``WorkingDays`` (``publicity.calendar.WorkingCalendar`` is one; the composition root
hands it over) and counts with ``working_day_before``.  ``OfficialWorkingDays`` is the
stand-in when none is given: the ``chinesecalendar`` package alone, no config overrides.
Pure: dates in, dates out.
"""

from __future__ import annotations

from datetime import date, timedelta
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
