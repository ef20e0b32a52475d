"""The Salesforce adapter against the Salesforce emulator, in-process (ASGITransport) and over loopback.

Covers: check (org, edition, user, daily allocation), describe mapped to our fields, active users as owners, SOQL
matching (``IN`` lists chunked under the URI limit, ``nextRecordsUrl`` paging, relationship fields), sObject
Collections writes (200 a request, per-record errors in input order, duplicate rules with the existing record,
field-level security naming the field), upsert on an external-ID field, the contact's ``AccountId``, Tasks found
again, ``403 REQUEST_LIMIT_EXCEEDED`` stopping without retries, OAuth with PKCE (``instance_url`` kept, one refresh
after ``INVALID_SESSION_ID``, "sign in again" once the refresh token is revoked), and every exchange checked against
Salesforce's sObjects description and the documented shapes of query, collections and limits.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from enginy_desktop.adapters.base import (
    Activity,
    ActivityKind,
    ActivityLookup,
    AssociationInput,
    AuthError,
    CompanyLink,
    Connection,
    CrmObject,
    FieldType,
    Operation,
    QuotaExhaustedError,
    RecordInput,
)
from enginy_desktop.adapters.http import RetryPolicy, asgi_transport
from enginy_desktop.adapters.salesforce import SalesforceAdapter
from enginy_desktop.adapters.salesforce_wire import MAX_QUERY_CHARS
from enginy_desktop.sandbox.crm.salesforce import (
    DEFAULT_CLIENT_ID,
    DEFAULT_TOKEN,
    SalesforceSandbox,
    SalesforceSandboxConfig,
    create_app,
)
from enginy_desktop.sandbox.crm.salesforce.soql import SoqlError, parse
from enginy_desktop.sandbox.kit import server

INSTANCE = "https://sandbox.my.salesforce.com"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1)
KINDS = ("in-process", "loopback")
MakeAdapter = Callable[..., SalesforceAdapter]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def connection(base_url: str, token: str = DEFAULT_TOKEN) -> Connection:
    return Connection("salesforce", {"base_url": base_url}, lambda name: token if name == "access_token" else None)


@contextmanager
def target(kind: str, config: SalesforceSandboxConfig | None = None, transport_wrap: Any = None
           ) -> Iterator[tuple[SalesforceSandbox, MakeAdapter]]:
    app = create_app(config or SalesforceSandboxConfig())
    sb: SalesforceSandbox = app.state.sandbox
    wrap = transport_wrap or (lambda t: t)
    if kind == "in-process":
        yield sb, lambda **kw: SalesforceAdapter.from_connection(
            connection(INSTANCE, kw.pop("token", DEFAULT_TOKEN)), transport=wrap(asgi_transport(app)),
            retry=FAST_RETRY)
        return
    with server.serve(app) as url:
        yield sb, lambda **kw: SalesforceAdapter.from_connection(
            connection(url, kw.pop("token", DEFAULT_TOKEN)), transport=wrap(httpx.AsyncHTTPTransport()),
            retry=FAST_RETRY)


def api_requests(sb: SalesforceSandbox) -> list[Any]:
    return [r for r in sb.requests if not r.path.startswith("/__sandbox__")]


@pytest.mark.parametrize("kind", KINDS)
def test_check_describe_users_and_capabilities(kind: str) -> None:
    with target(kind, SalesforceSandboxConfig(seed_contacts=5, daily_requests=5000)) as (_sb, make):
        async def go() -> Any:
            async with make() as a:
                return (await a.check(), await a.fields(CrmObject.CONTACTS), await a.fields(CrmObject.COMPANIES),
                        await a.users(), a.capabilities, await a.budget_left())

        identity, contact_fields, account_fields, users, caps, left = run(go())
    assert identity.account_name == "Sandbox Org"
    assert "(Developer Edition)" in identity.details
    assert "sandra@sandbox.example" in identity.details
    assert "Daily API requests: 4,99" in identity.details
    assert "of 5,000 left" in identity.details
    by_name = {f.name: f for f in contact_fields}
    assert by_name["Email"].type is FieldType.EMAIL
    assert by_name["AccountId"].type is FieldType.REFERENCE
    assert "Refers to Account" in by_name["AccountId"].description
    assert by_name["OwnerId"].type is FieldType.OWNER
    assert by_name["LeadSource"].type is FieldType.PICKLIST
    assert [o.value for o in by_name["LeadSource"].options][:2] == ["Web", "Phone Inquiry"]
    assert by_name["Name"].read_only
    assert by_name["CreatedDate"].read_only
    assert by_name["LastName"].required
    assert not by_name["FirstName"].required
    assert by_name["Enginy_Id__c"].unique
    assert by_name["Enginy_Id__c"].group == "Custom fields"
    assert by_name["Account.Name"].read_only  # the account's name, for matching by company
    assert {f.name: f for f in account_fields}["Segment__c"].type is FieldType.MULTI_PICKLIST
    assert [u.name for u in users] == ["Sandra Sandbox", "Oscar Owner"]  # active users only
    assert caps.company_link is CompanyLink.FIELD
    assert caps.company_field == "AccountId"
    assert caps.batch(Operation.CREATE) == 200
    assert caps.throttle_status == 403
    assert caps.can_upsert(CrmObject.CONTACTS, "Enginy_Id__c")
    assert not caps.can_upsert(CrmObject.CONTACTS, "Email")
    assert caps.budget is not None
    assert caps.budget.per_day == 5000
    assert left.per_day == 5000
    assert 4900 < left.remaining < 5000


def test_collections_write_200_a_request_with_per_record_errors_in_input_order() -> None:
    with target("in-process", SalesforceSandboxConfig(locked_fields=("Contact.Department",))) as (sb, make):
        async def go() -> Any:
            async with make() as a:
                records = [RecordInput({"FirstName": f"P{i}", "LastName": "Test", "Email": f"p{i}@x.test"},
                                       key=f"k{i}") for i in range(430)]
                records[5] = RecordInput({"FirstName": "NoLast"}, key="k5")
                records[250] = RecordInput({"LastName": "Bad", "Email": "not-an-email"}, key="k250")
                records[300] = RecordInput({"LastName": "Unknown", "Nope__c": "x"}, key="k300")
                records[301] = RecordInput({"LastName": "Locked", "Department": "Sales"}, key="k301")
                created = await a.create(CrmObject.CONTACTS, records)
                updated = await a.update(CrmObject.CONTACTS, [
                    RecordInput({"Title": "CEO"}, key="u1", id=created[0].id),
                    RecordInput({"Title": "CEO"}, key="u2", id="003999999999999AAA"),
                    RecordInput({"Title": "CEO"}, key="u3", id="not-an-id")])
                return created, updated

        created, updated = run(go())
    assert [r.key for r in created] == [f"k{i}" for i in range(430)]
    failed = {r.key: r.error for r in created if not r.ok}
    assert set(failed) == {"k5", "k250", "k300", "k301"}
    assert failed["k5"] is not None
    assert failed["k5"].code == "REQUIRED_FIELD_MISSING"
    assert failed["k5"].field == "LastName"
    assert failed["k250"] is not None
    assert failed["k250"].code == "INVALID_EMAIL_ADDRESS"
    assert failed["k300"] is not None
    assert "Nope__c" in failed["k300"].reason
    locked = failed["k301"]
    assert locked is not None
    assert locked.field == "Department"
    assert "field-level security" in locked.reason
    posts = [r for r in api_requests(sb) if r.method == "POST" and r.path.endswith("/composite/sobjects")]
    assert len(posts) == 3  # 429 records sent: 200 + 200 + 29
    assert len(sb.records["Contact"]) == 426
    assert [r.ok for r in updated] == [True, False, False]
    assert sb.records["Contact"][created[0].id]["Title"] == "CEO"


def test_duplicate_rules_name_the_existing_record_and_upsert_uses_the_external_id() -> None:
    with target("in-process", SalesforceSandboxConfig(duplicate_rules=True)) as (sb, make):
        jane = sb.insert("Contact", {"LastName": "Doe", "Email": "jane@acme.test"})["Id"]

        async def go() -> Any:
            async with make() as a:
                dup = await a.create(CrmObject.CONTACTS, [RecordInput({"LastName": "Doe", "Email": "JANE@acme.test"},
                                                                      key="d")])
                first = await a.upsert(CrmObject.CONTACTS, [RecordInput({"LastName": "Ext"}, key="e", id="EXT-1")],
                                       "Enginy_Id__c")
                again = await a.upsert(CrmObject.CONTACTS, [RecordInput({"Title": "CTO"}, key="e", id="EXT-1")],
                                       "Enginy_Id__c")
                not_external = await a.upsert(CrmObject.CONTACTS, [RecordInput({"Title": "x"}, key="f", id="a@b.c")],
                                              "Email")
                return dup, first, again, not_external

        dup, first, again, not_external = run(go())
    assert not dup[0].ok
    assert dup[0].error is not None
    assert dup[0].error.code == "DUPLICATES_DETECTED"
    assert dup[0].error.existing_id == jane
    assert first[0].ok
    assert first[0].created is True
    assert again[0].ok
    assert again[0].created is False
    assert again[0].id == first[0].id
    assert sb.records["Contact"][first[0].id]["Title"] == "CTO"
    assert not not_external[0].ok
    assert not_external[0].error is not None
    assert not_external[0].error.code == "NOT_EXTERNAL_ID"


def test_matching_chunks_in_lists_under_the_uri_limit_and_follows_next_records_url() -> None:
    with target("in-process", SalesforceSandboxConfig(page_size=50)) as (sb, make):
        acme = sb.insert("Account", {"Name": "Acme", "Website": "https://www.acme.test/"})["Id"]
        emails = [f"someone.with.a.rather.long.address.{i}@example-company.test" for i in range(450)]
        for i, email in enumerate(emails[:300]):
            sb.insert("Contact", {"LastName": f"L{i}", "Email": email, "AccountId": acme if i % 2 else None})

        async def go() -> Any:
            async with make() as a:
                found = [r async for page in a.search_in(CrmObject.CONTACTS, "Email",
                                                         [e.upper() for e in emails], ["Account.Name"])
                         for r in page]
                sites = [r async for page in a.search_in(CrmObject.COMPANIES, "Website", ["acme.test"], ["Name"])
                         for r in page]
                scanned = [r async for page in a.scan(CrmObject.CONTACTS, ["Email"]) for r in page]
                return found, sites, scanned

        found, sites, scanned = run(go())
    assert len(found) == 300
    assert len(scanned) == 300
    assert {r.get("Account.Name") for r in found} == {"Acme", None}
    assert [r.id for r in sites] == [acme]  # "acme.test" finds the account whose website is https://www.acme.test/
    queries = [r for r in api_requests(sb) if r.path.endswith("/query")]
    assert all(len(r.query) <= 3 * MAX_QUERY_CHARS for r in queries)  # url-encoded, under 16,384 characters
    assert sum(1 for r in api_requests(sb) if "/query/" in r.path) >= 6  # pages of 50 followed


def test_the_contacts_account_tasks_and_finding_them_again() -> None:
    with target("in-process") as (sb, make):
        old = sb.insert("Account", {"Name": "Old"})["Id"]
        new = sb.insert("Account", {"Name": "New"})["Id"]
        contact = sb.insert("Contact", {"LastName": "Doe", "AccountId": old})["Id"]
        owner = sb.user_ids()[1]
        when = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)

        async def go() -> Any:
            async with make() as a:
                before = await a.associations([contact])
                await a.associate([AssociationInput(contact, new, "a")])
                after = await a.associations([contact])
                removed_other = await a.remove_associations([AssociationInput(contact, old, "r0")])
                logged = await a.log_activities([
                    Activity(ActivityKind.EMAIL, when, owner, "Hello", "Body", contact_ids=(contact,),
                             company_ids=(new,), key="e"),
                    Activity(ActivityKind.CALL, when, owner, "Call", contact_ids=(contact,), duration_seconds=90,
                             key="c"),
                    Activity(ActivityKind.NOTE, when, owner, body="A note", contact_ids=(contact,), key="n")])
                found = await a.find_activities([ActivityLookup("e", contact, ActivityKind.EMAIL, when, "Hello"),
                                                 ActivityLookup("x", contact, ActivityKind.CALL, when, "Other")])
                await a.remove_associations([AssociationInput(contact, new, "r")])
                return before, after, removed_other, logged, found

        before, after, removed_other, logged, found = run(go())
    assert [x.to_id for x in before[contact]] == [old]
    assert before[contact][0].primary
    assert [x.to_id for x in after[contact]] == [new]
    assert removed_other[0].ok  # no longer linked: nothing to do
    assert sb.records["Contact"][contact]["AccountId"] is None
    tasks = {t["Id"]: t for t in sb.records["Task"].values()}
    assert [r.ok for r in logged] == [True, True, True]
    email = tasks[logged[0].id]
    assert (email["TaskSubtype"], email["WhoId"], email["WhatId"], email["OwnerId"], email["ActivityDate"],
            email["Status"]) == ("Email", contact, new, owner, "2025-03-02", "Completed")
    assert tasks[logged[1].id]["CallDurationInSeconds"] == 90
    assert tasks[logged[1].id]["CallType"] == "Outbound"
    assert tasks[logged[2].id]["TaskSubtype"] == "Task"
    assert found == {"e": logged[0].id}


def test_request_limit_exceeded_stops_at_once_with_the_reset_time() -> None:
    with target("in-process", SalesforceSandboxConfig(daily_requests=1000)) as (sb, make):
        sb.set_limits({"requests_left": 2})

        async def go() -> Any:
            async with make() as a:
                await a.users()
                await a.users()
                with pytest.raises(QuotaExhaustedError) as caught:
                    await a.create(CrmObject.COMPANIES, [RecordInput({"Name": "X"}, key="1")])
                return caught.value, a.traffic

        error, traffic = run(go())
    assert error.status == 403
    assert error.resets_at is not None
    assert "daily API request allocation" in str(error)
    assert "resume" in str(error)
    refused = [r for r in api_requests(sb) if r.status == 403]
    assert len(refused) == 1  # never retried
    assert traffic.retries == 0


def test_a_wrong_session_says_sign_in_again() -> None:
    with target("in-process") as (_sb, make):
        async def go() -> None:
            async with make(token="00Dwrong!session") as a:
                await a.users()

        with pytest.raises(AuthError, match=r"INVALID_SESSION_ID.*sf org display.*enginy-desktop connect salesforce "
                           r"--secret-stdin access_token.*sign in with Salesforce there"):
            run(go())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_oauth_with_pkce_keeps_the_instance_url_refreshes_once_and_then_asks_to_sign_in_again(ctx: Any) -> None:
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.core.services.crm import sign_in_with_browser as sign_in

    app = create_app(SalesforceSandboxConfig(seed_contacts=2))
    sb: SalesforceSandbox = app.state.sandbox
    with server.serve(app) as url:
        ctx.integrations.save_connection("salesforce", {"login_url": url, "client_id": DEFAULT_CLIENT_ID})
        visits: list[str] = []

        async def browser_visit(link: str) -> None:
            visits.append(link)
            async with httpx.AsyncClient(timeout=10) as client:
                hop = await client.get(link)
                assert hop.status_code == 302, hop.text
                await client.get(hop.headers["location"])

        async def go() -> Any:
            tasks: list[asyncio.Task[None]] = []
            await sign_in(ctx, "salesforce", open_browser=lambda link: tasks.append(
                asyncio.get_running_loop().create_task(browser_visit(link))), redirect_port=_free_port(), timeout=10)
            await asyncio.gather(*tasks)
            async with ctx.adapters.crm("salesforce") as a:
                first = await a.check()
                sb.expire_tokens()
                users = await a.users()  # INVALID_SESSION_ID -> one refresh -> retried
            for refresh in list(sb.tokens.refresh_tokens):
                sb.tokens.revoke(refresh)
            sb.expire_tokens()
            async with ctx.adapters.crm("salesforce") as a:
                with pytest.raises(AuthError) as caught:
                    await a.users()
            return first, users, caught.value

        first, users, refused = run(go())
    assert "code_challenge=" in visits[0]
    assert "scope=api+refresh_token" in visits[0]
    assert "Salesforce sign-in (OAuth)" in first.details
    assert len(users) == 2
    saved = TokenStore(ctx.secrets, "salesforce").load()
    assert saved is not None
    assert saved.api_url == url
    assert len([r for r in sb.requests if r.path == "/services/oauth2/token"]) == 3  # code, refresh, refused
    assert "Sign in again" in str(refused)


def test_the_soql_subset_of_the_emulator() -> None:
    sb = create_app(SalesforceSandboxConfig()).state.sandbox
    acme = sb.insert("Account", {"Name": "Acme"})["Id"]
    for first, last, title in (("Ana", "Kim", "CEO"), ("Ben", "Kim", "CTO"), ("Cy", "Ito", None)):
        sb.insert("Contact", {"FirstName": first, "LastName": last, "Title": title, "AccountId": acme})

    def names(soql: str) -> list[str]:
        q = parse(soql)
        rows = [r for r in sb.records[q.object].values() if q.where is None or q.where(sb.getter(q.object, r))]
        rows.sort(key=lambda r: str(r.get(q.order_by)), reverse=q.descending)
        return [r["FirstName"] for r in rows[:q.limit]]

    assert names("SELECT Id FROM Contact WHERE LastName = 'kim' AND (Title = 'CEO' OR Title = null) "
                 "ORDER BY FirstName") == ["Ana"]
    assert names("SELECT Id FROM Contact WHERE Account.Name LIKE 'ac%' ORDER BY FirstName DESC LIMIT 2") == \
        ["Cy", "Ben"]
    assert names("SELECT Id FROM Contact WHERE FirstName IN ('ana','CY') AND NOT LastName IN ('Ito')") == ["Ana"]
    assert names("SELECT Id FROM Contact WHERE LastName = 'O\\'Brien'") == []
    with pytest.raises(SoqlError):
        parse("SELECT FROM Contact")


# -- contract --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_exchange_follows_salesforces_description_and_documented_shapes(kind: str, shared_dir: Any) -> None:
    from tests.support.salesforce_contract import SalesforceRecorder

    recorder = SalesforceRecorder.for_shared_dir(shared_dir)
    config = SalesforceSandboxConfig(seed_contacts=30, page_size=10, duplicate_rules=True)
    with target(kind, config, transport_wrap=recorder.wrap) as (_sb, make):
        async def go() -> None:
            async with make() as a:
                await a.check()
                await a.users()
                contacts = [r async for p in a.scan(CrmObject.CONTACTS, ["Email", "Account.Name"]) for r in p]
                accounts = [r async for p in a.scan(CrmObject.COMPANIES, ["Name", "Website"]) for r in p]
                [r async for p in a.search_in(CrmObject.CONTACTS, "Email", [str(contacts[0].get("Email"))],
                                              ["FirstName"]) for r in p]
                made = await a.create(CrmObject.CONTACTS, [
                    RecordInput({"LastName": "New", "Email": "new@x.test", "AccountId": accounts[0].id}, key="1"),
                    RecordInput({"LastName": "Dup", "Email": str(contacts[1].get("Email"))}, key="2")])
                await a.update(CrmObject.CONTACTS, [RecordInput({"Title": "CEO"}, key="u", id=made[0].id)])
                await a.upsert(CrmObject.COMPANIES, [RecordInput({"Name": "Ext"}, key="x", id="X-1")],
                               "External_Id__c")
                await a.log_activities([Activity(ActivityKind.EMAIL, datetime(2025, 1, 2, tzinfo=UTC),
                                                 contact_ids=(made[0].id,), key="e")])
                await a.find_activities([ActivityLookup("e", made[0].id, ActivityKind.EMAIL,
                                                        datetime(2025, 1, 2, tzinfo=UTC))])
                await a.remove_associations([AssociationInput(made[0].id, accounts[0].id, "r")])
            # The single-record sObjects resources, as Salesforce's generated description publishes them.
            client = a.api._client
            async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url),
                                         headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as raw:
                created = await raw.post("/services/data/v62.0/sobjects/Account", json={"Name": "Single"})
                rid = created.json()["id"]
                await raw.get(f"/services/data/v62.0/sobjects/Account/{rid}")
                await raw.patch(f"/services/data/v62.0/sobjects/Account/{rid}", json={"Website": "https://s.test"})
                await raw.post("/services/data/v62.0/sobjects/Contact", json={"FirstName": "No last name"})
                await raw.get("/services/data/v62.0/sobjects/Account/001999999999999AAA")
                await raw.get("/services/data/v62.0/query", params={"q": "SELECT Nope FROM Contact"})
                await raw.delete(f"/services/data/v62.0/sobjects/Account/{rid}")
                await raw.get("/services/data/v62.0/sobjects/Account/describe")

        run(go())
    recorder.assert_all_valid()
    ops = recorder.operations()
    for expected in ("POST /composite/sobjects", "PATCH /composite/sobjects", "GET /limits",
                     "PATCH /composite/sobjects/Account/External_Id__c", "GET /sobjects/Contact/describe",
                     "POST /sobjects/Account"):
        assert expected in ops, (expected, sorted(ops))
    assert any(op.startswith("GET /query/") for op in ops)  # nextRecordsUrl followed
    by = {c.by for c in recorder.checked}
    assert "sObjects OpenAPI" in by
    assert any(c.response.status_code == 400 for c in recorder.checked)


def test_the_emulators_composite_control_api_and_limit_header() -> None:
    app = create_app(SalesforceSandboxConfig(daily_requests=50))
    sb: SalesforceSandbox = app.state.sandbox
    control = {"Authorization": f"Bearer {app.control_token}"}

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://127.0.0.1:8767") as c:
            auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
            switched = await c.post("/__sandbox__/rate-limit", json={"duplicate_rules": True}, headers=control)
            composite = await c.post("/services/data/v62.0/composite", headers=auth, json={"compositeRequest": [
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "a",
                 "body": {"LastName": "One", "Email": "one@x.test"}},
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "b",
                 "body": {"LastName": "Two", "Email": "ONE@x.test"}},
                {"method": "GET", "url": "/services/data/v62.0/query?q=SELECT+Id+FROM+Contact", "referenceId": "c"}]})
            state = await c.get("/__sandbox__/state", headers=control)
            return [switched, composite, state]

    switched, composite, state = run(go())
    assert switched.json()["duplicate_rules"] is True
    answers = {a["referenceId"]: a for a in composite.json()["compositeResponse"]}
    assert answers["a"]["httpStatusCode"] == 201
    assert answers["b"]["httpStatusCode"] == 400
    assert answers["b"]["body"][0]["errorCode"] == "DUPLICATES_DETECTED"
    assert answers["c"]["body"]["totalSize"] == 1
    assert composite.headers["sforce-limit-info"] == "api-usage=1/50"  # one request of the allocation
    assert state.json()["counts"]["api_requests_left"] == 49
    assert len(sb.records["Contact"]) == 1
