"""The history and state of runs, and their journal (Qt-free; DESIGN §6 "Runs").

Every method is one short unit of work on the store. State changes and counter updates are atomic: they run in a
write transaction that takes SQLite's write lock first (``Store.write``), so the window and a command line
updating the same database never lose an update. Callers get :class:`RunInfo` / :class:`RunItemInfo`, plain
frozen dataclasses, never ORM rows.

States (``core.models.runs.RUN_STATES``) and the moves allowed between them::

    queued ──> running ──> finished
      │          │  └────> failed
      │          └──> cancelling ──> cancelled
      └──> cancelled          (and any live state ──> interrupted when its process is gone)

    interrupted / cancelled / failed ──> running   (resume)

:meth:`RunService.mark_interrupted` runs at start-up: a run left *queued*, *running* or *cancelling* by a process
that no longer exists is marked *interrupted*, so the Runs page shows it honestly and it can be resumed.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from enginy_desktop.core.models import (
    ITEM_STATES,
    RUN_KINDS,
    RUN_STATES,
    ExportOp,
    Run,
    RunItem,
    RunLease,
    utcnow,
)
from enginy_desktop.core.store import Store

from .errors import RunError, RunNotFoundError, RunStateError
from .lease import HEARTBEAT_EVERY, LeaseHolder, RunBusyError, is_stale, lease_key, process_label

log = logging.getLogger(__name__)

_AUTO = "auto"

__all__ = [
    "ACTIVE_STATES",
    "CAP_LABEL",
    "RESUMABLE_STATES",
    "STATE_LABELS",
    "TERMINAL_STATES",
    "RunBusyError",
    "RunError",
    "RunInfo",
    "RunItemInfo",
    "RunNotFoundError",
    "RunService",
    "RunStateError",
]

ACTIVE_STATES = frozenset({"queued", "running", "cancelling"})
# The command that carries on a run of each kind.
_RESUME = {"enrichment": "enrich --resume"}
TERMINAL_STATES = frozenset({"cancelled", "failed", "finished", "interrupted"})
RESUMABLE_STATES = frozenset({"interrupted", "cancelled", "failed"})

_MOVES: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled", "failed", "interrupted"}),
    "running": frozenset({"cancelling", "finished", "failed", "cancelled", "interrupted"}),
    "cancelling": frozenset({"cancelled", "finished", "failed", "interrupted"}),
    "interrupted": frozenset({"running", "cancelled", "failed"}),
    "cancelled": frozenset({"running"}),
    "failed": frozenset({"running"}),
    "finished": frozenset(),
}

# The kinds whose journal says what a run did (``module:function(holder, run_id) -> counters``, ``holder.store`` the
# store): a run killed before it wrote its own counters (kill -9, power cut) still shows what it did.
JOURNAL_COUNTERS = {"export": "enginy_desktop.core.export.run:counters"}
# The outcome counters such a run writes when it ends itself: without them, its row has not said what it did.
_OUTCOMES = frozenset({"created", "updated", "unchanged", "merged", "existed", "failed", "blocked", "pending",
                       "in_flight"})

STATE_LABELS = {
    "queued": "Waiting",
    "running": "Running",
    "cancelling": "Stopping",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "finished": "Finished",
    "interrupted": "Interrupted",
}
# An enrichment stopped by its credit cap is *interrupted* (paused, resumable) with records left for lack of
# credit (its ``left_by_cap`` counter): it says so instead of "Interrupted".
CAP_LABEL = "Paused at cap"


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every timestamp here is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    kind: str
    crm: str | None
    list_id: int | None
    list_name: str
    state: str
    options: Mapping[str, Any]
    counters: Mapping[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    owner_pid: int | None = None
    owner_host: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def resumable(self) -> bool:
        return self.state in RESUMABLE_STATES

    @property
    def state_label(self) -> str:
        if self.state == "interrupted" and self.counter("left_by_cap"):
            return CAP_LABEL  # stopped at its credit cap with records left: resumable with a higher cap
        return STATE_LABELS.get(self.state, self.state)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while it runs)."""
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(UTC)
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def integration_keys(self) -> tuple[str, ...]:
        """The integrations the run worked with: its CRM (or OpenAI, TheirStack), else an enrichment's providers."""
        if self.crm:
            return (self.crm,)
        providers = self.options.get("providers")
        return tuple(str(p) for p in providers) if isinstance(providers, list | tuple) else ()

    def counter(self, name: str) -> int:
        value = self.counters.get(name, 0)
        return int(value) if isinstance(value, int | float) else 0

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "id": self.id,
            "kind": self.kind,
            "crm": self.crm,
            "list_id": self.list_id,
            "list": self.list_name,
            "state": self.state,
            "options": dict(self.options),
            "counters": dict(self.counters),
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "error": self.error,
        }

    @classmethod
    def from_row(cls, row: Run) -> RunInfo:
        created = _aware(row.created_at)
        assert created is not None
        return cls(
            id=row.id,
            kind=row.kind,
            crm=row.crm,
            list_id=row.list_id,
            list_name=row.list_name or "",
            state=row.state,
            options=dict(row.options or {}),
            counters=dict(row.counters or {}),
            created_at=created,
            started_at=_aware(row.started_at),
            finished_at=_aware(row.finished_at),
            error=row.error,
            owner_pid=row.owner_pid,
            owner_host=row.owner_host,
        )


@dataclass(frozen=True, slots=True)
class RunItemInfo:
    run_id: int
    object: str
    local_id: int
    action: str
    state: str
    crm_id: str | None
    error: str | None
    attempt: int
    updated_at: datetime


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


class RunService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.host = socket.gethostname()
        self._held: set[int] = set()  # runs whose lease this service holds (the heartbeat renews them)
        self._held_lock = threading.Lock()
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()
        # Journal counts of stopped runs, by run and (state, end): its journal does not move until it runs again.
        self._journal_counts: dict[int, tuple[tuple[str, datetime | None], dict[str, Any]]] = {}

    # -- creating and reading --------------------------------------------------------------------------------------
    def create(
        self,
        kind: str,
        *,
        crm: str | None = None,
        list_id: int | None = None,
        list_name: str = "",
        options: Mapping[str, Any] | None = None,
        counters: Mapping[str, Any] | None = None,
        start: bool = False,
        lease: str | None = _AUTO,
        session: Any = None,
    ) -> RunInfo:
        """A new run, *queued* (or *running* with ``start``), owned by this process.

        A run of one list with one CRM (``crm`` and ``list_id``) takes that list's lease in the same transaction
        (``lease`` names another key, or None for none): :class:`RunBusyError` when another live run holds it.
        With ``session`` (a :meth:`Store.write` session) the run is created in the caller's transaction, so what
        the caller writes with it (an export's journal) is committed together or not at all.
        """
        if kind not in RUN_KINDS:
            raise ValueError(f"Unknown run kind {kind!r}; expected one of {', '.join(RUN_KINDS)}.")
        if session is not None:
            return self._create(session, kind, crm, list_id, list_name, options, counters, start, lease)
        with self.store.write() as s:
            return self._create(s, kind, crm, list_id, list_name, options, counters, start, lease)

    def _create(self, s: Any, kind: str, crm: str | None, list_id: int | None, list_name: str,
                options: Mapping[str, Any] | None, counters: Mapping[str, Any] | None, start: bool,
                lease: str | None) -> RunInfo:
        now = utcnow()
        key = lease_key(crm, list_id) if lease == _AUTO else lease
        opts = dict(options or {})
        if lease != _AUTO:
            opts["lease_key"] = key or ""  # "" for none: a resume takes no lease either
        row = Run(
            kind=kind,
            crm=crm,
            list_id=list_id,
            list_name=list_name,
            state="running" if start else "queued",
            options=opts,
            counters=dict(counters or {}),
            created_at=now,
            started_at=now if start else None,
            owner_pid=os.getpid(),
            owner_host=self.host,
        )
        if key is not None:
            self._check_lease(s, key)
        s.add(row)
        s.flush()
        if key is not None:
            self._take_lease(s, key, row)
        return RunInfo.from_row(row)

    def get(self, run_id: int) -> RunInfo:
        with self.store.session() as s:
            row = s.get(Run, run_id)
            if row is None:
                raise RunNotFoundError(f"There is no run number {run_id}.")
            info = RunInfo.from_row(row)
        return self._with_journal_counts(info)

    def _with_journal_counts(self, info: RunInfo) -> RunInfo:
        """``info`` with the counts its journal holds when its row cannot be trusted to: an interrupted run (killed
        before it wrote them, or carried on and killed again since), or a stopped run that never wrote any. A live
        run is left as it is (its progress says it; the journal is read when it ends)."""
        reader = JOURNAL_COUNTERS.get(info.kind)
        if reader is None or info.active or (info.state != "interrupted" and _OUTCOMES & info.counters.keys()):
            return info
        moment = (info.state, info.finished_at)
        known = self._journal_counts.get(info.id)
        if known is not None and known[0] == moment:
            counts = known[1]  # the Runs page asks every second while another run goes on: read once
        else:
            module, _, name = reader.partition(":")
            try:
                counts = dict(getattr(importlib.import_module(module), name)(self, info.id))
            except Exception:  # the history is still shown, with the row's own counters
                log.exception("Could not read the journal counts of run %s", info.id)
                return info
            self._journal_counts[info.id] = (moment, counts)
        kept = {k: v for k, v in info.counters.items()  # the plan's and the traffic's; the outcomes are the journal's
                if k.startswith("planned_") or not any(k == o or k.endswith(f"_{o}") for o in (*_OUTCOMES, "done"))}
        return replace(info, counters={**counts, **kept})

    def history(
        self,
        *,
        kind: str | None = None,
        crm: str | None = None,
        list_id: int | None = None,
        states: Iterable[str] | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[RunInfo]:
        """Runs, newest first."""
        query = select(Run)
        if kind is not None:
            query = query.where(Run.kind == kind)
        if crm is not None:
            query = query.where(Run.crm == crm)
        if list_id is not None:
            query = query.where(Run.list_id == list_id)
        if states is not None:
            query = query.where(Run.state.in_(list(states)))
        query = query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit).offset(offset)
        with self.store.session() as s:
            runs = [RunInfo.from_row(r) for r in s.scalars(query)]
        return [self._with_journal_counts(r) for r in runs]

    def count(self, *, kind: str | None = None) -> int:
        query = select(func.count()).select_from(Run)
        if kind is not None:
            query = query.where(Run.kind == kind)
        with self.store.session() as s:
            return int(s.scalar(query) or 0)

    # -- state ---------------------------------------------------------------------------------------------------
    def _move(self, s: Any, run_id: int, state: str, *, error: str | None = None) -> Run:
        if state not in RUN_STATES:
            raise ValueError(f"Unknown run state {state!r}.")
        row = s.get(Run, run_id)
        if row is None:
            raise RunNotFoundError(f"There is no run number {run_id}.")
        if state != row.state and state not in _MOVES[row.state]:
            raise RunStateError(f"Run {run_id} is {STATE_LABELS[row.state].lower()}; it cannot become "
                                f"{STATE_LABELS[state].lower()}.")
        now = utcnow()
        key = self._key_of(row)
        if state == "running" and row.state != "running" and key is not None:
            self._check_lease(s, key, run_id=row.id)  # a resume waits for its turn like a new run
            self._take_lease(s, key, row)
        if state in TERMINAL_STATES:
            self._drop_lease(s, row.id)
        if state == "running" and row.state != "running":
            row.started_at = row.started_at or now
            row.finished_at = None
            row.error = None
            row.owner_pid = os.getpid()
            row.owner_host = self.host
        if state in TERMINAL_STATES:
            row.finished_at = now
        if error is not None:
            row.error = error
        row.state = state
        return row

    def set_state(self, run_id: int, state: str, *, error: str | None = None) -> RunInfo:
        with self.store.write() as s:
            return RunInfo.from_row(self._move(s, run_id, state, error=error))

    def start(self, run_id: int) -> RunInfo:
        """queued (or resumable) -> running, owned by this process."""
        return self.set_state(run_id, "running")

    def request_cancel(self, run_id: int) -> RunInfo:
        """running -> cancelling (a queued run is cancelled at once); a finished run is left as it is."""
        with self.store.write() as s:
            row = s.get(Run, run_id)
            if row is None:
                raise RunNotFoundError(f"There is no run number {run_id}.")
            if row.state == "queued":
                return RunInfo.from_row(self._move(s, run_id, "cancelled"))
            if row.state == "running":
                return RunInfo.from_row(self._move(s, run_id, "cancelling"))
            return RunInfo.from_row(row)

    def finish(
        self,
        run_id: int,
        state: str = "finished",
        *,
        error: str | None = None,
        counters: Mapping[str, Any] | None = None,
    ) -> RunInfo:
        """End the run (finished, failed, cancelled or interrupted), optionally merging final counters."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"{state!r} does not end a run.")
        with self.store.write() as s:
            if state == "finished":
                left = self._left(s, run_id)
                if left:  # never "finished" with work still pending or unconfirmed: paused, resumable
                    kind = s.scalar(select(Run.kind).where(Run.id == run_id))
                    state, error = "interrupted", (
                        f"Run {run_id} could not finish: {left:,} of its journal's items are still to be done or "
                        f"confirmed; nothing was lost. Resume with: enginy-desktop "
                        f"{_RESUME.get(str(kind), 'resume')} {run_id}")
                    log.warning("Run %s was about to finish with %s item(s) left; it is paused instead", run_id, left)
            row = self._move(s, run_id, state, error=error)
            if counters:
                row.counters = {**(row.counters or {}), **counters}
            return RunInfo.from_row(row)

    @staticmethod
    def _left(s: Any, run_id: int) -> int:
        """Journal items (and export operations) of the run still pending or in flight."""
        items = s.scalar(select(func.count()).select_from(RunItem).where(
            RunItem.run_id == run_id, RunItem.state.in_(("pending", "in_flight"))))
        ops = s.scalar(select(func.count()).select_from(ExportOp).where(
            ExportOp.run_id == run_id, ExportOp.state.in_(("pending", "in_flight"))))
        return int(items or 0) + int(ops or 0)

    def resume(self, run_id: int) -> RunInfo:
        """interrupted / cancelled / failed -> running again (its journal says what is left)."""
        info = self.get(run_id)
        if not info.resumable:
            raise RunStateError(f"Run {run_id} is {info.state_label.lower()}; only an interrupted, cancelled or "
                                "failed run can be resumed.")
        return self.set_state(run_id, "running")

    def mark_interrupted(self) -> list[int]:
        """At start-up: live runs whose process is gone become *interrupted*; returns their ids.

        A run owned by a process that still runs on this machine (a command line beside the window) is left
        alone; a run recorded by another machine is left alone too (its process cannot be checked from here).
        """
        live = select(Run.id, Run.owner_pid, Run.owner_host).where(Run.state.in_(sorted(ACTIVE_STATES)))
        with self.store.session() as s:  # the common case: nothing to do, and no write lock taken
            stale = [run_id for run_id, pid, host in s.execute(live) if self._stale(pid, host)]
        changed: list[int] = []
        if not stale:
            return changed
        with self.store.write() as s:
            for row in s.scalars(select(Run).where(Run.id.in_(stale))).all():
                if row.state in ACTIVE_STATES and self._stale(row.owner_pid, row.owner_host):
                    self._move(s, row.id, "interrupted",
                               error=row.error or "Enginy Desktop stopped while this run was in progress.")
                    changed.append(row.id)
        return changed

    def _stale(self, pid: int | None, host: str | None) -> bool:
        if host not in (None, self.host):
            return False
        return pid is None or not _pid_alive(pid)

    # -- leases: one active run per list and CRM -----------------------------------------------------------------
    @staticmethod
    def _key_of(row: Run) -> str | None:
        options = row.options or {}
        if "lease_key" in options:
            return str(options["lease_key"]) or None
        return lease_key(row.crm, row.list_id)

    def _holder(self, s: Any, key: str) -> tuple[LeaseHolder, Run | None] | None:
        lease = s.get(RunLease, key)
        if lease is None:
            return None
        run = s.get(Run, lease.run_id)
        holder = LeaseHolder(lease.key, lease.run_id, lease.kind, run.crm if run else None,
                             run.list_name if run else "", lease.owner_pid, lease.owner_host, lease.owner_label,
                             _aware(lease.started_at) or utcnow(), _aware(lease.heartbeat_at) or utcnow())
        return holder, run

    def _check_lease(self, s: Any, key: str, *, run_id: int | None = None) -> None:
        """Raise :class:`RunBusyError` when a live run other than ``run_id`` holds ``key``; a stale holder (its
        process gone or silent) loses it, and its run becomes *interrupted*."""
        found = self._holder(s, key)
        if found is None:
            return
        holder, run = found
        if holder.run_id == run_id:
            return
        if not is_stale(run.state if run is not None else "finished", holder.owner_pid, holder.owner_host,
                        holder.heartbeat_at, here=self.host):
            raise RunBusyError(holder)
        log.info("Taking over the lease %s of run %s (its process is gone or silent)", key, holder.run_id)
        if run is not None and run.state in ACTIVE_STATES:
            self._move(s, run.id, "interrupted",
                       error=run.error or "Enginy Desktop stopped while this run was in progress.")
        s.execute(delete(RunLease).where(RunLease.key == key))
        s.flush()

    def _take_lease(self, s: Any, key: str, row: Run) -> None:
        now = utcnow()
        existing = s.get(RunLease, key)
        if existing is None:
            s.add(RunLease(key=key, run_id=row.id, kind=row.kind, owner_pid=os.getpid(), owner_host=self.host,
                           owner_label=process_label(), started_at=now, heartbeat_at=now))
        else:
            existing.run_id, existing.kind = row.id, row.kind
            existing.owner_pid, existing.owner_host, existing.owner_label = os.getpid(), self.host, process_label()
            existing.started_at = existing.heartbeat_at = now
        s.flush()
        with self._held_lock:
            self._held.add(row.id)
            self._ensure_heartbeat()

    def _drop_lease(self, s: Any, run_id: int) -> None:
        s.execute(delete(RunLease).where(RunLease.run_id == run_id))
        with self._held_lock:
            self._held.discard(run_id)

    def lease_holder(self, crm: str | None = None, list_id: int | None = None, *,
                     key: str | None = None) -> LeaseHolder | None:
        """Who holds the list's lease now (None when it is free, or held by a process that is gone)."""
        key = key or lease_key(crm, list_id)
        if key is None:
            return None
        with self.store.session() as s:
            found = self._holder(s, key)
            if found is None:
                return None
            holder, run = found
            stale = is_stale(run.state if run is not None else "finished", holder.owner_pid, holder.owner_host,
                             holder.heartbeat_at, here=self.host)
        return None if stale else holder

    def check_free(self, crm: str | None, list_id: int | None, advice: str = "") -> None:
        """Raise :class:`RunBusyError` when another live run holds the list (before planning anything)."""
        holder = self.lease_holder(crm, list_id)
        if holder is not None:
            raise RunBusyError(holder, advice)

    def _ensure_heartbeat(self) -> None:
        """Start the heartbeat thread (under ``_held_lock``) when it is not running."""
        if self._beating is not None and self._beating.is_alive():
            return
        self._stop.clear()
        self._beating = threading.Thread(target=self._beat_loop, name="enginy-run-heartbeat", daemon=True)
        self._beating.start()

    def _beat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            with self._held_lock:
                held = sorted(self._held)
                if not held:
                    self._beating = None
                    return
            self.heartbeat(held)

    def heartbeat(self, run_ids: Iterable[int] | None = None) -> None:
        """Say this process is alive for the leases it holds."""
        ids = list(run_ids) if run_ids is not None else sorted(self._held)
        if not ids:
            return
        try:
            with self.store.write() as s:
                s.execute(update(RunLease).where(RunLease.run_id.in_(ids), RunLease.owner_pid == os.getpid())
                          .values(heartbeat_at=utcnow()))
        except Exception as exc:  # a busy or full disk: the next beat tries again
            log.warning("Could not renew the run lease: %s", exc)

    def close(self) -> None:
        """Stop the heartbeat (the leases stay until their runs end, or a process finds them stale)."""
        self._stop.set()

    # -- counters ------------------------------------------------------------------------------------------------
    def add_counters(self, run_id: int, deltas: Mapping[str, int]) -> RunInfo:
        """Add ``deltas`` to the run's counters, atomically (read and write under the write lock)."""
        with self.store.write() as s:
            row = s.get(Run, run_id)
            if row is None:
                raise RunNotFoundError(f"There is no run number {run_id}.")
            counters = dict(row.counters or {})
            for key, value in deltas.items():
                counters[key] = int(counters.get(key, 0) or 0) + int(value)
            row.counters = counters
            return RunInfo.from_row(row)

    def set_counters(self, run_id: int, values: Mapping[str, Any], *, replace: bool = False) -> RunInfo:
        """Set counters (merged into the existing ones unless ``replace``), atomically."""
        with self.store.write() as s:
            row = s.get(Run, run_id)
            if row is None:
                raise RunNotFoundError(f"There is no run number {run_id}.")
            row.counters = dict(values) if replace else {**(row.counters or {}), **values}
            return RunInfo.from_row(row)

    def update_options(self, run_id: int, values: Mapping[str, Any]) -> RunInfo:
        with self.store.write() as s:
            row = s.get(Run, run_id)
            if row is None:
                raise RunNotFoundError(f"There is no run number {run_id}.")
            row.options = {**(row.options or {}), **values}
            return RunInfo.from_row(row)

    def delete(self, run_id: int) -> None:
        """Forget a run and its journal; a live run cannot be deleted."""
        with self.store.write() as s:
            row = s.get(Run, run_id)
            if row is None:
                return
            if row.state in ACTIVE_STATES:
                raise RunStateError(f"Run {run_id} is still {STATE_LABELS[row.state].lower()}; stop it first.")
            s.delete(row)

    # -- the journal ---------------------------------------------------------------------------------------------
    def add_items(self, run_id: int, items: Iterable[tuple[str, int, str]], *, chunk: int = 5000) -> int:
        """Plan items ``(object, local_id, action)`` as *pending*; returns how many were added."""
        now = utcnow()
        added = 0
        batch: list[dict[str, Any]] = []

        def flush(s: Any) -> None:
            nonlocal added
            if batch:
                s.execute(insert(RunItem), batch)
                added += len(batch)
                batch.clear()

        with self.store.write() as s:
            for obj, local_id, action in items:
                batch.append({"run_id": run_id, "object": obj, "local_id": int(local_id), "action": action,
                              "state": "pending", "attempt": 0, "updated_at": now})
                if len(batch) >= chunk:
                    flush(s)
            flush(s)
        return added

    def set_items(
        self,
        run_id: int,
        object: str,
        updates: Sequence[Mapping[str, Any]],
    ) -> None:
        """Record what happened to items: each update has ``local_id`` and any of ``state``, ``crm_id``,
        ``error``, ``action`` and ``attempt`` (``attempt=+1`` is spelled ``bump_attempt=True``). One transaction."""
        if not updates:
            return
        now = utcnow()
        with self.store.write() as s:
            for u in updates:
                values: dict[str, Any] = {"updated_at": now}
                for key in ("state", "crm_id", "error", "action", "attempt"):
                    if key in u:
                        values[key] = u[key]
                if "state" in values and values["state"] not in ITEM_STATES:
                    raise ValueError(f"Unknown item state {values['state']!r}.")
                if u.get("bump_attempt"):
                    values["attempt"] = RunItem.attempt + 1
                s.execute(
                    update(RunItem)
                    .where(RunItem.run_id == run_id, RunItem.object == object, RunItem.local_id == int(u["local_id"]))
                    .values(**values)
                )

    def set_items_state(
        self,
        run_id: int,
        object: str,
        local_ids: Iterable[int],
        state: str,
        *,
        error: str | None = None,
        bump_attempt: bool = False,
    ) -> None:
        """Move many items to ``state`` at once (e.g. a batch about to be sent -> *in_flight*)."""
        if state not in ITEM_STATES:
            raise ValueError(f"Unknown item state {state!r}.")
        ids = [int(i) for i in local_ids]
        now = utcnow()
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if error is not None:
            values["error"] = error
        if bump_attempt:
            values["attempt"] = RunItem.attempt + 1
        with self.store.write() as s:
            for start in range(0, len(ids), 500):
                s.execute(
                    update(RunItem)
                    .where(RunItem.run_id == run_id, RunItem.object == object,
                           RunItem.local_id.in_(ids[start:start + 500]))
                    .values(**values)
                )

    def items(
        self,
        run_id: int,
        *,
        state: str | Iterable[str] | None = None,
        object: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunItemInfo]:
        query = select(RunItem).where(RunItem.run_id == run_id)
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            query = query.where(RunItem.state.in_(states))
        if object is not None:
            query = query.where(RunItem.object == object)
        query = query.order_by(RunItem.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.store.session() as s:
            return [
                RunItemInfo(r.run_id, r.object, r.local_id, r.action, r.state, r.crm_id, r.error, r.attempt,
                            _aware(r.updated_at) or utcnow())
                for r in s.scalars(query)
            ]

    def item_counts(self, run_id: int, *, object: str | None = None) -> dict[str, int]:
        """How many items of the run are in each state."""
        query = select(RunItem.state, func.count()).where(RunItem.run_id == run_id)
        if object is not None:
            query = query.where(RunItem.object == object)
        query = query.group_by(RunItem.state)
        with self.store.session() as s:
            return {state: int(n) for state, n in s.execute(query)}
