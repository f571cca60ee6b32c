"""discussion thread indexes for the newest and top sorts (a page without a sort of the placement)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 03:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.create_index(
            "ix_discussion_thread_newest", ["resource_link_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_discussion_thread_top", ["resource_link_id", "score", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.drop_index("ix_discussion_thread_top")
        batch_op.drop_index("ix_discussion_thread_newest")
