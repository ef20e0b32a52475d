"""Holding Python's cycle collector off for a short burst of allocations (a plan's decisions, a journal written):
with a large plan in memory a full collection walks every object (tens of milliseconds each time); such a burst
allocates nothing cyclic and ends in well under a second, and the collector runs as usual after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cycle collection while the block runs (nested or already disabled: left as it was)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
