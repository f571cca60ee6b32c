"""Pure decisions of delivery: when to try again, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(
        self, attempts: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Exponential backoff with "equal jitter" (half fixed, half random), never sooner than the
        target's ``Retry-After``: spreads retries from many rows without starving any of them."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        jittered = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
        return max(jittered, min(retry_after or 0.0, self.max_seconds))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
