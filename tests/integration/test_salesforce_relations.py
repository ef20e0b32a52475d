"""Contacts to Multiple Accounts on Salesforce: where the org has it (``AccountContactRelation``, detected from the
Contact describe; the emulator's ``account_contact_relations`` switch), an *additional* company is an indirect
relation and the contact keeps its primary account; *primary and remove previous* moves the primary account and
deletes the other relations; Restore puts them back as relations. Where the org does not have it, the Association
Type notes say why a contact has one account. The preview's request estimate is what the run sends."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from enginy_desktop.adapters.base import AssociationInput, AssociationKind, CrmObject
from enginy_desktop.adapters.http import RetryPolicy, asgi_transport
from enginy_desktop.adapters.salesforce import SalesforceAdapter
from enginy_desktop.core.crm_cache import CrmSnapshot
from enginy_desktop.core.crm_config import AssociationType, association_note
from enginy_desktop.core.export.plan import ExportOptions, plan_export
from enginy_desktop.core.export.report import load_report
from enginy_desktop.core.export.run import execute, restore_removed_associations, start_export
from enginy_desktop.sandbox.crm.salesforce import DEFAULT_TOKEN, SalesforceSandbox, SalesforceSandboxConfig, create_app
from enginy_desktop.sandbox.crm.salesforce.state import ACR, RecordProblem
from tests.support.crm_world import CrmWorld, crm_world

OPTIONS = ExportOptions(associated_companies=True)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def relations(sb: Any, contact: str) -> dict[str, bool]:
    """Account id -> direct (the primary account) for each relation of ``contact``."""
    return {r["AccountId"]: r["IsDirect"] for r in sb.records[ACR].values() if r["ContactId"] == contact}


def person(first: str, last: str, email: str, company_id: int) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "email": email, "company_name": "Acme", "company_id": company_id}


def exported(w: CrmWorld, options: ExportOptions = OPTIONS, **kw: Any) -> tuple[Any, Any, int]:
    """Plan, run, and the API requests the run sent (counted by the emulator)."""
    plan = run(plan_export(w.ctx, "Leads", options))
    before = w.api_requests()
    result = run(execute(w.ctx, start_export(w.ctx, plan), **kw))
    return plan, result, w.api_requests() - before


def test_an_additional_company_is_a_relation_and_the_estimate_is_what_the_run_sends(ctx: Any) -> None:
    with crm_world(ctx, "salesforce", account_contact_relations=True, daily_requests=100_000) as w:
        sb: Any = w.sb
        old = w.add_company("Old Corp", "old.test")
        jane = w.add_contact("Jane", "Doe", "jane@acme.test")
        w.link(jane, old)
        bob = w.add_contact("Bob", "Roe", "bob@acme.test")  # no account yet: a private contact
        w.configure(w.basics(), w.company_basics(), association=AssociationType.ADDITIONAL)
        acme = w.company(name="Acme", domain="acme.test")
        w.contacts("Leads", [person("Jane", "Doe", "jane@acme.test", acme),
                             person("Bob", "Roe", "bob@acme.test", acme),
                             person("Carl", "New", "carl@acme.test", acme)])
        plan, result, sent = exported(w)
        assert result.state == "finished", result.error
        assert plan.budget is not None
        assert plan.budget.needed == sent  # describe of each object written, writes, the relation: nothing else
        [acme_id] = w.crm_company_ids("acme.test")
        assert sb.records["Contact"][jane]["AccountId"] == old  # Jane keeps her primary account…
        assert relations(sb, jane) == {old: True, acme_id: False}  # …and is related to Acme as well
        assert relations(sb, bob) == {acme_id: True}  # Bob had none: Acme is his primary account
        carl = w.crm_contact("carl@acme.test")["id"]
        assert relations(sb, carl) == {acme_id: True}
        assert sum(1 for r in sb.requests if r.method == "POST" and r.path.endswith("/composite/sobjects")
                   and r.status == 200) == 3  # the account, Carl, Jane's relation (Bob's account went with Bob)

        # Exporting again changes nothing: the relations are read back as they are.
        again, result, sent = exported(w)
        assert result.state == "finished"
        assert again.op_counts()["associate"] + again.op_counts()["primary"] == 0
        assert again.budget is not None
        assert again.budget.needed == sent


def test_the_estimate_is_what_the_run_sends_without_relations_too(ctx: Any) -> None:
    from datetime import UTC, datetime

    with crm_world(ctx, "salesforce", daily_requests=100_000) as w:
        old = w.add_company("Old Corp", "old.test")
        jane = w.add_contact("Jane", "Doe", "jane@acme.test")
        w.link(jane, old)
        w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True)], w.company_basics())
        camp, _identity, steps = w.campaign("Spring", "Sam Sender", ["email"])
        acme = w.company(name="Acme", domain="acme.test")
        ids = w.contacts("Leads", [{**person("Jane", "Doe", "jane@acme.test", acme), "job_title": "CEO"},
                                   person("Carl", "New", "carl@acme.test", acme)])
        w.lead(camp, ids[0], [(None, "added", datetime(2025, 3, 1, 9, tzinfo=UTC)),
                              (steps[0], "sent", datetime(2025, 3, 2, 9, tzinfo=UTC))])
        plan, result, sent = exported(w)
        assert result.state == "finished", result.error
        assert plan.budget is not None
        # describe Account and Contact, create the account, create Carl, update Jane (with her account), the Task
        assert plan.budget.needed == sent == 6
        [acme_id] = w.crm_company_ids("acme.test")
        assert w.primary_company(jane) == acme_id  # one account per contact here: Acme replaces Old Corp
        assert w.activity_counts()["email"] == 1


def test_primary_and_remove_previous_then_restore_puts_the_relations_back(ctx: Any) -> None:
    with crm_world(ctx, "salesforce", account_contact_relations=True, daily_requests=100_000) as w:
        sb: Any = w.sb
        old = w.add_company("Old Corp", "old.test")
        other = w.add_company("Other Corp", "other.test")
        jane = w.add_contact("Jane", "Doe", "jane@acme.test")
        w.link(jane, old)
        sb.insert(ACR, {"AccountId": other, "ContactId": jane})  # an indirect relation of her own
        w.configure(w.basics(), w.company_basics(), association=AssociationType.PRIMARY_REMOVE_PREVIOUS)
        acme = w.company(name="Acme", domain="acme.test")
        w.contacts("Leads", [person("Jane", "Doe", "jane@acme.test", acme)])
        plan = run(plan_export(w.ctx, "Leads", OPTIONS))
        assert plan.removals == 2
        plan, result, sent = exported(w)  # the removals were confirmed (the plan said how many)
        assert result.state == "finished", result.error
        assert plan.budget is not None
        assert plan.budget.needed == sent
        [acme_id] = w.crm_company_ids("acme.test")
        assert sb.records["Contact"][jane]["AccountId"] == acme_id
        assert relations(sb, jane) == {acme_id: True}
        assert {r["company_crm_id"] for r in load_report(w.ctx, result.run_id).removed} == {old, other}

        restored = run(restore_removed_associations(w.ctx, result.run_id))
        assert restored == {"restored": 2, "failed": 0}
        assert sb.records["Contact"][jane]["AccountId"] == acme_id  # the run's primary account stays primary
        assert relations(sb, jane) == {acme_id: True, old: False, other: False}


def _adapter(app: Any, state: dict[str, str] | None = None) -> SalesforceAdapter:
    from enginy_desktop.adapters.base import Connection

    kept = state if state is not None else {}
    connection = Connection("salesforce", {"base_url": "https://sandbox.my.salesforce.com"},
                            lambda name: DEFAULT_TOKEN if name == "access_token" else None,
                            load_state=kept.get, save_state=kept.__setitem__)
    return SalesforceAdapter.from_connection(connection, transport=asgi_transport(app),
                                             retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02))


@pytest.mark.parametrize("on", [True, False])
def test_detected_from_describe_remembered_and_said_in_the_association_notes(on: bool) -> None:
    app = create_app(SalesforceSandboxConfig(account_contact_relations=on))
    state: dict[str, str] = {}

    async def go() -> Any:
        async with _adapter(app, state) as a:
            fields = await a.fields(CrmObject.CONTACTS)
            return a.capabilities, CrmSnapshot.build("salesforce", fields, await a.users(),
                                                     capabilities=a.capabilities), await a.check()

    caps, snapshot, identity = run(go())
    assert f"Contacts to Multiple Accounts: {'on' if on else 'off'}" in identity.details  # Test connection says
    assert caps.multiple_companies is on
    assert state == {"account_contact_relations": "on" if on else "off"}
    assert _adapter(app, state).capabilities.multiple_companies is on  # a run knows before its first request
    note = association_note(AssociationType.ADDITIONAL, CrmSnapshot.from_dict(snapshot.to_dict()), "Salesforce")
    if on:
        assert note is None
    else:
        assert note is not None
        assert "one company only" in note
        assert "“Contacts to Multiple Accounts” is off" in note
        assert "Refresh in the wizard" in note
        assert "enginy-desktop crm-fields --object contacts" in note
        assert "Setup → Account Settings" in note


def test_turned_on_later_a_command_line_field_read_notices_it(ctx: Any, cli: Any) -> None:
    """The note's advice for the command line holds: after an admin turns Contacts to Multiple Accounts on,
    `crm-fields --object contacts` reads the describe again and the connection remembers it is on."""
    from enginy_desktop.sandbox.kit.server import serve

    app = create_app(SalesforceSandboxConfig(account_contact_relations=False))
    with serve(app) as url:
        ctx.integrations.save_connection("salesforce", {"base_url": url, "access_token": DEFAULT_TOKEN})
        ctx.integrations.enable("salesforce")
        assert cli("crm-fields", "--object", "contacts")[0] == 0
        assert ctx.adapters.crm("salesforce").capabilities.multiple_companies is False
        app.state.sandbox.set_limits({"account_contact_relations": True})
        code, _, err = cli("crm-fields", "--object", "contacts")
        assert code == 0, err
        assert ctx.adapters.crm("salesforce").capabilities.multiple_companies is True


def test_the_emulators_switch_and_relation_rules() -> None:
    app = create_app(SalesforceSandboxConfig(account_contact_relations=True))
    sb: SalesforceSandbox = app.state.sandbox
    acme, other = (sb.insert("Account", {"Name": n})["Id"] for n in ("Acme", "Other"))
    jane = sb.insert("Contact", {"LastName": "Doe", "AccountId": acme})["Id"]
    private = sb.insert("Contact", {"LastName": "Solo"})["Id"]

    async def go() -> Any:
        async with _adapter(app) as a:
            made = await a.associate([AssociationInput(jane, other, "j"), AssociationInput(jane, acme, "again"),
                                      AssociationInput(private, other, "p")], AssociationKind.ADDITIONAL)
            read = await a.associations([jane, private])
            moved = await a.associate([AssociationInput(jane, other, "m")], AssociationKind.PRIMARY)
            after = await a.associations([jane])
            removed = await a.remove_associations([AssociationInput(jane, acme, "r")])
            return made, read, moved, after, removed

    made, read, moved, after, removed = run(go())
    assert [r.ok for r in made] == [True, True, True]  # related, related already, made primary (was private)
    assert {(x.to_id, x.primary) for x in read[jane]} == {(acme, True), (other, False)}
    assert read[private][0].to_id == other
    assert read[private][0].primary
    assert moved[0].ok
    assert {(x.to_id, x.primary) for x in after[jane]} == {(other, True), (acme, False)}  # the old one stays
    assert removed[0].ok
    assert relations(sb, jane) == {other: True}
    sb.insert(ACR, {"AccountId": acme, "ContactId": jane})
    sb.set_limits({"account_contact_relations": False})  # turning it off deletes indirect relations (as Salesforce)
    assert relations(sb, jane) == {other: True}

    async def hidden() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=asgi_transport(app), base_url="https://x.my.salesforce.com",
                                     headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as c:
            return [await c.get(f"/services/data/v62.0/sobjects/{ACR}/describe"),
                    await c.get("/services/data/v62.0/query", params={"q": "SELECT Id FROM AccountContactRelation"}),
                    await c.get("/services/data/v62.0/query", params={
                        "q": "SELECT Id, (SELECT Account.Name FROM AccountContactRelations) FROM Contact"}),
                    await c.get("/services/data/v62.0/sobjects/Contact/describe")]

    describe, query, subquery, contact = run(hidden())
    assert (describe.status_code, describe.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    assert (query.status_code, query.json()[0]["errorCode"]) == (400, "INVALID_TYPE")
    assert (subquery.status_code, subquery.json()[0]["errorCode"]) == (400, "INVALID_TYPE")
    assert "Didn't understand relationship 'AccountContactRelations'" in subquery.json()[0]["message"]
    assert ACR not in {c["childSObject"] for c in contact.json()["childRelationships"]}

    sb.set_limits({"account_contact_relations": True})
    solo = sb.insert("Contact", {"LastName": "Solo"})["Id"]
    with pytest.raises(RecordProblem, match="private contact"):
        sb.insert(ACR, {"AccountId": acme, "ContactId": solo})
    with pytest.raises(RecordProblem, match="duplicate value"):
        sb.insert(ACR, {"AccountId": other, "ContactId": jane})
    direct = next(r["Id"] for r in sb.records[ACR].values() if r["ContactId"] == jane and r["IsDirect"])
    with pytest.raises(RecordProblem, match="direct relationship"):
        sb.delete(ACR, direct)


def test_relation_traffic_follows_the_documented_shapes(shared_dir: Any) -> None:
    from tests.support.salesforce_contract import SalesforceRecorder

    recorder = SalesforceRecorder.for_shared_dir(shared_dir)
    app = create_app(SalesforceSandboxConfig(account_contact_relations=True))
    sb: SalesforceSandbox = app.state.sandbox
    acme, other = (sb.insert("Account", {"Name": n})["Id"] for n in ("Acme", "Other"))
    jane = sb.insert("Contact", {"LastName": "Doe", "AccountId": acme})["Id"]
    connection_state: dict[str, str] = {}

    async def go() -> None:
        from enginy_desktop.adapters.base import Connection

        connection = Connection("salesforce", {"base_url": "https://sandbox.my.salesforce.com"},
                                lambda name: DEFAULT_TOKEN if name == "access_token" else None,
                                load_state=connection_state.get, save_state=connection_state.__setitem__)
        async with SalesforceAdapter.from_connection(connection, transport=recorder.wrap(asgi_transport(app))) as a:
            await a.associate([AssociationInput(jane, other, "a")], AssociationKind.ADDITIONAL)
            await a.associations([jane])
            gone = AssociationInput(jane, "001000000000999AAA", "gone")  # no such relation: nothing to remove
            await a.remove_associations([AssociationInput(jane, other, "r"), gone])
            client = a.api._client
        async with httpx.AsyncClient(transport=recorder.wrap(asgi_transport(app)), base_url=str(client.base_url),
                                     headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as raw:
            await raw.post("/services/data/v62.0/composite", json={"compositeRequest": [
                {"method": "POST", "url": f"/services/data/v62.0/sobjects/{ACR}", "referenceId": "rel",
                 "body": {"AccountId": other, "ContactId": jane}},
                {"method": "POST", "url": f"/services/data/v62.0/sobjects/{ACR}", "referenceId": "twice",
                 "body": {"AccountId": other, "ContactId": jane}},
                {"method": "GET", "url": "/services/data/v62.0/query?q=SELECT+Id,IsDirect+FROM+AccountContactRelation",
                 "referenceId": "all"}]})
            ids = ",".join(r["Id"] for r in sb.records[ACR].values())
            await raw.delete("/services/data/v62.0/composite/sobjects", params={"ids": ids, "allOrNone": "false"})

    run(go())
    recorder.assert_all_valid()
    ops = recorder.operations()
    for expected in ("GET /sobjects/Contact/describe", "POST /composite/sobjects", "DELETE /composite/sobjects",
                     "POST /composite", "GET /query"):
        assert expected in ops, (expected, sorted(ops))
    deleted = [c for c in recorder.checked if c.request.method == "DELETE"]
    answers = [a["success"] for a in deleted[-1].response.json()]
    assert answers.count(False) == 1  # the direct relation cannot be deleted; the indirect one can


# -- matching by related accounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("on", [True, False])
def test_a_contact_matches_by_a_related_account_not_only_its_primary_one(ctx: Any, on: bool) -> None:
    """Jane works at Globex (her primary account) and at Acme (a related account). The local "Jane Doe at Acme",
    identified by first + last + company name, is her: the sync links them and the export updates her instead of
    creating a duplicate. Without Contacts to Multiple Accounts she has Globex only, and nothing changes: she is new.
    The requests the sync and the export send are the ones their estimates said."""
    from enginy_desktop.core import sync
    from enginy_desktop.core.crm_config import ContactIdentifier
    from enginy_desktop.core.matching.rules import ContactPreset

    with crm_world(ctx, "salesforce", account_contact_relations=on, daily_requests=100_000) as w:
        sb: Any = w.sb
        globex, acme = w.add_company("Globex", "globex.test"), w.add_company("ACME, Inc.", "acme.test")
        jane = w.add_contact("Jane", "Doe", "jane@globex.test", company=(globex, "Globex"))
        w.add_contact("John", "Doe", "john@acme.test", company=(acme, "ACME, Inc."))  # another Doe at Acme
        if on:
            sb.insert(ACR, {"AccountId": acme, "ContactId": jane})
        config = w.configure([*w.basics(), w.mapping("job_title", "job_title", overwrite=True)],
                             association=AssociationType.ADDITIONAL, by_email=False)
        config.contact_identifier = ContactIdentifier(ContactPreset.FIRST_LAST_COMPANY)
        w.ctx.crm_configs.save(config)
        w.contacts("Leads", [{"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test",
                              "company_name": "Acme", "job_title": "CFO"}])

        estimate = run(sync.estimate_sync(w.ctx, "Leads"))
        before = len(sb.requests)
        result = run(sync.sync_list(w.ctx, "Leads"))
        assert estimate is not None
        listings = [q for q in (parse_qs(r.query).get("q", [""])[0] for r in sb.requests[before:]
                                if r.path.endswith("/query")) if "FROM Contact" in q and "COUNT()" not in q]
        # One listing of the contacts' identifier fields, with their related accounts' names where the org has them
        # (and the calls planning it: the count, the describe, the limits).
        assert estimate.check.needed - estimate.planning == len(listings) == 1
        assert estimate.check.needed == len(sb.requests) - before
        assert ("(SELECT Account.Name FROM AccountContactRelations WHERE IsDirect = false)" in listings[0]) is on
        counts = result.objects["contact"].counts
        [row] = sync.link_rows(w.ctx, "Leads")
        if on:
            assert counts.get("matched", 0) == 1
            assert row.crm_id == jane
        else:
            assert counts.get("new", 0) == 1
            assert row.crm_id is None

        plan, result, sent = exported(w, ExportOptions())
        assert result.state == "finished", result.error
        counts = plan.counts("contact")
        assert (counts["update"], counts["create"]) == ((1, 0) if on else (0, 1))
        assert plan.budget is not None
        assert plan.budget.needed == sent
        does = [r for r in sb.records["Contact"].values() if r["LastName"] == "Doe"]
        assert len(does) == (2 if on else 3)
        assert sb.records["Contact"][jane]["Title"] == ("CFO" if on else None)
        assert sb.records["Contact"][jane]["AccountId"] == globex  # her primary account stays


def test_related_account_names_come_in_the_contact_query_as_salesforce_pages_them(shared_dir: Any) -> None:
    """One query reads the contacts with their accounts' names: a sub-query's children count toward the 2,000
    records of a batch, and a contact with more related accounts than came with it gets the rest by its own
    nextRecordsUrl. Every answer has the documented shape."""
    from tests.support.salesforce_contract import SalesforceRecorder

    recorder = SalesforceRecorder.for_shared_dir(shared_dir)
    app = create_app(SalesforceSandboxConfig(account_contact_relations=True, page_size=3, child_page_size=1))
    sb: SalesforceSandbox = app.state.sandbox
    globex, acme, initech = (sb.insert("Account", {"Name": n})["Id"] for n in ("Globex", "Acme", "Initech"))
    jane = sb.insert("Contact", {"LastName": "Doe", "AccountId": globex})["Id"]
    for account in (acme, initech):
        sb.insert(ACR, {"AccountId": account, "ContactId": jane})
    bob = sb.insert("Contact", {"LastName": "Roe", "AccountId": acme})["Id"]
    solo = sb.insert("Contact", {"LastName": "Solo"})["Id"]
    kept: dict[str, str] = {"account_contact_relations": "on"}

    async def go() -> tuple[dict[str, Any], int]:
        from enginy_desktop.adapters.base import Connection

        connection = Connection("salesforce", {"base_url": "https://sandbox.my.salesforce.com"},
                                lambda name: DEFAULT_TOKEN if name == "access_token" else None,
                                load_state=kept.get, save_state=kept.__setitem__)
        async with SalesforceAdapter.from_connection(connection, transport=recorder.wrap(asgi_transport(app))) as a:
            found = {r.id: r.get("Account.Name") async for page in a.scan(CrmObject.CONTACTS, ["Account.Name"])
                     for r in page}
            return found, a.calls_made

    found, calls = run(go())
    assert found == {jane: ("Globex", "Acme", "Initech"), bob: "Acme", solo: None}
    # describe; the first batch (Jane with one related account: 2 records, Bob: 1); Jane's other related account;
    # the second batch (Solo)
    assert calls == 4
    recorder.assert_all_valid()
    queries = [c for c in recorder.checked if "/query" in c.request.url.path]
    assert "AccountContactRelations" in queries[0].request.url.params["q"]
    assert queries[0].response.json()["records"][1]["AccountContactRelations"] is None  # Bob: no other account


def test_the_sync_estimate_counts_the_related_accounts_that_fill_the_contact_pages(ctx: Any) -> None:
    """Related accounts' names come in the contact listing, and Salesforce counts them toward the 2,000 records of
    a batch: 2,000 contacts with 0 to 3 related accounts each (5,000 records) are three pages, not one, and the
    sync's estimate says three — what the emulator then counts."""
    from enginy_desktop.core import sync
    from enginy_desktop.core.crm_config import ContactIdentifier
    from enginy_desktop.core.matching.rules import ContactPreset

    with crm_world(ctx, "salesforce", account_contact_relations=True, daily_requests=100_000) as w:
        sb: Any = w.sb
        globex = w.add_company("Globex", "globex.test")
        others = [w.add_company(f"Firm {i}", f"firm{i}.test") for i in range(3)]
        for i in range(2000):
            contact = sb.insert("Contact", {"FirstName": "Jo", "LastName": f"Doe {i}", "AccountId": globex},
                                check=False)["Id"]
            for account in others[:i % 4]:
                sb.insert(ACR, {"AccountId": account, "ContactId": contact})
        config = w.configure(w.basics(), by_email=False)
        config.contact_identifier = ContactIdentifier(ContactPreset.FIRST_LAST_COMPANY)
        w.ctx.crm_configs.save(config)
        w.contacts("Leads", [{"first_name": "Jo", "last_name": "Doe 3", "email": "d3@x.test",
                              "company_name": "Firm 2"}])

        estimate = run(sync.estimate_sync(w.ctx, "Leads"))
        before = len(sb.requests)
        result = run(sync.sync_list(w.ctx, "Leads"))
        assert estimate is not None
        listing = [r for r in sb.requests[before:] if "/query" in r.path
                   and "COUNT()" not in parse_qs(r.query).get("q", [""])[0]]
        assert estimate.check.needed - estimate.planning == len(listing) == 3
        assert estimate.check.needed == len(sb.requests) - before  # with the counts, the describe, the limits
        assert result.objects["contact"].counts.get("matched", 0) == 1  # Doe 3 is related to Firm 2
