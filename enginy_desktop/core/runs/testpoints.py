"""Named points where the reliability tests make a run wait, so a kill lands exactly there.

``ENGINY_PAUSE_AT="journal=2.5"`` makes :func:`pause_point("journal")` sleep 2.5 seconds (several points are
separated by commas); with ``ENGINY_PAUSE_MARK=FILE`` the point's name is appended to FILE first, so a test knows
the process is there. Without the variables — always, outside those tests — a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time

__all__ = ["pause_point"]


def _points() -> dict[str, float]:
    spec = os.environ.get("ENGINY_PAUSE_AT", "")
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, seconds = part.partition("=")
        if name.strip():
            try:
                out[name.strip()] = float(seconds or "0")
            except ValueError:
                continue
    return out


_POINTS = _points()


def pause_point(name: str) -> None:
    """Sleep here when the environment asks for it (see the module's text)."""
    delay = _POINTS.get(name)
    if delay:
        mark = os.environ.get("ENGINY_PAUSE_MARK")
        if mark:
            with open(mark, "a", encoding="utf-8") as fh:
                fh.write(name + "\n")
        time.sleep(delay)
