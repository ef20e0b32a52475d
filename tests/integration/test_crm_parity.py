"""Same guarantees on every CRM: one scenario, run against the HubSpot, Pipedrive, Salesforce, Zoho, Dynamics 365
and TribeCRM emulators (on loopback), with the same data in and the same outcomes out — sync outcomes, export
outcomes and reports, owners, the contact's company (associations on HubSpot, ``org_id`` on Pipedrive,
``AccountId`` on Salesforce, ``Account_Name`` on Zoho, ``parentcustomerid`` on Dynamics 365, contact relationships
on TribeCRM), Restore, campaign activities logged
once, the command line from CSV to export, and resume after the process was killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keyring
import pytest

from enginy_desktop.core import sync
from enginy_desktop.core.crm_config import AssociationType
from enginy_desktop.core.export.plan import ExportOptions, plan_export
from enginy_desktop.core.export.report import load_report
from enginy_desktop.core.export.run import export, restore_removed_associations
from tests.support.crm_world import CRMS, CrmWorld, crm_world, token_of

Cli = Callable[..., tuple[int, str, str]]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(params=CRMS)
def w(request: pytest.FixtureRequest, ctx: Any) -> Iterator[CrmWorld]:
    with crm_world(ctx, request.param) as value:
        yield value


def person(first: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"first_name": first, "last_name": "Doe", "email": email, "company_name": "Acme", **extra}


def test_sync_finds_the_same_matches(w: CrmWorld) -> None:
    from enginy_desktop.core.crm_config import CompanyIdentifier, ContactIdentifier
    from enginy_desktop.core.matching.rules import CompanyPreset, ContactPreset

    acme = w.add_company("Acme Inc.", "acme.test")
    jane = w.add_contact("Jane", "Doe", "jane@acme.test", company=(acme, "Acme Inc."))
    w.add_contact("John", "Doe", "john@other.test")  # same name, no company: not the local John of Acme
    w.add_company("Beta", "beta.test")
    config = w.configure(w.basics(), w.company_basics(), by_email=False)
    config.contact_identifier = ContactIdentifier(ContactPreset.FIRST_LAST_COMPANY)
    config.company_identifier = CompanyIdentifier(CompanyPreset.DOMAIN)
    w.ctx.crm_configs.save(config)
    company_ids = w.companies("Firms", [{"name": "Acme", "domain": "acme.test"}, {"name": "Gamma", "domain": "g.io"}])
    w.contacts("Leads", [person("Jane", "jane@acme.test", company_id=company_ids[0]),
                         person("John", "john@acme.test", company_id=company_ids[0]),
                         {"first_name": "Solo", "email": "solo@x.test"}])
    result = run(sync.sync_list(w.ctx, "Leads"))
    counts = result.objects["contact"].counts
    assert (counts.get("matched", 0), counts.get("new", 0), counts.get("unmatchable", 0)) == (1, 1, 1)
    rows = {r.name.split(" · ")[0]: r for r in sync.link_rows(w.ctx, "Leads")}
    assert rows["Jane Doe"].crm_id == jane
    firms = run(sync.sync_list(w.ctx, "Firms"))
    assert firms.objects["company"].counts.get("matched", 0) == 1
    assert {r.crm_id for r in sync.link_rows(w.ctx, "Firms", object="company") if r.crm_id} == {acme}


def test_export_creates_updates_and_keeps_with_the_overwrite_rules(w: CrmWorld) -> None:
    w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=False),
                 w.mapping("phone", "phone", overwrite=True)])
    bob = w.add_contact("Bob", "Roe", "bob@acme.test", job_title="CTO")
    w.contacts("Leads", [person("Jane", "jane@acme.test", job_title="CEO", phone="+34 600"),
                         {"first_name": "Bob", "last_name": "Roe", "email": "bob@acme.test", "job_title": "VP",
                          "phone": "+1 222"}])
    plan = run(plan_export(w.ctx, "Leads"))
    assert plan.counts("contact") == {"create": 1, "update": 1, "unchanged": 0, "merge": 0, "blocked": 0}
    _, result = run(export(w.ctx, "Leads"))
    assert result.state == "finished"
    assert (result.counters["created"], result.counters["updated"]) == (1, 1)
    jane = w.crm_contact("jane@acme.test")
    assert (jane["first_name"], jane["last_name"], jane["job_title"], jane["phone"]) == ("Jane", "Doe", "CEO",
                                                                                         "+34 600")
    bob_now = w.crm_contact("bob@acme.test")
    assert bob_now["id"] == bob
    assert (bob_now["job_title"], bob_now["phone"]) == ("CTO", "+1 222")  # kept / overwritten
    report = load_report(w.ctx, result.run_id)
    assert sorted(r.outcome for r in report.records) == ["created", "updated"]

    # Again: nothing new, nothing changed.
    again = run(plan_export(w.ctx, "Leads"))
    assert again.counts("contact")["unchanged"] == 2
    _, result2 = run(export(w.ctx, "Leads"))
    assert result2.counters.get("created", 0) == 0
    assert len(w.crm_contacts()) == 2


def test_owners_follow_the_users_mapping(w: CrmWorld) -> None:
    ann = w.user("Ann", "ann@enginy.test", current=True)
    tom = w.user("Tom", "tom@enginy.test")
    first, second = w.owners[:2]
    w.configure(w.basics(), users={ann: first}, default_owner=second)
    w.contacts("Leads", [person("Jane", "jane@acme.test", owner_id=ann),
                         person("Tim", "tim@acme.test", owner_id=tom)])
    _, result = run(export(w.ctx, "Leads"))
    assert result.state == "finished"
    assert w.crm_contact("jane@acme.test")["owner"] == first
    assert w.crm_contact("tim@acme.test")["owner"] == second  # Tom is not mapped: the default owner


def test_the_company_becomes_the_contacts_primary_one_and_restore_puts_the_previous_back(w: CrmWorld) -> None:
    old = w.add_company("Old Corp", "old.test")
    contact = w.add_contact("Jane", "Doe", "jane@acme.test")
    w.link(contact, old)
    w.configure(w.basics(), w.company_basics(), association=AssociationType.PRIMARY_REMOVE_PREVIOUS)
    acme = w.company(name="Acme", domain="acme.test")
    w.contacts("Leads", [person("Jane", "jane@acme.test", company_id=acme),
                         person("New", "new@acme.test", company_id=acme)])
    options = ExportOptions(associated_companies=True)
    plan = run(plan_export(w.ctx, "Leads", options))
    assert plan.removals == 1
    assert plan.needs_confirmation
    _, result = run(export(w.ctx, "Leads", options, confirm_removals=True))
    assert result.state == "finished"
    assert result.counters["associations_done"] == 2
    if w.crm == "pipedrive":  # the new contact is created with its org_id: only Jane's link is a request of its own
        assert sum(1 for r in w.sb.requests if r.method == "PATCH" and r.path.startswith("/api/v2/persons/")) == 1
    if w.crm == "zoho":  # the same on Zoho: Jane's Account_Name is one update of its own
        assert sum(1 for r in w.sb.requests if r.method == "PUT" and r.path == "/crm/v8/Contacts") == 1
    if w.crm == "salesforce":  # the same on Salesforce: Jane's AccountId is one collections update of its own
        assert sum(1 for r in w.sb.requests if r.method == "PATCH" and r.path.endswith("/composite/sobjects")) == 1
    if w.crm == "dynamics":  # and on Dynamics: Jane's parentcustomerid is one $batch of its own
        assert sum(1 for r in w.sb.requests if r.path == "/api/data/v9.2/$batch") == 3  # companies, contacts, Jane
    [acme_id] = w.crm_company_ids("acme.test")
    assert w.companies_of(contact) == {acme_id}
    assert w.primary_company(contact) == acme_id
    assert w.primary_company(w.crm_contact("new@acme.test")["id"]) == acme_id
    report = load_report(w.ctx, result.run_id)
    assert {r["company_crm_id"] for r in report.removed} == {old}

    restored = run(restore_removed_associations(w.ctx, result.run_id))
    assert restored == {"restored": 1, "failed": 0}
    assert old in w.companies_of(contact)  # the previous company is back
    if w.crm in ("pipedrive", "salesforce", "zoho", "dynamics"):
        assert w.primary_company(contact) == old  # one company per contact: the previous one again

    # Exporting again creates no second company.
    again = run(plan_export(w.ctx, "Leads", ExportOptions(associated_companies=True)))
    assert again.counts("company")["create"] == 0


def test_campaign_activities_are_logged_once_with_their_owner(w: CrmWorld) -> None:
    rep = w.owners[0]
    camp, identity, steps = w.campaign("Spring", "Sam Sender", ["email", "linkedin_message", "call"])
    w.configure(w.basics(), identities={identity: rep}, default_owner=w.owners[1])
    ids = w.contacts("Leads", [person("Jane", "jane@acme.test")])
    t = lambda d: datetime(2025, 3, d, 9, tzinfo=UTC)  # noqa: E731
    email, linkedin, call = steps
    w.lead(camp, ids[0], [(None, "added", t(1)), (email, "sent", t(2)), (linkedin, "sent", t(3)),
                          (linkedin, "replied", t(4)), (call, "sent", t(5))])
    _, result = run(export(w.ctx, "Leads"))
    assert result.state == "finished"
    assert w.activity_counts() == {"email": 1, "call": 1, "note": 2}
    assert w.activity_owners() == {rep}
    _, again = run(export(w.ctx, "Leads"))
    assert again.counters.get("activities_done", 0) == 0
    assert w.activity_counts() == {"email": 1, "call": 1, "note": 2}


# -- the command line ----------------------------------------------------------------------------------------------

LEADS_CSV = """First name,Last name,Email,Company,Company domain,Job title
Jane,Doe,jane@acme.test,Acme,acme.test,CEO
Bob,Roe,bob@acme.test,Acme,acme.test,CTO
"""


@pytest.mark.parametrize("crm", CRMS)
def test_cli_from_csv_to_export(crm: str, ctx: Any, cli: Cli, tmp_path: Path) -> None:
    with crm_world(ctx, crm, connect=False) as w:
        field, secret = token_of(crm)
        code, _, err = cli("connect", crm, "--set", f"base_url={w.url}", "--secret-stdin", field, stdin=secret + "\n")
        assert code == 0, err
        assert cli("integrations", "enable", crm)[0] == 0
        code, out, err = cli("check", crm)
        assert code == 0, err
        w.add_contact("Bob", "Roe", "bob@acme.test", job_title="Old")
        path = tmp_path / "leads.csv"
        path.write_text(LEADS_CSV, encoding="utf-8")
        assert cli("import", "contacts", str(path), "--list", "Leads")[0] == 0
        w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True)])
        code, out, err = cli("sync", "--list", "Leads")
        assert code == 0, err
        assert "Contacts (2): 1 matched, 1 new to " in out
        code, out, err = cli("export", "--list", "Leads", "--dry-run")
        assert code == 0, err
        assert "2 contacts: 1 created, 1 updated, 0 unchanged." in out
        code, out, err = cli("export", "--list", "Leads", "--yes")
        assert code == 0, err
        assert "created 1" in out
        assert secret not in out + err
        assert w.crm_contact("bob@acme.test")["job_title"] == "CTO"
        assert w.crm_contact("jane@acme.test")["job_title"] == "CEO"


# -- kill -9 in the middle, then resume --------------------------------------------------------------------------


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir), *args]


@pytest.mark.subprocess
@pytest.mark.parametrize("crm", CRMS)
def test_killed_export_resumes_with_no_duplicate_and_no_loss(crm: str, ctx: Any, data_dir: Path,
                                                             tmp_path: Path) -> None:
    from enginy_desktop.sandbox.kit.faults import FaultConfig
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())  # the child processes read the connection's token from this file
    # Salesforce writes 200 records per request, four requests at a time: enough of them to be killed between.
    # Zoho writes 100 records per request, ten at a time, Dynamics 365 100 per $batch, eight at a time: the same.
    # TribeCRM writes one record per call at about 16 calls per second (its 1,000 per minute, spread): fewer records,
    # still killed in the middle of its creates (a create every ~60 ms, the kill within a few ms of the 25th).
    # (records of the list, of them already in the CRM, records created in the CRM before the kill)
    total, existing, kill_after = {"salesforce": (1200, 40, 120), "zoho": (1200, 40, 120),
                                   "dynamics": (1200, 40, 120), "tribecrm": (60, 10, 25)}.get(crm, (400, 40, 120))
    slow = {"hubspot": "/crm/objects/2026-03/contacts/batch", "pipedrive": "/api/v2/persons",
            "salesforce": "/services/data/v62.0/composite/sobjects", "zoho": "/crm/v8/Contacts",
            "dynamics": "/api/data/v9.2/$batch", "tribecrm": "/v1/odata/Relation_Person"}[crm]
    latency = {"hubspot": 150, "pipedrive": 15, "salesforce": 400, "zoho": 400, "dynamics": 400, "tribecrm": 15}[crm]
    faults = FaultConfig(latency_ms=latency, path_prefix=slow)
    with crm_world(ctx, crm, faults=faults) as w:
        w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True)], w.company_basics())
        for i in range(existing):
            w.add_contact(f"Lead{i}", "Test", f"lead{i}@acme.test", job_title="Old")
        firms = [w.company(name=f"Firm {k}", domain=f"firm{k}.test") for k in range(5)]
        w.contacts("Leads", [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test",
                              "job_title": "CEO", "company_id": firms[i % 5]} for i in range(total)])
        out_file = (tmp_path / "child.out").open("w")
        err_file = (tmp_path / "child.err").open("w")
        child = subprocess.Popen(_command(data_dir, "export", "--list", "Leads", "--associated-companies", "--yes"),
                                 env=dict(os.environ), stdout=out_file, stderr=err_file)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if len(w.crm_contacts()) - existing >= kill_after or child.poll() is not None:
                    break
                time.sleep(0.005)
            assert child.poll() is None, (tmp_path / "child.err").read_text()
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            out_file.close()
            err_file.close()
        assert child.returncode == -signal.SIGKILL
        assert existing < len(w.crm_contacts()) < total  # partly done
        run_id = ctx.runs.history(kind="export")[0].id
        report_path = tmp_path / "report.json"
        result = subprocess.run(_command(data_dir, "resume", str(run_id), "--report", str(report_path)),
                                env=dict(os.environ), capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
        emails = Counter(c["email"] for c in w.crm_contacts())
        assert len(emails) == total  # no record lost...
        assert set(emails.values()) == {1}  # ...and none twice
        report = json.loads(report_path.read_text("utf-8"))
        assert report["run"]["state"] == "finished"
        contacts = [r for r in report["records"] if r.get("object", "contact") == "contact"]
        assert Counter(r["outcome"] for r in contacts)["updated"] == existing
        assert {c["job_title"] for c in w.crm_contacts()} == {"CEO"}
        firm_ids = {k: w.crm_company_ids(f"firm{k}.test") for k in range(5)}
        assert all(len(ids) == 1 for ids in firm_ids.values())  # each company once
        for c in w.crm_contacts():  # and every contact linked to its own
            k = int(c["email"].removeprefix("lead").split("@")[0]) % 5
            assert firm_ids[k][0] in w.companies_of(c["id"]), c


@pytest.mark.parametrize("crm", CRMS)
def test_cli_only_user_inits_a_configuration_then_syncs_and_exports(crm: str, ctx: Any, cli: Cli,
                                                                    tmp_path: Path) -> None:
    """No window: connect, import, ``crm-config init`` from the CRM's own fields, sync, export — nothing blocked
    (a starting configuration maps no field whose values might not convert)."""
    with crm_world(ctx, crm, connect=False) as w:
        field, secret = token_of(crm)
        assert cli("connect", crm, "--set", f"base_url={w.url}", "--secret-stdin", field, stdin=secret + "\n")[0] == 0
        assert cli("integrations", "enable", crm)[0] == 0
        path = tmp_path / "leads.csv"
        path.write_text(LEADS_CSV, encoding="utf-8")
        assert cli("import", "contacts", str(path), "--list", "Leads")[0] == 0
        code, out, err = cli("crm-config", "init")
        assert code == 0, err
        code, out, err = cli("sync", "--list", "Leads")
        assert code == 0, err
        code, out, err = cli("export", "--list", "Leads", "--associated-companies", "--yes")
        assert code == 0, out + err
        assert "created 3 (2 contacts, 1 company), updated 0, unchanged 0, failed 0, blocked 0" in out
        assert {c["email"] for c in w.crm_contacts()} == {"jane@acme.test", "bob@acme.test"}
        assert {c["job_title"] for c in w.crm_contacts()} == {"CEO", "CTO"}
        assert all(w.companies_of(c["id"]) for c in w.crm_contacts())  # each with its company
