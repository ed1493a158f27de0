"""The appeal confirmation's answer date: ten working days of the official calendar
(chinesecalendar: 国庆 2026 is 1-7 October, with Saturday 10 October worked), counted
from the day of filing at the campaign's wall clock, written as a date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.app.web.selfservice import APPEAL_ANSWER_DAYS, answer_day
from ledger.timetext import written_date
from publicity.calendar import WorkingCalendar
from publicity.errors import CalendarUnknown

SHANGHAI = "Asia/Shanghai"


def test_ten_working_days_across_national_day() -> None:
    # Filed Monday 28 September 2026, 10:00 Beijing time: 29, 30 Sep, then the holiday
    # (1-7 Oct), then 8, 9, 10 (a Saturday worked: 调休), 12-16 Oct.
    filed = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
    assert APPEAL_ANSWER_DAYS == 10
    day = answer_day(filed, SHANGHAI, WorkingCalendar())
    assert day == date(2026, 10, 16)
    assert written_date(day) == "2026年10月16日"
    assert written_date(day, "en") == "16 Oct 2026"
    # Fourteen calendar days (the old promise) would have said 12 October.
    assert (day - filed.date()).days == 18


def test_the_day_of_filing_is_the_campaigns_wall_clock() -> None:
    # 28 September 17:30 UTC is already 29 September 01:30 in Beijing: counting starts a
    # day later there, so the tenth working day is 19 October, not 16.
    filed = datetime(2026, 9, 28, 17, 30, tzinfo=UTC)
    assert answer_day(filed, SHANGHAI, WorkingCalendar()) == date(2026, 10, 19)
    assert answer_day(filed, "UTC", WorkingCalendar()) == date(2026, 10, 16)


def test_spring_festival_from_the_config_when_the_package_does_not_know_the_year() -> None:
    # 春节 2027 as an office would declare it: 6-12 February off, 14 February (Sunday)
    # worked.  Filed Thursday 4 February: 5 Feb, then 14, 15, 16, 17, 18, 19, 22, 23, 24.
    cal = WorkingCalendar.from_config({"2027": {
        "holidays": ["2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11",
                     "2027-02-12"],
        "workdays": ["2027-02-14"]}})
    filed = datetime(2027, 2, 4, 1, 0, tzinfo=UTC)
    assert answer_day(filed, SHANGHAI, cal) == date(2027, 2, 24)


def test_an_unknown_year_is_said_not_guessed() -> None:
    with pytest.raises(CalendarUnknown):
        answer_day(datetime(2031, 5, 1, 1, 0, tzinfo=UTC), SHANGHAI, WorkingCalendar())
