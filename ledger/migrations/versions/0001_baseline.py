"""Baseline: the schema as ``metadata.create_all`` made it before migrations existed.

Revision ID: 0001
Revises: (none)

The tables are a frozen copy of the definitions in ``ledger/storage/schema.py``,
``ledger/absence/projection.py`` and ``ledger/accounts/store.py`` as of this revision,
not imports of them: a later change to a model is a later revision, and this one must
keep creating what it always created.

The upgrade is idempotent ("create what is missing"): it is also how a database made
by the old ``create_all`` code, perhaps by an older release that lacked an index, is
brought to exactly this baseline before it is stamped (``ledger.migrations.upgrade``).
The append-only triggers are part of the baseline, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()

logs = Table(
    "ledger_logs",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("origin", String(255), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

heads = Table(
    "ledger_heads",
    meta,
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("last_leaf", LargeBinary(32), nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

entries = Table(
    "ledger_entries",
    meta,
    Column("log_id", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("entry_type", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("idem_key", String(128), nullable=True),
    Index(
        "ux_ledger_entries_idem",
        "log_id",
        "idem_key",
        unique=True,
        sqlite_where=text("idem_key IS NOT NULL"),
        postgresql_where=text("idem_key IS NOT NULL"),
    ),
    Index("ix_ledger_entries_type", "log_id", "entry_type", "idx"),
    sqlite_with_rowid=False,
)

nodes = Table(
    "ledger_nodes",
    meta,
    Column("log_id", Integer, primary_key=True, autoincrement=False),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

keys = Table(
    "ledger_keys",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("vkey", String(400), nullable=False),
    Column("key_uri", String(400), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("log_id", "key_id"),
)

checkpoints = Table(
    "ledger_checkpoints",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_id", Integer, ForeignKey("ledger_logs.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at_ms", BigInteger, nullable=False),
    UniqueConstraint("log_id", "size", "key_id"),
    Index("ix_ledger_checkpoints_latest", "log_id", "id"),
)

policies = Table(
    "p_policies", meta,
    Column("digest", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("adopted_index", Integer, nullable=False),
)

campaigns = Table(
    "p_campaigns", meta,
    Column("campaign", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("policy", String(128), nullable=False),
    Column("policy_digest", String(64), nullable=False),
    Column("created_index", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
)

posts = Table(
    "p_posts", meta,
    Column("campaign", String(128), primary_key=True),
    Column("post", String(128), primary_key=True),
    Column("title", Text, nullable=False),
)

subjects = Table(
    "p_subjects", meta,
    Column("subject", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("post", String(128), nullable=False),
    Column("registration", String(32), nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("contact", String(32), nullable=False),
    Column("registered_index", Integer, nullable=False),
    Column("misses", Integer, nullable=False, default=0),
    Column("locked", Integer, nullable=False, default=0),
    Column("erased", Integer, nullable=False, default=0),
    UniqueConstraint("campaign", "registration", name="uq_subject_registration"),
)

windows = Table(
    "p_windows", meta,
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
    "p_platform_events", meta,
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
    "p_quarantine", meta,
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
    "p_decisions", meta,
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
    Column("decided_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
    Index("ix_decisions_campaign", "campaign"),
    Index("ix_decisions_window", "window"),
)

appeals = Table(
    "p_appeals", meta,
    Column("appeal", String(128), primary_key=True),
    Column("decision", String(128), nullable=False),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("ground", String(32), nullable=False),
    Column("statement_sha256", String(64), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("ruling", String(16)),
    Column("ruled_at", String(32)),
    Column("makeup_window", String(128)),
    Column("idx", Integer, nullable=False),
)

notifications = Table(
    "p_notifications", meta,
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
    "p_alerts", meta,
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
    "p_access_log", meta,
    Column("idx", Integer, primary_key=True),
    Column("subject", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("fields", String(128), nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_access_subject", "subject"),
)

tokens = Table(
    "p_tokens", meta,
    Column("token", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("label", String(128)),
    Column("created_at", String(32), nullable=False),
    Column("revoked", Integer, nullable=False),
)

notices = Table(
    "p_notices", meta,
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
    Index("ix_notices_idx", "idx"),
)

reports = Table(
    "p_reports", meta,
    Column("report", String(128), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("decisions", Integer, nullable=False),
    Column("checkpoint_size", Integer, nullable=False),
    Column("generated_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)

notice_documents = Table(
    # The published HTML, byte for byte (its SHA-256 is in the ledger).  Masked names
    # are personal data the ledger must not hold, so the bytes live here.
    "notice_documents", meta,
    Column("notice", String(128), primary_key=True),
    Column("html", LargeBinary, nullable=False),
)

vault_people = Table(
    "vault_people", meta,
    Column("subject", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("blind_index", String(64)),  # NULL once erased
    Column("wrapped_key", LargeBinary),  # NULL once erased
    Column("ciphertext", LargeBinary),  # NULL once erased
    UniqueConstraint("campaign", "blind_index", name="uq_vault_person"),
)

vault_documents = Table(
    "vault_documents", meta,
    Column("document", String(128), primary_key=True),  # e.g. an appeal id
    Column("subject", String(32), nullable=False),
    Column("ciphertext", LargeBinary),  # NULL once the subject is erased
)

webhook_deliveries = Table(
    # Idempotency by webhook-id: the receipt of each delivery as first answered,
    # including events it repeated from earlier deliveries (which add no entry).
    "webhook_deliveries", meta,
    Column("webhook_id", String(128), primary_key=True),
    Column("receipt", Text, nullable=False),  # JSON
    Column("received_at", String(32), nullable=False),
)

scheduler_leases = Table(
    "scheduler_leases", meta,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # unix milliseconds
)

rate_limit_hits = Table(
    "rate_limit_hits", meta,
    Column("bucket", String(32), primary_key=True),
    Column("key_hash", LargeBinary(32), primary_key=True),
    Column("window", BigInteger, primary_key=True),  # window start, unix seconds
    Column("hits", Integer, nullable=False),
)

accounts = Table(
    "console_accounts", meta,
    Column("user_id", String(32), primary_key=True),
    Column("login", String(256), nullable=False, unique=True),  # normalised, see norm_login
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("totp_sealed", LargeBinary),  # nonce || AES-GCM(secret); NULL: not enrolled
    Column("totp_last_step", BigInteger, nullable=False),  # replay guard
    Column("failures", Integer, nullable=False),  # consecutive, since the last lock
    Column("lockouts", Integer, nullable=False),  # locks since the last success
    Column("locked_until", String(32)),  # RFC 3339 UTC, as the ledger writes times
    Column("created_at", String(32), nullable=False),
)

sessions = Table(
    "console_sessions", meta,
    Column("token_sha256", String(64), primary_key=True),
    Column("session", String(32), nullable=False, unique=True),  # the ledger's reference
    Column("user_id", String(32), nullable=False),
    Column("stage", String(8), nullable=False),  # full | totp | enrol
    Column("csrf", String(64), nullable=False),
    Column("pending_sealed", LargeBinary),  # the TOTP secret being enrolled
    Column("created_at", String(32), nullable=False),
    Column("last_seen", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),  # absolute
    Index("ix_console_sessions_user", "user_id"),
)


APPEND_ONLY_TABLES = ("ledger_entries", "ledger_nodes", "ledger_checkpoints", "ledger_keys")


def create_baseline(conn: Connection) -> None:
    """Create every table, index and trigger of the baseline that is missing.

    Raises:
        NotImplementedError: the database is neither SQLite nor PostgreSQL.
    """
    meta.create_all(conn, checkfirst=True)
    # create_all adds no index to a table that exists (a database made by an older
    # release): add those the baseline has.
    for table in meta.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    install_append_only_triggers(conn)


def install_append_only_triggers(conn: Connection) -> None:
    """The triggers that reject UPDATE and DELETE (and TRUNCATE on PostgreSQL).

    Raises:
        NotImplementedError: the database is neither SQLite nor PostgreSQL.
    """
    if conn.dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for op_name in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op_name.lower()} "
                    f"BEFORE {op_name} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, '{table} is append-only: {op_name} is not allowed'); "
                    "END"
                )
    elif conn.dialect.name == "postgresql":
        # exec_driver_sql hands the text to psycopg, which reads '%' as a placeholder.
        conn.exec_driver_sql(
            """
            CREATE OR REPLACE FUNCTION absentia_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '%% is append-only: %% is not allowed', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION absentia_append_only()"
            )
            conn.exec_driver_sql(
                f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION absentia_append_only()"
            )
    else:
        raise NotImplementedError(f"no append-only triggers for {conn.dialect.name}")


def upgrade() -> None:
    create_baseline(op.get_bind())


def downgrade() -> None:
    conn = op.get_bind()
    meta.drop_all(conn)  # drops the triggers with their tables
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS absentia_append_only()")
