"""The notice settings part of the OpenAPI document: a campaign's notice settings set
after it opened (``PUT /api/v1/campaigns/{campaign}/notice-settings``), as schemas.

``ledger.app.web.openapi`` turns ``OPERATIONS`` into operations (as it does the
objections') and adds ``SCHEMAS`` to its components; this module imports nothing of it
(no cycle).
"""

from __future__ import annotations

from typing import Any

from ledger.absence.notice_settings import FIELDS, REQUEST_FIELDS, ROSTERS
from ledger.app.web.openapi_objections import Operation

Schema = dict[str, Any]

_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 200}
_SETTINGS: dict[str, Schema] = {
    "issuing_office": _TEXT | {"description": "发布单位, also the 落款"},
    "supervision_phone": {"type": "string", "pattern": "^[0-9+(][0-9 ()+-]{2,31}$",
                          "description": "监督电话: the office's landline or hotline"},
    "objection_address": _TEXT | {"description": "异议受理: postal address"},
    "objection_email": {
        "type": "string", "description": "异议受理: the office's public mailbox",
        "pattern": r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*"
                   r"\.[A-Za-z]{2,24}$"},
    "roster": {"enum": list(ROSTERS), "description": "who the notice lists"},
    "fields": {"type": "array", "items": {"enum": list(FIELDS)}, "minItems": 1,
               "uniqueItems": True, "description": "the columns the notice shows"},
}
assert tuple(_SETTINGS) == REQUEST_FIELDS

SCHEMAS: dict[str, Schema] = {
    "NoticeSettingsRequest": {
        "type": "object", "properties": _SETTINGS, "additionalProperties": False,
        "minProperties": 1,
        "description": "The fields given override the campaign's policy's; this replaces "
                       "what was set before."},
    "NoticeSettingsSet": {
        "type": "object", "required": ["campaign", "ledger_index"],
        "properties": {"campaign": {"type": "string"},
                       "ledger_index": {"type": "integer", "minimum": 0},
                       **{k: {"type": "string"} for k in REQUEST_FIELDS}}},
    "NoticeSettings": {
        "type": "object", "required": ["campaign", "missing"],
        "properties": {"campaign": {"type": "string"},
                       **{k: {"type": "string"} for k in REQUEST_FIELDS},
                       "missing": {"type": "array", "items": {"type": "string"},
                                   "description": "required settings not set yet"}}},
}

_PRINTABLE = "is printable text with no ID number, mobile number or e-mail address"
#: What the schema cannot say (``x-constraints``).
CONSTRAINTS: dict[str, str] = {
    "issuing_office": _PRINTABLE,
    "objection_address": _PRINTABLE,
    "supervision_phone": "has at least 3 digits and is not a mobile number",
}

_ROUTE = "/api/v1/campaigns/{campaign}/notice-settings"
_CAMPAIGN = (("campaign", "Campaign id."),)
_SET = Operation(
    "Set the campaign's notice settings after it opened (campaign.notice_settings): the "
    "fields given override its policy's field by field, and replace what was set before "
    "(PUT and POST do the same).", ("hr",), "NoticeSettingsSet", body="NoticeSettingsRequest",
    errors=(400, 404), params=_CAMPAIGN, constraints=tuple(CONSTRAINTS.items()),
    tag="publicity")
OPERATIONS: dict[tuple[str, str], Operation] = {
    (_ROUTE, "put"): _SET, (_ROUTE, "post"): _SET,
    (_ROUTE, "get"): Operation(
        "The campaign's effective notice settings (its policy's, overridden by what HR "
        "set) and the required ones still missing.", ("hr", "reviewer", "auditor"),
        "NoticeSettings", errors=(404,), params=_CAMPAIGN, tag="publicity"),
}
