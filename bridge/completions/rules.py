"""Pure decisions: checking a rule's criteria, and where a learner stands against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bridge.completions.criteria import CriterionSpec
from bridge.completions.models import ScoreMode
from bridge.errors import InvalidInputError

SCORE_QUANTUM = Decimal("0.0001")
MAX_CRITERIA = 12
#: Its own code, so the specific reason reaches the page (``invalid_input`` shows a generic text).
RULE_ERROR = "invalid_completion_rule"


@dataclass(frozen=True)
class Standing:
    met: tuple[str, ...]  # criterion keys met, in the rule's order
    score: Decimal  # 0-1
    complete: bool


def check_criteria(
    raw: Any, available: Mapping[str, CriterionSpec], widget: str
) -> list[dict[str, int | str]]:
    """The criteria an instructor asked for, normalised; every problem listed at once."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(
            "Choose at least one criterion.", code=RULE_ERROR, details={"field": "criteria"}
        )
    problems: list[str] = []
    seen: set[str] = set()
    cleaned: list[dict[str, int | str]] = []
    for index, item in enumerate(raw[: MAX_CRITERIA + 1]):
        key = item.get("key") if isinstance(item, dict) else None
        count = item.get("count") if isinstance(item, dict) else None
        spec = available.get(key) if isinstance(key, str) else None
        if spec is None or not key.startswith(widget + "."):
            problems.append(f"criteria[{index}]: unknown criterion {key!r} for this widget")
            continue
        if key in seen:
            problems.append(f"criteria[{index}]: {key} is listed twice")
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 1 <= count <= spec.max_count
        ):
            problems.append(
                f"criteria[{index}]: count must be a whole number from 1 to {spec.max_count}"
            )
            continue
        seen.add(key)
        cleaned.append({"key": key, "count": count})
    if len(raw) > MAX_CRITERIA:
        problems.append(f"at most {MAX_CRITERIA} criteria")
    if problems:
        raise InvalidInputError(
            "The completion rule is not valid.",  # each problem in ``details.problems``
            code=RULE_ERROR,
            details={"field": "criteria", "problems": problems},
        )
    return cleaned


def check_score_mode(value: Any) -> str:
    if value not in (ScoreMode.COMPLETION, ScoreMode.PROGRESS):
        raise InvalidInputError(
            "score_mode must be completion or progress.", details={"field": "score_mode"}
        )
    return value


def standing(
    criteria: Sequence[Mapping[str, Any]], counts: Mapping[str, int], mode: str
) -> Standing:
    met = tuple(c["key"] for c in criteria if counts.get(c["key"], 0) >= c["count"])
    complete = bool(criteria) and len(met) == len(criteria)
    if mode == ScoreMode.PROGRESS and criteria:
        score = (Decimal(len(met)) / Decimal(len(criteria))).quantize(SCORE_QUANTUM, ROUND_DOWN)
    else:
        score = Decimal(1) if complete else Decimal(0)
    return Standing(met, score, complete)


def should_record(previous_met: Sequence[str], now: Standing, mode: str, completed: bool) -> bool:
    """A ledger entry is due when the learner completes, or (progress mode) meets a new criterion."""
    if completed:
        return False
    if now.complete:
        return True
    return mode == ScoreMode.PROGRESS and set(now.met) > set(previous_met)
