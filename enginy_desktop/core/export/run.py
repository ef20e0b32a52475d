"""Carrying out an export plan: batches within the CRM's limits, a journal before and after every request, and
resuming without duplicates (DESIGN §6 "Runs").

:func:`start_export` writes the plan into the journal (a ``runs`` row of kind ``export``, one ``run_items`` row
per record with its :class:`~enginy_desktop.core.models.ExportRecord`, one
:class:`~enginy_desktop.core.models.ExportOp` per association change or activity) and returns the run's id;
:func:`execute` carries the journal out; :func:`export` does both. :func:`resume` carries on an interrupted,
cancelled or failed run; :func:`retry_failed` plans the failed records of a run again as a new run;
:func:`restore_removed_associations` puts back what "primary and remove previous" removed.

The journal's states are ``pending`` -> ``in_flight`` -> ``done`` / ``failed`` (``skipped`` for what the plan
blocked or a failed dependency prevents). An item becomes ``in_flight`` in a committed transaction *before* its
request is sent and leaves it in another *after* the answer. Whatever stops the run — Cancel (between batches),
an error, a crash, ``kill -9`` — items are either untouched (``pending``), settled (``done``/``failed``), or
``in_flight``: sent, answer unknown. A resume (or the run itself, after a time-out) settles those first:

- updates, associations and removals are idempotent: they are simply sent again;
- a create is **never** sent again blindly: the record is looked up in the CRM by its unique field (e-mail) or,
  without one, by the Step 1 identifier; found, it is ``done`` with that id; not found, it is sent again;
- an activity is looked up among the contact's activities (when the adapter can list them); otherwise it is
  reported as uncertain rather than logged twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enginy_desktop.adapters.base import (
    Activity,
    ActivityKind,
    ActivityLookup,
    AdapterError,
    AssociationInput,
    AssociationKind,
    AuthError,
    CrmAdapter,
    CrmObject,
    Direction,
    FatalError,
    NetworkError,
    Operation,
    QuotaExhaustedError,
    RateLimitedError,
    RecordInput,
    Traffic,
    TransientError,
    ValidationError,
    WriteResult,
    parse_datetime,
)
from enginy_desktop.adapters.http import CALL_WATCH, CallWatch
from enginy_desktop.core.collector import collector_paused
from enginy_desktop.core.models import (
    ActivityLink,
    Company,
    Contact,
    CrmLink,
    ExportOp,
    ExportRecord,
    RemovedAssociation,
    RunItem,
    utcnow,
)
from enginy_desktop.core.runs import CancelToken, ProgressTracker, RunCancelled
from enginy_desktop.core.runs.testpoints import pause_point

from . import matching
from .plan import BLOCKED, CREATE, MERGE, UNCHANGED, UPDATE, UPSERT, ExportOptions, ExportRefused, Plan, plan_export

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PAUSE_AFTER",
    "MAX_ATTEMPTS",
    "CrmUnreachableError",
    "ExportResult",
    "execute",
    "export",
    "restore_removed_associations",
    "resume",
    "retry_failed",
    "start_export",
]

MAX_ATTEMPTS = 6  # sends of one item before it is failed (time-outs, 5xx, unknown outcomes)
DEFAULT_PAUSE_AFTER = 180.0  # seconds without any answer from the CRM before the run pauses (resumable)
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds one write may take before it counts as unanswered (and is re-checked)
SLOW_AFTER = 10.0  # a batch in flight longer than this (unthrottled) gives its place in the window up


_NOT_ANSWERING = "No answer from"


class CrmUnreachableError(AdapterError):
    """The CRM has not answered for the run's ``pause_after`` seconds: the run pauses, resumable."""


class JournalError(Exception):
    """The store could not be written (a full or failing disk): the run stops where its journal is."""


def _disk_problem(exc: BaseException) -> bool:
    from sqlalchemy.exc import OperationalError

    from enginy_desktop.core.store import StoreError

    if isinstance(exc, StoreError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        return any(w in text for w in ("full", "disk i/o", "readonly", "read-only", "unable to open", "locked"))
    return False


_STOP_ERRORS = (AuthError, QuotaExhaustedError, RateLimitedError, CrmUnreachableError)
LONG_THROTTLE = 120.0  # seconds: a CRM asking to wait longer stops the run (resumable), a shorter one is waited


def _recent(watch: CallWatch | None, started: float, now: float) -> bool:
    """A batch that started, or last sent or heard back from a request, less than :data:`SLOW_AFTER` ago, or is
    waiting for a rate-limiter slot: moving, not hung."""
    if watch is None:
        return now - started < SLOW_AFTER
    return watch.waiting > 0 or now - max(started, watch.last) < SLOW_AFTER


def _brief_throttle(exc: RateLimitedError) -> bool:
    """A 429 the client gave up retrying but that asks for a short wait: the run waits and goes on."""
    return exc.retry_after is None or exc.retry_after <= LONG_THROTTLE


@dataclass(frozen=True, slots=True)
class ExportResult:
    run_id: int
    state: str  # finished, cancelled, failed
    counters: Mapping[str, int]
    error: str = ""


# -- writing the plan into the journal ---------------------------------------------------------------------------


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


_OPERATION = {CREATE: Operation.CREATE, UPDATE: Operation.UPDATE, UPSERT: Operation.UPSERT}


_INSERT_ITEMS = ("INSERT INTO run_items (id, run_id, object, local_id, action, state, crm_id, error, attempt, "
                 "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)")
_INSERT_RECORDS = ("INSERT INTO export_records (run_item_id, run_id, label, payload, changes, lookup, outcome, code, "
                   "leader_id, company_id, why) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_encode = json.JSONEncoder(ensure_ascii=True).encode
_INITIAL = {CREATE: "pending", UPDATE: "pending", UPSERT: "pending", MERGE: "pending", UNCHANGED: "done",
            BLOCKED: "skipped"}
_OUTCOME = {UNCHANGED: "unchanged", BLOCKED: "blocked"}


def _initial(action: str) -> str:
    return _INITIAL[action]


def _json(value: Any) -> str:
    """A journal column's JSON as SQLite stores it (what the JSON columns read back); the empty values most records
    carry (a create's change list, an update's look-up) without the encoder."""
    if not value:
        return "[]" if isinstance(value, list | tuple) else "{}"
    return _encode(value)


def start_export(ctx: Any, plan: Plan, *, retry_of: int | None = None) -> int:
    """Journal ``plan`` as a new export run (state *queued*) and return its id.

    The run row, its lease on the list, every item and every operation are written in **one** transaction: a
    kill, a crash or a full disk part-way leaves either the whole journal or nothing at all (never a run whose
    records are missing). :class:`~enginy_desktop.core.runs.RunBusyError` when another run holds the list.
    """
    options = {
        **plan.options.as_json(),
        "association_type": plan.association_type.value,
        "crm_name": plan.crm_name,
        "plan_api_calls": plan.api_calls,
        "warnings": list(plan.warnings),
        "summary": plan.summary_lines(),
        "journal": {"records": len(plan.records), "ops": len(plan.ops)},
    }
    if retry_of is not None:
        options["retry_of"] = retry_of
    counts = plan.counts()
    now = utcnow()
    with collector_paused(), ctx.store.write() as s:
        run = ctx.runs.create("export", crm=plan.crm, list_id=plan.list_id, list_name=plan.list_name,
                              options=options, counters={"planned_" + k: v for k, v in counts.items()}, session=s)
        pause_point("journal")  # tests: a kill here must leave no run at all
        # The write lock is held since BEGIN: the items' ids can be given here (no RETURNING). Both tables are
        # written with plain SQL and tuples, one executemany per table and chunk: the journal is all that stands
        # between the plan's last answer and the first write, so statements are not compiled nor dicts built per
        # row (20,000 records: about a quarter of a second).
        conn = s.connection()
        next_id = int(conn.execute(select(func.max(RunItem.id))).scalar() or 0) + 1
        # The time as the column stores it (its own bind processing, done once rather than per row).
        column_type = _table(RunItem).c.updated_at.type
        stamp = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        stamped = stamp(now) if stamp is not None else now
        run_id = run.id
        for start in range(0, len(plan.records), 2000):
            chunk = plan.records[start:start + 2000]
            ids = range(next_id, next_id + len(chunk))
            next_id += len(chunk)
            conn.exec_driver_sql(_INSERT_ITEMS, [
                (item_id, run_id, r.object, r.local_id, r.action, _initial(r.action), r.crm_id, r.reason or None,
                 stamped) for item_id, r in zip(ids, chunk, strict=True)])
            # The records' JSON is encoded here and sent to SQLite as it is (what the JSON columns store and read).
            conn.exec_driver_sql(_INSERT_RECORDS, [
                (item_id, run_id, r.label, _json(r.payload), _json(r.changes), _json(r.lookup),
                 _OUTCOME.get(r.action, ""), r.code, r.leader, r.company_id, r.why)
                for item_id, r in zip(ids, chunk, strict=True)])
        unchanged = [{"crm": plan.crm, "object": r.object, "local_id": r.local_id, "crm_id": r.crm_id,
                      "outcome": "matched", "why": r.why or "matched by export", "candidates": [], "linked_at": now}
                     for r in plan.records if r.action == UNCHANGED and r.crm_id]
        if unchanged:  # what the plan learnt saves the next export a lookup
            stmt = sqlite_insert(_table(CrmLink))
            s.connection().execute(stmt.on_conflict_do_update(
                index_elements=["crm", "object", "local_id"],
                set_={"crm_id": stmt.excluded.crm_id, "outcome": stmt.excluded.outcome, "why": stmt.excluded.why,
                      "linked_at": stmt.excluded.linked_at}), unchanged)
        if plan.ops:
            s.execute(insert(ExportOp), [
                {"run_id": run.id, "kind": o.kind, "contact_id": o.contact_id, "company_id": o.company_id,
                 "event_id": o.event_id, "from_crm_id": o.from_crm_id, "to_crm_id": o.to_crm_id,
                 "payload": o.payload, "state": "pending", "code": "", "attempt": 0, "updated_at": now}
                for o in plan.ops
            ])
    return run.id


# -- carrying it out ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    id: int  # run_items.id
    object: str
    local_id: int
    action: str
    state: str
    crm_id: str | None
    attempt: int
    payload: dict[str, str]
    lookup: dict[str, str]
    leader: int | None
    label: str


class _Executor:
    def __init__(self, ctx: Any, run_id: int, adapter: CrmAdapter, *, progress: Callable[[Any], None] | None,
                 cancel: CancelToken | None, concurrency: int | None, pause_after: float | None = None,
                 request_timeout: float | None = None) -> None:
        self.ctx = ctx
        self.run_id = run_id
        self.adapter = adapter
        self.cancel = cancel or CancelToken()
        # requests in flight: the CRM's recommendation keeps its rate window busy without tripping it
        self.concurrency = max(1, concurrency or adapter.capabilities.concurrency)
        self.tracker = ProgressTracker(progress, run_id=run_id)
        info = ctx.runs.get(run_id)
        self.info = info
        self.crm = str(info.crm)
        self.crm_name = str(info.options.get("crm_name") or info.crm)
        self.options = ExportOptions.from_json(info.options)
        caps = adapter.capabilities
        self.batch = {op: caps.batch(op) for op in Operation}
        self.stop_error: AdapterError | None = None
        self.crash: BaseException | None = None  # a store problem (or a bug) in a batch: the run stops
        self._conflicts: list[tuple[_Item, str, str]] = []
        # A CRM that keeps a contact's company in a field of the contact (Capabilities.company_in_contact): the
        # company goes with the contact's own create or update, and its association op is done with it.
        self._carry: dict[int, tuple[ExportOp, str]] | None = None  # local contact id -> (op, company's CRM id)
        self.pause_after = float(pause_after if pause_after is not None
                                 else info.options.get("pause_after") or DEFAULT_PAUSE_AFTER)
        self.request_timeout = float(request_timeout if request_timeout is not None
                                     else info.options.get("request_timeout") or DEFAULT_REQUEST_TIMEOUT)
        self.last_answer = time.monotonic()  # when the CRM last answered anything
        self.unanswered = False  # the latest request got no answer at all
        self._watches: dict[asyncio.Task[Any], CallWatch] = {}  # a batch's task -> what its requests are doing

    # -- is the CRM answering? -------------------------------------------------------------------------------------
    def _answered(self) -> None:
        self.last_answer = time.monotonic()
        self.unanswered = False
        if self.tracker.message.startswith(_NOT_ANSWERING):
            self.tracker.message = ""
            self.tracker.flush()

    def _no_answer(self, exc: BaseException) -> None:
        """A request got no answer: said at once in the progress; after ``pause_after`` seconds of nothing, the
        run pauses."""
        self.unanswered = True
        silent = time.monotonic() - self.last_answer
        self.tracker.message = (f"{_NOT_ANSWERING} {self.crm_name} for {_minutes(silent)}; retrying — the run "
                                f"pauses after {_minutes(self.pause_after)} without an answer.")
        self.tracker.flush()
        if silent >= self.pause_after and self.stop_error is None:
            self.stop_error = CrmUnreachableError(
                f"{self.crm_name} has not answered for {_minutes(silent)}; the run is paused — {{left}} not sent "
                "yet.", vendor=self.crm)
            log.warning("Export run %s: %s has not answered for %.0f s (%s); pausing", self.run_id, self.crm_name,
                        silent, exc)

    def _trouble(self) -> int:
        """Retries and throttling answers so far: while they grow, the CRM is answering (slowly), not hung."""
        t = self.adapter.traffic
        return t.retries + t.throttled

    async def _call(self, coro: Any) -> Any:
        """One adapter call with the run's per-request time-out: no answer at all within ``request_timeout``
        seconds *of a request being sent* is an answer lost (a create is re-checked before it is sent again).

        Time spent waiting for a rate-limiter slot or a back-off is not the CRM failing to answer — nothing was
        sent — so it is not counted (the adapter's client reports it through :class:`CallWatch`); a call that is
        slow because the CRM throttles it or it is being retried is given more time, period by period."""
        watch = CallWatch()
        token = CALL_WATCH.set(watch)
        try:
            task = asyncio.ensure_future(coro)
        finally:
            CALL_WATCH.reset(token)
        me = asyncio.current_task()
        if me is not None:
            self._watches[me] = watch
        seen = self._trouble()
        try:
            while True:
                now = time.monotonic()
                if watch.waiting > 0:  # not sent yet: look again soon, the clock starts when it is sent
                    seen = self._trouble()
                    timeout = min(self.request_timeout, 1.0)
                else:
                    timeout = watch.last + self.request_timeout - now
                    if timeout <= 0:
                        trouble = self._trouble()
                        if trouble == seen:
                            break  # hung: nothing came back in a whole period after the request was sent
                        seen, watch.last = trouble, now
                        continue
                done, _ = await asyncio.wait({task}, timeout=timeout)
                if done:
                    break
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                lost = TransientError(f"{self.crm_name} did not answer within {self.request_timeout:.0f} s.",
                                      vendor=self.crm, maybe_applied=True)
                self._no_answer(lost)
                raise lost
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            if me is not None:
                self._watches.pop(me, None)
        try:
            result = task.result()
        except NetworkError as exc:
            self._no_answer(exc)
            raise
        except TransientError as exc:
            if exc.status is None:  # a time-out or a dropped connection: nothing came back
                self._no_answer(exc)
            else:
                self._answered()
            raise
        except AdapterError:
            self._answered()
            raise
        self._answered()
        return result

    async def wait_for_crm(self) -> None:
        """Nothing came back in the last round: wait a little before the next one (or pause the run)."""
        if self.stop_error is None:
            silent = time.monotonic() - self.last_answer
            await asyncio.sleep(max(0.0, min(1.0, self.pause_after - silent)))
            if time.monotonic() - self.last_answer >= self.pause_after:
                self._no_answer(TransientError("no answer", vendor=self.crm))
        self._check()

    # -- journal helpers ----------------------------------------------------------------------------------------
    _ITEM_COLUMNS = (RunItem.id, RunItem.object, RunItem.local_id, RunItem.action, RunItem.state, RunItem.crm_id,
                     RunItem.attempt, ExportRecord.payload, ExportRecord.lookup, ExportRecord.leader_id,
                     ExportRecord.label)

    def _items(self, obj: str, actions: Sequence[str], states: Sequence[str]) -> list[_Item]:
        q = (select(*self._ITEM_COLUMNS)
             .join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
             .where(RunItem.run_id == self.run_id, RunItem.object == obj, RunItem.action.in_(actions),
                    RunItem.state.in_(states))
             .order_by(RunItem.id))
        with self.ctx.store.session() as s:
            return [_Item(*row) for row in s.execute(q)]

    def _item_ids(self, obj: str, actions: Sequence[str], states: Sequence[str]) -> list[int]:
        """Just the ids: a phase of 100,000 records keeps ints in memory, not payloads."""
        q = (select(RunItem.id).where(RunItem.run_id == self.run_id, RunItem.object == obj,
                                      RunItem.action.in_(actions), RunItem.state.in_(states)).order_by(RunItem.id))
        with self.ctx.store.session() as s:
            return list(s.scalars(q))

    # A batch's own journal work runs once per request (200 times for 20,000 records): plain SQL, prepared once,
    # instead of building and compiling statements each time.
    _LOAD_SQL = ("SELECT i.id, i.object, i.local_id, i.action, i.state, i.crm_id, i.attempt, r.payload, r.lookup, "
                 "r.leader_id, r.label FROM run_items i JOIN export_records r ON r.run_item_id = i.id "
                 "WHERE i.id IN ({marks}) ORDER BY i.id")

    def _load(self, ids: Sequence[int]) -> list[_Item]:
        sql = self._LOAD_SQL.format(marks=", ".join("?" * len(ids)))
        with self.ctx.store.session() as s:
            rows = s.connection().exec_driver_sql(sql, tuple(ids)).fetchall()
        return [_Item(a, b, c, d, e, f, g, json.loads(h) if h else {}, json.loads(i) if i else {}, j, k)
                for a, b, c, d, e, f, g, h, i, j, k in rows]

    def _stamp(self) -> Any:
        """Now, as the journal's ``updated_at`` column stores it."""
        s = self._stamp_processor
        if s is None:
            from sqlalchemy.dialects import sqlite

            s = _table(RunItem).c.updated_at.type.bind_processor(sqlite.dialect()) or (lambda v: v)
            self._stamp_processor = s
        return s(utcnow())

    _stamp_processor: Any = None

    def _mark_in_flight(self, items: Sequence[_Item]) -> None:
        stamp = self._stamp()
        with self.ctx.store.write() as s:
            s.connection().exec_driver_sql(
                "UPDATE run_items SET state = 'in_flight', attempt = attempt + 1, updated_at = ? WHERE id = ?",
                [(stamp, i.id) for i in items])
        for i in items:
            i.attempt += 1
            i.state = "in_flight"

    def _settle(self, obj: str, done: Sequence[tuple[_Item, str, str]],
                failed: Sequence[tuple[_Item, str, str]] = (), pending: Sequence[_Item] = (),
                unsent: bool = False) -> None:
        """One transaction: ``done`` (item, CRM id, outcome), ``failed`` (item, reason, code), back to pending
        (``unsent``: the request never left, so it does not count as an attempt)."""
        now = utcnow()
        stamp = self._stamp()
        items, records = _table(RunItem), _table(ExportRecord)
        with self.ctx.store.write() as s:
            conn = s.connection()
            if done:
                conn.exec_driver_sql(
                    "UPDATE run_items SET state = 'done', crm_id = ?, error = NULL, updated_at = ? WHERE id = ?",
                    [(crm_id, stamp, i.id) for i, crm_id, _ in done])
                conn.exec_driver_sql("UPDATE export_records SET outcome = ?, code = '' WHERE run_item_id = ?",
                                     [(outcome, i.id) for i, _, outcome in done])
                links = [(self.crm, obj, i.local_id, crm_id, f"exported by run {self.run_id}", stamp)
                         for i, crm_id, _ in done if crm_id]
                if links:
                    conn.exec_driver_sql(
                        "INSERT INTO crm_links (crm, object, local_id, crm_id, outcome, why, candidates, linked_at) "
                        "VALUES (?, ?, ?, ?, 'matched', ?, '[]', ?) ON CONFLICT (crm, object, local_id) DO UPDATE "
                        "SET crm_id = excluded.crm_id, outcome = excluded.outcome, why = excluded.why, "
                        "candidates = excluded.candidates, linked_at = excluded.linked_at", links)
            if failed:
                conn.execute(update(items).where(items.c.id == bindparam("b_id")).values(
                    state="failed", error=bindparam("b_error"), updated_at=now),
                    [{"b_id": i.id, "b_error": reason} for i, reason, _ in failed])
                conn.execute(update(records).where(records.c.run_item_id == bindparam("b_id")).values(
                    outcome="failed", code=bindparam("b_code")),
                    [{"b_id": i.id, "b_code": code} for i, _, code in failed])
            if pending:
                conn.execute(update(items).where(items.c.id.in_([i.id for i in pending])).values(
                    state="pending", updated_at=now,
                    **({"attempt": items.c.attempt - 1} if unsent else {})))
        for i, crm_id, _ in done:
            i.state, i.crm_id = "done", crm_id
        for i, _, _ in failed:
            i.state = "failed"
        for i in pending:
            i.state = "pending"
            if unsent:
                i.attempt -= 1

    def _check(self) -> None:
        if self.crash is not None:
            raise self.crash
        if self.stop_error is not None:
            raise self.stop_error
        self.cancel.raise_if_cancelled()

    async def _pool(self, batches: Iterable[Any], work: Callable[[Any], Any]) -> None:
        """Run ``work`` on each batch with ``concurrency`` batches moving at once; stops taking batches on cancel
        or on an error that stops the run, and lets the batches in flight finish.

        Work-stealing: a batch in flight for more than :data:`SLOW_AFTER` seconds while nothing is retried or
        throttled (a hung request) gives its place to the next batch, so one slow answer never holds the others
        (at most twice ``concurrency`` in flight; each ends by its answer or the per-request time-out)."""
        iterator = iter(batches)
        running: dict[asyncio.Task[None], tuple[float, int]] = {}  # task -> (started, retries and 429s before it)
        exhausted = False

        async def one(batch: Any) -> None:
            try:
                await work(batch)
            except _STOP_ERRORS as exc:
                self.stop_error = self.stop_error or exc
            except Exception as exc:  # a store problem (full disk) or a bug: stop taking batches
                self.crash = self.crash or exc

        def trouble() -> int:
            t = self.adapter.traffic
            return t.retries + t.throttled

        def moving(now: float) -> int:
            # A batch is hung when it is slow while nothing is being retried or throttled (when the CRM is
            # struggling every batch is slow, and more requests would only make it worse).
            # A batch waiting for a rate-limiter slot is not slow: its clock starts when its request is sent.
            seen_now = trouble()
            return sum(1 for task, (started, seen) in running.items() if seen_now != seen or _recent(
                self._watches.get(task), started, now))

        while True:
            now = time.monotonic()
            busy = moving(now)
            while (not exhausted and busy < self.concurrency and len(running) < 2 * self.concurrency
                   and not self.cancel.cancelled and self.stop_error is None and self.crash is None):
                batch = next(iterator, None)
                if batch is None:
                    exhausted = True
                    break
                running[asyncio.ensure_future(one(batch))] = (now, trouble())
                busy += 1
            if not running:
                break
            oldest = min(started for started, _ in running.values())
            wake = max(0.05, SLOW_AFTER - (time.monotonic() - oldest)) if not exhausted else None
            finished, _ = await asyncio.wait(list(running), timeout=wake, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                running.pop(task, None)
        self._check()

    # -- records ---------------------------------------------------------------------------------------------------
    async def records(self, obj: str) -> None:
        crm_object = CrmObject.CONTACTS if obj == "contact" else CrmObject.COMPANIES
        noun = "companies" if obj == "company" else "contacts"
        rounds = 0
        round_start = time.monotonic()
        while rounds < MAX_ATTEMPTS + 2:
            if rounds and self.unanswered and self.last_answer < round_start:
                # Nothing at all came back last round: wait (the run pauses in the end); not a round of attempts.
                await self.wait_for_crm()
            else:
                rounds += 1
            round_start = time.monotonic()
            await self.reconcile(obj)
            sent = False
            for action in (CREATE, UPDATE, UPSERT):
                pending = self._item_ids(obj, [action], ["pending"])
                if not pending:
                    continue
                sent = True
                verb = {CREATE: "Creating", UPDATE: "Updating", UPSERT: "Writing"}[action]
                self.tracker.phase(f"{verb} {noun} in {self.crm_name}", len(pending))
                size = self.batch[_OPERATION[action]]
                batches = (pending[i:i + size] for i in range(0, len(pending), size))
                await self._pool(batches, functools.partial(self._write_ids, obj, crm_object, action))
            # Items put back to pending or left in flight (an answer lost, an unknown outcome): another round.
            if not sent and not self._items(obj, [CREATE, UPDATE, UPSERT], ["in_flight"]):
                return

    async def _write_ids(self, obj: str, crm_object: CrmObject, action: str, ids: list[int]) -> None:
        await self._write(obj, crm_object, action, self._load(ids))

    async def _write(self, obj: str, crm_object: CrmObject, action: str, batch: list[_Item]) -> None:
        exhausted = [i for i in batch if i.attempt >= MAX_ATTEMPTS]
        if exhausted:
            self._settle(obj, [], [(i, "Sent several times without a confirmed answer from "
                                       f"{self.crm_name}; check the record there, then retry.", "no_answer")
                                   for i in exhausted])
            self._advance(failed=len(exhausted))
            batch = [i for i in batch if i.attempt < MAX_ATTEMPTS]
            if not batch:
                return
        self._mark_in_flight(batch)
        carried = self._carried(obj, batch)
        company_field = self.adapter.capabilities.company_field
        if action == UPSERT:  # by the unique key the plan chose: its value is the record's id for the CRM
            id_property = next(iter(batch[0].lookup))
            inputs = [RecordInput(properties=i.payload, key=str(i.id), id=str(i.lookup[id_property]))
                      for i in batch]
        else:
            inputs = [RecordInput(properties={**i.payload, company_field: carried[i.local_id][1]}
                                  if i.local_id in carried else i.payload, key=str(i.id), id=i.crm_id or "")
                      for i in batch]
        try:
            if action == CREATE:
                results = await self._call(self.adapter.create(crm_object, inputs))
            elif action == UPSERT:
                results = await self._call(self.adapter.upsert(crm_object, inputs, id_property))
            else:
                results = await self._call(self.adapter.update(crm_object, inputs))
        except TransientError as exc:
            # The answer was lost: the CRM may have written some of it (creates) — re-check, then send again.
            done = {r.key: r for r in exc.completed}
            rest = [i for i in batch if str(i.id) not in done]
            rest += self._apply(obj, action, [i for i in batch if str(i.id) in done], done)
            if isinstance(exc, NetworkError) and not exc.maybe_applied:
                # The connection never opened: nothing was sent. Not an attempt; simply pending again.
                self._settle(obj, [], pending=rest, unsent=True)
                return
            log.info("Export run %s: %s; re-checking %d record(s)", self.run_id, exc, len(rest))
            if action == CREATE:
                await self._recheck(obj, rest)
            else:
                self._settle(obj, [], pending=rest)
            if self._conflicts:
                conflicts, self._conflicts = self._conflicts, []
                await self._resolve_conflicts(obj, conflicts)
            return
        except RateLimitedError as exc:
            if action != CREATE:
                self._settle(obj, [], pending=batch)
            if not _brief_throttle(exc):
                raise
            # Throttled again and again for a moment (another app shares the allowance): the run goes on and this
            # batch comes back next round — updates as pending, creates in flight (looked up before a resend).
            log.info("Export run %s: a batch was throttled; it comes back next round (%s)", self.run_id, exc)
            await asyncio.sleep(min(10.0, exc.retry_after or 1.0))
            return
        except _STOP_ERRORS:
            if action != CREATE:
                self._settle(obj, [], pending=batch)
            raise
        except (FatalError, ValidationError) as exc:
            self._settle(obj, [], [(i, str(exc), "refused") for i in batch])
            self._advance(failed=len(batch))
            return
        recheck = self._apply(obj, action, batch, {r.key: r for r in results})
        if carried:
            self._settle_carried(batch, carried, {r.key: r for r in results})
        if recheck:  # outcomes not reported: looked up before anything is sent again
            await self._recheck(obj, recheck)
        if self._conflicts:
            conflicts, self._conflicts = self._conflicts, []
            await self._resolve_conflicts(obj, conflicts)

    def _carried(self, obj: str, batch: Sequence[_Item]) -> dict[int, tuple[ExportOp, str]]:
        """The association ops that go with these contacts' writes (a CRM keeping the company in a field of the
        contact): local contact id -> (op, the company's CRM id). Loaded once per run, when contacts are written
        (companies are written first)."""
        caps = self.adapter.capabilities
        if obj != "contact" or not caps.company_in_contact or not caps.company_field:
            return {}
        if self._carry is None:
            companies = self._crm_ids("company")
            self._carry = {}
            for o in self._ops(["primary"], ["pending"]):  # an additional company keeps the contact's primary one
                target = companies.get(o.company_id or -1) or o.to_crm_id
                if o.contact_id is not None and target:
                    self._carry[o.contact_id] = (o, str(target))
        return {i.local_id: self._carry[i.local_id] for i in batch if i.local_id in self._carry}

    def _settle_carried(self, batch: Sequence[_Item], carried: Mapping[int, tuple[ExportOp, str]],
                        results: Mapping[str, WriteResult]) -> None:
        """The contacts written with their company: their association ops are done (no separate request)."""
        assert self._carry is not None
        done: list[tuple[ExportOp, str | None]] = []
        for item in batch:
            r = results.get(str(item.id))
            if item.local_id in carried and r is not None and r.ok:
                op, target = carried[item.local_id]
                op.from_crm_id, op.to_crm_id = r.id or item.crm_id, target
                done.append((op, None))
                self._carry.pop(item.local_id, None)
        if done:
            self._ops_in_flight([o for o, _ in done])  # journals the ids the company went with
            self._settle_ops(done)
            self._advance(0, associated=len(done))

    def _apply(self, obj: str, action: str, batch: Sequence[_Item],
               results: Mapping[str, WriteResult]) -> list[_Item]:
        """Settle a batch's results; returns the creates whose outcome is unknown (to re-check)."""
        done: list[tuple[_Item, str, str]] = []
        failed: list[tuple[_Item, str, str]] = []
        pending: list[_Item] = []
        recheck: list[_Item] = []
        for item in batch:
            r = results.get(str(item.id))
            if r is None:
                (recheck if action == CREATE else pending).append(item)
            elif r.ok:
                # An upsert is counted as the CRM says (created or updated); one whose earlier answer was lost and
                # that is sent again is reported "updated" by then, since the record exists.
                made = action == CREATE or (action == UPSERT and bool(r.created))
                done.append((item, r.id or item.crm_id or "", "created" if made else "updated"))
            elif r.error is not None and r.error.existing_id and action == CREATE and item.lookup:
                self._conflicts.append((item, r.error.reason, r.error.existing_id))
            elif r.error is not None and r.error.retriable:
                (recheck if action == CREATE else pending).append(item)
            else:
                reason = r.error.reason if r.error else f"{self.crm_name} refused this record."
                failed.append((item, reason, (r.error.code if r.error else "") or "refused"))
        self._settle(obj, done, failed, pending)
        created = sum(1 for _, _, o in done if o == "created")
        self._advance(len(done) + len(failed), created=created, updated=len(done) - created, failed=len(failed))
        return recheck

    async def _resolve_conflicts(self, obj: str, conflicts: list[tuple[_Item, str, str]]) -> None:
        """Creates refused because the record exists: the same record when its unique field (e-mail) finds that
        very id — then it is ``existed``, not changed by this run — else a failure with the CRM's reason."""
        crm_object = CrmObject.CONTACTS if obj == "contact" else CrmObject.COMPANIES
        found: dict[str, str] = {}
        by_field: dict[str, list[str]] = {}
        for item, _, _ in conflicts:
            name = next(iter(item.lookup))
            by_field.setdefault(name, []).append(str(item.lookup[name]))
        for name, values in by_field.items():
            for rec in await self._call(self.adapter.read_by_unique(crm_object, name, values, [name])):
                found[str(rec.get(name) or "").casefold() + "\0" + name] = rec.id
        done, failed = [], []
        for item, reason, existing in conflicts:
            name = next(iter(item.lookup))
            if found.get(str(item.lookup[name]).casefold() + "\0" + name) == existing:
                done.append((item, existing, "existed"))
            else:
                failed.append((item, reason, "conflict"))
        self._settle(obj, done, failed)
        self._advance(len(done) + len(failed), existed=len(done), failed=len(failed))

    def _advance(self, n: int = 0, **counters: int) -> None:
        nonzero: dict[str, Any] = {k: v for k, v in counters.items() if v}
        self.tracker.advance(n, **nonzero)

    # -- re-checking creates whose answer was lost ---------------------------------------------------------------
    async def reconcile(self, obj: str) -> None:
        """Settle this object's in-flight items of an earlier attempt (resume)."""
        in_flight = self._items(obj, [CREATE, UPDATE, UPSERT, MERGE], ["in_flight"])
        if not in_flight:
            return
        self.tracker.phase(f"Checking {len(in_flight):,} records sent before the interruption", len(in_flight))
        updates = [i for i in in_flight if i.action != CREATE]
        if updates:
            self._settle(obj, [], pending=updates)
        creates = [i for i in in_flight if i.action == CREATE]
        if creates:
            await self._recheck(obj, creates)

    async def _recheck(self, obj: str, items: list[_Item]) -> None:
        """Find in the CRM the records of creates whose outcome is unknown: done if found, else pending. When
        the CRM cannot be asked right now, they stay in flight for the next round (or a resume)."""
        if not items:
            return
        try:
            await self._recheck_now(obj, items)
        except (TransientError, RateLimitedError) as exc:
            if isinstance(exc, RateLimitedError) and not _brief_throttle(exc):
                raise
            log.info("Export run %s: could not re-check %d record(s) yet: %s", self.run_id, len(items), exc)

    async def _recheck_now(self, obj: str, items: list[_Item]) -> None:
        crm_object = CrmObject.CONTACTS if obj == "contact" else CrmObject.COMPANIES
        found: dict[int, str] = {}
        by_field: dict[str, list[_Item]] = {}
        without: list[_Item] = []
        for i in items:
            if i.lookup:
                name = next(iter(i.lookup))
                by_field.setdefault(name, []).append(i)
            else:
                without.append(i)
        for name, group in by_field.items():
            values = [str(i.lookup[name]) for i in group]
            records = await self._call(self.adapter.read_by_unique(crm_object, name, values, [name]))
            ids = {str(r.get(name) or "").casefold(): r.id for r in records}
            for i in group:
                crm_id = ids.get(str(i.lookup[name]).casefold())
                if crm_id:
                    found[i.id] = crm_id
        uncertain: list[tuple[_Item, str, str]] = []
        if without:
            rule, rows = self._identifier(obj, without)
            resolution = await matching.resolve(self.ctx, self.adapter, self.crm, obj, rule, rows, [], use_links=False)
            for i in without:
                m = resolution.matches.get(i.local_id)
                if m is not None and m.outcome == "matched" and m.crm_id:
                    found[i.id] = m.crm_id
                elif m is not None and m.outcome == "ambiguous":
                    uncertain.append((i, f"{self.crm_name} may hold this record more than once "
                                         f"({', '.join(m.candidates[:5])}); check it there.", "uncertain"))
        done = [(i, found[i.id], "created") for i in items if i.id in found]
        unsure = {u[0].id for u in uncertain}
        again = [i for i in items if i.id not in found and i.id not in unsure]
        self._settle(obj, done, uncertain, again)
        if done or uncertain:
            self._advance(len(done) + len(uncertain), created=len(done), failed=len(uncertain))
        if done:
            log.info("Export run %s: %d record(s) were already created in %s; not sent again", self.run_id,
                     len(done), self.crm_name)

    def _identifier(self, obj: str, items: Sequence[_Item]) -> tuple[Any, dict[int, dict[str, Any]]]:
        config = self.ctx.crm_configs.load(self.crm)
        roles = self._roles()
        rule = (config.contact_identifier.rule(roles.get("contact")) if obj == "contact"
                else config.company_identifier.rule(roles.get("company")))
        model = Contact if obj == "contact" else Company
        cols = [getattr(model, c) for c in ("id", *rule.local_fields)]
        rows: dict[int, dict[str, Any]] = {}
        with self.ctx.store.session() as s:
            for row in s.execute(select(*cols).where(model.id.in_([i.local_id for i in items]))):
                rows[row[0]] = dict(zip(("id", *rule.local_fields), row, strict=True))
        return rule, rows

    def _roles(self) -> dict[str, dict[str, str]]:
        return {obj: dict(self.adapter.identifier_fields(crm_object))
                for obj, crm_object in (("contact", CrmObject.CONTACTS), ("company", CrmObject.COMPANIES))}

    # -- merged local duplicates ---------------------------------------------------------------------------------
    def merges(self, obj: str) -> None:
        items = self._items(obj, [MERGE], ["pending", "in_flight"])
        if not items:
            return
        leaders = {i.local_id: i for i in self._items(obj, [CREATE, UPSERT], ["done", "failed", "skipped", "pending",
                                                                               "in_flight"])}
        done, failed = [], []
        for i in items:
            lead = leaders.get(i.leader or -1)
            if lead is not None and lead.state == "done" and lead.crm_id:
                done.append((i, lead.crm_id, "merged"))
            else:
                failed.append((i, f"Not exported: the record it is one with ({lead.label if lead else '?'}) was not "
                                  "exported.", "dependency"))
        self._settle(obj, done, failed)
        self._advance(len(done) + len(failed), merged=len(done), failed=len(failed))

    # -- associations and activities -------------------------------------------------------------------------------
    def _ops(self, kinds: Sequence[str], states: Sequence[str]) -> list[ExportOp]:
        with self.ctx.store.session() as s:
            rows = list(s.scalars(select(ExportOp).where(ExportOp.run_id == self.run_id, ExportOp.kind.in_(kinds),
                                                         ExportOp.state.in_(states)).order_by(ExportOp.id)))
            for r in rows:
                s.expunge(r)
        return rows

    def _crm_ids(self, obj: str) -> dict[int, str]:
        """Local id -> CRM id of this run's records that are done (merged ones through their leader)."""
        q = select(RunItem.local_id, RunItem.crm_id).where(
            RunItem.run_id == self.run_id, RunItem.object == obj, RunItem.state == "done", RunItem.crm_id.is_not(None))
        with self.ctx.store.session() as s:
            return {local_id: crm_id for local_id, crm_id in s.execute(q)}

    def _settle_ops(self, done: Sequence[tuple[ExportOp, str | None]], failed: Sequence[tuple[ExportOp, str, str]] = (),
                    pending: Sequence[ExportOp] = (), skipped: Sequence[tuple[ExportOp, str, str]] = ()) -> None:
        now = utcnow()
        ops, removed_t = _table(ExportOp), _table(RemovedAssociation)
        with self.ctx.store.write() as s:
            conn = s.connection()
            if done:
                conn.execute(update(ops).where(ops.c.id == bindparam("b_id")).values(
                    state="done", crm_id=bindparam("b_crm"), error=None, updated_at=now),
                    [{"b_id": o.id, "b_crm": crm_id} for o, crm_id in done])
                acts = [{"crm": self.crm, "event_id": o.event_id, "crm_id": crm_id,
                         "kind": str(o.payload.get("kind", "")), "run_id": self.run_id, "created_at": now}
                        for o, crm_id in done if o.kind == "activity" and o.event_id and crm_id]
                if acts:
                    conn.execute(sqlite_insert(_table(ActivityLink)).on_conflict_do_nothing(), acts)
                removed = [o.id for o, _ in done if o.kind == "remove"]
                if removed:
                    conn.execute(update(removed_t).where(removed_t.c.op_id.in_(removed)).values(
                        state="removed", removed_at=now))
            for state, rows in (("failed", failed), ("skipped", skipped)):
                if rows:
                    conn.execute(update(ops).where(ops.c.id == bindparam("b_id")).values(
                        state=state, error=bindparam("b_error"), code=bindparam("b_code"), updated_at=now),
                        [{"b_id": o.id, "b_error": reason, "b_code": code} for o, reason, code in rows])
                    gone = [o.id for o, _, _ in rows if o.kind == "remove"]
                    if gone:  # nothing was removed: nothing to restore
                        conn.execute(delete(removed_t).where(removed_t.c.op_id.in_(gone)))
            if pending:
                conn.execute(update(ops).where(ops.c.id.in_([o.id for o in pending])).values(
                    state="pending", updated_at=now))
        for o, crm_id in done:
            o.state, o.crm_id = "done", crm_id

    def _resolve_ops(self, ops: list[ExportOp]) -> tuple[list[ExportOp], list[tuple[ExportOp, str, str]]]:
        """Fill in CRM ids from the records' results; ops whose record was not exported are skipped."""
        contacts, companies = self._crm_ids("contact"), self._crm_ids("company")
        ready, skipped = [], []
        for o in ops:
            o.from_crm_id = contacts.get(o.contact_id or -1) or o.from_crm_id
            if o.kind in ("associate", "primary"):
                o.to_crm_id = companies.get(o.company_id or -1) or o.to_crm_id
            if not o.from_crm_id:
                skipped.append((o, "Not done: the contact was not exported.", "dependency"))
            elif o.kind in ("associate", "primary") and not o.to_crm_id:
                skipped.append((o, "Not done: the contact's company was not exported.", "dependency"))
            else:
                ready.append(o)
        return ready, skipped

    _ASSOCIATION_KINDS = ("associate", "primary", "remove")

    async def _rounds(self, kinds: Sequence[str], once: Callable[[], Any]) -> None:
        """Run ``once`` until no operation of ``kinds`` is pending or in flight: an operation put back to pending
        (its answer lost, or a request given up) is sent again next round, as records are. A round in which
        nothing at all came back waits for the CRM (the run pauses in the end) instead of counting."""
        rounds = 0
        round_start = time.monotonic()
        while rounds < MAX_ATTEMPTS + 2:
            if rounds and self.unanswered and self.last_answer < round_start:
                await self.wait_for_crm()
            else:
                rounds += 1
            round_start = time.monotonic()
            await once()
            if not self._ops(kinds, ["pending", "in_flight"]):
                return

    async def associations(self) -> None:
        await self._rounds(self._ASSOCIATION_KINDS, self._associations_once)

    async def _associations_once(self) -> None:
        for o in self._ops(["associate", "primary"], ["in_flight"]):
            self._settle_ops([], pending=[o])
        ops = self._ops(["associate", "primary"], ["pending"])
        if ops:
            ready, skipped = self._resolve_ops(ops)
            if skipped:
                self._settle_ops([], skipped=skipped)
            self.tracker.phase(f"Associating companies in {self.crm_name}", len(ready))
            size = self.batch[Operation.ASSOCIATION_WRITE]
            for kind in ("primary", "associate"):
                picked = [o for o in ready if o.kind == kind]
                batches = [picked[i:i + size] for i in range(0, len(picked), size)]
                await self._pool(batches, functools.partial(self._associate_kind, kind))
        # Removals: only for contacts whose new association is in place.
        for o in self._ops(["remove"], ["in_flight"]):
            self._settle_ops([], pending=[o])
        removals = self._ops(["remove"], ["pending"])
        if not removals:
            return
        blocking = {o.contact_id for o in self._ops(["associate", "primary"], ["failed", "skipped"])}
        waiting = {o.contact_id for o in self._ops(["associate", "primary"], ["pending", "in_flight"])}
        ready, skipped = self._resolve_ops(removals)
        ready2 = []
        for o in ready:
            if o.contact_id in blocking:
                skipped.append((o, "Not removed: the new primary company could not be associated.", "dependency"))
            elif o.contact_id not in waiting:  # its new association is sent again first (next round)
                ready2.append(o)
        if skipped:
            self._settle_ops([], skipped=skipped)
        self.tracker.phase(f"Removing previous company associations in {self.crm_name}", len(ready2))
        size = self.batch[Operation.ASSOCIATION_WRITE]
        batches = [ready2[i:i + size] for i in range(0, len(ready2), size)]
        await self._pool(batches, self._remove)

    async def _associate_kind(self, kind: str, ops: list[ExportOp]) -> None:
        await self._associate(ops, kind)

    async def _associate(self, ops: list[ExportOp], kind: str) -> None:
        self._ops_in_flight(ops)
        links = [AssociationInput(str(o.from_crm_id), str(o.to_crm_id), key=str(o.id)) for o in ops]
        try:
            results = await self._call(self.adapter.associate(
                links, AssociationKind.PRIMARY if kind == "primary" else AssociationKind.ADDITIONAL))
        except TransientError:
            self._settle_ops([], pending=ops)
            return
        self._apply_ops(ops, results)

    async def _remove(self, ops: list[ExportOp]) -> None:
        # Journal what is removed before removing it: Restore must know it even if the run is killed now.
        now = utcnow()
        with self.ctx.store.write() as s:
            existing = set(s.scalars(select(RemovedAssociation.op_id).where(
                RemovedAssociation.op_id.in_([o.id for o in ops]))))
            rows = [{"run_id": self.run_id, "op_id": o.id, "crm": self.crm, "contact_id": o.contact_id,
                     "from_crm_id": o.from_crm_id, "to_crm_id": o.to_crm_id,
                     "was_primary": bool(o.payload.get("was_primary")), "types": o.payload.get("types") or [],
                     "state": "removing"} for o in ops if o.id not in existing]
            if rows:
                s.execute(insert(RemovedAssociation), rows)
            s.execute(update(ExportOp).where(ExportOp.id.in_([o.id for o in ops]))
                      .values(state="in_flight", attempt=ExportOp.attempt + 1, updated_at=now))
        links = [AssociationInput(str(o.from_crm_id), str(o.to_crm_id), key=str(o.id)) for o in ops]
        try:
            results = await self._call(self.adapter.remove_associations(links))
        except TransientError:
            self._settle_ops([], pending=ops)
            return
        self._apply_ops(ops, results)

    def _ops_in_flight(self, ops: Sequence[ExportOp]) -> None:
        """Journal the operations as sent, with the CRM ids they were sent with (a re-check needs them)."""
        table = _table(ExportOp)
        with self.ctx.store.write() as s:
            s.connection().execute(
                update(table).where(table.c.id == bindparam("b_id")).values(
                    state="in_flight", attempt=table.c.attempt + 1, updated_at=utcnow(),
                    from_crm_id=bindparam("b_from"), to_crm_id=bindparam("b_to")),
                [{"b_id": o.id, "b_from": o.from_crm_id, "b_to": o.to_crm_id} for o in ops])

    def _apply_ops(self, ops: Sequence[ExportOp], results: Sequence[WriteResult]) -> None:
        by_key = {r.key: r for r in results}
        done, failed, pending = [], [], []
        for o in ops:
            r = by_key.get(str(o.id))
            if r is not None and r.ok:
                done.append((o, r.id if o.kind == "activity" else None))
            elif r is None or (r.error is not None and r.error.retriable and o.kind != "activity"):
                if o.attempt + 1 >= MAX_ATTEMPTS:
                    failed.append((o, f"{self.crm_name} did not confirm it.", "no_answer"))
                else:
                    pending.append(o)
            else:
                failed.append((o, r.error.reason if r.error else "Refused.", (r.error.code if r.error else "")
                               or "refused"))
        self._settle_ops(done, failed, pending)
        key = {"associate": "associated", "primary": "associated", "remove": "removed",
               "activity": "activities"}[ops[0].kind] if ops else "associated"
        counts = {key: len(done), "failed_ops": len(failed)}
        self._advance(len(done) + len(failed), **counts)

    async def activities(self) -> None:
        await self._rounds(["activity"], self._activities_once)

    async def _activities_once(self) -> None:
        in_flight = self._ops(["activity"], ["in_flight"])
        if in_flight:
            await self._recheck_activities(in_flight)
        ops = self._ops(["activity"], ["pending"])
        if not ops:
            return
        ready, skipped = self._resolve_ops(ops)
        if skipped:
            self._settle_ops([], skipped=skipped)
        companies = self._crm_ids("company")
        contact_company = self._contact_companies()
        self.tracker.phase(f"Logging activities in {self.crm_name}", len(ready))
        size = self.batch[Operation.ACTIVITY]
        batches = [ready[i:i + size] for i in range(0, len(ready), size)]
        await self._pool(batches, lambda b: self._log(b, companies, contact_company))

    def _contact_companies(self) -> dict[int, int]:
        q = (select(RunItem.local_id, ExportRecord.company_id)
             .join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
             .where(RunItem.run_id == self.run_id, RunItem.object == "contact", ExportRecord.company_id.is_not(None)))
        with self.ctx.store.session() as s:
            return {a: b for a, b in s.execute(q)}

    async def _log(self, ops: list[ExportOp], companies: Mapping[int, str], contact_company: Mapping[int, int]) -> None:
        self._ops_in_flight(ops)
        acts = []
        for o in ops:
            p = o.payload
            company = companies.get(contact_company.get(o.contact_id or -1, -1))
            acts.append(Activity(
                kind=ActivityKind(p.get("kind", "note")), timestamp=datetime.fromisoformat(p["timestamp"]),
                owner_id=str(p.get("owner") or ""), subject=str(p.get("subject") or ""), body=str(p.get("body") or ""),
                direction=Direction.INBOUND if p.get("direction") == "inbound" else Direction.OUTBOUND,
                contact_ids=(str(o.from_crm_id),), company_ids=(company,) if company else (), key=str(o.id)))
        try:
            results = await self._call(self.adapter.log_activities(acts))
        except TransientError as exc:
            done_keys = {r.key for r in exc.completed if r.ok}
            self._apply_ops([o for o in ops if str(o.id) in done_keys], exc.completed)
            rest = [o for o in ops if str(o.id) not in done_keys]
            await self._recheck_activities(rest)
            return
        self._apply_ops(ops, results)

    async def _recheck_activities(self, ops: list[ExportOp]) -> None:
        """Activities whose answer was lost: found among the contact's activities, or reported as uncertain."""
        found: dict[int, str] = {}
        wanted: list[ActivityLookup] = []
        for o in ops:
            moment = parse_datetime(o.payload.get("timestamp"))
            if not o.from_crm_id or moment is None:
                continue
            wanted.append(ActivityLookup(key=str(o.id), contact_id=str(o.from_crm_id),
                                         kind=ActivityKind(str(o.payload.get("kind"))), timestamp=moment,
                                         subject=str(o.payload.get("subject") or "")))
        try:
            found = {int(k): v for k, v in (await self.adapter.find_activities(wanted)).items()} if wanted else {}
        except AdapterError as exc:
            log.warning("Could not look for activities sent before an interruption: %s", exc)
            found = {}
        done = [(o, found[o.id]) for o in ops if o.id in found]
        again = [o for o in ops if o.id not in found]
        self._settle_ops(done, pending=again)


async def execute(
    ctx: Any,
    run_id: int,
    *,
    adapter: CrmAdapter | None = None,
    progress: Callable[[Any], None] | None = None,
    cancel: CancelToken | None = None,
    concurrency: int | None = None,
    notify: bool = True,
    pause_after: float | None = None,
    request_timeout: float | None = None,
) -> ExportResult:
    """Carry out the journal of export run ``run_id`` (queued, or resumable) to its end.

    Returns when the run is finished, cancelled (``cancel``), failed (an error that stops the whole run:
    credentials, daily allowance, rate limit beyond patience) or *interrupted* — paused, resumable — when the CRM
    has not answered for ``pause_after`` seconds or the store cannot be written (a full disk). Failed records do
    not fail the run. :class:`~enginy_desktop.core.runs.RunBusyError` when another run holds the list.
    """
    info = ctx.runs.get(run_id)
    if info.state == "queued":
        ctx.runs.start(run_id)
    elif info.state != "running":
        ctx.runs.resume(run_id)
    missing = _missing_journal(ctx, info)
    if missing:
        return _end(ctx, run_id, "failed", missing)
    own = adapter is None
    if adapter is None:
        try:
            adapter = ctx.adapters.crm(str(info.crm))
        except AdapterError as exc:
            result = _end(ctx, run_id, "failed", str(exc))
            await _notify(ctx, run_id, notify)
            return result
    ex = _Executor(ctx, run_id, adapter, progress=progress, cancel=cancel, concurrency=concurrency,
                   pause_after=pause_after, request_timeout=request_timeout)
    traffic_before = adapter.traffic
    # Counts settled before this (the plan's unchanged and blocked records, an earlier attempt's results).
    settled = counters(ctx, run_id)
    ex.tracker.set_counters(**{k: int(settled[k]) for k in ("created", "updated", "unchanged", "failed", "blocked",
                                                             "existed", "merged") if settled.get(k)})
    state, error = "finished", ""
    try:
        for obj in ("company", "contact"):
            await ex.records(obj)
            ex.merges(obj)
        ex._check()
        await ex.associations()
        await ex.activities()
    except RunCancelled:
        state = "cancelled"
    except CrmUnreachableError as exc:
        state, error = "interrupted", str(exc)
    except AdapterError as exc:
        state, error = "failed", str(exc)
        log.warning("Export run %s stopped: %s", run_id, exc)
    except BaseException as exc:
        if own:
            await adapter.aclose()
            own = False
        if _disk_problem(exc):
            return _stopped_by_disk(ctx, ex, exc)
        _end(ctx, run_id, "failed", f"Unexpected error: {exc}")
        log.exception("Export run %s failed", run_id)
        raise
    finally:
        if own:
            await adapter.aclose()
    try:
        _add_traffic(ctx, run_id, adapter.traffic - traffic_before)
        if state == "finished":
            left = _left(ctx, run_id)
            if left:  # never "finished" with anything still to send or unconfirmed: paused, resumable
                state, error = "interrupted", (f"Run {run_id} could not finish: {left} still to be sent to or "
                                               f"confirmed by {ex.crm_name}; nothing was lost. Resume with: "
                                               f"enginy-desktop resume {run_id}")
        elif state == "interrupted":
            error = error.replace("{left}", _not_sent(ctx, run_id)) + f" Resume with: enginy-desktop resume {run_id}"
        result = _end(ctx, run_id, state, error)
    except Exception as exc:
        if _disk_problem(exc):
            return _stopped_by_disk(ctx, ex, exc)
        raise
    ex.tracker.phase({"finished": "Finished", "cancelled": "Cancelled", "failed": "Failed",
                      "interrupted": "Paused"}[state])
    await _notify(ctx, run_id, notify)
    return result


def _missing_journal(ctx: Any, info: Any) -> str:
    """Why the run's journal cannot be trusted to hold every record of its plan ("" when it does).

    Runs journal their records in the transaction that creates them; a run of an older version could be killed
    between the two, leaving a run with no records that must never pass for finished."""
    planned = info.options.get("journal", {}).get("records") if isinstance(info.options.get("journal"), dict) \
        else sum(int(v) for k, v in info.counters.items() if k.startswith("planned_") and isinstance(v, int))
    if not planned:
        return ""
    have = sum(ctx.runs.item_counts(info.id).values())
    if have >= int(planned):
        return ""
    return (f"Run {info.id} stopped before its records were journaled ({have:,} of {int(planned):,}); nothing was "
            f"sent for the others. Export the list again.")


def _left(ctx: Any, run_id: int) -> str:
    """What the journal still holds pending or in flight — records, association changes, activities — in words
    ("" when nothing is left). Only the open states are counted (the items' state index; no join with the
    records' outcomes): it runs between the last answer and the end of every run."""
    c: Counter[str] = Counter()
    with ctx.store.session() as s:
        open_states = ("pending", "in_flight")
        c[""] = int(s.scalar(select(func.count()).select_from(RunItem)
                             .where(RunItem.run_id == run_id, RunItem.state.in_(open_states))) or 0)
        for kind, n in s.execute(select(ExportOp.kind, func.count())
                                 .where(ExportOp.run_id == run_id, ExportOp.state.in_(open_states))
                                 .group_by(ExportOp.kind)):
            c[_OP_COUNTER[kind] + "_"] += int(n)
    parts = []
    for key, one, many in (("", "record", "records"), ("associations_", "company association", "company associations"),
                           ("removals_", "association removal", "association removals"),
                           ("activities_", "activity", "activities")):
        n = c[key]
        if n:
            parts.append(f"{n:,} {one if n == 1 else many}")
    return ", ".join(parts)


def _not_sent(ctx: Any, run_id: int) -> str:
    c = ctx.runs.item_counts(run_id)
    n = c.get("pending", 0) + c.get("in_flight", 0)
    return f"{n:,} record{'s' if n != 1 else ''}"


def _add_traffic(ctx: Any, run_id: int, t: Traffic) -> None:
    """What this attempt cost in requests, retries, 429s and waiting, added to the run's counters."""
    if t.requests or t.retries or t.throttled or t.waited:
        ctx.runs.add_counters(run_id, {"requests": t.requests, "retries": t.retries, "throttled": t.throttled,
                                       "waited_ms": round(t.waited * 1000)})


def _stopped_by_disk(ctx: Any, ex: _Executor, exc: BaseException) -> ExportResult:
    """The store could not be written: stop with one line; the journal says what was done (resumable)."""
    where = getattr(ctx.store, "path", None)
    message = (f"Enginy Desktop could not write to its database ({where}): the disk is full or failing. The export "
               f"stopped; what was sent is journaled. Free some space, then resume with: enginy-desktop resume "
               f"{ex.run_id}")
    log.error("Export run %s stopped: %s (%s)", ex.run_id, message, exc)
    try:
        return _end(ctx, ex.run_id, "interrupted", message)
    except Exception:  # still full: the run stays as it is; the next start marks it interrupted
        return ExportResult(ex.run_id, "interrupted", {}, message)


_OP_COUNTER = {"associate": "associations", "primary": "associations", "remove": "removals",
               "activity": "activities"}  # an op's kind -> the name its counters go by


def counters(ctx: Any, run_id: int) -> dict[str, int]:
    """The run's outcome counts, from its journal."""
    with ctx.store.session() as s:
        rows = s.execute(select(RunItem.object, RunItem.state, ExportRecord.outcome, func.count())
                         .join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
                         .where(RunItem.run_id == run_id)
                         .group_by(RunItem.object, RunItem.state, ExportRecord.outcome)).all()
        ops = s.execute(select(ExportOp.kind, ExportOp.state, func.count()).where(ExportOp.run_id == run_id)
                        .group_by(ExportOp.kind, ExportOp.state)).all()
    c: Counter[str] = Counter()
    for obj, state, outcome, n in rows:
        if state == "done":
            key = {"created": "created", "updated": "updated", "unchanged": "unchanged", "merged": "merged",
                   "existed": "existed"}.get(outcome, "updated")
        elif state == "skipped":
            key = "blocked"
        else:
            key = state  # failed, pending, in_flight
        c[key] += n
        c[f"{obj}_{key}"] += n
    for kind, state, n in ops:
        c[f"{_OP_COUNTER[kind]}_{state}"] += n
    return dict(c)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        n = max(1, round(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    m = round(seconds / 60)
    return f"{m} minute{'s' if m != 1 else ''}"


def _end(ctx: Any, run_id: int, state: str, error: str) -> ExportResult:
    c = counters(ctx, run_id)
    ctx.runs.finish(run_id, state, error=error or None, counters=c)
    return ExportResult(run_id, state, c, error)


async def _notify(ctx: Any, run_id: int, notify: bool) -> None:
    if not notify:
        return
    from .notify import post_run_summary

    await post_run_summary(ctx, run_id)


async def export(
    ctx: Any,
    list_ref: str | int,
    options: ExportOptions | None = None,
    *,
    progress: Callable[[Any], None] | None = None,
    cancel: CancelToken | None = None,
    confirm_removals: bool = False,
    concurrency: int | None = None,
    notify: bool = True,
) -> tuple[Plan, ExportResult]:
    """Plan, journal and run an export in one go (the command line without ``--dry-run``)."""
    plan = await plan_export(ctx, list_ref, options, progress=progress, cancel=cancel)
    if plan.needs_confirmation and not confirm_removals:
        raise ExportRefused(plan.confirmation_text + " Confirm to go on.", "needs_confirmation")
    run_id = start_export(ctx, plan)
    result = await execute(ctx, run_id, progress=progress, cancel=cancel, concurrency=concurrency, notify=notify)
    return plan, result


async def resume(ctx: Any, run_id: int, **kw: Any) -> ExportResult:
    """Carry on an interrupted, cancelled or failed export run from its journal."""
    info = ctx.runs.get(run_id)
    if info.kind != "export":
        article = "an" if info.kind[:1] in ("a", "e", "i", "o", "u") else "a"
        hint = {"enrichment": f" Carry it on with `enginy-desktop enrich --resume {run_id}`.",
                "sync": " A sync writes nothing; sync the list again to refresh it."}.get(info.kind, "")
        raise ExportRefused(f"Run {run_id} is {article} {info.kind} run, not an export.{hint}", "not_export")
    if info.state == "finished":
        raise ExportRefused(f"Run {run_id} has already finished: nothing is left to resume. To write its failed "
                            "records again, export the list again (or Retry failed in the run's report).", "finished")
    return await execute(ctx, run_id, **kw)


async def retry_failed(ctx: Any, run_id: int, **plan_kw: Any) -> Plan:
    """A new plan for the records of ``run_id`` that failed (or whose associations or activities failed),
    with today's values and CRM state; journal it with ``start_export(ctx, plan, retry_of=run_id)``."""
    info = ctx.runs.get(run_id)
    if info.kind != "export" or info.list_id is None:
        raise ExportRefused(f"Run {run_id} is not an export of a list that still exists.", "not_export")
    with ctx.store.session() as s:
        failed_records = set(s.scalars(select(RunItem.local_id).where(
            RunItem.run_id == run_id, RunItem.state.in_(["failed", "pending", "in_flight"]))))
        failed_ops = set(s.scalars(select(ExportOp.contact_id).where(
            ExportOp.run_id == run_id, ExportOp.state.in_(["failed", "pending", "in_flight"]))))
        main_ids = {local_id for obj, local_id in s.execute(select(RunItem.object, RunItem.local_id).where(
            RunItem.run_id == run_id, RunItem.local_id.in_(failed_records))) if obj != "company"}
        failed_companies = set(s.scalars(select(RunItem.local_id).where(
            RunItem.run_id == run_id, RunItem.object == "company", RunItem.state == "failed")))
        if failed_companies:
            main_ids |= set(s.scalars(select(RunItem.local_id).join(
                ExportRecord, ExportRecord.run_item_id == RunItem.id).where(
                RunItem.run_id == run_id, RunItem.object == "contact", ExportRecord.company_id.in_(failed_companies))))
    ids = sorted((main_ids | {i for i in failed_ops if i is not None}) if info.options.get("associated_companies")
                 or failed_ops else main_ids)
    if info.list_id is not None and not ids:
        with ctx.store.session() as s:
            kinds = set(s.scalars(select(RunItem.object).where(RunItem.run_id == run_id)))
        if kinds == {"company"}:
            ids = sorted(failed_records)
    if not ids:
        raise ExportRefused(f"Run {run_id} has no failed records to retry.", "nothing_to_retry")
    options = ExportOptions.from_json({**info.options, "record_ids": ids})
    return await plan_export(ctx, info.list_id, options, **plan_kw)


def associations_to_restore(ctx: Any, run_id: int) -> int:
    """How many associations export run ``run_id`` removed (or was removing) that are not back yet."""
    ctx.runs.get(run_id)  # an unknown run is refused with the run service's message
    with ctx.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(RemovedAssociation).where(
            RemovedAssociation.run_id == run_id,
            RemovedAssociation.state.in_(["removing", "removed", "restore_failed"]))) or 0)


async def restore_removed_associations(ctx: Any, run_id: int, *,
                                       adapter: CrmAdapter | None = None) -> dict[str, int]:
    """Put back every association export run ``run_id`` removed (or was removing when it stopped).

    Where a contact may have several companies, each comes back as an additional association (the run's new
    primary company stays primary). Where it has one (the company is a field of the contact), the previous
    company is put back in that field. Returns ``{"restored": n, "failed": m}``; each row records its own outcome.
    """
    info = ctx.runs.get(run_id)
    with ctx.store.session() as s:
        rows = list(s.scalars(select(RemovedAssociation).where(
            RemovedAssociation.run_id == run_id, RemovedAssociation.state.in_(["removing", "removed",
                                                                               "restore_failed"]))))
        for r in rows:
            s.expunge(r)
    if not rows:
        return {"restored": 0, "failed": 0}
    own = adapter is None
    if adapter is None:
        adapter = ctx.adapters.crm(str(info.crm))
    restored = failed = 0
    try:
        caps = adapter.capabilities
        size = caps.batch(Operation.ASSOCIATION_WRITE)
        kind = AssociationKind.ADDITIONAL if caps.multiple_companies else AssociationKind.PRIMARY
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            links = [AssociationInput(r.from_crm_id, r.to_crm_id, key=str(r.id)) for r in chunk]
            results = {x.key: x for x in await adapter.associate(links, kind)}
            now = utcnow()
            with ctx.store.write() as s:
                for r in chunk:
                    res = results.get(str(r.id))
                    if res is not None and res.ok:
                        restored += 1
                        s.execute(update(RemovedAssociation).where(RemovedAssociation.id == r.id).values(
                            state="restored", restored_at=now, error=None))
                    else:
                        failed += 1
                        reason = res.error.reason if res is not None and res.error else "Not confirmed."
                        s.execute(update(RemovedAssociation).where(RemovedAssociation.id == r.id).values(
                            state="restore_failed", error=reason))
    finally:
        if own:
            await adapter.aclose()
    ctx.runs.update_options(run_id, {"restore": {"restored": restored, "failed": failed,
                                                 "at": datetime.now(UTC).isoformat()}})
    return {"restored": restored, "failed": failed}
