"""TheirStack import: free count, credits against a cap, paged import with de-duplication, limits, resume."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from enginy_desktop.adapters.sources.theirstack import TheirStackAdapter, parse_ratelimit
from enginy_desktop.core.imports.theirstack import (
    ImportError_,
    TheirStackFilters,
    plan_import,
    run_import,
)
from enginy_desktop.core.models import Company, ContactList, ListMembership
from enginy_desktop.core.runs import CancelToken
from enginy_desktop.core.services.adapters import AdapterFactory
from enginy_desktop.sandbox.sources.theirstack import SANDBOX_KEY, TheirStackSandbox, TheirStackSandboxConfig
from tests.support.ai_world import add_list

PY = TheirStackFilters(technologies=("python",))


def connect(ctx: Any, config: TheirStackSandboxConfig | None = None,
            plan: str = "Paid") -> tuple[TheirStackSandbox, httpx.ASGITransport]:
    sandbox = TheirStackSandbox(config or TheirStackSandboxConfig(companies=600))
    ctx.integrations.save_connection("theirstack", {"api_key": SANDBOX_KEY, "plan": plan})
    ctx.integrations.enable("theirstack")
    transport = httpx.ASGITransport(app=sandbox.app)
    ctx.adapters = AdapterFactory(ctx, transport=transport)  # every adapter the engines open talks to the emulator
    return sandbox, transport


def list_domains(ctx: Any, name: str) -> list[str]:
    with ctx.store.session() as s:
        lst = s.scalar(select(ContactList).where(ContactList.name == name))
        assert lst is not None
        return list(s.scalars(select(Company.domain).join(ListMembership, ListMembership.record_id == Company.id)
                              .where(ListMembership.list_id == lst.id)))


def test_the_free_count_costs_nothing_and_the_plan_says_the_credits(ctx: Any) -> None:
    sandbox, _transport = connect(ctx)
    plan = asyncio.run(plan_import(ctx, PY, "Python shops", 50))
    expected = len(sandbox._filter({"company_technology_slug_or": ["python"]}))
    assert plan.matching == expected > 50
    assert (plan.to_import, plan.credits) == (50, 150)
    assert sandbox.used_credits == 0
    assert sandbox.stats.free_counts == 1
    assert "150 API credits" in plan.text
    assert "free count" in plan.text
    with pytest.raises(ImportError_, match="at least one filter"):
        asyncio.run(plan_import(ctx, TheirStackFilters(), "X", 10))
    with pytest.raises(ImportError_, match="two-letter"):
        asyncio.run(plan_import(ctx, TheirStackFilters(countries=("Spain",)), "X", 10))


def test_import_pages_into_a_list_never_paying_for_a_known_domain(ctx: Any) -> None:
    sandbox, _transport = connect(ctx, TheirStackSandboxConfig(companies=3000))
    matches = sandbox._filter({"company_technology_slug_or": ["python"], "company_country_code_or": ["ES"]})
    assert len(matches) > 50
    known = matches[:3]
    add_list(ctx, "Spain", "companies", Company, [{"name": c["name"], "domain": c["domain"]} for c in known])
    elsewhere = matches[3]
    add_list(ctx, "Other", "companies", Company, [{"name": elsewhere["name"], "domain": elsewhere["domain"]}])
    filters = TheirStackFilters(technologies=("python",), countries=("es",))
    result = asyncio.run(run_import(ctx, filters, "Spain", 40, page_size=15))
    c = result.counters
    assert result.run.state == "finished", result.message
    assert c["added"] + c["linked"] == 40
    assert c["linked"] == 1
    assert c["credits"] == sandbox.stats.credits_charged == 3 * 40  # never a credit for a known domain
    domains = list_domains(ctx, "Spain")
    assert len(domains) == len(set(domains)) == 43
    assert {k["domain"] for k in known} <= set(domains)
    assert sandbox.stats.excluded_domains_max == 3
    with ctx.store.session() as s:
        row = s.scalar(select(Company).where(Company.domain == matches[5]["domain"]))
        assert row is not None
        assert row.source == "TheirStack"
        assert "Python" in row.custom_fields["Technologies"]
        assert s.scalar(select(Company.id).where(Company.domain == elsewhere["domain"]).limit(2)) is not None
        assert len(s.scalars(select(Company.id).where(Company.domain == elsewhere["domain"])).all()) == 1


def test_hiring_signals_are_kept_and_a_contacts_list_is_refused(ctx: Any) -> None:
    _sandbox, _transport = connect(ctx)
    filters = TheirStackFilters(job_titles=("engineer",), posted_within_days=30)
    result = asyncio.run(run_import(ctx, filters, "Hiring", 10))
    assert result.counters["added"] == 10
    with ctx.store.session() as s:
        hiring = [c.custom_fields.get("Hiring for", "") for c in s.scalars(select(Company).where(
            Company.source == "TheirStack"))]
    assert all("Engineer" in h for h in hiring)
    from enginy_desktop.core.models import Contact

    add_list(ctx, "People", "contacts", Contact, [{"first_name": "A"}])
    with pytest.raises(ImportError_, match="list of contacts"):
        asyncio.run(run_import(ctx, PY, "People", 5))


def test_cancel_then_resume_pays_each_company_once(ctx: Any) -> None:
    sandbox, transport = connect(ctx)
    token = CancelToken()

    class CancelAfterTwoPages(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await transport.handle_async_request(request)
            if sandbox.stats.companies_returned >= 20:
                token.cancel()  # the user presses Cancel while the second page is answered
            return response

    ctx.adapters = AdapterFactory(ctx, transport=CancelAfterTwoPages())
    first = asyncio.run(run_import(ctx, PY, "Py", 60, page_size=10, token=token))
    assert first.run.state == "cancelled"
    assert 20 <= first.counters["added"] < 60
    ctx.adapters = AdapterFactory(ctx, transport=transport)
    resumed = asyncio.run(run_import(ctx, run_id=first.run_id))
    assert resumed.run.state == "finished"
    assert resumed.counters["added"] == 60
    assert sandbox.stats.credits_charged == 180
    assert len(set(list_domains(ctx, "Py"))) == 60


def test_credits_running_out_stops_the_import_and_keeps_what_was_paid(ctx: Any) -> None:
    sandbox, _transport = connect(ctx, TheirStackSandboxConfig(companies=600, api_credits=75))
    result = asyncio.run(run_import(ctx, PY, "Py", 60, page_size=10))
    assert result.run.state == "failed"
    assert "credits" in result.message
    assert result.counters["added"] == 20
    assert sandbox.used_credits == 60
    plan = asyncio.run(plan_import(ctx, PY, "Py", 60))
    assert plan.balance == 15
    assert not plan.enough_credits


def test_the_free_plan_limits_and_ratelimit_headers_are_obeyed(ctx: Any) -> None:
    now = [0.0]
    sandbox = TheirStackSandbox(TheirStackSandboxConfig(companies=300, plan="free"), clock=lambda: now[0])
    transport = httpx.ASGITransport(app=sandbox.app)

    async def go() -> list[float]:
        ts = TheirStackAdapter(SANDBOX_KEY, "http://ts", plan="Free", transport=transport)
        for lim in ts.limiters.values():
            lim._clock = lambda: now[0]  # the limiter and the emulator share a clock

        async def fake_sleep(seconds: float) -> None:
            now[0] += max(seconds, 0.001)

        real_sleep = asyncio.sleep
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        starts: list[float] = []
        try:
            for _ in range(12):
                await ts.count(PY.body())
        finally:
            asyncio.sleep = real_sleep
            await ts.aclose()
        return starts

    asyncio.run(go())
    starts = list(sandbox._calls[SANDBOX_KEY])  # when each call reached the emulator
    assert len(starts) == 12
    assert sandbox.stats.rate_limited == 0
    assert starts[10] - starts[0] >= 60  # the 11th call waited for the per-minute window
    assert max(sum(1 for t in starts if a <= t < a + 1) for a in starts) <= 4
    items = parse_ratelimit('"per-second";r=3;t=1, "per-minute";r=0;t=42')
    assert items == [("per-second", 3, 1), ("per-minute", 0, 42)]


def test_not_connected_says_how_to_connect(ctx: Any) -> None:
    with pytest.raises(ImportError_, match="online service"):
        asyncio.run(plan_import(ctx, PY, "X", 10))


class _Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, bytes, httpx.Response, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.exchanges.append((request, body, response, content))
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)


def test_contract_requests_and_answers_match_the_schemas_written_from_the_docs(ctx: Any) -> None:
    import json
    from pathlib import Path

    import jsonschema

    here = Path(__file__).resolve().parents[1] / "contracts" / "theirstack"
    schemas = {p.stem: json.loads(p.read_text()) for p in here.glob("*.json")}
    for schema in schemas.values():
        assert "theirstack.com/en/docs" in schema["$comment"]
    _sandbox, transport = connect(ctx, TheirStackSandboxConfig(companies=600, api_credits=120, fail_every=4))
    rec = _Recorder(transport)
    add_list(ctx, "Py", "companies", Company, [{"name": "Known", "domain": "known.example"}])
    ctx.adapters = AdapterFactory(ctx, transport=rec)
    asyncio.run(plan_import(ctx, PY, "Py", 50))
    asyncio.run(run_import(ctx, PY, "Py", 50, page_size=20))  # runs out of credits at 40
    seen = set()
    for request, body, response, content in rec.exchanges:
        answer = json.loads(content)
        if request.url.path == "/v1/companies/search":
            jsonschema.validate(json.loads(body), schemas["company_search_request"])
            jsonschema.validate({k.lower(): v for k, v in response.headers.items()}, schemas["ratelimit_headers"])
        if response.status_code >= 400:
            jsonschema.validate(answer, schemas["error"])
            seen.add(response.status_code)
        elif request.url.path == "/v1/companies/search":
            jsonschema.validate(answer, schemas["company_search_response"])
        else:
            jsonschema.validate(answer, schemas["credit_balance"])
    assert {402, 503} <= seen
