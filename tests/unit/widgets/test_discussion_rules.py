"""Markdown rendering with raw HTML off, then nh3 with an explicit allow-list."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from widgets.discussion.rules import render_markdown

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    '<a href="javascript:alert(1)">x</a>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "![x](javascript:alert(1))",
]


class Elements(HTMLParser):
    """Every element and attribute the browser would build from the output (text is harmless)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("payload", XSS)
def test_no_script_survives_rendering(payload):
    for tag, attrs in elements(render_markdown(payload)):
        assert tag not in {"script", "img", "svg", "math", "iframe", "style", "object"}, tag
        assert not any(name.startswith("on") or name == "style" for name in attrs), attrs
        assert not attrs.get("href", "").lower().strip().startswith(("javascript", "data")), attrs


def test_markdown_renders_and_links_get_rel():
    html = render_markdown("**bold** and [site](https://example.edu)")
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.edu"' in html and 'rel="nofollow noopener noreferrer"' in html
