"""The one place the window starts background work: :class:`TaskKeeper`.

A slot (a click, a timer) cannot ``await``; it hands a coroutine to its screen's keeper, which runs it as a task on
the asyncio loop that drives the window (qasync's, DESIGN §10) and keeps a reference to it until it ends (the loop
itself keeps only weak references, so an unreferenced task may vanish mid-way). An exception that escapes a task
goes to ``sys.excepthook``: the application's error dialog, never a silent log line.

Without a loop to run on, ``start`` closes the coroutine and returns None. That happens only in tests that build a
screen without driving it (the window always has its loop running); tests that drive a screen set their qasync loop
as the current loop (``asyncio.set_event_loop``) and run ``keeper.wait()`` on it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

#: How long a thread may keep the interpreter while another waits for it (Python's default is 5 ms). The window's
#: thread lets the interpreter go at every call into Qt and takes it back after, dozens of times in one turn of its
#: event loop; while a worker thread computes (a plan of 100,000 records, a run), each take-back waited up to the
#: whole interval: a turn of 80-170 ms at 5 ms, about 30 ms at 0.5 ms (``benchmarks/export_ui.py``). The workers
#: lose next to nothing: they give way only when the window's thread asks.
WINDOW_SWITCH_INTERVAL = 0.0005


def keep_window_responsive() -> None:
    """Set the interpreter's switch interval for a process that drives a window (see
    :data:`WINDOW_SWITCH_INTERVAL`); the command line keeps Python's default."""
    sys.setswitchinterval(WINDOW_SWITCH_INTERVAL)


def _loop() -> asyncio.AbstractEventLoop | None:
    """The running loop, else the loop set as current (not yet running), else None — never a new loop, which
    ``asyncio.get_event_loop`` would quietly create and nobody would ever run."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed() else None


class TaskKeeper:
    """Coroutines started from slots, each referenced until it ends.

    ``start(coro)`` runs it (or drops it without a loop, see the module's docstring); ``busy`` says whether any is
    still going; ``running()`` lists them; ``wait()`` awaits them all (and those they start meanwhile);
    ``cancel_all()`` cancels them (a dialog closing).
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        loop = _loop()
        if loop is None:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            sys.excepthook(type(exc), exc, exc.__traceback__)

    @property
    def busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def running(self) -> list[asyncio.Task[Any]]:
        return [t for t in self._tasks if not t.done()]

    async def wait(self) -> None:
        """Until every task started so far (and any they start) has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
