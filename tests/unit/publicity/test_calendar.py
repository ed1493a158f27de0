"""Notice periods in working days on the official calendar, with adjusted days (调休)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from publicity.calendar import WorkingCalendar, notice_period
from publicity.errors import CalendarUnknown, PublicityError

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def test_national_day_holidays_and_the_adjusted_saturday() -> None:
    # 2025: 1-8 October off; Sunday 28 September and Saturday 11 October worked (调休).
    assert CAL.is_working_day(date(2025, 9, 30))
    assert not CAL.is_working_day(date(2025, 10, 1))
    assert not CAL.is_working_day(date(2025, 10, 8))
    assert CAL.is_working_day(date(2025, 9, 28))  # a Sunday, worked
    assert CAL.is_working_day(date(2025, 10, 11))  # a Saturday, worked
    # Five working days after Tuesday 30 September 2025: 9, 10, 11 (Sat), 13, 14 October.
    assert CAL.add_working_days(date(2025, 9, 30), 5) == date(2025, 10, 14)


def test_an_ordinary_week_skips_the_weekend() -> None:
    # Wednesday 25 November 2026 + 5 working days: Thu 26, Fri 27, Mon 30, Tue 1, Wed 2.
    assert CAL.add_working_days(date(2026, 11, 25), 5) == date(2026, 12, 2)


def test_the_period_ends_at_midnight_local_after_the_last_working_day() -> None:
    published = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
    start, end = notice_period(published, 5, SHANGHAI, CAL)
    assert start == published
    assert end == datetime(2026, 12, 3, 0, 0, tzinfo=SHANGHAI)
    assert end.astimezone(UTC) == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


def test_an_unknown_year_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarUnknown, match=r'\[publicity.calendar."2027"\]') as info:
        CAL.add_working_days(date(2026, 12, 28), 5)
    assert info.value.field == "publicity.calendar"


def test_config_declares_a_year_the_package_does_not_know() -> None:
    cal = WorkingCalendar.from_config({"2027": {
        "holidays": ["2027-01-01"], "workdays": ["2027-01-03"]}})
    assert not cal.is_working_day(date(2027, 1, 1))  # a Friday off
    assert cal.is_working_day(date(2027, 1, 3))  # a Sunday worked
    assert not cal.is_working_day(date(2027, 1, 2))  # an ordinary Saturday
    # Thu 31 Dec 2026 + 3: Sun 3 Jan (worked), Mon 4, Tue 5.
    assert cal.add_working_days(date(2026, 12, 31), 3) == date(2027, 1, 5)


@pytest.mark.parametrize(("table", "field"), [
    ({"27": {}}, "publicity.calendar.27"),
    ({"2027": {"holidays": ["2027-13-01"]}}, "publicity.calendar.2027.holidays"),
    ({"2027": {"holidays": ["2028-01-01"]}}, "publicity.calendar.2027.holidays"),
    ({"2027": {"vacations": []}}, "publicity.calendar.2027"),
])
def test_config_errors_name_the_field(table: dict[str, object], field: str) -> None:
    with pytest.raises(PublicityError) as info:
        WorkingCalendar.from_config(table)
    assert info.value.field == field


def test_a_period_lasts_at_least_a_day() -> None:
    with pytest.raises(PublicityError, match="at least one"):
        CAL.add_working_days(date(2026, 11, 25), 0)
