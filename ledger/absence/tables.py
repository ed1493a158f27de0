"""Tables of the absence domain (SQLAlchemy definitions only: no behaviour).

``PROJECTIONS``: the tables the app reads, derived from ledger entries only (written by
``ledger.absence.projection.apply``).  ``OPERATIONAL``: state not derived from the
ledger: the vault (personal data, which the ledger must not hold), published notice
bytes, webhook receipts and report jobs.  The migrations (``ledger.migrations``) create
them; a new table here needs a new revision there.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

PROJECTIONS = MetaData()
OPERATIONAL = MetaData()

policies = Table(
    "p_policies", PROJECTIONS,
    Column("digest", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("adopted_index", Integer, nullable=False),
)
campaigns = Table(
    "p_campaigns", PROJECTIONS,
    Column("campaign", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("policy", String(128), nullable=False),
    Column("policy_digest", String(64), nullable=False),
    Column("created_index", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
)
campaign_notice_settings = Table(
    # A campaign's notice settings set after it opened: the latest
    # ``campaign.notice_settings`` entry's ``notice_...`` fields (JSON, sorted keys);
    # they override its policy's field by field (``ledger.absence.notice_settings``).
    "p_campaign_notice_settings", PROJECTIONS,
    Column("campaign", String(128), primary_key=True),
    Column("settings", Text, nullable=False),
    Column("idx", Integer, nullable=False),
)
posts = Table(
    "p_posts", PROJECTIONS,
    Column("campaign", String(128), primary_key=True),
    Column("post", String(128), primary_key=True),
    Column("title", Text, nullable=False),
)
subjects = Table(
    "p_subjects", PROJECTIONS,
    Column("subject", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("post", String(128), nullable=False),
    Column("registration", String(32), nullable=False),
    # The registration number's lookup key (``imports.registration_key``: lower case),
    # so that either spelling finds the candidate by index.  Not unique: a ledger written
    # before registrations were case-insensitive may hold two spellings of one number,
    # and a replay must not fail on it (the import refuses new ones).
    Column("registration_key", String(32), nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("contact", String(32), nullable=False),
    Column("registered_index", Integer, nullable=False),
    Column("misses", Integer, nullable=False, default=0),
    Column("locked", Integer, nullable=False, default=0),
    Column("erased", Integer, nullable=False, default=0),
    UniqueConstraint("campaign", "registration", name="uq_subject_registration"),
    Index("ix_subjects_registration_key", "campaign", "registration_key"),
)
windows = Table(
    "p_windows", PROJECTIONS,
    Column("window", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("slot", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("opens_at", String(32), nullable=False),
    Column("closes_at", String(32), nullable=False),
    Column("scheduled_closes_at", String(32), nullable=False),
    Column("accommodation", String(32)),
    Column("origin_decision", String(128)),
    Column("decision", String(128)),  # the current decision, once decided
    Column("scheduled_index", Integer, nullable=False),
    # The sweep: undecided windows of a campaign past a cutoff, in (closes_at, window)
    # order, a batch at a time; this order needs no sort, however many are waiting.
    Index("ix_windows_sweep", "campaign", "decision", "closes_at", "window"),
    Index("ix_windows_subject", "subject"),
    Index("ix_windows_campaign", "campaign"),
)
platform_events = Table(
    "p_platform_events", PROJECTIONS,
    Column("idx", Integer, primary_key=True),
    Column("window", String(128), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", String(32), nullable=False),
    Column("detail", String(128)),
    Column("webhook_id", String(128)),
    Index("ix_platform_window", "window"),
)
quarantine = Table(
    "p_quarantine", PROJECTIONS,
    Column("idx", Integer, primary_key=True),
    Column("event_id", String(128), nullable=False),
    Column("window", String(128), nullable=False),
    Column("campaign", String(128)),  # when the window is known
    Column("kind", String(32), nullable=False),
    Column("at", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("webhook_id", String(128), nullable=False),
    Column("received_at", String(32), nullable=False),
)
decisions = Table(
    "p_decisions", PROJECTIONS,
    Column("decision", String(128), primary_key=True),
    Column("window", String(128), nullable=False),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("cause", String(32)),
    Column("reason", String(40), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("policy_digest", String(64), nullable=False),
    Column("explanation_sha256", String(64), nullable=False),
    Column("basis", String(16), nullable=False),
    Column("rebook_until", String(32)),
    Column("supersedes", String(128)),
    Column("superseded_by", String(128)),
    Column("review", String(32)),  # pending / confirmed / makeup_granted
    Column("review_reason", Text),  # the reviewer's stated reason (decision.reviewed)
    # A rebooking offer's fate: None (open, or none made), "taken" or "lapsed".
    Column("offer", String(16)),
    Column("decided_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
    Index("ix_decisions_campaign", "campaign"),
    Index("ix_decisions_window", "window"),
    Index("ix_decisions_subject", "subject"),
)
appeals = Table(
    "p_appeals", PROJECTIONS,
    Column("appeal", String(128), primary_key=True),
    Column("decision", String(128), nullable=False),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("ground", String(32), nullable=False),
    # What the ledger holds of the statement: the keyed digest (``statement_hmac``) of
    # appeals filed now, the plain SHA-256 of those filed before (exactly one is set).
    Column("statement_sha256", String(64)),
    Column("statement_hmac", String(64)),
    Column("filed_at", String(32), nullable=False),
    Column("ruling", String(16)),
    Column("ruled_at", String(32)),
    Column("ruled_by", String(128)),
    Column("ruling_reason", Text),
    Column("makeup_window", String(128)),
    Column("idx", Integer, nullable=False),
    Index("ix_appeals_subject", "subject"),
)
notifications = Table(
    "p_notifications", PROJECTIONS,
    Column("notification", String(128), primary_key=True),
    Column("subject", String(32), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("template", String(32), nullable=False),
    Column("window", String(128)),
    Column("decision", String(128)),
    Column("appeal", String(128)),
    Column("due_by", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # pending / sent / failed / delivered
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32)),
    Column("last_error", String(40)),
    Column("last_idx", Integer),  # the latest sent / failed / delivered entry
    Column("queued_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_notifications_window", "window"),
)
alerts = Table(
    "p_alerts", PROJECTIONS,
    Column("alert", String(200), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("count", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("slot_start", String(32)),
    Column("windows", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("action", String(16)),
    Column("makeups", Integer),
    Column("raised_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)
access_log = Table(
    "p_access_log", PROJECTIONS,
    Column("idx", Integer, primary_key=True),
    Column("subject", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("fields", String(128), nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_access_subject", "subject"),
)
tokens = Table(
    "p_tokens", PROJECTIONS,
    Column("token", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("label", String(128)),
    Column("created_at", String(32), nullable=False),
    Column("revoked", Integer, nullable=False),
)

backup_slots = Table(
    # Backup time slots (备用面试时间段, ``slot.reserved``).  The seats used are the
    # windows whose ``slot`` is the backup slot's id (``ledger.absence.slots``).
    "p_backup_slots", PROJECTIONS,
    Column("campaign", String(128), primary_key=True),
    Column("slot", String(128), primary_key=True),
    Column("opens_at", String(32), nullable=False),
    Column("closes_at", String(32), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("reserved_by", String(128), nullable=False),
    Column("reserved_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)
notices = Table(
    "p_notices", PROJECTIONS,
    Column("notice", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("checkpoint_size", Integer, nullable=False),
    Column("period_start", String(32), nullable=False),
    Column("period_end", String(32), nullable=False),
    Column("supersedes", String(128)),
    Column("superseded_by", String(128)),
    Column("published_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
    # The English page's SHA-256 (NULL: published as one bilingual page, before 0009).
    Column("sha256_en", String(64)),
    Index("ix_notices_idx", "idx"),
)
activity = Table(
    # Who did what (issue 13): one row per entry and per thing it touched, ``target``
    # "c:<campaign>" or "d:<decision>"; the key is the index the activity pages page by.
    # ``why`` is the code or public text the entry carries as its reason, if any.
    "p_activity", PROJECTIONS,
    Column("target", String(140), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", String(32), nullable=False),
    Column("why", String(200)),
)
reports = Table(
    "p_reports", PROJECTIONS,
    Column("report", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("decisions", Integer, nullable=False),
    Column("checkpoint_size", Integer, nullable=False),
    Column("generated_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)

# -- 递补: rankings, vacancies and the proposals filling them (``ledger.absence.backfill``)

rankings = Table(
    "p_rankings", PROJECTIONS,
    Column("ranking", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("post", String(128), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("ranked", Integer, nullable=False),
    Column("qualified", Integer, nullable=False),
    Column("places", Integer, nullable=False),
    Column("interview_day", String(10), nullable=False),
    Column("ties", String(16), nullable=False),
    Column("imported_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
    UniqueConstraint("campaign", "post", name="uq_ranking_post"),
)
ranked = Table(
    "p_ranked", PROJECTIONS,
    Column("ranking", String(128), primary_key=True),
    Column("subject", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("post", String(128), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("idx", Integer, nullable=False),
    Index("ix_ranked_subject", "subject"),
)
vacancies = Table(
    "p_vacancies", PROJECTIONS,
    Column("vacancy", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)
backfills = Table(
    # One row per answer to a vacancy: a proposal (proposed, approved, declined) or an
    # explicit "not filled" (status unfilled, reason the code).
    "p_backfills", PROJECTIONS,
    Column("item", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("post", String(128), nullable=False),
    Column("vacancy", String(128), nullable=False),
    Column("vacated", String(32), nullable=False),
    Column("subject", String(32)),
    Column("rank", Integer),
    Column("round", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("window", String(128)),
    Column("at", String(32), nullable=False),
    Column("decided_at", String(32)),
    Column("decided_by", String(128)),
    Column("idx", Integer, nullable=False),
    Index("ix_backfills_vacancy", "vacancy"),
    Index("ix_backfills_campaign", "campaign", "idx"),
)

backfill_lists = Table(
    # 递补名单 notices (``backfill.list_published``); their bytes are in notice_documents.
    "p_backfill_lists", PROJECTIONS,
    Column("notice", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("period_start", String(32), nullable=False),
    Column("period_end", String(32), nullable=False),
    Column("published_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)

objections = Table(
    # Objections (异议) to a notice during its period: what ``objection.*`` entries say.
    # ``state``: filed, acknowledged, deferred (暂缓, a final ruling follows) or ruled.
    "p_objections", PROJECTIONS,
    Column("objection", String(128), primary_key=True),
    Column("notice", String(128), nullable=False),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32)),  # the candidate concerned, when named
    Column("line", Integer),  # or the notice line (1-based)
    Column("channel", String(8), nullable=False),
    Column("ground", String(32), nullable=False),
    Column("statement_hmac", String(64), nullable=False),
    Column("objector_sha256", String(64), nullable=False),
    Column("lookup_sha256", String(64), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("filed_by", String(128), nullable=False),
    Column("ack_by", String(32), nullable=False),
    Column("reply_by", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("acknowledged_at", String(32)),
    Column("invited_at", String(32)),
    Column("respond_by", String(32)),
    Column("statement_at", String(32)),
    Column("statement_hmac_candidate", String(64)),
    Column("ruling", String(16)),
    Column("ruled_at", String(32)),
    Column("ruled_by", String(128)),
    Column("ruling_reason", Text),
    Column("objector_erased", Integer, nullable=False),
    Column("idx", Integer, nullable=False),
    Index("ix_objections_campaign", "campaign", "idx"),
    Index("ix_objections_notice", "notice"),
)

# -- operational state (not derived from the ledger) --------------------------------

notice_documents = Table(
    # The published HTML, byte for byte (its SHA-256 is in the ledger).  Masked names
    # are personal data the ledger must not hold, so the bytes live here.
    "notice_documents", OPERATIONAL,
    Column("notice", String(128), primary_key=True),
    Column("html", LargeBinary, nullable=False),
)

vault_people = Table(
    "vault_people", OPERATIONAL,
    Column("subject", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("blind_index", String(64)),  # NULL once erased
    Column("wrapped_key", LargeBinary),  # NULL once erased
    Column("ciphertext", LargeBinary),  # NULL once erased
    UniqueConstraint("campaign", "blind_index", name="uq_vault_person"),
)
vault_documents = Table(
    "vault_documents", OPERATIONAL,
    Column("document", String(128), primary_key=True),  # e.g. an appeal id
    Column("subject", String(32), nullable=False),
    Column("ciphertext", LargeBinary),  # NULL once the subject is erased
)
#: Appeal attachments, sealed like the statement (``ledger.absence.appeals``): kind, size
#: and the keyed digest ``appeal.filed`` lists; no file name.  Operational, like
#: vault_documents: the bytes are not in the ledger, so a rebuild keeps this table.
appeal_attachments = Table(
    "appeal_attachments", OPERATIONAL,
    Column("attachment", String(160), primary_key=True),  # <appeal>.<position>
    Column("appeal", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("position", Integer, nullable=False),  # 1-based, as listed in the entry
    Column("kind", String(8), nullable=False),  # jpeg / png / pdf
    Column("size", Integer, nullable=False),  # bytes of the plaintext
    Column("hmac", String(64), nullable=False),
    Column("ciphertext", LargeBinary),  # NULL once the subject is erased
    Index("ix_appeal_attachments_appeal", "appeal"),
    Index("ix_appeal_attachments_subject", "subject"),
)
vault_objectors = Table(
    # An objector's real name, contact and statement: sealed under a data key of its
    # own (wrapped by the master key), the objection id as associated data.  Objectors
    # are not subjects; erasing one drops the key and the ciphertext (NULL).
    "vault_objectors", OPERATIONAL,
    Column("objection", String(128), primary_key=True),
    Column("wrapped_key", LargeBinary),  # NULL once erased
    Column("ciphertext", LargeBinary),  # NULL once erased
)
objection_attachments = Table(
    # An objection's attachments: each sealed under the objection's own data key (the
    # one vault_objectors wraps), so erasing the objector destroys them; NULL once erased.
    "objection_attachments", OPERATIONAL,
    Column("attachment", String(160), primary_key=True),  # <objection>.<position>
    Column("objection", String(128), nullable=False),
    Column("position", Integer, nullable=False),  # 1-based, as listed in the entry
    Column("kind", String(8), nullable=False),  # jpeg / png / pdf
    Column("size", Integer, nullable=False),  # bytes of the plaintext
    Column("hmac", String(64), nullable=False),
    Column("ciphertext", LargeBinary),  # NULL once the objector is erased
    Index("ix_objection_attachments_objection", "objection"),
)
webhook_deliveries = Table(
    # Idempotency by webhook-id: the receipt of each delivery as first answered,
    # including events it repeated from earlier deliveries (which add no entry).
    "webhook_deliveries", OPERATIONAL,
    Column("webhook_id", String(128), primary_key=True),
    Column("receipt", Text, nullable=False),  # JSON
    Column("received_at", String(32), nullable=False),
)


#: Report jobs, one row per requested report (``ledger.absence.report_jobs``): shared by
#: every process, so one job per campaign and a bounded number in all hold across
#: workers and hosts.
report_jobs = Table(
    "report_jobs", OPERATIONAL,
    Column("job", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("state", String(16), nullable=False),  # queued, running, done, failed
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", BigInteger, nullable=False),  # unix milliseconds
    Column("started_at", BigInteger),  # unix milliseconds
    Column("ended_at", BigInteger),  # unix milliseconds
    Column("after_index", Integer, nullable=False),
    Column("report", String(128)),
    Column("error", Text),
    Index("ix_report_jobs_state", "state"),
    Index("ix_report_jobs_campaign", "campaign", "requested_at"),
)
