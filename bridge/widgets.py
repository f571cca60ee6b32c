"""The widget catalogue type. ``widgets/registry.py`` fills it and the app factory puts it on the
app, so ``bridge`` and ``lti`` read the widgets at run time without importing ``widgets/``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app

from bridge.completions.criteria import CriterionSpec

EXTENSION_KEY = "bridge.widgets"


@dataclass(frozen=True)
class WidgetSpec:
    name: str
    title: str
    description: str
    blueprint: Blueprint | None = None
    events: tuple[str, ...] = ()
    criteria: tuple[CriterionSpec, ...] = ()  # what its completion rules can ask for
    # Renders the widget's own page after a launch: page(scope, placement_view, session_token) -> HTML.
    # Without one, the generic shell stands in.
    page: Callable[..., Any] | None = None


@dataclass(frozen=True)
class WidgetCatalogue:
    widgets: Sequence[WidgetSpec]
    default: str = field(default="discussion")

    def __post_init__(self) -> None:
        if self.default not in self.names():
            raise ValueError(f"default widget {self.default!r} is not in the catalogue")

    def __iter__(self) -> Iterator[WidgetSpec]:
        return iter(self.widgets)

    def names(self) -> list[str]:
        return [widget.name for widget in self.widgets]

    def get(self, name: str) -> WidgetSpec | None:
        return next((widget for widget in self.widgets if widget.name == name), None)

    def criteria(self) -> dict[str, CriterionSpec]:
        """Every widget's criteria by key."""
        return {spec.key: spec for widget in self.widgets for spec in widget.criteria}


def current_catalogue() -> WidgetCatalogue:
    return current_app.extensions[EXTENSION_KEY]
