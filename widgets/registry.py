"""The widgets, listed explicitly (no directory scanning).

Each widget's blueprint, events and completion criteria arrive with its own issue.
"""

from __future__ import annotations

from bridge.completions.criteria import (
    PER_OBJECT_AND_ACTOR,
    SUBJECT,
    CriterionSpec,
)
from bridge.widgets import WidgetCatalogue, WidgetSpec
from widgets.discussion import api as discussion_api
from widgets.discussion import views as discussion_views

CATALOGUE = WidgetCatalogue(
    widgets=(
        WidgetSpec(
            name="discussion",
            title="Discussion",
            description="Threads, replies and reactions for the course.",
            blueprint=discussion_api.bp,
            events=(
                "discussion.thread_created",
                "discussion.reply_created",
                "discussion.reaction_given",
                "discussion.answer_accepted",
                "discussion.post_endorsed",
            ),
            criteria=(
                CriterionSpec(
                    "discussion.threads_started",
                    "Threads to start: {count}",
                    "discussion.thread_created",
                ),
                CriterionSpec(
                    "discussion.peer_replies",
                    "Replies to peers' posts: {count}",
                    "discussion.reply_created",
                    peers_only=True,
                ),
                CriterionSpec(
                    "discussion.reactions_received",
                    "Reactions to receive from peers: {count}",
                    "discussion.reaction_given",
                    who=SUBJECT,
                    distinct=PER_OBJECT_AND_ACTOR,
                    peers_only=True,
                ),
                CriterionSpec(
                    "discussion.answers_accepted",
                    "Answers to have accepted: {count}",
                    "discussion.answer_accepted",
                    who=SUBJECT,
                    peers_only=True,  # accepting one's own answer earns nothing
                ),
            ),
            page=discussion_views.render_page,
        ),
        WidgetSpec(
            name="video",
            title="Peer video",
            description="Share and watch short videos, with timestamped comments.",
        ),
        WidgetSpec(
            name="kb",
            title="Knowledge base",
            description="Articles and answers the course writes together, searchable.",
        ),
    ),
    default="discussion",
)
