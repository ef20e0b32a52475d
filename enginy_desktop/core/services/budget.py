"""A CRM's daily budget against a run (Qt-free), shared by the sync and the export.

Some CRMs allow so much a day — Pipedrive a token budget where each request costs its endpoint's tokens, Zoho
credits, Salesforce and HubSpot requests (``Capabilities.budget``, ``CrmAdapter.budget_left``). Before a sync or
an export the window and the command line show what the run needs and what is left today; a run that would need
more is refused with the numbers, never cut off half-way. For an export the user may instead **split** it: the
first records of the list that fit in what is left are exported now (a whole run with its journal and report),
and the rest when the budget has reset — by exporting the list again, when the records written today are
unchanged and cost no write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from enginy_desktop.adapters.base import BudgetLeft, Capabilities, Operation
from enginy_desktop.core.catalog import possessive

if TYPE_CHECKING:
    from enginy_desktop.core.export.plan import Plan

__all__ = ["BudgetCheck", "export_split", "read_cost"]

# What the next plan of the first part reads again costs at most: the plan's own requests at the dearest read.
_READS = (Operation.READ, Operation.SCAN_PAGE, Operation.SEARCH_PAGE, Operation.ASSOCIATION_READ)


@dataclass(frozen=True)
class BudgetCheck:
    """What a run would spend of the CRM's daily budget, and what is left of it today."""

    unit: str  # requests | tokens | credits
    needed: int
    remaining: int | None
    per_day: int | None
    resets_at: datetime | None = None

    @classmethod
    def of(cls, caps: Capabilities, needed: int, left: BudgetLeft | None) -> BudgetCheck | None:
        if caps.budget is None:
            return None
        return cls(str(caps.budget.unit), needed, left.remaining if left is not None else None,
                   (left.per_day if left is not None else None) or caps.budget.per_day,
                   left.resets_at if left is not None else None)

    @property
    def fits(self) -> bool:
        return self.remaining is None or self.needed <= self.remaining

    def _unit(self, n: int) -> str:
        return self.unit.removesuffix("s") if n == 1 else self.unit

    def line(self, crm_name: str, run: str = "sync") -> str:
        """``Pipedrive's daily budget: this sync needs about 40 tokens; 29,960 of 30,000 are left today.``"""
        text = f"{possessive(crm_name)} daily budget: this {run} needs about {self.needed:,} {self._unit(self.needed)}"
        if self.remaining is not None:
            of = f" of {self.per_day:,}" if self.per_day else ""
            text += f"; {self.remaining:,}{of} are left today"
        return text + "."

    def refusal(self, crm_name: str, run: str = "sync") -> str:
        resets = " (it resets at midnight UTC)" if self.resets_at is not None else ""
        return (f"This {run} needs about {self.needed:,} {self._unit(self.needed)} of {possessive(crm_name)} "
                "daily budget, "
                f"but only {self.remaining or 0:,} of {self.per_day or 0:,} are left today{resets}.")


def read_cost(caps: Capabilities, requests: int) -> int:
    """What ``requests`` reads cost at most (each at the dearest read operation)."""
    if caps.budget is None or requests <= 0:
        return 0
    return max(caps.budget.cost_of(op, requests) for op in _READS)


def _part(plan: Plan, chosen: set[int]) -> Plan:
    """The plan restricted to the list's records ``chosen`` (with a contact, its company and its operations)."""
    main = "contact" if plan.list_kind == "contacts" else "company"
    companies = {r.company_id for r in plan.records if r.object == "contact" and r.local_id in chosen
                 and r.company_id is not None} if main == "contact" else set(chosen)
    records = [r for r in plan.records
               if (r.object == main and r.local_id in chosen) or (r.object == "company" and r.local_id in companies)]
    ops = [o for o in plan.ops if o.contact_id is None or o.contact_id in chosen]
    return dataclasses.replace(plan, records=records, ops=ops, budget=None)


def export_split(plan: Plan, caps: Capabilities, available: int,
                 needed: Any = None) -> tuple[tuple[int, ...], int]:
    """The longest beginning of the list (its records in the plan's order) whose export fits in ``available``
    units, and what it needs: ``((local ids…), units)``; ``((), 0)`` when not even the first record fits.

    ``needed(plan, caps)`` counts a plan's units (the export's own count, ``budget_needed``). Companies shared by
    several contacts are counted once, with the first contact that needs them.
    """
    if needed is None:
        from enginy_desktop.core.export.plan import budget_needed as needed
    main = "contact" if plan.list_kind == "contacts" else "company"
    order: Sequence[int] = [r.local_id for r in plan.records if r.object == main]
    lo, hi, best = 1, len(order), 0
    cost_of_best = 0
    while lo <= hi:  # the cost grows with the prefix: the longest that fits, by halves
        mid = (lo + hi) // 2
        cost = int(needed(_part(plan, set(order[:mid])), caps))
        if cost <= available:
            best, cost_of_best, lo = mid, cost, mid + 1
        else:
            hi = mid - 1
    return tuple(order[:best]), cost_of_best

