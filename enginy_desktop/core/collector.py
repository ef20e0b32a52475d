"""Holding Python's cycle collector off while a burst of work allocates many small objects and no reference
cycles (matching, an import's chunks, an export plan's decisions and journal): with a large heap a full collection
walks every object (tens of milliseconds each time) for nothing; reference counting still frees everything, and
the collector runs as usual after the block."""

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
