"""递补 (filling a vacancy): p_rankings, p_ranked, p_vacancies, p_backfills, p_backfill_lists.

Revision ID: 0011
Revises: 0010

A frozen copy of the tables as ``ledger/absence/tables.py`` defines them in this
revision.  They are projections of entry types new in this revision, so they start
empty (no ledger written before holds such entries).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

revision = "0011"
down_revision: str | None = "0010"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
PROJECTIONS = meta
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

_TABLES = ("p_rankings", "p_ranked", "p_vacancies", "p_backfills", "p_backfill_lists")


def upgrade() -> None:
    for name in _TABLES:
        meta.tables[name].create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for name in reversed(_TABLES):
        meta.tables[name].drop(op.get_bind(), checkfirst=True)
