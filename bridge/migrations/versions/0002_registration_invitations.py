"""registration invitations (LTI Dynamic Registration)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "registration_invitation",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("auto_activate_deployments", sa.Boolean(), nullable=False),
        sa.Column("expires_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_registration_invitation_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_registration_invitation_registration_id_registration"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_registration_invitation_token_hash")),
    )
    with op.batch_alter_table("registration_invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_invitation_organisation_id"),
            ["organisation_id"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("registration_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_invitation_organisation_id"))

    op.drop_table("registration_invitation")
