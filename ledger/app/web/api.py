"""The JSON API under /api/v1/: bearer tokens per role, webhooks, candidate self-service.

Roles reach only what they need:

=========  ==================================================================
platform   the signed webhook; the list of windows to invite; delivery receipts
hr         campaigns, candidate import, windows, backup slots, accommodations, rebookings,
           quarantine, contact details (recorded), erasure, rankings and
           vacancies (递补)
reviewer   review queue, make-ups, appeals and rulings, alerts, case details
           (recorded), 递补 approvals and declines
auditor    read-only: campaigns, decisions, statistics, alerts, access trail
public     a candidate's own status and appeal (registration + factor),
           rate-limited
=========  ==================================================================

The clock is read here (``now()``) and passed to the service.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from ledger import jsonread
from ledger.absence.attachments import MAX_ATTACHMENTS, AttachmentRefused
from ledger.absence.imports import MAX_IMPORT_BYTES
from ledger.absence.service import AbsenceService, Caller, parse_registration
from ledger.absence.webhooks import WebhookSecret, verify
from ledger.app.web.credentials import bearer_token
from ledger.app.web.guards import checked_first
from ledger.app.web.limits import (
    APPEAL_JSON_BYTES,
    MAX_REQUEST_BYTES,
    PUBLIC_LOOKUP_BYTES,
    body_limit,
)
from ledger.app.web.ratelimit import RateLimiter, client_key
from ledger.app.web.services import now, service
from ledger.errors import BadData, NotAllowed, Unauthenticated, Unprocessable

bp = Blueprint("api", __name__, url_prefix="/api/v1")

Params = ParamSpec("Params")
JSON = dict[str, Any] | list[Any]




def roles(*allowed: str) -> Callable[[Callable[Params, Response]], Callable[Params, Response]]:
    """Require a bearer token of one of ``allowed`` roles; the caller goes to ``g.caller``.

    Raises (from the view):
        Unauthenticated: no bearer token, or an unknown or revoked one.
        NotAllowed: the token's role is not one of ``allowed``.
    """
    return checked_first(partial(_authorize, allowed))


def _authorize(allowed: tuple[str, ...]) -> None:
    header = request.headers.get("Authorization", "")
    token = bearer_token(header) if len(header) <= 200 else None
    if token is None:
        raise Unauthenticated("send 'Authorization: Bearer <token>'", field="Authorization")
    caller = service().authenticate(token)
    if caller is None:
        raise Unauthenticated("the token is unknown or revoked", field="Authorization")
    if caller.role not in allowed:
        raise NotAllowed(f"role {caller.role!r} may not do this; it needs "
                         f"{' or '.join(allowed)}", field="Authorization")
    g.caller = caller


def caller() -> Caller:
    c: Caller = g.caller
    return c


def body() -> dict[str, Any]:
    """The request's JSON object, read by ``ledger.jsonread`` within the view's body limit.

    Raises:
        BadData: not JSON (or not I-JSON: too deep, a lone surrogate, a name twice, ...),
            not an object, or not declared as application/json.
        RequestEntityTooLarge: the body exceeds the view's limit (413; werkzeug).
    """
    if not request.mimetype or request.mimetype != "application/json":
        raise BadData("send Content-Type: application/json", field="Content-Type")
    data = jsonread.read(request.get_data(cache=True),
                         max_bytes=request.max_content_length or MAX_REQUEST_BYTES)
    if not isinstance(data, dict):
        raise BadData("body: expected a JSON object", field="body")
    return data


def ok(data: JSON, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def arg(name: str, default: str = "") -> str:
    return request.args.get(name, default)


def flag_arg(name: str) -> bool:
    """A ``0``/``1`` query flag (absent: off).

    Raises:
        BadData: any other value (``true``, ``null``, empty, repeated differently).
    """
    values = request.args.getlist(name)
    if not values:
        return False
    if any(v not in ("0", "1") for v in values) or len(set(values)) > 1:
        raise BadData(f"{name}: 0 or 1", field=name)
    return values[0] == "1"


def limit_arg(default: int = 1000, maximum: int = 5000) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= maximum:
        raise BadData(f"limit: an integer from 1 to {maximum}", field="limit")
    return int(raw)


# -- rate limiting (public endpoints) ------------------------------------------------


#: The limit when the app sets none (``create_app`` sets a shared one): in this process.
PUBLIC_LIMIT = RateLimiter(10, 60.0)


def public_limited() -> None:
    """Count a public request against its client address (an IPv6 client by its /64).

    Raises:
        TooManyRequests: over the per-address limit (429).
    """
    limiter: RateLimiter = current_app.extensions.get("absentia.rate_limiter", PUBLIC_LIMIT)
    limiter.check(client_key(request.remote_addr or "?"))


def lookup_limited(campaign: str, registration: Any) -> None:
    """Count a candidate lookup (status or appeal) against the registration number it
    names, whatever the client's address, keyed as lookups find it (case-insensitive):
    many addresses guessing one candidate's factor share one count
    (``ratelimit.REGISTRATION_PER_15_MIN``, ``REGISTRATION_PER_DAY``).  Unknown numbers
    are counted too, so a lookup does the same work whether the number exists or not.

    Raises:
        BadData: the registration number is malformed (named; nothing is counted).
        TooManyRequests: over a per-registration limit (429).
    """
    key = f"{campaign}\n{parse_registration(registration)}"
    limiters: tuple[RateLimiter, ...] = current_app.extensions.get(
        "absentia.registration_limiters", ())
    for limiter in limiters:
        try:
            limiter.check(key)
        except TooManyRequests as exc:
            raise TooManyRequests("too many attempts for this registration number; wait "
                                  "and retry", retry_after=exc.retry_after) from None


# -- platform -----------------------------------------------------------------------


def webhook_secrets() -> list[WebhookSecret]:
    found: list[WebhookSecret] = current_app.extensions["absentia.webhook_secrets"]()
    return found


@bp.post("/platform/events")
def platform_events() -> Response:
    """Interview platform events, signed per Standard Webhooks; one event or a batch."""
    svc = service()
    request.max_content_length = svc.cfg.max_body_bytes  # the configured limit, not the view's
    length = request.content_length
    if length is not None and length > svc.cfg.max_body_bytes:
        raise RequestEntityTooLarge(f"body of {length} bytes exceeds "
                                    f"{svc.cfg.max_body_bytes}; send smaller batches")
    raw = request.stream.read(svc.cfg.max_body_bytes + 1)
    if len(raw) > svc.cfg.max_body_bytes:
        raise RequestEntityTooLarge(f"body exceeds {svc.cfg.max_body_bytes} bytes; "
                                    "send smaller batches")
    msg = verify(webhook_secrets(), request.headers, raw, now())
    payload = jsonread.read(raw, max_bytes=svc.cfg.max_body_bytes)
    if not isinstance(payload, dict):
        raise Unprocessable("body: expected a JSON object (one event or {\"events\": [...]})",
                            field="body")
    receipt, created = svc.ingest(msg.id, payload, now(), msg.sent_at)
    receipt["replayed"] = not created
    return ok(receipt, 201 if created else 200)


@bp.get("/platform/windows")
@roles("platform", "hr")
def platform_windows() -> Response:
    """Undecided windows of a campaign (whom to invite, when)."""
    if "campaign" not in request.args:
        raise BadData("campaign: required", field="campaign")
    return ok(service().windows(arg("campaign"), undecided_only=True, limit=limit_arg(),
                                after=arg("after")))


# -- campaigns, candidates, windows (hr) ---------------------------------------------


#: Roles that may read a campaign's records.
STAFF = ("hr", "reviewer", "auditor")

#: The staff's reads of one record or list by its path's one argument, answered as JSON:
#: endpoint -> (path, the read).
PLAIN_READS: dict[str, tuple[str, Callable[[AbsenceService, str], JSON]]] = {
    "campaign": ("/campaigns/<campaign>", lambda s, key: s.campaign(key)),
    "candidates": ("/campaigns/<campaign>/candidates", lambda s, key: s.candidates(key)),
    "window": ("/windows/<window>", lambda s, key: s.window(key)),
    "decision": ("/decisions/<decision>", lambda s, key: s.decision(key)),
    "alerts": ("/campaigns/<campaign>/alerts", lambda s, key: s.alerts(key)),
    "statistics": ("/campaigns/<campaign>/statistics", lambda s, key: s.statistics(key)),
    "rankings": ("/campaigns/<campaign>/rankings", lambda s, key: s.rankings(key)),
    "backfills": ("/campaigns/<campaign>/backfills", lambda s, key: s.backfills(key)),
    "backfill": ("/backfills/<proposal>", lambda s, key: s.backfill_proposal(key)),
}


def _plain_read(read: Callable[[AbsenceService, str], JSON], **view_args: str) -> Response:
    (key,) = view_args.values()
    return ok(read(service(), key))


for _endpoint, (_path, _read) in PLAIN_READS.items():
    bp.add_url_rule(_path, _endpoint, roles(*STAFF)(partial(_plain_read, _read)))


@bp.get("/campaigns")
@roles("hr", "reviewer", "auditor")
def campaigns() -> Response:
    return ok(service().campaigns())


@bp.post("/campaigns")
@roles("hr")
def create_campaign() -> Response:
    return ok(service().create_campaign(caller(), body(), now()), 201)


@bp.post("/campaigns/<campaign>/candidates")
@roles("hr")
@body_limit(MAX_IMPORT_BYTES)
def import_candidates(campaign: str) -> Response:
    ctype = request.content_type or ""
    rows = service().import_candidates(caller(), campaign, request.get_data(), ctype, now())
    return ok({"imported": len(rows), "candidates": rows}, 201)


@bp.get("/candidates/<subject>/personal-data")
@roles("hr", "reviewer")
def personal_data(subject: str) -> Response:
    purpose = arg("purpose", "contact" if caller().role == "hr" else "review")
    return ok(service().personal_data(caller(), subject, purpose, now()))


@bp.post("/candidates/<subject>/erasure")
@roles("hr")
def erase(subject: str) -> Response:
    data = body()
    for key in data:
        if key != "reason":
            raise BadData(f"{key}: unknown field", field=key)
    return ok(service().erase(caller(), subject, data.get("reason", ""), now()))


@bp.post("/campaigns/<campaign>/windows")
@roles("hr")
@body_limit(MAX_IMPORT_BYTES)  # a list of subjects may be as long as a candidate file
def schedule(campaign: str) -> Response:
    made = service().schedule_windows(caller(), campaign, body(), now())
    return ok({"scheduled": len(made), "windows": made}, 201)


@bp.get("/campaigns/<campaign>/windows")
@roles("hr", "reviewer", "auditor")
def windows(campaign: str) -> Response:
    return ok(service().windows(campaign, undecided_only=flag_arg("undecided"),
                                limit=limit_arg(), after=arg("after")))


@bp.post("/windows/<window>/accommodations")
@roles("hr")
def accommodation(window: str) -> Response:
    return ok(service().grant_accommodation(caller(), window, body(), now()), 201)


@bp.post("/campaigns/<campaign>/backup-slots")
@roles("hr")
def reserve_backup_slot(campaign: str) -> Response:
    """Reserve a backup time slot (备用面试时间段) of the campaign."""
    return ok(service().reserve_backup_slot(caller(), campaign, body(), now()), 201)


@bp.post("/campaigns/<campaign>/backup-slots/<slot>/withdrawal")
@roles("hr")
def withdraw_backup_slot(campaign: str, slot: str) -> Response:
    """Withdraw a backup slot no window was scheduled into."""
    return ok(service().withdraw_backup_slot(caller(), campaign, slot, now()))


@bp.get("/campaigns/<campaign>/backup-slots")
@roles("hr", "reviewer", "auditor")
def backup_slots(campaign: str) -> Response:
    """The campaign's backup slots with their seats (``usable=1``: those with a free
    seat that have not ended)."""
    usable = now() if flag_arg("usable") else None
    return ok(service().backup_slots(campaign, usable_at=usable))


@bp.get("/campaigns/<campaign>/quarantine")
@roles("hr", "reviewer", "auditor")
def quarantine(campaign: str) -> Response:
    return ok(service().quarantined(campaign, limit=limit_arg(500)))


@bp.get("/quarantine")
@roles("hr", "reviewer", "auditor")
def quarantine_all() -> Response:
    return ok(service().quarantined(None, limit=limit_arg(500)))


@bp.get("/campaigns/<campaign>/notifications")
@roles("hr", "auditor")
def notifications(campaign: str) -> Response:
    return ok(service().notifications(campaign, limit=limit_arg()))


# -- decisions, reviews, appeals, alerts --------------------------------------------


@bp.get("/campaigns/<campaign>/decisions")
@roles("hr", "reviewer", "auditor")
def decisions(campaign: str) -> Response:
    return ok(service().decisions(campaign, outcome=request.args.get("outcome"),
                                  pending_review=flag_arg("pending_review"),
                                  limit=limit_arg(), after=arg("after")))


@bp.get("/campaigns/<campaign>/reviews")
@roles("reviewer")
def review_queue(campaign: str) -> Response:
    return ok(service().decisions(campaign, pending_review=True, limit=limit_arg()))


@bp.post("/decisions/<decision>/review")
@roles("reviewer")
def review(decision: str) -> Response:
    return ok(service().review(caller(), decision, body(), now()))


@bp.post("/campaigns/<campaign>/rankings")
@roles("hr")
@body_limit(MAX_IMPORT_BYTES)
def import_ranking(campaign: str) -> Response:
    """递补: a post's ranked list (CSV or .xlsx); the post, pass line, interview places
    and interview day in the query."""
    params = {k: request.args[k] for k in ("post", "pass_line", "places", "interview_day")
              if k in request.args}
    return ok(service().import_ranking(caller(), campaign, request.get_data(),
                                       request.content_type or "", params, now()), 201)


@bp.post("/campaigns/<campaign>/vacancies")
@roles("hr")
def record_vacancy(campaign: str) -> Response:
    """递补: a written withdrawal or a disqualification, answered at once."""
    return ok(service().record_vacancy(caller(), campaign, body(), now()), 201)


@bp.post("/backfills/<proposal>/approval")
@roles("reviewer")
def approve_backfill(proposal: str) -> Response:
    return ok(service().approve_backfill(caller(), proposal, body(), now()))


@bp.post("/backfills/<proposal>/decline")
@roles("reviewer")
def decline_backfill(proposal: str) -> Response:
    return ok(service().decline_backfill(caller(), proposal, body(), now()))


@bp.post("/decisions/<decision>/rebooking")
@roles("hr")
def rebook(decision: str) -> Response:
    """Enterprise policy: a new window for a candidate offered a rebooking."""
    return ok(service().rebook(caller(), decision, body(), now()), 201)


@bp.post("/notifications/receipts")
@roles("platform")
def delivery_receipt() -> Response:
    """A delivery receipt relayed by the messaging gateway: ``{"reference", "status"}``."""
    data = body()
    for key in data:
        if key not in ("reference", "status"):
            raise BadData(f"{key}: unknown field", field=key)
    reference = data.get("reference")
    if not isinstance(reference, str):
        raise BadData("reference: the notification id we sent", field="reference")
    recorded = service().record_delivery(reference, data.get("status", ""), now())
    return ok({"reference": reference, "recorded": recorded}, 201 if recorded else 200)


@bp.get("/campaigns/<campaign>/appeals")
@roles("reviewer", "hr", "auditor")
def appeals(campaign: str) -> Response:
    return ok(service().appeals(campaign, open_only=flag_arg("open")))


@bp.get("/appeals/<appeal>")
@roles("reviewer")
def appeal(appeal: str) -> Response:
    return ok(service().appeal(caller(), appeal, now()))


@bp.post("/appeals/<appeal>/ruling")
@roles("reviewer")
def rule_appeal(appeal: str) -> Response:
    return ok(service().rule_appeal(caller(), appeal, body(), now()))


@bp.post("/alerts/<path:alert>/resolution")
@roles("reviewer")
def resolve_alert(alert: str) -> Response:
    return ok(service().resolve_alert(caller(), alert, body(), now()))


@bp.get("/access-log")
@roles("auditor")
def access_log() -> Response:
    subject = request.args.get("subject")
    return ok(service().access_log(subject, limit=limit_arg()))


# -- candidates themselves (public, rate-limited) -------------------------------------


@bp.post("/campaigns/<campaign>/status")
@body_limit(PUBLIC_LOOKUP_BYTES)
def candidate_status(campaign: str) -> Response:
    """A candidate's own status; registration and factor travel in the body, not the URL."""
    public_limited()
    data = body()
    lookup_limited(campaign, data.get("registration"))
    return ok(service().status(campaign, data.get("registration"), data.get("factor")))


@bp.post("/campaigns/<campaign>/appeals")
@body_limit(APPEAL_JSON_BYTES)
def file_appeal(campaign: str) -> Response:
    """A candidate's appeal; ``attachments``, if any, is a list of up to 3 files, each
    as a string of standard base64 (RFC 4648 §4, padded)."""
    public_limited()
    data = body()
    lookup_limited(campaign, data.get("registration"))
    files = decoded_attachments(data.pop("attachments", []))
    return ok(service().file_appeal(campaign, data, now(), attachments=files), 201)


def decoded_attachments(value: Any) -> list[bytes]:
    """The bytes of a JSON appeal's ``attachments`` (a list of base64 strings).

    Raises:
        BadData: not a list of at most ``MAX_ATTACHMENTS`` strings of standard base64
            (field ``attachments``; the message names the item, 1-based).
    """
    if not isinstance(value, list):
        raise BadData("attachments: expected a list of base64 strings", field="attachments")
    if len(value) > MAX_ATTACHMENTS:
        raise AttachmentRefused(MAX_ATTACHMENTS + 1, "too_many",
                                f"at most {MAX_ATTACHMENTS} files")
    out = []
    for position, item in enumerate(value, start=1):
        try:
            if not isinstance(item, str):
                raise ValueError(item)
            out.append(base64.b64decode(item, validate=True))
        except (ValueError, binascii.Error):
            raise BadData(f"attachments[{position}]: not a string of standard base64",
                          field="attachments") from None
    return out
