"""Retries: exponential back-off with jitter, bounded by what a caller is willing to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits between half and all of
    ``min(max_delay, base_delay * 2**(n-1))``.

    A ``Retry-After`` (or the vendor's interval) replaces the computed delay when longer; a wait longer than
    ``max_wait`` is not worth holding a run for and the error is raised instead.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        computed = self.backoff(attempt)
        return max(computed, retry_after) if retry_after is not None else computed


NO_RETRY = RetryPolicy(max_attempts=1)


def default_retry() -> RetryPolicy:
    """The policy of a client opened without one (a function, so a test suite can shorten its back-off)."""
    return RetryPolicy()
