"""Anomaly alerts: outage slots, notification failure buckets, absence rate."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.absence.anomaly import (
    AnomalyThresholds,
    DecidedWindow,
    SuspectedAnomaly,
    detect,
    slot_of,
)
from ledger.absence.rules import Cause, Outcome
from ledger.errors import BadData

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DEFAULT = AnomalyThresholds()


def attended(name: str, at: datetime = T0) -> DecidedWindow:
    return DecidedWindow(window=name, opens_at=at, outcome=Outcome.ATTENDED, cause=None)


def technical(name: str, at: datetime = T0) -> DecidedWindow:
    return DecidedWindow(window=name, opens_at=at, outcome=Outcome.MAKEUP_PENDING,
                         cause=Cause.TECHNICAL)


def no_show(name: str, at: datetime = T0) -> DecidedWindow:
    return DecidedWindow(window=name, opens_at=at, outcome=Outcome.FORFEITED,
                         cause=Cause.NO_SHOW)


def kinds(found: list[SuspectedAnomaly]) -> list[str]:
    return [a.kind for a in found]


# ---------------------------------------------------------------- slots


def test_slot_of_floors_from_the_utc_epoch() -> None:
    assert slot_of(datetime(2026, 11, 25, 8, 29, 59, tzinfo=UTC), 30) == T0
    assert slot_of(datetime(2026, 11, 25, 8, 30, tzinfo=UTC), 30) == \
        datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    # 16:10 in UTC+08:00 is 08:10 UTC
    beijing = timezone(timedelta(hours=8))
    assert slot_of(datetime(2026, 11, 25, 16, 10, tzinfo=beijing), 30) == T0
    # 7-minute slots count from 1970-01-01T00:00Z (1449 = 207 * 7), not from midnight
    assert slot_of(datetime(1970, 1, 2, 0, 10, tzinfo=UTC), 7) == \
        datetime(1970, 1, 2, 0, 9, tzinfo=UTC)
    assert slot_of(datetime(1969, 12, 31, 23, 59, tzinfo=UTC), 30) == \
        datetime(1969, 12, 31, 23, 30, tzinfo=UTC)


def test_slot_of_rejects_naive_and_zero() -> None:
    with pytest.raises(BadData):
        slot_of(datetime(2026, 1, 1), 30)
    with pytest.raises(BadData):
        slot_of(T0, 0)


# ---------------------------------------------------------------- platform outage


def test_outage_count_threshold_boundary() -> None:
    nine = [technical(f"t{i:02d}") for i in range(9)]
    assert detect(nine, [], DEFAULT) == []
    ten = [technical(f"t{i:02d}") for i in range(10)]
    found = detect(ten, [], DEFAULT)
    assert found == [SuspectedAnomaly(
        kind="platform_outage", key="platform_outage:20261125T0800Z", slot_start=T0,
        count=10, total=10, threshold=10, windows=tuple(f"t{i:02d}" for i in range(10)))]


def test_outage_share_boundary() -> None:
    # 10 technical out of 33 decided = 30.3 % (>= 30 %): alert; out of 34 = 29.4 %: none
    tech = [technical(f"t{i:02d}") for i in range(10)]
    found = detect(tech + [attended(f"a{i:02d}") for i in range(23)], [], DEFAULT)
    assert kinds(found) == ["platform_outage"]
    assert (found[0].count, found[0].total, found[0].threshold) == (10, 33, 10)
    assert detect(tech + [attended(f"a{i:02d}") for i in range(24)], [], DEFAULT) == []


def test_outage_share_sets_the_threshold_when_larger() -> None:
    # 40 windows in the slot: 30 % of 40 = 12 technical needed
    thresholds = dataclasses.replace(DEFAULT, absence_rate_min_decided=10**6)
    base = [attended(f"a{i:02d}") for i in range(28)]
    eleven = [technical(f"t{i:02d}") for i in range(11)] + [no_show("n")]
    assert detect(base + eleven, [], thresholds) == []
    twelve = [technical(f"t{i:02d}") for i in range(12)]
    found = detect(base + twelve, [], thresholds)
    assert [(a.count, a.total, a.threshold) for a in found] == [(12, 40, 12)]


def test_outage_exact_share_percentage_counts() -> None:
    thresholds = AnomalyThresholds(outage_min_technical=1, outage_min_share_pct=50)
    assert kinds(detect([technical("t"), attended("a")], [], thresholds)) == ["platform_outage"]
    assert detect([technical("t"), attended("a"), attended("b")], [], thresholds) == []


def test_outage_only_counts_technical_windows() -> None:
    thresholds = AnomalyThresholds(outage_min_technical=2, outage_min_share_pct=0)
    other = [
        DecidedWindow("c", T0, Outcome.MAKEUP_PENDING, Cause.COMPATIBILITY),
        DecidedWindow("n", T0, Outcome.MAKEUP_PENDING, Cause.NOTIFICATION_FAILED),
        DecidedWindow("w", T0, Outcome.FORFEITED, Cause.WITHDRAWN),
        no_show("x"),
    ]
    assert detect([*other, technical("t1")], [], thresholds) == []
    locked = DecidedWindow("t2", T0, Outcome.LOCKED, Cause.TECHNICAL)
    found = detect([*other, technical("t1"), locked], [], thresholds)
    assert [(a.count, a.total, a.windows) for a in found] == [(2, 6, ("t1", "t2"))]


def test_outage_slots_are_separate() -> None:
    thresholds = AnomalyThresholds(outage_min_technical=3, outage_min_share_pct=0)
    late = T0 + timedelta(minutes=29, seconds=59)
    nxt = T0 + timedelta(minutes=30)
    # two in the first slot (one at its last second), two in the next: no slot has three
    split = [technical("a", T0), technical("b", late), technical("c", nxt),
             technical("d", nxt + timedelta(minutes=1))]
    assert detect(split, [], thresholds) == []
    found = detect([*split, technical("e", late), technical("f", nxt)], [], thresholds)
    assert [(a.key, a.slot_start, a.windows) for a in found] == [
        ("platform_outage:20261125T0800Z", T0, ("a", "b", "e")),
        ("platform_outage:20261125T0830Z", nxt, ("c", "d", "f")),
    ]


def test_outage_slot_size_from_thresholds() -> None:
    thresholds = AnomalyThresholds(slot_minutes=60, outage_min_technical=2,
                                   outage_min_share_pct=0)
    found = detect([technical("a", T0), technical("b", T0 + timedelta(minutes=45))],
                   [], thresholds)
    assert [(a.key, a.count) for a in found] == [("platform_outage:20261125T0800Z", 2)]


def test_outage_windows_sorted() -> None:
    thresholds = AnomalyThresholds(outage_min_technical=1, outage_min_share_pct=0)
    found = detect([technical("w9"), technical("w10"), technical("w1")], [], thresholds)
    assert found[0].windows == ("w1", "w10", "w9")


def test_zero_count_never_alerts() -> None:
    thresholds = AnomalyThresholds(outage_min_technical=0, outage_min_share_pct=0,
                                   notification_min_failures=0, absence_rate_min_decided=0,
                                   baseline_absence_pct=0)
    assert detect([attended("a")], [], thresholds) == []
    assert detect([], [], thresholds) == []


# ---------------------------------------------------------------- notification failures


def failures(n: int, at: datetime = T0, prefix: str = "n") -> list[tuple[str, datetime]]:
    return [(f"{prefix}{i:02d}", at + timedelta(seconds=i)) for i in range(n)]


def test_notification_failures_threshold_boundary() -> None:
    assert detect([], failures(9), DEFAULT) == []
    found = detect([], failures(10), DEFAULT)
    assert found == [SuspectedAnomaly(
        kind="notification_failures", key="notification_failures:20261125T0800Z",
        slot_start=T0, count=10, total=10, threshold=10,
        windows=tuple(f"n{i:02d}" for i in range(10)))]


def test_notification_failures_buckets() -> None:
    # 60-minute buckets: 08:59:59 and 09:00:00 fall in different buckets
    last = T0 + timedelta(minutes=59, seconds=59)
    split = [(f"a{i}", last) for i in range(5)] + \
        [(f"b{i}", T0 + timedelta(hours=1)) for i in range(5)]
    assert detect([], split, AnomalyThresholds(notification_min_failures=6)) == []
    found = detect([], split, AnomalyThresholds(notification_min_failures=5))
    assert [(a.key, a.count) for a in found] == [
        ("notification_failures:20261125T0800Z", 5),
        ("notification_failures:20261125T0900Z", 5),
    ]
    wide = detect([], split, AnomalyThresholds(notification_bucket_minutes=120,
                                               notification_min_failures=10))
    assert [(a.key, a.count) for a in wide] == [("notification_failures:20261125T0800Z", 10)]


def test_notification_failure_listed_twice_in_a_bucket_counts_once() -> None:
    twice = [*failures(9), ("n00", T0 + timedelta(minutes=3))]
    assert detect([], twice, DEFAULT) == []


# ---------------------------------------------------------------- absence rate


def campaign(absent: int, present: int) -> list[DecidedWindow]:
    # spread over many slots so that no outage fires
    out = [no_show(f"x{i:04d}", T0 + timedelta(hours=i)) for i in range(absent)]
    out += [attended(f"y{i:04d}", T0 + timedelta(hours=i)) for i in range(present)]
    return out


def test_absence_rate_boundary() -> None:
    # baseline 12 % * 200 % = 24 %: 24 of 100 alerts, 23 of 100 does not
    found = detect(campaign(24, 76), [], DEFAULT)
    assert found == [SuspectedAnomaly(
        kind="absence_rate", key="absence_rate", slot_start=None, count=24, total=100,
        threshold=24, windows=())]
    assert detect(campaign(23, 77), [], DEFAULT) == []


def test_absence_rate_needs_enough_decided_windows() -> None:
    assert detect(campaign(99, 0), [], DEFAULT) == []
    assert kinds(detect(campaign(100, 0), [], DEFAULT)) == ["absence_rate"]


def test_absence_rate_threshold_rounds_up() -> None:
    # 24 % of 101 = 24.24: 25 absences needed
    assert detect(campaign(24, 77), [], DEFAULT) == []
    found = detect(campaign(25, 76), [], DEFAULT)
    assert [(a.count, a.total, a.threshold) for a in found] == [(25, 101, 25)]


def test_absence_rate_counts_every_non_attended_outcome() -> None:
    thresholds = AnomalyThresholds(absence_rate_min_decided=4, baseline_absence_pct=50,
                                   absence_rate_factor_pct=100, outage_min_technical=99)
    windows = [
        DecidedWindow("l", T0, Outcome.LOCKED, Cause.NO_SHOW),
        DecidedWindow("r", T0, Outcome.REBOOK_OFFERED, Cause.COMPATIBILITY),
        attended("a"), attended("b"),
    ]
    found = detect(windows, [], thresholds)
    assert [(a.kind, a.count, a.total, a.threshold) for a in found] == [
        ("absence_rate", 2, 4, 2)]


# ---------------------------------------------------------------- order and determinism


def _everything() -> tuple[list[DecidedWindow], list[tuple[str, datetime]]]:
    later = T0 + timedelta(hours=2)
    decided = [technical(f"t{i:02d}", later) for i in range(10)]
    decided += [technical(f"u{i:02d}", T0) for i in range(10)]
    decided += campaign(30, 60)
    notes = failures(10, later, "p") + failures(10, T0, "q")
    return decided, notes


def test_order_is_kind_then_slot_and_deterministic() -> None:
    decided, notes = _everything()
    found = detect(decided, notes, DEFAULT)
    assert [(a.kind, a.slot_start) for a in found] == [
        ("absence_rate", None),
        ("notification_failures", T0),
        ("notification_failures", T0 + timedelta(hours=2)),
        ("platform_outage", T0),
        ("platform_outage", T0 + timedelta(hours=2)),
    ]
    shuffled_decided, shuffled_notes = list(decided), list(notes)
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(shuffled_decided)
        rng.shuffle(shuffled_notes)
        assert detect(shuffled_decided, shuffled_notes, DEFAULT) == found


def test_keys_are_well_formed() -> None:
    decided, notes = _everything()
    for anomaly in detect(decided, notes, DEFAULT):
        assert anomaly.key
        assert set(anomaly.key) <= set("abcdefghijklmnopqrstuvwxyz0123456789_.:-TZ")
        assert anomaly.key.startswith(anomaly.kind)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=600),
                          st.sampled_from([None, *Cause])), max_size=60, unique_by=lambda t: t),
       st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=100))
def test_outage_alert_iff_rule_holds(raw: list[tuple[int, Cause | None]], minimum: int,
                                     share: int) -> None:
    thresholds = AnomalyThresholds(outage_min_technical=minimum, outage_min_share_pct=share,
                                   absence_rate_min_decided=10**6)
    decided = [DecidedWindow(
        f"w{i}", T0 + timedelta(minutes=minute),
        Outcome.ATTENDED if cause is None else Outcome.FORFEITED, cause)
        for i, (minute, cause) in enumerate(raw)]
    found = {a.slot_start: a for a in detect(decided, [], thresholds)}
    for slot in {slot_of(d.opens_at, 30) for d in decided}:
        members = [d for d in decided if slot_of(d.opens_at, 30) == slot]
        tech = [d for d in members if d.cause is Cause.TECHNICAL]
        expected = len(tech) >= minimum and len(tech) * 100 >= share * len(members)
        assert (slot in found) == expected
        if expected:
            assert found[slot].count == len(tech)
            assert found[slot].total == len(members)
            assert found[slot].count >= found[slot].threshold


# ---------------------------------------------------------------- bad input and config


def test_bad_decided_windows() -> None:
    with pytest.raises(BadData) as info:
        detect([attended("a"), attended("a")], [], DEFAULT)
    assert info.value.field == "decided[1].window"
    with pytest.raises(BadData) as info:
        detect([DecidedWindow("a", T0, Outcome.FORFEITED, None)], [], DEFAULT)
    assert info.value.field == "decided[0].cause"
    with pytest.raises(BadData) as info:
        detect([DecidedWindow("a", T0, Outcome.ATTENDED, Cause.TECHNICAL)], [], DEFAULT)
    assert info.value.field == "decided[0].cause"
    with pytest.raises(BadData) as info:
        detect([attended("a", datetime(2026, 1, 1))], [], DEFAULT)
    assert info.value.field == "decided[0].opens_at"
    with pytest.raises(BadData) as info:
        detect([], [("n", datetime(2026, 1, 1))], DEFAULT)
    assert info.value.field == "notification_failures[0]"


def test_from_config() -> None:
    assert AnomalyThresholds.from_config({}) == DEFAULT
    table = {"slot_minutes": 15, "outage_min_technical": 5, "outage_min_share_pct": 20,
             "notification_bucket_minutes": 30, "notification_min_failures": 4,
             "absence_rate_min_decided": 50, "absence_rate_factor_pct": 150,
             "baseline_absence_pct": 10}
    assert dataclasses.asdict(AnomalyThresholds.from_config(table)) == table


@pytest.mark.parametrize(("table", "key"), [
    ({"slot_mins": 30}, "slot_mins"),
    ({"slot_minutes": 0}, "slot_minutes"),
    ({"notification_bucket_minutes": 0}, "notification_bucket_minutes"),
    ({"slot_minutes": -30}, "slot_minutes"),
    ({"outage_min_technical": -1}, "outage_min_technical"),
    ({"outage_min_technical": True}, "outage_min_technical"),
    ({"outage_min_share_pct": 30.5}, "outage_min_share_pct"),
    ({"outage_min_share_pct": 101}, "outage_min_share_pct"),
    ({"baseline_absence_pct": 101}, "baseline_absence_pct"),
    ({"absence_rate_factor_pct": "200"}, "absence_rate_factor_pct"),
    ({"absence_rate_min_decided": 2**31}, "absence_rate_min_decided"),
])
def test_from_config_errors_name_the_field(table: dict[str, Any], key: str) -> None:
    with pytest.raises(BadData) as info:
        AnomalyThresholds.from_config(table)
    assert info.value.field == f"alerts.{key}"


def test_from_config_allows_zero_counts_and_large_factor() -> None:
    thresholds = AnomalyThresholds.from_config(
        {"outage_min_technical": 0, "absence_rate_factor_pct": 1000})
    assert thresholds.outage_min_technical == 0
    assert thresholds.absence_rate_factor_pct == 1000
