"""A notice is published in Chinese and in English, one language a page:
p_notices.sha256_en, the English page's SHA-256.

Revision ID: 0013
Revises: 0012

The column projects ``notice.published``'s optional ``sha256_en``; notices published
before were one bilingual page, so it starts empty (NULL) and stays so for them.  The
English bytes live in ``notice_documents`` under ``<notice>@en``
(``ledger.absence.notice_documents``): no new table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("p_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256_en", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("p_notices", schema=None) as batch_op:
        batch_op.drop_column("sha256_en")
