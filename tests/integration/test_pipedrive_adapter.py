"""The Pipedrive adapter against the Pipedrive emulator, in-process (ASGITransport) and over loopback (uvicorn).

Covers the contract end to end: check, fields with hashed custom keys and option ids, users, scan and reads by id,
one-record writes (names composed, e-mails kept, option ids), search semantics (exact vs fuzzy, ``fields``), the
company as ``org_id`` (set, read, cleared), activities and notes (and finding them again), the burst window kept
on the server, 429s waited out, the daily token budget (spent, shown, refused), OAuth sign-in and refresh, and
every exchange validated against Pipedrive's published OpenAPI descriptions.
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
    ActivityLookup,
    AssociationInput,
    AuthError,
    BudgetUnit,
    CompanyLink,
    Connection,
    CrmObject,
    FieldType,
    Operation,
    QuotaExhaustedError,
    RecordInput,
)
from enginy_desktop.adapters.http import RetryPolicy, asgi_transport
from enginy_desktop.adapters.pipedrive import PipedriveAdapter, TokenLedger
from enginy_desktop.sandbox.crm.pipedrive import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN,
    PipedriveSandbox,
    PipedriveSandboxConfig,
    create_app,
    custom_key,
)
from enginy_desktop.sandbox.kit import server
from enginy_desktop.sandbox.kit.limits import RateLimit as SandboxRate

API = "https://api.pipedrive.com"
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=0.5)
KINDS = ("in-process", "loopback")
LEAD_SOURCE = custom_key("Lead source")
INTERESTS = custom_key("Interests")
SCORE = custom_key("Score")
LINKEDIN = custom_key("LinkedIn profile")

MakeAdapter = Callable[..., PipedriveAdapter]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def _fresh_ledger() -> Iterator[None]:
    TokenLedger.forget()
    yield
    TokenLedger.forget()


def connection(base_url: str, token: str | None = DEFAULT_TOKEN, **settings: str) -> Connection:
    secrets = {"api_token": token} if token else {}
    return Connection("pipedrive", {"base_url": base_url, **settings}, lambda name: secrets.get(name))


@contextmanager
def target(kind: str, config: PipedriveSandboxConfig | None = None
           ) -> Iterator[tuple[PipedriveSandbox, MakeAdapter]]:
    app = create_app(config or PipedriveSandboxConfig())
    sb: PipedriveSandbox = app.state.sandbox
    if kind == "in-process":
        def make(**kw: Any) -> PipedriveAdapter:
            return PipedriveAdapter.from_connection(
                connection(API, kw.pop("token", DEFAULT_TOKEN), **kw.pop("settings", {})),
                transport=kw.pop("transport", None) or asgi_transport(app), retry=kw.pop("retry", FAST_RETRY))

        yield sb, make
        return
    with server.serve(app) as url:
        def make_loopback(**kw: Any) -> PipedriveAdapter:
            return PipedriveAdapter.from_connection(
                connection(url, kw.pop("token", DEFAULT_TOKEN), **kw.pop("settings", {})),
                transport=kw.pop("transport", None), retry=kw.pop("retry", FAST_RETRY))

        yield sb, make_loopback


@pytest.mark.parametrize("kind", KINDS)
def test_check_fields_users_and_capabilities(kind: str) -> None:
    with target(kind, PipedriveSandboxConfig(seed_persons=3)) as (_sb, make):
        async def go() -> Any:
            async with make(settings={"plan": "Essential", "seats": "2"}) as a:
                return (await a.check(), await a.fields(CrmObject.CONTACTS), await a.fields(CrmObject.COMPANIES),
                        await a.users(), a.capabilities, a.identifier_fields(CrmObject.CONTACTS))

        identity, person_fields, org_fields, users, caps, roles = run(go())
    assert identity.account_name == "Sandbox Company"
    assert "Essential limit of 20 requests per 2 seconds" in identity.details
    by_name = {f.name: f for f in person_fields}
    assert by_name[LEAD_SOURCE].label == "Lead source"  # a hashed key, shown with its label
    assert by_name[LEAD_SOURCE].type is FieldType.PICKLIST
    assert [(o.value, o.label) for o in by_name[LEAD_SOURCE].options][:2] == [("101", "Enginy"), ("102", "Website")]
    assert by_name[INTERESTS].type is FieldType.MULTI_PICKLIST
    assert by_name["email"].type is FieldType.EMAIL
    assert by_name["org_id"].type is FieldType.REFERENCE
    assert by_name["owner_id"].type is FieldType.OWNER
    assert by_name["add_time"].read_only
    assert {f.name for f in org_fields} >= {"name", "website", "linkedin", "industry"}
    assert [u.name for u in users] == ["Sandra Sandbox", "Oscar Owner", "Fiona Former"]
    assert not users[2].active
    assert (roles["linkedin_url"], roles["company_name"]) == ("linkedin_url", "org_name")
    assert caps.company_link is CompanyLink.FIELD
    assert caps.company_field == "org_id"
    assert not caps.upsert
    assert caps.batch(Operation.CREATE) == 1
    assert caps.batch(Operation.READ) == 100
    assert (caps.rate_limit.requests, caps.rate_limit.per_seconds) == (20, 2.0)
    assert caps.budget is not None
    assert caps.budget.unit is BudgetUnit.TOKENS
    assert caps.budget.per_day == 30_000 * 1 * 2  # Essential (x1), 2 seats
    assert caps.budget.cost_of(Operation.CREATE, 100) == 500  # POST /persons costs 5 tokens (x-token-cost)


def test_a_wrong_token_says_what_to_do() -> None:
    with target("in-process") as (_sb, make):
        async def go() -> None:
            async with make(token="0" * 40) as a:
                await a.check()

        with pytest.raises(AuthError, match="Personal preferences > API"):
            run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_one_record_writes_with_custom_fields_names_and_emails(kind: str) -> None:
    with target(kind, PipedriveSandboxConfig(seed_persons=0, seed_organizations=2)) as (sb, make):
        async def go() -> Any:
            async with make() as a:
                created = await a.create(CrmObject.CONTACTS, [
                    RecordInput({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@enginy.ai",
                                 LEAD_SOURCE: "102", INTERESTS: ("201", "203"), SCORE: "4.5", "org_id": "1"},
                                key="a"),
                    RecordInput({"email": "noname@enginy.ai"}, key="b"),  # Pipedrive needs a name
                    RecordInput({"first_name": "Bad", LEAD_SOURCE: "999"}, key="c"),  # not an option id
                ])
                pid = created[0].id
                await a.read(CrmObject.CONTACTS, [pid], ["name"])
                updated = await a.update(CrmObject.CONTACTS, [
                    RecordInput({"last_name": "King", "email": "ada@king.org", INTERESTS: ()}, key="a", id=pid),
                    RecordInput({"first_name": "Gone"}, key="g", id="999"),
                ])
                orgs = await a.create(CrmObject.COMPANIES, [RecordInput({"name": "Enginy",
                                                                          "website": "https://enginy.ai"}, key="o")])
                return created, updated, orgs, (await a.read(CrmObject.CONTACTS, [pid], [LEAD_SOURCE]))[0]

        created, updated, orgs, record = run(go())
    assert [r.ok for r in created] == [True, False, False]
    assert created[1].error is not None
    assert "needs a name" in created[1].error.reason
    assert created[2].error is not None
    assert "no option" in created[2].error.reason
    assert updated[0].ok
    assert not updated[1].ok
    assert updated[1].error is not None
    assert updated[1].error.code == "NOT_FOUND"
    stored = sb.records["persons"][int(created[0].id)]
    assert stored["name"] == "Ada King"  # first name kept from the read, last name written
    assert [e["value"] for e in stored["emails"]] == ["ada@king.org", "ada@enginy.ai"]  # the old one kept
    assert stored["emails"][0]["primary"]
    assert not stored["emails"][1]["primary"]
    assert stored["custom_fields"][LEAD_SOURCE] == 102
    assert INTERESTS not in stored["custom_fields"]
    assert stored["custom_fields"][SCORE] == 4.5
    assert stored["org_id"] == 1
    assert record.get(LEAD_SOURCE) == "102"
    assert record.get("email") == "ada@king.org"
    assert orgs[0].ok
    assert sb.records["organizations"][int(orgs[0].id)]["website"] == "https://enginy.ai"


def test_search_is_exact_and_case_insensitive_and_checks_the_field() -> None:
    with target("in-process") as (sb, make):
        sb.create("persons", {"name": "Jo Smith", "emails": [{"value": "Jo@Example.com", "primary": True}]})
        sb.create("persons", {"name": "Jo Smithson", "emails": [{"value": "jo.smithson@example.com"}]})
        sb.create("persons", {"name": "Other", "custom_fields": {LINKEDIN: "https://linkedin.com/in/jo"}})
        sb.create("persons", {"name": "Someone", "emails": [{"value": "x@y.z"}],
                              "custom_fields": {custom_key("LinkedIn profile"): "jo@example.com"}})

        async def go() -> Any:
            async with make() as a:
                by_email = [r async for p in a.search_in(CrmObject.CONTACTS, "email", ["jo@example.com"], ["name"])
                            for r in p]
                by_name = [r async for p in a.search_in(CrmObject.CONTACTS, "name", ["jo smith"], ["email"])
                           for r in p]
                await a.fields(CrmObject.CONTACTS)
                by_custom = [r async for p in a.search_in(CrmObject.CONTACTS, LINKEDIN,
                                                         ["https://linkedin.com/in/jo"], ["name"]) for r in p]
                both = [r async for p in a.search_all(CrmObject.CONTACTS, {"email": ["jo@example.com"],
                                                                           "name": ["Nobody"]}, []) for r in p]
                return by_email, by_name, by_custom, both

        by_email, by_name, by_custom, both = run(go())
    assert [r.get("name") for r in by_email] == ["Jo Smith"]  # exact_match, not case sensitive
    assert [r.get("name") for r in by_name] == ["Jo Smith"]  # not "Jo Smithson"
    assert [r.get("name") for r in by_custom] == ["Other"]
    assert both == []  # every filter must hold
    searches = [r for r in sb.requests if r.path.endswith("/search")]
    assert all("exact_match=true" in r.query for r in searches)


def test_the_emulators_fuzzy_search_and_its_refusals() -> None:
    app = create_app(PipedriveSandboxConfig())
    sb: PipedriveSandbox = app.state.sandbox
    sb.create("persons", {"name": "Maria Lopez", "emails": [{"value": "maria@lopez.es"}]})
    sb.create("persons", {"name": "Mario Rossi", "emails": [{"value": "mario@rossi.it"}]})

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=asgi_transport(app), base_url=API,
                                     headers={"x-api-token": DEFAULT_TOKEN}) as c:
            return [await c.get("/api/v2/persons/search", params=p) for p in (
                {"term": "mari"}, {"term": "maria lopez", "exact_match": "true"},
                {"term": "rossi", "fields": "email"}, {"term": "m"}, {"term": "x", "fields": "website"})]

    fuzzy, exact, email_only, short, bad_field = run(go())
    assert [i["item"]["name"] for i in fuzzy.json()["data"]["items"]] == ["Maria Lopez", "Mario Rossi"]
    assert [i["item"]["name"] for i in exact.json()["data"]["items"]] == ["Maria Lopez"]
    assert [i["item"]["name"] for i in email_only.json()["data"]["items"]] == ["Mario Rossi"]
    assert short.status_code == 400
    assert short.json()["success"] is False
    assert "2 characters" in short.json()["error"]
    assert bad_field.status_code == 400


@pytest.mark.parametrize("kind", KINDS)
def test_the_company_is_the_persons_org_id(kind: str) -> None:
    with target(kind) as (sb, make):
        acme = sb.create("organizations", {"name": "Acme"})["id"]
        beta = sb.create("organizations", {"name": "Beta"})["id"]
        pid = str(sb.create("persons", {"name": "P", "org_id": acme})["id"])

        async def go() -> Any:
            async with make() as a:
                before = await a.associations([pid, "999"])
                moved = await a.associate([AssociationInput(pid, str(beta), key="m")])
                kept = await a.remove_associations([AssociationInput(pid, str(acme), key="r")])  # not its org now
                after_move = sb.records["persons"][int(pid)]["org_id"]
                back = await a.associate([AssociationInput(pid, str(acme), key="b")])  # Restore
                cleared = await a.remove_associations([AssociationInput(pid, str(acme), key="c")])
                return before, moved, kept, after_move, back, cleared

        before, moved, kept, after_move, back, cleared = run(go())
    assert [(x.to_id, x.primary) for x in before[pid]] == [(str(acme), True)]
    assert before["999"] == []
    assert moved[0].ok
    assert after_move == beta
    assert kept[0].ok  # already not linked: nothing sent
    assert back[0].ok
    assert cleared[0].ok
    assert sb.records["persons"][int(pid)]["org_id"] is None


def test_activities_and_notes_are_logged_and_found_again() -> None:
    with target("in-process") as (sb, make):
        pid = str(sb.create("persons", {"name": "P"})["id"])
        org = str(sb.create("organizations", {"name": "O"})["id"])
        when = datetime(2026, 3, 5, 12, 30, 15, tzinfo=UTC)

        async def go() -> Any:
            async with make() as a:
                logged = await a.log_activities([
                    Activity(ActivityKind.EMAIL, when, "2", "Hello", "Body", contact_ids=(pid,), company_ids=(org,),
                             key="e"),
                    Activity(ActivityKind.CALL, when, "1", "Call", contact_ids=(pid,), duration_seconds=3725, key="c"),
                    Activity(ActivityKind.NOTE, when, "1", "LinkedIn message sent", "Hi!", contact_ids=(pid,),
                             key="n"),
                    Activity(ActivityKind.EMAIL, when, "1", "Lost", contact_ids=("424242",), key="x"),
                ])
                found = await a.find_activities([
                    ActivityLookup("e", pid, ActivityKind.EMAIL, when, "Hello"),
                    ActivityLookup("n", pid, ActivityKind.NOTE, when, "LinkedIn message sent"),
                    ActivityLookup("none", pid, ActivityKind.CALL, when.replace(hour=9), "Call"),
                ])
                return logged, found

        logged, found = run(go())
    assert [r.ok for r in logged] == [True, True, True, False]
    email = sb.activities[int(logged[0].id)]
    assert (email["type"], email["owner_id"], email["person_id"], email["org_id"]) == ("email", 2, int(pid), int(org))
    assert (email["due_date"], email["due_time"], email["done"]) == ("2026-03-05", "12:30", True)
    assert sb.activities[int(logged[1].id)]["duration"] == "01:02"
    note = sb.notes[int(logged[2].id)]
    assert note["content"] == "LinkedIn message sent\n\nHi!"
    assert note["add_time"] == "2026-03-05 12:30:15"
    assert found == {"e": logged[0].id, "n": logged[2].id}


def test_persons_carry_their_organizations_name_and_linkedin_for_matching() -> None:
    with target("in-process") as (sb, make):
        acme = sb.create("organizations", {"name": "Acme Inc."})["id"]
        sb.create("persons", {"name": "Jane Doe", "org_id": acme,
                              "custom_fields": {LINKEDIN: "https://linkedin.com/in/jane"}})
        sb.create("persons", {"name": "No Org"})

        async def go() -> Any:
            async with make() as a:
                roles = a.identifier_fields(CrmObject.CONTACTS)
                wanted = [roles["first_name"], roles["company_name"], roles["linkedin_url"]]
                return [r async for p in a.scan(CrmObject.CONTACTS, wanted) for r in p], a.calls_made

        records, calls = run(go())
    assert [(r.get("first_name"), r.get("org_name"), r.get("linkedin_url")) for r in records] == [
        ("Jane", "Acme Inc.", "https://linkedin.com/in/jane"), ("No", None, None)]
    assert calls == 3  # the fields, one page of persons, their organizations


def test_scan_reads_and_changed_since_page_through_everything() -> None:
    with target("in-process", PipedriveSandboxConfig(seed_persons=1203, seed_organizations=7)) as (_sb, make):
        async def go() -> Any:
            async with make() as a:
                pages = [p async for p in a.scan(CrmObject.CONTACTS, ["email"])]
                some = await a.read(CrmObject.CONTACTS, [str(i) for i in range(1, 251)] + ["99999"], ["email"])
                changed = [r async for p in a.changed_since(CrmObject.COMPANIES, datetime(2000, 1, 1, tzinfo=UTC),
                                                            ["name"]) for r in p]
                return pages, some, changed, a.calls_made

        pages, some, changed, calls = run(go())
    assert [len(p) for p in pages] == [500, 500, 203]
    assert len(some) == 250
    assert len(changed) == 7
    assert calls == 1 + 3 + 3 + 1 + 1  # fields, 3 pages, 3 reads of 100, fields of orgs, 1 page


def test_the_burst_window_is_kept_on_the_server_and_429s_are_waited_out() -> None:
    config = PipedriveSandboxConfig(plan="Essential", daily_tokens=None)  # 20 requests per 2 s per API token
    with target("loopback", config) as (sb, make):
        pid = str(sb.create("persons", {"name": "P"})["id"])

        async def go() -> int:
            async with make(settings={"plan": "Essential"}) as a:
                await a.update(CrmObject.CONTACTS, [RecordInput({"job_title": f"T{i}"}, key=str(i), id=pid)
                                                    for i in range(25)])
                return a.calls_made

        calls = run(go())
        assert calls == 25 + 1  # past one window of 20: the limiter waits for it to roll
        assert sb.counts()["rate_limited"] == 0
        arrivals = sorted(r.t for r in sb.requests)
        assert max(sum(1 for t in arrivals if s <= t < s + 2.0) for s in arrivals) <= 20

        # Another app spends the same token's window: Pipedrive's 429 (x-ratelimit-* headers) is waited out.
        sb.set_limits({"rate_limit": "5/2s"})
        token = sb.tokens.lookup(DEFAULT_TOKEN)
        assert token is not None
        window = sb._window(token)
        assert window is not None
        for _ in range(5):
            window.try_hit(DEFAULT_TOKEN, sb.config.clock())

        async def crowded() -> int:
            async with make(settings={"plan": "Essential"}) as a:
                await a.update(CrmObject.CONTACTS, [RecordInput({"job_title": f"U{i}"}, key=str(i), id=pid)
                                                    for i in range(8)])
                return a.calls_made

        assert run(crowded()) >= 8
        refused = [r for r in sb.requests if r.status == 429]
        assert refused
        assert all(r.limited_by == "burst" for r in refused)
    assert sb.records["persons"][int(pid)]["job_title"].startswith("U")


def test_the_daily_token_budget_is_spent_shown_and_enforced() -> None:
    with target("in-process", PipedriveSandboxConfig(daily_tokens=100)) as (sb, make):
        pid = str(sb.create("persons", {"name": "P"})["id"])

        async def go() -> Any:
            async with make(settings={"daily_token_budget": "100"}) as a:
                start = await a.budget_left()
                await a.read(CrmObject.CONTACTS, [pid], ["name"])  # fields 10 + read 10
                middle = await a.budget_left()
                with pytest.raises(QuotaExhaustedError, match="daily API token budget") as exc:
                    await a.update(CrmObject.CONTACTS, [RecordInput({"job_title": str(i)}, key=str(i), id=pid)
                                                        for i in range(40)])
                return start, middle, exc.value, await a.budget_left(), a.tokens_spent

        start, middle, error, end, spent = run(go())
    assert (start.remaining, start.per_day) == (100, 100)
    assert middle.remaining == 80
    assert len(error.completed) == 16
    assert all(r.ok for r in error.completed)
    assert end.remaining == 0  # the refusal marks the day as used up
    assert sb.counts()["tokens_left"] == 0
    assert spent >= 100
    refused = [r for r in sb.requests if r.status == 429]
    assert refused
    assert refused[0].limited_by == "daily_budget"


def test_a_field_pipedrive_cannot_search_is_looked_up_by_listing() -> None:
    with target("in-process") as (sb, make):
        sb.create("organizations", {"name": "Acme", "website": "https://acme.test"})
        sb.create("organizations", {"name": "Beta", "website": "https://beta.test"})

        async def go() -> Any:
            async with make() as a:
                return [r async for p in a.search_in(CrmObject.COMPANIES, "website", ["HTTPS://acme.test"], ["name"])
                        for r in p]

        found = run(go())
    assert [r.get("name") for r in found] == ["Acme"]
    assert not [r for r in sb.requests if r.path.endswith("/search")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_oauth_sign_in_then_refresh_against_the_sandbox(ctx: Any) -> None:
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.core.services.crm import sign_in_with_browser as sign_in

    app = create_app(PipedriveSandboxConfig(seed_persons=2))
    sb: PipedriveSandbox = app.state.sandbox
    with server.serve(app) as url:
        ctx.integrations.save_connection("pipedrive", {"base_url": url, "client_id": DEFAULT_CLIENT_ID,
                                                       "client_secret": DEFAULT_CLIENT_SECRET})
        pages: list[httpx.Response] = []

        async def browser_visit(link: str) -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                hop = await client.get(link)
                assert hop.status_code == 302, hop.text
                pages.append(await client.get(hop.headers["location"]))

        async def go() -> Any:
            tasks: list[asyncio.Task[None]] = []
            tokens = await sign_in(ctx, "pipedrive", open_browser=lambda link: tasks.append(
                asyncio.get_running_loop().create_task(browser_visit(link))), redirect_port=_free_port(), timeout=10)
            await asyncio.gather(*tasks)
            async with ctx.adapters.crm("pipedrive") as a:
                first = await a.check()
                expired = sb.expire_tokens()
                users = await a.users()  # 401 -> refresh (HTTP Basic client auth) -> retried
                caps = a.capabilities
            return tokens, first, expired, users, caps

        tokens, first, expired, users, caps = run(go())
    assert "You can close this tab" in pages[0].text
    assert "Pipedrive sign-in (OAuth)" in first.details
    assert expired == 1
    assert len(users) == 3
    assert caps.rate_limit.requests == 320  # OAuth tokens get the larger burst (Professional)
    saved = TokenStore(ctx.secrets, "pipedrive").load()
    assert saved is not None
    assert saved.access_token != tokens.access_token
    assert len([r for r in sb.requests if r.path == "/oauth/token"]) == 2


# -- contract: what the adapter sends and gets follows Pipedrive's published OpenAPI descriptions --------------------


def assert_follows_spec(recorder: Any) -> None:
    """Every request valid, every documented answer valid. Pipedrive's descriptions document only the 200 answer
    of most operations: its error answers (400, 404, 429...) are checked for Pipedrive's error body instead.
    One known gap: the v2 description types a person's ``org_id`` as a non-nullable integer, yet ``null`` is the
    only way to take a person out of its organization (Restore of a person that had none), so that one request
    is allowed."""
    for exchange in recorder.exchanges:
        response = exchange.response
        if response is not None and response.status_code >= 400:
            exchange.response_problems = [p for p in exchange.response_problems if "is not documented" not in p]
            body = response.json()
            assert body["success"] is False, exchange.describe()
            assert isinstance(body["error"], str), exchange.describe()
            assert body["data"] is None, exchange.describe()
        if exchange.request.method == "PATCH" and exchange.request.content == b'{"org_id":null}':
            exchange.request_problems = [p for p in exchange.request_problems if "['org_id']" not in p]
    recorder.assert_all_valid()



async def _drive_everything(a: PipedriveAdapter, sb: PipedriveSandbox) -> None:
    await a.check()
    await a.fields(CrmObject.CONTACTS)
    await a.fields(CrmObject.COMPANIES)
    await a.users()
    persons = [r async for p in a.scan(CrmObject.CONTACTS, ["email", LINKEDIN]) for r in p]
    orgs = [r async for p in a.scan(CrmObject.COMPANIES, ["name", "website"]) for r in p]
    [r async for p in a.changed_since(CrmObject.CONTACTS, datetime(2020, 1, 1, tzinfo=UTC), ["email"]) for r in p]
    await a.read(CrmObject.CONTACTS, [persons[0].id, "999999"], ["email", LEAD_SOURCE])
    [r async for p in a.search_in(CrmObject.CONTACTS, "email", [persons[1].get("email") or "", "none@x.org"],
                                  ["name"]) for r in p]
    [r async for p in a.search_in(CrmObject.COMPANIES, "name", [orgs[0].get("name") or ""], ["website"]) for r in p]
    created = await a.create(CrmObject.CONTACTS, [
        RecordInput({"first_name": "C", "last_name": "One", "email": "c1@enginy.ai", LEAD_SOURCE: "101",
                     INTERESTS: ("202",), SCORE: "7", "owner_id": "2", "org_id": orgs[0].id}, key="1"),
        RecordInput({"first_name": "Bad", "owner_id": "77"}, key="2"),
    ])
    await a.create(CrmObject.COMPANIES, [RecordInput({"name": "Enginy", "website": "https://enginy.ai",
                                                      "industry": "301", "employee_count": "12"}, key="o")])
    await a.update(CrmObject.CONTACTS, [RecordInput({"job_title": "CTO", INTERESTS: ()}, key="u", id=created[0].id),
                                        RecordInput({"job_title": "CTO"}, key="x", id="999999")])
    await a.associate([AssociationInput(created[0].id, orgs[1].id, "a")])
    await a.associations([created[0].id])
    await a.remove_associations([AssociationInput(created[0].id, orgs[1].id, "r")])
    when = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    await a.log_activities([
        Activity(ActivityKind.EMAIL, when, "1", "Subject", "Body", contact_ids=(created[0].id,),
                 company_ids=(orgs[1].id,)),
        Activity(ActivityKind.CALL, when, "1", "Call", "Notes", contact_ids=(created[0].id,), duration_seconds=90),
        Activity(ActivityKind.NOTE, when, "1", body="A note", contact_ids=(created[0].id,)),
    ])
    await a.find_activities([ActivityLookup("e", created[0].id, ActivityKind.EMAIL, when, "Subject"),
                             ActivityLookup("n", created[0].id, ActivityKind.NOTE, when, "A note")])


EXPECTED_OPERATIONS = {
    "GET /users/me", "GET /users", "GET /personFields", "GET /organizationFields", "GET /persons",
    "GET /organizations", "GET /persons/search", "GET /organizations/search", "POST /persons",
    "POST /organizations", "PATCH /persons/{id}", "POST /activities", "GET /activities", "POST /notes", "GET /notes",
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_exchange_follows_the_published_spec(kind: str, shared_dir: Any) -> None:
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir, vendor="pipedrive")
    app = create_app(PipedriveSandboxConfig(seed_persons=40, seed_organizations=4))
    sb: PipedriveSandbox = app.state.sandbox

    async def go(url: str, transport: Any) -> None:
        async with PipedriveAdapter.from_connection(connection(url), transport=transport, retry=FAST_RETRY) as a:
            await _drive_everything(a, sb)

    if kind == "in-process":
        run(go(API, recorder.wrap(asgi_transport(app))))
    else:
        with server.serve(app) as url:
            run(go(url, recorder.wrap(httpx.AsyncHTTPTransport())))
    assert_follows_spec(recorder)
    templates = {op.split(" (")[0] for op in recorder.operations()}
    assert templates >= EXPECTED_OPERATIONS, EXPECTED_OPERATIONS - templates
    assert any(e.response is not None and e.response.status_code == 400 for e in recorder.exchanges)
    assert not [e for e in recorder.exchanges if e.exempt]


def test_the_emulators_error_answers_follow_the_spec(shared_dir: Any) -> None:
    """401, 404 and 400 bodies as Pipedrive documents them (429 is not in the descriptions: checked by shape)."""
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir, vendor="pipedrive")
    app = create_app(PipedriveSandboxConfig(rate_limit=SandboxRate(1, 60)))

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=recorder.wrap(asgi_transport(app)), base_url=API) as c:
            return [
                await c.get("/api/v2/persons/5", headers={"x-api-token": DEFAULT_TOKEN}),
                await c.get("/api/v2/persons", headers={"x-api-token": "wrong"}),
                await c.get("/api/v2/persons", headers={"x-api-token": DEFAULT_TOKEN}),
            ]

    missing, unauthorized, limited = run(go())
    assert missing.status_code == 404
    assert missing.json()["error"] == "Person not found"
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {
        "success": False, "error": "unauthorized access", "errorCode": 401,
        "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
        "data": None, "additional_data": None}
    assert limited.status_code == 429
    assert limited.json()["success"] is False
    assert limited.headers["x-ratelimit-limit"] == "1"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) >= 1
    assert_follows_spec(recorder)


def test_expiring_tokens_and_an_exhausted_budget_as_faults(ctx: Any) -> None:
    """The kit's faults on Pipedrive: OAuth tokens that stop working after a few requests are renewed; the
    "credits exhausted" fault is Pipedrive's spent daily budget (a QuotaExhaustedError, not retried)."""
    from enginy_desktop.adapters.base import TokenSet
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.sandbox.kit.faults import FaultConfig

    app = create_app(PipedriveSandboxConfig(seed_persons=3, faults=FaultConfig(token_ttl_requests=2)))
    sb: PipedriveSandbox = app.state.sandbox
    issued = sb.tokens.issue(DEFAULT_CLIENT_ID)
    with server.serve(app) as url:
        ctx.integrations.save_connection("pipedrive", {"base_url": url, "client_id": DEFAULT_CLIENT_ID,
                                                       "client_secret": DEFAULT_CLIENT_SECRET})
        TokenStore(ctx.secrets, "pipedrive").save(TokenSet(issued.token, issued.refresh_token, time.time() + 3600))

        async def go() -> Any:
            async with ctx.adapters.crm("pipedrive") as a:
                users = [await a.users() for _ in range(5)]
                sb.set_faults({"credits_exhausted": True, "token_ttl_requests": None})
                with pytest.raises(QuotaExhaustedError):
                    await a.users()
                return users, await a.budget_left()

        users, left = run(go())
    assert all(len(u) == 3 for u in users)
    assert len([r for r in sb.requests if r.path == "/oauth/token"]) >= 2  # renewed when the token stopped working
    assert left.remaining == 0


def test_every_endpoint_of_the_emulator_answers_as_published(shared_dir: Any) -> None:
    """Each route the emulator serves, called directly (also those the adapter does not use), with paging."""
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir, vendor="pipedrive")
    app = create_app(PipedriveSandboxConfig(seed_persons=12, seed_organizations=3))
    sb: PipedriveSandbox = app.state.sandbox
    sb.create("organizations", {"name": "Acme", "address": {"value": "Main St 1, Tallinn"}})

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=recorder.wrap(asgi_transport(app)), base_url=API,
                                     headers={"x-api-token": DEFAULT_TOKEN}) as c:
            first = (await c.get("/api/v2/persons", params={"limit": 5})).json()
            cursor = first["additional_data"]["next_cursor"]
            statuses = [(await c.get("/api/v2/persons", params={"limit": 5, "cursor": cursor})).status_code]
            fields = (await c.get("/api/v2/personFields", params={"limit": 5})).json()
            statuses.append((await c.get("/api/v2/personFields", params={
                "limit": 5, "cursor": fields["additional_data"]["next_cursor"]})).status_code)
            activity = (await c.post("/api/v2/activities", json={"subject": "Call", "type": "call",
                                                                 "person_id": 1, "done": True})).json()["data"]
            for method, path, kw in (
                ("GET", "/api/v2/persons/1", {}),
                ("PATCH", "/api/v2/organizations/1", {"json": {"name": "Renamed", "employee_count": 5}}),
                ("GET", "/api/v2/organizations/1", {}),
                ("GET", "/api/v2/organizations", {"params": {"sort_by": "update_time", "sort_direction": "desc"}}),
                ("GET", "/api/v2/organizationFields", {}),
                ("GET", "/api/v2/organizations/search", {"params": {"term": "Tallinn", "fields": "address"}}),
                ("GET", "/api/v2/persons/search", {"params": {"term": "sample", "organization_id": 1}}),
                ("GET", f"/api/v2/activities/{activity['id']}", {}),
                ("GET", "/api/v2/activities", {"params": {"person_id": 1}}),
                ("POST", "/v1/notes", {"json": {"content": "Hello", "org_id": 1}}),
                ("GET", "/v1/notes", {"params": {"org_id": 1, "start": 0, "limit": 10}}),
                ("GET", "/v1/users/me", {}),
                ("GET", "/v1/users", {}),
                ("DELETE", "/api/v2/persons/2", {}),
                ("DELETE", "/api/v2/organizations/2", {}),
            ):
                statuses.append((await c.request(method, path, **kw)).status_code)
            return statuses

    statuses = run(go())
    assert set(statuses) == {200}, statuses
    assert_follows_spec(recorder)
    assert len(recorder.exchanges) == 20
