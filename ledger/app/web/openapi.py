"""The OpenAPI 3.1 document of the JSON API, served at ``GET /api/openapi.json``.

Hand-written, so that it says what the handlers promise (roles, the statuses each route
can answer, RFC 9457 problems naming the field); ``tests/functional/test_openapi.py``
keeps it true to the code: every ``/api/*`` and ``/logs*`` route is documented, real
responses validate against it, and the API is fuzzed against it (schemathesis).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from ledger.absence.backfill import BACKFILL_STATUSES
from ledger.absence.entries import ACCOMMODATION_REASONS
from ledger.absence.service import MAX_POSTS
from ledger.absence.slots import MAX_CAPACITY
from ledger.app.web import openapi_noticeset, openapi_objections
from ledger.app.web.openapi_schema import (
    AFTER,
    B64,
    BACKUP_SLOT,
    BOOL,
    CAMPAIGN,
    COUNTS,
    ENTRY_INDEX,
    FACTOR,
    IDENT,
    IN_TIME,
    INT,
    LIMIT,
    LINKS,
    NO_CONTROL,
    NSTR,
    NTIME,
    PROPOSAL,
    PUBLIC_TEXT,
    QUERY_INT,
    QUERY_STR,
    RATE,
    REGISTRATION,
    SHA256,
    STR,
    SUBJECT,
    TILE_PATH,
    TIME,
    WEBHOOK_ID,
    XLSX,
    array,
    nullable,
    obj,
    param,
    path,
    ref,
    seat_or_times,
)
from ledger.app.web.openapi_schema import CAMPAIGN_ROUTE as _C
from ledger.events import PLATFORM_KINDS

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]

PROBLEM_MEDIA = "application/problem+json"
JSON_MEDIA = "application/json"


SCHEMAS: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; ``field`` names the parameter, header or "
                       "body field at fault; ``errors`` lists each row or event problem.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "pattern": "^/problems/[a-z-]+$"},
            "title": STR, "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": STR, "instance": STR, "field": STR,
            "errors": array({"type": "object", "required": ["message"], "properties": {
                "row": {"type": "integer"}, "field": STR, "message": STR}}),
        },
    },
    "Post": obj({"post": STR, "title": STR}),
    "Campaign": obj({
        "campaign": STR, "title": STR, "timezone": STR, "policy": STR,
        "policy_digest": SHA256, "created_at": TIME, "ledger_index": INT,
        "posts": array(ref("Post")), "candidates": INT}),
    "CampaignCreate": obj(
        {"campaign": IDENT, "title": PUBLIC_TEXT,
         "posts": array(obj({"post": IDENT, "title": PUBLIC_TEXT}, closed=True),
                        minItems=1, maxItems=MAX_POSTS)},
        {"timezone": {"type": "string", "examples": ["Asia/Shanghai"]},
         "policy": {"type": "string", "examples": ["government", "enterprise"]}},
        closed=True),
    "CandidateRow": obj(
        {"registration": STR, "name": STR, "id_number": STR, "post": STR},
        {"phone": STR, "email": STR}),
    "ImportResult": obj({
        "imported": INT,
        "candidates": array(obj({"row": {"type": "integer", "minimum": 1}, "subject": STR,
                                 "registration": STR, "ledger_index": INT}))}),
    "Candidate": obj({
        "subject": STR, "registration": STR, "post": STR, "contact": STR, "misses": INT,
        "locked": BOOL, "erased": BOOL, "ledger_index": INT}),
    "PersonalData": obj(
        {"subject": STR, "access_recorded_at": INT},
        {"name": NSTR, "id_number": NSTR, "phone": NSTR, "email": NSTR}),
    "Erasure": obj({"subject": STR, "erased": BOOL, "ledger_index": INT}),
    "ErasureRequest": obj({"reason": {"enum": ["retention_expired", "request"]}}, closed=True),
    "ScheduleRequest": obj(
        {"opens_at": IN_TIME, "closes_at": IN_TIME},
        {"slot": IDENT, "subjects": array(STR, minItems=1, maxItems=50), "post": STR},
        closed=True),
    "ScheduleResult": obj({
        "scheduled": INT,
        "windows": array(obj({"window": STR, "subject": STR, "registration": STR}))}),
    "Window": obj({
        "window": STR, "subject": STR,
        "registration": {"type": "string", "description":
                         "The candidate's registration number (准考证号/报名号), as imported: "
                         "the platform matches windows to its own candidates by it."},
        "slot": STR,
        "kind": {"enum": ["regular", "makeup", "rebook"]}, "opens_at": TIME, "closes_at": TIME,
        "accommodation": NSTR, "decision": NSTR}),
    "WindowDetail": obj({
        "window": STR, "campaign": STR, "subject": STR, "slot": STR,
        "kind": {"enum": ["regular", "makeup", "rebook"]}, "opens_at": TIME, "closes_at": TIME,
        "scheduled_closes_at": TIME, "accommodation": NSTR, "origin_decision": NSTR,
        "decision": NSTR, "ledger_index": INT,
        "events": array(obj({"index": INT, "event_id": STR, "kind": STR, "at": TIME,
                             "detail": NSTR})),
        "quarantined": array(obj({"index": INT, "event_id": NSTR, "kind": NSTR, "at": NTIME,
                                  "reason": STR})),
        "decisions": array(STR)}),
    "AccommodationRequest": seat_or_times(obj(
        {"kind": {"enum": ["extended", "alternate_slot"]},
         "reason": {"enum": list(ACCOMMODATION_REASONS)}},
        {"opens_at": IN_TIME, "closes_at": IN_TIME, "backup_slot": BACKUP_SLOT}, closed=True)),
    "TimesRequest": seat_or_times(obj({}, {"opens_at": IN_TIME, "closes_at": IN_TIME,
                             "backup_slot": BACKUP_SLOT}, closed=True)),
    "BackupSlotRequest": obj(
        {"opens_at": IN_TIME, "closes_at": IN_TIME,
         "capacity": {"type": "integer", "minimum": 1, "maximum": MAX_CAPACITY}},
        {"slot": IDENT}, closed=True),
    "BackupSlot": obj({
        "slot": STR, "campaign": STR, "opens_at": TIME, "closes_at": TIME, "capacity": INT,
        "used": {**INT, "description": "windows scheduled into the slot"},
        "free": INT, "reserved_by": STR, "reserved_at": TIME, "ledger_index": INT}),
    "Decision": obj({
        "decision": STR, "window": STR, "campaign": STR, "subject": STR,
        "registration": STR,
        "outcome": {"enum": ["attended", "forfeited", "rebook_offered",
                             "makeup_pending_review", "locked", "makeup_granted"]},
        "cause": NSTR, "reason": STR, "evidence": array(INT), "policy_digest": SHA256,
        "basis": STR, "rebook_until": NTIME,
        "rebook_offer": {"enum": [None, "open", "taken", "lapsed"],
                         "description": "an enterprise rebooking offer: open until "
                                        "rebook_until, taken (a window was booked) or "
                                        "lapsed (rebook.lapsed); null without an offer"},
        "supersedes": NSTR, "superseded_by": NSTR,
        "review": NSTR, "review_reason": NSTR, "decided_at": TIME, "ledger_index": INT,
        "explanation_sha256": nullable("string")}),
    "DecisionDetail": {"allOf": [ref("Decision"), obj({
        "explanation": obj({"en": STR, "zh": STR}),
        "explanation_matches_ledger": BOOL})]},
    "ReviewRequest": seat_or_times(obj(
        {"ruling": {"enum": ["confirmed", "makeup_granted"]}},
        {"opens_at": IN_TIME, "closes_at": IN_TIME, "backup_slot": BACKUP_SLOT,
         "reason": {"type": "string", "maxLength": 200,
                    "description": "the reviewer's reason (no personal data): recorded "
                                   "in the ledger entry, shown to the candidate"}}, closed=True)),
    "WebhookEvent": obj(
        {"id": IDENT, "window": IDENT,
         "kind": {"enum": list(PLATFORM_KINDS)},
         "at": IN_TIME},
        {"subject": SUBJECT, "detail": IDENT}, closed=True),
    # maxItems: [platform] max_batch_events, set when the document is made (_document).
    "WebhookBatch": obj({"events": array(ref("WebhookEvent"), minItems=1)}, closed=True),
    "WebhookReceipt": obj({
        "webhook_id": STR, "replayed": BOOL,
        "events": array(obj({"id": STR, "index": INT,
                             "status": {"enum": ["accepted", "quarantined", "duplicate"]}},
                            {"reason": STR}))}),
    "Quarantined": obj({
        "index": INT, "webhook_id": NSTR, "event_id": NSTR, "window": NSTR, "campaign": NSTR,
        "kind": NSTR, "at": NTIME, "reason": STR, "received_at": TIME}),
    "Notification": obj({
        "notification": STR, "subject": STR, "channel": {"enum": ["email", "sms"]},
        "template": STR, "status": STR, "attempts": INT, "queued_at": TIME,
        "due_by": TIME, "last_error": NSTR, "window": NSTR, "decision": NSTR}),
    "ReceiptRequest": obj({"reference": {"type": "string", "maxLength": 64},
                           "status": {"enum": ["delivered", "undeliverable"]}}, closed=True),
    "ReceiptResult": obj({"reference": STR, "recorded": BOOL}),
    "Appeal": obj({
        "appeal": STR, "decision": STR, "campaign": STR, "subject": STR, "ground": STR,
        "statement_hmac": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
                           "description": "HMAC-SHA-256 of the statement under a key "
                                          "derived from the master key (what the ledger "
                                          "holds); null for appeals filed before it"},
        "statement_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
                             "description": "The plain SHA-256 recorded by appeals filed "
                                            "before statement_hmac; null since"},
        "filed_at": TIME, "ruling": NSTR, "ruled_at": NTIME, "ruled_by": NSTR,
        "ruling_reason": NSTR, "makeup_window": NSTR, "ledger_index": INT}),
    "AppealDetail": {"allOf": [ref("Appeal"), obj({"attachments": array(ref("AppealAttachment"))},
                                                  {"statement": {
        "type": "string",
        "description": "The candidate's statement; absent once their data is erased."}})]},
    "AppealAttachment": obj({
        "position": {"type": "integer", "minimum": 1, "maximum": 3},
        "kind": {"enum": ["jpeg", "png", "pdf"]},
        "media_type": {"enum": ["image/jpeg", "image/png", "application/pdf"]},
        "size": INT,
        "erased": {"type": "boolean", "description": "the candidate's data was erased: the "
                                                     "sealed bytes are gone"},
        "verified": {"type": "boolean",
                     "description": "the sealed bytes open and their HMAC-SHA-256 is the one "
                                    "the appeal.filed entry lists"}}),
    "AppealFile": obj(
        {"registration": REGISTRATION, "factor": FACTOR,
         "ground": {"enum": ["technical", "notification", "personal", "other"]},
         "statement": {"type": "string", "minLength": 1, "maxLength": 2000}},
        {"attachments": array(
            {"type": "string", "contentEncoding": "base64",
             "contentMediaType": "image/jpeg, image/png or application/pdf"},
            maxItems=3,
            description="Up to 3 files, each the standard base64 (RFC 4648 §4, padded) of "
                        "1 byte to 5 MiB of a JPEG, PNG or PDF, recognised by its first "
                        "bytes (not by any name or declared type). Sealed like the "
                        "statement; the ledger lists each one's kind and keyed digest. "
                        "A refused file is a 400 (413 if too large) naming attachments "
                        "and the file's position, e.g. attachments[2].")},
        closed=True),
    "AppealFiled": obj({"appeal": STR, "status": STR, "ledger_index": INT,
                        "attachments": {"type": "integer", "minimum": 0, "maximum": 3,
                                        "description": "how many files were attached"}}),
    "RulingRequest": seat_or_times(obj(
        {"ruling": {"enum": ["upheld", "overturned"]}},
        {"opens_at": IN_TIME, "closes_at": IN_TIME, "backup_slot": BACKUP_SLOT,
         "reason": {"type": "string", "maxLength": 200,
                    "description": "the reviewer's reason (no personal data): recorded "
                                   "in the ledger entry, shown to the candidate"}}, closed=True)),
    "Alert": obj({
        "alert": STR, "campaign": STR, "kind": STR, "slot_start": NTIME, "count": INT,
        "total": INT, "threshold": {"type": ["number", "null"]}, "windows": array(STR),
        "status": {"enum": ["open", "resolved"]}, "action": NSTR,
        "makeups": nullable("integer"), "raised_at": TIME, "ledger_index": INT}),
    "AlertResolution": seat_or_times(obj(
        {"action": {"enum": ["mass_makeup", "dismissed"]}},
        {"opens_at": IN_TIME, "closes_at": IN_TIME, "backup_slot": BACKUP_SLOT,
         "use_backup_slots": {"const": True, "description": "fill the campaign's backup "
                              "slots, earliest first, instead of times"}}, closed=True)),
    "Statistics": obj({
        "campaign": STR, "decided": INT, "attended": INT, "absent": INT,
        "absence_rate": RATE, "outcomes": COUNTS, "causes": COUNTS,
        "cause_shares": {"type": "object", "additionalProperties": RATE},
        "pending_review": INT, "alerts": INT, "quarantined_events": INT,
        "windows": COUNTS, "notifications": COUNTS,
        "rebook_offers": obj({"open": INT, "taken": INT, "lapsed": INT}),
        "makeups": obj({"granted": INT, "attended": INT, "rate": RATE}),
        "appeals": obj({"filed": INT, "open": INT, "upheld": INT, "overturned": INT,
                        "appeal_rate": RATE, "overturn_rate": RATE,
                        "misjudgment_rate": RATE})}),
    # 递补 (ledger.absence.backfill): rankings, answers to vacancies, rulings.
    "Ranking": obj({k: STR for k in ("ranking", "post", "interview_day", "ties", "digest")}
                   | {k: INT for k in ("ranked", "qualified", "places", "ledger_index")}),
    "Backfill": obj({"item": STR, "proposal": NSTR, "campaign": STR, "post": STR,
                     "vacancy": STR, "vacated": STR, "vacated_registration": NSTR,
                     "subject": NSTR, "registration": NSTR, "rank": nullable("integer"),
                     "round": INT, "status": {"enum": list(BACKFILL_STATUSES)}, "reason": NSTR,
                     "window": NSTR, "at": TIME, "decided_at": NTIME, "decided_by": NSTR,
                     "ledger_index": INT}),
    "VacancyRequest": obj({"registration": REGISTRATION, "at": IN_TIME, "kind": {
        "enum": ["withdrawn_in_writing", "disqualified"]}}, closed=True),
    "Vacancy": obj({"vacancy": STR, "kind": STR, "answer": NSTR}), "BackfillApproval": obj(
        {"opens_at": IN_TIME, "closes_at": IN_TIME}, {"reason": PUBLIC_TEXT}, closed=True),
    "BackfillDecline": obj({"reason": PUBLIC_TEXT}, closed=True),
    "Access": obj({"index": INT, "at": TIME, "actor": STR, "subject": STR, "purpose": STR,
                   "fields": array(STR)}),
    "StatusRequest": obj({"registration": REGISTRATION, "factor": FACTOR}, closed=True),
    "Status": obj({
        "campaign": STR, "registration": STR,
        "windows": array(obj({"window": STR, "kind": STR, "opens_at": TIME,
                              "closes_at": TIME, "accommodation": NSTR,
                              "decisions": array(ref("DecisionDetail"))}))}),
    "Notice": obj({
        "notice": STR, "campaign": STR, "sha256": SHA256, "published_at": TIME,
        "period_start": TIME, "period_end": TIME, "lines": INT, "ledger_index": INT,
        "checkpoint_size": INT, "supersedes": NSTR, "superseded_by": NSTR,
        # the English page's SHA-256; null: a notice published as one bilingual page
        "sha256_en": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}}),
    "NoticePublished": {"allOf": [ref("Notice"), obj({"url": STR})]},
    "PublishRequest": obj({}, {"days": {"type": "integer", "minimum": 1, "maximum": 30},
                               "supersedes": NSTR}, closed=True),
    # sm2_verifier_keys: the 国密 option's SM2 keys (signed-note type 0xff "sm2-sm3")
    "Log": obj({"name": STR, "origin": STR, "verifier_keys": array(STR),
                "sm2_verifier_keys": array(STR)}),
    "LogInfo": {"allOf": [ref("Log"), obj({"size": INT, "root": B64, "checkpoint": STR})]},
    "Readiness": {
        "type": "object",
        "description": "Every check passed; ``checks`` names each (database, schema, "
                       "``log NAME``) with what was found.",
        "required": ["status", "checks"],
        "properties": {
            "status": {"const": "ready"},
            "checks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["ok", "detail"],
                "properties": {"ok": {"type": "boolean"}, "detail": STR}}},
        },
    },
    "Entry": obj({"index": INT, "time": TIME, "type": STR, "actor": STR,
                  "body": {"type": "object"}, "prev": B64}),
    "InclusionProof": obj({"index": INT, "size": INT, "hashes": array(B64)}),
    "ConsistencyProof": obj({"old": INT, "new": INT, "hashes": array(B64)}),
}

#: The rules of ledger.absence.service._check_window_times, for every operation that
#: takes a window's times.
#: A reviewer's reason: printable text (str.isprintable, which no JSON Schema says).
REASON_RULE = {"reason": "1..200 printable characters, no personal data"}
WINDOW_TIMES = {
    "closes_at": "is after opens_at, in the future and at most 366 days ahead",
    "opens_at": "is at most 31 days before closes_at",
}

#: Why each status may come back (the per-operation ``description`` of the response).
STATUS_TEXT = {
    400: "Malformed input: a parameter, header or body field (named in ``field``).",
    401: "No, unknown or revoked credential (``WWW-Authenticate: Bearer``), or a bad "
         "webhook signature or timestamp.",
    403: "The token's role may not do this, or (candidates) registration and factor do "
         "not match (the same answer for an unknown or erased registration).",
    404: "The named resource does not exist.",
    409: "The request conflicts with the current state (named in ``field``).",
    408: "The body did not arrive in time (a slow client); the connection is closed.",
    413: "The body is larger than this operation takes (``field``: body).",
    422: "Well-formed but unprocessable: every row or event problem is listed in "
         "``errors``; nothing was recorded.",
    429: "Rate-limited (public endpoints: per client address, an IPv6 client by its "
         "/64, and per registration number): wait and retry.",
    503: "A dependency (e.g. the webhook secrets or the database) is unavailable: retry "
         "the same request after ``Retry-After`` seconds (a webhook-id is recorded once "
         "however often it is sent).",
    507: "The database's disk is full; nothing was recorded: retry later.",
}




def op(summary: str, *, roles: tuple[str, ...] | None, ok: tuple[int, Schema | None, str],
       errors: tuple[int, ...] = (), params: list[Schema] | None = None,
       body: Schema | dict[str, Schema] | None = None, tag: str = "absence",
       description: str = "", constraints: dict[str, str] | None = None) -> Schema:
    """One operation.  ``roles`` None = public (no token); ``ok`` = (status, JSON schema or
    None, media type); ``body`` = a JSON schema, or {media type: schema};
    ``constraints`` = {field: rule} for what a JSON schema cannot say (one field against
    another, against the clock or the log): a request true to the schema may still get a
    400 naming one of these fields.  They are listed as ``x-constraints``."""
    status, schema, media = ok
    out: Schema = {"summary": summary, "tags": [tag], "operationId": "",
                   "parameters": params or [], "responses": {}}
    if roles is None:
        out["security"] = []
        who = "Public: no token."
    else:
        out["security"] = [{"bearerAuth": []}]
        out["x-roles"] = list(roles)
        who = f"Roles: {', '.join(roles)} (bearer token)."
        errors = (401, 403, *errors)
    out["description"] = f"{who} {description}".strip()
    if constraints:
        out["x-constraints"] = dict(constraints)
    if body is not None:
        content = body if "type" not in body and "$ref" not in body else {JSON_MEDIA: body}
        out["requestBody"] = {"required": True, "content": {
            m: {"schema": s} for m, s in content.items()}}
        errors = (*errors, 408, 413)  # every body has a size limit and a deadline
    content_ok: Schema = {media: {"schema": schema if schema is not None else STR}}
    out["responses"][str(status)] = {"description": "Success.", "content": content_ok}
    if status == 201 and media == JSON_MEDIA and "replay" in description:
        out["responses"]["200"] = {"description": "Replayed: already recorded.",
                                   "content": content_ok}
    if constraints or any(p["schema"].get("pattern") == NO_CONTROL for p in params or []):
        errors = (*errors, 400)  # a rule beyond the schema, or a control character
    for code in sorted(set(errors)):
        text = STATUS_TEXT[code]
        if code == 400 and constraints:
            text += " Beyond the schema: " + "; ".join(
                f"``{f}`` {rule}" for f, rule in constraints.items()) + "."
        out["responses"][str(code)] = {"description": text,
                                       "content": {PROBLEM_MEDIA: {"schema": ref("Problem")}}}
    return out


def J(name: str | Schema, status: int = 200) -> tuple[int, Schema, str]:  # noqa: N802
    return status, ref(name) if isinstance(name, str) else name, JSON_MEDIA


READ = ("hr", "reviewer", "auditor")


def _paths() -> dict[str, dict[str, Schema]]:
    wh_headers = [
        param("webhook-id", "header", WEBHOOK_ID,
              "Unique message id (the idempotency key).", required=True),
        param("webhook-timestamp", "header", {"type": "string", "pattern": "^[0-9]{1,20}$"},
              "Unix seconds when sent; at most 300 s from the receiver's clock.",
              required=True),
        param("webhook-signature", "header", STR,
              "Space-separated ``v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>``.",
              required=True)]
    p: dict[str, dict[str, Schema]] = {
        "/api/openapi.json": {"get": op(
            "This document (OpenAPI 3.1).", roles=None, tag="meta",
            ok=(200, {"type": "object"}, JSON_MEDIA))},
        "/api/v1/platform/events": {"post": op(
            "Interview platform events: one event or a batch, signed per Standard Webhooks.",
            roles=None, tag="platform", params=wh_headers,
            description="Authenticated by the Standard Webhooks signature, not a token. "
                        "Returns 201 when recorded, 200 on a replay of a recorded webhook-id.",
            body={JSON_MEDIA: {"oneOf": [ref("WebhookEvent"), ref("WebhookBatch")]}},
            ok=J("WebhookReceipt", 201), errors=(400, 401, 413, 422, 503, 507),
            constraints={"at": "is from the year 1000 on (in UTC)",
                         "id": "is listed once per delivery"})},
        "/api/v1/platform/windows": {"get": op(
            "Undecided windows of a campaign (whom to invite, when).",
            roles=("platform", "hr"), tag="platform",
            params=[param("campaign", "query", QUERY_STR, "Campaign id.", required=True),
                    LIMIT, AFTER],
            ok=J(array(ref("Window"))), errors=(400, 404))},
        "/api/v1/campaigns": {
            "get": op("Every campaign, newest first.", roles=READ,
                      ok=J(array(ref("Campaign")))),
            "post": op("Open a campaign.", roles=("hr",), body=ref("CampaignCreate"),
                       ok=J("Campaign", 201), errors=(400, 409), constraints={
                           "title": "is printable text (str.isprintable) with no ID number, "
                                    "mobile number or e-mail: it is public",
                           "post": "is listed once",
                           "timezone": "is an IANA time zone",
                           "policy": "names a policy configured under [policies]"})},
        "/api/v1/campaigns/{campaign}": {"get": op(
            "A campaign with its posts and counts.", roles=READ, params=[CAMPAIGN],
            ok=J("Campaign"), errors=(404,))},
        "/api/v1/campaigns/{campaign}/candidates": {
            "post": op("Import candidates (all rows or none).", roles=("hr",),
                       params=[CAMPAIGN],
                       description="CSV with a header row registration,name,id_number,"
                                   "phone,email,post; or JSON: an array of rows or "
                                   "{\"candidates\": [...]}.",
                       body={"text/csv": {"type": "string"},
                             JSON_MEDIA: {"oneOf": [
                                 array(ref("CandidateRow"), minItems=1),
                                 obj({"candidates": array(ref("CandidateRow"),
                                                          minItems=1)}, closed=True)]}},
                       ok=J("ImportResult", 201), errors=(400, 404, 413, 422),
                       constraints={
                           "header": "(CSV) names the columns, in English or Chinese",
                           "rows": "each have a registration number not yet in the "
                                   "campaign, a name, a valid ID number (GB 11643), a "
                                   "mobile number or e-mail, and a post of the campaign"}),
            "get": op("The campaign's candidates (pseudonymous).", roles=READ,
                      params=[CAMPAIGN], ok=J(array(ref("Candidate"))), errors=(404,))},
        "/api/v1/candidates/{subject}/personal-data": {"get": op(
            "A candidate's personal data, only the fields the purpose needs: contact "
            "gives name, phone and email; review and appeal also the ID number, and only "
            "for a subject with a decision pending review or an open appeal (else 403, "
            "field purpose); audit gives name and ID number.  The access is recorded in "
            "the ledger.",
            roles=("hr", "reviewer"),
            params=[path("subject", "Subject pseudonym."),
                    param("purpose", "query",
                          {"enum": ["review", "appeal", "contact", "audit"]},
                          "Why (default: contact for hr, review for reviewer).")],
            ok=J("PersonalData"), errors=(400, 403, 404))},
        "/api/v1/candidates/{subject}/erasure": {"post": op(
            "Erase a candidate's personal data (after retention, or on request).",
            roles=("hr",), params=[path("subject", "Subject pseudonym.")],
            body=ref("ErasureRequest"), ok=J("Erasure"), errors=(400, 404, 409))},
        "/api/v1/campaigns/{campaign}/windows": {
            "post": op("Schedule interview windows (listed subjects, a post, or all).",
                       roles=("hr",), params=[CAMPAIGN], body=ref("ScheduleRequest"),
                       ok=J("ScheduleResult", 201), errors=(400, 404, 409),
                       constraints=WINDOW_TIMES),
            "get": op("The campaign's windows, by id.", roles=READ,
                      params=[CAMPAIGN, LIMIT, AFTER,
                              param("undecided", "query", {"enum": ["0", "1"]},
                                    "1: only undecided windows.")],
                      ok=J(array(ref("Window"))), errors=(400, 404))},
        "/api/v1/windows/{window}": {"get": op(
            "A window with its events, quarantined events and decisions.", roles=READ,
            params=[path("window", "Window id.")], ok=J("WindowDetail"), errors=(404,))},
        "/api/v1/windows/{window}/accommodations": {"post": op(
            "Extend a window or move it to another slot, before it closes.", roles=("hr",),
            params=[path("window", "Window id.")], body=ref("AccommodationRequest"),
            ok=J("WindowDetail", 201), errors=(400, 404, 409),
            constraints={**WINDOW_TIMES,
                         "closes_at": "is after opens_at (or the window's opening), in the "
                                      "future and at most 366 days ahead; required unless "
                                      "an alternate slot names backup_slot",
                         "backup_slot": "only with kind alternate_slot, without times"})},
        "/api/v1/campaigns/{campaign}/backup-slots": {
            "post": op("Reserve a backup time slot (备用面试时间段) with a capacity.",
                       roles=("hr",), params=[CAMPAIGN], body=ref("BackupSlotRequest"),
                       ok=J("BackupSlot", 201), errors=(400, 404, 409),
                       constraints={**WINDOW_TIMES,
                                    "opens_at": "is in the future; the slot lasts at most "
                                                "31 days",
                                    "slot": "is not a backup slot or a slot of windows "
                                            "of the campaign yet, nor makeup or rebook"}),
            "get": op("The campaign's backup slots, earliest first, with seats used and "
                      "free.", roles=READ,
                      params=[CAMPAIGN, param("usable", "query", {"enum": ["0", "1"]},
                                              "1: only those not ended with a free seat.")],
                      ok=J(array(ref("BackupSlot"))), errors=(400, 404))},
        "/api/v1/campaigns/{campaign}/backup-slots/{slot}/withdrawal": {"post": op(
            "Withdraw a backup slot no window was scheduled into.", roles=("hr",),
            params=[CAMPAIGN, path("slot", "Backup slot id.")],
            ok=J(obj({"campaign": STR, "slot": STR, "withdrawn": BOOL,
                      "ledger_index": INT})), errors=(404, 409))},
        "/api/v1/campaigns/{campaign}/quarantine": {"get": op(
            "Quarantined platform events of a campaign.", roles=READ,
            params=[CAMPAIGN, LIMIT], ok=J(array(ref("Quarantined"))), errors=(400, 404))},
        "/api/v1/quarantine": {"get": op(
            "Every quarantined platform event.", roles=READ, params=[LIMIT],
            ok=J(array(ref("Quarantined"))), errors=(400,))},
        "/api/v1/campaigns/{campaign}/notifications": {"get": op(
            "The campaign's notifications and their delivery state.", roles=("hr", "auditor"),
            params=[CAMPAIGN, LIMIT], ok=J(array(ref("Notification"))), errors=(400, 404))},
        "/api/v1/campaigns/{campaign}/decisions": {"get": op(
            "The campaign's decisions (current and superseded).", roles=READ,
            params=[CAMPAIGN, LIMIT, AFTER,
                    param("outcome", "query", QUERY_STR, "Only this outcome."),
                    param("pending_review", "query", {"enum": ["0", "1"]},
                          "1: only decisions pending review.")],
            ok=J(array(ref("Decision"))), errors=(400, 404))},
        "/api/v1/decisions/{decision}": {"get": op(
            "A decision with its explanation.", roles=READ,
            params=[path("decision", "Decision id.")], ok=J("DecisionDetail"),
            errors=(404,))},
        "/api/v1/campaigns/{campaign}/reviews": {"get": op(
            "The review queue: decisions pending human review.", roles=("reviewer",),
            params=[CAMPAIGN, LIMIT], ok=J(array(ref("Decision"))), errors=(400, 404))},
        "/api/v1/decisions/{decision}/review": {"post": op(
            "Rule on a decision pending review (confirm, or grant a make-up).",
            roles=("reviewer",), params=[path("decision", "Decision id.")],
            body=ref("ReviewRequest"), ok=J("DecisionDetail"), errors=(400, 404, 409),
            constraints={**WINDOW_TIMES, **REASON_RULE, "opens_at": "and closes_at (or "
                         "backup_slot) are required to grant a make-up; a window lasts at "
                         "most 31 days"})},
        "/api/v1/decisions/{decision}/rebooking": {"post": op(
            "Enterprise policy: a new window for a candidate offered a rebooking.",
            roles=("hr",), params=[path("decision", "Decision id.")],
            body=ref("TimesRequest"), ok=J("WindowDetail", 201), errors=(400, 404, 409),
            constraints={**WINDOW_TIMES, "opens_at": "and closes_at, or backup_slot, are "
                         "required; a window lasts at most 31 days"})},
        "/api/v1/notifications/receipts": {"post": op(
            "A delivery receipt relayed by the messaging gateway.", roles=("platform",),
            tag="platform", body=ref("ReceiptRequest"),
            description="201 when recorded, 200 when the notification had it already "
                        "(replay).",
            ok=J("ReceiptResult", 201), errors=(400, 404))},
        "/api/v1/campaigns/{campaign}/appeals": {
            "get": op("The campaign's appeals.", roles=("reviewer", "hr", "auditor"),
                      params=[CAMPAIGN, param("open", "query", {"enum": ["0", "1"]},
                                              "1: only open appeals.")],
                      ok=J(array(ref("Appeal"))), errors=(400, 404)),
            "post": op("A candidate appeals their own decision (rate-limited).", roles=None,
                       tag="candidates", params=[CAMPAIGN], body=ref("AppealFile"),
                       ok=J("AppealFiled", 201), errors=(400, 403, 404, 409, 413, 429),
                       constraints={"attachments": "each item is standard base64 (RFC 4648 "
                                    "§4) of a JPEG, PNG or PDF of 1 byte to 5 MiB"})},
        "/api/v1/appeals/{appeal}": {"get": op(
            "An appeal with its statement (the access is recorded).", roles=("reviewer",),
            params=[path("appeal", "Appeal id.")], ok=J("AppealDetail"), errors=(404,))},
        "/api/v1/appeals/{appeal}/ruling": {"post": op(
            "Rule on an appeal (uphold, or overturn with a make-up window).",
            roles=("reviewer",), params=[path("appeal", "Appeal id.")],
            body=ref("RulingRequest"), ok=J("Appeal"), errors=(400, 404, 409),
            constraints={**WINDOW_TIMES, **REASON_RULE, "opens_at": "and closes_at, or "
                         "backup_slot, give an overturn its make-up window; a window lasts "
                         "at most 31 days"})},
        "/api/v1/campaigns/{campaign}/alerts": {"get": op(
            "The campaign's anomaly alerts.", roles=READ, params=[CAMPAIGN],
            ok=J(array(ref("Alert"))), errors=(404,))},
        "/api/v1/alerts/{alert}/resolution": {"post": op(
            "Resolve an alert (mass make-up for an outage, or dismiss).", roles=("reviewer",),
            params=[path("alert", "Alert id (campaign:kind:slot).")],
            body=ref("AlertResolution"), ok=J("Alert"), errors=(400, 404, 409),
            constraints={**WINDOW_TIMES, "opens_at": "and closes_at (or backup_slot, or "
                         "use_backup_slots) are required for a mass make-up; a window "
                         "lasts at most 31 days"})},
        "/api/v1/campaigns/{campaign}/statistics": {"get": op(
            "Absence, cause, make-up and appeal statistics (KPIs).", roles=READ,
            params=[CAMPAIGN], ok=J("Statistics"), errors=(404,))},
        f"{_C}/rankings": {"post": op(
            "递补: import a post's ranked list (all rows or none).", roles=("hr",),
            params=[CAMPAIGN, *[param(k, "query", QUERY_STR, d, required=True) for k, d in (
                ("post", "Post id."), ("pass_line", "Pass line (a score)."),
                ("places", "Interview places."), ("interview_day", "YYYY-MM-DD."))]],
            body={"text/csv": STR, XLSX: {"type": "string", "format": "binary"}},
            ok=J("Ranking", 201), errors=(400, 404, 409, 413, 422),
            constraints={"post": "is a post of the campaign", "pass_line": "is a score from "
                         "0 to 1000", "places": "is a whole number from 1", "interview_day":
                         "is a date YYYY-MM-DD the calendar knows"}),
            "get": op("递补: the campaign's rankings (no scores).", roles=READ,
                      params=[CAMPAIGN], ok=J(array(ref("Ranking"))), errors=(404,))},
        f"{_C}/backfills": {"get": op(
            "递补: every answer to the campaign's vacancies.", roles=READ, params=[CAMPAIGN],
            ok=J(array(ref("Backfill"))), errors=(404,))},
        f"{_C}/vacancies": {"post": op(
            "递补: record a written withdrawal or a disqualification.", roles=("hr",),
            params=[CAMPAIGN], body=ref("VacancyRequest"), ok=J("Vacancy", 201),
            errors=(400, 404, 409), constraints={"at": "is not in the future"})},
        "/api/v1/backfills/{proposal}": {"get": op(
            "递补: one answer.", roles=READ, params=[PROPOSAL], ok=J("Backfill"), errors=(404,))},
        "/api/v1/backfills/{proposal}/approval": {"post": op(
            "递补: approve a proposal (invites the candidate).", roles=("reviewer",),
            params=[PROPOSAL], body=ref("BackfillApproval"), ok=J("Backfill"),
            errors=(400, 404, 409), constraints=WINDOW_TIMES)},
        "/api/v1/backfills/{proposal}/decline": {"post": op(
            "递补: decline a proposal; the next is proposed.", roles=("reviewer",),
            params=[PROPOSAL], body=ref("BackfillDecline"), ok=J("Backfill"),
            errors=(400, 404, 409), constraints={"reason": "is printable"})},
        "/api/v1/access-log": {"get": op(
            "Who read whose personal data, when and why.", roles=("auditor",),
            params=[param("subject", "query", QUERY_STR, "Only this subject."), LIMIT],
            ok=J(array(ref("Access"))), errors=(400,))},
        "/api/v1/campaigns/{campaign}/status": {"post": op(
            "A candidate's own status (rate-limited); the credentials travel in the body.",
            roles=None, tag="candidates", params=[CAMPAIGN], body=ref("StatusRequest"),
            ok=J("Status"), errors=(400, 403, 404, 429))},
        "/api/v1/campaigns/{campaign}/notices": {"post": op(
            "Publish the campaign's public notice (公示).", roles=("hr",), tag="publicity",
            params=[CAMPAIGN], body=ref("PublishRequest"), ok=J("NoticePublished", 201),
            errors=(400, 404, 409, 503),
            description="503 (with Retry-After): the [witness_policy] needs k witness "
                        "cosignatures and fewer came in time; the problem names them.")},
        "/api/v1/campaigns/{campaign}/notices/preview": {"get": op(
            "What the public would see if HR published now (nothing is recorded).",
            roles=("hr",), tag="publicity", params=[CAMPAIGN],
            ok=(200, None, "text/html"), errors=(404, 409))},
        "/api/v1/notices/{notice_id}": {"get": op(
            "A notice's ledger record (SHA-256 of its bytes, period, supersession).",
            roles=None, tag="publicity", params=[path("notice_id", "Notice id.")],
            ok=J("Notice"), errors=(404,))},
    }
    name = path("name", "Log name.", "hr-test")
    raw_index = param("raw_index", "path", {"type": "string", "pattern": ENTRY_INDEX},
                      "Entry index (decimal).")

    def log_op(summary: str, ok: tuple[int, Schema | None, str], *params: Schema,
               errors: tuple[int, ...] = (400, 404), **more: Any) -> Schema:
        """A public read of the log ``{name}``: ``params`` after the log's name."""
        return op(summary, roles=None, tag="logs", params=[name, *params], ok=ok,
                  errors=errors, **more)

    def size_pair(first: str, first_doc: str, second: str, second_doc: str) -> list[Schema]:
        """A proof's two query integers: ``first`` required, ``second`` defaulting."""
        return [param(first, "query", QUERY_INT, first_doc, required=True),
                param(second, "query", QUERY_INT, second_doc)]

    text = (200, None, "text/plain")
    p |= {
        "/logs": {"get": op("Every log.", roles=None, tag="logs", ok=J(array(ref("Log"))))},
        "/logs/{name}": {"get": log_op("A log and its latest checkpoint.", J("LogInfo"),
                                       errors=(404,))},
        "/logs/{name}/checkpoint": {"get": log_op(
            "The latest signed checkpoint (C2SP tlog-checkpoint note).", text,
            errors=(404,))},
        "/logs/{name}/policy": {"get": log_op(
            "The witness policy publishing waits for (C2SP tlog-policy text).", text,
            errors=(404,))},
        "/logs/{name}/tile/{rest}": {"get": log_op(
            "A tile or entry bundle (C2SP tlog-tiles), e.g. 0/000, 0/000.p/5, entries/000.",
            (200, None, "application/octet-stream"),
            param("rest", "path", {"type": "string", "pattern": TILE_PATH},
                  "The tile path after tile/."))},
        "/logs/{name}/proof/inclusion": {"get": log_op(
            "An inclusion proof (RFC 6962) of entry ``index`` in the tree of ``size``.",
            J("InclusionProof"),
            *size_pair("index", "Entry index.", "size", "Tree size (default: latest)."),
            constraints={"index": "is below size", "size": "is at most the log's size"})},
        "/logs/{name}/proof/consistency": {"get": log_op(
            "A consistency proof (RFC 6962) between tree sizes ``old`` and ``new``.",
            J("ConsistencyProof"),
            *size_pair("old", "Older size.", "new", "Newer size (default: latest)."),
            constraints={"old": "is at most new", "new": "is at most the log's size"})},
        "/logs/{name}/entries/{raw_index}": {"get": log_op(
            "An entry as stored (canonical JSON).", J("Entry"), raw_index)},
        "/logs/{name}/entries/{raw_index}/tlog-proof": {"get": log_op(
            "A self-contained C2SP tlog-proof of the entry.", text, raw_index)},
    }
    p |= {
        "/healthz": {"get": op(
            "Liveness: the process answers (nothing else is checked).", roles=None,
            tag="operations", ok=(200, None, "text/plain"))},
        "/readyz": {"get": op(
            "Readiness: the database answers, its schema is this release's, every "
            "configured log exists and its signing key loads.", roles=None,
            tag="operations", ok=J("Readiness"), errors=(503,),
            description="For load balancers' health checks. 503 names what is wrong.")},
        "/metrics": {"get": op(
            "Prometheus metrics (text exposition format), read from the database at "
            "scrape time: the same figures on every host.", roles=None, tag="operations",
            ok=(200, None, "text/plain"), errors=(401, 503),
            description="Public unless the operator sets ``[metrics] token_file``; then "
                        "send ``Authorization: Bearer <that file's content>``.")},
    }
    for (route, method), d in (openapi_objections.OPERATIONS
                               | openapi_noticeset.OPERATIONS).items():
        ok = J(array(ref(d.ok[5:])) if d.ok.startswith("list:") else d.ok, d.status)
        p.setdefault(route, {})[method] = op(
            d.summary, roles=d.roles, ok=ok, errors=d.errors, tag=d.tag,
            params=[path(n, text) for n, text in d.params],
            body=ref(d.body) if d.body else None, constraints=dict(d.constraints) or None)
    for route, ops in p.items():
        for method, o in ops.items():
            o["operationId"] = _operation_id(route, method)
    for (route, method, status), targets in LINKS.items():
        p[route][method]["responses"][str(status)]["links"] = {
            f"{to_method}_{to_route}".replace("/", "_"): {
                "operationId": _operation_id(to_route, to_method), "parameters": params}
            for to_route, to_method, params in targets}
    return p


def _operation_id(route: str, method: str) -> str:
    return f"{method}_{route.strip('/')}".replace("/", "_").replace(
        "{", "").replace("}", "").replace(".", "_").replace("-", "_")




#: [platform] max_batch_events when no configuration is at hand (its default).
DEFAULT_MAX_BATCH_EVENTS = 1000


#: [absence] verification_factor_chars when no configuration is at hand (its default).
DEFAULT_FACTOR_CHARS = 4


def factor_schema(chars: int) -> Schema:
    """The verification factor a deployment asks for: the last ``chars`` characters of
    the ID number (``service.parse_factor``)."""
    return {"type": "string", "pattern": f"^[0-9]{{{chars - 1}}}[0-9Xx]$",
            "description": f"The last {chars} characters of the ID number: digits, the "
                           "last may be X; full-width digits are read as digits."}


@cache
def _document(max_batch_events: int, factor_chars: int = DEFAULT_FACTOR_CHARS) -> Schema:
    schemas = copy.deepcopy(SCHEMAS | openapi_objections.SCHEMAS | openapi_noticeset.SCHEMAS)
    # The platform is told the limit this deployment enforces (a 422 above it).
    schemas["WebhookBatch"]["properties"]["events"]["maxItems"] = max_batch_events
    # Candidates are told the factor this deployment asks for.
    for name in ("StatusRequest", "AppealFile"):
        schemas[name]["properties"]["factor"] = factor_schema(factor_chars)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Absentia API",
            "version": "1",
            "summary": "Append-only audit ledger for missed AI interviews.",
            "description": "Errors are RFC 9457 ``application/problem+json`` naming the "
                           "field at fault. Bearer tokens carry one role each (platform, hr, "
                           "reviewer, auditor); ``x-roles`` lists the roles an operation "
                           "admits. The platform webhook is signed per Standard Webhooks.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "``absentia tokens create --role ROLE``"}},
        },
    }


def document(max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
             factor_chars: int = DEFAULT_FACTOR_CHARS) -> Schema:
    """The OpenAPI document for a deployment whose platform batches hold at most
    ``max_batch_events`` events and whose candidates verify with ``factor_chars``
    characters (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document(max_batch_events, factor_chars))


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    absence = current_app.extensions["absentia.absence"]
    resp = jsonify(_document(absence.cfg.max_batch_events, absence.cfg.factor_chars))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
