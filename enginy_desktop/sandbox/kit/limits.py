"""Limits as vendors describe them: rolling windows ("190 requests per 10 seconds", also used for short burst
limits such as "80 per 2 s") and budgets that a period refills ("625,000 requests a day", "30,000 tokens a day",
"500 credits a month"), with a cost per operation."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

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

    def wait_s(self, key: str, now: float) -> float:
        """Seconds until this window accepts a hit again (0 when it would now): a ``Retry-After``."""
        hits = self._window(key, now)
        if len(hits) < self.limit.max_requests:
            return 0.0
        return max(0.0, hits[0] + self.limit.interval_s - now)

    def reset(self) -> None:
        self._hits.clear()


class WindowSetting:
    """One rolling-window limit that the control API reads and changes, or turns off: ``as_json()`` is
    ``{name: max requests or None, "window_s": seconds}`` and ``update({name: N | "off" | None})`` sets it
    (``ValueError`` for another name). ``window`` is None while it is off."""

    def __init__(self, name: str, max_requests: int | None, interval_s: float) -> None:
        self.name = name
        self.interval_s = interval_s
        self.window = RollingWindow(RateLimit(max_requests, interval_s)) if max_requests else None

    def as_json(self) -> dict[str, int | float | None]:
        return {self.name: self.window.limit.max_requests if self.window else None, "window_s": self.interval_s}

    def update(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if key != self.name:
                raise ValueError(f"unknown limit '{key}' ({self.name})")
            self.window = None if value in (None, "off") else RollingWindow(
                RateLimit(int(value), self.interval_s))

    def reset(self) -> None:
        if self.window is not None:
            self.window.reset()


Period = Literal["day", "month", "never"]


def _period_key(period: Period, wall: float) -> tuple[int, ...]:
    if period == "never":
        return ()
    d = datetime.fromtimestamp(wall, UTC)
    return (d.year, d.month, d.day) if period == "day" else (d.year, d.month)


class Budget:
    """Units a key may spend per period (UTC day, calendar month, or never refilled): daily request
    allocations, daily token budgets where each operation costs a number of tokens, credit balances.

    ``limit`` may be changed at any time (the control API does); spending more than is left is refused and
    spends nothing.
    """

    def __init__(self, limit: int, period: Period = "day", wall_clock: Callable[[], float] | None = None) -> None:
        if limit < 0:
            raise ValueError("a budget cannot be negative")
        self.limit = limit
        self.period = period
        self._wall = wall_clock
        self._used: dict[str, tuple[tuple[int, ...], int]] = {}

    def _now(self, wall: float | None) -> float:
        if wall is not None:
            return wall
        import time

        return (self._wall or time.time)()

    def used(self, key: str, wall: float | None = None) -> int:
        stamp = _period_key(self.period, self._now(wall))
        period, used = self._used.get(key, (stamp, 0))
        return used if period == stamp else 0

    def remaining(self, key: str, wall: float | None = None) -> int:
        return max(0, self.limit - self.used(key, wall))

    def spend(self, key: str, cost: int = 1, wall: float | None = None) -> tuple[bool, int]:
        """Spend ``cost`` units if that many are left; returns ``(allowed, remaining afterwards)``."""
        stamp = _period_key(self.period, self._now(wall))
        period, used = self._used.get(key, (stamp, 0))
        if period != stamp:
            used = 0
        if used + cost > self.limit:
            return False, max(0, self.limit - used)
        self._used[key] = (stamp, used + cost)
        return True, self.limit - used - cost

    def reset(self) -> None:
        self._used.clear()
