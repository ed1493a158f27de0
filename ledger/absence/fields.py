"""Checks of the fields a command receives: times, identifiers, unknown fields.

Each raises ``BadData`` naming the field, before anything is looked up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.absence.imports import REGISTRATION_RE, registration_key
from ledger.absence.vault import PersonalDetails, normalise_id_number
from ledger.entry import parse_utc
from ledger.errors import BadData
from ledger.events import identifier

#: The earliest year a time may have (in UTC): four digits, as RFC 3339 writes it.
MIN_YEAR = 1000

def parse_time(value: Any, field: str) -> datetime:
    """An RFC 3339 time with an offset, as an aware datetime.

    Raises:
        BadData: not a string, not RFC 3339, or without an offset.
    """
    if not isinstance(value, str):
        raise BadData(f"{field}: expected an RFC 3339 time string", field=field)
    try:
        moment = parse_utc(value)
    except ValueError:
        raise BadData(f"{field}: {value!r} is not an RFC 3339 time", field=field) from None
    if moment.tzinfo is None:
        raise BadData(f"{field}: give a time zone offset, e.g. +08:00 or Z", field=field)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+08:00, 9999-12-31T23:59-08:00
        raise BadData(f"{field}: {value!r} is out of range", field=field) from None
    if utc.year < MIN_YEAR:
        # RFC 3339 years have four digits; the ledger writes times in UTC.
        raise BadData(f"{field}: {value!r} is before the year {MIN_YEAR}", field=field)
    return moment


def check_id(value: Any, field: str) -> str:
    """``value`` as an identifier (``events.identifier``).

    Raises:
        BadData: not an identifier.
    """
    identifier(value, field)
    return str(value)


#: At most this many posts in one campaign (its entry stays of a bounded size).
MAX_POSTS = 500

#: How far ahead a window may close, and how long one may stay open: a typo in a year
#: (2062 for 2026) must not park a candidate's fate decades away.
MAX_WINDOW_AHEAD = timedelta(days=366)
MAX_WINDOW_LENGTH = timedelta(days=31)


def check_window_times(opens: datetime, closes: datetime, now: datetime) -> None:
    """An interview window's times, as scheduled, accommodated or offered again.

    Raises:
        BadData: ``closes_at`` not after ``opens_at``, not in the future, more than a
            year ahead, or the window longer than 31 days (names the field).
    """
    if closes <= opens:
        raise BadData("closes_at: must be after opens_at", field="closes_at")
    if closes <= now:
        raise BadData("closes_at: must be in the future", field="closes_at")
    if closes - now > MAX_WINDOW_AHEAD:
        raise BadData("closes_at: at most 366 days ahead; check the year", field="closes_at")
    if closes - opens > MAX_WINDOW_LENGTH:
        raise BadData("opens_at: a window lasts at most 31 days; check the dates",
                      field="opens_at")


def makeup_times(data: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """``opens_at`` and ``closes_at`` of ``data``, checked as a window's times.

    Raises:
        BadData: missing or invalid (named).
    """
    opens = parse_time(req(data, "opens_at"), "opens_at")
    closes = parse_time(req(data, "closes_at"), "closes_at")
    check_window_times(opens, closes, now)
    return opens, closes


def parse_registration(value: Any) -> str:
    """A registration number as typed by a candidate, as its lookup key.

    Whitespace is ignored wherever it is, ASCII or full-width (U+3000, as a Chinese
    input method types it): the grammar has no spaces, so removing them cannot turn one
    number into another.  The key is case-insensitive (``imports.registration_key``).

    Raises:
        BadData: not a string of the registration grammar (``imports.REGISTRATION_RE``).
    """
    text = "".join(value.split()) if isinstance(value, str) and len(value) <= 256 else None
    if text is None or not REGISTRATION_RE.fullmatch(text):
        raise BadData("registration: 4 to 32 letters, digits or '-', as on the "
                      "registration slip", field="registration")
    return registration_key(text)


def parse_factor(value: Any, chars: int) -> str:
    """A verification factor as typed: the last ``chars`` characters of an ID number.

    An ID number is 17 digits and a check character (a digit or X), so a factor is
    ``chars - 1`` digits and a final digit or X.  Normalised like ID numbers
    (``vault.normalise_id_number``: NFKC, so full-width digits count; whitespace removed;
    upper case, so ``x`` is ``X``).

    Raises:
        BadData: anything else (named ``factor``), before it is compared with anything.
    """
    text = normalise_id_number(value) if isinstance(value, str) and len(value) <= 64 else ""
    if len(text) != chars or not _FACTOR_RE.fullmatch(text):
        raise BadData(f"factor: the last {chars} characters of the ID number "
                      f"({chars - 1} digits, then a digit or X)", field="factor")
    return text


_FACTOR_RE = re.compile(r"[0-9]*[0-9X]")


def contact_channels(d: PersonalDetails) -> str:
    """The channels a candidate can be reached on: ``email``, ``sms`` or both."""
    return ",".join(c for c, v in (("email", d.email), ("sms", d.phone)) if v)


_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def error_code(text: str) -> str:
    """``text`` as a short code of ASCII letters, digits and ``_`` (as entries hold it:
    ``[a-z][a-z0-9_]{0,39}``); any other character, a non-ASCII letter too, becomes ``_``."""
    out = "".join(c if c in _CODE_CHARS else "_" for c in text.lower())[:40]
    return out if out and out[0].isalpha() else ("e_" + out)[:40]


def req(data: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    """``data[key]``.

    Raises:
        BadData: missing (named with ``prefix``).
    """
    if key not in data:
        raise BadData(f"{prefix}{key}: required", field=f"{prefix}{key}")
    return data[key]


def choice(data: Mapping[str, Any], key: str, choices: Sequence[str]) -> str:
    """``data[key]``, one of ``choices``.

    Raises:
        BadData: missing, or not one of them (named, with the choices).
    """
    value = req(data, key)
    if value not in choices:
        raise BadData(f"{key}: one of {', '.join(choices)}", field=key)
    return str(value)


MAX_REASON_CHARS = 200


def stated_reason(data: Mapping[str, Any]) -> str | None:
    """``data["reason"]`` (a reviewer's reason, stripped), or None when absent or blank.

    Raises:
        BadData: not a string, longer than ``MAX_REASON_CHARS`` or not printable.
    """
    value = data.get("reason")
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadData("reason: must be a string", field="reason")
    value = value.strip()
    if len(value) > MAX_REASON_CHARS or not value.isprintable():
        raise BadData(f"reason: at most {MAX_REASON_CHARS} printable characters",
                      field="reason")
    return value or None


def only(data: Any, allowed: Iterable[str], prefix: str) -> None:
    """Check that ``data`` is an object with no field outside ``allowed``.

    Raises:
        BadData: not an object, or an unknown field (named).
    """
    if not isinstance(data, Mapping):
        raise BadData("body: expected a JSON object", field=prefix.rstrip(".") or "body")
    for key in data:
        if key not in allowed:
            raise BadData(f"{prefix}{key}: unknown field", field=f"{prefix}{key}")
