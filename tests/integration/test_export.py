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


def test_a_list_read_a_few_rows_at_a_time_plans_as_read_at_once(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the CRM look-up runs, the plan reads the list's whole rows a chunk at a time: chunk edges change
    nothing (values, matches, blocked records, labels)."""
    from enginy_desktop.core.export import plan as plan_module

    w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle", overwrite=False), enginy("phone", "phone")])
    w.add_crm_contact(email="bob@acme.test", firstname="Bob", lastname="Roe", company="Acme", jobtitle="CTO")
    w.contacts("Leads", [
        jane(),
        {"first_name": "Bob", "last_name": "Roe", "email": "bob@acme.test", "company_name": "Acme",
         "job_title": "VP Sales", "phone": "+1 222"},
        *({"first_name": f"P{i}", "last_name": "Lee", "email": f"p{i}@lee.test", "company_name": "Lee",
           "phone": "no digits" if i == 3 else f"+1 {i}"} for i in range(7)),
    ])
    at_once = run(plan_export(w.ctx, "Leads")).as_json()
    monkeypatch.setattr(plan_module, "_ROWS_AT_ONCE", 2)
    chunked = run(plan_export(w.ctx, "Leads")).as_json()
    assert chunked == at_once
    assert at_once["records"][1]["action"] == "update"
    assert sum(r["action"] == "blocked" for r in at_once["records"]) == 1  # "no digits" is no phone number


def test_equal_values_are_held_once_and_distinct_fields_are_let_go() -> None:
    """A big plan keeps one string for a job title all its records share; a field of mostly distinct values
    (e-mails) stops being pooled after its trial, so the pool never holds them all."""
    from enginy_desktop.core.export.plan import _SameStrings

    same = _SameStrings()
    titles = [same("jobtitle", "".join(["VP ", "Sales"])) for _ in range(3 * _SameStrings.TRIAL)]
    assert all(t is titles[0] for t in titles)
    for i in range(3 * _SameStrings.TRIAL):
        same("email", f"p{i}@acme.test")
    assert "email" not in same._pools
    assert same._pools["jobtitle"] == {"VP Sales": "VP Sales"}


def test_a_create_is_rechecked_by_its_payload_value_without_a_copy() -> None:
    """A planned create names the payload field it is re-checked by (no dict of its own per record); a value
    that is not the payload's is kept as given."""
    from enginy_desktop.core.export.plan import PlanRecord

    rec = PlanRecord("contact", 1, "Jane", "create", payload={"email": "jane@acme.test", "firstname": "Jane"})
    assert rec.lookup == {}
    rec.lookup = {"email": "jane@acme.test"}
    assert (rec.lookup_field, rec.lookup_other) == ("email", None)
    assert rec.lookup == {"email": "jane@acme.test"}
    rec.lookup = {"hs_object_id": "77"}  # not in the payload
    assert rec.lookup == {"hs_object_id": "77"}
    rec.lookup = {}
    assert rec.lookup == {}
    assert rec.lookup_field is None


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


def test_a_blocked_record_is_no_duplicate_of_the_record_exported(w: World) -> None:
    # The CRM is looked up while the values are prepared, blocked records included: the one found blocked must
    # not keep the same person's valid record from being created (merged into it, or led by it).
    w.text_property("employees_count", "Employees", ptype="number", field_type="number")
    w.configure([*CONTACT_BASICS, enginy("job_title", "employees_count")])
    w.contacts("Leads", [jane(job_title="many"), jane(job_title="12"),
                         jane(email="ok@acme.test", first_name="Ok", job_title="3")])
    plan = run(plan_export(w.ctx, "Leads"))
    assert sorted(r.action for r in plan.records) == ["blocked", "create", "create"]
    assert all(r.leader is None for r in plan.records)
    run(execute(w.ctx, start_export(w.ctx, plan)))
    assert sorted(c["email"] for c in w.crm_contacts()) == ["jane@acme.test", "ok@acme.test"]


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


# -- associated companies --------------------------------------------------------------------------------------


PRIMARY, UNLABELED = 1, 279


def _companies_world(w: World, association: Any) -> tuple[str, str, str]:
    """Jane (in the CRM with two companies, Old Primary being primary) and her local company Acme."""
    from tests.support.export_world import COMPANY_BASICS

    w.configure(list(CONTACT_BASICS), list(COMPANY_BASICS), association=association)
    old = w.add_crm_company(name="Old Primary", domain="old.test")
    other = w.add_crm_company(name="Other", domain="other.test")
    contact = w.add_crm_contact(email="jane@acme.test", firstname="Jane", lastname="Doe", company="Acme")
    w.sb.associate("contacts", int(contact), "companies", int(old), [PRIMARY])
    w.sb.associate("contacts", int(contact), "companies", int(other), [UNLABELED])
    acme = w.company(name="Acme", domain="acme.test")
    w.contacts("Leads", [jane(company_id=acme),
                         {"first_name": "New", "last_name": "Person", "email": "new@acme.test",
                          "company_name": "Acme", "company_id": acme}])
    return contact, old, other


def _acme(w: World) -> str:
    found = [c for c in w.crm_companies() if c.get("domain") == "acme.test"]
    assert len(found) == 1
    return found[0]["id"]


def test_additional_association(w: World) -> None:
    from enginy_desktop.core.crm_config import AssociationType

    contact, old, other = _companies_world(w, AssociationType.ADDITIONAL)
    _, result = run(export(w.ctx, "Leads", ExportOptions(associated_companies=True)))
    assert result.state == "finished"
    acme = _acme(w)
    links = w.company_links(contact)
    assert set(links) == {old, other, acme}
    assert PRIMARY in links[old]  # untouched
    assert PRIMARY not in links[acme]
    new = w.crm_contact("new@acme.test")["id"]
    assert acme in w.company_links(new)
    # Exporting again adds nothing and creates no second company.
    plan = run(plan_export(w.ctx, "Leads", ExportOptions(associated_companies=True)))
    assert plan.op_counts()["associate"] == 0
    assert plan.counts("company")["create"] == 0


def test_primary_association_keeps_the_previous_one(w: World) -> None:
    from enginy_desktop.core.crm_config import AssociationType

    contact, old, other = _companies_world(w, AssociationType.PRIMARY)
    _, result = run(export(w.ctx, "Leads", ExportOptions(associated_companies=True)))
    assert result.state == "finished"
    acme = _acme(w)
    links = w.company_links(contact)
    assert set(links) == {old, other, acme}
    assert PRIMARY in links[acme]
    assert PRIMARY not in links[old]
    assert w.crm_contact("jane@acme.test")["associatedcompanyid"] == acme


def test_primary_and_remove_previous_needs_confirmation_and_restores(w: World) -> None:
    from enginy_desktop.core.crm_config import AssociationType
    from enginy_desktop.core.export.run import restore_removed_associations

    contact, old, other = _companies_world(w, AssociationType.PRIMARY_REMOVE_PREVIOUS)
    options = ExportOptions(associated_companies=True)
    plan = run(plan_export(w.ctx, "Leads", options))
    assert plan.removals == 2
    assert plan.needs_confirmation
    assert "remove 2 company associations from 1 contact" in plan.confirmation_text
    with pytest.raises(ExportRefused) as info:
        run(export(w.ctx, "Leads", options))
    assert info.value.code == "needs_confirmation"
    assert w.crm_companies()
    assert len(w.crm_companies()) == 2
    _, result = run(export(w.ctx, "Leads", options, confirm_removals=True))
    assert result.state == "finished"
    assert result.counters["removals_done"] == 2
    acme = _acme(w)
    links = w.company_links(contact)
    assert set(links) == {acme}
    assert PRIMARY in links[acme]
    report = load_report(w.ctx, result.run_id)
    assert {r["company_crm_id"] for r in report.removed} == {old, other}
    assert {r["state"] for r in report.removed} == {"removed"}

    restored = run(restore_removed_associations(w.ctx, result.run_id))
    assert restored == {"restored": 2, "failed": 0}
    links = w.company_links(contact)
    assert set(links) == {acme, old, other}
    assert PRIMARY in links[acme]  # the run's primary company stays primary
    assert {r["state"] for r in load_report(w.ctx, result.run_id).removed} == {"restored"}


# -- campaigns: properties, activities, engagement fields ------------------------------------------------------


def test_campaign_properties_activities_and_engagement_fields(w: World) -> None:
    from datetime import UTC, datetime

    from enginy_desktop.core.crm_config import CampaignProperty
    from tests.support.export_world import engagement

    for prop in CampaignProperty:
        ptype, ftype = ("number", "number") if prop.value_type == "number" else ("string", "text")
        w.text_property(prop.value, prop.label, ptype=ptype, field_type=ftype)
    w.text_property("enginy_last_activity", "Last Enginy activity", ptype="datetime", field_type="date")
    w.text_property("enginy_last_channel", "Last Enginy channel")
    rep, other = w.owners[0], w.owners[1]
    camp, identity, steps = w.campaign("Spring", "Sam Sender", ["email", "linkedin_connection_request",
                                                                "linkedin_message", "email", "call"])
    w.configure([*CONTACT_BASICS, engagement("enginy_last_activity", "last_activity_date"),
                 engagement("enginy_last_channel", "last_activity_channel")],
                campaign={p: p.value for p in CampaignProperty}, identities={identity: rep}, default_owner=other)
    ids = w.contacts("Leads", [jane(), {"first_name": "Quiet", "last_name": "One", "email": "quiet@acme.test",
                                        "company_name": "Acme"}])
    t = lambda d, h=9: datetime(2025, 3, d, h, tzinfo=UTC)  # noqa: E731
    email1, request, linkedin, _email2, _call = steps
    w.lead(camp, ids[0], [(None, "added", t(1)), (email1, "sent", t(2)), (email1, "opened", t(2, 10)),
                          (email1, "opened", t(3)), (email1, "clicked", t(3, 11)), (request, "sent", t(4)),
                          (linkedin, "sent", t(5)), (linkedin, "replied", t(6))])
    w.lead(camp, ids[1], [(None, "added", t(1))])
    _, result = run(export(w.ctx, "Leads"))
    assert result.state == "finished"
    janes = w.crm_contact("jane@acme.test")
    assert janes["campaign_sequence_details"] == ("1st Email, LinkedIn Connection Request, 1st LinkedIn, "
                                                  "2nd Email, 1st Call")
    assert janes["campaign_engagement_status"] == "Message Replied (2/3) - LinkedIn"
    assert janes["campaign_opens"] == "2"
    assert janes["campaign_clicks"] == "1"
    assert janes["campaign_open_analysis"] == "Yes (1st Message)"
    assert janes["campaign_click_analysis"] == "Yes (1st Message)"
    assert janes["campaign_reply_analysis"] == "Yes (2nd Message)"
    assert janes["sequence_status"] == "Replied"
    assert janes["enginy_last_activity"] == "2025-03-06T09:00:00.000Z"
    assert janes["enginy_last_channel"] == "LinkedIn"
    quiet = w.crm_contact("quiet@acme.test")
    assert quiet["campaign_engagement_status"] == "Added to Campaign"
    assert quiet["sequence_status"] == "Not Started"
    assert quiet["campaign_open_analysis"] == "No"
    assert "enginy_last_activity" not in quiet  # no activity logged for it

    emails, notes = w.activities("emails"), w.activities("notes")
    assert len(emails) == 1
    assert emails[0]["hubspot_owner_id"] == rep  # attributed through Identities Mapping
    assert emails[0]["hs_email_direction"] == "EMAIL"
    assert emails[0]["hs_timestamp"].startswith("2025-03-02T09:00")
    assert "Spring · 1st Email" in emails[0]["hs_email_subject"]
    assert len(notes) == 3  # connection request, LinkedIn message, LinkedIn reply
    assert {n["hubspot_owner_id"] for n in notes} == {rep}
    links = w.sb.associations.get(("emails", int(emails[0]["id"])), {}).get("contacts", {})
    assert set(links) == {int(janes["id"])}

    # Exporting again logs nothing twice.
    _, again = run(export(w.ctx, "Leads"))
    assert again.counters.get("activities_done", 0) == 0
    assert len(w.activities("emails")) == 1
    assert len(w.activities("notes")) == 3


# -- failures ----------------------------------------------------------------------------------------------------


def test_partial_failure_fails_only_its_records_and_csv_is_formula_safe(w: World, tmp_path: Any) -> None:
    import csv

    from enginy_desktop.core.export.report import write_failed_csv

    w.sb.create_property("contacts", {"name": "enginy_ref", "label": "Enginy ref", "type": "string",
                                      "fieldType": "text", "groupName": "contactinformation",
                                      "hasUniqueValue": True})
    w.add_crm_contact(email="someone@else.test", firstname="Some", lastname="One", enginy_ref="=HYPERLINK(1)")
    w.configure([*CONTACT_BASICS, enginy("source", "enginy_ref")])
    rows = [jane(email=f"p{i}@acme.test", first_name=f"P{i}", source=f"ref-{i}") for i in range(5)]
    rows[2]["source"] = "=HYPERLINK(1)"  # taken by another CRM contact: HubSpot refuses this one record
    rows[2]["last_name"] = "@Evil"
    w.contacts("Leads", rows)
    _, result = run(export(w.ctx, "Leads"))
    assert result.state == "finished"
    assert result.counters["created"] == 4
    assert result.counters["failed"] == 1
    report = load_report(w.ctx, result.run_id)
    failed = report.failed()
    assert [r.label for r in failed] == ["P2 @Evil <p2@acme.test>"]
    assert "already exists" in (failed[0].error or "")
    assert report.failures[0].count == 1
    path = tmp_path / "failed.csv"
    assert write_failed_csv(w.ctx, result.run_id, path) == 1
    with path.open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert table[0]["contact.last_name"] == "'@Evil"
    assert table[0]["contact.source"] == "'=HYPERLINK(1)"
    assert table[0]["record"] == "P2 @Evil <p2@acme.test>"
    assert "already exists" in table[0]["error"]
    # Retry failed plans only that record again.
    from enginy_desktop.core.export.run import retry_failed

    plan = run(retry_failed(w.ctx, result.run_id))
    assert [r.label for r in plan.records] == ["P2 @Evil <p2@acme.test>"]


def test_injected_429_5xx_timeouts_and_drops_are_survived(ctx: Any) -> None:
    import threading

    import httpx

    from enginy_desktop.adapters.http import RetryPolicy
    from enginy_desktop.sandbox.faults import FaultConfig
    from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig
    from enginy_desktop.sandbox.ratelimit import RateLimit as SandboxRate

    config = HubSpotSandboxConfig(owners=2, rate_limit=SandboxRate(4, 1.0), search_rate_limit=None,
                                  faults=FaultConfig(error_rate=0.15, timeout_rate=0.1, drop_rate=0.1, hang_s=0.3,
                                                     path_prefix="/crm/objects/2026-03/contacts/batch"),
                                  batch_limit=100)
    with world(ctx, config=config) as w:
        w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle", overwrite=True)])
        for i in range(30):
            w.add_crm_contact(email=f"old{i}@acme.test", firstname=f"Old{i}", lastname="X", company="Acme",
                              jobtitle="Old")
        rows = [jane(email=f"old{i}@acme.test", first_name=f"Old{i}", last_name="X", job_title="New")
                for i in range(30)]
        rows += [jane(email=f"new{i}@acme.test", first_name=f"New{i}") for i in range(250)]
        w.contacts("Leads", rows)
        # Over loopback: requests really overlap, so the server's tighter limit refuses some with 429.
        adapter = ctx.adapters.crm("hubspot", retry=RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05))

        async def go() -> Any:
            try:
                plan = await plan_export(ctx, "Leads", adapter=adapter)
                run_id = start_export(ctx, plan)
                return await execute(ctx, run_id, adapter=adapter, concurrency=6)
            finally:
                await adapter.aclose()

        # Another app shares the token's allowance: the server refuses some of our calls with 429.
        stop = threading.Event()

        def other_app() -> None:
            with httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
                while not stop.wait(0.12):
                    client.get("/crm/owners/2026-03")

        neighbour = threading.Thread(target=other_app, daemon=True)
        neighbour.start()
        try:
            result = run(go())
        finally:
            stop.set()
            neighbour.join(5)
        assert result.state == "finished", result.error
        faults = [e for e in w.sb.requests if e.fault or e.limited_by]
        assert {e.fault for e in faults} >= {"error", "timeout", "drop"}
        assert any(e.limited_by for e in faults)  # some 429s too
        emails = [c["email"] for c in w.crm_contacts()]
        assert len(emails) == len(set(emails)) == 280  # each record exactly once
        assert result.counters["created"] == 250
        assert result.counters["updated"] == 30
        assert {c["jobtitle"] for c in w.crm_contacts() if c["email"].startswith("old")} == {"New"}


# -- Slack -------------------------------------------------------------------------------------------------------


def test_slack_summary_posted_and_a_slack_failure_never_fails_the_run(w: World) -> None:
    from enginy_desktop.sandbox import server
    from enginy_desktop.sandbox.slack import DEFAULT_WEBHOOK_PATH, SlackSandboxConfig
    from enginy_desktop.sandbox.slack import create_app as slack_app

    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", [jane(), jane(email="x@acme.test", first_name="X")])
    app = slack_app(SlackSandboxConfig())
    slack = app.state.sandbox
    with server.serve(app) as slack_url:
        w.ctx.integrations.save_connection("slack", {"webhook_url": slack_url + DEFAULT_WEBHOOK_PATH})
        w.ctx.integrations.enable("slack")
        _, result = run(export(w.ctx, "Leads"))
        assert result.state == "finished"
        assert len(slack.messages) == 1
        message = slack.messages[0]
        assert "Export of “Leads” to HubSpot finished" in message.text
        assert "Created: 2" in message.text
        assert message.blocks[0]["text"]["text"].startswith(":white_check_mark:")
        assert w.ctx.runs.get(result.run_id).options["slack"] == {"posted": True}

        slack.config.webhooks[DEFAULT_WEBHOOK_PATH] = "revoked"
        w.contacts("Leads", [jane(email="y@acme.test", first_name="Y")])
        _, result = run(export(w.ctx, "Leads"))
        assert result.state == "finished"  # Slack's refusal does not fail the export
        report = load_report(w.ctx, result.run_id)
        assert any("Slack summary could not be posted" in warning and "invalid_token" in warning
                   for warning in report.warnings)
        assert w.crm_contact("y@acme.test")


def test_activity_whose_answer_was_lost_is_found_not_logged_twice(w: World) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import delete, update

    from enginy_desktop.core.export.run import resume
    from enginy_desktop.core.models import ActivityLink, ExportOp

    camp, identity, steps = w.campaign("Autumn", "Sam Sender", ["email", "call"])
    w.configure(list(CONTACT_BASICS), identities={identity: w.owners[0]})
    ids = w.contacts("Leads", [jane()])
    w.lead(camp, ids[0], [(steps[0], "sent", datetime(2025, 9, 1, 8, tzinfo=UTC)),
                          (steps[1], "sent", datetime(2025, 9, 2, 8, tzinfo=UTC))])
    _, result = run(export(w.ctx, "Leads"))
    assert result.counters["activities_done"] == 2
    # As if the process had died after HubSpot logged the activities but before the journal heard of it.
    with w.ctx.store.write() as s:
        s.execute(update(ExportOp).where(ExportOp.run_id == result.run_id).values(state="in_flight", crm_id=None))
        s.execute(delete(ActivityLink))
    from enginy_desktop.core.models import Run

    with w.ctx.store.write() as s:
        s.execute(update(Run).where(Run.id == result.run_id).values(state="interrupted"))
    again = run(resume(w.ctx, result.run_id))
    assert again.state == "finished"
    assert again.counters["activities_done"] == 2
    assert len(w.activities("emails")) == 1
    assert len(w.activities("calls")) == 1
    with w.ctx.store.session() as s:
        from sqlalchemy import select

        assert len(s.scalars(select(ActivityLink)).all()) == 2


def test_cancel_keeps_what_was_done_and_resume_finishes(w: World) -> None:
    from enginy_desktop.core.export.run import resume
    from enginy_desktop.core.runs import CancelToken

    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", [jane(email=f"c{i}@acme.test", first_name=f"C{i}") for i in range(250)])
    w.add_crm_contact(email="c0@acme.test", firstname="C0", lastname="Doe", company="Acme")
    token = CancelToken()
    seen: list[Any] = []

    def progress(p: Any) -> None:
        seen.append(p)
        if p.counters.get("created", 0) >= 100:
            token.cancel()  # the user presses Cancel after the first batch

    plan = run(plan_export(w.ctx, "Leads"))
    run_id = start_export(w.ctx, plan)
    w.sb.config.faults.update({"latency_ms": 150, "path_prefix": "/crm/objects/2026-03/contacts/batch/create"})
    result = run(execute(w.ctx, run_id, progress=progress, cancel=token, concurrency=1))
    w.sb.config.faults.update({"latency_ms": 0})
    assert result.state == "cancelled"
    assert 100 <= result.counters["created"] < 249
    assert seen[0].counters.get("unchanged") == 1  # the plan's unchanged record is counted from the start
    assert any(p.total and p.phase.startswith("Creating contacts") for p in seen)
    again = run(resume(w.ctx, run_id))
    assert again.state == "finished"
    assert again.counters["created"] == 249
    assert len(w.crm_contacts()) == 250


def test_company_list_export(w: World) -> None:
    from tests.support.export_world import COMPANY_BASICS

    w.configure(list(CONTACT_BASICS), [*COMPANY_BASICS, enginy("industry", "description")])
    existing = w.add_crm_company(name="Acme", domain="acme.test")
    w.companies("Accounts", [{"name": "Acme", "domain": "acme.test", "industry": "Software"},
                             {"name": "Beta", "domain": "beta.test", "industry": "Retail"}])
    _, result = run(export(w.ctx, "Accounts"))
    assert result.state == "finished"
    assert result.counters["company_created"] == 1
    assert result.counters["company_updated"] == 1
    by_domain = {c["domain"]: c for c in w.crm_companies()}
    assert by_domain["acme.test"]["id"] == existing
    assert by_domain["acme.test"]["description"] == "Software"
    assert by_domain["beta.test"]["name"] == "Beta"


def test_current_values_come_with_the_match_read(w: World) -> None:
    """Planning reads each CRM record once: the match read carries the mapped fields' current values, so there
    is no second read of the matched records by id."""
    w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle", overwrite=True)])
    for i in range(3):
        w.add_crm_contact(email=f"p{i}@acme.test", firstname=f"P{i}", lastname="Roe", company="Acme", jobtitle="CTO")
    w.contacts("Leads", [{"first_name": f"P{i}", "last_name": "Roe", "email": f"p{i}@acme.test",
                          "company_name": "Acme", "job_title": "CEO"} for i in range(3)] + [jane()])
    since = len(w.sb.requests)
    plan = run(plan_export(w.ctx, "Leads"))
    assert plan.counts("contact")["update"] == 3
    assert {f: (b, a) for f, b, a, _ in plan.records[0].changes}.get("jobtitle") == ("CTO", "CEO")
    by_id = [r for r in w.sb.requests[since:] if r.path.endswith("/contacts/batch/read")]
    assert by_id == []  # the identifier (LinkedIn OR name) is read by a scan that carried jobtitle already
