"""Discussion use cases. Handed a database session, the request's tenancy scope and the event bus;
never imports Flask. Every query is limited to the scope's placement: another course's ids are
simply not found."""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypedDict

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.db import utcnow
from bridge.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from bridge.events import Event, EventBus
from bridge.reads import PreparedRead, ReadSnapshot, iso_text, iso_utc, uuid_text
from bridge.tenancy.models import Membership, ResourceLink, User
from bridge.tenancy.roster import current_members
from bridge.tenancy.scope import Scope
from widgets.discussion import rules
from widgets.discussion.models import (
    Flag,
    Notification,
    Post,
    PostRevision,
    Reaction,
    Thread,
    ThreadVisit,
)

SORTS = ("active", "newest", "top")
MAX_PAGE = 50
MAX_MENTIONS = 20
INBOX_SIZE = 50
ANONYMOUS_NAME = "Anonymous"
THREAD_STARTERS = ("everyone", "moderators")
RATE_WINDOW = timedelta(minutes=1)


class PostDoc(TypedDict):
    """A post as the API returns it to this viewer, JSON-ready (``schemas.PostOut`` documents it)."""

    id: str
    parent_id: str | None
    depth: int
    author_name: str  # "" when removed or hidden; "Anonymous" to peers of an anonymous author
    body_html: str
    created_at: str
    edited: bool
    deleted: bool
    mine: bool
    reactions: dict[str, int]
    anonymous: bool
    endorsed: bool
    hidden: bool
    body: str | None  # the Markdown source, for those who may edit the post
    my_reactions: list[str]


class ThreadDoc(TypedDict):
    """A thread as the API returns it to this viewer (``schemas.ThreadOut`` documents it)."""

    id: str
    title: str
    author_name: str
    is_question: bool
    pinned: bool
    locked: bool
    reply_count: int
    created_at: str
    last_activity_at: str
    anonymous: bool
    accepted_post_id: str | None
    unread: bool
    following: bool


@dataclass(frozen=True)
class DiscussionSettings:
    """Per placement, set by its moderators."""

    anonymous_allowed: bool = False
    thread_starters: str = "everyone"  # or "moderators"
    posts_per_minute: int = 10


@dataclass(frozen=True)
class FlagView:
    id: uuid.UUID
    post_id: uuid.UUID
    thread_id: uuid.UUID
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class NotificationView:
    id: uuid.UUID
    kind: str
    thread_id: uuid.UUID
    thread_title: str
    post_id: uuid.UUID | None
    actor_name: str
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class MemberView:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class ParticipationRow:
    user_name: str
    access: str
    threads: int
    replies: int
    reactions_received: int
    accepted_answers: int
    last_activity_at: datetime | None


class ThreadPageDoc(TypedDict):
    """A page of the thread list (``schemas.ThreadPageOut`` documents it)."""

    threads: list[ThreadDoc]
    next_cursor: str | None


class _Named(Protocol):
    """A user's name fields: a ``User``, or a row that selected them."""

    name: str | None
    given_name: str | None
    family_name: str | None


def _display_name(user: _Named) -> str:
    return (
        user.name or " ".join(filter(None, (user.given_name, user.family_name))) or "Course member"
    )


def _cursor(thread: Any, sort: str) -> str:
    key = {"active": thread.last_activity_at, "newest": thread.created_at, "top": thread.score}[
        sort
    ]  # the rows' timestamps are ISO text already (bridge.reads.iso_text)
    return base64.urlsafe_b64encode(f"{key}|{thread.id}".encode()).decode()


def _parse_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    try:
        value, _, thread_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        key: Any = int(value) if sort == "top" else datetime.fromisoformat(value)
        if isinstance(key, datetime) and key.tzinfo is None:
            raise ValueError("a cursor's time is timezone-aware")  # ours always are
        return key, uuid.UUID(thread_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError("The page cursor is not valid.", code="invalid_cursor") from exc


# -- the polled reads, prepared once --------------------------------------------------------------
# The thread list and the thread page are what the widget polls. They select just the columns they
# show, with identifiers and timestamps rendered as the API's text by the database, and run as
# bridge.reads.PreparedRead: compiled once, executed in the request's read snapshot without the ORM.
# Every one of them is limited to the viewer's placement: :link is the scope's resource link,
# :viewer the scope's user (their visit and their own reactions only).
class _ThreadRow(NamedTuple):
    """A row of ``_THREAD_ROWS``, field for column (a unit test checks the names and order).

    Rows are copied into named tuples because reading a field of one is about ten times faster
    than reading an attribute of a SQLAlchemy ``Row``, and a page reads some 300 of them.
    Identifiers and timestamps are text (``bridge.reads``); booleans may be 0/1 (SQLite).
    """

    id: str
    own: bool  # the viewer wrote it
    title: str
    is_question: bool
    pinned: bool
    locked: bool
    anonymous: bool
    accepted_post_id: str | None
    reply_count: int
    score: int
    created_at: str
    last_activity_at: str
    name: str | None
    given_name: str | None
    family_name: str | None
    unread: bool  # for the viewer: never opened, or active since their last visit
    following: bool | None  # the viewer's visit (None: never opened)

    @classmethod
    def of(cls, thread: Thread, author: User, own: bool, following: bool = False) -> _ThreadRow:
        """A thread just written, as a read would return it to its writer (as unread)."""
        return cls(
            str(thread.id), own, thread.title, thread.is_question,
            thread.pinned, thread.locked, thread.anonymous, _text(thread.accepted_post_id),
            thread.reply_count, thread.score, iso_utc(thread.created_at),
            iso_utc(thread.last_activity_at), author.name, author.given_name, author.family_name,
            True, following,
        )  # fmt: skip


class _PostRow(NamedTuple):
    """A row of ``_POSTS``, field for column (a unit test checks the names and order)."""

    id: str
    parent_id: str | None
    depth: int
    own: bool  # the viewer wrote it
    body: str
    body_html: str
    anonymous: bool
    endorsed: bool
    hidden: bool
    created_at: str
    edited: bool
    deleted: bool
    name: str | None
    given_name: str | None
    family_name: str | None

    @classmethod
    def of(cls, post: Post, author: User, own: bool) -> _PostRow:
        """A post just written, as a read would return it."""
        return cls(
            str(post.id), _text(post.parent_id), post.depth, own, post.body,
            post.body_html, post.anonymous, post.endorsed, post.hidden, iso_utc(post.created_at),
            post.edited_at is not None, post.deleted_at is not None, author.name,
            author.given_name, author.family_name,
        )  # fmt: skip


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


_T, _P, _U, _V, _R = (
    Thread.__table__.c, Post.__table__.c, User.__table__.c, ThreadVisit.__table__.c,
    Reaction.__table__.c,
)  # fmt: skip
_THREAD_ROWS = (
    select(
        uuid_text(_T.id).label("id"), (_T.author_id == bindparam("viewer")).label("own"), _T.title,
        _T.is_question, _T.pinned, _T.locked, _T.anonymous,
        uuid_text(_T.accepted_post_id).label("accepted_post_id"), _T.reply_count, _T.score,
        iso_text(_T.created_at).label("created_at"),
        iso_text(_T.last_activity_at).label("last_activity_at"),
        _U.name, _U.given_name, _U.family_name,
        or_(_V.last_read_at.is_(None), _T.last_activity_at > _V.last_read_at).label("unread"),
        _V.following,
    )
    .join_from(Thread.__table__, User.__table__, _U.id == _T.author_id)
    .outerjoin(
        ThreadVisit.__table__, and_(_V.thread_id == _T.id, _V.user_id == bindparam("viewer"))
    )
    .where(_T.resource_link_id == bindparam("link"))
)  # fmt: skip
_THREAD = PreparedRead(_THREAD_ROWS.where(_T.id == bindparam("thread_id")))
_POSTS = PreparedRead(
    select(
        uuid_text(_P.id).label("id"), uuid_text(_P.parent_id).label("parent_id"), _P.depth,
        (_P.author_id == bindparam("viewer")).label("own"), _P.body, _P.body_html, _P.anonymous,
        _P.endorsed, _P.hidden, iso_text(_P.created_at).label("created_at"),
        _P.edited_at.is_not(None).label("edited"), _P.deleted_at.is_not(None).label("deleted"),
        _U.name, _U.given_name, _U.family_name,
    )
    .join_from(Post.__table__, User.__table__, _U.id == _P.author_id)
    .join(Thread.__table__, _T.id == _P.thread_id)
    .where(_P.thread_id == bindparam("thread_id"), _T.resource_link_id == bindparam("link"))
    .order_by(_P.created_at, _P.id)
)  # fmt: skip
_REACTIONS = PreparedRead(  # per post and kind: how many, and whether the viewer is among them
    select(
        uuid_text(_R.post_id).label("post_id"), _R.kind, func.count(),
        func.max(case((_R.user_id == bindparam("viewer"), 1), else_=0)),
    )
    .join_from(Reaction.__table__, Post.__table__, _P.id == _R.post_id)
    .join(Thread.__table__, _T.id == _P.thread_id)
    .where(_P.thread_id == bindparam("thread_id"), _T.resource_link_id == bindparam("link"))
    .group_by(_R.post_id, _R.kind)
)  # fmt: skip


@functools.cache
def _thread_page(sort: str, after_cursor: bool) -> PreparedRead:
    """Threads in ``sort`` order, :limit of them, after the cursor (:key, :after_id) if any."""
    key = {"active": _T.last_activity_at, "newest": _T.created_at, "top": _T.score}[sort]
    statement = _THREAD_ROWS.order_by(key.desc(), _T.id.desc()).limit(bindparam("limit"))
    if after_cursor:
        value = bindparam("key", type_=key.type)
        statement = statement.where(
            or_(key < value, and_(key == value, _T.id < bindparam("after_id", type_=_T.id.type)))
        )
    return PreparedRead(statement)


class DiscussionService:
    def __init__(
        self,
        unit_of_work: Callable[[], Session],
        scope: Scope,
        events: EventBus,
        reads: ReadSnapshot | None = None,
    ) -> None:
        """``unit_of_work`` gives the request's session, asked for only when needed; ``reads`` is
        the request's read snapshot for the polled reads (GET requests), without which they run
        in the session."""
        self._unit_of_work = unit_of_work
        self._scope = scope
        self._events = events
        self._reads = reads
        self._moderator = scope.access.can_moderate

    @functools.cached_property
    def _session(self) -> Session:
        return self._unit_of_work()

    # -- reading ---------------------------------------------------------------------------------
    # The two reads the page polls are prepared statements (see above): one for a page of threads
    # (with authors and the viewer's visits), three for a thread page (the thread, its posts with
    # authors, reaction counts with the viewer's own). Threads and posts come back as the API's
    # JSON-ready documents, built in one pass by _thread_doc and _post_doc, which are also the one
    # place that decides what a viewer may see. See docs/benchmarks.md.
    def list_threads(
        self, sort: str = "active", cursor: str | None = None, limit: int = 20, q: str = ""
    ) -> ThreadPageDoc:
        """Threads of the placement, sorted, cursor-paginated, optionally matching ``q``."""
        if sort not in SORTS:
            raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}.", code="invalid_sort")
        limit = max(1, min(limit, MAX_PAGE))
        params: dict[str, Any] = {**self._viewer(), "limit": limit + 1}
        if cursor:
            params["key"], params["after_id"] = _parse_cursor(cursor, sort)
        page = _thread_page(sort, bool(cursor))
        q = rules.clean(q).strip()
        if q:  # a search is built per request, so it runs in the session
            found = self._session.execute(page.statement.where(self._matching(q.lower())), params)
            rows = [_ThreadRow._make(row) for row in found]
        else:
            rows = [_ThreadRow._make(row) for row in self._rows(page, params)]
        threads = [self._thread_doc(row) for row in rows[:limit]]
        next_cursor = _cursor(rows[limit - 1], sort) if len(rows) > limit else None
        return {"threads": threads, "next_cursor": next_cursor}

    def get_thread(self, thread_id: uuid.UUID) -> tuple[ThreadDoc, list[PostDoc]]:
        """The thread with its posts in order: three statements, whatever the number of posts."""
        params = {**self._viewer(), "thread_id": thread_id}
        found = self._rows(_THREAD, params)
        if not found:
            raise NotFoundError("No such thread here.", code="thread_not_found")
        thread = _ThreadRow._make(found[0])
        rows = [_PostRow._make(row) for row in self._rows(_POSTS, params)]
        counts: dict[str, dict[str, int]] = {}
        mine: dict[str, tuple[str, ...]] = {}
        for post_id, kind, count, given in self._rows(_REACTIONS, params):
            counts.setdefault(post_id, {})[kind] = count
            if given:
                mine[post_id] = (*mine.get(post_id, ()), kind)
        posts = [self._post_doc(row, counts.get(row.id, {}), mine.get(row.id, ())) for row in rows]
        return self._thread_doc(thread), posts

    def _viewer(self) -> dict[str, uuid.UUID]:
        """The bound parameters that scope the polled reads: this placement, this viewer."""
        return {"link": self._scope.resource_link_id, "viewer": self._scope.user_id}

    def _rows(self, read: PreparedRead, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self._reads is not None:
            return self._reads.rows(read, params)
        return read.rows_in(self._session, params)

    # -- writing ---------------------------------------------------------------------------------
    def create_thread(
        self,
        title: str,
        body: str,
        is_question: bool = False,
        anonymous: bool = False,
        mentions: Sequence[uuid.UUID] = (),
    ) -> ThreadDoc:
        self._require_posting()
        settings = self.settings()
        if settings.thread_starters == "moderators" and not self._scope.access.can_moderate:
            raise ForbiddenError(
                "Only moderators start threads here.", code="moderators_start_threads"
            )
        self._check_anonymous(anonymous, settings)
        self._check_rate(settings)
        title = rules.normalise_title(title)
        if not title or len(title) > rules.MAX_TITLE:
            raise InvalidInputError(
                f"A title of 1 to {rules.MAX_TITLE} characters is required.", code="invalid_title"
            )
        body_html = self._checked_body(body)
        now = utcnow()
        thread = Thread(
            id=uuid.uuid4(), resource_link_id=self._scope.resource_link_id, author_id=self._scope.user_id,
            title=title, is_question=is_question, anonymous=anonymous, created_at=now, last_activity_at=now,
        )  # fmt: skip
        opening = Post(
            id=uuid.uuid4(), thread_id=thread.id, depth=0, author_id=self._scope.user_id,
            body=body, body_html=body_html, anonymous=anonymous, created_at=now,
        )  # fmt: skip
        self._session.add(thread)
        self._session.flush()
        self._session.add(opening)
        self._emit("discussion.thread_created", "thread", thread.id)
        self._follow(thread.id, following=True)
        self._notify(self._members(mentions), "mention", thread, opening)
        author = self._session.get(User, self._scope.user_id)
        assert author is not None  # noqa: S101 - the scope's own user
        return self._thread_doc(_ThreadRow.of(thread, author, own=True, following=True))

    def reply(
        self,
        thread_id: uuid.UUID,
        parent_id: uuid.UUID,
        body: str,
        anonymous: bool = False,
        mentions: Sequence[uuid.UUID] = (),
    ) -> PostDoc:
        self._require_posting()
        settings = self.settings()
        self._check_anonymous(anonymous, settings)
        self._check_rate(settings)
        thread = self._thread(thread_id)
        if thread.locked and not self._scope.access.can_moderate:
            raise ForbiddenError("This thread is locked.", code="thread_locked")
        parent = self._post(parent_id)
        if parent.thread_id != thread.id:
            raise InvalidInputError(
                "The post replied to is not in this thread.", code="wrong_thread"
            )
        if parent.depth >= rules.MAX_DEPTH:
            raise InvalidInputError(
                "Replies nest two levels deep; reply to the reply above.", code="too_deep"
            )
        if parent.deleted_at is not None:
            raise ConflictError("The post replied to was removed.", code="post_removed")
        now = utcnow()
        post = Post(
            id=uuid.uuid4(), thread_id=thread.id, parent_id=parent.id, depth=parent.depth + 1,
            author_id=self._scope.user_id, body=body, body_html=self._checked_body(body),
            anonymous=anonymous, created_at=now,
        )  # fmt: skip
        self._session.add(post)
        thread.reply_count += 1
        thread.last_activity_at = now
        self._emit("discussion.reply_created", "post", post.id, subject_id=parent.author_id)
        mentioned = self._members(mentions)
        self._notify([parent.author_id], "reply", thread, post)
        self._notify(mentioned - {parent.author_id}, "mention", thread, post)
        self._notify(
            self._followers(thread.id) - mentioned - {parent.author_id}, "followed", thread, post
        )
        self._follow(thread.id, following=True)
        author = self._session.get(User, self._scope.user_id)
        assert author is not None  # noqa: S101 - the scope's own user
        return self._post_doc(_PostRow.of(post, author, self._wrote(post)), {})

    def edit_post(self, post_id: uuid.UUID, body: str) -> PostDoc:
        post = self._post(post_id)
        if not rules.may_edit(self._scope, post.author_id == self._scope.user_id):
            raise ForbiddenError(
                "Only the author or a moderator may edit this post.", code="not_author"
            )
        if post.deleted_at is not None:
            raise ConflictError("A removed post cannot be edited.", code="post_removed")
        body_html = self._checked_body(body)
        self._session.add(
            PostRevision(post_id=post.id, editor_id=self._scope.user_id, body=post.body)
        )
        post.body, post.body_html, post.edited_at = body, body_html, utcnow()
        author = self._session.get(User, post.author_id)
        assert author is not None  # noqa: S101 - foreign key
        reactions = self._reaction_counts([post.id]).get(post.id, {})
        return self._post_doc(_PostRow.of(post, author, self._wrote(post)), reactions)

    def delete_post(self, post_id: uuid.UUID) -> None:
        """Soft delete: the thread stays readable with a "post removed" placeholder."""
        post = self._post(post_id)
        if not rules.may_edit(self._scope, post.author_id == self._scope.user_id):
            raise ForbiddenError(
                "Only the author or a moderator may remove this post.", code="not_author"
            )
        post.deleted_at = post.deleted_at or utcnow()

    def react(self, post_id: uuid.UUID, kind: str) -> dict[str, int]:
        self._require_posting()
        if kind not in rules.REACTIONS:
            raise InvalidInputError(
                f"kind must be one of {', '.join(sorted(rules.REACTIONS))}.",
                code="invalid_reaction",
            )
        post = self._post(post_id)
        if post.deleted_at is not None:
            raise ConflictError("A removed post cannot be reacted to.", code="post_removed")
        try:
            with self._session.begin_nested():
                self._session.add(Reaction(post_id=post.id, user_id=self._scope.user_id, kind=kind))
        except IntegrityError:
            return self._reaction_counts([post.id]).get(post.id, {})  # already given: idempotent
        self._emit(
            "discussion.reaction_given", "post", post.id, subject_id=post.author_id, kind=kind
        )
        if post.depth == 0:
            self._thread(post.thread_id).score += 1
        return self._reaction_counts([post.id]).get(post.id, {})

    def withdraw_reaction(self, post_id: uuid.UUID, kind: str) -> dict[str, int]:
        """Take one's own reaction back (idempotent)."""
        post = self._post(post_id)
        reaction = self._session.scalar(
            select(Reaction).where(
                Reaction.post_id == post.id,
                Reaction.user_id == self._scope.user_id,
                Reaction.kind == kind,
            )
        )
        if reaction is not None:
            self._session.delete(reaction)
            if post.depth == 0:
                thread = self._thread(post.thread_id)
                thread.score = max(0, thread.score - 1)
            self._session.flush()
        return self._reaction_counts([post.id]).get(post.id, {})

    # -- questions and moderation -------------------------------------------------------------
    def accept_answer(self, thread_id: uuid.UUID, post_id: uuid.UUID | None) -> ThreadDoc:
        """The asker or a moderator marks (or, with None, clears) the accepted answer."""
        thread = self._thread(thread_id)
        if not thread.is_question:
            raise ConflictError("Only a question has an accepted answer.", code="not_a_question")
        if thread.author_id != self._scope.user_id and not self._scope.access.can_moderate:
            raise ForbiddenError(
                "Only the asker or a moderator accepts an answer.", code="not_asker"
            )
        if post_id is not None:
            post = self._post(post_id)
            if post.thread_id != thread.id or post.depth == 0 or post.deleted_at is not None:
                raise InvalidInputError("Accept a reply of this thread.", code="not_an_answer")
            if thread.accepted_post_id != post.id:
                self._emit("discussion.answer_accepted", "post", post.id, subject_id=post.author_id)
                self._notify([post.author_id], "accepted", thread, post, anonymous=False)
        thread.accepted_post_id = post_id
        author = self._session.get(User, thread.author_id)
        assert author is not None  # noqa: S101 - foreign key
        return self._thread_doc(_ThreadRow.of(thread, author, self._wrote(thread)))

    def endorse(self, post_id: uuid.UUID, endorsed: bool) -> None:
        self._require_moderator()
        post = self._post(post_id)
        if endorsed and not post.endorsed:
            self._emit("discussion.post_endorsed", "post", post.id, subject_id=post.author_id)
        post.endorsed = endorsed

    def set_thread_flags(
        self, thread_id: uuid.UUID, *, pinned: bool | None = None, locked: bool | None = None
    ) -> None:
        self._require_moderator()
        thread = self._thread(thread_id)
        if pinned is not None:
            thread.pinned = pinned
        if locked is not None:
            thread.locked = locked

    def set_hidden(self, post_id: uuid.UUID, hidden: bool) -> None:
        self._require_moderator()
        self._post(post_id).hidden = hidden

    def flag(self, post_id: uuid.UUID, reason: str) -> None:
        """Report a post to the moderators (once per person and post)."""
        post = self._post(post_id)
        if post.author_id == self._scope.user_id:
            raise InvalidInputError("You cannot flag your own post.", code="own_post")
        reason = " ".join(rules.clean(reason).split())[:500]
        try:
            with self._session.begin_nested():
                self._session.add(Flag(post_id=post.id, user_id=self._scope.user_id, reason=reason))
        except IntegrityError:
            return  # already flagged by this person: idempotent

    def open_flags(self) -> list[FlagView]:
        self._require_moderator()
        rows = self._session.execute(
            select(Flag, Post.thread_id)
            .join(Post, Post.id == Flag.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(
                Thread.resource_link_id == self._scope.resource_link_id, Flag.resolved_at.is_(None)
            )
            .order_by(Flag.created_at)
        ).all()
        return [
            FlagView(f.id, f.post_id, thread_id, f.reason, f.created_at) for f, thread_id in rows
        ]

    def resolve_flag(self, flag_id: uuid.UUID) -> None:
        self._require_moderator()
        flag = self._session.scalar(
            select(Flag)
            .join(Post, Post.id == Flag.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Flag.id == flag_id, Thread.resource_link_id == self._scope.resource_link_id)
        )
        if flag is None:
            raise NotFoundError("No such flag here.", code="flag_not_found")
        flag.resolved_at = flag.resolved_at or utcnow()

    def _matching(self, needle: str) -> Any:
        """Threads whose title or any visible post contains the words (case-insensitive)."""
        in_posts = (
            select(Post.id)
            .where(
                Post.thread_id == Thread.id,
                Post.deleted_at.is_(None),
                Post.hidden.is_(False),
                func.lower(Post.body).contains(needle, autoescape=True),
            )
            .exists()
        )
        return or_(func.lower(Thread.title).contains(needle, autoescape=True), in_posts)

    # -- following, notifications, members -------------------------------------------------------
    def mark_read(self, thread_id: uuid.UUID) -> None:
        """The member has seen the thread as it is now ("new since your last visit" resets)."""
        self._thread(thread_id)
        self._visit(thread_id).last_read_at = utcnow()

    def follow(self, thread_id: uuid.UUID, following: bool) -> None:
        self._thread(thread_id)
        self._follow(thread_id, following)

    def notifications(self) -> tuple[list[NotificationView], int]:
        """The member's latest notifications here, and how many are unread (the badge)."""
        base = select(Notification).where(
            Notification.user_id == self._scope.user_id,
            Notification.resource_link_id == self._scope.resource_link_id,
        )
        unread = self._session.scalar(
            select(func.count()).select_from(base.where(Notification.read_at.is_(None)).subquery())
        )
        rows = self._session.execute(
            select(Notification, Thread.title)
            .join(Thread, Thread.id == Notification.thread_id)
            .where(
                Notification.user_id == self._scope.user_id,
                Notification.resource_link_id == self._scope.resource_link_id,
            )
            .order_by(Notification.created_at.desc())
            .limit(INBOX_SIZE)
        ).all()
        views = [
            NotificationView(
                n.id,
                n.kind,
                n.thread_id,
                title,
                n.post_id,
                n.actor_name,
                n.created_at,
                n.read_at is not None,
            )
            for n, title in rows
        ]
        return views, int(unread or 0)

    def mark_notifications_read(self) -> None:
        for notification in self._session.scalars(
            select(Notification).where(
                Notification.user_id == self._scope.user_id,
                Notification.resource_link_id == self._scope.resource_link_id,
                Notification.read_at.is_(None),
            )
        ):
            notification.read_at = utcnow()

    def members(self, query: str = "", limit: int = 10) -> list[MemberView]:
        """Course members known from their launches, for @mentions (names only, never emails)."""
        statement = (
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.context_id == self._scope.context_id,
                User.id != self._scope.user_id,
                current_members(),  # not those the platform's roster says have left
            )
            .order_by(User.name, User.given_name, User.family_name, User.id)
            .limit(max(1, min(limit, 50)))
        )
        needle = rules.clean(query).strip().lower()
        if needle:  # NRPS may send given and family names without a full name
            statement = statement.where(
                or_(
                    *(
                        func.lower(column).contains(needle, autoescape=True)
                        for column in (User.name, User.given_name, User.family_name)
                    )
                )
            )
        return [
            MemberView(user.id, _display_name(user)) for user in self._session.scalars(statement)
        ]

    # -- participation -------------------------------------------------------------------------
    def participation(self) -> list[ParticipationRow]:
        """Per course member: what they wrote here, reactions and accepted answers (moderators)."""
        self._require_moderator()
        link = self._scope.resource_link_id
        posts = (
            select(
                Post.author_id.label("user_id"),
                func.count().filter(Post.depth == 0).label("threads"),
                func.count().filter(Post.depth > 0).label("replies"),
                func.max(Post.created_at).label("last_at"),
            )
            .join(Thread, Thread.id == Post.thread_id)
            .where(Thread.resource_link_id == link, Post.deleted_at.is_(None))
            .group_by(Post.author_id)
            .subquery()
        )
        received = (
            select(Post.author_id.label("user_id"), func.count().label("n"))
            .join(Reaction, Reaction.post_id == Post.id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Thread.resource_link_id == link)
            .group_by(Post.author_id)
            .subquery()
        )
        accepted = (
            select(Post.author_id.label("user_id"), func.count().label("n"))
            .join(Thread, Thread.accepted_post_id == Post.id)
            .where(Thread.resource_link_id == link)
            .group_by(Post.author_id)
            .subquery()
        )
        rows = self._session.execute(
            select(
                User,
                Membership.access,
                posts.c.threads,
                posts.c.replies,
                received.c.n,
                accepted.c.n,
                posts.c.last_at,
            )
            .join(Membership, Membership.user_id == User.id)
            .outerjoin(posts, posts.c.user_id == User.id)
            .outerjoin(received, received.c.user_id == User.id)
            .outerjoin(accepted, accepted.c.user_id == User.id)
            .where(Membership.context_id == self._scope.context_id)
            .order_by(User.family_name, User.given_name, User.name, User.id)
        ).all()
        return [
            ParticipationRow(
                _display_name(user), access, threads or 0, replies or 0, got or 0, won or 0, last
            )
            for user, access, threads, replies, got, won, last in rows
        ]

    # -- settings ------------------------------------------------------------------------------
    def settings(self) -> DiscussionSettings:
        stored = self._placement().settings.get("discussion", {})
        return DiscussionSettings(
            **{k: v for k, v in stored.items() if k in DiscussionSettings.__dataclass_fields__}
        )

    def update_settings(self, **changes: object) -> DiscussionSettings:
        self._require_moderator()
        current = self.settings()
        merged = {**current.__dict__, **{k: v for k, v in changes.items() if v is not None}}
        if merged["thread_starters"] not in THREAD_STARTERS:
            raise InvalidInputError(
                "thread_starters is everyone or moderators.", code="invalid_setting"
            )
        if not 1 <= int(merged["posts_per_minute"]) <= 120:  # type: ignore[call-overload]
            raise InvalidInputError(
                "posts_per_minute is between 1 and 120.", code="invalid_setting"
            )
        placement = self._placement()
        placement.settings = {**placement.settings, "discussion": merged}
        return DiscussionSettings(**merged)  # type: ignore[arg-type]

    # -- helpers ---------------------------------------------------------------------------------
    def _visit(self, thread_id: uuid.UUID) -> ThreadVisit:
        visit = self._session.get(ThreadVisit, (thread_id, self._scope.user_id))
        if visit is None:
            visit = ThreadVisit(thread_id=thread_id, user_id=self._scope.user_id, following=False)
            self._session.add(visit)
        return visit

    def _follow(self, thread_id: uuid.UUID, following: bool) -> None:
        self._visit(thread_id).following = following

    def _followers(self, thread_id: uuid.UUID) -> set[uuid.UUID]:
        return set(
            self._session.scalars(
                select(ThreadVisit.user_id).where(
                    ThreadVisit.thread_id == thread_id, ThreadVisit.following.is_(True)
                )
            )
        )

    def _members(self, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The given users who are members of this course (mentions of anyone else are dropped)."""
        if len(user_ids) > MAX_MENTIONS:
            raise InvalidInputError(
                f"At most {MAX_MENTIONS} mentions per post.", code="too_many_mentions"
            )
        if not user_ids:
            return set()
        return set(
            self._session.scalars(
                select(Membership.user_id).where(
                    Membership.context_id == self._scope.context_id,
                    Membership.user_id.in_(list(user_ids)),
                    current_members(),
                )
            )
        )

    def _notify(
        self,
        user_ids: Iterable[uuid.UUID],
        kind: str,
        thread: Thread,
        post: Post,
        anonymous: bool | None = None,
    ) -> None:
        hidden_actor = post.anonymous if anonymous is None else anonymous
        actor = "" if hidden_actor else _display_name(self._session.get(User, self._scope.user_id))  # type: ignore[arg-type]
        for user_id in set(user_ids) - {self._scope.user_id}:
            self._session.add(Notification(
                user_id=user_id, resource_link_id=self._scope.resource_link_id, kind=kind,
                thread_id=thread.id, post_id=post.id, actor_name=actor,
            ))  # fmt: skip

    def _require_moderator(self) -> None:
        if not self._scope.access.can_moderate:
            raise ForbiddenError("Only moderators may do this.", code="moderator_required")

    def _placement(self) -> ResourceLink:
        placement = self._session.get(ResourceLink, self._scope.resource_link_id)
        if placement is None:
            raise NotFoundError(
                "This placement is no longer available.", code="placement_not_found"
            )
        return placement

    def _check_anonymous(self, anonymous: bool, settings: DiscussionSettings) -> None:
        if anonymous and not settings.anonymous_allowed:
            raise ForbiddenError(
                "Anonymous posting is off in this space.", code="anonymous_not_allowed"
            )

    def _check_rate(self, settings: DiscussionSettings) -> None:
        since = utcnow() - RATE_WINDOW
        recent = self._session.scalars(
            select(Post.created_at)
            .join(Thread, Thread.id == Post.thread_id)
            .where(
                Thread.resource_link_id == self._scope.resource_link_id,
                Post.author_id == self._scope.user_id,
                Post.created_at > since,
            )
            .order_by(Post.created_at)
        ).all()
        if len(recent) >= settings.posts_per_minute:
            wait = int((recent[0] + RATE_WINDOW - utcnow()).total_seconds()) + 1
            raise RateLimitedError("You are posting too fast.", retry_after=wait)

    def _require_posting(self) -> None:
        if not self._scope.access.can_post:
            raise ForbiddenError("Your role here is read-only.", code="read_only")

    def _checked_body(self, body: str) -> str:
        if not body.strip():
            raise InvalidInputError("The post is empty.", code="empty_body")
        if len(body) > rules.MAX_BODY:
            raise InvalidInputError(
                f"Posts are at most {rules.MAX_BODY} characters.", code="body_too_long"
            )
        return rules.render_markdown(body)

    def _thread(self, thread_id: uuid.UUID) -> Thread:
        thread = self._session.scalar(
            select(Thread).where(
                Thread.id == thread_id, Thread.resource_link_id == self._scope.resource_link_id
            )
        )
        if thread is None:
            raise NotFoundError("No such thread here.", code="thread_not_found")
        return thread

    def _post(self, post_id: uuid.UUID) -> Post:
        post = self._session.scalar(
            select(Post)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Post.id == post_id, Thread.resource_link_id == self._scope.resource_link_id)
        )
        if post is None:
            raise NotFoundError("No such post here.", code="post_not_found")
        return post

    def _reaction_counts(self, post_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        if not post_ids:
            return {}
        counts: dict[uuid.UUID, dict[str, int]] = {}
        rows = self._session.execute(
            select(Reaction.post_id, Reaction.kind, func.count())
            .where(Reaction.post_id.in_(post_ids))
            .group_by(Reaction.post_id, Reaction.kind)
        )
        for post_id, kind, count in rows:
            counts.setdefault(post_id, {})[kind] = count
        return counts

    def _emit(
        self,
        name: str,
        object_type: str,
        object_id: uuid.UUID,
        subject_id: uuid.UUID | None = None,
        **data: str,
    ) -> None:
        self._events.emit(
            self._session, self._scope, Event(name, object_type, object_id, subject_id, data)
        )

    def _wrote(self, item: Thread | Post) -> bool:
        return item.author_id == self._scope.user_id

    def _author_name(self, own: bool, author: _Named, anonymous: bool) -> str:
        """Peers see "Anonymous"; the author and moderators see who wrote it."""
        if anonymous and not (self._moderator or own):
            return ANONYMOUS_NAME
        return _display_name(author)

    def _thread_doc(self, row: _ThreadRow) -> ThreadDoc:
        """The thread for this viewer (``unread`` and ``following`` are the viewer's own)."""
        return {
            "id": row.id,
            "title": row.title,
            "author_name": self._author_name(row.own, row, row.anonymous),
            "is_question": bool(row.is_question),
            "pinned": bool(row.pinned),
            "locked": bool(row.locked),
            "reply_count": row.reply_count,
            "created_at": row.created_at,
            "last_activity_at": row.last_activity_at,
            "anonymous": bool(row.anonymous),
            "accepted_post_id": row.accepted_post_id,
            "unread": bool(row.unread),
            "following": bool(row.following),
        }

    def _post_doc(
        self, row: _PostRow, reactions: dict[str, int], my_reactions: Iterable[str] = ()
    ) -> PostDoc:
        """The post for this viewer: a removed post, or one hidden from them, keeps only its place."""
        deleted = bool(row.deleted)
        concealed = deleted or (row.hidden and not self._moderator)
        own = bool(row.own)
        return {
            "id": row.id,
            "parent_id": row.parent_id,
            "depth": row.depth,
            "author_name": "" if concealed else self._author_name(own, row, row.anonymous),
            "body_html": "" if concealed else row.body_html,
            "created_at": row.created_at,
            "edited": bool(row.edited),
            "deleted": deleted,
            "mine": own and not concealed,
            "reactions": {} if concealed else reactions,
            "anonymous": bool(row.anonymous),
            "endorsed": bool(row.endorsed),
            "hidden": bool(row.hidden),
            "body": row.body if not concealed and rules.may_edit(self._scope, own) else None,
            "my_reactions": [] if concealed else sorted(my_reactions),
        }
