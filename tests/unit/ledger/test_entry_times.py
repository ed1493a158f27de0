"""ledger.entry.parse_utc (the one RFC 3339 UTC parser) and check_aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.entry import check_aware, parse_utc
from ledger.errors import BadData


def test_z_means_utc() -> None:
    assert parse_utc("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_utc("2026-01-02T03:04:05Z").utcoffset() == timedelta(0)


def test_offsets_and_fractions_are_kept() -> None:
    moment = parse_utc("2026-01-02T11:04:05.250+08:00")
    assert moment.astimezone(UTC) == datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)


def test_garbage_raises_value_error() -> None:
    with pytest.raises(ValueError, match="isoformat"):
        parse_utc("yesterday")


def test_check_aware_returns_aware_times_and_names_the_field_of_others() -> None:
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    assert check_aware(moment, "now") is moment
    with pytest.raises(BadData, match="opens_at must be timezone-aware") as naive:
        check_aware(datetime(2026, 1, 2), "opens_at")  # naive on purpose
    assert naive.value.field == "opens_at"
    with pytest.raises(BadData, match="at must be a datetime"):
        check_aware("2026-01-02T00:00:00Z", "at")
