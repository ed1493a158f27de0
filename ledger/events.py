"""Event types the ledger accepts, each with a closed body schema.

Every body field has a validator, and every string anywhere in a body is scanned for
things that look like personal data (PRC ID numbers, mobile numbers, e-mail addresses,
Han characters as in names): the ledger holds pseudonyms and commitments only.  An
unknown type, an unknown field or a suspicious value is refused with ``BadData``
naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.entry import TYPE_RE, check_time
from ledger.errors import BadData

#: Raises ``BadData`` unless the value is valid.  Every validator admits only strings
#: and integers in [0, 2**53), so checked bodies are flat and float-free (which
#: ``ledger.storage.store.prepare`` relies on to canonicalise them directly).
Validator = Callable[[Any, str], None]

#: A mainland mobile number (1[3-9] and nine digits), whole or grouped 3-4-4 by spaces.
_MOBILE_DOMESTIC = r"1[3-9][0-9](?:[0-9]{8}| [0-9]{4} [0-9]{4})"
#: The same in international form (ITU-T E.164, country code 86): +86, 0086 or 86, in
#: parentheses or not, a space, a hyphen or nothing, then the number whole or grouped.
#: Grouped by hyphens only after a country code: an identifier may read 130-2026-0001.
_MOBILE_INTERNATIONAL = (r"\(?(?:\+|00)?86\)?[ -]?"
                         r"1[3-9][0-9](?:[0-9]{8}|-[0-9]{4}-[0-9]{4}| [0-9]{4} [0-9]{4})")

# PII patterns (PIPL minimum necessity): an 18-character resident ID number, a
# mainland mobile number (domestic or international form), an e-mail address, Han
# characters (names).
PII_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an ID number", re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")),
    ("a mobile number", re.compile(
        rf"(?<![0-9])(?:{_MOBILE_INTERNATIONAL}|{_MOBILE_DOMESTIC})(?![0-9])")),
    ("an e-mail address", re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")),
    ("Han characters (a name?)", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")),
)


#: What every match of a pattern above must contain: a run of 11 digits, a mobile
#: number grouped 3-4-4, an '@' or a Han character.  A cheap first search (the e-mail
#: pattern itself backtracks on long strings); only text that has one of these is
#: scanned pattern by pattern.
PII_HINT = re.compile(r"[0-9]{11}|1[3-9][0-9][ -][0-9]{4}[ -][0-9]{4}|@"
                      r"|[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")


def scan_for_personal_data(value: Any, path: str) -> None:
    """Raise ``BadData`` if any string in ``value`` looks like personal data."""
    if isinstance(value, str):
        if PII_HINT.search(value) is None:
            return
        for what, pattern in PII_PATTERNS:
            if pattern.search(value):
                raise BadData(f"{path}: looks like {what}; the ledger takes no personal data",
                              field=path)
    elif isinstance(value, dict):
        for k, v in value.items():
            scan_for_personal_data(k, path)
            scan_for_personal_data(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            scan_for_personal_data(v, f"{path}[{i}]")


def pattern(regex: str, what: str) -> Validator:
    """A validator admitting strings that fully match ``regex`` (``what`` names it)."""
    compiled = re.compile(regex)

    def check(value: Any, path: str) -> None:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise BadData(f"{path}: {value!r} is not {what}", field=path)

    return check


@dataclass(frozen=True)
class SelfScanned:
    """A validator exempt from ``EventType.scan_body``: it checks for personal data
    itself, or admits only values that cannot hold any (a random pseudonym, a digest).

    Calling it calls ``check`` (which raises ``BadData`` on an invalid value).
    """

    check: Validator

    def __call__(self, value: Any, path: str) -> None:
        self.check(value, path)


identifier = pattern(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", "an identifier (A-Z a-z 0-9 . _ : -)")
#: A Standard Webhooks message id, the one grammar of a ``webhook-id``: 1..128 printable
#: ASCII characters without space or comma (those delimit the signature header; a bounded
#: id keeps the signed prefix unambiguous).  The header check, the ingest and the ledger
#: body all use it.
WEBHOOK_ID_MAX = 128
WEBHOOK_ID_RE = rf"[\x21-\x2b\x2d-\x7e]{{1,{WEBHOOK_ID_MAX}}}"
webhook_id = pattern(WEBHOOK_ID_RE, f"a webhook id (1 to {WEBHOOK_ID_MAX} printable ASCII "
                     "characters without spaces or commas)")
pseudonym = SelfScanned(pattern(r"sub_[a-z2-7]{26}", "a subject pseudonym (sub_ + 26 base32)"))
key_id_hex = pattern(r"[0-9a-f]{8}", "an 8-digit hex key ID")
origin_text = pattern(r"[!-*,-~]{1,255}", "a log origin (printable ASCII, no spaces or '+')")


def vkey(value: Any, path: str) -> None:
    from ledger.note import Ed25519Verifier  # local: note imports nothing from here

    if not isinstance(value, str):
        raise BadData(f"{path}: not a verifier key string", field=path)
    try:
        Ed25519Verifier.from_vkey(value)
    except BadData as exc:
        raise BadData(f"{path}: {exc}", field=path) from exc


def sm2_vkey(value: Any, path: str) -> None:
    from ledger.sm2 import SM2Verifier  # local, as for ``vkey``

    if not isinstance(value, str):
        raise BadData(f"{path}: not a verifier key string", field=path)
    try:
        SM2Verifier.from_vkey(value)
    except BadData as exc:
        raise BadData(f"{path}: {exc}", field=path) from exc


def timestamp(value: Any, path: str) -> None:
    check_time(value, path)


def one_of(*choices: str) -> Validator:
    def check(value: Any, path: str) -> None:
        if value not in choices:
            raise BadData(f"{path}: {value!r} is not one of {', '.join(choices)}", field=path)

    return check


def count(value: Any, path: str) -> None:
    # At most 2**53-1: RFC 8785 writes larger integers as doubles.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise BadData(f"{path}: {value!r} is not an integer from 0 to 2**53-1", field=path)


@dataclass(frozen=True)
class EventType:
    """A registered entry type: required and optional body fields with validators."""

    name: str
    description: str
    required: Mapping[str, Validator]
    optional: Mapping[str, Validator] = field(default_factory=dict)
    #: Groups of optional fields of which a body carries exactly one (a field that
    #: replaced another in a newer format: old entries keep the old one).
    exactly_one: tuple[tuple[str, ...], ...] = ()

    def check_body(self, body: Any, *, scan: bool = True) -> None:
        """Validate a body for this type; with ``scan``, also ``scan_body``.

        Raises:
            BadData: not an object, missing or unknown fields, invalid values, or
                something that looks like personal data.
        """
        if not isinstance(body, dict):
            raise BadData("body: must be a JSON object", field="body")
        for name in self.required:
            if name not in body:
                raise BadData(f"body.{name}: required for {self.name}", field=f"body.{name}")
        for name, value in body.items():
            check = self.required.get(name) or self.optional.get(name)
            if check is None:
                raise BadData(f"body.{name}: unknown field for {self.name}", field=f"body.{name}")
            check(value, f"body.{name}")
        for group in self.exactly_one:
            if sum(name in body for name in group) != 1:
                raise BadData(f"body.{group[0]}: {self.name} carries exactly one of "
                              f"{', '.join(group)}", field=f"body.{group[0]}")
        if scan:
            self.scan_body(body)

    def scan_body(self, body: dict[str, Any]) -> None:
        """Raise ``BadData`` naming the field if anything in ``body`` looks personal."""
        # Pseudonyms are random, not personal data; one could still hold a long run of
        # digits, so they are exempt from the scan.  Other ``SelfScanned`` validators
        # (public titles, which may be Chinese) do their own narrower scan.
        scan_for_personal_data(
            {k: v for k, v in body.items()
             if not isinstance(self.required.get(k) or self.optional.get(k), SelfScanned)},
            "body")


class EntryTypes:
    """The entry types one ledger accepts, by name: built once by the composition root
    from the core's ``CORE_TYPES`` and each domain's ``TYPES``, then handed to the store.
    """

    def __init__(self, types: Iterable[EventType]) -> None:
        """Raises:
            ValueError: a malformed or repeated type name (a programming error).
        """
        self._types: dict[str, EventType] = {}
        for event_type in types:
            if not TYPE_RE.fullmatch(event_type.name):
                raise ValueError(f"bad event type name {event_type.name!r}")
            if event_type.name in self._types:
                raise ValueError(f"entry type {event_type.name!r} is defined twice")
            self._types[event_type.name] = event_type

    def lookup(self, name: str) -> EventType:
        """The registered type ``name``.

        Raises:
            BadData: no such type.
        """
        try:
            return self._types[name]
        except (KeyError, TypeError):
            raise BadData(f"type: unknown entry type {name!r}", field="type") from None

    def names(self) -> list[str]:
        """Every registered type name, sorted."""
        return sorted(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[EventType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)


LOG_CREATED = EventType(
    "log.created", "A log came into being; its origin and first verifier key.",
    {"origin": origin_text, "verifier_key": vkey},
)
LOG_KEY_ADDED = EventType(
    "log.key_added", "A new checkpoint-signing key takes over from now on.",
    {"verifier_key": vkey, "reason": one_of("rotated", "imported")},
    {"previous_key_id": key_id_hex},
)
LOG_SM2_KEY_ADDED = EventType(
    "log.sm2_key_added",
    "The 国密 option: an SM2 key signs every checkpoint from now on, beside the Ed25519 key.",
    {"verifier_key": sm2_vkey},
)
#: What the interview platform can report about a session: the one list of platform event kinds.
PLATFORM_KINDS = ("invited", "joined", "completed", "connection_failed",
                  "device_incompatible", "withdrew")

PLATFORM_EVENT = EventType(
    "platform.event", "What the interview platform reported about one session.",
    {
        "event_id": identifier,
        "window": identifier,
        "subject": pseudonym,
        "kind": one_of(*PLATFORM_KINDS),
        "at": timestamp,
    },
    {"webhook_id": webhook_id, "detail": identifier},
)
WINDOW_CLOSED = EventType(
    "window.closed", "An interview window closed; how many sessions it saw.",
    {"window": identifier, "closed_at": timestamp, "completed": count, "absent": count},
)

#: The ledger's own entry types (the domains define theirs in their ``entries`` modules).
CORE_TYPES: tuple[EventType, ...] = (LOG_CREATED, LOG_KEY_ADDED, LOG_SM2_KEY_ADDED,
                                     PLATFORM_EVENT, WINDOW_CLOSED)
