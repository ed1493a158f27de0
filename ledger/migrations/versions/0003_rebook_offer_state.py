"""The fate of a rebooking offer: p_decisions.offer (None, "taken" or "lapsed").

Revision ID: 0003
Revises: 0002

A projection column, so the revision also derives it for the rebookings already made
(a ``window.scheduled`` of kind ``rebook`` takes its decision's offer), leaving the table
equal to a replay of the ledger (``absentia rebuild --check``).  Offers that ended unused
before this release get their ``rebook.lapsed`` entry from the next sweep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("p_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer", sa.String(length=16), nullable=True))
    op.execute("UPDATE p_decisions SET offer = 'taken' WHERE decision IN "
               "(SELECT origin_decision FROM p_windows WHERE kind = 'rebook' "
               "AND origin_decision IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("p_decisions", schema=None) as batch_op:
        batch_op.drop_column("offer")
