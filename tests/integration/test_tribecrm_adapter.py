"""The TribeCRM adapter against its emulator, in-process (ASGITransport) and over loopback.

Covers: check (``GetCurrentEmployee()``, ``$metadata`` read), the fields from ``$metadata`` (types, read-only
computed fields, a custom field with its label, the account manager as owner), active employees as owners,
matching with ``eq … or eq …`` chains (TribeCRM has no ``in``) and ``$top``/``$skip`` paging at 100 records,
single creates and updates with one result per record in input order, the contact relationships as the company
link (added once, removed only between that pair), tasks and notes logged and found again, the 429 (no headers)
waited for a minute or raised, OAuth sign-in with the loopback redirect, and every exchange checked against the
emulator's ``$metadata``.
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
from enginy_desktop.adapters.http import RetryPolicy, asgi_transport, forget_limiters
from enginy_desktop.adapters.tribecrm import COMPANY_NAME, TribeCrmAdapter, api_root
from enginy_desktop.sandbox.crm.tribecrm import DEFAULT_TOKEN, TribeSandbox, TribeSandboxConfig, create_app
from enginy_desktop.sandbox.crm.tribecrm.metadata import LINKEDIN_FIELD, csdl
from enginy_desktop.sandbox.kit import server
from enginy_desktop.sandbox.registry import emulator_spec
from tests.support.odata_contract import Recorder

API = "https://api.tribecrm.nl"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1)
KINDS = ("in-process", "loopback")
META = odata.read_metadata(csdl())
MakeAdapter = Callable[..., TribeCrmAdapter]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def connection(base_url: str, token: str = DEFAULT_TOKEN) -> Connection:
    return Connection("tribecrm", {"base_url": base_url}, lambda name: token if name == "access_token" else None)


@contextmanager
def target(kind: str, config: TribeSandboxConfig | None = None, retry: RetryPolicy = FAST_RETRY
           ) -> Iterator[tuple[TribeSandbox, MakeAdapter]]:
    forget_limiters()
    app = create_app(config or TribeSandboxConfig(calls_per_minute=None))
    sb: TribeSandbox = app.state.sandbox
    recorders: list[Recorder] = []

    def make(url: str, inner: Callable[[], httpx.AsyncBaseTransport]) -> MakeAdapter:
        def adapter(**kw: Any) -> TribeCrmAdapter:
            rec = Recorder(inner(), api_path="/v1/odata")
            recorders.append(rec)
            return TribeCrmAdapter.from_connection(connection(url, kw.pop("token", DEFAULT_TOKEN)), transport=rec,
                                                   retry=retry)
        return adapter

    if kind == "in-process":
        yield sb, make(API, lambda: asgi_transport(app))
    else:
        with server.serve(app) as url:
            yield sb, make(url, httpx.AsyncHTTPTransport)
    problems = [p for r in recorders for p in r.problems(META)]
    assert not problems, problems  # every exchange agrees with $metadata
    forget_limiters()


def person(first: str, email: str, **extra: Any) -> RecordInput:
    return RecordInput({"FirstName": first, "LastName": "Doe", "EmailAddress": email, **extra}, key=email)


def test_filters_without_in_and_urls() -> None:
    assert odata.eq_any("EmailAddress", ["a@x.test", "o'neil@x.test"]) == (
        "(EmailAddress eq 'a@x.test' or EmailAddress eq 'o''neil@x.test')")
    assert odata.eq_any("ID", ["x"]) == "ID eq 'x'"
    chunks = odata.chunks_by_length([f"v{i}" for i in range(60)], "P", most=25)
    assert [len(c) for c in chunks] == [25, 25, 10]
    assert api_root(connection("api-staging.tribecrm.nl/")) == "https://api-staging.tribecrm.nl/v1/odata"
    provider = TribeCrmAdapter.oauth_provider(Connection("tribecrm", {"client_id": "abc"}, lambda n: "s3cret"))
    assert provider.authorize_url == "https://auth.tribecrm.nl/oauth2/auth"
    assert provider.token_url == "https://auth.tribecrm.nl/oauth2/token"
    assert provider.scopes == ("read", "write", "offline")
    assert (provider.redirect_host, provider.redirect_port, provider.client_secret) == ("localhost", 53682, "s3cret")


def test_metadata_annotations_are_read() -> None:
    props = META.properties("Relation_Person")
    assert props["ID"].computed
    assert not props["LastName"].nullable
    assert props[LINKEDIN_FIELD].description == "LinkedIn profile"
    assert META.navigation("Relationship_Person_Contact_Standard") == {
        "Person": "Tribe.Relation_Person", "Relation": "Tribe.Relation_Organization"}


@pytest.mark.parametrize("kind", KINDS)
def test_check_fields_and_owners(kind: str) -> None:
    with target(kind) as (_sb, make):
        async def go() -> Any:
            a = make()
            try:
                ident = await a.check()
                fields = {f.name: f for f in await a.fields(CrmObject.CONTACTS)}
                return ident, fields, await a.users(), a.capabilities, a.identifier_fields(CrmObject.CONTACTS)
            finally:
                await a.aclose()

        ident, fields, users, caps, roles = run(go())
        assert ident.user == "sandra@sandbox.example"
        assert "1,000 calls per minute" in ident.details
        assert fields["EmailAddress"].type is FieldType.EMAIL
        assert fields["LastName"].required
        assert fields["BirthDate"].type is FieldType.DATE
        assert fields["CreationDate"].read_only
        assert fields["AccountManager"].type is FieldType.OWNER
        assert (fields[LINKEDIN_FIELD].label, fields[LINKEDIN_FIELD].group) == ("LinkedIn profile", "Custom fields")
        assert fields[COMPANY_NAME].read_only
        assert roles["linkedin_url"] == LINKEDIN_FIELD
        assert {u.email for u in users} == {"sandra@sandbox.example", "oscar@sandbox.example"}  # Fiona left
        assert (caps.company_link, caps.multiple_companies, caps.primary_company, caps.upsert) == (
            CompanyLink.ASSOCIATIONS, True, False, False)
        assert (caps.batch(Operation.CREATE), caps.batch(Operation.SCAN_PAGE)) == (1, 100)
        assert (caps.rate_limit.requests, caps.rate_limit.per_seconds) == (1000, 60.0)


@pytest.mark.parametrize("kind", KINDS)
def test_writes_reads_and_matching(kind: str) -> None:
    with target(kind) as (sb, make):
        owner = sb.employee_ids()[1]
        acme = sb.insert("Relation_Organization", {"Name": "Acme", "Website": "https://www.acme.test/"})["ID"]
        for i in range(230):  # three pages of at most 100
            sb.insert("Relation_Person", {"LastName": f"Other {i}", "EmailAddress": f"o{i}@x.test"})

        async def go() -> Any:
            a = make()
            try:
                made = await a.create(CrmObject.CONTACTS, [
                    person("Jane", "jane@acme.test", AccountManager=owner, BirthDate="1990-02-03"),
                    person("Bad", "bad@acme.test", FirstName="x" * 101),
                    RecordInput({"FirstName": "NoLast"}, key="nolast"),
                    *[person(f"P{i}", f"p{i}@acme.test") for i in range(30)],
                    person("Eve", "o'neil@acme.test")])
                jane = made[0].id
                updated = await a.update(CrmObject.CONTACTS, [
                    RecordInput({"JobTitle": "CEO"}, key="j", id=jane),
                    RecordInput({"JobTitle": "CTO"}, key="gone", id="00000000-0000-4000-8000-000000000000")])
                found = await a.read_by_unique(CrmObject.CONTACTS, "EmailAddress",
                                               ["JANE@acme.test", "o'neil@acme.test", "nobody@x.test",
                                                *[f"p{i}@acme.test" for i in range(30)]],
                                               ["FirstName", "JobTitle", "AccountManager", "BirthDate"])
                scanned = [r async for page in a.scan(CrmObject.CONTACTS, ["EmailAddress"]) for r in page]
                firms = await a.read_by_unique(CrmObject.COMPANIES, "Website", ["acme.test"], ["Name"])
                count = await a.count(CrmObject.CONTACTS)
                return made, updated, found, scanned, firms, count
            finally:
                await a.aclose()

        made, updated, found, scanned, firms, count = run(go())
        assert [r.ok for r in made] == [True, False, False, *[True] * 31]  # one result per record, in order
        assert "maximum length of 100" in made[1].error.reason
        assert "LastName" in made[2].error.reason
        assert made[0].created is True
        assert [r.ok for r in updated] == [True, False]
        assert "not in TribeCRM any more" in updated[1].error.reason
        jane = next(r for r in found if r.get("FirstName") == "Jane")
        assert (jane.get("JobTitle"), jane.get("AccountManager"), jane.get("BirthDate")) == ("CEO", owner,
                                                                                            "1990-02-03")
        assert len(found) == 32  # Jane, Eve and the thirty, over two eq-chains of at most 25 values
        assert not [q for q in sb.requests if " in (" in q.query]
        assert len(scanned) == count == 3 + 230 + 32  # employees' persons too; pages of 100 with $skip
        assert sum(1 for q in sb.requests if "skip" in q.query) >= 2
        assert [f.id for f in firms] == [acme]  # the website as typed with https://www. and a slash
        assert not [q for q in sb.requests if "top=" in q.query and "top=100" not in q.query
                    and "top=1&" not in q.query and not q.query.endswith("top=1")]


@pytest.mark.parametrize("kind", KINDS)
def test_contact_relationships_are_the_company_link(kind: str) -> None:
    with target(kind) as (sb, make):
        old = sb.insert("Relation_Organization", {"Name": "Old"})["ID"]
        new = sb.insert("Relation_Organization", {"Name": "New"})["ID"]
        jane = sb.insert("Relation_Person", {"LastName": "Doe", "FirstName": "Jane"})["ID"]
        roe = sb.insert("Relation_Person", {"LastName": "Roe"})["ID"]
        sb.insert("Relationship_Person_Contact_Standard", {"Person": {"ID": jane}, "Relation": {"ID": old}})
        sb.insert("Relationship_Person_Contact_Standard", {"Person": {"ID": roe}, "Relation": {"ID": new}})

        async def go() -> Any:
            a = make()
            try:
                before = await a.associations([jane])
                done = await a.associate([AssociationInput(jane, new, key="k")])
                again = await a.associate([AssociationInput(jane, new, key="k")])
                both = await a.associations([jane])
                matched = [r async for page in a.search_all(CrmObject.CONTACTS, {
                    "FirstName": ["jane"], COMPANY_NAME: ["NEW"]}, ["LastName"]) for r in page]
                removed = await a.remove_associations([AssociationInput(jane, old), AssociationInput(roe, old)])
                return before, done, again, both, matched, removed
            finally:
                await a.aclose()

        before, done, again, both, matched, removed = run(go())
        assert [x.to_id for x in before[jane]] == [old]
        assert not before[jane][0].primary  # TribeCRM has no primary company
        assert done[0].ok
        assert again[0].ok
        assert sorted(x.to_id for x in both[jane]) == sorted([old, new])
        assert [(r.id, r.get(COMPANY_NAME)) for r in matched] == [(jane, ("Old", "New"))]  # both her organisations
        assert all(r.ok for r in removed)
        assert sb.companies_of(jane) == [new]
        assert sb.companies_of(roe) == [new]  # not a contact of Old: untouched


def test_tasks_and_notes_are_logged_and_found_again() -> None:
    with target("in-process") as (sb, make):
        jane = sb.insert("Relation_Person", {"LastName": "Doe"})["ID"]
        owner = sb.employee_ids()[1]
        when = datetime(2025, 3, 2, 9, tzinfo=UTC)

        async def go() -> Any:
            a = make()
            try:
                logged = await a.log_activities([
                    Activity(ActivityKind.EMAIL, when, owner, "Hello", "Hi Jane", contact_ids=(jane,), key="e"),
                    Activity(ActivityKind.CALL, when, owner, "Intro", duration_seconds=61, contact_ids=(jane,),
                             key="c"),
                    Activity(ActivityKind.NOTE, when, owner, "Replied on LinkedIn", "Thanks!", contact_ids=(jane,),
                             key="n")])
                found = await a.find_activities([ActivityLookup(k, jane, kind, when, s) for k, kind, s in (
                    ("e", ActivityKind.EMAIL, "Hello"), ("c", ActivityKind.CALL, "Intro"),
                    ("n", ActivityKind.NOTE, "Replied on LinkedIn"), ("x", ActivityKind.EMAIL, "Another"))])
                return logged, found
            finally:
                await a.aclose()

        logged, found = run(go())
        assert all(r.ok for r in logged)
        assert found == {"e": logged[0].id, "c": logged[1].id, "n": logged[2].id}
        call = sb.records["Activity_Task"][logged[1].id]
        assert (call["Subject"], call["Contact"], call["Assignee"], call["EndDate"]) == (
            "Call: Intro", jane, owner, "2025-03-02T09:01:01.000Z")
        note = sb.records["Note"][logged[2].id]
        assert (note["Content"], note["Entity"], note["Owner"]) == ("Replied on LinkedIn\n\nThanks!", jane, owner)


def test_429_is_waited_a_minute_or_raised() -> None:
    """TribeCRM answers 429 without headers: the adapter waits the minute its docs ask for, and a caller that will
    not wait that long gets the error with the minute to wait (nothing sleeps here)."""
    config = TribeSandboxConfig(calls_per_minute=2)
    with target("in-process", config, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_wait=1.0)) as (sb, make):
        async def go() -> Any:
            a = make()
            try:
                await a.users()
                await a.users()
                await a.users()
            finally:
                await a.aclose()

        with pytest.raises(RateLimitedError) as info:
            run(go())
        assert info.value.retry_after == 60.0
        assert "1,000 per minute" in str(info.value)
        assert [r.limited_by for r in sb.requests if r.status == 429] == ["calls_per_minute"]


def test_a_refused_token_says_sign_in_again() -> None:
    with target("in-process") as (_sb, make):
        async def go() -> Any:
            a = make(token="not-a-token")
            try:
                await a.check()
            finally:
                await a.aclose()

        with pytest.raises(AuthError, match="Sign in with TribeCRM again"):
            run(go())


def test_the_emulator_is_registered_with_its_connection_settings() -> None:
    from enginy_desktop.sandbox.kit.launch import StartOptions

    started = emulator_spec("tribecrm").start(StartOptions(options={"calls-per-minute": "500"}))
    assert started.settings is not None
    settings = started.settings("http://127.0.0.1:9")
    assert (settings["base_url"], settings["access_token"]) == ("http://127.0.0.1:9", DEFAULT_TOKEN)
    assert started.app.state.sandbox.limits_json()["calls_per_minute"] == 500


def test_tribecrm_sign_in_then_one_refresh_then_sign_in_again(ctx: Any) -> None:
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.core.services.crm import sign_in_with_browser as sign_in
    from enginy_desktop.sandbox.crm.tribecrm import DEFAULT_CLIENT_ID

    forget_limiters()
    app = create_app(TribeSandboxConfig(seed_contacts=2))
    sb: TribeSandbox = app.state.sandbox
    with server.serve(app) as url:
        ctx.integrations.save_connection("tribecrm", {"base_url": url, "auth_url": url,
                                                      "client_id": DEFAULT_CLIENT_ID})
        ctx.secrets.set("tribecrm", "client_secret", "sandbox-secret")
        visits: list[str] = []

        async def browser_visit(link: str) -> None:
            visits.append(link)
            async with httpx.AsyncClient(timeout=10) as client:
                hop = await client.get(link)
                assert hop.status_code == 302, hop.text
                await client.get(hop.headers["location"])

        async def go() -> Any:
            tasks: list[asyncio.Task[None]] = []
            await sign_in(ctx, "tribecrm", open_browser=lambda link: tasks.append(
                asyncio.get_running_loop().create_task(browser_visit(link))), redirect_port=_free_port(),
                timeout=10)
            await asyncio.gather(*tasks)
            async with ctx.adapters.crm("tribecrm") as a:
                first = await a.check()
                sb.expire_tokens()
                users = await a.users()  # 401 -> one refresh -> retried
            for refresh in list(sb.tokens.refresh_tokens):
                sb.tokens.revoke(refresh)
            sb.expire_tokens()
            async with ctx.adapters.crm("tribecrm") as a:
                with pytest.raises(AuthError) as caught:
                    await a.users()
            return first, users, caught.value

        first, users, refused = run(go())
    assert visits[0].startswith(f"{url}/oauth2/auth?")
    assert "scope=read+write+offline" in visits[0]
    assert "code_challenge=" in visits[0]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in visits[0]
    assert "TribeCRM sign-in (OAuth)" in first.details
    assert len(users) == 2
    assert TokenStore(ctx.secrets, "tribecrm").load() is not None
    assert len([r for r in sb.requests if r.path == "/oauth2/token"]) == 3  # code, refresh, refused refresh
    assert "sign in" in str(refused).lower()
    forget_limiters()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
