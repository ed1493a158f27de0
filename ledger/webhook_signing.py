"""Standard Webhooks (https://www.standardwebhooks.com, spec v1): secrets and signing (pure).

The signing half of ``ledger.absence.webhooks``, in the core so that the log monitor
(``ledger.monitor_run``) signs its alerts the same way without importing the domain:
``webhook-signature: v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body))>``.
Time is a parameter: this module never reads the clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from secrets import token_bytes

from ledger.errors import BadData
from ledger.events import WEBHOOK_ID_MAX, WEBHOOK_ID_RE

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


def check_id(msg_id: object) -> None:
    """Raises BadData (``field="webhook-id"``): not 1..128 printable ASCII without space or
    comma."""
    if not isinstance(msg_id, str) or _ID_RE.fullmatch(msg_id) is None:
        raise BadData(
            f"{HEADER_ID} must be 1 to {WEBHOOK_ID_MAX} printable ASCII characters "
            "without spaces or commas",
            field=HEADER_ID,
        )


def signature_mac(key: bytes, msg_id: str, timestamp_text: str, body: bytes) -> bytes:
    """HMAC-SHA256 over ``{id}.{timestamp}.`` + body (spec "Signature scheme")."""
    signed = f"{msg_id}.{timestamp_text}.".encode("ascii") + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: WebhookSecret, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>``.

    Raises:
        BadData: ``msg_id`` is not a valid webhook id (``field="webhook-id"``) or
            ``timestamp`` is not a non-negative integer (``field="webhook-timestamp"``).
    """
    check_id(msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise BadData(f"{HEADER_TIMESTAMP} must be a non-negative integer",
                      field=HEADER_TIMESTAMP)
    mac = signature_mac(secret.key, msg_id, str(timestamp), body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"
