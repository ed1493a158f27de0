"""Appeal attachments: appeal_attachments (operational, like vault_documents).

Revision ID: 0009
Revises: 0008

A frozen copy of the table as ``ledger/absence/tables.py`` defines it in this revision.
The sealed bytes are not in the ledger (``appeal.filed`` lists only each attachment's
kind and keyed digest), so the table starts empty and a rebuild keeps it.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table

revision = "0009"
down_revision: str | None = "0008"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table(
    "appeal_attachments", meta,
    Column("attachment", String(160), primary_key=True),
    Column("appeal", String(128), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("size", Integer, nullable=False),
    Column("hmac", String(64), nullable=False),
    Column("ciphertext", LargeBinary),
    Index("ix_appeal_attachments_appeal", "appeal"),
    Index("ix_appeal_attachments_subject", "subject"),
)


def upgrade() -> None:
    meta.tables["appeal_attachments"].create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    meta.tables["appeal_attachments"].drop(op.get_bind(), checkfirst=True)
