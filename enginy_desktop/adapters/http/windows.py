"""One limiter per connection for the whole process, and its window carried from one command to the next."""

from __future__ import annotations

import hashlib
import json as jsonlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

from ..base import RateLimit
from .limiter import SlidingWindowLimiter

log = logging.getLogger(__name__)

_SHARED: dict[tuple[str, str], tuple[RateLimit, SlidingWindowLimiter]] = {}
_SHARED_LOCK = threading.Lock()


def connection_account(base_url: str, credential: str) -> str:
    """Names one connection's allowance (the API base URL and a hash of its credential, never the credential)."""
    return f"{base_url.rstrip('/')}|{hashlib.sha256(credential.encode()).hexdigest()[:16]}"


def shared_limiter(account: str, limit: RateLimit, name: str, *, probe: bool = False) -> SlidingWindowLimiter:
    """The limiter of one connection's window, the same object for every adapter of the process: the plan of an
    export, its run, its retries, a resume and the wizard each open their own adapter, and together they never
    send more than the window allows (a fresh limiter per adapter would start with an empty window while the
    vendor still counts the previous adapter's calls: 429s at every hand-over). ``account`` comes from
    :func:`connection_account`. What the vendor's headers taught the limiter (a lower maximum, a pause) stays
    with it; a different configured ``limit`` (another plan or tier) starts a new one. ``probe``: a new limiter
    reads the vendor's headers on one call before sending more (see :class:`SlidingWindowLimiter`)."""
    with _SHARED_LOCK:
        key = (account, name)
        found = _SHARED.get(key)
        if found is None or found[0] != limit:
            found = _SHARED[key] = (limit, SlidingWindowLimiter(limit, name=name, probe=probe))
            found[1].account = account
        return found[1]


# A process's name in kept state: its pid and start time (a pid alone may come back in a later command).
_PROCESS_ID = f"{os.getpid()}-{time.time():.3f}"


class WindowKeeper:
    """Carries one connection's recent window from a command to the next through the connection's kept state
    (``Connection.load_state``/``save_state``, the data folder's store): :meth:`load` seeds the limiter with the
    calls the previous command (another process) made in the last window, :meth:`save` keeps this process's.
    A process never seeds from its own figures (its limiter already holds them), nor twice from the same save.
    A pause the vendor asked for (a 429's ``Retry-After``, "0 remaining") is carried too, until it ends."""

    def __init__(self, limiter: SlidingWindowLimiter, account: str,
                 load: Callable[[str], str | None] | None, save: Callable[[str, str], None] | None) -> None:
        self.limiter = limiter
        self._load, self._save = load, save
        self._name = "rate-window-" + hashlib.sha256(f"{account}|{limiter.name}".encode()).hexdigest()[:16]

    def load(self) -> int:
        """Seed the limiter from the window another command kept; returns the calls taken."""
        if self._load is None:
            return 0
        try:
            data = jsonlib.loads(self._load(self._name) or "{}")
        except Exception as exc:  # unreadable, or the store is busy or closed: start without it
            log.warning("Could not read the kept rate-limit window of %s: %s", self.limiter.name, exc)
            return 0
        if not isinstance(data, dict) or data.get("pid") == _PROCESS_ID:
            return 0
        stamp = f"{data.get('pid')}@{data.get('at')}"
        if stamp in self.limiter.seeded:
            return 0
        self.limiter.seeded.add(stamp)
        paused = data.get("paused_until")
        if isinstance(paused, int | float):
            self.limiter.pause(paused - time.time())
        ends = [e for e in data.get("ends") or [] if isinstance(e, int | float)]
        return self.limiter.seed(ends)

    def save(self) -> None:
        if self._save is None:
            return
        now = time.time()
        kept: dict[str, object] = {"pid": _PROCESS_ID, "at": round(now, 3), "ends": self.limiter.recent()}
        if self.limiter.paused_for() > 0:
            kept["paused_until"] = round(now + self.limiter.paused_for(), 3)
        try:
            self._save(self._name, jsonlib.dumps(kept))
        except Exception as exc:  # the store is busy, closed or full: keeping the window never fails a command
            log.warning("Could not keep the rate-limit window of %s: %s", self.limiter.name, exc)


class KeptWindows:
    """The windows one client's connection carries from a command to the next: a :class:`WindowKeeper` for each
    limiter of the connection the client uses (its limiter, pacers and a request's extra limiters, such as a search
    window), seeded from the kept state the first time the client meets it and kept when the client closes. Only a
    connection's own limiters (from :func:`shared_limiter`) are carried: a private one names no connection, and a
    pace or a politeness guard the vendor does not count is not worth carrying. Without ``load``/``save`` (an
    adapter opened on its own, with no data folder) nothing is carried."""

    def __init__(self, load: Callable[[str], str | None] | None, save: Callable[[str, str], None] | None) -> None:
        self._load, self._save = load, save
        self._keepers: dict[int, WindowKeeper] = {}

    def take(self, limiters: Iterable[SlidingWindowLimiter | None]) -> None:
        if self._load is None and self._save is None:
            return
        for lim in limiters:
            if lim is not None and lim.account and id(lim) not in self._keepers:
                keeper = self._keepers[id(lim)] = WindowKeeper(lim, lim.account, self._load, self._save)
                keeper.load()

    def save(self) -> None:
        for keeper in self._keepers.values():
            keeper.save()


def forget_limiters() -> None:
    """Drop every shared limiter (a test standing for a fresh process)."""
    with _SHARED_LOCK:
        _SHARED.clear()
