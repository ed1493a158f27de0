"""Working-day deadlines over the official calendar (``ledger.workdays``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ledger.workdays import add_working_days, end_of_working_days
from publicity.calendar import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_deadline_skips_the_national_day_holiday_and_counts_its_adjusted_saturday(
) -> None:
    cal = WorkingCalendar()
    # Wednesday 30 September 2026, 15:00 Beijing time: 1-7 October are off, Saturday
    # 10 October is worked (调休); three working days are 8, 9 and 10 October.
    filed = datetime(2026, 9, 30, 7, 0, tzinfo=UTC)
    end = end_of_working_days(filed, 3, SHANGHAI, cal.is_working_day)
    assert end == datetime(2026, 10, 11, 0, 0, tzinfo=SHANGHAI)
    # Plain Monday-to-Friday counting would have said Monday 5 October.
    assert add_working_days(date(2026, 9, 30), 3, lambda d: d.weekday() < 5) == date(
        2026, 10, 5)


def test_the_local_day_counts_not_the_utc_day() -> None:
    # 23:30 UTC on Thursday 26 November is Friday 27 November in Beijing.
    moment = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    end = end_of_working_days(moment, 1, SHANGHAI, lambda d: d.weekday() < 5)
    assert end == datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI)  # Monday 30th, at 24:00


def test_zero_days_and_a_naive_time_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        add_working_days(date(2026, 1, 5), 0, lambda d: True)
    with pytest.raises(ValueError, match="aware"):
        end_of_working_days(datetime(2026, 1, 5), 1, SHANGHAI, lambda d: True)
