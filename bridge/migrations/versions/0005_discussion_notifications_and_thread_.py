"""discussion notifications and thread visits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:24:04.175391
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "discussion_notification",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("resource_link_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", bridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["resource_link.id"],
            name=op.f("fk_discussion_notification_resource_link_id_resource_link"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["discussion_thread.id"],
            name=op.f("fk_discussion_notification_thread_id_discussion_thread"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_discussion_notification_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_notification")),
    )
    with op.batch_alter_table("discussion_notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_discussion_notification_inbox",
            ["user_id", "resource_link_id", "read_at"],
            unique=False,
        )

    op.create_table(
        "discussion_thread_visit",
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("last_read_at", bridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["discussion_thread.id"],
            name=op.f("fk_discussion_thread_visit_thread_id_discussion_thread"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_discussion_thread_visit_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", "user_id", name=op.f("pk_discussion_thread_visit")),
    )


def downgrade() -> None:

    op.drop_table("discussion_thread_visit")
    with op.batch_alter_table("discussion_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_discussion_notification_inbox")

    op.drop_table("discussion_notification")
