"""Tables of console accounts (SQLAlchemy definitions only: no behaviour).

Operational, not projections: they hold hashes, secrets and counters the ledger must
not.  The migrations (``ledger.migrations``) create them.
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
)

ACCOUNTS = MetaData()

accounts = Table(
    "console_accounts", ACCOUNTS,
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
    "console_sessions", ACCOUNTS,
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
recovery_codes = Table(
    "console_recovery_codes", ACCOUNTS,
    # HMAC-SHA-256 (hex) of the normalised code under a key derived from the master key:
    # the codes themselves are never stored.
    Column("code_hmac", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("used_at", String(32)),  # RFC 3339 UTC; NULL: still usable
    Index("ix_console_recovery_user", "user_id"),
)
