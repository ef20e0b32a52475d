"""The client-side rate limiter: "at most N calls in any window of T seconds", counted conservatively, fed back by
the vendor's rate-limit headers."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from ..base import RateLimit
from .rate_info import RateInfo

log = logging.getLogger(__name__)

_OBSERVE_SLACK = 1.0  # seconds


@dataclass(slots=True)
class _Slot:
    start: float
    end: float = math.inf  # in flight until released


class SlidingWindowLimiter:
    """At most ``limit.requests`` calls in any window of ``limit.per_seconds`` seconds, for one connection.

    Conservative by construction: a call occupies its slot from the moment it is sent until ``per_seconds``
    after its answer arrived. The vendor counts a call when it arrives, which is somewhere in between, so no
    window the vendor can observe ever holds more than the limit, whatever the network latency. Waiters are
    served in order (one lock), so a burst of tasks cannot starve one of them.

    The vendor's own rate-limit headers feed back through :meth:`observe`: a lower published maximum lowers
    ours, calls the vendor counts in its window that are not ours (another command of this data folder a moment
    ago, another app on the same token) take slots too, and "0 remaining" pauses us.

    Across processes: :meth:`recent` gives the window's calls as wall-clock times for the connection's kept
    state, and :meth:`seed` takes those of the command that ran just before (:class:`WindowKeeper`), so a
    command started right after another does not begin with an empty window while the vendor still counts the
    other's calls. With ``probe``, a fresh limiter sends one call and reads the vendor's headers before sending
    more (the window may hold calls nothing told us about).
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        probe: bool = False,
    ) -> None:
        self.limit = limit
        self.name = name or str(limit)
        self._clock = clock
        self._probing = probe
        self.account = ""  # the connection whose window this is (shared_limiter); a private limiter names none
        self.seeded: set[str] = set()  # the kept windows of other commands already taken (WindowKeeper.load)
        self._slots: list[_Slot] = []
        self._paused_until = 0.0
        self._lock: asyncio.Lock | None = None
        self._released: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.waited = 0.0

    def _sync(self) -> tuple[asyncio.Lock, asyncio.Event]:
        # One limiter may outlive an event loop (shared by the plan and the run of an export, each in its own
        # asyncio.run): its lock and event belong to the loop that uses them.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._released is None or self._loop is not loop:
            self._lock, self._released, self._loop = asyncio.Lock(), asyncio.Event(), loop
        return self._lock, self._released

    def _prune(self, now: float) -> None:
        horizon = now - self.limit.per_seconds
        self._slots = [s for s in self._slots if s.end > horizon]

    async def acquire(self) -> _Slot:
        return (await self.acquire_many(1))[0]

    async def acquire_many(self, count: int) -> list[_Slot]:
        """``count`` slots taken together, for one request the vendor counts as several (each operation of a
        batch): all or none, so requests taking several slots at once never each hold part of the window while
        waiting for the rest. More than the window holds is taken as the whole window."""
        return await self.acquire_up_to(count, at_least=count)

    async def acquire_up_to(self, count: int, *, at_least: int = 1) -> list[_Slot]:
        """As many slots as are free, up to ``count``, once at least ``at_least`` are: for a batch whose size is
        free (it sends as many operations as it got slots), so the end of a window is used rather than waited
        out by a batch that does not fit whole."""
        count = max(1, min(count, self.limit.requests))
        at_least = max(1, min(at_least, count))
        lock, released = self._sync()
        async with lock:
            started = self._clock()
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._prune(now)
                probing = self._probing and any(s.end == math.inf for s in self._slots)
                free = self.limit.requests - len(self._slots)
                if free >= at_least and not probing:
                    slots = [_Slot(start=now) for _ in range(min(count, free))]
                    self._slots.extend(slots)
                    self.calls += len(slots)
                    self.waited += now - started
                    return slots
                finished = [s.end for s in self._slots if s.end != math.inf]
                timeout = (min(finished) + self.limit.per_seconds - now) if finished else None
                released.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(released.wait(), timeout=timeout)

    def release(self, slot: _Slot) -> None:
        slot.end = self._clock()
        # The first answer is in (its headers are observed before another task runs): stop probing.
        self._probing = False
        if self._released is not None:
            self._released.set()

    def recent(self, wall: Callable[[], float] = time.time) -> list[float]:
        """The calls still counting in the window, as the wall-clock moments their slots end (a call in flight
        ends now), for another process to :meth:`seed` from."""
        now = self._clock()
        offset = wall() - now
        self._prune(now)
        return sorted(round(min(s.end, now) + offset, 3) for s in self._slots)

    def seed(self, ends: Sequence[float], wall: Callable[[], float] = time.time) -> int:
        """Take slots for calls another process made (their ends as wall-clock moments, from :meth:`recent`):
        each holds its place until ``per_seconds`` after its end, as our own calls do. Returns how many count."""
        now = self._clock()
        offset = wall() - now
        horizon = now - self.limit.per_seconds
        taken = [t for t in (min(now, float(e) - offset) for e in ends) if t > horizon][-self.limit.requests:]
        self._slots.extend(_Slot(start=t, end=t) for t in taken)
        return len(taken)

    @asynccontextmanager
    async def slot(self, count: int = 1) -> AsyncIterator[None]:
        """Holds ``count`` slots (see :meth:`acquire_many`) while the block runs."""
        taken = await self.acquire_many(count)
        try:
            yield
        finally:
            for s in taken:
                self.release(s)

    def paused_for(self) -> float:
        """Seconds until calls may start again after a :meth:`pause` (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def pause(self, seconds: float) -> None:
        """Let no call start for ``seconds`` (after a 429, or when the vendor says 0 calls remain)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, info: RateInfo) -> None:
        same_window = bool(info.interval_seconds) and info.interval_seconds == self.limit.per_seconds
        if same_window and info.maximum and info.maximum < self.limit.requests:
            log.info(
                "%s: the vendor allows %d calls per %gs, fewer than the configured %d; using its figure",
                self.name, info.maximum, info.interval_seconds, self.limit.requests,
            )
            self.limit = RateLimit(info.maximum, self.limit.per_seconds)
        if same_window and info.maximum and info.remaining is not None:
            # The vendor counts more calls in its window than we hold slots for (ours are counted back a little
            # further, so our own calls are all among them): the others are someone else's. They take slots
            # from now on, freed a window later, as if they had just been answered.
            now = self._clock()
            horizon = now - self.limit.per_seconds - _OBSERVE_SLACK
            ours = sum(1 for s in self._slots if s.end > horizon)
            others = min(self.limit.requests, info.maximum - info.remaining) - ours
            if others > 0:
                log.info("%s: %d calls of others in the window; taking them into account", self.name, others)
                self._slots.extend(_Slot(start=now, end=now) for _ in range(others))
        if info.remaining == 0 and info.interval_seconds:
            # "0 remaining" while our own window is full is just us at the limit: the window frees slots one by
            # one, and pausing a whole interval would waste most of it. Pause only when others use the allowance.
            # (Our slots are counted back a little further than the vendor's window, which it measured when the
            # request arrived, a moment before we read its answer.)
            horizon = self._clock() - self.limit.per_seconds - _OBSERVE_SLACK
            ours = sum(1 for s in self._slots if s.end > horizon)
            if ours < self.limit.requests:
                self.pause(info.interval_seconds)

