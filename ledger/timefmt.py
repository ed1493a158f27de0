"""RFC 3339 UTC times as the ledger writes them (``2026-01-02T03:04:05Z``): the one parser.

Pure: standard library only.
"""

from __future__ import annotations

from datetime import datetime


def parse_utc(text: str) -> datetime:
    """The aware datetime of an RFC 3339 time; a trailing ``Z`` means UTC.

    Raises:
        ValueError: ``text`` is not an ISO 8601 / RFC 3339 time.
    """
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
