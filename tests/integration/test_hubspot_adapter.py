"""The HubSpot adapter against the HubSpot sandbox, in-process (ASGITransport) and over loopback (uvicorn).

Covers the contract end to end: check, fields, users paging, batch create/update/upsert with 207 partial
failures and whole-batch refusals, search with IN, associations with primary discovery, engagements, retries
under injected faults and 429s, the client-side limiter (requests counted per window on the sandbox's own log),
OAuth sign-in and refresh.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from enginy_desktop.adapters.base import (
    Activity,
    ActivityKind,
    AssociationInput,
    AssociationKind,
    AuthError,
    Connection,
    CrmObject,
    FieldType,
    MissingScopeError,
    Operation,
    RateLimit,
    RecordInput,
    TokenSet,
)
from enginy_desktop.adapters.http import RetryPolicy, SlidingWindowLimiter, asgi_transport
from enginy_desktop.adapters.hubspot import TIER_LIMITS, HubSpotAdapter
from enginy_desktop.sandbox import server
from enginy_desktop.sandbox.faults import FaultConfig
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandbox, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.ratelimit import RateLimit as SandboxRate

API = "https://api.hubapi.com"
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=0.5)

MakeAdapter = Callable[..., HubSpotAdapter]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def connection(base_url: str, token: str | None = DEFAULT_TOKEN, **settings: str) -> Connection:
    secrets = {"token": token} if token else {}
    return Connection("hubspot", {"base_url": base_url, **settings}, lambda name: secrets.get(name))


@contextmanager
def target(kind: str, config: HubSpotSandboxConfig | None = None) -> Iterator[tuple[HubSpotSandbox, MakeAdapter]]:
    """A sandbox and a factory of adapters talking to it, in-process or over loopback."""
    app = create_app(config or HubSpotSandboxConfig())
    sb: HubSpotSandbox = app.state.sandbox

    if kind == "in-process":
        def make(**kw: Any) -> HubSpotAdapter:
            token = kw.pop("token", DEFAULT_TOKEN)
            return HubSpotAdapter.from_connection(connection(API, token, **kw.pop("settings", {})),
                                                  transport=asgi_transport(app), retry=kw.pop("retry", FAST_RETRY))

        yield sb, make
        return
    with server.serve(app) as url:
        def make_loopback(**kw: Any) -> HubSpotAdapter:
            token = kw.pop("token", DEFAULT_TOKEN)
            return HubSpotAdapter.from_connection(connection(url, token, **kw.pop("settings", {})),
                                                  retry=kw.pop("retry", FAST_RETRY))

        yield sb, make_loopback


KINDS = ["in-process", "loopback"]


def requests_to(sb: HubSpotSandbox, fragment: str, method: str | None = None) -> list[Any]:
    return [r for r in sb.requests if fragment in r.path and (method is None or r.method == method)]


# -- check, fields, users -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_check_fields_and_users(kind: str) -> None:
    with target(kind, HubSpotSandboxConfig(owners=230)) as (sb, make):
        async def go() -> Any:
            async with make() as a:
                return await a.check(), await a.fields(CrmObject.CONTACTS), await a.fields(CrmObject.COMPANIES), \
                    await a.users()

        identity, contact_fields, company_fields, users = run(go())
        assert identity.account_id == str(sb.config.portal_id)
        assert "Professional" in identity.details
        by_name = {f.name: f for f in contact_fields}
        assert by_name["email"].type is FieldType.EMAIL
        assert by_name["email"].unique
        assert by_name["createdate"].read_only
        assert by_name["hubspot_owner_id"].type is FieldType.OWNER
        stage = by_name["lifecyclestage"]
        assert stage.type is FieldType.PICKLIST
        assert stage.option_value("Marketing Qualified Lead") == "marketingqualifiedlead"
        assert all(f.object is CrmObject.CONTACTS for f in contact_fields)
        assert {f.object for f in company_fields} == {CrmObject.COMPANIES}
        assert "domain" in {f.name for f in company_fields}
        assert len(users) == 230
        assert len({u.id for u in users}) == 230
        assert users[0].email
        assert len(requests_to(sb, "/crm/owners/2026-03")) == 1 + 3  # check + three pages of 100


def test_check_reports_a_bad_token_and_a_missing_scope() -> None:
    with target("in-process") as (sb, make):
        async def bad() -> None:
            async with make(token="pat-na1-00000000-wrong") as a:
                await a.check()

        with pytest.raises(AuthError, match="did not accept") as info:
            run(bad())
        assert "pat-na1-00000000-wrong" not in str(info.value)

        # An OAuth sign-in that was granted fewer scopes than Enginy needs. (The sandbox does not enforce
        # scopes itself, so its 403 MISSING_SCOPES answer is covered in tests/unit/test_hubspot_parsing.py.)
        scopes = [s for s in sb.config.oauth_scopes if s != "crm.objects.companies.write"]
        issued = sb.issue_tokens("my-app", scopes)
        tokens = TokenSet(issued.token, issued.refresh_token or "", expires_at=time.time() + 1800,
                          scope=" ".join(scopes))
        secrets = {"oauth_token": tokens.to_json()}
        conn = Connection("hubspot", {"base_url": API, "client_id": "my-app"}, secrets.get)

        async def scoped() -> None:
            async with HubSpotAdapter.from_connection(conn, transport=asgi_transport(make_app(sb))) as a:
                await a.check()

        with pytest.raises(MissingScopeError, match=r"crm\.objects\.companies\.write") as missing:
            run(scoped())
        assert missing.value.scopes == ("crm.objects.companies.write",)


def make_app(sb: HubSpotSandbox) -> Any:
    return create_app(sandbox=sb)


# -- writes --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batch_create_update_upsert_with_partial_failures(kind: str) -> None:
    with target(kind) as (sb, make):
        async def go() -> Any:
            async with make() as a:
                records = [RecordInput({"email": f"p{n}@enginy.ai", "firstname": f"P{n}"}, key=f"c{n}")
                           for n in range(230)]
                records[5] = RecordInput({"email": "not-an-email", "firstname": "Bad"}, key="c5")
                created = await a.create(CrmObject.CONTACTS, records)
                updates = [RecordInput({"jobtitle": "CEO"}, key=f"u{n}", id=r.id) for n, r in enumerate(created[:3])]
                updates.append(RecordInput({"jobtitle": "CEO"}, key="missing", id="987654321"))
                updated = await a.update(CrmObject.CONTACTS, updates)
                upserted = await a.upsert(CrmObject.CONTACTS, [
                    RecordInput({"lastname": "Known"}, key="known", id="p1@enginy.ai"),
                    RecordInput({"lastname": "New"}, key="new", id="fresh@enginy.ai"),
                ], "email")
                return created, updated, upserted

        created, updated, upserted = run(go())
        assert len(created) == 230
        assert [r.key for r in created] == [f"c{n}" for n in range(230)]
        assert [r.ok for r in created].count(False) == 1
        bad = created[5]
        assert bad.error is not None
        assert bad.error.code == "INVALID_EMAIL"
        assert bad.error.field == "email"
        assert all(r.created for r in created if r.ok)
        assert len(requests_to(sb, "/contacts/batch/create")) == 3  # 100 + 100 + 30
        assert sb.get("contacts", created[0].id).props["firstname"] == "P0"
        assert [(r.key, r.ok) for r in updated] == [("u0", True), ("u1", True), ("u2", True), ("missing", False)]
        assert sb.get("contacts", created[1].id).props["jobtitle"] == "CEO"
        assert upserted[0].ok
        assert upserted[0].id == created[1].id
        assert upserted[0].created is False
        assert upserted[1].ok
        assert upserted[1].created is True


def test_a_batch_refused_as_a_whole_still_writes_the_good_records() -> None:
    with target("in-process", HubSpotSandboxConfig(batch_errors="all")) as (sb, make):
        async def go() -> Any:
            async with make() as a:
                records = [RecordInput({"email": f"w{n}@enginy.ai"}, key=str(n)) for n in range(40)]
                records[17] = RecordInput({"email": "broken@"}, key="17")
                return await a.create(CrmObject.CONTACTS, records)

        results = run(go())
        assert [r.ok for r in results] == [n != 17 for n in range(40)]
        assert results[17].error is not None
        assert "broken@" in results[17].error.reason
        assert len(requests_to(sb, "/contacts/batch/create")) <= 1 + 2 * 6
        assert sum(1 for r in sb.live("contacts")) == 39


# -- lookups ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_lookups_by_unique_property_search_in_and_scan(kind: str) -> None:
    with target(kind, HubSpotSandboxConfig(seed_contacts=450)) as (sb, make):
        async def go() -> Any:
            async with make() as a:
                scanned = [r async for page in a.scan(CrmObject.CONTACTS, ["email", "lastname"]) for r in page]
                emails = [r.get("email") for r in scanned[:150]]
                by_email = await a.read_by_unique(CrmObject.CONTACTS, "email", [*emails, "nobody@nowhere.test"],
                                                  ["firstname"])
                found = [r async for page in a.search_in(CrmObject.CONTACTS, "email", emails, ["firstname"])
                         for r in page]
                by_id = await a.read(CrmObject.CONTACTS, [r.id for r in scanned[:7]], ["email"])
                return scanned, emails, by_email, found, by_id

        scanned, emails, by_email, found, by_id = run(go())
        assert len(scanned) == 450
        assert set(scanned[0].properties) >= {"email", "lastname"}
        assert len(requests_to(sb, "/crm/objects/2026-03/contacts", "GET")) == 5  # pages of 100
        assert {r.get("email") for r in by_email} == set(emails)
        assert len(requests_to(sb, "/contacts/batch/read")) == 2 + 1
        assert {r.get("email") for r in found} == set(emails)
        searches = requests_to(sb, "/contacts/search")
        assert len(searches) == 1  # 150 values: one search, two filter groups ORed (IN filters of 100 + 50)
        assert {r.id for r in by_id} == {r.id for r in scanned[:7]}


def test_search_keeps_to_four_per_second() -> None:
    with target("loopback") as (sb, make):
        async def go() -> None:
            async with make() as a:
                async def one(n: int) -> None:
                    async for _ in a.search_in(CrmObject.CONTACTS, "email", [f"x{n}@y.test"], ["email"]):
                        pass

                await asyncio.gather(*(one(n) for n in range(10)))

        started = time.monotonic()
        run(go())
        assert time.monotonic() - started >= 2.0
        searches = requests_to(sb, "/search")
        assert len(searches) == 10
        assert all(r.status == 200 for r in searches)
        assert max_in_window([r.t for r in searches], 1.0) <= 4


# -- associations and engagements ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_associations_with_primary_discovery(kind: str) -> None:
    with target(kind, HubSpotSandboxConfig(seed_contacts=20, seed_companies=3)) as (sb, make):
        companies = [str(r.id) for r in sb.live("companies")]

        async def go() -> Any:
            async with make() as a:
                [contact] = await a.create(CrmObject.CONTACTS, [RecordInput({"email": "assoc@enginy.ai"}, key="x")])
                cid = contact.id
                added = await a.associate([AssociationInput(cid, companies[0], "a0"),
                                           AssociationInput(cid, companies[1], "a1")])
                primary = await a.associate([AssociationInput(cid, companies[1], "p")], AssociationKind.PRIMARY)
                after_primary = await a.associations([cid])
                again = await a.set_primary([AssociationInput(cid, companies[2], "p2")])
                after_switch = await a.associations([cid, "999999"])
                removed = await a.remove_associations([AssociationInput(cid, companies[0], "r")])
                after_remove = await a.associations([cid])
                return cid, added, primary, after_primary, again, after_switch, removed, after_remove, \
                    await a.primary_type_id()

        cid, added, primary, after_primary, again, after_switch, removed, after_remove, primary_id = run(go())
        assert primary_id == 1
        assert len(requests_to(sb, "/crm/associations/2026-03/contacts/companies/labels")) == 1  # discovered once
        assert all(r.ok for r in added + primary + again + removed)
        prim = {x.to_id for x in after_primary[cid] if x.primary}
        assert prim == {companies[1]}
        assert {x.to_id for x in after_primary[cid]} == set(companies[:2])
        # A new primary; the previous one stays associated.
        assert {x.to_id for x in after_switch[cid] if x.primary} == {companies[2]}
        assert {x.to_id for x in after_switch[cid]} == set(companies)
        assert after_switch["999999"] == []
        assert {x.to_id for x in after_remove[cid]} == set(companies[1:])


@pytest.mark.parametrize("kind", KINDS)
def test_engagements_carry_owner_timestamp_and_associations(kind: str) -> None:
    with target(kind, HubSpotSandboxConfig(seed_contacts=3, seed_companies=1)) as (sb, make):
        contact = str(next(iter(sb.live("contacts"))).id)
        company = str(next(iter(sb.live("companies"))).id)
        owner = sb.active_owner_ids()[1]
        when = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

        async def go() -> Any:
            async with make() as a:
                return await a.log_activities([
                    Activity(ActivityKind.EMAIL, when, owner_id=owner, subject="Hello", body="First touch",
                             contact_ids=(contact,), company_ids=(company,), key="e"),
                    Activity(ActivityKind.CALL, when, owner_id=owner, subject="Intro call", body="Booked a demo",
                             contact_ids=(contact,), duration_seconds=90, key="c"),
                    Activity(ActivityKind.NOTE, when, owner_id=owner, body="Met at a fair", contact_ids=(contact,),
                             key="n"),
                ])

        results = run(go())
        assert [(r.key, r.ok) for r in results] == [("e", True), ("c", True), ("n", True)]
        email = sb.get("emails", results[0].id).props
        assert email["hubspot_owner_id"] == owner
        assert email["hs_email_subject"] == "Hello"
        assert email["hs_email_direction"] == "EMAIL"
        assert email["hs_timestamp"].startswith("2026-03-02T09:30:00")
        assert set(map(str, sb.associated("emails", int(results[0].id), "contacts"))) == {contact}
        assert set(map(str, sb.associated("emails", int(results[0].id), "companies"))) == {company}
        call = sb.get("calls", results[1].id).props
        assert call["hs_call_duration"] == "90000"
        assert call["hs_call_status"] == "COMPLETED"
        assert sb.get("notes", results[2].id).props["hs_note_body"] == "Met at a fair"


# -- resilience and limits ---------------------------------------------------------------------------------------------


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_tiers_pick_the_published_limits() -> None:
    expected = {"Free / Starter": 100, "Professional": 190, "Enterprise": 190, "API add-on": 250}
    for tier, requests in expected.items():
        a = HubSpotAdapter.from_connection(connection(API, tier=tier), transport=asgi_transport(create_app()))
        caps = a.capabilities
        assert caps.rate_limit == RateLimit(requests, 10)
        assert caps.search_rate_limit == RateLimit(4, 1)
        assert caps.batch(Operation.CREATE) == 100
        assert caps.upsert
        assert caps.multiple_companies
        run(a.aclose())
    assert {t: r.requests for t, r in TIER_LIMITS.items()} == expected


def test_the_limiter_never_exceeds_the_configured_rate_on_the_server() -> None:
    # A scaled-down limit (30 per 2 s on both sides) so the test takes seconds, not minutes.
    config = HubSpotSandboxConfig(rate_limit=SandboxRate(30, 2.0), seed_contacts=10)
    with target("loopback", config) as (sb, make):
        async def go() -> float:
            async with make() as a:
                a.api.limiter = SlidingWindowLimiter(RateLimit(30, 2.0))
                ids = [str(r.id) for r in sb.live("contacts")]
                t0 = time.monotonic()
                await asyncio.gather(*(a.read(CrmObject.CONTACTS, ids[:2], ["email"]) for _ in range(75)))
                return time.monotonic() - t0

        elapsed = run(go())
        reads = requests_to(sb, "/batch/read")
        assert len(reads) == 75
        assert all(r.status == 200 for r in reads), "no request was refused with 429"
        assert max_in_window([r.t for r in reads], 2.0) <= 30
        assert elapsed >= 4.0  # 75 calls at 30 per 2 s need two full windows


def test_429s_from_the_server_are_waited_out() -> None:
    # The server allows fewer calls than the adapter believes (another app shares the allowance).
    config = HubSpotSandboxConfig(rate_limit=SandboxRate(5, 1.0), seed_contacts=5)
    with target("loopback", config) as (sb, make):
        async def go() -> Any:
            async with make(retry=RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=2)) as a:
                return await asyncio.gather(*(a.users() for _ in range(12)))

        results = run(go())
        assert all(len(r) == 8 for r in results)
        assert any(r.status == 429 for r in sb.requests)  # HubSpot did refuse some...
        assert sum(1 for r in sb.requests if r.status == 200) == 12  # ...and every call got through in the end


@pytest.mark.parametrize("kind", KINDS)
def test_reads_survive_5xx_and_dropped_connections(kind: str) -> None:
    faults = FaultConfig(error_rate=0.25, drop_rate=0.1, path_prefix="/crm/objects")
    config = HubSpotSandboxConfig(seed_contacts=300, faults=faults)
    with target(kind, config) as (sb, make):
        async def go() -> int:
            async with make(retry=RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05)) as a:
                return sum([len(p) async for p in a.scan(CrmObject.CONTACTS, ["email"])])

        assert run(go()) == 300
        assert any(r.fault for r in sb.requests)


# -- OAuth ------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_oauth_sign_in_then_refresh_against_the_sandbox(ctx: Any) -> None:
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.core.services.crm import sign_in_with_browser as sign_in

    app = create_app(HubSpotSandboxConfig(seed_contacts=5, oauth_clients={"my-app": "my-app-secret-123"}))
    sb: HubSpotSandbox = app.state.sandbox
    with server.serve(app) as url:
        ctx.integrations.save_connection("hubspot", {"base_url": url, "client_id": "my-app",  # type: ignore[attr-defined]
                                                     "client_secret": "my-app-secret-123"})
        pages: list[httpx.Response] = []

        async def browser_visit(link: str) -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                hop = await client.get(link)
                assert hop.status_code == 302
                pages.append(await client.get(hop.headers["location"]))

        async def go() -> Any:
            tasks: list[asyncio.Task[None]] = []
            tokens = await sign_in(ctx, "hubspot", open_browser=lambda link: tasks.append(
                asyncio.get_running_loop().create_task(browser_visit(link))), redirect_port=_free_port(),
                timeout=10)
            await asyncio.gather(*tasks)
            async with ctx.adapters.crm("hubspot") as a:
                first = await a.check()
                expired = sb.expire_tokens()
                users = await a.users()  # 401 -> refresh -> retried
            return tokens, first, expired, users

        tokens, first, expired, users = run(go())
    assert pages[0].status_code == 200
    assert "You can close this tab" in pages[0].text
    assert first.account_id == str(sb.config.portal_id)
    assert expired >= 1
    assert len(users) == 8
    saved = TokenStore(ctx.secrets, "hubspot").load()  # type: ignore[attr-defined]
    assert saved is not None
    assert saved.access_token != tokens.access_token  # the refreshed token was kept
    assert saved.refresh_token == tokens.refresh_token
    assert ctx.integrations.get("hubspot").connected  # type: ignore[attr-defined]
    token_calls = requests_to(sb, "/oauth/2026-03/token")
    assert len(token_calls) == 2  # the code exchange and one refresh


# -- contract: what the adapter sends and gets follows HubSpot's published OpenAPI files ---------------------------


async def _drive_everything(a: HubSpotAdapter, sb: HubSpotSandbox) -> None:
    """One call of every kind the adapter makes (with 207 partial failures among them)."""
    await a.check()
    await a.fields(CrmObject.CONTACTS)
    await a.fields(CrmObject.COMPANIES)
    await a.users()
    contacts = [r async for page in a.scan(CrmObject.CONTACTS, ["email", "firstname"]) for r in page]
    companies = [r async for page in a.scan(CrmObject.COMPANIES, ["domain", "name"]) for r in page]
    emails = [r.get("email") or "" for r in contacts[:30]]
    await a.read_by_unique(CrmObject.CONTACTS, "email", [*emails, "missing@nowhere.test"], ["lastname"])
    [r async for page in a.search_in(CrmObject.COMPANIES, "domain", [c.get("domain") or "" for c in companies],
                                     ["name"]) for r in page]
    await a.read(CrmObject.CONTACTS, [contacts[0].id, "999999999"], ["email"])
    created = await a.create(CrmObject.CONTACTS, [RecordInput({"email": "c1@enginy.ai", "firstname": "C"}, key="1"),
                                                  RecordInput({"email": "bad"}, key="2")])
    await a.create(CrmObject.COMPANIES, [RecordInput({"name": "Enginy", "domain": "enginy.ai"}, key="co")])
    await a.update(CrmObject.CONTACTS, [RecordInput({"jobtitle": "CTO"}, key="u", id=created[0].id),
                                        RecordInput({"jobtitle": "CTO"}, key="x", id="999999999")])
    await a.upsert(CrmObject.CONTACTS, [RecordInput({"lastname": "Up"}, key="up", id="c1@enginy.ai"),
                                        RecordInput({"lastname": "New"}, key="nw", id="c2@enginy.ai")], "email")
    links = [AssociationInput(created[0].id, companies[0].id, "a"), AssociationInput(created[0].id, companies[1].id)]
    await a.associate(links)
    await a.set_primary(links[1:])
    await a.associations([created[0].id, contacts[1].id])
    await a.remove_associations(links[:1])
    when = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    owner = sb.active_owner_ids()[0]
    await a.log_activities([
        Activity(ActivityKind.EMAIL, when, owner, "Subject", "Body", contact_ids=(created[0].id,),
                 company_ids=(companies[1].id,)),
        Activity(ActivityKind.CALL, when, owner, "Call", "Notes", contact_ids=(created[0].id,), duration_seconds=30),
        Activity(ActivityKind.NOTE, when, owner, body="A note", contact_ids=(created[0].id,)),
    ])


EXPECTED_OPERATIONS = {
    "GET /crm/owners/2026-03",
    "GET /crm/objects/2026-03/contacts",
    "GET /crm/objects/2026-03/companies",
    "GET /crm/properties/2026-03/{objectType}",
    "POST /crm/objects/2026-03/contacts/batch/read",
    "POST /crm/objects/2026-03/companies/search",
    "POST /crm/objects/2026-03/contacts/batch/create",
    "POST /crm/objects/2026-03/companies/batch/create",
    "POST /crm/objects/2026-03/contacts/batch/update",
    "POST /crm/objects/2026-03/contacts/batch/upsert",
    "GET /crm/associations/2026-03/{fromObjectType}/{toObjectType}/labels",
    "POST /crm/associations/2026-03/{fromObjectType}/{toObjectType}/batch/create",
    "POST /crm/associations/2026-03/{fromObjectType}/{toObjectType}/batch/read",
    "POST /crm/associations/2026-03/{fromObjectType}/{toObjectType}/batch/archive",
    "POST /crm/objects/2026-03/emails/batch/create",
    "POST /crm/objects/2026-03/calls/batch/create",
    "POST /crm/objects/2026-03/notes/batch/create",
}


def _templates(recorder: Any) -> set[str]:
    return {op.split(" (")[0] for op in recorder.operations()}


@pytest.mark.parametrize("kind", KINDS)
def test_every_exchange_follows_the_published_spec(kind: str, shared_dir: Any) -> None:
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir)
    app = create_app(HubSpotSandboxConfig(seed_contacts=150, seed_companies=12, owners=130))
    sb: HubSpotSandbox = app.state.sandbox

    async def go(url: str, transport: Any) -> None:
        async with HubSpotAdapter.from_connection(connection(url), transport=transport, retry=FAST_RETRY) as a:
            await _drive_everything(a, sb)

    if kind == "in-process":
        run(go(API, recorder.wrap(asgi_transport(app))))
    else:
        with server.serve(app) as url:
            run(go(url, recorder.wrap(httpx.AsyncHTTPTransport())))
    recorder.assert_all_valid()
    assert _templates(recorder) >= EXPECTED_OPERATIONS, EXPECTED_OPERATIONS - _templates(recorder)
    assert any(e.response is not None and e.response.status_code == 207 for e in recorder.exchanges)
    exempt = {e.request.url.path for e in recorder.exchanges if e.exempt}
    assert exempt == {"/account-info/v3/details"}  # the only call outside the spec files (optional)


def test_oauth_exchanges_follow_the_published_spec(ctx: Any, shared_dir: Any) -> None:
    from enginy_desktop.core.services.adapters import AdapterFactory
    from enginy_desktop.core.services.crm import sign_in_with_browser as sign_in
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir)
    app = create_app(HubSpotSandboxConfig(oauth_clients={"my-app": "my-app-secret-123"}))
    sb: HubSpotSandbox = app.state.sandbox
    ctx.adapters = AdapterFactory(ctx, transport=recorder.wrap(asgi_transport(app)))  # every request recorded
    ctx.integrations.save_connection("hubspot", {"client_id": "my-app", "client_secret": "my-app-secret-123"})

    async def browser_visit(link: str) -> None:
        assert link.startswith("https://app.hubspot.com/oauth/authorize?")
        async with httpx.AsyncClient(transport=asgi_transport(app)) as consent:  # HubSpot's consent page
            hop = await consent.get(link)
        async with httpx.AsyncClient(timeout=10) as browser:  # back to Enginy on loopback
            assert (await browser.get(hop.headers["location"])).status_code == 200

    async def go() -> None:
        tasks: list[asyncio.Task[None]] = []
        await sign_in(ctx, "hubspot", redirect_port=_free_port(), timeout=10,
                      open_browser=lambda link: tasks.append(asyncio.get_running_loop().create_task(
                          browser_visit(link))))
        await asyncio.gather(*tasks)
        async with ctx.adapters.crm("hubspot") as a:
            await a.check()
            sb.expire_tokens()
            await a.users()

    run(go())
    recorder.assert_all_valid()
    token_calls = [e for e in recorder.exchanges if e.request.url.path == "/oauth/2026-03/token"]
    assert len(token_calls) == 2
    forms = [dict(httpx.QueryParams(e.request.content.decode())) for e in token_calls]
    assert forms[0]["grant_type"] == "authorization_code"
    assert len(forms[0]["code_verifier"]) >= 43
    assert forms[1]["grant_type"] == "refresh_token"


def test_several_options_cross_the_contract_as_a_tuple() -> None:
    """Canonical values in, canonical values out: HubSpot's ``a;b`` wire form stays inside the adapter."""
    with target("in-process") as (sb, make):
        sb.create_property("contacts", {
            "name": "interests", "label": "Interests", "type": "enumeration", "fieldType": "checkbox",
            "groupName": "contactinformation",
            "options": [{"label": "Alpha", "value": "a"}, {"label": "Beta", "value": "b"}]})

        async def go() -> Any:
            async with make() as a:
                await a.fields(CrmObject.CONTACTS)
                created = await a.create(CrmObject.CONTACTS,
                                         [RecordInput({"email": "multi@enginy.ai", "interests": ("a", "b")}, key="m")])
                return created, await a.read(CrmObject.CONTACTS, [created[0].id], ["interests", "email"])

        created, read = run(go())
        assert created[0].ok
        assert sb.get("contacts", created[0].id).props["interests"] == "a;b"
        assert read[0].get("interests") == ("a", "b")
        assert read[0].get("email") == "multi@enginy.ai"


def test_one_limiter_per_connection_for_the_whole_process() -> None:
    """The plan, the run, a retry and the wizard each open an adapter: on one connection they share one window
    (a fresh window at each hand-over would let a burst through while HubSpot still counts the earlier calls)."""
    from enginy_desktop.adapters.base import Connection
    from enginy_desktop.adapters.hubspot import HubSpotAdapter

    def open_(token: str, url: str = "https://api.hubapi.com") -> HubSpotAdapter:
        return HubSpotAdapter.from_connection(Connection("hubspot", {"base_url": url}, lambda _n: token))

    plan, run_, other_token, other_portal = open_("pat-1"), open_("pat-1"), open_("pat-2"), open_("pat-1", "http://x")
    assert plan.api.limiter is run_.api.limiter
    assert plan.search_limiter is run_.search_limiter
    assert plan.api.limiter is not other_token.api.limiter
    assert plan.api.limiter is not other_portal.api.limiter
    assert "pat-1" not in plan.api.limiter.name
