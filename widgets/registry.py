"""The widgets, listed explicitly (no directory scanning).

Each widget's blueprint, events and completion criteria arrive with its own issue.
"""

from __future__ import annotations

from bridge.widgets import WidgetCatalogue, WidgetSpec

CATALOGUE = WidgetCatalogue(
    widgets=(
        WidgetSpec(
            name="discussion",
            title="Discussion",
            description="Threads, replies and reactions for the course.",
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
