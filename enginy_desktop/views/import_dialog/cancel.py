"""How Cancel reaches an import running in a worker thread: it pauses at its next batch and waits for the answer."""

from __future__ import annotations

import threading


class ImportDiscarded(Exception):
    """Raised inside the importer's cancel check when the user discards: its transaction is rolled back whole."""


class CancelGate:
    """The importer's cancel check (``is_set()``, called by the worker between batches).

    :meth:`request` makes the worker stop at its next batch and wait for :meth:`decide`: ``"continue"`` goes on,
    ``"keep"`` stops keeping what was written, ``"discard"`` stops and rolls everything back.
    """

    CONTINUE, KEEP, DISCARD = "continue", "keep", "discard"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._choice = ""
        self._decided = threading.Event()
        self.paused = threading.Event()

    def request(self) -> None:
        with self._lock:
            self._requested = True
            self._choice = ""
            self._decided.clear()

    def decide(self, choice: str) -> None:
        with self._lock:
            self._choice = choice
            if choice == self.CONTINUE:
                self._requested = False
            self._decided.set()

    def is_set(self) -> bool:
        with self._lock:
            requested = self._requested
        if not requested:
            return False
        self.paused.set()
        self._decided.wait()
        self.paused.clear()
        with self._lock:
            choice = self._choice
        if choice == self.DISCARD:
            raise ImportDiscarded
        return choice == self.KEEP
