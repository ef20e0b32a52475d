"""Rolling-window request counters, the way vendors describe their limits ("190 requests per 10 seconds")."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|sec|m|min)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max_requests`` in any rolling window of ``interval_s`` seconds."""

    max_requests: int
    interval_s: float

    @property
    def interval_ms(self) -> int:
        return round(self.interval_s * 1000)

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"190/10s"``, ``"4/1s"``, ``"100/10"`` (seconds), ``"600/1m"``, ``"50/500ms"``."""
        m = _RATE.match(text)
        if not m:
            raise ValueError(f"'{text}' is not a rate; write it as REQUESTS/INTERVAL, e.g. 190/10s")
        count = int(m.group(1))
        amount = float(m.group(2) or 1)
        unit = (m.group(3) or "s").lower()
        seconds = amount / 1000 if unit == "ms" else amount * 60 if unit in ("m", "min") else amount
        if count < 1 or seconds <= 0:
            raise ValueError(f"'{text}' must allow at least one request in a positive interval")
        return cls(count, seconds)

    def __str__(self) -> str:
        return f"{self.max_requests}/{self.interval_s:g}s"


class RollingWindow:
    """Counts accepted hits per key; a hit is refused when the window already holds ``max_requests``.

    Refused hits are not recorded, so a client that waits for the window to move always gets through.
    """

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._hits: dict[str, deque[float]] = {}

    def _window(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        edge = now - self.limit.interval_s
        while hits and hits[0] <= edge:
            hits.popleft()
        return hits

    def try_hit(self, key: str, now: float) -> tuple[bool, int]:
        """Record a hit if allowed; returns ``(allowed, remaining after this hit)``."""
        hits = self._window(key, now)
        if len(hits) >= self.limit.max_requests:
            return False, 0
        hits.append(now)
        return True, self.limit.max_requests - len(hits)

    def remaining(self, key: str, now: float) -> int:
        return self.limit.max_requests - len(self._window(key, now))

    def reset(self) -> None:
        self._hits.clear()
