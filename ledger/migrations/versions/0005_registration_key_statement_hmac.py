"""Case-insensitive registration numbers and keyed appeal-statement digests.

Revision ID: 0005
Revises: 0004

* ``p_subjects.registration_key``: the registration number in lower case, indexed with
  the campaign, so a candidate is found under either spelling without a scan.  A
  projection column: the revision derives it for the candidates already registered as
  a replay does (``imports.registration_key``; registration numbers are ASCII, whose
  SQL ``lower()`` is the same on SQLite and PostgreSQL), so ``absentia rebuild --check``
  stays equal.  The index is not unique: a ledger may already hold two spellings of one
  number, and its replay must not fail; the import refuses new ones.
* Indexes on ``p_decisions.subject`` and ``p_appeals.subject``: a candidate's own
  status and appeal, and the check that a case is under review before a reviewer reads
  its personal data, find them without a scan.
* ``p_appeals.statement_hmac``: ``appeal.filed`` now records an HMAC-SHA-256 of the
  statement (keyed from the master key) instead of its plain SHA-256, which anyone could
  confirm for a guessed statement.  Appeals filed before keep ``statement_sha256`` (now
  nullable); their ``statement_hmac`` stays NULL, as a replay of their entries leaves it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("p_subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration_key", sa.String(length=32),
                                      nullable=True))
    op.execute("UPDATE p_subjects SET registration_key = lower(registration)")
    with op.batch_alter_table("p_subjects", schema=None) as batch_op:
        batch_op.alter_column("registration_key", existing_type=sa.String(length=32),
                              nullable=False)
        batch_op.create_index("ix_subjects_registration_key",
                              ["campaign", "registration_key"], unique=False)
    with op.batch_alter_table("p_appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statement_hmac", sa.String(length=64),
                                      nullable=True))
        batch_op.alter_column("statement_sha256", existing_type=sa.String(length=64),
                              nullable=True)
        batch_op.create_index("ix_appeals_subject", ["subject"], unique=False)
    with op.batch_alter_table("p_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_subject", ["subject"], unique=False)


def downgrade() -> None:
    """Back to 0004; refused while an appeal holds only the keyed digest (the old
    release cannot show it: upgrade again, or rebuild the projections with it)."""
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT count(*) FROM p_appeals WHERE statement_sha256 IS NULL"
                            ).scalar_one():
        raise RuntimeError("appeals filed since 0005 carry only statement_hmac; the "
                           "release before it cannot hold them: do not downgrade past 0005")
    with op.batch_alter_table("p_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_subject")
    with op.batch_alter_table("p_appeals", schema=None) as batch_op:
        batch_op.alter_column("statement_sha256", existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.drop_index("ix_appeals_subject")
        batch_op.drop_column("statement_hmac")
    with op.batch_alter_table("p_subjects", schema=None) as batch_op:
        batch_op.drop_index("ix_subjects_registration_key")
        batch_op.drop_column("registration_key")
