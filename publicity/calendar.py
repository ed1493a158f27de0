"""Working days on the official Chinese calendar, for notice periods (公示期).

Holidays and adjusted working days (调休) come from the maintained ``chinesecalendar``
package; a year it does not know yet is declared in the config::

    [publicity.calendar."2027"]
    holidays = ["2027-01-01", "2027-02-05", ...]   # weekdays off
    workdays = ["2027-02-14"]                      # weekend days worked (调休)

A year known to neither raises ``CalendarUnknown`` naming the table to add: a notice
period is never guessed.  Pure: dates in, dates out.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import chinese_calendar

from ledger.workdays import add_working_days
from publicity.errors import CalendarUnknown, PublicityError

#: The notice period's default length in working days (commonly 5 or 7).
DEFAULT_NOTICE_DAYS = 5


@dataclass(frozen=True)
class YearOverride:
    """A year the package does not know: its holidays and its adjusted working days."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)


@dataclass(frozen=True)
class WorkingCalendar:
    """The official calendar, plus config overrides for years it does not know."""

    overrides: Mapping[int, YearOverride] = field(default_factory=dict)

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> WorkingCalendar:
        """From ``[publicity.calendar]``: one sub-table per year.

        Raises:
            PublicityError: a year or date is malformed (the message names it).
        """
        overrides: dict[int, YearOverride] = {}
        for year_text, spec in table.items():
            where = f"publicity.calendar.{year_text}"
            if not (isinstance(year_text, str) and year_text.isdigit() and len(year_text) == 4):
                raise PublicityError(f"config {where}: the table name must be a year",
                                     field=where)
            if not isinstance(spec, Mapping) or set(spec) - {"holidays", "workdays"}:
                raise PublicityError(f"config {where}: give holidays = [...] and "
                                     "workdays = [...] (ISO dates)", field=where)
            year = int(year_text)
            days: dict[str, frozenset[date]] = {}
            for key in ("holidays", "workdays"):
                parsed = set()
                for text in spec.get(key, []):
                    try:
                        d = date.fromisoformat(text)
                    except (TypeError, ValueError):
                        raise PublicityError(f"config {where}.{key}: {text!r} is not a "
                                             "YYYY-MM-DD date", field=f"{where}.{key}") from None
                    if d.year != year:
                        raise PublicityError(f"config {where}.{key}: {text} is not in {year}",
                                             field=f"{where}.{key}")
                    parsed.add(d)
                days[key] = frozenset(parsed)
            overrides[year] = YearOverride(days["holidays"], days["workdays"])
        return cls(overrides)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day.

        Raises:
            CalendarUnknown: neither the package nor the config knows the year.
        """
        override = self.overrides.get(day.year)
        if override is not None:
            if day in override.workdays:
                return True
            if day in override.holidays:
                return False
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise CalendarUnknown(
                f"the official calendar of {day.year} is not known ({_package_knows()}); "
                "upgrade the chinesecalendar package to a release that has it, or add "
                f'[publicity.calendar."{day.year}"] with its holidays = [...] and adjusted '
                "working days workdays = [...] (ISO dates) to the config",
                field="publicity.calendar") from None

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted).

        Raises:
            CalendarUnknown: a year on the way is unknown.
            PublicityError: ``days`` is not positive.
        """
        if days < 1:
            raise PublicityError("a notice period lasts at least one working day",
                                 field="days")
        return add_working_days(start, days, self.is_working_day)

def _package_knows() -> str:
    """Which chinesecalendar is installed and the years it knows, for error messages."""
    try:
        version = importlib.metadata.version("chinesecalendar")
    except importlib.metadata.PackageNotFoundError:
        version = "(version unknown)"
    years = sorted({d.year for d in chinese_calendar.holidays})
    span = f"{years[0]} to {years[-1]}" if years else "no years"
    return f"chinesecalendar {version} knows {span}"


def notice_period(published: datetime, days: int, tz: tzinfo,
                  calendar: WorkingCalendar) -> tuple[datetime, datetime]:
    """(start, end) of a notice period: from publication to the end (24:00 local) of
    the ``days``-th working day after the day of publication.

    Raises:
        CalendarUnknown: the period reaches a year the calendar does not know.
    """
    local_day = published.astimezone(tz).date()
    last = calendar.add_working_days(local_day, days)
    end = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=tz)
    return published, end
