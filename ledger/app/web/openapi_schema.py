"""The building blocks of the OpenAPI document (``ledger.app.web.openapi``): schema
helpers and the value schemas every part shares, as plain data (no Flask)."""

from __future__ import annotations

from typing import Any

from ledger.events import WEBHOOK_ID_MAX, WEBHOOK_ID_RE

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(type_: str, **extra: Any) -> Schema:
    return {"type": [type_, "null"], **extra}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, *,
        closed: bool = False) -> Schema:
    """An object schema; ``closed`` request bodies refuse unknown fields (the handlers do)."""
    out: Schema = {"type": "object", "properties": {**required, **(optional or {})},
                   "required": list(required)}
    if closed:
        out["additionalProperties"] = False
    return out


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


STR: Schema = {"type": "string"}
#: No C0/C1 control character or DEL (ledger.app.web.limits.CONTROL_CHARACTERS refuses
#: them in every path and query argument: a 400 naming the argument).
NO_CONTROL = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
#: A free query string (a cursor, a filter).
QUERY_STR: Schema = {"type": "string", "pattern": NO_CONTROL}
INT: Schema = {"type": "integer", "minimum": 0}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "description": "RFC 3339, UTC, milliseconds, Z"}
IN_TIME: Schema = {"type": "string", "format": "date-time",
                   "description": "RFC 3339 with an offset, e.g. 2026-11-25T09:00:00+08:00"}
NTIME: Schema = nullable("string", description="RFC 3339 UTC time, or null")
NSTR: Schema = nullable("string")
#: ledger.events.identifier: what every id in an entry must be.
IDENT: Schema = {"type": "string", "minLength": 1, "maxLength": 128,
                 "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]*$"}
#: ledger.events.WEBHOOK_ID_RE: a Standard Webhooks message id (the one webhook-id grammar).
WEBHOOK_ID: Schema = {"type": "string", "minLength": 1, "maxLength": WEBHOOK_ID_MAX,
                      "pattern": f"^{WEBHOOK_ID_RE}$"}
SHA256: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
#: ledger.events.pseudonym: a subject pseudonym.
SUBJECT: Schema = {"type": "string", "pattern": "^sub_[a-z2-7]{26}$"}
#: ledger.absence.entries.public_text: 1..200 printable characters (no control
#: characters; what else str.isprintable refuses and the personal-data scan are listed in
#: the operation's x-constraints).
PUBLIC_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 200,
                       "pattern": NO_CONTROL}
B64: Schema = {"type": "string", "contentEncoding": "base64"}
RATE: Schema = nullable("number", minimum=0, maximum=1)
COUNTS: Schema = {"type": "object", "additionalProperties": INT}

#: A registration number as on the slip (``imports.REGISTRATION_RE``), any case.
REGISTRATION = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9-]{3,31}$",
                "description": "Case-insensitive; surrounding spaces are ignored."}
#: The verification factor (its length is set per deployment: ``factor_schema``).
FACTOR = {"type": "string"}

#: A backup slot named instead of a new window's times (ledger.absence.slots).
BACKUP_SLOT: Schema = {**IDENT, "description": "a backup slot of the campaign "
                       "(备用时间段): the window takes its times and one of its seats, "
                       "instead of opens_at/closes_at (a 409 naming backup_slot when full)"}


def param(name: str, where: str, schema: Schema, description: str, *,
          required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


PATH_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_CONTROL}
#: A query integer the handlers read (ledger.app.web.logs.int_param: at most 18 digits).
QUERY_INT: Schema = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
#: C2SP tlog-tiles paths after ``tile/``: level 0..63 or ``entries``, the index in its
#: shortest x001/x234/067 form (a leading x-element is never x000), an optional partial
#: width 1..255.
TILE_PATH = ("^(?:[0-9]|[1-5][0-9]|6[0-3]|entries)/"
             "(?:x(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/(?:x[0-9]{3}/)*)?[0-9]{3}"
             "(?:\\.p/(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$")
#: An entry index in a path: canonical decimal, as ledger.app.web.logs reads it.
ENTRY_INDEX = "^(?:0|[1-9][0-9]{0,17})$"


def path(name: str, description: str, example: str | None = None) -> Schema:
    schema = dict(PATH_ID)
    if example is not None:
        schema["examples"] = [example]
    return param(name, "path", schema, description)


LIMIT = param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 5000},
              "Page size (default 1000; at most 5000, 500 for quarantine).")
AFTER = param("after", "query", QUERY_STR, "Pagination cursor: return ids after this one.")
CAMPAIGN = path("campaign", "Campaign id.", "c2026")
PROPOSAL = path("proposal", "A 递补 proposal id.")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def seat_or_times(schema: Schema) -> Schema:
    """``schema`` (an ``obj``) refusing a backup slot together with times, as the handlers
    do (``ledger.absence.slots``: a 400 naming ``backup_slot``): ``backup_slot`` or
    ``use_backup_slots`` beside ``opens_at``/``closes_at``, or both of them."""
    props = schema["properties"]
    seats = [k for k in ("backup_slot", "use_backup_slots") if k in props]
    clash = [{"required": [k, t]} for k in seats for t in ("opens_at", "closes_at")
             if t in props]
    if len(seats) == 2:
        clash.append({"required": seats})
    return {**schema, "not": {"anyOf": clash}}


#: The campaign routes' prefix.
CAMPAIGN_ROUTE = _C = "/api/v1/campaigns/{campaign}"
#: OpenAPI links (§4.8.20): where an answer's ids lead, for clients and for stateful
#: testing. (route, method, status) -> [(target route, method, {parameter: expression})].
LINKS: dict[tuple[str, str, int], list[tuple[str, str, dict[str, str]]]] = {
    ("/api/v1/campaigns", "post", 201): [
        (target, method, {"campaign": "$response.body#/campaign"}) for target, method in (
            (_C, "get"), (f"{_C}/candidates", "post"), (f"{_C}/candidates", "get"),
            (f"{_C}/windows", "post"), (f"{_C}/windows", "get"), (f"{_C}/decisions", "get"),
            (f"{_C}/alerts", "get"), (f"{_C}/appeals", "get"), (f"{_C}/statistics", "get"),
            (f"{_C}/notices", "post"), (f"{_C}/backup-slots", "post"),
            (f"{_C}/backup-slots", "get"))],
    (f"{_C}/candidates", "post", 201): [
        ("/api/v1/candidates/{subject}/personal-data", "get",
         {"subject": "$response.body#/candidates/0/subject"}),
        ("/api/v1/candidates/{subject}/erasure", "post",
         {"subject": "$response.body#/candidates/0/subject"})],
    (f"{_C}/windows", "post", 201): [
        ("/api/v1/windows/{window}", "get", {"window": "$response.body#/windows/0/window"}),
        ("/api/v1/windows/{window}/accommodations", "post",
         {"window": "$response.body#/windows/0/window"})],
    (f"{_C}/decisions", "get", 200): [
        ("/api/v1/decisions/{decision}", "get", {"decision": "$response.body#/0/decision"}),
        ("/api/v1/decisions/{decision}/review", "post",
         {"decision": "$response.body#/0/decision"}),
        ("/api/v1/decisions/{decision}/rebooking", "post",
         {"decision": "$response.body#/0/decision"})],
    (f"{_C}/alerts", "get", 200): [
        ("/api/v1/alerts/{alert}/resolution", "post", {"alert": "$response.body#/0/alert"})],
    (f"{_C}/appeals", "post", 201): [
        ("/api/v1/appeals/{appeal}", "get", {"appeal": "$response.body#/appeal"}),
        ("/api/v1/appeals/{appeal}/ruling", "post", {"appeal": "$response.body#/appeal"})],
    (f"{_C}/notices", "post", 201): [
        ("/api/v1/notices/{notice_id}", "get", {"notice_id": "$response.body#/notice"})],
    ("/logs", "get", 200): [
        ("/logs/{name}", "get", {"name": "$response.body#/0/name"}),
        ("/logs/{name}/checkpoint", "get", {"name": "$response.body#/0/name"}),
        ("/logs/{name}/proof/inclusion", "get", {"name": "$response.body#/0/name"})],
}
