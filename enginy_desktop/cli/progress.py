"""Progress of a run as whole lines on standard error, shared by the commands that run long."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


class ProgressLines:
    """Prints progress lines: a new phase at once, then at most one line every ``interval`` seconds, a phase's
    last count always, and never the same line twice in a row (a run publishes its last snapshot again when it
    ends, which printed the final count twice)."""

    def __init__(self, stream: TextIO, *, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.interval, self.clock = stream, interval, clock
        self.phase: str | None = None
        self.line = ""
        self.last = float("-inf")

    def __call__(self, phase: str, line: str, *, last: bool = False) -> None:
        now = self.clock()
        if line == self.line:
            return
        if phase == self.phase and not last and now - self.last < self.interval:
            return
        self.phase, self.line, self.last = phase, line, now
        print(line, file=self.stream, flush=True)
