"""Objections (异议) during a notice period: p_objections (a projection of the
``objection.*`` entries) and vault_objectors (operational: each objector's sealed name,
contact and statement).

Revision ID: 0012
Revises: 0011

Frozen copies of the tables as ``ledger/absence/tables.py`` defines them in this
revision.  No entry written before has an ``objection.*`` type, so both start empty,
equal to a replay of the ledger.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

revision = "0012"
down_revision: str | None = "0011"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table(
    "p_objections", meta,
    Column("objection", String(128), primary_key=True),
    Column("notice", String(128), nullable=False),
    Column("campaign", String(128), nullable=False),
    Column("subject", String(32)),
    Column("line", Integer),
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
Table(
    "vault_objectors", meta,
    Column("objection", String(128), primary_key=True),
    Column("wrapped_key", LargeBinary),
    Column("ciphertext", LargeBinary),
)


def upgrade() -> None:
    bind = op.get_bind()
    for name in ("p_objections", "vault_objectors"):
        meta.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for name in ("vault_objectors", "p_objections"):
        meta.tables[name].drop(bind, checkfirst=True)
