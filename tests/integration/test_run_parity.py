"""Every CRM's runs keep the same promises: the report counts the requests each export made, and a second export
of a list another run holds is refused naming it (HubSpot and Pipedrive emulators)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from enginy_desktop.core.export.plan import plan_export
from enginy_desktop.core.export.report import load_report
from enginy_desktop.core.export.run import execute, start_export
from enginy_desktop.core.runs import RunBusyError
from tests.support.crm_world import CRMS, CrmWorld, crm_world


@pytest.fixture(params=CRMS)
def w(request: pytest.FixtureRequest, ctx: Any) -> Iterator[CrmWorld]:
    with crm_world(ctx, request.param) as value:
        yield value


def test_reports_count_the_requests_of_every_crm_and_one_run_per_list(w: CrmWorld) -> None:
    w.configure(w.basics())
    w.contacts("Leads", [{"first_name": f"P{i}", "last_name": "Test", "email": f"p{i}@acme.test"} for i in range(3)])
    plan = asyncio.run(plan_export(w.ctx, "Leads"))
    run_id = start_export(w.ctx, plan)
    with pytest.raises(RunBusyError, match="An export of “Leads” to "):
        start_export(w.ctx, plan)
    result = asyncio.run(execute(w.ctx, run_id))
    assert result.state == "finished", result.error
    traffic = load_report(w.ctx, run_id).traffic
    assert traffic["requests"] >= (3 if w.crm == "pipedrive" else 1)  # Pipedrive: one request per record
    assert traffic["throttled"] == 0
