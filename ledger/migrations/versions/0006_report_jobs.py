"""Report jobs: report_jobs (operational state shared by every process).

Revision ID: 0006
Revises: 0005

A frozen copy of the table as ``ledger/absence/projection.py`` defines it in this
revision.  Jobs are requests in flight, not facts: the table starts empty.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

revision = "0006"
down_revision: str | None = "0005"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table(
    "report_jobs", meta,
    Column("job", String(32), primary_key=True),
    Column("campaign", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("ended_at", BigInteger),
    Column("after_index", Integer, nullable=False),
    Column("report", String(128)),
    Column("error", Text),
    Index("ix_report_jobs_state", "state"),
    Index("ix_report_jobs_campaign", "campaign", "requested_at"),
)


def upgrade() -> None:
    meta.tables["report_jobs"].create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    meta.tables["report_jobs"].drop(op.get_bind(), checkfirst=True)
