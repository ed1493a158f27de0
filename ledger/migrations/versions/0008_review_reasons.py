"""Reviews and rulings give reasons: p_decisions.review_reason, p_appeals.ruled_by and
p_appeals.ruling_reason; console accounts get one-time recovery codes
(console_recovery_codes, operational like console_accounts: it starts empty).

Revision ID: 0008
Revises: 0007

The columns are projections of ``decision.reviewed``/``appeal.ruled`` (their optional
``reason``, and the entry's actor): entries written before have no reason, so the
columns start empty (NULL); ``ruled_by`` of earlier rulings is filled by a rebuild.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Column, Index, MetaData, String, Table

revision = "0008"
down_revision: str | None = "0007"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


meta = MetaData()
Table(
    "console_recovery_codes", meta,
    Column("code_hmac", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("used_at", String(32)),
    Index("ix_console_recovery_user", "user_id"),
)


def upgrade() -> None:
    meta.tables["console_recovery_codes"].create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("p_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("p_appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ruled_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("ruling_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    meta.tables["console_recovery_codes"].drop(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("p_appeals", schema=None) as batch_op:
        batch_op.drop_column("ruling_reason")
        batch_op.drop_column("ruled_by")
    with op.batch_alter_table("p_decisions", schema=None) as batch_op:
        batch_op.drop_column("review_reason")
