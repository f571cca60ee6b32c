"""ledger entries by learner record: the previous entry's time without scanning the ledger

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entry_progress_recorded", ["progress_id", "recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entry_progress_recorded")
