"""ledger.entry.parse_utc: the one RFC 3339 UTC parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.entry import parse_utc


def test_z_means_utc() -> None:
    assert parse_utc("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_utc("2026-01-02T03:04:05Z").utcoffset() == timedelta(0)


def test_offsets_and_fractions_are_kept() -> None:
    moment = parse_utc("2026-01-02T11:04:05.250+08:00")
    assert moment.astimezone(UTC) == datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)


def test_garbage_raises_value_error() -> None:
    with pytest.raises(ValueError, match="isoformat"):
        parse_utc("yesterday")
