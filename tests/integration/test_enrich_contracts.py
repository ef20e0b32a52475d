"""The enrichment adapters and emulators speak the vendors' APIs: every exchange of an enrichment run is checked,
both ways, against Apollo's and Lusha's own OpenAPI descriptions (``../shared/specs/apollo``, ``specs/lusha``), and
against JSON Schemas written from Hunter's and Dropcontact's documentation (``tests/schemas/``, each citing its
page) — including their error answers (bad key, credits, rate limit)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from enginy_desktop.adapters.enrichment.base import DataPoint as D
from enginy_desktop.adapters.enrichment.base import LookupInput, adapter_class
from enginy_desktop.adapters.http import RetryPolicy
from enginy_desktop.sandbox.enrichment import apollo, dropcontact, hunter, lusha

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
PEOPLE = [LookupInput(str(i), first_name=first, last_name=last, company_name=c, domain=d)
          for i, (first, last, c, d) in enumerate([("Ada", "Lovelace", "Acme", ""), ("Alan", "Turing", "", "hooli.com"),
                                            ("Grace", "Hopper", "Initech", ""), ("Nobody", "Known", "Acme", ""),
                                            ("Linus", "Torvalds", "Globex", ""), ("Tim", "Berners", "Tyrell", "")])]
COMPANIES = [LookupInput("c1", company_name="Acme"), LookupInput("c2", domain="umbrella.com")]
ALL = frozenset(D)


class StripPrefix(httpx.AsyncBaseTransport):
    """Sends ``/api/v1/...`` (Apollo's server path, as the spec has it) to the emulator's routes at the root."""

    def __init__(self, inner: httpx.AsyncBaseTransport, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        if path.startswith(self.prefix):  # a copy: the recorder keeps the request as it was sent
            url = request.url.copy_with(raw_path=path[len(self.prefix):].encode() or b"/")
            request = httpx.Request(request.method, url, headers=request.headers, content=request.content)
        return await self.inner.handle_async_request(request)


def _connection(key: str, api_key: str, base_url: str) -> Any:
    from enginy_desktop.adapters.base import Connection

    return Connection(key, {"base_url": base_url}, lambda _name: api_key)


async def _drive(key: str, module: Any, transport: Any, base_url: str, **opts: Any) -> None:
    fast = RetryPolicy(max_attempts=1)
    cls = adapter_class(key)
    adapter = cls.from_connection(_connection(key, module.DEFAULT_KEY, base_url), transport=transport, retry=fast,
                                  **opts)
    async with adapter:
        await adapter.check()
        await adapter.lookup(PEOPLE[:1], ALL)  # single lookups
        await adapter.lookup(PEOPLE, ALL)  # bulk
        if key in ("apollo", "lusha"):
            await adapter.lookup(COMPANIES, frozenset({D.COMPANY_DOMAIN, D.INDUSTRY, D.SIZE}))
            await adapter.lookup(COMPANIES[1:], frozenset({D.COMPANY_DOMAIN, D.INDUSTRY, D.SIZE}))
        if key == "hunter":
            await adapter.lookup([LookupInput("v", email="ada.lovelace@acme.com")], frozenset({D.EMAIL_STATUS}))
    bad = cls.from_connection(_connection(key, "not-the-key", base_url), transport=transport, retry=fast, **opts)
    async with bad:
        with pytest.raises(Exception, match="API key"):
            await bad.lookup(PEOPLE[:2], ALL)


@pytest.mark.parametrize(("key", "module", "base_url"), [
    ("apollo", apollo, "https://api.apollo.io/api/v1"),
    ("lusha", lusha, "https://api.lusha.com"),
])
def test_apollo_and_lusha_traffic_matches_their_openapi(shared_dir: Path, key: str, module: Any,
                                                       base_url: str) -> None:
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir, vendor=key)
    app = module.create_app()
    inner: httpx.AsyncBaseTransport = httpx.ASGITransport(app)
    if key == "apollo":
        inner = StripPrefix(inner, "/api/v1")
    asyncio.run(_drive(key, module, recorder.wrap(inner), base_url))
    recorder.assert_all_valid()
    # Out of credits: Apollo answers 422 {"error": "Insufficient credits…"} (seen in production), Lusha 402 (its
    # error-codes page and V3 description; the V2 file does not list 402). Apollo's spec makes every 422 body invalid
    # (a oneOf of two identical schemas). So for these answers only the requests are checked against the spec.
    em = app.state.sandbox
    em.set_faults({"credits_exhausted": True})
    errors = ContractRecorder.for_shared_dir(shared_dir, vendor=key)
    asyncio.run(_expect_error(key, module, errors.wrap(inner), base_url, "credits"))
    errors.assert_all_valid(requests_only=True)
    assert errors.exchanges
    ops = recorder.operations()
    assert ops
    wanted = {"apollo": ["/people/match", "/people/bulk_match", "/organizations/enrich", "/organizations/bulk_enrich"],
              "lusha": ["/v2/person", "/v2/company", "/account/usage"]}[key]
    for path in wanted:
        assert any(path in op for op in ops), (path, ops)


async def _expect_error(key: str, module: Any, transport: Any, base_url: str, words: str) -> None:
    adapter = adapter_class(key).from_connection(_connection(key, module.DEFAULT_KEY, base_url), transport=transport,
                                                 retry=RetryPolicy(max_attempts=1))
    # People this account has not paid for yet: neither vendor charges again for someone already revealed.
    fresh = [LookupInput(f"n{i}", first_name=f, last_name="Newcomer", company_name="Vandelay")
             for i, f in enumerate(("Ann", "Bob", "Cy", "Di", "Ed", "Flo"))]
    async with adapter:
        with pytest.raises(Exception, match=words):
            await adapter.lookup(fresh, ALL)


def _schema(vendor: str, name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMAS / vendor / f"{name}.json").read_text("utf-8")),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


class SchemaRecorder(httpx.AsyncBaseTransport):
    """Records every exchange and checks it against the schema ``choose(request, response)`` names."""

    def __init__(self, inner: httpx.AsyncBaseTransport, vendor: str, choose: Any) -> None:
        self.inner, self.vendor, self.choose = inner, vendor, choose
        self.problems: list[str] = []
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        for name, instance in self.choose(request, response):
            self.seen.append(name)
            errors = list(_schema(self.vendor, name).iter_errors(instance))
            self.problems += [f"{request.method} {request.url.path} ({name}): {e.message}" for e in errors]
        return response


def _hunter_schemas(request: httpx.Request, response: httpx.Response) -> list[tuple[str, Any]]:
    if response.status_code == 202:
        return []
    body = response.json()
    if response.status_code >= 400:
        return [("error", body)]
    name = request.url.path.strip("/").split("/")[-1]
    return [(name, body)]


def _dropcontact_schemas(request: httpx.Request, response: httpx.Response) -> list[tuple[str, Any]]:
    body = response.json()
    out: list[tuple[str, Any]] = []
    if response.status_code >= 400:
        return [("error", body)]
    if request.method == "POST":
        out.append(("submit-request", json.loads(request.content)))
        out.append(("submit-response", body))
    elif request.url.path.endswith("/account/credits"):
        out.append(("credits", body))
    else:
        out.append(("fetch-response", body))
    return out


@pytest.mark.parametrize(("key", "module", "choose", "errors"), [
    ("hunter", hunter, _hunter_schemas, {"email-finder", "email-verifier", "domain-search", "account", "error"}),
    ("dropcontact", dropcontact, _dropcontact_schemas,
     {"submit-request", "submit-response", "fetch-response", "credits", "error"}),
])
def test_hunter_and_dropcontact_traffic_matches_schemas_from_their_docs(key: str, module: Any, choose: Any,
                                                                        errors: set[str]) -> None:
    app = module.create_app()
    recorder = SchemaRecorder(httpx.ASGITransport(app), key, choose)
    opts = {"poll_every": 0.01, "poll_max": 0.02} if key == "dropcontact" else {}
    asyncio.run(_drive(key, module, recorder, f"https://{key}.test", **opts))
    app.state.sandbox.set_faults({"credits_exhausted": True})
    words = "credits"
    adapter = adapter_class(key).from_connection(_connection(key, module.DEFAULT_KEY, f"https://{key}.test"),
                                                 transport=recorder, retry=RetryPolicy(max_attempts=1), **opts)

    fresh = [LookupInput(f"n{i}", first_name=f, last_name="Newcomer", company_name="Vandelay")
             for i, f in enumerate(("Ann", "Bob", "Cy", "Di", "Ed", "Flo"))]  # not asked yet: Hunter charges them

    async def spend() -> None:
        async with adapter:
            with pytest.raises(Exception, match=words):
                await adapter.lookup(fresh, ALL)

    asyncio.run(spend())
    assert not recorder.problems, "\n".join(recorder.problems)
    assert errors <= set(recorder.seen)


def test_hunter_status_codes_are_hunters_own() -> None:
    """403 is Hunter's rate limit and 429 its credits (the opposite of most APIs)."""
    from enginy_desktop.adapters.base import QuotaExhaustedError, RateLimitedError
    from enginy_desktop.sandbox.kit import RateLimit, RollingWindow

    app = hunter.create_app()
    em = app.state.sandbox
    em.windows = [RollingWindow(RateLimit(1, 3600.0))]
    adapter = adapter_class("hunter").from_connection(
        _connection("hunter", hunter.DEFAULT_KEY, "https://hunter.test"), transport=httpx.ASGITransport(app),
        retry=RetryPolicy(max_attempts=1))

    async def go() -> None:
        async with adapter:
            await adapter.lookup(PEOPLE[:1], frozenset({D.EMAIL}))
            with pytest.raises(RateLimitedError, match="HTTP 403"):
                await adapter.lookup(PEOPLE[1:2], frozenset({D.EMAIL}))
            em.windows = []
            em.credits.set(hunter.DEFAULT_KEY, 0)
            with pytest.raises(QuotaExhaustedError, match="HTTP 429"):
                await adapter.lookup(PEOPLE[2:3], frozenset({D.EMAIL}))

    asyncio.run(go())
