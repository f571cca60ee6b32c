"""discussion questions, moderation, anonymity and flags

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 00:21:33.391034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "discussion_flag",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", bridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["discussion_post.id"],
            name=op.f("fk_discussion_flag_post_id_discussion_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_discussion_flag_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_flag")),
        sa.UniqueConstraint("post_id", "user_id", name=op.f("uq_discussion_flag_post_id_user_id")),
    )
    with op.batch_alter_table("discussion_flag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discussion_flag_post_id"), ["post_id"], unique=False)

    with op.batch_alter_table("discussion_post", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("endorsed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("accepted_post_id", sa.Uuid(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.drop_column("accepted_post_id")
        batch_op.drop_column("anonymous")

    with op.batch_alter_table("discussion_post", schema=None) as batch_op:
        batch_op.drop_column("hidden")
        batch_op.drop_column("endorsed")
        batch_op.drop_column("anonymous")

    with op.batch_alter_table("discussion_flag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discussion_flag_post_id"))

    op.drop_table("discussion_flag")
