"""TribeCRM: a person who is a contact of several organisations (contact relationships, none primary) is matched by
name and company at any of them — the sync links the local record and the export updates the person instead of
creating a second one — with the calls the single-name reading made (one look-up of the relationships per page of
persons)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.core.crm_config import AssociationType, ContactIdentifier
from enginy_desktop.core.export.plan import ExportOptions, plan_export
from enginy_desktop.core.export.run import execute, start_export
from enginy_desktop.core.matching.rules import ContactPreset
from tests.support.crm_world import crm_world

LINKS = "/Relationship_Person_Contact_Standard"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize("company", ["Globex", "ACME"])
def test_a_person_with_two_organisations_matches_at_either(ctx: Any, company: str) -> None:
    from enginy_desktop.core import sync

    with crm_world(ctx, "tribecrm") as w:
        sb: Any = w.sb
        globex, acme = w.add_company("Globex", "globex.test"), w.add_company("Acme", "acme.test")
        jane = w.add_contact("Jane", "Doe", "jane@globex.test", company=(globex, "Globex"))
        w.link(jane, acme)  # a contact of Acme as well
        w.add_contact("John", "Doe", "john@acme.test", company=(acme, "Acme"))  # another Doe at Acme
        config = w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True)],
                             association=AssociationType.ADDITIONAL, by_email=False)
        config.contact_identifier = ContactIdentifier(ContactPreset.FIRST_LAST_COMPANY)
        w.ctx.crm_configs.save(config)
        w.contacts("Leads", [{"first_name": "Jane", "last_name": "Doe", "email": "jane@elsewhere.test",
                              "company_name": company, "job_title": "CFO"}])

        before = len(sb.requests)
        result = run(sync.sync_list(w.ctx, "Leads"))
        sent = sb.requests[before:]
        assert result.objects["contact"].counts.get("matched", 0) == 1
        [row] = sync.link_rows(w.ctx, "Leads")
        assert row.crm_id == jane
        # The persons fit one page: one listing of them and one look-up of their relationships, both names in it.
        assert sum(1 for r in sent if r.path.endswith("/Relation_Person") and "count" not in r.query) == 1
        assert sum(1 for r in sent if r.path.endswith(LINKS)) == 1

        plan = run(plan_export(w.ctx, "Leads", ExportOptions()))
        counts = plan.counts("contact")
        assert (counts["update"], counts["create"]) == (1, 0)
        done = run(execute(w.ctx, start_export(w.ctx, plan)))
        assert done.state == "finished", done.error
        does = [c for c in w.crm_contacts() if c["last_name"] == "Doe"]
        assert len(does) == 2  # Jane was updated, not created again
        assert sb.records["Relation_Person"][jane]["JobTitle"] == "CFO"
