"""discussion thread score for top sort

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 00:26:24.614370
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:

    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.drop_column("score")
