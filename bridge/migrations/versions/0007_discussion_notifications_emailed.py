"""discussion notifications emailed

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 00:48:32.957074
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("discussion_notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emailed_at", bridge.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("discussion_notification", schema=None) as batch_op:
        batch_op.drop_column("emailed_at")
