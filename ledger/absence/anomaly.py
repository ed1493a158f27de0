"""Anomaly alerts (异常预警) over decided windows and notification failures.

Pure: the caller passes the decided windows and the final notification failures of a
campaign; :func:`detect` returns what looks unusual.  Three checks:

* ``platform_outage``: windows are grouped into slots by ``opens_at`` floored to
  ``slot_minutes`` (from the UTC epoch).  A slot is suspect when its technical
  absences reach ``outage_min_technical`` and at least ``outage_min_share_pct`` % of the
  slot's decided windows (attended ones included).
* ``notification_failures``: final failures grouped into buckets of
  ``notification_bucket_minutes`` by time; a bucket is suspect when its distinct
  notifications reach ``notification_min_failures``.
* ``absence_rate``: once at least ``absence_rate_min_decided`` windows are decided, the
  absence rate (every outcome but ATTENDED) is suspect when it reaches
  ``baseline_absence_pct * absence_rate_factor_pct / 100`` %.

Each result's ``threshold`` is the smallest ``count`` that raises it (so an alert holds
``count >= threshold``); a count of zero never raises an alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.absence.rules import Cause, Outcome
from ledger.entry import check_aware
from ledger.errors import BadData

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Upper bound of every threshold field.
MAX_THRESHOLD = 2**31 - 1
#: Fields that must be at least 1 (the sizes of slots and buckets).
_POSITIVE = ("slot_minutes", "notification_bucket_minutes")
#: Fields that are percentages of a whole (0..100).
_PERCENT = ("outage_min_share_pct", "baseline_absence_pct")

KINDS = ("absence_rate", "notification_failures", "platform_outage")


@dataclass(frozen=True)
class AnomalyThresholds:
    """When to raise an anomaly alert, from the ``[alerts]`` config table."""

    slot_minutes: int = 30
    outage_min_technical: int = 10
    outage_min_share_pct: int = 30
    notification_bucket_minutes: int = 60
    notification_min_failures: int = 10
    absence_rate_min_decided: int = 100
    absence_rate_factor_pct: int = 200
    baseline_absence_pct: int = 12

    def __post_init__(self) -> None:
        """Check the values.

        Raises:
            BadData: a field that is not an ``int`` (``bool`` is not), negative, above
                ``MAX_THRESHOLD``, a zero slot or bucket size, or a share or baseline
                percentage above 100; ``field`` is ``alerts.<key>``.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            where = f"alerts.{f.name}"
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadData(f"{where} must be an integer", field=where)
            if value < 0:
                raise BadData(f"{where} must not be negative", field=where)
            if value > MAX_THRESHOLD:
                raise BadData(f"{where} must be at most {MAX_THRESHOLD}", field=where)
            if f.name in _POSITIVE and value == 0:
                raise BadData(f"{where} must be at least 1", field=where)
            if f.name in _PERCENT and value > 100:
                raise BadData(f"{where} is a percentage: at most 100", field=where)

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> AnomalyThresholds:
        """Build the thresholds from the ``[alerts]`` table; missing keys keep defaults.

        Raises:
            BadData: ``table`` is not a mapping, an unknown key, a value that is not an
                integer (``bool`` is not), a negative or too large value, a zero slot or
                bucket size, or a percentage above 100; ``field`` is ``alerts.<key>``.
        """
        if not isinstance(table, Mapping):
            raise BadData("alerts must be a table", field="alerts")
        known = tuple(f.name for f in fields(cls))
        kwargs: dict[str, int] = {}
        for key, value in table.items():
            if key not in known:
                raise BadData(
                    f"alerts: unknown key {key!r} (known: {', '.join(known)})",
                    field=f"alerts.{key}")
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadData(
                    f"alerts.{key} must be an integer, not {type(value).__name__}",
                    field=f"alerts.{key}")
            kwargs[key] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class DecidedWindow:
    """One decided window, as the anomaly checks see it (``cause`` None iff attended)."""

    window: str
    opens_at: datetime
    outcome: Outcome
    cause: Cause | None


@dataclass(frozen=True)
class SuspectedAnomaly:
    """One unusual pattern for HR to look at.

    ``key`` is a stable id (``<kind>:<slot start as YYYYMMDDTHHMMZ>``, or
    ``absence_rate``); the caller prepends the campaign.  ``count`` out of ``total``:
    technical absences out of the slot's decided windows; distinct failed notifications
    out of the same (the bucket's failures); absences out of decided windows.
    ``threshold`` is the smallest count that raises the alert.  ``windows``: the
    technical windows of an outage slot, the failed notification ids of a bucket, and
    nothing for the absence rate; sorted.
    """

    kind: str
    key: str
    slot_start: datetime | None
    count: int
    total: int
    threshold: int
    windows: tuple[str, ...]


def slot_of(moment: datetime, minutes: int) -> datetime:
    """``moment`` floored to a multiple of ``minutes`` since the UTC epoch, in UTC.

    Raises:
        BadData: ``moment`` is naive, or ``minutes < 1``.
    """
    check_aware(moment, "moment")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise BadData("slot size must be a positive number of minutes", field="minutes")
    size = timedelta(minutes=minutes)
    return _EPOCH + ((moment - _EPOCH) // size) * size


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def detect(
    decided: Sequence[DecidedWindow],
    notification_failures: Sequence[tuple[str, datetime]],
    thresholds: AnomalyThresholds,
) -> list[SuspectedAnomaly]:
    """Find the anomalies in a campaign's decided windows and final notification failures.

    ``notification_failures`` holds ``(notification id, failed at)`` pairs; a
    notification listed twice in one bucket counts once.  The result is ordered by kind
    (``absence_rate``, ``notification_failures``, ``platform_outage``) then slot start.

    Raises:
        BadData: a naive datetime; a window listed twice; a decided window whose
            ``cause`` is None but whose outcome is not ATTENDED, or the reverse.
    """
    seen: set[str] = set()
    for i, item in enumerate(decided):
        check_aware(item.opens_at, f"decided[{i}].opens_at")
        if item.window in seen:
            raise BadData(f"window {item.window} is listed twice", field=f"decided[{i}].window")
        seen.add(item.window)
        if (item.cause is None) != (item.outcome is Outcome.ATTENDED):
            raise BadData(
                f"window {item.window}: cause must be given iff the outcome is not attended",
                field=f"decided[{i}].cause")
    for i, (_, at) in enumerate(notification_failures):
        check_aware(at, f"notification_failures[{i}]")

    found: list[SuspectedAnomaly] = []

    # Absence rate over the whole campaign.
    total = len(decided)
    if total and total >= thresholds.absence_rate_min_decided:
        absent = sum(1 for d in decided if d.outcome is not Outcome.ATTENDED)
        # rate >= baseline% * factor% <=> absent * 10000 >= baseline * factor * total
        needed = max(1, _ceil_div(
            thresholds.baseline_absence_pct * thresholds.absence_rate_factor_pct * total,
            10000))
        if absent >= needed:
            found.append(SuspectedAnomaly(
                kind="absence_rate", key="absence_rate", slot_start=None, count=absent,
                total=total, threshold=needed, windows=()))

    # Final notification failures per time bucket.
    buckets: dict[datetime, set[str]] = {}
    for notification, at in notification_failures:
        start = slot_of(at, thresholds.notification_bucket_minutes)
        buckets.setdefault(start, set()).add(notification)
    needed = max(1, thresholds.notification_min_failures)
    for start in sorted(buckets):
        ids = buckets[start]
        if len(ids) >= needed:
            found.append(SuspectedAnomaly(
                kind="notification_failures", key=f"notification_failures:{_stamp(start)}",
                slot_start=start, count=len(ids), total=len(ids), threshold=needed,
                windows=tuple(sorted(ids))))

    # Technical absences per slot of opening time.
    slots: dict[datetime, list[DecidedWindow]] = {}
    for item in decided:
        slots.setdefault(slot_of(item.opens_at, thresholds.slot_minutes), []).append(item)
    for start in sorted(slots):
        members = slots[start]
        technical = sorted(d.window for d in members if d.cause is Cause.TECHNICAL)
        needed = max(1, thresholds.outage_min_technical,
                     _ceil_div(thresholds.outage_min_share_pct * len(members), 100))
        if len(technical) >= needed:
            found.append(SuspectedAnomaly(
                kind="platform_outage", key=f"platform_outage:{_stamp(start)}",
                slot_start=start, count=len(technical), total=len(members),
                threshold=needed, windows=tuple(technical)))
    return found
