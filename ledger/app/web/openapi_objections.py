"""The objection (异议) part of the OpenAPI document: schemas and operations as data.

``ledger.app.web.openapi`` turns ``OPERATIONS`` into operations with its ``op`` (so the
roles, problems and limits are written the one way) and adds ``SCHEMAS`` to its
components; this module imports nothing of it (no cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.absence.entries import OBJECTION_CHANNELS, OBJECTION_GROUNDS, OBJECTION_RULINGS

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_NSTR: Schema = {"type": ["string", "null"]}
_TIME: Schema = {"type": "string", "description": "RFC 3339, UTC, milliseconds, Z"}
_NTIME: Schema = {"type": ["string", "null"], "description": "RFC 3339 UTC time, or null"}
_HEX: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_STATE: Schema = {"enum": ["filed", "acknowledged", "deferred", "ruled"]}
_RULING: Schema = {"enum": [*OBJECTION_RULINGS, None]}
_FILE_FIELDS: dict[str, Schema] = {
    "name": {"type": "string", "maxLength": 50, "description": "the objector's real name "
             "(sealed; never published)"},
    "contact": {"type": "string", "maxLength": 100,
                "description": "a phone number or e-mail (sealed)"},
    "ground": {"enum": list(OBJECTION_GROUNDS)},
    "statement": {"type": "string", "maxLength": 2000},
}
_WHO: dict[str, Schema] = {
    "registration": {"type": "string", "description": "the candidate concerned"},
    "line": {"type": ["integer", "string"], "description": "or the notice line (1-based)"},
    "attachments": {
        "type": "array", "maxItems": 3,
        "items": {"type": "string", "contentEncoding": "base64",
                  "contentMediaType": "image/jpeg, image/png or application/pdf"},
        "description": "Up to 3 files checked as an appeal's (JPEG, PNG or PDF by their "
                       "first bytes, 1 byte to 5 MiB each, standard padded base64), sealed "
                       "under the objection's own key and destroyed with the objector's "
                       "details; objection.filed lists each one's kind and keyed digest. "
                       "A refused file is a 400 (413 if too large) naming attachments[n]."},
}
_ATTACHED = (("attachments", "each item is standard base64 (RFC 4648 §4) of a JPEG, PNG "
              "or PDF of 1 byte to 5 MiB"),)


def _closed(required: dict[str, Schema], optional: dict[str, Schema] | None = None
            ) -> Schema:
    return {"type": "object", "properties": {**required, **(optional or {})},
            "required": list(required), "additionalProperties": False}


_PUBLIC: dict[str, Schema] = {
    "objection": _STR, "notice": _STR, "state": _STATE, "ground": _STR, "channel": _STR,
    "filed_at": _TIME, "ack_by": _TIME, "reply_by": _TIME, "acknowledged_at": _NTIME,
    "ruling": _RULING, "ruled_at": _NTIME, "ruling_reason": _NSTR}

SCHEMAS: dict[str, Schema] = {
    "ObjectionFile": _closed(_FILE_FIELDS, _WHO),
    "ObjectionEnter": _closed({**_FILE_FIELDS, "channel": {
        "enum": [c for c in OBJECTION_CHANNELS if c != "web"]}}, {**_WHO, "received_at": {
            "type": "string", "format": "date-time", "description": "when it reached the "
            "office (RFC 3339 with an offset), if before now: the period check and the "
            "deadlines count from then"}}),
    "ObjectionFiled": {"type": "object", "required": ["objection", "token", "ack_by",
                                                      "reply_by", "state"],
                       "properties": {"objection": _STR, "token": {
                           "type": "string", "description": "the lookup secret (shown once)"},
                           "notice": _STR, "campaign": _STR, "ack_by": _TIME,
                           "reply_by": _TIME, "state": _STATE, "url": _STR,
                           "attachments": {"type": "integer", "minimum": 0, "maximum": 3,
                                           "description": "how many files were attached"}}},
    "ObjectionLookup": _closed({"secret": _STR}),
    "ObjectionState": {"type": "object", "required": list(_PUBLIC), "properties": _PUBLIC},
    "Objection": {"type": "object", "required": [*_PUBLIC, "campaign", "ledger_index"],
                  "properties": {**_PUBLIC, "campaign": _STR, "subject": _NSTR,
                                 "line": {"type": ["integer", "null"]},
                                 "statement_hmac": _HEX, "objector_sha256": _HEX,
                                 "filed_by": _STR, "invited_at": _NTIME,
                                 "respond_by": _NTIME, "statement_at": _NTIME,
                                 "ruled_by": _NSTR, "objector_erased": {"type": "boolean"},
                                 "ledger_index": {"type": "integer", "minimum": 0}}},
    "Objector": {"type": "object", "required": ["erased"], "properties": {
        "erased": {"type": "boolean"}, "name": _STR, "contact": _STR, "statement": _STR,
        "candidate_statement": _STR}},
    "ObjectionCounts": {"type": "object", "required": [
        "received", "open", "upheld", "cancelled", "deferred"], "properties": {
        k: {"type": "integer", "minimum": 0}
        for k in ("received", "open", "upheld", "cancelled", "deferred")}},
    "ObjectionInvite": _closed({}, {"registration": _STR}),
    "ObjectorErasure": _closed({"reason": {"enum": ["retention_expired", "request"]}}),
    "ObjectionStatement": _closed({"statement": {"type": "string", "maxLength": 2000},
                                   "channel": {"enum": list(OBJECTION_CHANNELS)}}),
    "ObjectionRuling": _closed(
        {"ruling": {"enum": list(OBJECTION_RULINGS)},
         "reason": {"type": "string", "maxLength": 200,
                    "description": "public text, recorded in the entry (no personal data)"}},
        {"confirm": {"type": ["boolean", "string"],
                     "description": "true: required to cancel (取消)"}}),
}


@dataclass(frozen=True)
class Operation:
    """One operation as data: ``ok`` names a schema (or ``list:<name>``)."""

    summary: str
    roles: tuple[str, ...] | None
    ok: str
    status: int = 200
    body: str | None = None
    errors: tuple[int, ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    constraints: tuple[tuple[str, str], ...] = ()
    tag: str = "objections"


_TEXTS = (("name", "is 1..50 printable characters once trimmed"),
          ("contact", "is 1..100 printable characters once trimmed"),
          ("statement", "is 1..2000 characters once trimmed, printable or line breaks"),
          ("registration", "is a registration number of the notice's campaign; give it "
                           "or line"),
          ("line", "is a line of the notice (1 .. its number of lines)"))
_N = (("notice_id", "Notice id."),)
_R = (("ref", "The objection's reference number."),)
_HANDLERS = ("hr", "reviewer")

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/api/v1/notices/{notice_id}/objections", "post"): Operation(
        "Object to a notice during its period (异议, rate-limited); the answer holds the "
        "reference and the lookup secret.", None, "ObjectionFiled", 201, "ObjectionFile",
        (400, 404, 409, 413, 429), _N,
        (("notice", "is within its notice period and not superseded (409)"), *_TEXTS,
         *_ATTACHED)),
    ("/api/v1/notices/{notice_id}/objections", "get"): Operation(
        "How many objections a notice received and their outcomes (no personal data).",
        None, "ObjectionCounts", errors=(404,), params=_N),
    ("/api/v1/notices/{notice_id}/objections/received", "post"): Operation(
        "Enter an objection received by phone, letter or e-mail.", ("hr",),
        "ObjectionFiled", 201, "ObjectionEnter", (400, 404, 409, 413), _N,
        (("notice", "is within its notice period and not superseded (409)"),
         ("received_at", "is not in the future"), *_TEXTS, *_ATTACHED)),
    ("/api/v1/objections/{ref}/state", "post"): Operation(
        "An objection's state for its objector (the secret in the body; rate-limited).",
        None, "ObjectionState", body="ObjectionLookup", errors=(400, 404, 429), params=_R),
    ("/api/v1/campaigns/{campaign}/objections", "get"): Operation(
        "The campaign's objections (no personal data).", ("hr", "reviewer", "auditor"),
        "list:Objection", errors=(404,), params=(("campaign", "Campaign id."),)),
    ("/api/v1/objections/{ref}", "get"): Operation(
        "One objection (no personal data).", ("hr", "reviewer", "auditor"), "Objection",
        errors=(404,), params=_R),
    ("/api/v1/objections/{ref}/objector", "get"): Operation(
        "The objector's details and the statements (the read is recorded: pii.viewed).",
        _HANDLERS, "Objector", errors=(404,), params=_R),
    ("/api/v1/objections/{ref}/acknowledgement", "post"): Operation(
        "Acknowledge an objection and start checking it.", _HANDLERS, "Objection",
        errors=(404, 409), params=_R),
    ("/api/v1/objections/{ref}/statement-invitation", "post"): Operation(
        "Tell the candidate and invite their statement (陈述、申辩).", _HANDLERS,
        "Objection", body="ObjectionInvite", errors=(400, 404, 409), params=_R,
        constraints=(("registration", "is a registration number of the campaign, "
                      "required when the objection named only a line"),)),
    ("/api/v1/objections/{ref}/statement", "post"): Operation(
        "Record the candidate's statement (sealed under the candidate).", _HANDLERS,
        "Objection", body="ObjectionStatement", errors=(400, 404, 409), params=_R,
        constraints=(_TEXTS[2],)),
    ("/api/v1/objections/{ref}/objector-erasure", "post"): Operation(
        "Destroy the objector's sealed record (retention or request); the digest stays.",
        ("hr",), "Objection", body="ObjectorErasure", errors=(400, 404, 409), params=_R,
        constraints=(("reason", "retention_expired only after [absence] retention_days "
                      "from the filing (409)"),)),
    ("/api/v1/objections/{ref}/ruling", "post"): Operation(
        "Rule: upheld (维持), cancelled (取消) or deferred (暂缓).", ("reviewer",),
        "Objection", body="ObjectionRuling", errors=(400, 404, 409), params=_R,
        constraints=(("ruling", "cancelled needs the candidate's statement or its time "
                      "passed (409)"), ("confirm", "is true to cancel"),
                     ("reason", "is 1..200 printable characters once trimmed"))),
}
