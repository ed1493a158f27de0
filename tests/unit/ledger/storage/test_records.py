"""ledger.storage.records: ``prepare`` validates an entry request and canonicalises it.

What ``prepare`` splices together must be the RFC 8785 form of the whole entry, and a
request it refuses is refused naming the field, before any transaction.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ledger import jcs
from ledger.errors import BadData
from ledger.events import CORE_TYPES, EntryTypes
from ledger.note import Ed25519Verifier
from ledger.storage.records import NewEntry, Receipt, prepare

TYPES = EntryTypes(CORE_TYPES)
CLOSED = {"window": "w_1", "closed_at": "2026-11-25T01:10:00Z", "completed": 3,
          "absent": 1}
#: A log.created body whose origin holds what JSON escapes (a quote, a backslash).
CREATED = {"origin": 'example.org/"a\\b"',
           "verifier_key": Ed25519Verifier.from_public_key("example.org/log",
                                                           bytes(32)).vkey}


@pytest.mark.parametrize(("kind", "actor", "body"), [
    ("window.closed", "scheduler", CLOSED),
    ("window.closed", "platform:p.1", {**CLOSED, "completed": 2**53 - 1, "absent": 0}),
    ("log.created", "hr:u-1", CREATED),
])
def test_the_spliced_entry_is_its_rfc8785_form(kind: str, actor: str, body: dict[str, Any]
                                               ) -> None:
    prepared = prepare(NewEntry(kind, actor, body, "k1"), TYPES)
    prev = bytes(range(32))
    time_json = b'"2026-11-25T01:10:00.123Z"'
    data = prepared.encode(7, prev, time_json)
    whole = {"actor": actor, "body": body, "index": 7,
             "prev": base64.b64encode(prev).decode(), "time": json.loads(time_json),
             "type": kind}
    assert data == jcs.canonical(whole)
    assert json.loads(data) == whole
    assert (prepared.type, prepared.idem_key) == (kind, "k1")


@pytest.mark.parametrize(("item", "field"), [
    (NewEntry("window.closed", "HR", CLOSED), "actor"),
    (NewEntry("window.closed", "hr:", CLOSED), "actor"),
    (NewEntry("window.teleported", "hr", CLOSED), "type"),
    (NewEntry("window.closed", "hr", {k: v for k, v in CLOSED.items() if k != "absent"}),
     "body.absent"),
    (NewEntry("window.closed", "hr", {**CLOSED, "note": "x"}), "body.note"),
    (NewEntry("window.closed", "hr", {**CLOSED, "completed": -1}), "body.completed"),
    (NewEntry("window.closed", "hr", {**CLOSED, "completed": 1.5}), "body.completed"),
    (NewEntry("window.closed", "hr", CLOSED, ""), "idempotency_key"),
    (NewEntry("window.closed", "hr", CLOSED, "k" * 129), "idempotency_key"),
])
def test_a_malformed_request_is_refused_naming_the_field(item: NewEntry, field: str
                                                         ) -> None:
    with pytest.raises(BadData) as err:
        prepare(item, TYPES)
    assert err.value.field == field


@pytest.mark.parametrize(("actor", "window"), [
    ("hr", "13812345678"),  # a mobile number is a well-formed identifier
    ("hr", "11010519900101123X"),  # so is an ID number
    ("hr:13812345678", "w_1"),
])
def test_personal_data_is_refused_in_the_body_and_the_actor(actor: str, window: str
                                                           ) -> None:
    with pytest.raises(BadData, match="personal data") as err:
        prepare(NewEntry("window.closed", actor, {**CLOSED, "window": window}), TYPES)
    assert err.value.field is not None
    assert err.value.field.startswith("actor" if actor != "hr" else "body")


def test_digits_that_only_look_like_a_number_pass_the_scan() -> None:
    # 11 digits inside a longer run are neither a mobile nor an ID number: the cheap
    # hint fires, the field-by-field scan clears it.
    prepared = prepare(NewEntry("window.closed", "hr",
                                {**CLOSED, "window": "w_1234567890123"}), TYPES)
    assert b'"window":"w_1234567890123"' in prepared.head


def test_a_receipt_in_json_carries_its_leaf_hash_in_base64() -> None:
    receipt = Receipt("hr", 3, b"\x01" * 32, "2026-11-25T01:10:00Z")
    assert receipt.to_json() == {"log": "hr", "index": 3,
                                 "leaf_hash": base64.b64encode(b"\x01" * 32).decode(),
                                 "time": "2026-11-25T01:10:00Z", "duplicate": False}
