"""The sync run: plan (and check the daily budget), read the CRM side, match in a worker thread, store the
links; as a ``runs`` row of kind ``sync`` with progress and cooperative cancellation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, cast

from sqlalchemy import delete

from enginy_desktop.adapters.base import AdapterError
from enginy_desktop.core import catalog
from enginy_desktop.core.matching.matcher import Columns, match
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.models import RunItem
from enginy_desktop.core.runs import CancelToken, ProgressCallback, ProgressTracker, RunCancelled
from enginy_desktop.core.services import crm as crm_service

from .budget import SyncBudget, _plan_all, _sync_budget
from .cache import rule_signature
from .links import _decide, _fold, _Link, _load_links, _store_links, _Stored
from .local import LocalColumns, _find_list, _load_local, identifier_rules
from .plan import _Planned
from .read import _Side, read_crm_side
from .results import OBJECT_LABELS, ObjectSync, SyncError, SyncRefused, SyncResult

log = logging.getLogger(__name__)

def _summary(result_objects: Mapping[str, ObjectSync], cancelled: bool, stage: str) -> str:
    parts = []
    for object_, res in result_objects.items():
        many = OBJECT_LABELS[object_][1]
        f = _fold(res.counts)
        bits = [f"{f['matched']:,} matched", f"{f['new']:,} new"]
        if f["ambiguous"]:
            bits.append(f"{f['ambiguous']:,} ambiguous")
        if f["unmatchable"]:
            bits.append(f"{f['unmatchable']:,} unmatchable")
        parts.append(f"{many.capitalize()}: " + ", ".join(bits))
    text_ = "; ".join(parts) + "." if parts else ""
    if cancelled:
        stored = sum(r.stored for r in result_objects.values())
        kept = f"{stored:,} link{'s' if stored != 1 else ''} stored before it stopped are kept" if stored else \
            "nothing had been stored yet"
        text_ = f"Sync cancelled while {stage}: {kept}. Run the sync again to finish. {text_}".strip()
    return text_


async def sync_list(
    ctx: Any,
    list_ref: str | int,
    *,
    crm: str | None = None,
    progress: ProgressCallback | None = None,
    token: CancelToken | None = None,
    use_cache: bool = True,
    on_run: Callable[[int], None] | None = None,
    on_budget: Callable[[SyncBudget], None] | None = None,
) -> SyncResult:
    """Sync a list with the enabled CRM (or ``crm``): match, store the links, and return what happened.

    Refusals the user can fix raise :class:`SyncError` or ``CrmServiceError`` (no CRM enabled or connected)
    before any run is recorded. A CRM failure during the run marks the run failed (links stored before stay)
    and raises the ``AdapterError``. Cancelling (``token``) stops between API calls or storage batches; the
    result then has ``cancelled`` set and says what was kept. ``on_run(run_id)`` is called once the run exists.

    On a CRM with a daily budget (``Capabilities.budget``) the sync is planned first and ``on_budget`` gets what
    it needs and what is left today; a sync that needs more is refused (:class:`SyncError`, with the numbers)
    before anything is read or stored.
    """
    token = token or CancelToken()
    key = crm or crm_service.active_crm_key(ctx)
    crm_service.require_connected(ctx, key)
    list_id, list_name, list_kind = _find_list(ctx, list_ref)
    objects = ["contact", "company"] if list_kind == "contacts" else ["company"]
    crm_name = catalog.get(key).name
    started = time.monotonic()

    async with crm_service.open_crm(ctx, key) as adapter:
        rules = identifier_rules(ctx, key, adapter)
        calls_start = adapter.calls_made or 0
        tracker = ProgressTracker(progress)
        locals_: dict[str, LocalColumns] = {}
        planned: dict[str, _Planned] = {}
        budget: SyncBudget | None = None
        if adapter.capabilities.budget is not None:  # what it costs is known before anything is read
            # (A Cancel meanwhile is seen as the run starts, so the run says what it kept.)
            calls_before = adapter.calls_made
            locals_, planned = await _plan_all(ctx, adapter, key, list_id, list_kind, objects, rules, CancelToken(),
                                               tracker, use_cache=use_cache)
            budget = await _sync_budget(ctx, adapter, key, planned, calls_before, in_run=True)
            if budget is not None:
                if on_budget is not None:
                    on_budget(budget)
                if not budget.check.fits:
                    raise SyncRefused(budget.refusal(crm_name), budget)
        options = {
            "signatures": {o: rule_signature(rules[o]) for o in objects},
            "identifiers": {o: rules[o].display for o in objects},
            "include_any_extension": rules["company"].include_any_extension,
            "objects": objects,
        }
        if budget is not None:
            options["budget"] = budget.as_json()
        run = ctx.runs.create("sync", crm=key, list_id=list_id, list_name=list_name, options=options, start=True)
        if on_run is not None:
            on_run(run.id)
        tracker.run_id = run.id
        done: dict[str, ObjectSync] = {}
        stage = "starting"
        try:
            for object_ in objects:
                prefix = "" if object_ == objects[0] else "companies_"
                rule = rules[object_]
                one, many = OBJECT_LABELS[object_]
                stage = f"reading the {many}"
                local = locals_.get(object_)
                if local is None:
                    tracker.phase(f"Reading the list's {many}")
                    local = await asyncio.to_thread(_load_local, ctx.store, list_id, object_, rule.local_fields,
                                                    object_ == "company" and list_kind == "contacts")
                ctx.runs.add_counters(run.id, {f"{prefix}total": len(local.ids)})
                token.raise_if_cancelled()
                previous = await asyncio.to_thread(_load_links, ctx.store, key, object_, local.ids)
                stage = f"reading {crm_name}"
                side = await read_crm_side(ctx, adapter, key, object_, rule, local, token, tracker,
                                            exclude_run=run.id, use_cache=use_cache, planned=planned.get(object_))
                stage = f"matching the {many}"
                tracker.phase(f"Matching {many}", len(local.ids))
                local_cols = Columns(local.ids, local.columns)
                crm_side = cast(Mapping[Hashable, Any], side.records)

                def match_and_decide(rule: Rule = rule, local_cols: Columns = local_cols, crm_side: Any = crm_side,
                                     previous: Mapping[int, _Link] = previous) -> list[Any]:
                    return _decide(match(rule, local_cols, crm_side), previous)

                decided = await asyncio.to_thread(match_and_decide)
                tracker.advance(len(local.ids))  # matching is one pass in a worker thread: done all at once
                token.raise_if_cancelled()
                stage = f"storing the {many}' links"
                tracker.phase(f"Storing {one} links", len(decided))
                kept = _Stored()

                def record(state: _Stored = kept, local: LocalColumns = local, side: _Side = side, rule: Rule = rule,
                           object_: str = object_) -> None:
                    done[object_] = ObjectSync(object_, len(local.ids), dict(state.counts), side.strategy,
                                               side.calls, len(side.records), state.stored, rule.display)

                try:
                    await asyncio.to_thread(_store_links, ctx, key, object_, run.id, decided, token, tracker, prefix,
                                            kept)
                finally:
                    record()
                log.info("Synced %s %s of list %s with %s: %s; %d calls (%s)", len(local.ids), many, list_name,
                         key, kept.counts, side.calls, side.strategy)
        except RunCancelled:
            calls = (adapter.calls_made or 0) - calls_start
            message = _summary(done, True, stage)
            ctx.runs.finish(run.id, "cancelled", counters={"api_calls": calls}, error=message)
            tracker.flush()
            return SyncResult(run.id, key, list_id, list_name, done, calls, time.monotonic() - started, True,
                              message)
        except (AdapterError, SyncError) as exc:
            calls = (adapter.calls_made or 0) - calls_start
            ctx.runs.finish(run.id, "failed", error=str(exc), counters={"api_calls": calls})
            raise
        except BaseException as exc:  # a bug, or the task was cancelled: the run must not stay "running"
            calls = (adapter.calls_made or 0) - calls_start
            state = "interrupted" if isinstance(exc, asyncio.CancelledError) else "failed"
            reason = "The sync was stopped." if state == "interrupted" else f"Unexpected error: {exc}"
            ctx.runs.finish(run.id, state, error=reason, counters={"api_calls": calls})
            raise
        calls = (adapter.calls_made or 0) - calls_start
        ctx.runs.finish(run.id, "finished", counters={"api_calls": calls})
        _prune_journals(ctx, key, list_id, run.id)
        message = _summary(done, False, "")
        tracker.flush()
        return SyncResult(run.id, key, list_id, list_name, done, calls, time.monotonic() - started, False, message)


def _prune_journals(ctx: Any, crm: str, list_id: int, keep_run: int) -> None:
    """Older syncs of the same list keep their history row but not their per-record journal (the links say the
    same, newer)."""
    older = [r.id for r in ctx.runs.history(kind="sync", crm=crm, list_id=list_id, limit=1000)
             if r.id != keep_run and not r.active and r.options.get("signatures")
             == ctx.runs.get(keep_run).options.get("signatures")]
    if older:
        with ctx.store.write() as s:
            s.execute(delete(RunItem).where(RunItem.run_id.in_(older)))
