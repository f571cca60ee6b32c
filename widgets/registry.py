"""The widgets, listed explicitly (no directory scanning).

Each widget's blueprint, events and completion criteria arrive with its own issue.
"""

from __future__ import annotations

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
