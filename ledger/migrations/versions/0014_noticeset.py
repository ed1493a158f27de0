"""A campaign's notice settings set after it opened: p_campaign_notice_settings.

Revision ID: 0014
Revises: 0013

A frozen copy of the table as ``ledger/absence/tables.py`` defines it in this revision.
It projects ``campaign.notice_settings``, an entry type new in this revision, so it
starts empty (no ledger written before holds such entries).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Integer, MetaData, String, Table, Text

revision = "0014"
down_revision: str | None = "0013"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
campaign_notice_settings = Table(
    "p_campaign_notice_settings", meta,
    Column("campaign", String(128), primary_key=True),
    Column("settings", Text, nullable=False),
    Column("idx", Integer, nullable=False),
)


def upgrade() -> None:
    campaign_notice_settings.create(op.get_bind())


def downgrade() -> None:
    campaign_notice_settings.drop(op.get_bind())
