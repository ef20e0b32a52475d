"""The Dynamics 365 adapter against the Dataverse emulator, in-process (ASGITransport) and over loopback.

Covers: check (WhoAmI, the organization, ``$metadata`` read), table definitions mapped to our fields (choices from
the picklist cast, formats, the owner and the company lookup writable), active system users as owners, matching
with ``Microsoft.Dynamics.CRM.In`` and ``@odata.nextLink`` paging, creates and updates with one result per record in
input order (a refused record does not stop the others), the owner and the company bound with ``@odata.bind``, upsert
on an alternate key (and none without one), the company replaced and cleared, e-mails, phone calls and notes logged
and found again, the service protection 429 waited for its ``Retry-After`` (and raised when the wait is too long),
and every exchange checked against the emulator's ``$metadata``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from enginy_desktop.adapters import odata
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
    RateLimitedError,
    RecordInput,
)
from enginy_desktop.adapters.dynamics import DynamicsAdapter, api_root, environment_url
from enginy_desktop.adapters.http import RetryPolicy, asgi_transport, forget_limiters
from enginy_desktop.sandbox.crm.dynamics import DEFAULT_TOKEN, DynamicsSandbox, DynamicsSandboxConfig, create_app
from enginy_desktop.sandbox.crm.dynamics.metadata import csdl
from enginy_desktop.sandbox.kit import server
from enginy_desktop.sandbox.registry import emulator_spec
from tests.support.odata_contract import Recorder

ORG = "https://sandbox.crm4.dynamics.com"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1)
KINDS = ("in-process", "loopback")
META = odata.read_metadata(csdl())
MakeAdapter = Callable[..., DynamicsAdapter]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def connection(org_url: str, token: str = DEFAULT_TOKEN, **settings: str) -> Connection:
    return Connection("dynamics", {"org_url": org_url, **settings},
                      lambda name: token if name == "access_token" else None)


@contextmanager
def target(kind: str, config: DynamicsSandboxConfig | None = None, retry: RetryPolicy = FAST_RETRY
           ) -> Iterator[tuple[DynamicsSandbox, MakeAdapter, list[Recorder]]]:
    app = create_app(config or DynamicsSandboxConfig())
    sb: DynamicsSandbox = app.state.sandbox
    recorders: list[Recorder] = []
    forget_limiters()  # one limiter per connection for the process: each test starts with an empty window

    def make(url: str, inner: Callable[[], httpx.AsyncBaseTransport]) -> MakeAdapter:
        def adapter(**kw: Any) -> DynamicsAdapter:
            rec = Recorder(inner())
            recorders.append(rec)
            return DynamicsAdapter.from_connection(connection(url, kw.pop("token", DEFAULT_TOKEN), **kw),
                                                   transport=rec, retry=retry)
        return adapter

    try:
        if kind == "in-process":
            yield sb, make(ORG, lambda: asgi_transport(app)), recorders
        else:
            with server.serve(app) as url:
                yield sb, make(url, httpx.AsyncHTTPTransport), recorders
    finally:
        forget_limiters()
    problems = [p for r in recorders for p in r.problems(META)]
    assert not problems, problems  # every exchange agrees with $metadata


def contact(first: str, email: str, **extra: Any) -> RecordInput:
    return RecordInput({"firstname": first, "lastname": "Doe", "emailaddress1": email, **extra}, key=email)


# -- the OData layer -----------------------------------------------------------------------------------------------


def test_odata_literals_and_filters_quote_what_users_type() -> None:
    assert odata.literal("O'Brien") == "'O''Brien'"
    assert odata.eq("lastname", "O'Brien") == "lastname eq 'O''Brien'"
    assert odata.dataverse_in("emailaddress1", ["a@x.test", "b'c@x.test"]) == (
        "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=['a@x.test','b''c@x.test'])")
    assert odata.literal(True) == "true"
    assert odata.literal(None) == "null"
    assert odata.key_segment({"emailaddress1": "x'y@z.test"}) == "(emailaddress1='x''y@z.test')"
    with pytest.raises(ValueError, match="not a property name"):
        odata.eq("name eq 'x' or 1 eq 1", "y")  # a name is never taken from data


def test_metadata_is_read_and_a_dtd_refused() -> None:
    assert META.entity_sets["contacts"] == "Microsoft.Dynamics.CRM.contact"
    props = META.properties("contacts")
    assert props["emailaddress1"].max_length == 100
    assert props["_parentcustomerid_value"].type == "Edm.Guid"
    assert META.navigation("contacts")["parentcustomerid_account"] == "Microsoft.Dynamics.CRM.account"
    with pytest.raises(odata.FatalError):
        odata.read_metadata('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>')


def test_connection_urls() -> None:
    c = connection("yourorg.crm4.dynamics.com/")
    assert environment_url(c) == "https://yourorg.crm4.dynamics.com"
    assert api_root(c) == "https://yourorg.crm4.dynamics.com/api/data/v9.2"
    provider = DynamicsAdapter.oauth_provider(Connection("dynamics", {"org_url": "https://o.crm.dynamics.com",
                                                                      "client_id": "abc"}, lambda n: None))
    assert provider.scopes == ("https://o.crm.dynamics.com/.default", "offline_access")
    assert provider.authorize_url == "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    assert (provider.client_secret, provider.redirect_host) == ("", "localhost")  # a public client, loopback


# -- the adapter against the emulator ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_check_fields_and_owners(kind: str) -> None:
    with target(kind) as (_sb, make, _):
        async def go() -> Any:
            a = make()
            try:
                ident = await a.check()
                fields = {f.name: f for f in await a.fields(CrmObject.CONTACTS)}
                users = await a.users()
                return ident, fields, users, a.capabilities
            finally:
                await a.aclose()

        ident, fields, users, caps = run(go())
        assert ident.account_name == "Sandbox Environment"
        assert ident.user == "sandra@sandbox.example"
        assert fields["emailaddress1"].type is FieldType.EMAIL
        assert [(o.value, o.label) for o in fields["gendercode"].options] == [("1", "Male"), ("2", "Female")]
        assert fields["ownerid"].type is FieldType.OWNER
        assert not fields["ownerid"].read_only
        assert fields["parentcustomerid"].type is FieldType.REFERENCE
        assert not fields["parentcustomerid"].read_only
        assert fields["fullname"].read_only
        assert fields["createdon"].read_only
        assert {u.email for u in users} == {"sandra@sandbox.example", "oscar@sandbox.example"}  # Fiona is disabled
        assert (caps.company_link, caps.company_field, caps.upsert) == (CompanyLink.FIELD, "parentcustomerid", False)
        assert caps.concurrency < 52
        assert caps.rate_limit.requests == 6000
        assert caps.rate_limit.per_seconds == 300


@pytest.mark.parametrize("kind", KINDS)
def test_writes_reads_and_matching(kind: str) -> None:
    with target(kind, DynamicsSandboxConfig(page_size=3)) as (sb, make, _):
        owner = sb.user_ids()[1]
        acme = sb.insert("account", {"name": "Acme", "websiteurl": "https://www.acme.test/"})["accountid"]

        async def go() -> Any:
            a = make()
            try:
                made = await a.create(CrmObject.CONTACTS, [
                    contact("Jane", "jane@acme.test", ownerid=owner, parentcustomerid=acme, gendercode="2"),
                    contact("Bad", "bad@acme.test", firstname="x" * 51),
                    *[contact(f"P{i}", f"p{i}@acme.test") for i in range(5)],
                    contact("Eve", "o'neil@acme.test")])
                jane = made[0].id
                updated = await a.update(CrmObject.CONTACTS, [
                    RecordInput({"jobtitle": "CEO"}, key="j", id=jane),
                    RecordInput({"jobtitle": "CTO"}, key="gone", id="00000000-0000-4000-8000-000000000000")])
                found = await a.read_by_unique(CrmObject.CONTACTS, "emailaddress1",
                                               ["JANE@acme.test", "o'neil@acme.test", "nobody@x.test"],
                                               ["firstname", "jobtitle", "ownerid", "parentcustomerid"])
                scanned = [r async for page in a.scan(CrmObject.CONTACTS, ["emailaddress1"]) for r in page]
                firms = await a.read_by_unique(CrmObject.COMPANIES, "websiteurl", ["acme.test"], ["name"])
                return made, updated, found, scanned, firms
            finally:
                await a.aclose()

        made, updated, found, scanned, firms = run(go())
        assert [r.ok for r in made] == [True, False, True, True, True, True, True, True]  # in input order
        assert made[1].key == "bad@acme.test"
        assert "maximum allowed length of '50'" in made[1].error.reason
        assert made[0].created is True
        assert [r.ok for r in updated] == [True, False]
        assert "not in Dynamics 365" in updated[1].error.reason
        by_email = {r.get("emailaddress1") if "emailaddress1" in r.properties else r.get("firstname"): r
                    for r in found}
        jane = next(r for r in found if r.get("firstname") == "Jane")
        assert (jane.get("jobtitle"), jane.get("ownerid"), jane.get("parentcustomerid")) == ("CEO", owner, acme)
        assert {r.get("firstname") for r in found} == {"Jane", "Eve"}
        assert by_email
        assert sb.records["contact"][made[0].id]["gendercode"] == 2
        assert len(scanned) == 7  # three pages of three: @odata.nextLink followed
        assert [f.id for f in firms] == [acme]  # the website as typed with https://www. and a slash
        assert sum(1 for r in sb.requests if "skiptoken" in r.query) >= 2
        assert [r.method for r in sb.requests if r.path.endswith("/$batch")] == ["POST", "POST"]  # creates, updates


@pytest.mark.parametrize("with_key", [True, False])
def test_upsert_by_alternate_key(with_key: bool) -> None:
    keys: dict[str, tuple[str, ...]] = {"contact": ("emailaddress1",)} if with_key else {}
    with target("in-process", DynamicsSandboxConfig(alternate_keys=keys)) as (sb, make, _):
        async def go() -> Any:
            a = make()
            try:
                await a.fields(CrmObject.CONTACTS)
                first = await a.upsert(CrmObject.CONTACTS, [RecordInput({"firstname": "Ann", "lastname": "Lee"},
                                                                        key="a", id="ann@x.test")], "emailaddress1")
                again = await a.upsert(CrmObject.CONTACTS, [RecordInput({"jobtitle": "COO"}, key="a",
                                                                        id="ANN@x.test")], "emailaddress1")
                return first, again, a.capabilities, a.unique_fields(CrmObject.CONTACTS)
            finally:
                await a.aclose()

        first, again, caps, unique = run(go())
        if with_key:
            assert (first[0].created, again[0].created) == (True, False)
            assert first[0].id == again[0].id
            [rec] = sb.records["contact"].values()
            assert (rec["emailaddress1"], rec["jobtitle"]) == ("ann@x.test", "COO")
            assert caps.upsert
            assert caps.upsert_keys[CrmObject.CONTACTS] == {"emailaddress1"}
            assert unique == {"emailaddress1"}
        else:
            assert not first[0].ok
            assert first[0].error.code == "NOT_A_KEY"
            assert not sb.records["contact"]
            assert not caps.upsert


@pytest.mark.parametrize("kind", KINDS)
def test_company_is_replaced_and_cleared_only_where_still_set(kind: str) -> None:
    with target(kind) as (sb, make, _):
        old = sb.insert("account", {"name": "Old"})["accountid"]
        new = sb.insert("account", {"name": "New"})["accountid"]
        jane = sb.insert("contact", {"lastname": "Doe", "parentcustomerid_account@odata.bind": f"/accounts({old})"}
                         )["contactid"]
        moved = sb.insert("contact", {"lastname": "Roe", "parentcustomerid_account@odata.bind": f"/accounts({new})"}
                          )["contactid"]

        async def go() -> Any:
            a = make()
            try:
                before = await a.associations([jane])
                done = await a.associate([AssociationInput(jane, new, key="k")])
                removed = await a.remove_associations([AssociationInput(jane, new), AssociationInput(moved, old)])
                return before, done, removed
            finally:
                await a.aclose()

        before, done, removed = run(go())
        assert [x.to_id for x in before[jane]] == [old]
        assert before[jane][0].types[0].primary
        assert done[0].ok
        assert done[0].id == new
        assert all(r.ok for r in removed)
        assert sb.records["contact"][jane]["_parentcustomerid_value"] is None
        assert sb.records["contact"][moved]["_parentcustomerid_value"] == new  # not the removed one: kept


def test_activities_are_logged_and_found_again() -> None:
    with target("in-process") as (sb, make, _):
        jane = sb.insert("contact", {"lastname": "Doe"})["contactid"]
        owner = sb.user_ids()[1]
        when = datetime(2025, 3, 2, 9, tzinfo=UTC)

        async def go() -> Any:
            a = make()
            try:
                logged = await a.log_activities([
                    Activity(ActivityKind.EMAIL, when, owner, "Hello", "Hi Jane", contact_ids=(jane,), key="e"),
                    Activity(ActivityKind.CALL, when, owner, "Call", duration_seconds=61, contact_ids=(jane,), key="c"),
                    Activity(ActivityKind.NOTE, when, owner, "Replied on LinkedIn", "Thanks!", contact_ids=(jane,),
                             key="n")])
                found = await a.find_activities([ActivityLookup(k, jane, kind, when, s) for k, kind, s in (
                    ("e", ActivityKind.EMAIL, "Hello"), ("c", ActivityKind.CALL, "Call"),
                    ("n", ActivityKind.NOTE, "Replied on LinkedIn"),
                    ("x", ActivityKind.EMAIL, "Another"))])
                return logged, found
            finally:
                await a.aclose()

        logged, found = run(go())
        assert all(r.ok for r in logged)
        assert found == {"e": logged[0].id, "c": logged[1].id, "n": logged[2].id}
        [call] = sb.records["phonecall"].values()
        assert (call["actualdurationminutes"], call["_regardingobjectid_value"], call["_ownerid_value"]) == (
            2, jane, owner)
        [note] = sb.records["annotation"].values()
        assert (note["notetext"], note["_objectid_value"]) == ("Thanks!", jane)


def test_service_protection_429_is_waited_then_raised_when_too_long() -> None:
    config = DynamicsSandboxConfig(requests_per_window=4, window_s=1.0)
    with target("in-process", config, retry=RetryPolicy(max_attempts=4, base_delay=0.02, max_wait=5.0)) as (
            sb, make, _):
        async def go() -> Any:
            a = make()
            try:
                return [len(await a.users()) for _ in range(6)]
            finally:
                await a.aclose()

        assert run(go()) == [2] * 6  # every call answered in the end
        refused = [r for r in sb.requests if r.status == 429]
        assert refused
        assert all(r.limited_by == "service_protection_requests" for r in refused)

    config = DynamicsSandboxConfig(requests_per_window=1, window_s=300.0)
    with target("in-process", config, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_wait=1.0)) as (
            sb, make, _):
        async def go2() -> Any:
            a = make()
            try:
                await a.users()
                await a.users()
            finally:
                await a.aclose()

        with pytest.raises(RateLimitedError) as info:
            run(go2())
        assert info.value.retry_after
        assert info.value.retry_after > 200
        assert "service protection" in str(info.value)


def test_batches_in_flight_together_share_a_small_window_without_429() -> None:
    """Each ``$batch`` operation counts against service protection. Writes running side by side on a window that
    holds less than their batches never wait for each other for ever, never draw a 429, and send what the window
    has room for rather than waiting for room for a whole batch; the connection's ``service_protection_limit``
    sets the window the app keeps."""
    config = DynamicsSandboxConfig(requests_per_window=150, window_s=0.4)
    with target("in-process", config) as (sb, make, _):
        async def go() -> list[Any]:
            a = make(service_protection_limit="150/0.4")
            try:
                assert a.capabilities.rate_limit.requests == 150
                await a.fields(CrmObject.CONTACTS)
                return await asyncio.gather(*(a.create(CrmObject.CONTACTS, [
                    contact("Ann", f"w{k}.{n}@example.com") for n in range(100)]) for k in range(3)))
            finally:
                await a.aclose()

        results = run(go())
        assert all(r.ok for rs in results for r in rs)
        assert len(sb.records["contact"]) == 300
        assert not [r for r in sb.requests if r.status == 429]
        batches = [r for r in sb.requests if r.path.endswith("$batch")]
        assert len(batches) > 3  # some carried fewer than 100 operations: the window's room
    with pytest.raises(AuthError, match="service protection limit"):
        DynamicsAdapter.from_connection(connection(ORG, service_protection_limit="fast"))


def test_a_refused_token_says_sign_in_again() -> None:
    with target("in-process") as (_sb, make, _):
        async def go() -> Any:
            a = make(token="not-a-token")
            try:
                await a.check()
            finally:
                await a.aclose()

        with pytest.raises(AuthError, match="Sign in with Microsoft again"):
            run(go())


def test_the_emulator_is_registered_with_its_connection_settings() -> None:
    from enginy_desktop.sandbox.kit.launch import StartOptions

    spec = emulator_spec("dynamics")
    started = spec.start(StartOptions(options={"alternate-key": "email"}))
    assert started.settings is not None
    settings = started.settings("http://127.0.0.1:9")
    assert settings["base_url"] == "http://127.0.0.1:9/api/data/v9.2"
    assert settings["access_token"] == DEFAULT_TOKEN
    assert started.app.state.sandbox.config.alternate_keys == {"contact": ("emailaddress1",)}


def test_operation_sizes_are_declared() -> None:
    a = DynamicsAdapter.from_connection(connection(ORG), transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    caps = a.capabilities
    assert caps.batch(Operation.CREATE) == 100
    assert caps.batch(Operation.READ) == 100
    run(a.aclose())


def test_batch_change_sets_are_atomic_and_stop_without_continue_on_error() -> None:
    """The emulator's ``$batch``: a change set of two where the second fails leaves nothing; without
    ``Prefer: odata.continue-on-error`` the operations after a failure are not run (and have no answer)."""
    app = create_app(DynamicsSandboxConfig())
    sb: DynamicsSandbox = app.state.sandbox
    boundary = "b1"
    ops = [odata.BatchOperation("POST", "/contacts", {"lastname": "Kept"}),
           odata.BatchOperation("POST", "/contacts", {"lastname": "x" * 51}),
           odata.BatchOperation("POST", "/contacts", {"lastname": "Never"})]
    single = odata.batch_body("/api/data/v9.2", ops, boundary).decode()
    # Put the first two in one change set: drop the boundary between them.
    between = (f"--changeset_{boundary}_1--\r\n--batch_{boundary}\r\nContent-Type: multipart/mixed; "
               f"boundary=changeset_{boundary}_2\r\n\r\n--changeset_{boundary}_2")
    pair = single.replace(between, f"--changeset_{boundary}_1").replace(f"--changeset_{boundary}_2--",
                                                                         f"--changeset_{boundary}_1--")

    async def go(body: str, prefer: str) -> dict[int, odata.BatchAnswer]:
        async with httpx.AsyncClient(transport=asgi_transport(app), base_url=ORG,
                                     headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
            r = await client.post("/api/data/v9.2/$batch", content=body.encode(), headers={
                "Content-Type": f"multipart/mixed; boundary=batch_{boundary}", "Prefer": prefer})
            assert r.status_code == 200
            return odata.batch_answers(r.headers["content-type"], r.content)

    answers = run(go(pair, ""))
    assert [a.status for a in answers.values()] == [400]  # the change set failed as a whole...
    assert "maximum allowed length" in answers[2].body["error"]["message"]
    assert not sb.records["contact"]  # ...and "Kept" was rolled back; "Never" was not run
    answers = run(go(single, "odata.continue-on-error"))
    assert [answers[n].status for n in (1, 2, 3)] == [204, 400, 204]
    assert sorted(r["lastname"] for r in sb.records["contact"].values()) == ["Kept", "Never"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_microsoft_sign_in_with_pkce_then_one_refresh_then_sign_in_again(ctx: Any) -> None:
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.core.services.crm import sign_in_with_browser as sign_in
    from enginy_desktop.sandbox.crm.dynamics import DEFAULT_CLIENT_ID

    app = create_app(DynamicsSandboxConfig(seed_contacts=2))
    sb: DynamicsSandbox = app.state.sandbox
    with server.serve(app) as url:
        ctx.integrations.save_connection("dynamics", {"org_url": url, "login_url": url,
                                                      "client_id": DEFAULT_CLIENT_ID})
        visits: list[str] = []

        async def browser_visit(link: str) -> None:
            visits.append(link)
            async with httpx.AsyncClient(timeout=10) as client:
                hop = await client.get(link)
                assert hop.status_code == 302, hop.text
                await client.get(hop.headers["location"])

        async def go() -> Any:
            tasks: list[asyncio.Task[None]] = []
            await sign_in(ctx, "dynamics", open_browser=lambda link: tasks.append(
                asyncio.get_running_loop().create_task(browser_visit(link))), redirect_port=_free_port(), timeout=10)
            await asyncio.gather(*tasks)
            async with ctx.adapters.crm("dynamics") as a:
                first = await a.check()
                sb.expire_tokens()
                users = await a.users()  # 401 -> one refresh -> retried
            for refresh in list(sb.tokens.refresh_tokens):
                sb.tokens.revoke(refresh)
            sb.expire_tokens()
            async with ctx.adapters.crm("dynamics") as a:
                with pytest.raises(AuthError) as caught:
                    await a.users()
            return first, users, caught.value

        first, users, refused = run(go())
    assert visits[0].startswith(f"{url}/organizations/oauth2/v2.0/authorize?")
    assert "code_challenge=" in visits[0]
    assert f"scope={url.replace(':', '%3A').replace('/', '%2F')}%2F.default+offline_access" in visits[0]
    assert "Microsoft sign-in (OAuth)" in first.details
    assert len(users) == 2
    assert TokenStore(ctx.secrets, "dynamics").load() is not None
    assert len([r for r in sb.requests if r.path == "/organizations/oauth2/v2.0/token"]) == 3  # code, refresh, refused
    assert "sign in" in str(refused).lower()
