"""activity events and discussion tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:05:08.541023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "activity_event",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("resource_link_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_event")),
    )
    with op.batch_alter_table("activity_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_event_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_event_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_activity_event_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_event_resource_link_id"), ["resource_link_id"], unique=False
        )

    op.create_table(
        "discussion_thread",
        sa.Column("resource_link_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("is_question", sa.Boolean(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["lti_user.id"],
            name=op.f("fk_discussion_thread_author_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["resource_link.id"],
            name=op.f("fk_discussion_thread_resource_link_id_resource_link"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_thread")),
    )
    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.create_index(
            "ix_discussion_thread_activity",
            ["resource_link_id", "last_activity_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_discussion_thread_author_id"), ["author_id"], unique=False
        )

    op.create_table(
        "discussion_post",
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", bridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", bridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["lti_user.id"],
            name=op.f("fk_discussion_post_author_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["discussion_post.id"],
            name=op.f("fk_discussion_post_parent_id_discussion_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["discussion_thread.id"],
            name=op.f("fk_discussion_post_thread_id_discussion_thread"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_post")),
    )
    with op.batch_alter_table("discussion_post", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discussion_post_author_id"), ["author_id"], unique=False
        )
        batch_op.create_index(
            "ix_discussion_post_thread", ["thread_id", "created_at"], unique=False
        )

    op.create_table(
        "discussion_post_revision",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("editor_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["discussion_post.id"],
            name=op.f("fk_discussion_post_revision_post_id_discussion_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_post_revision")),
    )
    with op.batch_alter_table("discussion_post_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discussion_post_revision_post_id"), ["post_id"], unique=False
        )

    op.create_table(
        "discussion_reaction",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", bridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["discussion_post.id"],
            name=op.f("fk_discussion_reaction_post_id_discussion_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lti_user.id"],
            name=op.f("fk_discussion_reaction_user_id_lti_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_reaction")),
        sa.UniqueConstraint(
            "post_id", "user_id", "kind", name=op.f("uq_discussion_reaction_post_id_user_id_kind")
        ),
    )
    with op.batch_alter_table("discussion_reaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discussion_reaction_post_id"), ["post_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("discussion_reaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discussion_reaction_post_id"))

    op.drop_table("discussion_reaction")
    with op.batch_alter_table("discussion_post_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discussion_post_revision_post_id"))

    op.drop_table("discussion_post_revision")
    with op.batch_alter_table("discussion_post", schema=None) as batch_op:
        batch_op.drop_index("ix_discussion_post_thread")
        batch_op.drop_index(batch_op.f("ix_discussion_post_author_id"))

    op.drop_table("discussion_post")
    with op.batch_alter_table("discussion_thread", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discussion_thread_author_id"))
        batch_op.drop_index("ix_discussion_thread_activity")

    op.drop_table("discussion_thread")
    with op.batch_alter_table("activity_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_event_resource_link_id"))
        batch_op.drop_index(batch_op.f("ix_activity_event_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_activity_event_name"))
        batch_op.drop_index(batch_op.f("ix_activity_event_actor_id"))

    op.drop_table("activity_event")
