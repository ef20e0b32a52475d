"""A sync's daily-budget estimate is what the sync then spends, on every CRM with a daily budget: for a CRM never
synced before, and for one that grew since the last sync. A CRM that can say its size and how many records changed
(one cheap call, counted in the estimate) gets an exact figure; one that cannot gets a figure that says so (a lower
bound, or a guess from the last full listing and when it was)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.adapters.pipedrive import TokenLedger
from enginy_desktop.core import sync
from tests.support.crm_world import CrmWorld, crm_world

BIG = 1_000_000
BUDGETS = {"hubspot": {}, "pipedrive": {"daily_tokens": BIG}, "salesforce": {"daily_requests": BIG},
           "zoho": {"daily_credits": BIG}}
CAN_COUNT = {"hubspot", "salesforce", "zoho"}  # their size (and the records changed since a date)


@pytest.fixture(autouse=True)
def _fresh_ledger() -> Any:
    TokenLedger.forget()
    yield
    TokenLedger.forget()


def spent(w: CrmWorld) -> int:
    """What the emulator has counted against the daily budget so far (in the CRM's unit)."""
    if w.crm == "pipedrive":
        return BIG - w.sb.budget.remaining("company")
    if w.crm == "zoho":
        return BIG - w.sb.credits.remaining("org")
    if w.crm == "salesforce":
        return BIG - w.sb.allocation.remaining("org")
    return w.api_requests()


def estimate_then_sync(ctx: Any, w: CrmWorld) -> tuple[sync.SyncBudget, int]:
    budget = asyncio.run(sync.estimate_sync(ctx, "Leads"))
    assert budget is not None
    before = spent(w)
    result = asyncio.run(sync.sync_list(ctx, "Leads"))
    assert not result.cancelled
    return budget, spent(w) - before


@pytest.mark.parametrize("crm", sorted(BUDGETS))
def test_the_estimate_is_what_the_sync_spends(ctx: Any, crm: str) -> None:
    name = {"hubspot": "HubSpot", "pipedrive": "Pipedrive", "salesforce": "Salesforce", "zoho": "Zoho"}[crm]
    with crm_world(ctx, crm, **BUDGETS[crm]) as w:
        w.configure(w.basics(), by_email=False)  # the default identifier: searches or a listing
        for i in range(0, 20, 4):
            w.add_contact(f"Lead{i}", "Test", f"lead{i}@acme.test")
        w.contacts("Leads", [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test",
                              "company_name": "Acme", "company_domain": "acme.test"} for i in range(20)])
        for grown in (False, True):  # a CRM never synced; then one that grew by 450 contacts since
            budget, used = estimate_then_sync(ctx, w)
            line = budget.line(name)
            assert budget.planning > 0  # the calls that size up the sync are counted, and said
            assert "spent planning it" in line
            if crm in CAN_COUNT:
                assert (grown, budget.check.needed) == (grown, used), line
                assert not budget.at_least
                assert budget.guessed is None
                assert "needs about" in line
            else:
                assert budget.at_least or budget.guessed is not None, line
                if budget.at_least:
                    assert used >= budget.check.needed, line
                    assert "needs at least" in line
                else:
                    assert "a guess from the" in line
                    assert "the last full listing found on" in line
            for i in range(450):
                w.add_contact(f"New{i}", "Person", f"new{i}@elsewhere.test")
