"""Local duplicates become one CRM record whether or not a sync ran before the export (DESIGN §5)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from enginy_desktop.core.export.plan import ExportOptions, plan_export
from enginy_desktop.core.export.run import execute, start_export
from enginy_desktop.core.sync import sync_list
from tests.support.export_world import CONTACT_BASICS, World, enginy, world


@pytest.fixture
def w(ctx: Any) -> Iterator[World]:
    with world(ctx) as value:
        yield value


def _people() -> list[dict[str, Any]]:
    return [
        # The same person written two ways, at a company the CRM does not hold yet.
        {"first_name": "Jane", "last_name": "Doe", "email": "jane@abdick.test", "company_name": "A.B. Dick Co.",
         "job_title": "CEO"},
        {"first_name": "jane", "last_name": "DOE", "email": None, "company_name": "AB Dick", "phone": "+1 555"},
        # Someone else, new too.
        {"first_name": "Bob", "last_name": "Roe", "email": "bob@roe.test", "company_name": "Roe Ltd"},
        # Two records the identifier cannot compare (no company): never merged, blocked unless confirmed.
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@lee.test", "company_name": None},
        {"first_name": "Ann", "last_name": "Lee", "email": "ann2@lee.test", "company_name": None},
    ]


@pytest.mark.parametrize("sync_first", [False, True], ids=["export-only", "sync-then-export"])
def test_local_duplicates_are_one_create_with_or_without_a_sync(w: World, sync_first: bool) -> None:
    w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle"), enginy("phone", "phone")])
    w.contacts("Leads", _people())
    if sync_first:
        result = asyncio.run(sync_list(w.ctx, "Leads"))
        assert result is not None
    plan = asyncio.run(plan_export(w.ctx, "Leads"))
    assert plan.counts("contact") == {"create": 2, "update": 0, "unchanged": 0, "merge": 1, "blocked": 2}

    confirmed = asyncio.run(plan_export(w.ctx, "Leads", options=ExportOptions(unmatchable_as_new=True)))
    assert confirmed.counts("contact") == {"create": 4, "update": 0, "unchanged": 0, "merge": 1, "blocked": 0}
    run_id = start_export(w.ctx, confirmed)
    done = asyncio.run(execute(w.ctx, run_id))
    assert done.state == "finished", done.error
    assert done.counters["created"] == 4
    janes = [c for c in w.crm_contacts() if (c.get("lastname") or "").casefold() == "doe"]
    assert len(janes) == 1  # one CRM record for the two ways of writing Jane
    assert janes[0]["email"] == "jane@abdick.test"
    assert janes[0]["phone"] == "+1 555"  # the duplicate filled the leader's empty field
    assert len([c for c in w.crm_contacts() if c.get("lastname") == "Lee"]) == 2
