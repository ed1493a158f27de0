"""Times as people write them (ledger.timetext)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.timetext import written, written_short, zone_label


def test_beijing_time_in_chinese_and_english() -> None:
    assert written("2026-11-12T01:00:00.000Z", "Asia/Shanghai") == "2026年11月12日 09:00"
    assert (written("2026-11-12T01:00:00.000Z", "Asia/Shanghai", zone=True)
            == "2026年11月12日 09:00（北京时间）")
    assert (written(datetime(2026, 11, 12, 16, 5, 7, tzinfo=UTC), "Asia/Shanghai", "en",
                    seconds=True, zone=True) == "13 Nov 2026, 00:05:07 (Beijing time)")


def test_short_form_for_tables_and_empty_for_none() -> None:
    assert written_short("2026-11-12T01:00:00Z", "Asia/Shanghai") == "2026-11-12 09:00"
    assert written_short(None, "Asia/Shanghai") == ""


@pytest.mark.parametrize(("tz", "label"), [("Asia/Tokyo", "UTC+09:00"), ("UTC", "UTC+00:00"),
                                           ("America/Caracas", "UTC-04:00")])
def test_other_zones_are_named_by_their_offset(tz: str, label: str) -> None:
    assert zone_label(tz, "zh", datetime(2026, 1, 1, tzinfo=UTC)) == label


def test_a_time_that_is_not_rfc3339_is_refused() -> None:
    with pytest.raises(ValueError, match="Invalid isoformat"):
        written("12/11/2026", "Asia/Shanghai")
