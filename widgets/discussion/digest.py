"""The optional email digest: unread discussion notifications, one email per member and placement.

An admin job (``bridge discussion digest``, e.g. daily from cron), off unless
``discussion_email_digest`` is set. Emails name the course, the threads and who acted (never an
anonymous author), never post bodies; each notification is mailed once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db import utcnow
from bridge.tenancy.models import Context, ResourceLink, User
from widgets.discussion.models import Notification, Thread

WHAT = {
    "reply": "{actor} replied to you in “{title}”",
    "mention": "{actor} mentioned you in “{title}”",
    "accepted": "your answer in “{title}” was accepted",
    "followed": "{actor} posted in “{title}”, which you follow",
}


@dataclass(frozen=True)
class DigestEmail:
    to: str
    subject: str
    text: str


def _line(notification: Notification, title: str) -> str:
    actor = notification.actor_name or "Someone"
    return "- " + WHAT.get(notification.kind, "{actor} in “{title}”").format(
        actor=actor, title=title
    )


def _text(place: str, items: list[tuple[Notification, str]]) -> str:
    lines = [f"New in {place}:", "", *(_line(n, title) for n, title in items), ""]
    return "\n".join([*lines, "Open the activity from your course to read and answer."])


def pending_digests(session: Session) -> tuple[list[DigestEmail], list[Notification]]:
    """The emails to send now, and the notifications they cover (to mark once sent)."""
    rows = session.execute(
        select(Notification, Thread.title, User, ResourceLink.title, Context.title)
        .join(Thread, Thread.id == Notification.thread_id)
        .join(User, User.id == Notification.user_id)
        .join(ResourceLink, ResourceLink.id == Notification.resource_link_id)
        .join(Context, Context.id == ResourceLink.context_id)
        .where(Notification.read_at.is_(None), Notification.emailed_at.is_(None), User.email != "")
        .order_by(Notification.created_at)
    ).all()
    groups: dict[tuple[str, str], list[tuple[Notification, str]]] = defaultdict(list)
    places: dict[tuple[str, str], str] = {}
    for notification, title, user, placement, course in rows:
        key = (user.email, str(notification.resource_link_id))
        groups[key].append((notification, title))
        places[key] = " · ".join(filter(None, (course, placement))) or "your course"
    emails = [
        DigestEmail(
            to=email,
            subject=f"{len(items)} new in the discussion of {places[(email, link)]}",
            text=_text(places[(email, link)], items),
        )
        for (email, link), items in groups.items()
    ]
    return emails, [n for n, *_ in rows]


def mark_emailed(notifications: list[Notification]) -> None:
    now = utcnow()
    for notification in notifications:
        notification.emailed_at = now
