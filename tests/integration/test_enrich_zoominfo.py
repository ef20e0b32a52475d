"""ZoomInfo against its emulator: in a waterfall (GTM Data API and legacy Enterprise API) with the estimate an upper
bound of what it charged, the report counting it, the cache making a re-run free and provenance naming it; its
failure modes ending resumable with nothing paid twice; its token (fetched once, kept, fetched again after a 401);
its limits respected without a 429 storm; Test connection; and every exchange of the GTM Data API checked both ways
against ``specs/zoominfo/gtm-data-api-v1.openapi.json``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from enginy_desktop.adapters.base import AuthError, Connection, QuotaExhaustedError
from enginy_desktop.adapters.enrichment.base import DataPoint as D
from enginy_desktop.adapters.enrichment.base import LookupInput, adapter_class
from enginy_desktop.adapters.http import RetryPolicy
from enginy_desktop.core.enrich import (
    EnrichOptions,
    estimate,
    provenance,
    report,
    resume_enrichment,
    run_enrichment,
    start_enrichment,
)
from enginy_desktop.sandbox.enrichment import zoominfo as zi
from enginy_desktop.sandbox.kit import RateLimit, RollingWindow
from tests.support.enrich_world import EnrichWorld

POINTS = [D.EMAIL, D.PHONE, D.JOB_TITLE, D.LINKEDIN_URL, D.INDUSTRY, D.REVENUE]
PEOPLE = [LookupInput("1", first_name="Ada", last_name="Lovelace", company_name="Acme"),
          LookupInput("2", email="alan.turing@hooli.com"),
          LookupInput("3", linkedin_url="https://www.linkedin.com/in/grace-hopper-1234"),
          LookupInput("4", first_name="Nobody", last_name="Known", company_name="Acme"),
          LookupInput("5", first_name="Linus", last_name="Torvalds", company_name="Globex")]
COMPANIES = [LookupInput("c1", company_name="Umbrella"), LookupInput("c2", domain="globex.com")]


def _run(ctx: Any, world: EnrichWorld, options: EnrichOptions) -> Any:
    info = start_enrichment(ctx, options)
    return asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))


def _connection(values: dict[str, str], kept: dict[str, str] | None = None) -> Connection:
    kept = {} if kept is None else kept
    secrets = {k: v for k, v in values.items() if k in ("client_secret", "password")}
    return Connection("zoominfo", {k: v for k, v in values.items() if k not in secrets},
                      lambda name: kept.get(name) or secrets.get(name), kept.__setitem__)


def _adapter(transport: Any, values: dict[str, str] | None = None, kept: dict[str, str] | None = None,
             **opts: Any) -> Any:
    values = values or zi.connect_values("https://api.zoominfo.com")
    return adapter_class("zoominfo").from_connection(_connection(values, kept), transport=transport,
                                                     retry=opts.pop("retry", RetryPolicy(max_attempts=1)), **opts)


@pytest.mark.parametrize("legacy", [False, True], ids=["gtm", "legacy"])
def test_second_in_a_waterfall_then_free_on_a_rerun(ctx: Any, tmp_path: Path, legacy: bool) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=40, providers=("hunter", "zoominfo"))
    if legacy:
        ctx.integrations.save_connection("zoominfo", zi.connect_values("https://zoominfo.test", legacy=True))
    order = {p: ["zoominfo"] for p in POINTS}
    order[D.EMAIL] = ["hunter", "zoominfo"]
    options = EnrichOptions(world.list_id, POINTS, order)
    est = estimate(ctx, options)
    result = _run(ctx, world, options)
    assert result.state == "finished", result.error
    rep = report(ctx, result.id)
    mine = next(p for p in rep.providers if p.provider == "zoominfo")
    charged = world.credits_spent("zoominfo")
    assert charged > 0
    assert charged <= next(p.credits for p in est.providers if p.provider == "zoominfo")  # an upper bound
    assert mine.credits == pytest.approx(charged)
    hunter = next(p for p in rep.providers if p.provider == "hunter").points["email"]
    assert mine.points["email"].asked == hunter.asked - hunter.found  # asked only for the first one's misses
    assert mine.points["email"].found > 0
    sources = provenance(ctx, "contact", list(range(1, 41)))
    phones = [s["phone"] for s in sources.values() if s.get("phone", {}).get("provider") == "zoominfo"]
    assert phones
    assert all(p.get("confidence") for p in phones)
    assert any(s.get("company_revenue", {}).get("provider") == "zoominfo" for s in sources.values())
    em = world.emulator("zoominfo")
    assert any(r.path == ("/enrich/contact" if legacy else "/gtm/data/v1/contacts/enrich") for r in em.requests)
    assert em.token_requests == 1  # one token (or JWT) for the whole run, not one per request
    assert all(r.status != 429 for r in em.requests)
    # Again: nothing new is paid for (the values are there, the misses are in the cache).
    assert estimate(ctx, options).credits_at_most == 0
    assert _run(ctx, world, options).state == "finished"
    assert world.credits_spent("zoominfo") == charged


def _break(world: EnrichWorld, how: str) -> Any:
    em = world.emulator("zoominfo")
    good = zi.connect_values("https://zoominfo.test")
    if how == "bad_key":
        world.ctx.integrations.save_connection("zoominfo", {**good, "client_secret": "wrong-secret"})
        return lambda: world.ctx.integrations.save_connection("zoominfo", good)
    if how == "no_credits":
        em.credits.set(zi.ACCOUNT, 4)
        return lambda: em.credits.set(zi.ACCOUNT, 10_000)
    if how == "rate_limit":  # the hourly allowance: ZoomInfo asks to come back in an hour
        em.windows = [RollingWindow(RateLimit(1, 3600.0))]
        return lambda: setattr(em, "windows", [])
    if how == "down":
        em.set_faults({"error_rate": 1.0, "error_status": 503})
        return lambda: em.set_faults({"error_rate": 0.0})
    raise AssertionError(how)


WORDS = {"bad_key": "did not accept the client ID and secret", "no_credits": "no credits left",
         "rate_limit": "hourly allowance is used up", "down": "temporary problem"}


@pytest.mark.parametrize("how", list(WORDS))
def test_failures_end_resumable_with_nothing_paid_twice(ctx: Any, tmp_path: Path, how: str) -> None:
    from enginy_desktop.core.context import AppContext

    order = {p: ["zoominfo"] for p in POINTS}
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_ctx = AppContext.open(clean_dir)
    try:
        clean = EnrichWorld.make(clean_ctx, clean_dir, contacts=60, providers=("zoominfo",))
        assert _run(clean_ctx, clean, EnrichOptions(clean.list_id, POINTS, order)).state == "finished"
        clean_cost = clean.credits_spent("zoominfo")
    finally:
        clean_ctx.close()
    world = EnrichWorld.make(ctx, tmp_path, contacts=60, providers=("zoominfo",))
    repair = _break(world, how)
    info = start_enrichment(ctx, EnrichOptions(world.list_id, POINTS, order))
    failed = asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))
    assert failed.state == "failed"
    assert failed.resumable
    assert WORDS[how] in (failed.error or ""), failed.error
    assert "sandbox" not in (failed.error or "")  # no secret in the message
    if how == "rate_limit":  # no 429 storm: at most the requests already in flight when the first 429 came
        assert sum(1 for r in world.emulator("zoominfo").requests if r.status == 429) <= 4
    repair()
    done = asyncio.run(resume_enrichment(ctx, info.id, factory=world.factory))
    assert done.state == "finished", done.error
    assert world.credits_spent("zoominfo") == clean_cost  # nothing paid twice


def test_test_connection_shows_the_credits_left_and_refuses_a_bad_secret(ctx: Any, tmp_path: Path) -> None:
    from enginy_desktop.core.services.adapters import AdapterFactory
    from enginy_desktop.core.services.connection_test import run_connection_test, supports

    world = EnrichWorld.make(ctx, tmp_path, contacts=2, providers=("zoominfo",), credits=1234)
    assert supports("zoominfo")
    ctx.adapters = AdapterFactory(ctx, transport=httpx.ASGITransport(world.apps["zoominfo"]))
    good = asyncio.run(run_connection_test(ctx, "zoominfo"))
    assert good.ok, good.message
    assert "1,234" in good.message
    assert "GTM Data API" in good.account
    ctx.integrations.save_connection("zoominfo", zi.connect_values("https://zoominfo.test", legacy=True))
    legacy = asyncio.run(run_connection_test(ctx, "zoominfo"))
    assert legacy.ok, legacy.message
    assert "legacy" in legacy.account
    ctx.integrations.save_connection("zoominfo", {**zi.connect_values("https://zoominfo.test"),
                                                  "client_secret": "not-the-secret"})
    bad = asyncio.run(run_connection_test(ctx, "zoominfo"))
    assert not bad.ok
    assert "client ID and secret" in bad.message
    assert "not-the-secret" not in bad.message


def test_the_token_is_kept_and_fetched_again_only_when_refused() -> None:
    app = zi.create_app()
    em = app.state.sandbox
    transport = httpx.ASGITransport(app)
    kept: dict[str, str] = {}

    async def go() -> None:
        async with _adapter(transport, kept=kept) as a:
            await a.lookup(PEOPLE[:1], frozenset({D.EMAIL}))
            await a.lookup(PEOPLE[1:2], frozenset({D.EMAIL}))
        assert em.token_requests == 1
        assert "oauth_token" in kept
        assert zi.DEFAULT_CLIENT_SECRET not in kept["oauth_token"]
        async with _adapter(transport, kept=kept) as again:  # another run: the kept token, no new sign-in
            await again.check()
        assert em.token_requests == 1
        em.expire_tokens()  # ZoomInfo ends the token early: one 401, one new token, the request goes through
        async with _adapter(transport, kept=kept) as a:
            assert (await a.lookup(PEOPLE[2:3], frozenset({D.EMAIL})))[0].found
        assert em.token_requests == 2
        other = {**zi.connect_values("https://api.zoominfo.com"), "client_id": "someone-else"}
        async with _adapter(transport, values=other, kept=kept) as a:  # another app: never the kept token
            with pytest.raises(AuthError, match="client ID and secret"):
                await a.check()

    asyncio.run(go())


def test_a_token_about_to_expire_is_fetched_again_before_the_request() -> None:
    app = zi.create_app()
    em = app.state.sandbox

    async def go() -> None:
        async with _adapter(httpx.ASGITransport(app)) as a:
            await a.lookup(PEOPLE[:1], frozenset({D.EMAIL}))
            a.auth.clock = lambda: time.time() + 3600 - 30  # half a minute before the token's hour is up
            await a.lookup(PEOPLE[1:2], frozenset({D.EMAIL}))
        assert em.token_requests == 2
        assert not [r for r in em.requests if r.status == 401]  # renewed before, not after a refusal

    asyncio.run(go())


def test_its_limits_are_respected_without_a_429_storm() -> None:
    app = zi.create_app(zi.ZoomInfoSandboxConfig(rate_limits=(RateLimit(1, 1.0), RateLimit(100, 3600.0))))
    em = app.state.sandbox
    transport = httpx.ASGITransport(app)

    async def go() -> None:
        # Told Scaling (35 a second), the adapter reads ZoomInfo's headers: one a second left none, so it waits.
        async with _adapter(transport, values={**zi.connect_values("https://api.zoominfo.com"),
                                               "package": "Scaling"}, retry=RetryPolicy(max_attempts=3)) as a:
            for person in PEOPLE[:2]:
                await a.lookup([person], frozenset({D.EMAIL}))
            assert a.api.limiter.limit.requests == 1  # ZoomInfo's per-second figure replaced the package's
        assert not [r for r in em.requests if r.status == 429]
        em.windows = [RollingWindow(RateLimit(1, 3600.0))]
        async with _adapter(transport, retry=RetryPolicy(max_attempts=5, max_wait=5)) as a:
            await a.lookup(PEOPLE[2:3], frozenset({D.EMAIL}))
            with pytest.raises(QuotaExhaustedError, match=r"hourly allowance is used up\. Resume the run in about 1 "
                               r"hour"):  # its Retry-After, not a guess
                await a.lookup(PEOPLE[3:4], frozenset({D.EMAIL}))
            with pytest.raises(QuotaExhaustedError, match="hourly allowance"):  # known: not even asked
                await a.lookup(PEOPLE[4:5], frozenset({D.EMAIL}))
        assert sum(1 for r in em.requests if r.status == 429) == 1  # asked once, not retried into a storm

    asyncio.run(go())


def test_running_out_of_credits_mid_batch_keeps_what_was_paid_for() -> None:
    app = zi.create_app(zi.ZoomInfoSandboxConfig(credits=2))
    em = app.state.sandbox
    people = [LookupInput(str(i), first_name=f, last_name="Hopper", company_name="Initech")
              for i, f in enumerate(("Ada", "Alan", "Grace", "Linus", "Tim", "Ken", "Radia", "Frances"))]

    async def go() -> None:
        async with _adapter(httpx.ASGITransport(app)) as a:
            with pytest.raises(QuotaExhaustedError, match="no credits left") as caught:
                await a.lookup(people, frozenset({D.EMAIL}))
            partial = caught.value.partial
            assert sum(r.credits for r in partial) == 2 == em.credits.spent_total
            with pytest.raises(QuotaExhaustedError, match="PFAPI0011"):  # none left at all: HTTP 400 PFAPI0011
                await a.lookup(people[5:], frozenset({D.EMAIL}))

    asyncio.run(go())


# -- contract: the GTM Data API's own description ----------------------------------------------------------------


async def _contract_traffic(app: Any, transport: Any) -> None:
    em = app.state.sandbox
    async with _adapter(transport) as a:
        await a.check()
        await a.lookup(PEOPLE[:1], frozenset(D))  # one
        await a.lookup(PEOPLE + COMPANIES, frozenset(D))  # people and companies, found and not
        many = [LookupInput(str(i), first_name=f"Person{i}", last_name="Example", company_name="Acme")
                for i in range(30)]
        await a.lookup(many, frozenset({D.EMAIL}))  # more than 25: two requests
        em.expire_tokens()
        await a.lookup(PEOPLE[4:5], frozenset({D.PHONE}))  # a 401, a new token, the same request again
        em.credits.set(zi.ACCOUNT, 1)
        with pytest.raises(QuotaExhaustedError):  # LIMIT_EXCEEDED inside a 200
            await a.lookup([LookupInput("x", first_name="Barbara", last_name="Liskov", company_name="Tyrell"),
                            LookupInput("y", first_name="Edsger", last_name="Dijkstra", company_name="Tyrell")],
                           frozenset({D.EMAIL}))
        with pytest.raises(QuotaExhaustedError):  # HTTP 400 PFAPI0011
            await a.lookup([LookupInput("z", first_name="Donald", last_name="Knuth", company_name="Tyrell")],
                           frozenset({D.EMAIL}))
        em.credits.set(zi.ACCOUNT, 100)
        em.windows = [RollingWindow(RateLimit(1, 3600.0))]
        await a.lookup(COMPANIES, frozenset({D.INDUSTRY}))
        with pytest.raises(QuotaExhaustedError, match="HTTP 429"):
            await a.lookup(PEOPLE[:1], frozenset({D.INDUSTRY}))


def test_gtm_traffic_matches_the_openapi_description_both_ways(shared_dir: Path) -> None:
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir, vendor="zoominfo")
    app = zi.create_app()
    asyncio.run(_contract_traffic(app, recorder.wrap(httpx.ASGITransport(app))))
    recorder.assert_all_valid()
    statuses = {e.response.status_code for e in recorder.exchanges if e.response is not None}
    assert {200, 400, 401, 429} <= statuses
    ops = " ".join(recorder.operations())
    for path in ("/data/v1/contacts/enrich", "/data/v1/companies/enrich", "/data/v1/users/usage"):
        assert path in ops, ops


@pytest.mark.parametrize(("path", "body", "valid_request"), [
    ("/gtm/data/v1/contacts/enrich", {"data": {"type": "ContactEnrich", "attributes": {
        "matchPersonInput": [{"firstName": "Ada", "lastName": "Lovelace", "companyName": "Acme"}] * 26,
        "outputFields": ["email"]}}}, False),
    ("/gtm/data/v1/contacts/enrich", {"data": {"type": "ContactEnrich", "attributes": {
        "matchPersonInput": [{"jobTitle": "CTO"}, {"emailAddress": "nobody.known@acme.com"},
                             {"fullName": "Grace Hopper", "companyName": "Initech"}],
        "outputFields": ["email", "jobTitle", "companyName", "companyRevenue", "companyEmployeeCount"]}}}, True),
    ("/gtm/data/v1/companies/enrich", {"data": {"type": "CompanyEnrich", "attributes": {
        "matchCompanyInput": [{"companyWebsite": "http://www.acme.com"}, {"companyName": "Zzz Nothing"}, {}],
        "outputFields": ["name", "website", "revenue", "employeeCount", "industries"]}}}, True),
    ("/gtm/data/v1/companies/enrich", {"data": {"type": "ContactEnrich", "attributes": {}}}, False),
], ids=["26-inputs", "invalid-no-match-and-match", "companies", "wrong-type"])
def test_every_emulator_answer_matches_the_description(shared_dir: Path, path: str, body: Any,
                                                       valid_request: bool) -> None:
    """Requests no adapter sends (too many inputs, the wrong type) still get answers the description allows."""
    import json

    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir, vendor="zoominfo")
    app = zi.create_app()
    token = app.state.sandbox.tokens.issue(zi.DEFAULT_CLIENT_ID, zi.SCOPES, refresh_token="").token

    async def go() -> int:
        async with httpx.AsyncClient(transport=recorder.wrap(httpx.ASGITransport(app)),
                                     base_url="https://api.zoominfo.com") as client:
            reply = await client.post(path, content=json.dumps(body), headers={
                "Authorization": f"Bearer {token}", "Content-Type": zi.JSON_API, "Accept": zi.JSON_API})
            return reply.status_code

    status = asyncio.run(go())
    assert status == (200 if valid_request else 400)
    [exchange] = recorder.exchanges
    assert not exchange.response_problems, exchange.response_problems
    assert bool(exchange.request_problems) != valid_request  # the spec refuses what the emulator refuses


def test_the_sandbox_command_prints_how_to_connect() -> None:
    from enginy_desktop.sandbox.kit.launch import StartOptions
    from enginy_desktop.sandbox.registry import emulator_spec

    started = emulator_spec("zoominfo").start(StartOptions(options={"credits": "50", "package": "standard"}))
    commands = started.connect("http://127.0.0.1:8766")
    assert commands[0].startswith(f"echo {zi.DEFAULT_CLIENT_SECRET} | enginy-desktop connect zoominfo")
    assert "--set base_url=http://127.0.0.1:8766/gtm" in commands[0]
    assert "--secret-stdin client_secret" in commands[0]
    assert "--set package=Standard" in commands[0]
    assert commands[1] == "enginy-desktop integrations enable zoominfo"
    assert started.app.state.sandbox.credits.left(zi.ACCOUNT) == 50
