"""How a run reports progress and how it is asked to stop (Qt-free).

* :class:`Progress` is one snapshot: phase, done / total, counters, rate and ETA. A run publishes snapshots
  through a callback (:data:`ProgressCallback`); :class:`ProgressTracker` computes the rate (records per second
  over the last few seconds) and the ETA, and throttles publishing so a million-record run does not flood the UI.
* :class:`CancelToken` is cooperative cancellation: the user's **Cancel** sets it; the run checks it between
  batches (:meth:`CancelToken.raise_if_cancelled`), so the batch in flight finishes and is recorded before the
  run stops with :class:`RunCancelled`. It is thread-safe, so a step running in a worker thread
  (``asyncio.to_thread``) can check it too.
* :class:`RunHandle` is a run in progress as the window sees it: the asyncio task (kept referenced), its token,
  the latest snapshot and the listeners (the progress dialog, the status-bar indicator). Publishing is safe from
  a worker thread: listeners are always called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "CancelToken",
    "Progress",
    "ProgressCallback",
    "ProgressTracker",
    "RunCancelled",
    "RunHandle",
    "format_duration",
]


@dataclass(frozen=True, slots=True)
class Progress:
    """One snapshot of a run. ``total`` is None while unknown; ``rate`` is records per second, ``eta`` seconds."""

    phase: str
    done: int = 0
    total: int | None = None
    counters: Mapping[str, int] = field(default_factory=dict)
    rate: float | None = None
    eta: float | None = None
    run_id: int | None = None
    message: str = ""  # a short line for the dialog ("Reading 3 of 12 pages from HubSpot…")

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]


class RunCancelled(Exception):  # noqa: N818 - it is an outcome, not an error
    """The user cancelled the run; what was done before the check point is kept."""


class CancelToken:
    """Set once by :meth:`cancel`; checked by the run between batches. Thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise RunCancelled("The run was cancelled.")


def format_duration(seconds: float | None) -> str:
    """``75`` -> ``"1 min 15 s"``; ``None`` -> ``""``."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


class ProgressTracker:
    """Builds :class:`Progress` snapshots for one run and publishes them through ``callback``.

    ``advance(n, created=1, …)`` adds to *done* and to counters; ``phase(name, total)`` starts a phase (done
    restarts at 0); counters carry over phases. Publishing is throttled to one snapshot per ``interval``
    seconds, except phase changes and :meth:`flush`, which always publish (a phase change publishes the ending
    phase's last count first when it was held back).
    """

    def __init__(
        self,
        callback: ProgressCallback | None,
        *,
        run_id: int | None = None,
        interval: float = 0.1,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.callback = callback
        self.run_id = run_id
        self.interval = interval
        self.window = window
        self.clock = clock
        self.phase_name = ""
        self.done = 0
        self.total: int | None = None
        self.counters: dict[str, int] = {}
        self.message = ""
        self._samples: deque[tuple[float, int]] = deque()
        self._last_publish = float("-inf")
        self._unpublished = False  # advanced since the last snapshot published

    def phase(self, name: str, total: int | None = None, *, message: str = "") -> None:
        if self._unpublished:  # the phase that ends says its last count ("80 / 80"), not the one throttled before
            self.flush()
        self.phase_name = name
        self.total = total
        self.done = 0
        self.message = message
        self._samples.clear()
        self._samples.append((self.clock(), 0))
        self.flush()

    def set_total(self, total: int | None) -> None:
        self.total = total

    def advance(
        self, n: int = 0, *, message: str | None = None, counters: Mapping[str, int] | None = None, **more: int
    ) -> None:
        self.done += n
        for key, value in {**(counters or {}), **more}.items():
            self.counters[key] = self.counters.get(key, 0) + value
        if message is not None:
            self.message = message
        now = self.clock()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()
        if now - self._last_publish >= self.interval:
            self.flush()
        else:
            self._unpublished = True

    def set_counters(self, **counters: int) -> None:
        self.counters.update(counters)

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.2 or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def snapshot(self) -> Progress:
        rate = self.rate()
        eta = None
        if rate and self.total is not None:
            eta = max(0.0, (self.total - self.done) / rate)
        return Progress(self.phase_name, self.done, self.total, dict(self.counters), rate, eta, self.run_id,
                        self.message)

    def flush(self) -> Progress:
        self._last_publish = self.clock()
        self._unpublished = False
        snap = self.snapshot()
        if self.callback is not None:
            self.callback(snap)
        return snap


class RunHandle:
    """A run in progress, for the window: task, cancel token, latest :class:`Progress`, listeners.

    ``title`` names the run in a dialog ("Syncing “Leads” with HubSpot"); ``verb`` and ``target`` build the
    status bar's line around the counts ("Syncing" 1,240 / 5,000 "with HubSpot"); ``unit`` names what is
    counted ("contacts"). ``run_id`` is set once the run row exists; ``summary`` is a one-line result the run
    sets when it ends ("812 matched, 40 new"). Listeners get every snapshot on the event loop's thread;
    ``on_done`` listeners get the handle when the task ends (finished, failed or cancelled).
    """

    def __init__(
        self,
        kind: str,
        title: str,
        *,
        verb: str = "",
        target: str = "",
        unit: str = "records",
        token: CancelToken | None = None,
    ) -> None:
        self.kind = kind
        self.title = title
        self.verb = verb or kind.capitalize()
        self.target = target
        self.unit = unit
        self.summary = ""
        self.token = token or CancelToken()
        self.run_id: int | None = None
        self.latest: Progress | None = None
        self.task: asyncio.Task[Any] | None = None
        self._listeners: list[ProgressCallback] = []
        self._done_listeners: list[Callable[[RunHandle], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._finished = False
        self._result: Any = None
        self._exception: BaseException | None = None

    # -- progress -----------------------------------------------------------------------------------------------
    def publish(self, progress: Progress) -> None:
        """The run's progress callback; safe to call from a worker thread."""
        loop = self._loop
        if loop is not None and self._loop_thread is not None and threading.get_ident() != self._loop_thread:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._deliver, progress)
            return
        self._deliver(progress)

    def _deliver(self, progress: Progress) -> None:
        self.latest = progress
        if progress.run_id is not None:
            self.run_id = progress.run_id
        for listener in list(self._listeners):
            try:
                listener(progress)
            except Exception:  # a broken listener must not stop the run
                log.exception("A progress listener failed")

    def subscribe(self, listener: ProgressCallback) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unsubscribe(self, listener: ProgressCallback) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def on_done(self, listener: Callable[[RunHandle], None]) -> None:
        if self.done:
            listener(self)
        elif listener not in self._done_listeners:
            self._done_listeners.append(listener)

    def remove_done_listener(self, listener: Callable[[RunHandle], None]) -> None:
        with contextlib.suppress(ValueError):
            self._done_listeners.remove(listener)

    # -- the run ------------------------------------------------------------------------------------------------
    async def run(self, coro: Coroutine[Any, Any, Any], summarize: Callable[[Any], str] | None = None) -> Any:
        """Await ``coro`` as this handle's run (in the current task); done listeners are told when it ends, after
        ``summarize(result)`` has set :attr:`summary`. Tests call this directly; the window uses :meth:`start`."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        try:
            result = await coro
        except BaseException as exc:
            self._exception = exc
            raise
        else:
            self._result = result
            if summarize is not None:
                try:
                    self.summary = summarize(result)
                except Exception:
                    log.exception("Could not summarize the run")
            return result
        finally:
            self._finished = True
            self._notify_done()

    def start(self, coro: Coroutine[Any, Any, Any], summarize: Callable[[Any], str] | None = None
              ) -> asyncio.Task[Any]:
        """Run ``coro`` as a task on the event loop and keep a reference to it (the loop keeps only a weak one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a Qt slot outside a coroutine, with qasync's loop set but not "running" here
            loop = asyncio.get_event_loop()
        self.task = loop.create_task(self.run(coro, summarize))
        self.task.add_done_callback(self._task_done)
        return self.task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() and not self._finished:  # cancelled before it started running
            self._exception = asyncio.CancelledError()
            self._finished = True
            self._notify_done()
        elif not task.cancelled():
            task.exception()  # retrieved here; the outcome is kept on the handle

    def _notify_done(self) -> None:
        for listener in list(self._done_listeners):
            try:
                listener(self)
            except Exception:
                log.exception("A run-done listener failed")
        self._done_listeners.clear()

    def cancel(self) -> None:
        """Ask the run to stop after the batch in flight (graceful)."""
        self.token.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self.token.cancelled

    @property
    def done(self) -> bool:
        return self._finished

    def result(self) -> Any:
        """The run's result; raises its exception. Only once :attr:`done`."""
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        """How the run failed (``RunCancelled`` and ``asyncio.CancelledError`` included), or None."""
        return self._exception
