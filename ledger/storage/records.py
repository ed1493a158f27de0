"""What the store takes and gives: entry requests, receipts, logs, tree heads and
checkpoints, and ``prepare``, which validates and canonicalises an entry request.

Raises nothing at import; ``prepare`` raises ``BadData`` (see there).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, final

from sqlalchemy import Connection

from ledger import jcs
from ledger.entry import ACTOR_RE
from ledger.errors import BadData
from ledger.events import PII_HINT, EntryTypes, scan_for_personal_data

_B64 = base64.b64encode


@dataclass(frozen=True)
class NewEntry:
    """What a caller asks to append: the ledger adds index, prev and time."""

    type: str
    actor: str
    body: dict[str, Any]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Receipt:
    """Proof of acceptance: where the entry went and what its leaf hash is."""

    log: str
    index: int
    leaf_hash: bytes
    time: str
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "index": self.index,
            "leaf_hash": _B64(self.leaf_hash).decode(),
            "time": self.time,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True)
class Appended:
    """An entry just appended (not a duplicate), as projections consume it."""

    index: int
    type: str
    actor: str
    body: dict[str, Any]
    time: str


T = TypeVar("T")


@final
@dataclass(frozen=True)
class Planned(Generic[T]):
    """What a plan returns when its caller needs more than receipts: the entries to
    append and a value (what the checks found, what was made)."""

    entries: Sequence[NewEntry]
    value: T


@dataclass(frozen=True)
class Executed(Generic[T]):
    """What ``LedgerStore.execute`` returns: the receipts (duplicates included) and the
    plan's value (``None`` for a plan of entries only)."""

    receipts: list[Receipt]
    value: T


#: Plans a command under the log's write lock: reads state, returns entries to append.
Plan = Callable[[Connection], Sequence[NewEntry]]
#: Finishes a planned command in its transaction, after the append: sees the plan's
#: value and every receipt, returns the value ``execute`` answers.
Finish = Callable[[Connection, T, list[Receipt]], T]
#: Applies appended entries to the projection tables in the same transaction.
Project = Callable[[Connection, Sequence[Appended]], None]


@dataclass(frozen=True)
class LogInfo:
    """A log's identity and every verifier key it has ever used (oldest first)."""

    id: int
    name: str
    origin: str
    verifier_keys: tuple[str, ...]
    #: The 国密 option's SM2 verifier keys (``log.sm2_key_added`` entries), oldest first.
    sm2_verifier_keys: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "origin": self.origin, "verifier_keys": list(self.verifier_keys),
                "sm2_verifier_keys": list(self.sm2_verifier_keys)}


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    key_id: str
    note: str
    signed_at_ms: int


@dataclass(slots=True)
class PreparedEntry:
    head: bytes  # b'{"actor":...,"body":...,"index":'
    type_tail: bytes  # b',"type":"..."}'
    type: str
    idem_key: str | None

    def encode(self, index: int, prev: bytes, time_json: bytes) -> bytes:
        # RFC 8785 sorts keys: actor, body, index, prev, time, type.  actor and body were
        # canonicalised by the rfc8785 package; index is an integer, prev base64 and time
        # RFC 3339 need no escaping, so splicing them in yields the canonical form
        # (checked against rfc8785 on whole entries in tests/unit/ledger/test_store_encoding).
        return b"".join(
            (self.head, str(index).encode(), b',"prev":"', _B64(prev), b'","time":',
             time_json, self.type_tail)
        )


def prepare(item: NewEntry, types: EntryTypes) -> PreparedEntry:
    """Validate an entry request against ``types`` and canonicalise its parts (outside
    any transaction).

    Raises:
        BadData: unknown type, malformed actor, invalid body, personal data, or an
            idempotency key that is empty or too long.
    """
    if not isinstance(item.actor, str) or not ACTOR_RE.fullmatch(item.actor):
        raise BadData(f"actor: {item.actor!r} is not of the form role[:id]", field="actor")
    event_type = types.lookup(item.type)
    event_type.check_body(item.body, scan=False)
    if PII_HINT.search(item.actor) is not None:
        scan_for_personal_data(item.actor, "actor")
    if item.idempotency_key is not None and not 0 < len(item.idempotency_key) <= 128:
        raise BadData("idempotency_key: must be 1..128 characters", field="idempotency_key")
    # Every registered field validator admits only strings and safe integers.
    body = jcs.canonical_of_flat_object(item.body)
    # One search over the canonical text (strings appear in it unescaped but for
    # quotes, backslashes and control characters) finds whether anything looks
    # personal; only then the field-by-field scan names it (or clears a false alarm,
    # such as a pseudonym that happens to hold a run of digits).
    if PII_HINT.search(body.decode("utf-8")) is not None:
        event_type.scan_body(item.body)
    # actor and type match ASCII patterns without characters JSON escapes, so their
    # RFC 8785 form is the text in quotes.
    head = b'{"actor":"' + item.actor.encode() + b'","body":' + body + b',"index":'
    return PreparedEntry(head, b',"type":"' + item.type.encode() + b'"}', item.type,
                         item.idempotency_key)


__all__ = ["Appended", "LogInfo", "NewEntry", "Plan", "PreparedEntry", "Project", "Receipt",
           "StoredCheckpoint", "TreeHead", "prepare"]
