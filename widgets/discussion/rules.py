"""Pure decisions of the discussion widget: rendering user text safely, limits, who may do what."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from bridge.tenancy.scope import Scope

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_DEPTH = 2  # replies to replies, as Ed and Piazza do
REACTIONS = frozenset({"like", "upvote", "thanks"})

# Markdown with raw HTML off (it is escaped), then an explicit allow-list: nh3's defaults are broad.
_MARKDOWN = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable("strikethrough")
    .enable("table")
)
ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML: links get rel="nofollow noopener"; scripts never survive."""
    html = _MARKDOWN.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def clean(text: str) -> str:
    """User text without NUL characters, which PostgreSQL text cannot hold (and nobody means)."""
    return text.replace("\x00", "")


def normalise_title(title: str) -> str:
    return " ".join(clean(title).split())


def may_edit(scope: Scope, is_author: bool) -> bool:
    """The author of a post and the placement's moderators may edit or remove it."""
    return is_author or scope.access.can_moderate
