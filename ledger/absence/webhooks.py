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
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from secrets import token_bytes
from typing import Protocol

from ledger.errors import BadData, CouldNotCheck, Unauthenticated
from ledger.events import WEBHOOK_ID_MAX, WEBHOOK_ID_RE

#: Spec "Verifying webhooks": reject messages whose timestamp is more than 5 minutes from now.
TOLERANCE_S = 300

#: Spec "Symmetric signatures": secrets are shown as ``whsec_`` + base64 of the key bytes.
SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)

#: Spec "Symmetric signatures": keys are 24 to 64 random bytes (32 recommended).
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
SECRET_GENERATED_BYTES = 32

#: The only signature version we verify (HMAC-SHA256, spec "Signature scheme").
SIGNATURE_VERSION = "v1"

#: Header names (spec "Webhook headers"); looked up case-insensitively.
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

#: A message id: the core's one webhook-id grammar (``ledger.events.WEBHOOK_ID_RE``).
_ID_RE = re.compile(WEBHOOK_ID_RE)

#: A timestamp is a decimal integer of unix seconds; 20 digits bound the parse.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,20}")


class HeaderItems(Protocol):
    """Request headers: a ``Mapping[str, str]`` or werkzeug ``Headers`` (not a Mapping, but it
    has ``items()``); names may be in any letter case."""

    def items(self) -> Iterable[tuple[str, str]]: ...


@dataclass(frozen=True)
class WebhookSecret:
    """A shared HMAC key (24..64 bytes).  ``repr`` never shows the key.

    Raises (construction):
        BadData: the key is not bytes of 24..64 bytes (``field="webhook secret"``).
    """

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes):
            raise BadData("webhook secret must be bytes", field="webhook secret")
        if not SECRET_MIN_BYTES <= len(self.key) <= SECRET_MAX_BYTES:
            raise BadData(
                f"webhook secret must be {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes, "
                f"got {len(self.key)}",
                field="webhook secret",
            )

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        """Parse ``whsec_<base64>`` (the prefix and base64 padding are optional).

        Raises:
            BadData: not base64, or not 24..64 bytes once decoded (``field="webhook secret"``);
                the message never contains the secret.
        """
        if not isinstance(text, str):
            raise BadData("webhook secret must be text", field="webhook secret")
        body = text.strip()
        if body.startswith(SECRET_PREFIX):
            body = body[len(SECRET_PREFIX):]
        try:
            key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise BadData(
                f"webhook secret is not '{SECRET_PREFIX}' followed by base64",
                field="webhook secret",
            ) from None
        return cls(key)

    @classmethod
    def generate(cls) -> WebhookSecret:
        """A new random secret of 32 bytes (from :mod:`secrets`)."""
        return cls(token_bytes(SECRET_GENERATED_BYTES))

    def to_text(self) -> str:
        """The secret as ``whsec_<base64>``, the form :meth:`parse` reads."""
        return SECRET_PREFIX + base64.b64encode(self.key).decode("ascii")


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
        _check_id(self.id)

    @property
    def sent_at(self) -> datetime:
        """The timestamp as an aware UTC datetime (when the sender says it sent this)."""
        return datetime.fromtimestamp(self.timestamp, UTC)


def _check_id(msg_id: object) -> None:
    if not isinstance(msg_id, str) or _ID_RE.fullmatch(msg_id) is None:
        raise BadData(
            f"{HEADER_ID} must be 1 to {WEBHOOK_ID_MAX} printable ASCII characters "
            "without spaces or commas",
            field=HEADER_ID,
        )


def _digest(key: bytes, msg_id: str, timestamp_text: str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp_text}.".encode("ascii") + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: WebhookSecret, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>``.

    Raises:
        BadData: ``msg_id`` is not a valid webhook id (``field="webhook-id"``) or
            ``timestamp`` is not a non-negative integer (``field="webhook-timestamp"``).
    """
    _check_id(msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise BadData(f"{HEADER_TIMESTAMP} must be a non-negative integer",
                      field=HEADER_TIMESTAMP)
    mac = _digest(secret.key, msg_id, str(timestamp), body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"


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
    _check_id(msg_id)
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
    expected = [_digest(s.key, msg_id, timestamp_text, body) for s in secrets]

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
