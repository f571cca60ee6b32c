"""Discussion pages: the page a launch of a discussion placement lands on.

The page is rendered here around one small dependency-free script (``static/discussion.js``) that
drives the JSON API of ``api.py`` with the launch's session token as a bearer token (the token
travels in a ``<meta>`` tag, never in a URL). The texts the script shows come from here, so they
are translated with the rest of the page. ``bp`` only serves this package's templates and static
files; the widget catalogue hands :func:`render_page` to the launch as ``WidgetSpec.page``.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import gettext, ngettext

from bridge.tenancy.scope import Scope
from bridge.tenancy.service import PlacementView
from widgets.discussion import rules

bp = Blueprint(
    "discussion_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/discussion",
)

POLL_SECONDS = 15  # embedded mode polls; the scaled mode will push (server-sent events)
# Delivery targets that write to the LMS gradebook: a learner is told about these only (webhooks
# and learning record stores are the institution's business). The completions API does not mark
# a target as a gradebook, so the page is told their connector names.
GRADEBOOK_TARGETS = ("ags",)
# Reactions in the order the page shows them; a kind the rules add later shows under its own name.
REACTION_ORDER = ("like", "upvote", "thanks")


def _reaction_labels() -> list[tuple[str, str]]:
    labels = {"like": gettext("Like"), "upvote": gettext("Upvote"), "thanks": gettext("Thanks")}
    kinds = [kind for kind in REACTION_ORDER if kind in rules.REACTIONS]
    kinds += sorted(rules.REACTIONS - set(REACTION_ORDER))
    return [(kind, labels.get(kind, kind)) for kind in kinds]


def _plural(singular: str, plural: str) -> dict[str, str]:
    """Both English plural forms, with ``{n}`` where the number goes (the script picks one)."""
    return {"one": ngettext(singular, plural, 1), "other": ngettext(singular, plural, 2)}


def _script_strings() -> dict[str, object]:
    """Every text discussion.js builds at run time (the rest is in the template)."""
    return {
        "reactions": _reaction_labels(),
        "replies": _plural("{n} reply", "{n} replies"),
        "new_threads": _plural("{n} new thread", "{n} new threads"),
        "new_replies": _plural("{n} new reply", "{n} new replies"),
        "threads_active": _plural("{n} thread has new activity", "{n} threads have new activity"),
        "loaded_more": _plural("{n} more thread loaded", "{n} more threads loaded"),
        "started_by": gettext("Started by {name}"),
        "you": gettext("{name} (you)"),
        "last_activity": gettext("last activity {time}"),
        "posted": gettext("Posted {time}"),
        "thread_posted": gettext("Your thread was posted."),
        "reply_posted": gettext("Your reply was posted."),
        "post_updated": gettext("Your changes were saved."),
        "post_removed": gettext("The post was removed."),
        "reaction_given": gettext("{label}: {n}"),
        "reply_to": gettext("Reply to {name}"),
        "nothing_to_preview": gettext("Nothing to preview yet."),
        "loading": gettext("Loading…"),
        "no_threads": gettext("No threads yet."),
        "no_replies": gettext("No replies yet."),
        "checked_at": gettext("Checks for new posts every {n} seconds. Last checked {time}."),
        "not_connected": gettext("Not connected."),
        "session_ended": gettext(
            "Your session has ended. Reopen this activity from your course to continue."
        ),
        "network": gettext(
            "Social Bridge could not be reached. Check your connection; it will try again."
        ),
        "unexpected": gettext("Something went wrong. Please try again."),
        "retry_after": gettext("Try again in {n} seconds."),
        "reference": gettext("Reference: {id}"),
        "fields": {"title": gettext("Title"), "body": gettext("Message")},
        "someone": gettext("Course member"),
        "accept": gettext("Accept answer"),
        "accepted": gettext("Accepted"),
        "answer_accepted": gettext("Answer accepted."),
        "answer_cleared": gettext("The answer is no longer marked as accepted."),
        "pin": gettext("Pin"),
        "unpin": gettext("Unpin"),
        "lock": gettext("Lock"),
        "unlock": gettext("Unlock"),
        "endorse": gettext("Endorse"),
        "unendorse": gettext("Withdraw endorsement"),
        "hide": gettext("Hide"),
        "show": gettext("Show"),
        "follow": gettext("Follow"),
        "unfollow": gettext("Unfollow"),
        "saved": gettext("Done."),
        "flag": gettext("Flag"),
        "flagged": gettext("Flagged"),
        "flag_sent": gettext("Thank you. The moderators will look at this post."),
        "flag_in": gettext("Flagged post in “{title}”"),
        "flagged_at": gettext("Flagged {time}"),
        "no_reason": gettext("No reason given."),
        "flag_resolved": gettext("The flag was resolved."),
        "no_flags": gettext("No open flags."),
        "unknown_thread": gettext("a thread"),
        "notification_kinds": {
            "reply": gettext("{name} replied to your post in"),
            "mention": gettext("{name} mentioned you in"),
            "accepted": gettext("{name} accepted your answer in"),
            "followed": gettext("{name} replied in a thread you follow:"),
        },
        "notification_other": gettext("{name}, activity in"),
        "actor_unknown": gettext("Someone"),
        "no_notifications": gettext("No notifications yet."),
        "unread": _plural("({n} unread)", "({n} unread)"),
        "completion": _completion_strings(),
    }


def _completion_strings() -> dict[str, object]:
    """The texts of the completion panel (instructors) and of "Your progress" (learners)."""
    return {
        "version": gettext("Current rule: version {n}."),
        "no_rule": gettext(
            "No completion rule yet: learners see no progress here until you save one."
        ),
        "saved": gettext(
            "Completion rule saved as version {n}. Learners' progress was brought up to date."
        ),
        "unchanged": gettext("Nothing changed: the rule is still version {n}."),
        "count_for": gettext("for “{label}”"),
        "whole_number": gettext("Enter a whole number of at least 1 for “{label}”."),
        "choose_one": gettext("Choose at least one criterion."),
        "problem_in": gettext("“{label}”: "),
        "met": gettext("{n} of {total}"),
        "not_yet": gettext("Not yet"),
        "no_learners": gettext("No learners have opened this activity yet."),
        "needs_rule": gettext("Save a completion rule to follow learners' progress here."),
        "learners_updated": gettext("Learners' progress updated."),
        "delivered": gettext("{target}: delivered"),
        "waiting": gettext("{target}: waiting to be sent"),
        "retrying": _plural(
            "{target}: retrying ({n} attempt)", "{target}: retrying ({n} attempts)"
        ),
        "failed": _plural(
            "{target}: failed after {n} attempt", "{target}: failed after {n} attempts"
        ),
        "reason": gettext("{status} — {reason}"),
        "no_targets": gettext("No delivery targets"),
        "nothing_sent": gettext("Nothing to send yet"),
        "summary": gettext("{n} of {total} criteria met."),
        "completed_on": gettext("Completed on {time}."),
        "gradebook_sent": gettext("Sent to your LMS gradebook on {time}."),
        "gradebook_waiting": gettext("Waiting to be sent to your LMS gradebook."),
        "gradebook_retrying": gettext(
            "Could not be sent to your LMS gradebook yet; it will be retried."
        ),
        "gradebook_failed": gettext(
            "Could not be sent to your LMS gradebook. Your instructor can see why."
        ),
        "now_met": gettext("Progress: “{label}” is done."),
        "now_complete": gettext("You have completed this activity."),
    }


def render_page(scope: Scope, view: PlacementView, token: str) -> str:
    """The discussion page of a fresh launch, carrying its session token for the page's script."""
    api_root = url_for("discussion.preview").removesuffix("/preview")
    completions_api = url_for("completions.get_rules").removesuffix("/rules")
    return render_template(
        "discussion/page.html",
        view=view,
        can_post=scope.access.can_post,
        can_moderate=scope.access.can_moderate,
        session_token=token,
        api_root=api_root,
        completions_api=completions_api,
        gradebook_targets=" ".join(GRADEBOOK_TARGETS),
        session_api=url_for("shell.get_session"),
        poll_seconds=POLL_SECONDS,
        max_title=rules.MAX_TITLE,
        max_body=rules.MAX_BODY,
        strings=_script_strings(),
    )
