"""Export runs end to end against the HubSpot sandbox over loopback (DESIGN §6)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from enginy_desktop.core.export.plan import ExportOptions, ExportRefused, plan_export
from enginy_desktop.core.export.report import load_report
from enginy_desktop.core.export.run import execute, export, start_export
from tests.support.export_world import (
    CONTACT_BASICS,
    World,
    enginy,
    export_field,
    fixed,
    world,
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def w(ctx: Any) -> Iterator[World]:
    with world(ctx) as value:
        yield value


def jane(**extra: Any) -> dict[str, Any]:
    return {"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test", "company_name": "Acme",
            "job_title": "CEO", **extra}


def test_create_then_update_with_overwrite_rules(w: World) -> None:
    w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle", overwrite=False),
                 enginy("phone", "phone", overwrite=True), enginy("city", "city", overwrite=True)])
    existing = w.add_crm_contact(email="bob@acme.test", firstname="Bob", lastname="Roe", company="Acme",
                                 jobtitle="CTO", phone="+1 111", city="Paris")
    w.contacts("Leads", [
        jane(phone="+34 600"),
        {"first_name": "Bob", "last_name": "Roe", "email": "bob@acme.test", "company_name": "Acme",
         "job_title": "VP Sales", "phone": "+1 222", "city": None},
    ])
    plan = run(plan_export(w.ctx, "Leads"))
    assert plan.counts("contact") == {"create": 1, "update": 1, "unchanged": 0, "merge": 0, "blocked": 0}
    bob = next(r for r in plan.records if r.crm_id == existing)
    effects = {f: (b, a, e) for f, b, a, e in bob.changes}
    assert effects["phone"] == ("+1 111", "+1 222", "overwrite")
    assert effects["jobtitle"] == ("CTO", "CTO", "keep")  # Overwrite off: the CRM value is kept
    assert "city" not in effects  # empty Enginy value: nothing happens to the CRM's Paris
    assert bob.payload == {"phone": "+1 222"}
    assert "1 phone number would be overwritten." in plan.summary_lines()

    run_id = start_export(w.ctx, plan)
    result = run(execute(w.ctx, run_id))
    assert result.state == "finished"
    assert result.counters["created"] == 1
    assert result.counters["updated"] == 1
    created = w.crm_contact("jane@acme.test")
    assert created["jobtitle"] == "CEO"
    assert created["phone"] == "+34 600"
    bob_now = w.crm_contact("bob@acme.test")
    assert (bob_now["jobtitle"], bob_now["phone"], bob_now["city"]) == ("CTO", "+1 222", "Paris")

    # A second export creates nothing new and changes nothing.
    plan2 = run(plan_export(w.ctx, "Leads"))
    assert plan2.counts("contact")["create"] == 0
    assert plan2.counts("contact")["unchanged"] == 2
    _, result2 = run(export(w.ctx, "Leads"))
    assert result2.counters.get("created", 0) == 0
    assert len(w.crm_contacts()) == 2


def test_fixed_and_export_fields(w: World) -> None:
    w.configure([*CONTACT_BASICS, fixed("lifecyclestage", "Lead"), export_field("hs_lead_status", overwrite=True)])
    w.add_crm_contact(email="bob@acme.test", firstname="Bob", lastname="Roe", company="Acme",
                      lifecyclestage="customer", hs_lead_status="NEW")
    w.contacts("Leads", [jane(), {"first_name": "Bob", "last_name": "Roe", "email": "bob@acme.test",
                                  "company_name": "Acme"}])
    options = ExportOptions(export_values={"Lead Status": "Open"})
    _, result = run(export(w.ctx, "Leads", options))
    assert result.state == "finished"
    assert w.crm_contact("jane@acme.test")["lifecyclestage"] == "lead"  # label -> internal value
    assert w.crm_contact("jane@acme.test")["hs_lead_status"] == "OPEN"
    bob = w.crm_contact("bob@acme.test")
    assert bob["lifecyclestage"] == "customer"  # fixed, Overwrite off: kept
    assert bob["hs_lead_status"] == "OPEN"  # export field with Overwrite: replaced

    with pytest.raises(ExportRefused, match="no option “Maybe”"):
        run(plan_export(w.ctx, "Leads", ExportOptions(export_values={"hs_lead_status": "Maybe"})))
    with pytest.raises(ExportRefused, match="no export field 'nope'"):
        run(plan_export(w.ctx, "Leads", ExportOptions(export_values={"nope": "x"})))


def test_owners_from_users_mapping(w: World) -> None:
    ann = w.user("Ann", "ann@enginy.test", current=True)
    tom = w.user("Tom", "tom@enginy.test")
    first, second, third = w.owners[:3]
    w.configure(list(CONTACT_BASICS), users={ann: first}, default_owner=third)
    w.add_crm_contact(email="owned@acme.test", firstname="O", lastname="W", company="Acme",
                      hubspot_owner_id=second)
    w.add_crm_contact(email="orphan@acme.test", firstname="Or", lastname="Phan", company="Acme")
    w.contacts("Leads", [
        jane(owner_id=ann),
        {"first_name": "T", "last_name": "M", "email": "tom@acme.test", "company_name": "Acme", "owner_id": tom},
        {"first_name": "O", "last_name": "W", "email": "owned@acme.test", "company_name": "Acme", "owner_id": ann},
        {"first_name": "Or", "last_name": "Phan", "email": "orphan@acme.test", "company_name": "Acme",
         "owner_id": ann},
    ])
    plan = run(plan_export(w.ctx, "Leads"))
    assert any("“Tom” is not mapped" in warning and "default owner" in warning for warning in plan.warnings)
    _, result = run(export(w.ctx, "Leads"))
    assert result.state == "finished"
    assert w.crm_contact("jane@acme.test")["hubspot_owner_id"] == first
    assert w.crm_contact("tom@acme.test")["hubspot_owner_id"] == third  # unmapped: the default owner
    assert w.crm_contact("owned@acme.test")["hubspot_owner_id"] == second  # update keeps an existing owner
    assert w.crm_contact("orphan@acme.test")["hubspot_owner_id"] == first  # update fills an empty owner


def test_invalid_value_blocks_the_record_before_any_request(w: World) -> None:
    w.text_property("employees_count", "Employees", ptype="number", field_type="number")
    w.configure([*CONTACT_BASICS, enginy("job_title", "employees_count")])
    w.contacts("Leads", [jane(job_title="many"), jane(email="ok@acme.test", first_name="Ok", job_title="12")])
    plan = run(plan_export(w.ctx, "Leads"))
    blocked = [r for r in plan.records if r.action == "blocked"]
    assert len(blocked) == 1
    assert blocked[0].code == "invalid_value"
    assert "“Employees” is a number field; “many” is not a number." in blocked[0].reason
    run_id = start_export(w.ctx, plan)
    run(execute(w.ctx, run_id))
    assert [c["email"] for c in w.crm_contacts()] == ["ok@acme.test"]
    report = load_report(w.ctx, run_id)
    assert report.failures[0].code == "invalid_value"


def test_refusals(ctx: Any) -> None:
    with world(ctx, connect=False) as w:
        w.contacts("Leads", [jane()])
        with pytest.raises(ExportRefused) as info:
            run(plan_export(ctx, "Leads"))
        assert info.value.code == "no_crm"
        ctx.integrations.enable("hubspot")
        with pytest.raises(ExportRefused) as info:
            run(plan_export(ctx, "Leads"))
        assert info.value.code == "no_export_mapping"
        assert "Enginy will not know which fields to push" in str(info.value)
        w.configure(list(CONTACT_BASICS))
        with pytest.raises(ExportRefused) as info:
            run(plan_export(ctx, "Leads"))
        assert info.value.code == "not_connected"
        ctx.integrations.save_connection("hubspot", {"base_url": w.url, "token": "pat-na1-wrong-wrong"})
        with pytest.raises(ExportRefused) as info:
            run(plan_export(ctx, "Leads"))
        assert info.value.code == "crm_error"
        assert "did not accept the credentials" in str(info.value)
        assert "pat-na1-wrong-wrong" not in str(info.value)
        from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN

        ctx.integrations.save_connection("hubspot", {"token": DEFAULT_TOKEN})
        # A company field of the CRM in the Contacts tab (the wizard refuses an Enginy company field already).
        w.configure([*CONTACT_BASICS, enginy("job_title", "industry")])
        with pytest.raises(ExportRefused) as info:
            run(plan_export(ctx, "Leads"))
        assert info.value.code == "cross_object"
        assert "verify that each tab only contains fields belonging to its own object type" in str(info.value)
        w.configure(list(CONTACT_BASICS))
        with pytest.raises(ExportRefused) as info:
            run(plan_export(ctx, "Leads", ExportOptions(associated_companies=True)))
        assert info.value.code == "no_export_mapping"
        assert "companies" in str(info.value)
