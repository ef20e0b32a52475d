"""The CRM's daily budget against a sync: what reading the CRM side as planned costs, and what is left today."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from enginy_desktop.adapters.base import Capabilities, CrmAdapter, Operation
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.runs import CancelToken, ProgressTracker
from enginy_desktop.core.services import crm as crm_service
from enginy_desktop.core.services.budget import BudgetCheck

from .cache import _known_size
from .local import LocalColumns, _find_list, _load_local, identifier_rules
from .plan import _changed_pages, _plan_crm_side, _Planned
from .results import CRM_OBJECTS, OBJECT_LABELS


@dataclass(frozen=True)
class _Units:
    """What reading one object's CRM side as planned costs, and what of it could not be known beforehand."""

    units: int
    size_unknown: bool = False  # a listing of a CRM that cannot say its size, never listed before
    changes_unknown: bool = False  # the records changed since the last sync, which the CRM cannot count
    guessed: tuple[int, datetime | None] | None = None  # the size the last full listing found, counted with


def _plan_units(ctx: Any, crm: str, object_: str, planned: _Planned, caps: Capabilities) -> _Units:
    """Units of ``caps.budget`` reading the CRM side as ``planned`` costs."""
    budget = caps.budget
    assert budget is not None
    plan = planned.plan
    if plan.mode == "scan":
        if planned.crm_total is not None:  # the listing's pages as planned (children of a sub-query counted)
            return _Units(budget.cost_of(Operation.SCAN_PAGE, max(1, plan.calls)))
        known = _known_size(ctx, crm, object_)
        size = known[0] if known else None
        pages = max(1, math.ceil((size or 0) / caps.batch(Operation.SCAN_PAGE)))
        return _Units(budget.cost_of(Operation.SCAN_PAGE, pages), size is None, guessed=known)
    units = 0
    if plan.since is not None:
        units += budget.cost_of(Operation.READ, math.ceil(len(plan.reverify) / caps.batch(Operation.READ)))
        units += budget.cost_of(Operation.SCAN_PAGE, _changed_pages(planned.changed, caps))
    for g in plan.groups:
        if g.positions and g.how == "read":
            units += budget.cost_of(Operation.READ, g.calls(planned.crm_total))
        elif g.positions and g.how == "search":
            units += budget.cost_of(Operation.SEARCH_PAGE, g.calls(planned.crm_total))
    return _Units(units, changes_unknown=plan.since is not None and planned.changed is None)


@dataclass(frozen=True)
class SyncBudget:
    """What a sync would spend of the CRM's daily budget and what is left today (``check``).

    ``check.needed`` counts the calls planning makes (``planning``: the CRM's size, the records changed since the
    last sync, the fields reading needs first) and the reads as planned. ``at_least``: a lower bound (the CRM
    cannot say its size before a first listing, or how many records changed since the last sync); ``guessed``:
    counted with the size the last full listing found, and when (the CRM cannot say its size now)."""

    check: BudgetCheck
    at_least: bool = False
    lists_everything: bool = False  # the sync lists every CRM record: its cost does not shrink with the list
    planning: int = 0
    guessed: tuple[str, int, datetime | None] | None = None  # (records' noun, how many, when)
    changes_unknown: bool = False

    def _needs(self, text: str) -> str:
        return text.replace("needs about", "needs at least", 1) if self.at_least else text

    def notes(self, crm_name: str) -> str:
        """What the figure counts and what it had to guess, in sentences ("" when nothing to say)."""
        out = []
        if self.planning:
            unit = self.check.unit.removesuffix("s") if self.planning == 1 else self.check.unit
            out.append(f"That counts {self.planning:,} {unit} spent planning it (record counts, field lists).")
        if self.guessed is not None:
            noun, n, when = self.guessed
            at = f" on {when:%b} {when.day}, {when:%H:%M} UTC" if when is not None else ""
            out.append(f"{crm_name} cannot say how many {noun} it holds: the figure is a guess from the "
                       f"{n:,} {noun} the last full listing found{at}.")
        if self.changes_unknown:
            out.append(f"{crm_name} cannot say beforehand how many records changed since the last sync: one page "
                       "of them is counted, more cost more.")
        return " ".join(out)

    def line(self, crm_name: str) -> str:
        return " ".join(t for t in (self._needs(self.check.line(crm_name, "sync")), self.notes(crm_name)) if t)

    def refusal(self, crm_name: str) -> str:
        text = self._needs(self.check.refusal(crm_name, "sync")) + " Nothing was read or stored."
        if self.lists_everything:
            return text + (f" The sync lists every {crm_name} record whatever the size of the list, so a smaller "
                           "list would cost the same: sync after the budget resets.")
        return text + " Sync a smaller list, or sync after the budget resets."

    def as_json(self) -> dict[str, Any]:
        c = self.check
        guess = None
        if self.guessed is not None:
            _noun, n, when = self.guessed
            guess = {"records": n, "listed_at": when.isoformat() if when is not None else None}
        return {"unit": c.unit, "needed": c.needed, "at_least": self.at_least, "remaining": c.remaining,
                "per_day": c.per_day, "fits": c.fits, "planning": self.planning, "size_guessed_from": guess,
                "changes_unknown": self.changes_unknown}


async def _sync_budget(ctx: Any, adapter: CrmAdapter, crm: str, planned: Mapping[str, _Planned],
                       calls_before: int, *, in_run: bool = False) -> SyncBudget | None:
    """The budget of a sync planned as ``planned``; ``calls_before``: the adapter's calls before planning began
    (what planning and this check cost is counted in). ``in_run``: planned by the sync itself, whose planning is
    spent already: what is left is told as it was when the sync began, against the whole of what it needs."""
    caps = adapter.capabilities
    if caps.budget is None:
        return None
    needed, size_unknown, changes_unknown = 0, False, False
    guessed: tuple[str, int, datetime | None] | None = None
    for object_, p in planned.items():
        u = _plan_units(ctx, crm, object_, p, caps)
        needed += u.units
        size_unknown = size_unknown or u.size_unknown
        changes_unknown = changes_unknown or u.changes_unknown
        if u.guessed is not None and guessed is None:
            guessed = (OBJECT_LABELS[object_][1], *u.guessed)
    left = await adapter.budget_left()
    planning = caps.budget.cost_of(Operation.READ, adapter.calls_made - calls_before)
    check = BudgetCheck.of(caps, needed + planning, left)
    assert check is not None
    if in_run and check.remaining is not None:
        check = replace(check, remaining=check.remaining + planning)
    return SyncBudget(check, size_unknown or changes_unknown, any(p.plan.mode == "scan" for p in planned.values()),
                      planning, guessed, changes_unknown)


async def _plan_all(ctx: Any, adapter: CrmAdapter, crm: str, list_id: int, list_kind: str, objects: Sequence[str],
                    rules: Mapping[str, Rule], token: CancelToken, tracker: ProgressTracker, *, use_cache: bool,
                    exclude_run: int | None = None) -> tuple[dict[str, LocalColumns], dict[str, _Planned]]:
    locals_: dict[str, LocalColumns] = {}
    planned: dict[str, _Planned] = {}
    for object_ in objects:
        many = OBJECT_LABELS[object_][1]
        tracker.phase(f"Reading the list's {many}")
        rule = rules[object_]
        locals_[object_] = await asyncio.to_thread(_load_local, ctx.store, list_id, object_, rule.local_fields,
                                                   object_ == "company" and list_kind == "contacts")
        token.raise_if_cancelled()
        planned[object_] = await _plan_crm_side(ctx, adapter, crm, object_, rule, locals_[object_], token,
                                                exclude_run=exclude_run, use_cache=use_cache)
        plan = planned[object_].plan
        if plan.mode == "scan" or plan.since is not None or any(g.positions for g in plan.groups):
            await adapter.prepare_read(CRM_OBJECTS[object_])  # counted with the planning, not guessed
    return locals_, planned


async def estimate_sync(ctx: Any, list_ref: str | int, *, crm: str | None = None,
                        use_cache: bool = True) -> SyncBudget | None:
    """What a sync of the list would spend of the CRM's daily budget, and what is left (None when the CRM has no
    daily budget). Plans as the sync would (it may ask the CRM its size: one call); reads no record."""
    key = crm or crm_service.active_crm_key(ctx)
    crm_service.require_connected(ctx, key)
    list_id, _name, list_kind = _find_list(ctx, list_ref)
    objects = ["contact", "company"] if list_kind == "contacts" else ["company"]
    async with crm_service.open_crm(ctx, key) as adapter:
        if adapter.capabilities.budget is None:
            return None
        rules = identifier_rules(ctx, key, adapter)
        calls_before = adapter.calls_made
        _locals, planned = await _plan_all(ctx, adapter, key, list_id, list_kind, objects, rules, CancelToken(),
                                           ProgressTracker(None), use_cache=use_cache)
        return await _sync_budget(ctx, adapter, key, planned, calls_before)
