"""People exported as Salesforce Leads (Step 2's choice, or the connection setting "Export people as: Leads" of
earlier versions, read until the configuration is saved with a choice): sync and export against the emulator, the
company's name in the Lead's Company field, activities as Tasks on the Lead, and associated companies refused per
record with what to do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from enginy_desktop.core import sync
from enginy_desktop.core.crm_config import FieldMapping, MappingKind
from enginy_desktop.core.export.plan import ExportOptions
from enginy_desktop.core.export.run import export
from enginy_desktop.core.models import IntegrationState
from enginy_desktop.sandbox.crm.salesforce import DEFAULT_TOKEN
from enginy_desktop.sandbox.kit.server import serve
from tests.support.crm_world import CrmWorld, emulator


def _world(ctx: Any, url: str, app: Any, *, former_setting: bool = False) -> CrmWorld:
    """Salesforce connected; ``former_setting``: people go in as Leads by the connection setting of earlier
    versions ("Export people as: Leads"), which the configuration reads until it is saved with a choice."""
    ctx.integrations.save_connection("salesforce", {"base_url": url, "access_token": DEFAULT_TOKEN})
    ctx.integrations.enable("salesforce")
    if former_setting:
        with ctx.store.write() as s:
            row = s.get(IntegrationState, "salesforce")
            row.settings = {**(row.settings or {}), "contact_object": "Leads"}
    sb = app.state.sandbox
    return CrmWorld(ctx, url, sb, app, owners=sb.user_ids(), crm="salesforce")


def as_leads(ctx: Any) -> None:
    """Step 2's choice: people go in as Leads."""
    config = ctx.crm_configs.load("salesforce")
    config.people_object = "Leads"
    ctx.crm_configs.save(config)


def test_people_go_in_as_leads_with_their_company_name(ctx: Any) -> None:
    app = emulator("salesforce")
    sb = app.state.sandbox
    with serve(app) as url:
        w = _world(ctx, url, app, former_setting=True)
        bob = sb.insert("Lead", {"LastName": "Roe", "Email": "bob@acme.test", "Company": "Acme", "Title": "Old"})["Id"]
        sb.insert("Contact", {"LastName": "Roe", "Email": "jane@acme.test"})  # a Contact: not what Leads match
        w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True),
                     FieldMapping(MappingKind.ENGINY, "Company", source="company_name")])
        camp, _identity, steps = w.campaign("Spring", "Sam Sender", ["email"])
        ids = w.contacts("Leads", [
            {"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test", "company_name": "Acme",
             "job_title": "CEO"},
            {"first_name": "Bob", "last_name": "Roe", "email": "bob@acme.test", "company_name": "Acme",
             "job_title": "CTO"}])
        w.lead(camp, ids[0], [(None, "added", datetime(2025, 3, 1, 9, tzinfo=UTC)),
                              (steps[0], "sent", datetime(2025, 3, 2, 9, tzinfo=UTC))])
        result = asyncio.run(sync.sync_list(ctx, "Leads"))
        counts = result.objects["contact"].counts
        assert (counts.get("matched", 0), counts.get("new", 0)) == (1, 1)
        _, done = asyncio.run(export(ctx, "Leads"))
        assert done.state == "finished"
        leads = {r["Email"]: r for r in sb.records["Lead"].values()}
        assert set(leads) == {"jane@acme.test", "bob@acme.test"}
        assert leads["jane@acme.test"]["Company"] == "Acme"
        assert leads["jane@acme.test"]["Title"] == "CEO"
        assert leads["bob@acme.test"]["Id"] == bob
        assert leads["bob@acme.test"]["Title"] == "CTO"
        assert len(sb.records["Contact"]) == 1  # no Contact made
        tasks = list(sb.records["Task"].values())
        assert [(t["TaskSubtype"], t["WhoId"], t["WhatId"]) for t in tasks if t["TaskSubtype"] == "Email"] == [
            ("Email", leads["jane@acme.test"]["Id"], None)]


def test_associated_companies_are_refused_per_record_for_leads(ctx: Any) -> None:
    app = emulator("salesforce")
    sb = app.state.sandbox
    with serve(app) as url:
        w = _world(ctx, url, app)
        w.configure([*w.basics(), FieldMapping(MappingKind.ENGINY, "Company", source="company_name")],
                    w.company_basics())
        as_leads(ctx)
        acme = w.company(name="Acme", domain="acme.test")
        w.contacts("Leads", [{"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test",
                              "company_name": "Acme", "company_id": acme}])
        _, done = asyncio.run(export(ctx, "Leads", ExportOptions(associated_companies=True)))
        assert [r["Email"] for r in sb.records["Lead"].values()] == ["jane@acme.test"]
        from enginy_desktop.core.export.report import load_report

        report = load_report(ctx, done.run_id)
        reasons = " ".join(str(o.error) for o in report.ops if o.kind in ("associate", "primary"))
        assert "Leads have no account" in reasons, report.ops
        assert any("Leads have no account" in f.reason for f in report.failures)


def test_check_names_leads_as_what_it_reads(ctx: Any, cli: Any) -> None:
    app = emulator("salesforce")
    with serve(app) as url:
        _world(ctx, url, app)
        as_leads(ctx)
        code, out, err = cli("check", "salesforce")
    assert code == 0, err
    assert "Leads, Accounts and Users are readable" in out


def test_crm_config_init_people_leads_starts_a_leads_configuration(ctx: Any, cli: Any) -> None:
    """A command-line user makes Step 2's choice with ``crm-config init --people Leads``: the starting
    configuration is read from, and maps to, the Lead's fields (its Company field, not AccountId)."""
    app = emulator("salesforce")
    with serve(app) as url:
        _world(ctx, url, app)
        code, _, err = cli("crm-config", "init", "--people", "Prospects")
        assert code == 1
        assert "--people must be one of Contacts, Leads for Salesforce. Nothing was saved." in err
        assert not ctx.crm_configs.has_saved("salesforce")
        code, out, err = cli("crm-config", "init", "--people", "leads")
        assert code == 0, err
        assert "Step 1: contacts into Leads matched by" in out
        config = ctx.crm_configs.load("salesforce")
        assert config.people_object == "Leads"
        mapped = {m.crm_field for m in config.contact_mappings}
        assert "Email" in mapped
        assert "AccountId" not in mapped
        code, out, err = cli("check", "salesforce")
    assert code == 0, err
    assert "Leads, Accounts and Users are readable" in out


def test_people_applies_only_to_a_crm_that_offers_a_choice(ctx: Any, cli: Any) -> None:
    app = emulator("hubspot")
    with serve(app) as url:
        from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN as HUBSPOT_TOKEN

        ctx.integrations.save_connection("hubspot", {"base_url": url, "token": HUBSPOT_TOKEN})
        ctx.integrations.enable("hubspot")
        code, _, err = cli("crm-config", "init", "--people", "Leads")
    assert code == 1
    assert "HubSpot keeps people in one place" in err
