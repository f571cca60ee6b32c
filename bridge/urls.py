"""The tool's external URLs: from ``public_url`` when set (behind a proxy), else from the request."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from bridge.runtime import runtime


def tool_base_url() -> str:
    configured = runtime().settings.public_url
    return (configured or request.host_url).rstrip("/")


def tool_url(path: str) -> str:
    return tool_base_url() + path


def sandbox_base_url() -> str:
    configured = runtime().settings.sandbox_url
    return (configured or tool_base_url() + "/sandbox").rstrip("/")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_tool_url(url: str) -> bool:
    """True when the URL points into this tool (same origin, under its base path)."""
    base = urlsplit(tool_base_url())
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower()) and (
        parts.path + "/"
    ).startswith(base.path.rstrip("/") + "/")
