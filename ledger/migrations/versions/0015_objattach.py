"""Objection attachments: objection_attachments (operational, like vault_objectors).

Revision ID: 0015
Revises: 0014

A frozen copy of the table as ``ledger/absence/tables.py`` defines it in this revision.
The sealed bytes are not in the ledger (``objection.filed`` lists only each attachment's
kind and keyed digest), so the table starts empty and a rebuild keeps it.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table

revision = "0015"
down_revision: str | None = "0014"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table(
    "objection_attachments", meta,
    Column("attachment", String(160), primary_key=True),
    Column("objection", String(128), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("size", Integer, nullable=False),
    Column("hmac", String(64), nullable=False),
    Column("ciphertext", LargeBinary),
    Index("ix_objection_attachments_objection", "objection"),
)


def upgrade() -> None:
    meta.tables["objection_attachments"].create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    meta.tables["objection_attachments"].drop(op.get_bind(), checkfirst=True)
