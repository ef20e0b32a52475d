"""The CRM's daily budget against a sync: what reading the CRM side as planned costs, and what is left today."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from enginy_desktop.adapters.base import Capabilities, CrmAdapter, Operation
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.runs import CancelToken, ProgressTracker
from enginy_desktop.core.services import crm as crm_service
from enginy_desktop.core.services.budget import BudgetCheck

from .cache import _known_size
from .local import _find_list, _load_local, _Local, identifier_rules
from .plan import _plan_crm_side, _Planned
from .results import OBJECT_LABELS


def _plan_units(ctx: Any, crm: str, object_: str, planned: _Planned, caps: Capabilities) -> tuple[int, bool]:
    """Units of ``caps.budget`` reading the CRM side as ``planned`` costs, and whether that is only a lower bound
    (a listing of a CRM whose size is not known yet)."""
    budget = caps.budget
    assert budget is not None
    plan = planned.plan
    if plan.mode == "scan":
        if planned.crm_total is not None:  # the listing's pages as planned (children of a sub-query counted)
            return budget.cost_of(Operation.SCAN_PAGE, max(1, plan.calls)), False
        size = _known_size(ctx, crm, object_)
        pages = max(1, math.ceil((size or 0) / caps.batch(Operation.SCAN_PAGE)))
        return budget.cost_of(Operation.SCAN_PAGE, pages), size is None
    units = 0
    if plan.since is not None:
        units += budget.cost_of(Operation.READ, math.ceil(len(plan.reverify) / caps.batch(Operation.READ)))
        units += budget.cost_of(Operation.SCAN_PAGE, 1)  # the records changed since, usually one page
    for g in plan.groups:
        if g.positions and g.how == "read":
            units += budget.cost_of(Operation.READ, g.calls(planned.crm_total))
        elif g.positions and g.how == "search":
            units += budget.cost_of(Operation.SEARCH_PAGE, g.calls(planned.crm_total))
    return units, False


@dataclass(frozen=True)
class SyncBudget:
    """What a sync would spend of the CRM's daily budget and what is left today (``check``), and whether the
    figure is a lower bound (``at_least``: the CRM's size is not known before a first listing)."""

    check: BudgetCheck
    at_least: bool = False
    lists_everything: bool = False  # the sync lists every CRM record: its cost does not shrink with the list

    def line(self, crm_name: str) -> str:
        text = self.check.line(crm_name, "sync")
        if self.at_least:
            text = text.replace("needs about", "needs at least", 1)
        return text

    def refusal(self, crm_name: str) -> str:
        text = self.check.refusal(crm_name, "sync") + " Nothing was read or stored."
        if self.at_least:
            text = text.replace("needs about", "needs at least", 1)
        if self.lists_everything:
            return text + (f" The sync lists every {crm_name} record whatever the size of the list, so a smaller "
                           "list would cost the same: sync after the budget resets.")
        return text + " Sync a smaller list, or sync after the budget resets."

    def as_json(self) -> dict[str, Any]:
        c = self.check
        return {"unit": c.unit, "needed": c.needed, "at_least": self.at_least, "remaining": c.remaining,
                "per_day": c.per_day, "fits": c.fits}


async def _sync_budget(ctx: Any, adapter: CrmAdapter, crm: str, planned: Mapping[str, _Planned]) -> SyncBudget | None:
    caps = adapter.capabilities
    if caps.budget is None:
        return None
    needed, at_least = 0, False
    for object_, p in planned.items():
        units, lower = _plan_units(ctx, crm, object_, p, caps)
        needed += units
        at_least = at_least or lower
    check = BudgetCheck.of(caps, needed, await adapter.budget_left())
    assert check is not None
    return SyncBudget(check, at_least, any(p.plan.mode == "scan" for p in planned.values()))


async def _plan_all(ctx: Any, adapter: CrmAdapter, crm: str, list_id: int, list_kind: str, objects: Sequence[str],
                    rules: Mapping[str, Rule], token: CancelToken, tracker: ProgressTracker, *, use_cache: bool,
                    exclude_run: int | None = None) -> tuple[dict[str, _Local], dict[str, _Planned]]:
    locals_: dict[str, _Local] = {}
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
        _locals, planned = await _plan_all(ctx, adapter, key, list_id, list_kind, objects, rules, CancelToken(),
                                           ProgressTracker(None), use_cache=use_cache)
        return await _sync_budget(ctx, adapter, key, planned)
