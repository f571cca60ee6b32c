"""Discussion tables. Every row carries its placement (resource link) so queries stay scoped."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db import Base, UTCDateTime, UUIDPrimaryKey, utcnow


class Thread(UUIDPrimaryKey, Base):
    __tablename__ = "discussion_thread"
    __table_args__ = (
        Index("ix_discussion_thread_activity", "resource_link_id", "last_activity_at", "id"),
        Index("ix_discussion_thread_newest", "resource_link_id", "created_at", "id"),
        Index("ix_discussion_thread_top", "resource_link_id", "score", "id"),
    )

    resource_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    is_question: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_post_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer, default=0)  # reactions to the opening post ("top")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(UUIDPrimaryKey, Base):
    """The thread's opening post (no parent), a reply to it, or a reply to a reply."""

    __tablename__ = "discussion_post"
    __table_args__ = (Index("ix_discussion_post_thread", "thread_id", "created_at"),)

    thread_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discussion_thread.id", ondelete="CASCADE")
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("discussion_post.id", ondelete="CASCADE"), nullable=True
    )
    depth: Mapped[int] = mapped_column(
        Integer, default=0
    )  # 0 opening post, 1 reply, 2 reply to a reply
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)  # Markdown as written
    body_html: Mapped[str] = mapped_column(Text)  # rendered and sanitised once, at write time
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)  # to peers; moderators see who
    endorsed: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # by a moderator
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PostRevision(UUIDPrimaryKey, Base):
    """A body a post had before an edit (the history shown as "edited")."""

    __tablename__ = "discussion_post_revision"

    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discussion_post.id", ondelete="CASCADE"), index=True
    )
    editor_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reaction(UUIDPrimaryKey, Base):
    __tablename__ = "discussion_reaction"
    __table_args__ = (UniqueConstraint("post_id", "user_id", "kind"),)

    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discussion_post.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Flag(UUIDPrimaryKey, Base):
    """A learner's report of a post, waiting in the moderation queue until resolved."""

    __tablename__ = "discussion_flag"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discussion_post.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Notification(UUIDPrimaryKey, Base):
    """Something a member should see in the widget: a reply to them, a mention, an accepted answer."""

    __tablename__ = "discussion_notification"
    __table_args__ = (
        Index("ix_discussion_notification_inbox", "user_id", "resource_link_id", "read_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    resource_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))  # reply, mention, accepted, followed
    thread_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discussion_thread.id", ondelete="CASCADE")
    )
    post_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_name: Mapped[str] = mapped_column(
        String(200), default=""
    )  # "" when the actor is anonymous
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # in a digest


class ThreadVisit(Base):
    """When a member last read a thread (for "new since your last visit"), and whether they follow it."""

    __tablename__ = "discussion_thread_visit"

    thread_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discussion_thread.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    following: Mapped[bool] = mapped_column(Boolean, default=False)
