"""Ledger entries: the JSON object each leaf commits to.

An entry is ``{"actor", "body", "index", "prev", "time", "type"}`` in RFC 8785 form:
``index`` is its position from 0, ``prev`` the standard base64 of the previous entry's
RFC 9162 leaf hash (32 zero bytes for index 0), ``time`` RFC 3339 UTC.  Pure: the
time is passed in.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger import jcs
from ledger.errors import BadData

ZERO_HASH = bytes(32)
ENTRY_KEYS = frozenset({"actor", "body", "index", "prev", "time", "type"})
# RFC 3339 §5.6 date-time in UTC with a 'Z' and millisecond precision, as we write it.
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")  # use fullmatch
ACTOR_RE = re.compile(r"[a-z][a-z0-9_-]*(:[A-Za-z0-9._-]{1,64})?")  # use fullmatch


def parse_utc(text: str) -> datetime:
    """The aware datetime of an RFC 3339 time as the ledger writes it
    (``2026-01-02T03:04:05.000Z``); a trailing ``Z`` means UTC.  The one parser.

    Raises:
        ValueError: ``text`` is not an ISO 8601 / RFC 3339 time.
    """
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-25T08:00:00.000Z``.

    Raises:
        BadData: ``moment`` has no time zone.
    """
    if moment.tzinfo is None:
        raise BadData("time must be timezone-aware", field="time")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def check_aware(value: object, field: str) -> datetime:
    """``value`` as a timezone-aware datetime (the pure rules take no naive times).

    Raises:
        BadData: ``value`` is not a datetime, or has no UTC offset (names ``field``).
    """
    if not isinstance(value, datetime):
        raise BadData(f"{field} must be a datetime", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadData(f"{field} must be timezone-aware", field=field)
    return value


def check_time(text: str, field: str = "time") -> None:
    """Raise ``BadData`` unless ``text`` is an RFC 3339 UTC time ending in Z."""
    if not isinstance(text, str) or not _TIME_RE.fullmatch(text):
        raise BadData(f"{field}: {text!r} is not an RFC 3339 UTC time", field=field)
    try:
        parse_utc(text)
    except ValueError as exc:
        raise BadData(f"{field}: {text!r} is not a valid time", field=field) from exc


@dataclass(frozen=True)
class Entry:
    """A ledger entry as a value."""

    index: int
    prev: bytes
    time: str
    type: str
    actor: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "body": self.body,
            "index": self.index,
            "prev": base64.b64encode(self.prev).decode(),
            "time": self.time,
            "type": self.type,
        }

    def encode(self) -> bytes:
        """RFC 8785 bytes, the exact bytes the leaf hash covers."""
        return jcs.canonical(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> Entry:
        """Check the envelope of a parsed entry.

        Raises:
            BadData: a key is missing or extra, or a field has the wrong form.
        """
        if not isinstance(obj, dict):
            raise BadData("entry is not a JSON object")
        keys = set(obj)
        if keys != ENTRY_KEYS:
            missing, extra = ENTRY_KEYS - keys, keys - ENTRY_KEYS
            raise BadData(f"entry keys wrong (missing {sorted(missing)}, extra {sorted(extra)})")
        index = obj["index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise BadData("entry index is not a non-negative integer", field="index")
        try:
            prev = base64.b64decode(obj["prev"], validate=True)
        except (TypeError, ValueError) as exc:
            raise BadData("entry prev is not base64", field="prev") from exc
        if len(prev) != 32 or base64.b64encode(prev).decode() != obj["prev"]:
            raise BadData("entry prev is not the base64 of a 32-byte hash", field="prev")
        check_time(obj["time"])
        if not isinstance(obj["type"], str) or not TYPE_RE.fullmatch(obj["type"]):
            raise BadData(f"entry type {obj['type']!r} is malformed", field="type")
        if not isinstance(obj["actor"], str) or not ACTOR_RE.fullmatch(obj["actor"]):
            raise BadData(f"entry actor {obj['actor']!r} is malformed", field="actor")
        if not isinstance(obj["body"], dict):
            raise BadData("entry body is not an object", field="body")
        return cls(index, prev, obj["time"], obj["type"], obj["actor"], obj["body"])

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        """Parse entry bytes and check they are canonical.

        Raises:
            BadData: not JSON, not RFC 8785 canonical, or a malformed envelope.
        """
        obj = jcs.parse(raw)
        if not jcs.is_canonical(raw, obj):
            raise BadData("entry bytes are not RFC 8785 canonical JSON")
        return cls.from_json(obj)
