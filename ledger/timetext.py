"""Times as people write them: 北京时间 on pages, PDFs and notices.

Storage and the ledger keep UTC (RFC 3339 with ``Z``); a person reads the wall-clock time
of the campaign's zone, written the way an official document writes it:

- Chinese: ``2026年11月12日 09:00`` (``written``), or ``2026-11-12 09:00`` in tables
  (``written_short``);
- English: ``12 Nov 2026, 09:00`` and ``2026-11-12 09:00``.

The zone is named for what it is: ``北京时间`` / ``Beijing time`` for China's zone, else
``UTC+hh:mm`` (``zone_label``).  Pure functions: the moment is a parameter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from ledger.entry import parse_utc

__all__ = ["BEIJING_ZONES", "as_zone", "written", "written_date", "written_short", "zone_label"]

#: The IANA names of China's single zone (UTC+8, no summer time since 1991).
BEIJING_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking",
                           "Asia/Harbin", "Asia/Urumqi", "PRC"})

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")


def as_zone(tz: str | tzinfo) -> tzinfo:
    """``tz`` as a zone: an IANA name is looked up.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: an unknown zone name.
    """
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _moment(value: datetime | str) -> datetime:
    return parse_utc(value) if isinstance(value, str) else value.astimezone(UTC)


def zone_label(tz: str | tzinfo, lang: str = "zh", at: datetime | None = None) -> str:
    """What a person calls ``tz``: 北京时间 (``Beijing time``) for China's zone, else its
    offset from UTC at ``at`` (``UTC+09:00``); ``at`` defaults to 2000-01-01.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: an unknown zone name.
    """
    name = tz if isinstance(tz, str) else str(getattr(tz, "key", ""))
    if name in BEIJING_ZONES:
        return "北京时间" if lang == "zh" else "Beijing time"
    offset = (at or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(as_zone(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def written(value: datetime | str, tz: str | tzinfo, lang: str = "zh", *,
            seconds: bool = False, zone: bool = False) -> str:
    """``value`` (aware, or RFC 3339 UTC text) at the wall clock of ``tz``, as a document
    writes it: ``2026年11月12日 09:00`` or ``12 Nov 2026, 09:00``; ``seconds`` adds them,
    ``zone`` appends the zone's name (``（北京时间）`` / ``(Beijing time)``).

    Raises:
        ValueError: ``value`` is text that is not an RFC 3339 UTC time.
        zoneinfo.ZoneInfoNotFoundError: an unknown zone name.
    """
    local = _moment(value).astimezone(as_zone(tz))
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if lang == "zh":
        text = f"{local.year}年{local.month}月{local.day}日 {clock}"
        return text + f"（{zone_label(tz, lang, local)}）" if zone else text
    text = f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {clock}"
    return text + f" ({zone_label(tz, lang, local)})" if zone else text


def written_date(day: date, lang: str = "zh") -> str:
    """A calendar day as a document writes it: ``2026年12月18日`` or ``18 Dec 2026``."""
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def written_short(value: datetime | str | None, tz: str | tzinfo, *,
                  seconds: bool = False) -> str:
    """``value`` at the wall clock of ``tz`` as ``2026-11-12 09:00`` (tables, exports);
    empty for None.

    Raises:
        ValueError: ``value`` is text that is not an RFC 3339 UTC time.
        zoneinfo.ZoneInfoNotFoundError: an unknown zone name.
    """
    if value is None or value == "":
        return ""
    local = _moment(value).astimezone(as_zone(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
