"""Runs — sync, export, enrichment — shared foundation (Qt-free).

* :mod:`.service`: :class:`RunService`, the history, state, counters and journal of runs in the store.
* :mod:`.lease`: one active run per list and CRM across processes (:class:`RunBusyError` names who holds it).
* :mod:`.progress`: the progress protocol (:class:`Progress` snapshots through a callback, with
  :class:`ProgressTracker` for rate and ETA), cooperative cancellation (:class:`CancelToken`,
  :class:`RunCancelled`), and :class:`RunHandle`, a run in progress as the window follows it.

A run's life, as a kind of run implements it::

    info = runs.create("sync", crm="pipedrive", list_id=7, list_name="Leads", options={...}, start=True)
    tracker = ProgressTracker(handle.publish, run_id=info.id)
    try:
        tracker.phase("Reading HubSpot", total=n)
        for batch in batches:
            token.raise_if_cancelled()          # between batches only: the batch in flight always completes
            ...                                 # do the batch, store its results
            runs.add_counters(info.id, {...}); tracker.advance(len(batch), matched=...)
    except RunCancelled:
        runs.finish(info.id, "cancelled")       # what was stored stays stored, and the report says so
    except Exception as exc:
        runs.finish(info.id, "failed", error=str(exc))
    else:
        runs.finish(info.id, "finished")
"""

from .lease import LeaseHolder, RunBusyError, lease_key, set_process_label
from .progress import CancelToken, Progress, ProgressCallback, ProgressTracker, RunCancelled, RunHandle, format_duration
from .service import (
    ACTIVE_STATES,
    RESUMABLE_STATES,
    STATE_LABELS,
    TERMINAL_STATES,
    RunError,
    RunInfo,
    RunItemInfo,
    RunNotFoundError,
    RunService,
    RunStateError,
)

__all__ = [
    "ACTIVE_STATES",
    "RESUMABLE_STATES",
    "STATE_LABELS",
    "TERMINAL_STATES",
    "CancelToken",
    "LeaseHolder",
    "Progress",
    "ProgressCallback",
    "ProgressTracker",
    "RunBusyError",
    "RunCancelled",
    "RunError",
    "RunHandle",
    "RunInfo",
    "RunItemInfo",
    "RunNotFoundError",
    "RunService",
    "RunStateError",
    "format_duration",
    "lease_key",
    "set_process_label",
]
