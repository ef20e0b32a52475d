"""The enrichment providers added after the first four, each against its emulator: alone and in a waterfall with
the estimate an upper bound of what it charged, the report counting exactly that, the cache making a re-run free,
provenance naming it; its failure modes (bad key, no credits, rate limit, down) ending resumable with nothing paid
twice; Test connection; and its traffic checked against JSON Schemas written from its documentation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from enginy_desktop.adapters.base import Connection, QuotaExhaustedError, RateLimitedError
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
from enginy_desktop.sandbox.kit import RateLimit, RollingWindow
from tests.support.enrich_world import MODULES, EnrichWorld

POINTS = [D.EMAIL, D.PHONE, D.JOB_TITLE, D.LINKEDIN_URL, D.INDUSTRY]
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
NEW = ["proxycurl", "kaspr", "datagma", "cognism"]
NO_BALANCE = {"cognism"}  # Cognism's API does not tell the credits left
LINKEDIN = {"kaspr": True}  # Kaspr starts from a LinkedIn profile URL: those lists have one per row
# How each provider says "no credits" and "slow down" (the words the run's error carries).
WORDS = {"proxycurl": {"bad_key": "did not accept the API key", "no_credits": "no credits left",
                       "rate_limit": "limiting requests", "down": "temporary problem"},
         "kaspr": {"bad_key": "did not accept the API key", "no_credits": "no credits left",
                   "rate_limit": "limiting requests", "down": "temporary problem"},
         "datagma": {"bad_key": "did not accept the API key", "no_credits": "no credits left",
                     "rate_limit": "limiting requests", "down": "temporary problem"},
         "cognism": {"bad_key": "did not accept the API key", "no_credits": "no credits",
                     "rate_limit": "limiting requests", "down": "temporary problem"}}


def _run(ctx: Any, world: EnrichWorld, options: EnrichOptions) -> Any:
    info = start_enrichment(ctx, options)
    return asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))


def _clean_cost(tmp_path: Path, key: str, order: dict[D, list[str]]) -> float:
    from enginy_desktop.core.context import AppContext

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_ctx = AppContext.open(clean_dir)
    try:
        clean = EnrichWorld.make(clean_ctx, clean_dir, contacts=20, providers=(key,),
                                 linkedin=LINKEDIN.get(key, False))
        assert _run(clean_ctx, clean, EnrichOptions(clean.list_id, POINTS, order)).state == "finished"
        return clean.credits_spent(key)
    finally:
        clean_ctx.close()


@pytest.mark.parametrize("key", NEW)
def test_alone_and_second_in_a_waterfall(ctx: Any, tmp_path: Path, key: str) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=40, providers=("hunter", key), linkedin=LINKEDIN.get(key, False))
    order = {p: [key] for p in POINTS}
    order[D.EMAIL] = ["hunter", key]
    options = EnrichOptions(world.list_id, POINTS, order)
    est = estimate(ctx, options)
    result = _run(ctx, world, options)
    assert result.state == "finished", result.error
    rep = report(ctx, result.id)
    mine = next(p for p in rep.providers if p.provider == key)
    charged = world.credits_spent(key)
    assert charged > 0
    assert charged <= next(p.credits for p in est.providers if p.provider == key)  # the estimate is an upper bound
    assert mine.credits == pytest.approx(charged)  # the report counts what the provider charged
    hunter = next(p for p in rep.providers if p.provider == "hunter").points["email"]
    assert mine.points["email"].asked == hunter.asked - hunter.found  # asked only for the first one's misses
    assert mine.points["email"].found > 0
    sources = provenance(ctx, "contact", list(range(1, 41)))
    assert any(key in (s.get("phone", {}).get("provider"), s.get("mobile", {}).get("provider"))  # direct or mobile
               for s in sources.values())
    assert any(s.get("job_title", {}).get("provider") == key for s in sources.values())
    # Again: nothing new is paid for (the values are there, the misses are in the cache).
    assert estimate(ctx, options).credits_at_most == 0
    assert _run(ctx, world, options).state == "finished"
    assert world.credits_spent(key) == charged


NO_WAIT = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, max_wait=0.5)


def _break(world: EnrichWorld, key: str, how: str) -> Any:
    em = world.emulator(key)
    module = MODULES[key]
    if how == "bad_key":
        world.ctx.integrations.save_connection(key, {"api_key": "wrong-key", "base_url": f"https://{key}.test"})
        return lambda: world.ctx.integrations.save_connection(key, {"api_key": module.DEFAULT_KEY,
                                                                    "base_url": f"https://{key}.test"})
    if how == "no_credits":
        em.credits.set(module.DEFAULT_KEY, 4)
        return lambda: em.credits.set(module.DEFAULT_KEY, 10_000)
    if how == "rate_limit":
        em.windows = [RollingWindow(RateLimit(6, 3600.0))]
        # A caller that will not wait the second the emulator asks for: the run fails at the first refusal
        # instead of after every record's retries (waiting a 429 out is tested elsewhere).
        kept = world.options.get(key)
        world.options[key] = {**(kept or {}), "retry": NO_WAIT}

        def repair() -> None:
            em.windows = []
            if kept is None:
                world.options.pop(key)
            else:
                world.options[key] = kept
        return repair
    if how == "down":
        em.set_faults({"error_rate": 1.0, "error_status": 503})
        return lambda: em.set_faults({"error_rate": 0.0})
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["bad_key", "no_credits", "rate_limit", "down"])
@pytest.mark.parametrize("key", NEW)
def test_failures_end_resumable_with_nothing_paid_twice(ctx: Any, tmp_path: Path, key: str, how: str) -> None:
    order = {p: [key] for p in POINTS}
    clean = _clean_cost(tmp_path, key, order)
    world = EnrichWorld.make(ctx, tmp_path, contacts=20, providers=(key,), linkedin=LINKEDIN.get(key, False))
    repair = _break(world, key, how)
    info = start_enrichment(ctx, EnrichOptions(world.list_id, POINTS, order))
    failed = asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))
    assert failed.state == "failed"
    assert failed.resumable
    assert WORDS[key][how] in (failed.error or "")
    assert "sandbox-key" not in (failed.error or "")
    repair()
    done = asyncio.run(resume_enrichment(ctx, info.id, factory=world.factory))
    assert done.state == "finished", done.error
    assert world.credits_spent(key) == clean  # nothing paid twice


@pytest.mark.parametrize("key", NEW)
def test_test_connection_shows_credits_and_refuses_a_bad_key(ctx: Any, tmp_path: Path, key: str) -> None:
    from enginy_desktop.core.services.adapters import AdapterFactory
    from enginy_desktop.core.services.connection_test import run_connection_test, supports

    world = EnrichWorld.make(ctx, tmp_path, contacts=2, providers=(key,), credits=1234)
    assert supports(key)
    ctx.adapters = AdapterFactory(ctx, transport=httpx.ASGITransport(world.apps[key]))
    good = asyncio.run(run_connection_test(ctx, key))
    assert good.ok, good.message
    assert ("does not tell the credits" if key in NO_BALANCE else "1,234") in good.message
    if key == "kaspr":  # each of its four kinds of credit, and no single figure that reads as all of them
        assert "work e-mail 1,234, direct e-mail 1,234, phone 1,234, export 1,234" in good.message
        assert "Credits left:" not in good.message
    ctx.integrations.save_connection(key, {"api_key": "not-the-key", "base_url": f"https://{key}.test"})
    bad = asyncio.run(run_connection_test(ctx, key))
    assert not bad.ok
    assert "API key" in bad.message
    assert "not-the-key" not in bad.message


# -- contracts --------------------------------------------------------------------------------------------------

PEOPLE = [LookupInput("1", first_name="Ada", last_name="Lovelace", company_name="Acme"),
          LookupInput("2", first_name="Alan", last_name="Turing", domain="hooli.com"),
          LookupInput("3", linkedin_url="https://www.linkedin.com/in/grace-hopper-1234"),
          LookupInput("3b", linkedin_url="https://www.linkedin.com/in/ken-thompson-2001"),
          LookupInput("3c", linkedin_url="https://www.linkedin.com/in/radia-perlman-77"),
          LookupInput("4", first_name="Nobody", last_name="Known", company_name="Acme"),
          LookupInput("5", first_name="Linus", last_name="Torvalds", company_name="Globex")]
COMPANIES = [LookupInput("c1", company_name="Acme"), LookupInput("c2", domain="umbrella.com")]


def _validator(vendor: str, name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMAS / vendor / f"{name}.json").read_text("utf-8")),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


class SchemaRecorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, vendor: str, choose: Any) -> None:
        self.inner, self.vendor, self.choose = inner, vendor, choose
        self.problems: list[str] = []
        self.seen: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        for name, instance in self.choose(request, response):
            self.seen.add(name)
            self.problems += [f"{request.method} {request.url.path} ({name}): {e.message}"
                              for e in _validator(self.vendor, name).iter_errors(instance)]
        return response


_PROXYCURL_NAMES = {"/profile/resolve": "person-lookup", "/profile": "profile", "/profile/email": "work-email",
                    "/contact-api/personal-contact": "personal-contact", "/company/resolve": "company-lookup",
                    "/credit-balance": "credit-balance"}


def _proxycurl(request: httpx.Request, response: httpx.Response) -> list[tuple[str, Any]]:
    assert request.headers["authorization"].startswith("Bearer ")
    out: list[tuple[str, Any]] = [("request", dict(request.url.params))]
    path = request.url.path.removeprefix("/api/v2")
    out.append(("error" if response.status_code >= 400 else _PROXYCURL_NAMES[path], response.json()))
    return out


def test_proxycurl_traffic_matches_enrich_layers_docs_and_its_status_codes() -> None:
    from enginy_desktop.sandbox.enrichment import proxycurl

    app = proxycurl.create_app()
    em = app.state.sandbox
    recorder = SchemaRecorder(httpx.ASGITransport(app), "proxycurl", _proxycurl)
    fast = RetryPolicy(max_attempts=1)

    def adapter(api_key: str = proxycurl.DEFAULT_KEY) -> Any:
        # The default base URL keeps Enrich Layer's /api/v2 prefix; the emulator answers at the root.
        conn = Connection("proxycurl", {"base_url": "https://enrichlayer.test"}, lambda _n: api_key)
        return adapter_class("proxycurl").from_connection(conn, transport=recorder, retry=fast)

    async def go() -> None:
        async with adapter() as a:
            account = await a.check()
            assert account.credits_left == 10_000
            results = await a.lookup(PEOPLE, frozenset(D))
            nobody = await a.lookup(PEOPLE[5:6], frozenset({D.EMAIL, D.JOB_TITLE}))
            assert nobody[0].not_found
            assert nobody[0].credits == 2  # a lookup that matched nobody still costs 2
            results.append(nobody[0])
            assert any(D.EMAIL in r.found for r in results)
            companies = await a.lookup(COMPANIES, frozenset({D.COMPANY_DOMAIN, D.INDUSTRY, D.SIZE, D.LOCATION}))
            assert any(D.INDUSTRY in r.found and D.LOCATION in r.found for r in companies)
            assert sum(r.credits for r in results + companies) == em.credits.spent_total
            em.windows = [RollingWindow(RateLimit(1, 3600.0))]
            with pytest.raises(RateLimitedError, match="HTTP 429"):
                await a.lookup(PEOPLE[:2], frozenset({D.JOB_TITLE}))  # two lookups: the second is one too many
            em.windows = []
            em.credits.set(proxycurl.DEFAULT_KEY, 1)
            with pytest.raises(QuotaExhaustedError, match="HTTP 403"):
                await a.lookup(PEOPLE[6:], frozenset({D.JOB_TITLE}))
        async with adapter("not-the-key") as bad:
            with pytest.raises(Exception, match="API key"):
                await bad.check()

    asyncio.run(go())
    assert not recorder.problems, "\n".join(recorder.problems)
    assert set(_PROXYCURL_NAMES.values()) | {"error", "request"} <= recorder.seen


def _kaspr(request: httpx.Request, response: httpx.Response) -> list[tuple[str, Any]]:
    assert request.headers["authorization"].startswith("Bearer ")
    assert request.headers["accept-version"] == "v2.0"
    out: list[tuple[str, Any]] = []
    if request.method == "POST":
        out.append(("profile-request", json.loads(request.content)))
    if response.status_code >= 400:
        return [*out, ("error", response.json())]
    name = "profile-response" if request.method == "POST" else "remaining-credits"
    return [*out, (name, response.json())]


def test_kaspr_traffic_matches_its_docs_credit_kinds_and_daily_limit() -> None:
    from enginy_desktop.adapters.base import AuthError
    from enginy_desktop.sandbox.enrichment import kaspr

    app = kaspr.create_app(kaspr.KasprSandboxConfig(daily_leads=3))
    em = app.state.sandbox
    recorder = SchemaRecorder(httpx.ASGITransport(app), "kaspr", _kaspr)
    names = [(f, last) for f in ("ada", "alan", "grace", "linus", "ken") for last in ("lovelace", "turing", "hopper",
                                                                                 "perlman", "liskov")]
    people = [LookupInput(str(i), full_name=f"{f} {last}", linkedin_url=f"https://www.linkedin.com/in/{f}-{last}-{i}/")
              for i, (f, last) in enumerate(names)]

    def adapter(api_key: str = kaspr.DEFAULT_KEY) -> Any:
        conn = Connection("kaspr", {"base_url": "https://kaspr.test"}, lambda _n: api_key)
        return adapter_class("kaspr").from_connection(conn, transport=recorder, retry=RetryPolicy(max_attempts=1))

    async def each(a: Any, batch: list[LookupInput], points: frozenset[D], found: list[Any]) -> None:
        for p in batch:
            found += await a.lookup([p], points)

    async def go() -> None:
        found: list[Any] = []
        async with adapter() as a:
            assert "work e-mail 10,000" in (await a.check()).details  # one figure per kind of credit
            with pytest.raises(RateLimitedError, match="HTTP 429"):  # the daily limit of 3 leads
                await each(a, people, frozenset({D.EMAIL, D.PHONE, D.JOB_TITLE}), found)
        revealed = [r for r in found if D.EMAIL in r.found or D.PHONE in r.found]
        assert len(revealed) == 3
        assert sum(r.credits for r in found) == em.spent()  # work e-mail + phone + one export per lead
        assert em.balances["export"].spent_total == 3
        em.cfg.daily_leads = 100
        em.balances["phone"].set(kaspr.DEFAULT_KEY, 0)
        async with adapter() as a:
            with pytest.raises(QuotaExhaustedError, match="HTTP 402"):
                await each(a, people[len(found):], frozenset({D.PHONE}), [])
        async with adapter("not-the-key") as bad:
            with pytest.raises(AuthError, match="API key"):
                await bad.check()

    asyncio.run(go())
    assert not recorder.problems, "\n".join(recorder.problems)
    assert {"profile-request", "profile-response", "remaining-credits", "error"} <= recorder.seen


_DATAGMA_NAMES = {"/v8/findEmail": "find-email", "/v2/full": "full", "/v1/search": "search", "/v1/mine": "mine"}


def _datagma(request: httpx.Request, response: httpx.Response) -> list[tuple[str, Any]]:
    assert "authorization" not in request.headers  # the key travels as apiId only
    out: list[tuple[str, Any]] = [("request", dict(request.url.params))]
    out.append(("error" if response.status_code >= 400 else _DATAGMA_NAMES[request.url.path], response.json()))
    return out


def test_datagma_traffic_matches_its_docs_and_charges_only_at_success() -> None:
    from enginy_desktop.sandbox.enrichment import datagma

    app = datagma.create_app()
    em = app.state.sandbox
    recorder = SchemaRecorder(httpx.ASGITransport(app), "datagma", _datagma)

    def adapter(api_key: str = datagma.DEFAULT_KEY) -> Any:
        conn = Connection("datagma", {"base_url": "https://datagma.test"}, lambda _n: api_key)
        return adapter_class("datagma").from_connection(conn, transport=recorder, retry=RetryPolicy(max_attempts=1))

    async def go() -> None:
        async with adapter() as a:
            assert (await a.check()).credits_left == 10_000
            more = [LookupInput(f"m{i}", first_name=f, last_name=last, company_name=c)
                    for i, (f, last, c) in enumerate([("Grace", "Hopper", "Initech"), ("Ken", "Thompson", "Soylent"),
                                                      ("Radia", "Perlman", "Tyrell"), ("Edsger", "Dijkstra", "Hooli"),
                                                      ("Frances", "Allen", "Umbrella"), ("Donald", "Knuth", "Acme")])]
            more += [LookupInput(f"l{i}", linkedin_url=f"https://www.linkedin.com/in/{who}-{i}")
                     for i, who in enumerate(["tim-berners", "barbara-liskov", "alan-kay", "niklaus-wirth",
                                              "dennis-ritchie", "margaret-hamilton", "john-backus"])]
            results = await a.lookup(PEOPLE + more, frozenset(D))
            nobody = next(r for r in results if r.key == "4")
            assert nobody.not_found
            assert nobody.credits == 0  # nothing found, nothing charged
            assert any(D.EMAIL in r.found for r in results)
            assert any(D.PHONE in r.found for r in results)
            assert any(D.JOB_TITLE in r.found and D.INDUSTRY in r.found for r in results)
            companies = await a.lookup(COMPANIES, frozenset({D.COMPANY_DOMAIN, D.INDUSTRY, D.SIZE, D.REVENUE}))
            assert any(D.REVENUE in r.found for r in companies)
            assert sum(r.credits for r in results + companies) == em.credits.spent_total
            for r in results:  # each record cost what its answers said: 1 per e-mail, 2 per person, 30 per phone
                assert r.credits <= 1 + 2 + 30
            again = await a.lookup(PEOPLE[:2], frozenset(D))  # asking again is free ("creditBurn": "0")
            assert sum(r.credits for r in again) == 0
            em.windows = [RollingWindow(RateLimit(1, 3600.0))]
            with pytest.raises(RateLimitedError, match="HTTP 429"):
                await a.lookup(PEOPLE[6:], frozenset({D.EMAIL, D.JOB_TITLE}))  # two calls: one too many
            em.windows = []
            em.credits.set(datagma.DEFAULT_KEY, 0)
            with pytest.raises(QuotaExhaustedError, match="no credits left"):
                await a.lookup([LookupInput("9", first_name="Barbara", last_name="Liskov", domain="initech.com")],
                               frozenset({D.JOB_TITLE}))
        async with adapter("not-the-key") as bad:
            with pytest.raises(Exception, match="API key"):
                await bad.check()

    asyncio.run(go())
    assert not recorder.problems, "\n".join(recorder.problems)
    assert set(_DATAGMA_NAMES.values()) | {"error", "request"} <= recorder.seen


_COGNISM_NAMES = {"/search/contact/enrich": "contact-enrich", "/search/account/enrich": "account-enrich",
                  "/search/contact/search": "search", "/search/contact/redeem": "contact-redeem",
                  "/search/account/redeem": "account-redeem"}


def _cognism(request: httpx.Request, response: httpx.Response) -> list[tuple[str, Any]]:
    assert request.headers["authorization"].startswith("Bearer ")
    out: list[tuple[str, Any]] = []
    name = _COGNISM_NAMES.get(request.url.path, "entitlement")
    if request.method == "POST":
        body = json.loads(request.content)
        out.append(("redeem-request" if name.endswith("redeem") else f"{name}-request", body))
        if name == "search":
            out.append(("search-query", dict(request.url.params)))
    if response.status_code >= 400:
        return [*out, ("error", response.json())]
    return [*out, (name if name == "entitlement" else f"{name}-response", response.json())]


def test_cognism_previews_free_redeems_only_what_fills_a_gap_and_matches_its_docs() -> None:
    from enginy_desktop.adapters.base import AuthError
    from enginy_desktop.sandbox.enrichment import cognism

    app = cognism.create_app()
    em = app.state.sandbox
    recorder = SchemaRecorder(httpx.ASGITransport(app), "cognism", _cognism)
    names = [(f, last, c) for f in ("Ada", "Alan", "Grace", "Ken") for last, c in
             (("Lovelace", "Acme"), ("Turing", "Hooli"), ("Hopper", "Initech"), ("Perlman", "Tyrell"))]
    people = [LookupInput(str(i), first_name=f, last_name=last, company_name=c) for i, (f, last, c) in enumerate(names)]
    people.append(LookupInput("li", linkedin_url="https://www.linkedin.com/in/grace-hopper-1234"))

    def adapter(api_key: str = cognism.DEFAULT_KEY) -> Any:
        conn = Connection("cognism", {"base_url": "https://cognism.test"}, lambda _n: api_key)
        return adapter_class("cognism").from_connection(conn, transport=recorder, retry=RetryPolicy(max_attempts=1))

    async def go() -> None:
        async with adapter() as a:
            assert "e-mails" in (await a.check()).details
            # Job titles and companies only: previews and accounts, not one credit.
            free = await a.lookup(people, frozenset({D.JOB_TITLE, D.INDUSTRY, D.SIZE}))
            assert em.credits.spent_total == 0
            assert sum(1 for r in free if D.JOB_TITLE in r.found) >= 8
            assert sum(1 for r in free if D.INDUSTRY in r.found) >= 8
            # E-mails: only contacts whose preview shows one are redeemed, in one call of at most 20 ids.
            token = json.loads(await a.submit(people, frozenset({D.EMAIL})))
            redeem = [k for k, plan in token["r"].items() if plan.get("c")]
            found = await a.collect(json.dumps(token), people, frozenset({D.EMAIL}))
            assert em.credits.spent_total == len(redeem) == sum(r.credits for r in found)
            assert all(D.EMAIL in r.found for r in found if r.key in redeem)
            unmatched_or_no_email = [r for r in found if r.key not in redeem]
            assert unmatched_or_no_email  # some matched contacts have no e-mail in their preview: not paid for
            assert all(D.EMAIL not in r.found and r.credits == 0 for r in unmatched_or_no_email)
            # Redeeming the same ids again (a resumed run) costs nothing more.
            await a.collect(json.dumps(token), people, frozenset({D.EMAIL}))
            assert em.credits.spent_total == len(redeem)
            companies = await a.lookup(COMPANIES, frozenset({D.COMPANY_DOMAIN, D.INDUSTRY, D.LOCATION}))
            assert all(D.LOCATION in r.found and r.credits == 0 for r in companies)
            em.credits.set(cognism.DEFAULT_KEY, 0)
            with pytest.raises(QuotaExhaustedError, match="HTTP 402"):
                await a.lookup([LookupInput("x", first_name="Linus", last_name="Torvalds", domain="globex.com",
                                            email="linus.torvalds@globex.com")], frozenset({D.EMAIL, D.PHONE}))
            em.credits.set(cognism.DEFAULT_KEY, 10_000)
            em.windows = [RollingWindow(RateLimit(1, 3600.0))]
            with pytest.raises(RateLimitedError, match="HTTP 429"):
                await a.lookup(people[:2], frozenset({D.JOB_TITLE}))
            em.windows = []
        async with adapter("not-the-key") as bad:
            with pytest.raises(AuthError, match="API key"):
                await bad.check()

    asyncio.run(go())
    assert not recorder.problems, "\n".join(recorder.problems)
    assert {"contact-enrich-request", "contact-enrich-response", "account-enrich-response", "search-request",
            "search-response", "search-query", "redeem-request", "contact-redeem-response",
            "account-redeem-response", "entitlement", "error"} <= recorder.seen


def test_cognism_search_reads_its_cursor_forward_only() -> None:
    from enginy_desktop.sandbox.enrichment import cognism

    app = cognism.create_app()

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://cognism.test",
                                     headers={"Authorization": f"Bearer {cognism.DEFAULT_KEY}"}) as client:
            # A name with many namesakes at its company: pages of 20, each after the previous one's last key.
            for first, last, company in (("Ada", "Lovelace", "Acme"), ("Alan", "Turing", "Hooli"),
                                         ("Grace", "Hopper", "Initech"), ("Ken", "Thompson", "Soylent"),
                                         ("Radia", "Perlman", "Tyrell"), ("Linus", "Torvalds", "Globex")):
                body = {"firstName": first, "lastName": last, "account": {"names": [company]}}
                first_page = (await client.post("/search/contact/search", json=body,
                                                params={"indexSize": 20, "lastReturnedKey": ""})).json()
                if first_page["totalResults"] > 20:
                    break
            else:
                raise AssertionError("no name with two pages of namesakes")
            seen: list[str] = []
            key, total = "", None
            while True:
                page = (await client.post("/search/contact/search", json=body,
                                          params={"indexSize": 20, "lastReturnedKey": key})).json()
                total = page["totalResults"]
                seen += [r["id"] for r in page["results"]]
                if len(page["results"]) < 20:
                    break
                key = page["lastReturnedKey"]
            assert len(seen) == len(set(seen)) == total
            jump = await client.post("/search/contact/search", json=body,
                                     params={"indexSize": 20, "lastReturnedKey": seen[5]})
            assert jump.status_code == 400  # not the end of a page handed out: pages cannot be skipped
            assert jump.json()[0]["key"] == "InvalidRequest"

    asyncio.run(go())


class _Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing records the run's end."""


def test_cognism_crash_between_preview_and_redeem_resumes_without_paying_twice(ctx: Any, tmp_path: Path) -> None:
    from enginy_desktop.core.models import EnrichmentRequest

    order = {p: ["cognism"] for p in POINTS}
    clean = _clean_cost(tmp_path, "cognism", order)
    world = EnrichWorld.make(ctx, tmp_path, contacts=20, providers=("cognism",))
    em = world.emulator("cognism")

    class CrashAfterRedeem:
        """The real adapter, except the process 'dies' once the first redeem was answered (and paid for)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def collect(self, *args: Any) -> Any:
            await self.inner.collect(*args)
            raise _Crash()

    info = start_enrichment(ctx, EnrichOptions(world.list_id, POINTS, order))
    with pytest.raises(_Crash):
        asyncio.run(run_enrichment(ctx, info.id, factory=lambda key: CrashAfterRedeem(world.factory(key))))
    paid_before = em.credits.spent_total
    assert paid_before > 0  # the redeem was answered and charged, its answer never recorded
    with ctx.store.session() as s:
        stuck = [r for r in s.query(EnrichmentRequest).filter_by(run_id=info.id, state="in_flight")]
    assert stuck  # the request cut off between its two phases stays in flight, with what it was about to redeem
    assert any(r.job_id and any(plan.get("c") for plan in json.loads(r.job_id)["r"].values()) for r in stuck)
    redeems_before = sum(1 for e in em.requests if e.path == "/search/contact/redeem")
    enrich_before = sum(1 for e in em.requests if e.path == "/search/contact/enrich")
    ctx.runs.finish(info.id, "interrupted", error="Enginy Desktop stopped.")  # what start-up does after a crash
    done = asyncio.run(resume_enrichment(ctx, info.id, factory=world.factory))
    assert done.state == "finished", done.error
    assert world.credits_spent("cognism") == clean  # the journaled ids were redeemed again, free
    # The interrupted request was redeemed from its journaled token, not matched again.
    assert sum(1 for e in em.requests if e.path == "/search/contact/redeem") > redeems_before
    rep = report(ctx, info.id)
    assert next(p for p in rep.providers if p.provider == "cognism").credits == pytest.approx(clean)
    assert enrich_before > 0
    # No record was matched (previewed) again: the resume paid from the journal, not from a new first phase.
    assert sum(1 for e in em.requests if e.path == "/search/contact/enrich") == enrich_before
