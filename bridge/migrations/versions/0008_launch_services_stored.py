"""launch services stored: NRPS URL per context, AGS claim per placement

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("context", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nrps_url", sa.String(length=2048), nullable=False, server_default="")
        )
    with op.batch_alter_table("resource_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ags", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("resource_link", schema=None) as batch_op:
        batch_op.drop_column("ags")
    with op.batch_alter_table("context", schema=None) as batch_op:
        batch_op.drop_column("nrps_url")
