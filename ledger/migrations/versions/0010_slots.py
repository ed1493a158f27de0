"""Backup time slots (备用面试时间段): p_backup_slots, the projection of ``slot.reserved``.

Revision ID: 0010
Revises: 0009

A frozen copy of the table as ``ledger/absence/tables.py`` defines it in this revision.
No entry of this type was written before, so the table starts empty, equal to a replay.
``accommodation.granted`` gains an optional ``slot`` (projected onto p_windows.slot, an
existing column).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Integer, MetaData, String, Table

revision = "0010"
down_revision: str | None = "0009"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table(
    "p_backup_slots", meta,
    Column("campaign", String(128), primary_key=True),
    Column("slot", String(128), primary_key=True),
    Column("opens_at", String(32), nullable=False),
    Column("closes_at", String(32), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("reserved_by", String(128), nullable=False),
    Column("reserved_at", String(32), nullable=False),
    Column("idx", Integer, nullable=False),
)


def upgrade() -> None:
    meta.tables["p_backup_slots"].create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    meta.tables["p_backup_slots"].drop(op.get_bind(), checkfirst=True)
