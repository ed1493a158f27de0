"""The ledger entry types of the absence domain, each with a closed body schema.

Bodies carry pseudonyms (``sub_...``), public registration numbers, identifiers, codes,
times and counts; never a name, ID number, phone or e-mail.  Public titles (campaign,
post) may be Chinese, so they are checked for ID numbers, mobile numbers and e-mail
addresses but not for Han characters.  Lists (evidence, affected windows) are
comma-separated text, keeping bodies flat.
"""

from __future__ import annotations

from typing import Any

from ledger.absence.attachments import LEDGER_FIELD as ATTACHMENTS_FIELD
from ledger.absence.notice_settings import (
    ROSTERS,
    field_list,
    office_email,
    office_phone,
    office_text,
)
from ledger.errors import BadData
from ledger.events import (
    PII_PATTERNS,
    PLATFORM_KINDS,
    EventType,
    SelfScanned,
    Validator,
    count,
    identifier,
    one_of,
    pattern,
    pseudonym,
    timestamp,
    webhook_id,
)

_HAN_FREE_PII = tuple((what, p) for what, p in PII_PATTERNS if not what.startswith("Han"))


def _public_text(value: Any, path: str) -> None:
    """A public title: 1..200 printable characters, no ID number, mobile or e-mail."""
    if not isinstance(value, str) or not 0 < len(value) <= 200 or not value.isprintable():
        raise BadData(f"{path}: must be 1..200 printable characters", field=path)
    for what, regex in _HAN_FREE_PII:
        if regex.search(value):
            raise BadData(f"{path}: looks like {what}; public titles take no personal data",
                          field=path)


#: A public title (scans itself: Han characters are allowed, other personal data not).
public_text = SelfScanned(_public_text)
# A digest is random: about one in 300 holds eleven digits that read like a mobile
# number.  It cannot hold personal data (its validator admits only 64 hex digits), so
# it is exempt from the scan.
hex64 = SelfScanned(pattern(r"[0-9a-f]{64}", "a lowercase hex SHA-256"))
# Kinds and keyed digests of appeal attachments: like hex64, exempt from the scan (only
# three codes and hex digits pass its validator).
attachment_list = SelfScanned(pattern(
    ATTACHMENTS_FIELD.pattern, "comma-separated kind:HMAC-SHA-256 items (kind jpeg, png or pdf)"))
registration = pattern(r"[A-Za-z0-9][A-Za-z0-9-]{3,31}", "a registration number")
index_list = pattern(r"([0-9]{1,16}(,[0-9]{1,16}){0,199})?", "comma-separated ledger indexes")
id_list = pattern(r"([A-Za-z0-9][A-Za-z0-9._:-]{0,127}(,[A-Za-z0-9][A-Za-z0-9._:-]{0,127})*)?",
                   "comma-separated identifiers")
code = pattern(r"[a-z][a-z0-9_]{0,39}", "a code (a-z 0-9 _)")
code_list = pattern(r"([a-z][a-z0-9_]{0,39}(,[a-z][a-z0-9_]{0,39})*)?", "comma-separated codes")
codes = pattern(r"[a-z][a-z0-9_]{0,39}(,[a-z][a-z0-9_]{0,39})*", "comma-separated codes")
tz_name = pattern(r"[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}", "an IANA time zone name")
iso_date = pattern(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "a date YYYY-MM-DD")

ROLES = ("platform", "hr", "reviewer", "auditor")
CAUSES = ("technical", "compatibility", "notification_failed", "withdrawn", "no_show")
# "makeup_granted" only supersedes an earlier ruling (an appeal overturned it).
OUTCOMES = ("attended", "forfeited", "rebook_offered", "makeup_pending_review", "locked",
            "makeup_granted")

#: The notice settings' ledger validators (``policy.adopted`` and
#: ``campaign.notice_settings`` take the same fields).
NOTICE_SETTING_FIELDS: dict[str, Validator] = {
    "notice_issuing_office": office_text, "notice_supervision_phone": office_phone,
    "notice_objection_address": office_text, "notice_objection_email": office_email,
    "notice_roster": one_of(*ROSTERS), "notice_fields": field_list}
POLICY_ADOPTED = EventType(
    "policy.adopted", "A decision policy came into force; decisions name it by digest.",
    {"policy": identifier, "digest": hex64, "mode": one_of("government", "enterprise"),
     "grace_s": count, "notify_within_s": count, "rebook_within_s": count,
     "lock_after": count, "makeup_causes": code_list, "appeal_period_s": count},
    # 递补 settings: optional, and left out when unset, so that a policy setting none
    # keeps the digest it had before they existed.  Flags are 0/1.
    {"backfill": count, "backfill_cutoff": iso_date, "backfill_cutoff_days": count,
     "backfill_day_of_no_show": count, "backfill_withdrawal_days": count,
     "backfill_rounds": count,
     "backfill_ties": one_of("file_order", "written_score", "registration"),
     # Objection deadlines (working days), optional and left out when unset likewise.
     "objection_ack_days": count, "objection_reply_days": count,
     "objection_statement_days": count,
     # What its notices say (ledger.absence.notice_settings): only the ones set.
     **NOTICE_SETTING_FIELDS},
)
CAMPAIGN_CREATED = EventType(
    "campaign.created", "HR opened a recruitment campaign (招聘批次).",
    {"campaign": identifier, "title": public_text, "timezone": tz_name,
     "policy": identifier, "policy_digest": hex64},
)
CAMPAIGN_NOTICE_SETTINGS = EventType(
    "campaign.notice_settings",
    "HR set a campaign's notice settings after it opened: the fields given override its "
    "policy's, and the latest such entry replaces the earlier ones "
    "(ledger.absence.notice_settings).",
    {"campaign": identifier}, NOTICE_SETTING_FIELDS,
)
POST_ADDED = EventType(
    "campaign.post_added", "A post (岗位) candidates apply for in a campaign.",
    {"campaign": identifier, "post": identifier, "title": public_text},
)
SUBJECT_REGISTERED = EventType(
    "subject.registered",
    "A candidate joined a campaign: pseudonym, public registration number and a salted "
    "commitment to the details kept in the vault.",
    {"subject": pseudonym, "campaign": identifier, "post": identifier,
     "registration": registration, "commitment": hex64, "contact": codes},
)
SUBJECT_ERASED = EventType(
    "subject.erased", "The candidate's vault key was destroyed; the details are gone.",
    {"subject": pseudonym, "reason": one_of("retention_expired", "request")},
)
WINDOW_SCHEDULED = EventType(
    "window.scheduled", "An interview window for one candidate.",
    {"window": identifier, "campaign": identifier, "subject": pseudonym,
     "opens_at": timestamp, "closes_at": timestamp, "slot": identifier,
     "kind": one_of("regular", "makeup", "rebook")},
    {"origin_decision": identifier},
)
ACCOMMODATION_REASONS = ("poor_signal", "special_needs", "low_digital_literacy", "other")
ACCOMMODATION_GRANTED = EventType(
    "accommodation.granted", "HR changed a window before its close (合理关怀).",
    {"window": identifier, "kind": one_of("extended", "alternate_slot"),
     "opens_at": timestamp, "closes_at": timestamp,
     "reason": one_of(*ACCOMMODATION_REASONS)},
    # An alternate slot taken from a reserved backup slot names it (the window moves
    # into that slot); entries written before, and typed times, carry none.
    {"slot": identifier},
)
SLOT_RESERVED = EventType(
    "slot.reserved", "HR reserved a backup time slot (备用面试时间段) of a campaign: "
    "make-up, rebooking and alternate-slot windows may be scheduled into it, up to its "
    "capacity.",
    {"campaign": identifier, "slot": identifier, "opens_at": timestamp,
     "closes_at": timestamp, "capacity": count},
)
SLOT_WITHDRAWN = EventType(
    "slot.withdrawn", "HR withdrew a backup time slot no window was scheduled into (its id "
    "may be reserved again).",
    {"campaign": identifier, "slot": identifier},
)
PLATFORM_QUARANTINED = EventType(
    "platform.quarantined",
    "A platform event that cannot count (unknown window, outside it, already decided): "
    "kept for HR to see, never silently dropped.",
    {"event_id": identifier, "window": identifier, "kind": one_of(*PLATFORM_KINDS),
     "at": timestamp, "webhook_id": webhook_id,
     "reason": one_of("unknown_window", "before_open", "after_close", "subject_mismatch",
                      "window_decided", "subject_erased")},
    {"subject": pseudonym, "detail": code},
)
DECISION_MADE = EventType(
    "decision.made", "The ruling on one window: outcome, cause, evidence, policy.",
    {"decision": identifier, "window": identifier, "campaign": identifier,
     "subject": pseudonym, "outcome": one_of(*OUTCOMES), "evidence": index_list,
     "policy_digest": hex64, "reason": code, "explanation_sha256": hex64,
     "basis": one_of("sweep", "review", "appeal", "alert")},
    {"cause": one_of(*CAUSES), "rebook_until": timestamp, "supersedes": identifier},
)
DECISION_REVIEWED = EventType(
    "decision.reviewed", "A reviewer confirmed a pending case or granted a make-up.",
    {"decision": identifier, "ruling": one_of("confirmed", "makeup_granted")},
    {"makeup_window": identifier, "alert": identifier, "reason": public_text},
)
APPEAL_FILED = EventType(
    "appeal.filed", "A candidate appealed a decision (申诉).  The statement is sealed in "
    "the vault; the entry carries its HMAC-SHA-256 under a key derived from the master "
    "key (``statement_hmac``), so no one can confirm a guessed statement from the "
    "ledger.  Entries written before carry its plain SHA-256 (``statement_sha256``).  "
    "Attachments (at most 3 JPEG, PNG or PDF files) are sealed likewise; "
    "``attachments`` lists each one's kind and HMAC-SHA-256 (``png:<hex>,...``), never "
    "a file name or content.",
    {"appeal": identifier, "decision": identifier, "subject": pseudonym,
     "ground": one_of("technical", "notification", "personal", "other")},
    {"statement_hmac": hex64, "statement_sha256": hex64, "attachments": attachment_list},
    exactly_one=(("statement_hmac", "statement_sha256"),),
)
APPEAL_RULED = EventType(
    "appeal.ruled", "A reviewer ruled on an appeal; an overturn supersedes the decision.",
    {"appeal": identifier, "ruling": one_of("upheld", "overturned")},
    {"makeup_window": identifier, "reason": public_text},
)
NOTIFICATION_QUEUED = EventType(
    "notification.queued", "A message to a candidate entered the outbox.",
    {"notification": identifier, "subject": pseudonym, "channel": one_of("email", "sms"),
     "template": one_of("invitation", "decision", "makeup", "appeal_ruling",
                        "objection_statement"),
     "due_by": timestamp},
    {"window": identifier, "decision": identifier, "appeal": identifier,
     "objection": identifier},
)
NOTIFICATION_SENT = EventType(
    "notification.sent", "A channel accepted a message.",
    {"notification": identifier, "attempt": count, "provider_ref_sha256": hex64},
)
NOTIFICATION_FAILED = EventType(
    "notification.failed", "A send attempt failed; ``final`` 1 means no more retries.",
    {"notification": identifier, "attempt": count, "error": code, "final": count},
    {"retry_at": timestamp},
)
NOTIFICATION_DELIVERED = EventType(
    "notification.delivered", "The gateway's delivery receipt for a sent message.",
    {"notification": identifier, "status": one_of("delivered", "undeliverable")},
)
ALERT_RAISED = EventType(
    "alert.raised", "An anomaly (异常预警): outage, notification failures, absence rate.",
    {"alert": identifier, "campaign": identifier,
     "kind": one_of("platform_outage", "notification_failures", "absence_rate",
                    "objection_overdue"),
     "count": count, "total": count, "threshold": count, "windows": id_list},
    {"slot_start": timestamp, "objection": identifier,
     "stage": one_of("acknowledge", "reply")},
)
ALERT_RESOLVED = EventType(
    "alert.resolved", "HR acted on an alert: a mass make-up, or dismissed it.",
    {"alert": identifier, "action": one_of("mass_makeup", "dismissed"), "makeups": count},
)
PERSONAL_DATA_VIEWED = EventType(
    "pii.viewed", "Someone read a candidate's personal data (``subject``) or an "
    "objector's (``objection``): who (the actor), whose, why.",
    {"purpose": one_of("review", "appeal", "contact", "audit", "objection"),
     "fields": codes},
    {"subject": pseudonym, "objection": identifier},
    exactly_one=(("subject", "objection"),),
)
REBOOK_LAPSED = EventType(
    "rebook.lapsed", "An enterprise rebooking offer ended unused: the candidate booked no new "
    "window before rebook_until (the sweep records it once).",
    {"decision": identifier, "window": identifier, "rebook_until": timestamp},
)
AUDIT_PERFORMED = EventType(
    "audit.performed", "An auditor verified or exported a log from the console: who (the "
    "actor), which log, up to which size, and the outcome.",
    {"action": one_of("verify", "export"), "log": identifier, "size": count,
     "result": one_of("started", "ok", "failed")},
    {"bad_index": count},
)
TOKEN_CREATED = EventType(
    "token.created", "An API bearer token for one role; only its SHA-256 is kept.",
    {"token": identifier, "role": one_of(*ROLES), "secret_sha256": hex64},
    {"label": identifier},
)
TOKEN_REVOKED = EventType(
    "token.revoked", "An API token stops working.", {"token": identifier},
)

# -- 递补: rankings, vacancies and filling them ----------------------------------------

#: Why a vacancy is not filled (``backfill.unfilled``): every vacancy gets an answer.
UNFILLED_REASONS = ("cutoff_passed", "no_eligible", "not_applicable",
                    "day_of_no_show_excluded", "withdrawal_too_late", "rounds_exhausted")
VACANCY_KINDS = ("absence", "withdrawn_in_writing", "disqualified")

RANKING_IMPORTED = EventType(
    "ranking.imported",
    "HR imported a post's ranked list (笔试/综合成绩).  The scores are personal data, "
    "sealed in the vault per candidate; the entry commits to the whole list by an "
    "HMAC-SHA-256 under a key derived from the master key (``digest``) and counts: "
    "candidates ranked, those at or above the pass line, interview places.  One "
    "``ranking.ranked`` per candidate follows, in rank order.",
    {"ranking": identifier, "campaign": identifier, "post": identifier, "digest": hex64,
     "ranked": count, "qualified": count, "places": count, "interview_day": iso_date,
     "ties": one_of("file_order", "written_score", "registration")},
)
RANKING_RANKED = EventType(
    "ranking.ranked", "One candidate's place in an imported ranking (1 is first; ties "
    "already broken as the policy says) and whether they reached the pass line.",
    {"ranking": identifier, "subject": pseudonym, "rank": count,
     "passed": one_of("yes", "no")},
)
VACANCY_RECORDED = EventType(
    "vacancy.recorded", "HR recorded that a candidate left the process other than by a "
    "missed window: a written withdrawal (at ``at``) or a disqualification; a "
    "disqualification by an objection ruled 取消 (``cancelled``) names the objection and "
    "is recorded with its ruling.",
    {"vacancy": identifier, "campaign": identifier, "subject": pseudonym,
     "kind": one_of("withdrawn_in_writing", "disqualified"), "at": timestamp},
    {"objection": identifier},
)
BACKFILL_PROPOSED = EventType(
    "backfill.proposed", "The system proposes the next eligible candidate of the post "
    "for a vacancy (递补), one for one, in rank order; a reviewer approves or declines.",
    {"proposal": identifier, "campaign": identifier, "post": identifier,
     "vacancy": identifier, "vacated": pseudonym, "subject": pseudonym, "rank": count,
     "round": count},
)
BACKFILL_APPROVED = EventType(
    "backfill.approved", "A reviewer approved a proposal: the candidate is invited "
    "(``window``).",
    {"proposal": identifier, "window": identifier},
    {"reason": public_text},
)
BACKFILL_DECLINED = EventType(
    "backfill.declined", "A reviewer declined a proposal, with a reason.",
    {"proposal": identifier, "reason": public_text},
)
BACKFILL_UNFILLED = EventType(
    "backfill.unfilled", "A vacancy (or its next round) is not filled, and why.",
    {"campaign": identifier, "post": identifier, "vacancy": identifier,
     "vacated": pseudonym, "reason": one_of(*UNFILLED_REASONS), "round": count},
)

BACKFILL_LIST_PUBLISHED = EventType(
    "backfill.list_published",
    "The 递补名单 as its own public notice (公示): the SHA-256 of its exact HTML bytes, its "
    "lines (approved proposals) and its notice period (working days).",
    {"notice": identifier, "campaign": identifier, "sha256": hex64, "lines": count,
     "period_start": timestamp, "period_end": timestamp},
)

# -- publicity: what the public and the archive were given ----------------------------

NOTICE_PUBLISHED = EventType(
    "notice.published",
    "A public result notice (公示): the SHA-256 of its exact HTML bytes (the Chinese "
    "page; sha256_en: its English page, absent on notices published as one bilingual "
    "page), the checkpoint its lines were proven under, and its notice period (working "
    "days).",
    {"notice": identifier, "campaign": identifier, "sha256": hex64, "lines": count,
     "checkpoint_size": count, "period_start": timestamp, "period_end": timestamp},
    {"supersedes": identifier, "reason": public_text, "sha256_en": hex64},
)
REPORT_GENERATED = EventType(
    "report.generated",
    "A signed archive report (电子档案, PDF/A-3b): the SHA-256 of its bytes and the "
    "checkpoint its embedded proofs verify against.",
    {"report": identifier, "campaign": identifier, "sha256": hex64, "decisions": count,
     "checkpoint_size": count},
)

# -- objections (异议) during a notice period ---------------------------------------

OBJECTION_CHANNELS = ("web", "phone", "letter", "email")
OBJECTION_GROUNDS = ("eligibility", "qualification", "score", "conduct", "procedure", "other")
OBJECTION_RULINGS = ("upheld", "cancelled", "deferred")
OBJECTION_FILED = EventType(
    "objection.filed",
    "Someone objected to a notice during its period (异议).  The objector's real name, "
    "contact and statement are sealed outside the ledger under the objection's own key; "
    "the entry holds the digest of that sealed record (``objector_sha256``), the "
    "statement's HMAC under a key derived from the master key, the SHA-256 of the "
    "objector's lookup secret, what it concerns (a candidate or a notice line), the "
    "deadlines counted in working days of the official calendar and, if files were "
    "attached, each one's kind and HMAC-SHA-256 (``attachments``, ``png:<hex>,...``; "
    "the bytes are sealed under the objection's own key).  ``received_at``: when an "
    "objection HR enters (phone, letter, e-mail) reached the office, if before the entry; "
    "its period check and deadlines count from then.",
    {"objection": identifier, "notice": identifier, "campaign": identifier,
     "channel": one_of(*OBJECTION_CHANNELS), "ground": one_of(*OBJECTION_GROUNDS),
     "statement_hmac": hex64, "objector_sha256": hex64, "lookup_sha256": hex64,
     "ack_by": timestamp, "reply_by": timestamp},
    {"subject": pseudonym, "line": count, "attachments": attachment_list,
     "received_at": timestamp},
)
OBJECTION_ACKNOWLEDGED = EventType(
    "objection.acknowledged", "HR acknowledged an objection and started checking it.",
    {"objection": identifier},
)
OBJECTION_STATEMENT_INVITED = EventType(
    "objection.statement_invited",
    "The candidate concerned was told of the objection and invited to state their case "
    "(陈述、申辩) by ``respond_by``.",
    {"objection": identifier, "subject": pseudonym, "respond_by": timestamp},
)
OBJECTION_STATEMENT_RECEIVED = EventType(
    "objection.statement_received",
    "The candidate's statement (陈述、申辩): sealed in the vault under the candidate, "
    "its HMAC here.",
    {"objection": identifier, "channel": one_of(*OBJECTION_CHANNELS),
     "statement_hmac": hex64},
)
OBJECTION_RULED = EventType(
    "objection.ruled",
    "The answer to an objection: 维持 (``upheld``: the result stands), 取消 (``cancelled``: "
    "the candidate's result is cancelled) or 暂缓 (``deferred`` until verified; a final "
    "ruling follows).",
    {"objection": identifier, "ruling": one_of(*OBJECTION_RULINGS), "reason": public_text},
)
OBJECTOR_ERASED = EventType(
    "objection.objector_erased",
    "The objector's sealed record was destroyed (retention or request); the digest stays.",
    {"objection": identifier, "reason": one_of("retention_expired", "request")},
)

#: Every entry type of this domain, for the registry the composition root builds.
TYPES: tuple[EventType, ...] = (
    POLICY_ADOPTED, CAMPAIGN_CREATED, CAMPAIGN_NOTICE_SETTINGS, POST_ADDED,
    SUBJECT_REGISTERED, SUBJECT_ERASED, WINDOW_SCHEDULED, ACCOMMODATION_GRANTED,
    PLATFORM_QUARANTINED, DECISION_MADE, DECISION_REVIEWED, APPEAL_FILED, APPEAL_RULED,
    NOTIFICATION_QUEUED, NOTIFICATION_SENT,
    NOTIFICATION_FAILED, NOTIFICATION_DELIVERED, ALERT_RAISED, ALERT_RESOLVED,
    PERSONAL_DATA_VIEWED, REBOOK_LAPSED, AUDIT_PERFORMED, TOKEN_CREATED, TOKEN_REVOKED,
    NOTICE_PUBLISHED, REPORT_GENERATED, SLOT_RESERVED, SLOT_WITHDRAWN, RANKING_IMPORTED,
    RANKING_RANKED, VACANCY_RECORDED, BACKFILL_PROPOSED, BACKFILL_APPROVED, BACKFILL_DECLINED,
    BACKFILL_UNFILLED, BACKFILL_LIST_PUBLISHED, OBJECTION_FILED, OBJECTION_ACKNOWLEDGED,
    OBJECTION_STATEMENT_INVITED, OBJECTION_STATEMENT_RECEIVED, OBJECTION_RULED,
    OBJECTOR_ERASED,
)
