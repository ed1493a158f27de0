"""Standard Webhooks (https://www.standardwebhooks.com, spec v1): verify and sign requests.

The AI interview platform posts session events to us signed the Standard Webhooks way:

* ``webhook-id``: a unique message id (also the idempotency key);
* ``webhook-timestamp``: unix seconds when the message was sent;
* ``webhook-signature``: space-separated ``<version>,<base64>`` entries, where ``v1`` is
  ``base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body))``.

A signature is accepted if ANY ``v1`` entry matches ANY of our secrets (two secrets are live
while a secret is rotated).  Entries with other versions (``v1a`` is the asymmetric scheme)
are ignored.  Time is a parameter: this module never reads the clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ledger.errors import BadData, CouldNotCheck, Unauthenticated

# The signing half lives in the core (the log monitor signs its alerts with it).
from ledger.webhook_signing import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SECRET_GENERATED_BYTES,
    SECRET_MAX_BYTES,
    SECRET_MIN_BYTES,
    SECRET_PREFIX,
    SIGNATURE_VERSION,
    WebhookSecret,
    check_id,
    sign,
    signature_mac,
)

__all__ = [
    "HEADER_ID", "HEADER_SIGNATURE", "HEADER_TIMESTAMP", "SECRET_GENERATED_BYTES",
    "SECRET_MAX_BYTES", "SECRET_MIN_BYTES", "SECRET_PREFIX", "SIGNATURE_VERSION", "TOLERANCE_S",
    "HeaderItems", "WebhookMessage", "WebhookSecret", "sign", "verify",
]

#: Spec "Verifying webhooks": reject messages whose timestamp is more than 5 minutes from now.
TOLERANCE_S = 300

#: A timestamp is a decimal integer of unix seconds; 20 digits bound the parse.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,20}")


class HeaderItems(Protocol):
    """Request headers: a ``Mapping[str, str]`` or werkzeug ``Headers`` (not a Mapping, but it
    has ``items()``); names may be in any letter case."""

    def items(self) -> Iterable[tuple[str, str]]: ...


@dataclass(frozen=True)
class WebhookMessage:
    """The verified identity of a webhook message.

    Raises (construction):
        BadData: the id is not 1..128 printable ASCII without space or comma
            (``field="webhook-id"``).
    """

    id: str  # the webhook-id header
    timestamp: int  # unix seconds, from the webhook-timestamp header

    def __post_init__(self) -> None:
        check_id(self.id)

    @property
    def sent_at(self) -> datetime:
        """The timestamp as an aware UTC datetime (when the sender says it sent this)."""
        return datetime.fromtimestamp(self.timestamp, UTC)


def _headers_lower(headers: HeaderItems) -> dict[str, str]:
    """The three webhook headers, keyed by lower-case name.

    Raises:
        BadData: a webhook header is given twice with different values.
    """
    wanted = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    found: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low not in wanted:
            continue
        if low in found and found[low] != value:
            raise BadData(f"header {low} is given more than once", field=low)
        found[low] = value
    return found


def verify(
    secrets: Sequence[WebhookSecret],
    headers: HeaderItems,
    body: bytes,
    now: datetime,
) -> WebhookMessage:
    """Check a webhook request's headers and exact body bytes; return its id and timestamp.

    ``headers`` may use any letter case for names (a ``dict`` or werkzeug ``Headers``).
    ``now`` must be timezone-aware.

    Raises:
        BadData: a webhook header is missing or repeated (``field`` names it), the id is
            malformed (``"webhook-id"``) or the timestamp is not a decimal integer
            (``"webhook-timestamp"``).  HTTP 400.
        Unauthenticated: the timestamp is more than ``TOLERANCE_S`` seconds from ``now``
            (``"webhook-timestamp"``), or no ``v1`` signature matches any secret
            (``"webhook-signature"``).  HTTP 401.
        CouldNotCheck: ``secrets`` is empty (no webhook secret is configured).
        ValueError: ``now`` is naive (a programming error).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("verify: now must be timezone-aware")
    found = _headers_lower(headers)
    for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE):
        if not found.get(name):
            raise BadData(f"missing header {name} (Standard Webhooks)", field=name)
    msg_id = found[HEADER_ID]
    timestamp_text = found[HEADER_TIMESTAMP]
    check_id(msg_id)
    if _TIMESTAMP_RE.fullmatch(timestamp_text) is None:
        raise BadData(f"{HEADER_TIMESTAMP} must be a decimal integer (unix seconds)",
                      field=HEADER_TIMESTAMP)
    timestamp = int(timestamp_text)

    skew = timestamp - now.timestamp()
    if abs(skew) > TOLERANCE_S:
        direction = "in the future" if skew > 0 else "in the past"
        if abs(timestamp / 1000 - now.timestamp()) <= TOLERANCE_S:
            raise Unauthenticated(
                f"{HEADER_TIMESTAMP} {timestamp_text} looks like milliseconds; send seconds "
                f"(unix time in seconds, e.g. {int(timestamp / 1000)}, per Standard Webhooks)",
                field=HEADER_TIMESTAMP,
            )
        raise Unauthenticated(
            f"{HEADER_TIMESTAMP} is {abs(skew):.0f} s {direction} (tolerance ±{TOLERANCE_S} s); "
            "synchronise the sender's and the receiver's clocks (NTP)",
            field=HEADER_TIMESTAMP,
        )

    if not secrets:
        raise CouldNotCheck("no webhook secret is configured", field=HEADER_SIGNATURE)
    expected = [signature_mac(s.key, msg_id, timestamp_text, body) for s in secrets]

    candidates: list[bytes] = []
    for entry in found[HEADER_SIGNATURE].split(" "):
        version, sep, encoded = entry.partition(",")
        if not sep or version != SIGNATURE_VERSION:
            continue  # empty, malformed or another version (e.g. v1a): ignored by the spec
        try:
            candidates.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            candidates.append(b"")  # garbage base64 matches nothing
    if not candidates:
        raise Unauthenticated(
            f"{HEADER_SIGNATURE} has no signature of a supported version ({SIGNATURE_VERSION})",
            field=HEADER_SIGNATURE,
        )
    matched = False
    for candidate in candidates:
        for mac in expected:
            # Every pair is compared (no early exit), each in constant time.
            matched |= hmac.compare_digest(candidate, mac)
    if not matched:
        raise Unauthenticated(f"{HEADER_SIGNATURE} does not match (wrong secret or altered "
                              "message)", field=HEADER_SIGNATURE)
    return WebhookMessage(msg_id, timestamp)
