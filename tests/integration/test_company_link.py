"""Where a contact's company is a field of the contact (Pipedrive's ``org_id``), the export writes it with the
contact itself: no separate association call — half the calls on a CRM that writes one record per call — and a
removed company is still journaled, so Restore puts it back."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from enginy_desktop.adapters.base import CompanyLink
from enginy_desktop.core.crm_config import AssociationType
from enginy_desktop.core.export.plan import ExportOptions, plan_export
from enginy_desktop.core.export.report import load_report
from enginy_desktop.core.export.run import export, restore_removed_associations
from tests.support.crm_world import CrmWorld, crm_world


@pytest.fixture
def w(ctx: Any) -> Iterator[CrmWorld]:
    with crm_world(ctx, "pipedrive") as value:
        yield value


def person_writes(w: CrmWorld) -> Counter[str]:
    return Counter(r.method for r in w.sb.requests if "/persons" in r.path and r.method in ("POST", "PATCH"))


def test_the_company_travels_with_the_contacts_own_write(w: CrmWorld) -> None:
    async def link_model() -> Any:
        async with w.ctx.adapters.crm("pipedrive") as adapter:
            return adapter.capabilities

    caps = asyncio.run(link_model())
    assert caps.company_link is CompanyLink.FIELD
    old = w.add_company("Old Corp", "old.test")
    jane = w.add_contact("Jane", "Doe", "jane@acme.test", job_title="Analyst")
    w.link(jane, old)
    w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True)], w.company_basics(),
                association=AssociationType.PRIMARY_REMOVE_PREVIOUS)
    acme = w.company(name="Acme", domain="acme.test")
    w.contacts("Leads", [{"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test", "job_title": "CEO",
                          "company_id": acme},
                         {"first_name": "New", "last_name": "Doe", "email": "new@acme.test", "company_id": acme}])
    options = ExportOptions(associated_companies=True)
    plan = asyncio.run(plan_export(w.ctx, "Leads", options))
    assert plan.removals == 1
    before = person_writes(w)
    _, result = asyncio.run(export(w.ctx, "Leads", options, confirm_removals=True))
    assert result.state == "finished", result.error

    # One write per contact, the company inside it: no PATCH of org_id after the writes.
    writes = person_writes(w) - before
    assert writes == Counter({"POST": 1, "PATCH": 1})
    [acme_id] = w.crm_company_ids("acme.test")
    assert w.primary_company(jane) == acme_id
    assert w.primary_company(w.crm_contact("new@acme.test")["id"]) == acme_id
    assert w.crm_contact("jane@acme.test")["job_title"] == "CEO"
    report = load_report(w.ctx, result.run_id)
    assert {r["company_crm_id"] for r in report.removed} == {old}  # the replaced company is journaled

    restored = asyncio.run(restore_removed_associations(w.ctx, result.run_id))
    assert restored == {"restored": 1, "failed": 0}
    assert w.primary_company(jane) == old  # the previous company is back in the field
