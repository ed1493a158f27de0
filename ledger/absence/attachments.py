"""Appeal attachments: which files a candidate may attach, and how the ledger names them.

A candidate may attach up to ``MAX_ATTACHMENTS`` files to an appeal, each of 1 to
``MAX_ATTACHMENT_BYTES`` bytes, each a JPEG, PNG or PDF **recognised by its first bytes**
(its magic number), never by the name or the type the browser declared: a ``.jpg`` that
holds text is refused.  File names are dropped (a name can hold a person's name).

What the ledger keeps of an attachment is its kind and its keyed digest, written
``<kind>:<HMAC-SHA-256 hex>`` and comma-separated in the ``attachments`` field of
``appeal.filed``; the bytes are sealed next to the ledger (``ledger.absence.appeals``).

Pure: no clock, no database, no key; errors name the attachment by its position
(1-based), never by its content or file name.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import BadData, TooLarge

#: The most files one appeal carries.
MAX_ATTACHMENTS = 3
#: The largest attachment (bytes): 5 MiB.
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024

#: Kind code -> the media type it is served with.
MEDIA_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png",
                               "pdf": "application/pdf"}

#: Magic numbers: PNG (ISO/IEC 15948 §5.2, the 8-byte signature), JPEG (ITU T.81 Annex B:
#: SOI marker FFD8 followed by the next marker's FF), PDF (ISO 32000-1 §7.5.2, the header
#: ``%PDF-``).
_MAGIC: tuple[tuple[str, bytes], ...] = (
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("jpeg", b"\xff\xd8\xff"),
    ("pdf", b"%PDF-"),
)

#: The ``attachments`` field of ``appeal.filed``: ``kind:hmac`` items, comma-separated.
LEDGER_FIELD = re.compile(r"(jpeg|png|pdf):[0-9a-f]{64}(,(jpeg|png|pdf):[0-9a-f]{64}){0,2}")


class AttachmentRefused(BadData):
    """One attachment (or their number) is not acceptable.

    ``position`` is the attachment's 1-based position in the upload; ``reason`` a code:
    ``too_many``, ``empty``, ``too_large`` or ``unknown_type``.
    """

    def __init__(self, position: int, reason: str, message: str) -> None:
        super().__init__(f"attachments[{position}]: {message}", field="attachments")
        self.position = position
        self.reason = reason


class AttachmentTooLarge(AttachmentRefused, TooLarge):
    """An attachment is larger than ``MAX_ATTACHMENT_BYTES`` (HTTP 413)."""


@dataclass(frozen=True)
class Attachment:
    """An accepted attachment: its kind (``jpeg``, ``png``, ``pdf``) and its bytes."""

    kind: str
    content: bytes

    @property
    def media_type(self) -> str:
        """The media type it is served with (``image/png`` ...)."""
        return MEDIA_TYPES[self.kind]

    def __repr__(self) -> str:
        # The content is personal data: keep it out of logs and tracebacks.
        return f"Attachment({self.kind}, {len(self.content)} bytes)"


def sniff(content: bytes) -> str | None:
    """The kind of ``content`` by its magic number (``jpeg``, ``png``, ``pdf``), or None."""
    for kind, magic in _MAGIC:
        if content.startswith(magic):
            return kind
    return None


def check_attachments(files: Sequence[bytes]) -> list[Attachment]:
    """The files as attachments, in order.

    Raises:
        AttachmentRefused: more than ``MAX_ATTACHMENTS`` files (position: the first one
            too many), an empty file, or one that is not a JPEG, PNG or PDF.
        AttachmentTooLarge: a file larger than ``MAX_ATTACHMENT_BYTES``.
    """
    if len(files) > MAX_ATTACHMENTS:
        raise AttachmentRefused(MAX_ATTACHMENTS + 1, "too_many",
                                f"at most {MAX_ATTACHMENTS} files")
    out: list[Attachment] = []
    for position, content in enumerate(files, start=1):
        if not isinstance(content, bytes):
            raise AttachmentRefused(position, "unknown_type", "not a file")
        if not content:
            raise AttachmentRefused(position, "empty", "the file is empty")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise AttachmentTooLarge(position, "too_large",
                                     f"larger than {MAX_ATTACHMENT_BYTES} bytes")
        kind = sniff(content)
        if kind is None:
            raise AttachmentRefused(position, "unknown_type",
                                    "not a JPEG, PNG or PDF file (by its content)")
        out.append(Attachment(kind, content))
    return out


def ledger_field(items: Sequence[tuple[str, str]]) -> str:
    """The ``attachments`` field for ``(kind, hmac hex)`` pairs: ``kind:hmac,...``."""
    return ",".join(f"{kind}:{digest}" for kind, digest in items)


def matches_listed(listed: Sequence[tuple[str, str]], position: int, kind: str,
                   digest: str | None) -> bool:
    """Whether the attachment at ``position`` (1-based), of ``kind`` and keyed digest
    ``digest`` (None: its bytes are gone), is the one ``listed`` (what the entry's
    ``attachments`` field names) holds there; the digests compared in constant time."""
    if digest is None or not 1 <= position <= len(listed):
        return False
    want_kind, want = listed[position - 1]
    return want_kind == kind and hmac.compare_digest(digest, want)


def parse_ledger_field(value: str | None) -> list[tuple[str, str]]:
    """``(kind, hmac hex)`` pairs of an ``attachments`` field ([] for None or "").

    Raises:
        BadData: the value is not such a list.
    """
    if not value:
        return []
    if not LEDGER_FIELD.fullmatch(value):
        raise BadData("attachments: not kind:hmac items", field="attachments")
    return [(kind, digest) for kind, _, digest in
            (item.partition(":") for item in value.split(","))]


__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "MEDIA_TYPES",
    "Attachment",
    "AttachmentRefused",
    "AttachmentTooLarge",
    "check_attachments",
    "ledger_field",
    "matches_listed",
    "parse_ledger_field",
    "sniff",
]
