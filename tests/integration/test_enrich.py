"""Enrichment runs against the four emulators: waterfall, estimate, cache, provenance, user values, failure modes
(bad key, no credits, rate limit, provider down, the cap, Cancel) each ending resumable with nothing paid twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from enginy_desktop.adapters.enrichment.base import DataPoint as D
from enginy_desktop.adapters.http import RetryPolicy
from enginy_desktop.core.enrich import (
    EnrichOptions,
    default_order,
    estimate,
    provenance,
    report,
    resume_enrichment,
    run_enrichment,
    save_default_order,
    start_enrichment,
)
from enginy_desktop.core.models import Contact
from enginy_desktop.core.runs import CancelToken
from tests.support.enrich_world import EnrichWorld

POINTS = [D.EMAIL, D.EMAIL_STATUS, D.PHONE, D.JOB_TITLE, D.INDUSTRY]


def contacts(ctx: Any) -> dict[int, Contact]:
    with ctx.store.session() as s:
        rows = list(s.scalars(select(Contact)))
        for r in rows:
            s.expunge(r)
    return {r.id: r for r in rows}


def run(ctx: Any, world: EnrichWorld, options: EnrichOptions, token: CancelToken | None = None,
        progress: Any = None) -> Any:
    info = start_enrichment(ctx, options)
    return asyncio.run(run_enrichment(ctx, info.id, factory=world.factory, token=token, progress=progress))


def spent(world: EnrichWorld) -> dict[str, float]:
    return {k: world.credits_spent(k) for k in world.apps}


def test_waterfall_estimate_provenance_and_a_free_rerun(ctx: Any, tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=60)
    before = contacts(ctx)
    order = default_order(ctx)
    order[D.EMAIL] = ["hunter", "apollo", "dropcontact", "lusha"]
    save_default_order(ctx, order)
    assert default_order(ctx)[D.EMAIL][:2] == ["hunter", "apollo"]  # the order is saved as the default
    options = EnrichOptions(world.list_id, POINTS, default_order(ctx))

    est = estimate(ctx, options)
    assert est.records == 60
    assert est.missing["email"] == 54  # 6 of the 60 have an e-mail already
    lines: list[str] = []
    result = run(ctx, world, options, progress=lambda p: lines.append(p.message))
    assert result.state == "finished", result.error
    # The progress line (the window's progress dialog, the command line's stderr) counts what was found so far.
    assert lines[-1].startswith(f"{int(result.counters['found']):,} values found, "), lines[-1]

    # The estimate is an upper bound of what each provider really charged; the report says what it charged.
    rep = report(ctx, result.id)
    by_provider = {p.provider: p for p in rep.providers}
    for pe in est.providers:
        assert world.credits_spent(pe.provider) <= pe.credits
        counted = by_provider[pe.provider].credits
        if pe.provider == "hunter":  # Hunter does not charge a repeated request twice, and does not say which
            assert world.credits_spent("hunter") <= counted
        else:  # the others say what each request cost
            assert counted == pytest.approx(world.credits_spent(pe.provider))
    # Waterfall: Hunter (first for e-mail) is asked for every record missing one; Apollo only for Hunter's misses.
    hunter, apollo = by_provider["hunter"].points["email"], by_provider["apollo"].points["email"]
    assert hunter.asked == 54
    assert apollo.asked == hunter.asked - hunter.found
    assert rep.found > 0
    assert rep.still_missing.get("email", 0) < 54

    after = contacts(ctx)
    sources = provenance(ctx, "contact", list(after))
    for cid, c in after.items():
        old = before[cid]
        if old.email:  # a value the user entered is never replaced
            assert c.email == old.email
            assert "email" not in sources.get(cid, {})
        if old.phone:
            assert c.phone == old.phone
        elif c.email and not old.email:
            src = sources[cid]["email"]
            assert src["provider"] in ("hunter", "apollo", "dropcontact", "lusha")
            assert src["found_at"]
    statuses = [sources[i]["email_status"]["status"] for i in sources if "email_status" in sources[i]]
    assert statuses
    assert all(statuses)

    # Re-running costs nothing: the values are there, and what was not found is answered by the cache.
    paid = spent(world)
    again = estimate(ctx, options)
    assert again.credits_at_most == 0
    second = run(ctx, world, options)
    assert second.state == "finished"
    assert spent(world) == paid
    assert float(second.counters.get("credits", 0)) == 0


def test_replace_asks_again_only_when_asked_and_the_cache_answers(ctx: Any, tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=20, providers=("apollo",))
    options = EnrichOptions(world.list_id, [D.JOB_TITLE], {D.JOB_TITLE: ["apollo"]})
    assert run(ctx, world, options).state == "finished"
    paid = world.credits_spent("apollo")
    titled = {i: c.job_title for i, c in contacts(ctx).items() if c.job_title}
    with ctx.store.write() as s:  # the user types a title of their own in one record
        first = next(iter(titled))
        s.get(Contact, first).job_title = "My own title"
    options.replace = True
    assert run(ctx, world, options).state == "finished"
    assert contacts(ctx)[first].job_title == titled[first]  # replaced, as asked, with the provider's value
    assert world.credits_spent("apollo") == paid  # from the cache: the same lookup is not paid twice


NO_WAIT = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, max_wait=0.5)


def _break(world: EnrichWorld, how: str) -> Any:
    """Make one provider fail the way ``how`` says; returns a function that repairs it."""
    if how == "bad_key":
        world.ctx.integrations.save_connection("hunter", {"api_key": "wrong-key"})
        return lambda: world.ctx.integrations.save_connection("hunter", {"api_key": "hunter-sandbox-key"})
    if how == "no_credits":
        em = world.emulator("lusha")
        em.credits.set("lusha-sandbox-key", 3)
        return lambda: em.credits.set("lusha-sandbox-key", 10_000)
    if how == "rate_limit":
        em = world.emulator("hunter")
        em.set_faults({"error_rate": 0.0})
        for w in em.windows:
            w.try_hit  # noqa: B018 - the windows exist
        from enginy_desktop.sandbox.kit import RateLimit, RollingWindow

        em.windows = [RollingWindow(RateLimit(5, 3600.0))]
        # A caller that will not wait the second Hunter asks for: the run fails at the first refusal instead of
        # after every record's retries (the waiting itself is tested elsewhere).
        world.options["hunter"] = {"retry": NO_WAIT}

        def repair() -> None:
            em.windows = [RollingWindow(RateLimit(1000, 1.0))]
            world.options.pop("hunter")
        return repair
    if how == "down":
        em = world.emulator("apollo")
        em.set_faults({"error_rate": 1.0, "error_status": 503})
        return lambda: em.set_faults({"error_rate": 0.0})
    raise AssertionError(how)


_CLEAN: dict[str, dict[str, float]] = {}


def _clean_cost(tmp_path: Path, order: dict[D, list[str]]) -> dict[str, float]:
    """What the whole run costs when nothing goes wrong: the same list enriched in another workspace (once)."""
    if "cost" not in _CLEAN:
        from enginy_desktop.core.context import AppContext

        clean_dir = tmp_path / "clean"
        clean_dir.mkdir()
        clean_ctx = AppContext.open(clean_dir)
        try:
            clean = EnrichWorld.make(clean_ctx, clean_dir, contacts=30)
            assert run(clean_ctx, clean, EnrichOptions(clean.list_id, POINTS, order)).state == "finished"
            _CLEAN["cost"] = spent(clean)
        finally:
            clean_ctx.close()
    return _CLEAN["cost"]


@pytest.mark.parametrize(("how", "provider", "words"), [
    ("bad_key", "hunter", "did not accept the API key"),
    ("no_credits", "lusha", "no credits left"),
    ("rate_limit", "hunter", "rate limit"),
    ("down", "apollo", "could not answer"),
])
def test_failures_end_resumable_with_nothing_paid_twice(ctx: Any, tmp_path: Path, how: str, provider: str,
                                                         words: str) -> None:
    order = {p: ["apollo", "hunter", "lusha", "dropcontact"] for p in POINTS}
    order = {p: [k for k in ks if k in default_order(ctx, ready_only=False)[p]] for p, ks in order.items()}
    clean_cost = _clean_cost(tmp_path, order)
    world = EnrichWorld.make(ctx, tmp_path, contacts=30)
    repair = _break(world, how)
    info = start_enrichment(ctx, EnrichOptions(world.list_id, POINTS, order))
    failed = asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))
    assert failed.state == "failed"
    assert failed.resumable
    assert words in (failed.error or "")
    assert "resum" in (failed.error or "")
    assert "sandbox-key" not in (failed.error or "")  # no secret in the message
    repair()
    done = asyncio.run(resume_enrichment(ctx, info.id, factory=world.factory))
    assert done.state == "finished", done.error
    assert spent(world) == clean_cost  # nothing was paid twice
    assert report(ctx, info.id).credits >= sum(clean_cost.values()) - 1e-9


@pytest.mark.parametrize(("provider", "cap"), [("hunter", 10), ("lusha", 5), ("apollo", 3)])
def test_the_cap_splits_the_last_request_stops_and_a_higher_cap_resumes(ctx: Any, tmp_path: Path, provider: str,
                                                                         cap: int) -> None:
    """A cap smaller than one bulk request (Lusha's 100, Apollo's 10) still spends up to it: the last request is
    split to fit, and the run says how many records it left for lack of credit."""
    world = EnrichWorld.make(ctx, tmp_path, contacts=40, providers=(provider,))
    options = EnrichOptions(world.list_id, [D.EMAIL], {D.EMAIL: [provider]}, max_credits=cap)
    assert estimate(ctx, options).over_cap
    stopped = run(ctx, world, options)
    # A stop at the cap is not a cancel: it is paused there, resumable with a higher cap.
    assert stopped.state_label == "Paused at cap"
    assert stopped.resumable
    assert f"cap of {cap} credits" in (stopped.error or "")
    assert 0 < world.credits_spent(provider) <= cap
    rep = report(ctx, stopped.id)
    assert 0 < rep.left_by_cap < 40
    assert f"{rep.left_by_cap} records still had a provider to ask, left for lack of credit" in (stopped.error or "")
    assert rep.as_json()["records_left_for_lack_of_credit"] == rep.left_by_cap
    done = asyncio.run(resume_enrichment(ctx, stopped.id, max_credits=1000, factory=world.factory))
    assert done.state == "finished"
    assert report(ctx, done.id).left_by_cap == 0
    assert report(ctx, done.id).still_missing.get("email", 0) < 40


@pytest.mark.parametrize("first", [D.EMAIL, D.PHONE])
def test_under_a_cap_the_points_are_paid_for_in_the_order_asked(ctx: Any, tmp_path: Path, first: D) -> None:
    """--find email,phone with a cap: every e-mail is asked (Apollo) before any phone (Hunter), and the other way
    round; the later point's worst case never holds the cap while the first one waits."""
    world = EnrichWorld.make(ctx, tmp_path, contacts=40, providers=("apollo", "hunter"))
    order = {D.EMAIL: ["apollo"], D.PHONE: ["hunter"]}
    points = [first, D.PHONE if first is D.EMAIL else D.EMAIL]
    stopped = run(ctx, world, EnrichOptions(world.list_id, points, order, max_credits=40))
    assert stopped.state_label == "Paused at cap"
    by = {p.provider: p for p in report(ctx, stopped.id).providers}
    provider = order[first][0]
    assert by[provider].points[first.value].asked == 36  # every record missing it was asked about it first
    assert world.credits_spent("apollo") + world.credits_spent("hunter") <= 40


@pytest.mark.parametrize(("provider", "asked_again"), [("hunter", True), ("proxycurl", False)])
def test_a_request_cut_off_by_a_crash_is_asked_again_only_where_a_repeat_is_free(
        ctx: Any, tmp_path: Path, provider: str, asked_again: bool) -> None:
    """Hunter does not charge a repeated request: its cut-off records are asked again. Enrich Layer charges every
    call: its cut-off records are not asked again in this run (nothing paid twice) and the report says so."""
    from enginy_desktop.core.models import EnrichmentRequest

    world = EnrichWorld.make(ctx, tmp_path, contacts=12, providers=(provider,), linkedin=True)
    options = EnrichOptions(world.list_id, [D.EMAIL], {D.EMAIL: [provider]})
    info = start_enrichment(ctx, options)
    cut = sorted(contacts(ctx))[:3]
    with ctx.store.write() as s:  # what a kill between sending a request and recording its answer leaves
        s.add(EnrichmentRequest(run_id=info.id, provider=provider, record_ids=cut, points=["email"],
                                state="in_flight", credits=0.0, found={}, asked={"email": 3}))
    done = asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))
    assert done.state == "finished", done.error
    rep = report(ctx, info.id)
    log = " ".join(f"{r.path}?{r.query}" for r in world.emulator(provider).requests)
    people = [contacts(ctx)[i] for i in cut]  # Hunter is asked by name, Enrich Layer by LinkedIn URL
    assert all((f"first_name={c.first_name}" in log or str(c.linkedin_url).rstrip("/").rsplit("/", 1)[-1] in log)
               is asked_again for c in people)
    assert (rep.reasked, rep.not_reasked) == ((3, 0) if asked_again else (0, 3))
    pr = next(p for p in rep.providers if p.provider == provider)
    assert pr.repeat == ("free" if asked_again else "charged")
    assert "http" in pr.repeat_note  # the vendor's page that says so
    assert pr.points["email"].asked > pr.points["email"].found


def test_a_journaled_dropcontact_batch_is_fetched_within_its_30_days_and_not_polled_for_ever_after(
        ctx: Any, tmp_path: Path) -> None:
    """Dropcontact keeps a batch's results 30 days (https://developer.dropcontact.com/en/errors/): its emulator
    answers the same id again and again until then, like an unknown id after; a run resumed later than that does
    not poll the journaled batch for ever — its records are counted as not asked again (nothing paid twice)."""
    from datetime import timedelta

    from enginy_desktop.adapters.enrichment.base import LookupInput
    from enginy_desktop.core.models import EnrichmentRequest, utcnow

    world = EnrichWorld.make(ctx, tmp_path, contacts=12, providers=("dropcontact",))
    em = world.emulator("dropcontact")
    people = sorted(contacts(ctx).values(), key=lambda c: c.id)[:3]
    inputs = [LookupInput(str(c.id), first_name=c.first_name or "", last_name=c.last_name or "",
                          company_name=c.company_name or "") for c in people]

    async def submit_and_fetch(now: list[float]) -> tuple[str, list[Any]]:
        adapter = world.factory("dropcontact")
        try:
            job = await adapter.submit(inputs, frozenset({D.EMAIL}))
            answers = []
            for day in (0, 29, 30.001):  # fetched again within 30 days; gone after
                now[0] = day * 86_400.0
                answers.append(await adapter.collect(job, inputs, frozenset({D.EMAIL}))
                               or await adapter.collect(job, inputs, frozenset({D.EMAIL})))
            return job, answers
        finally:
            await adapter.aclose()

    now = [0.0]
    clock, em.cfg.clock = em.cfg.clock, lambda: now[0]
    try:
        job, answers = asyncio.run(submit_and_fetch(now))
    finally:
        em.cfg.clock = clock
    assert answers[0] is not None
    assert answers[1] == answers[0]
    assert answers[2] is None  # answered "not ready", as for an unknown id

    info = start_enrichment(ctx, EnrichOptions(world.list_id, [D.EMAIL], {D.EMAIL: ["dropcontact"]}))
    with ctx.store.write() as s:  # a run killed 31 days ago while its batch was polled
        s.add(EnrichmentRequest(run_id=info.id, provider="dropcontact", record_ids=[c.id for c in people],
                                points=["email"], state="in_flight", credits=0.0, found={}, asked={"email": 3},
                                job_id=job, created_at=utcnow() - timedelta(days=31)))
    polls = sum(1 for e in em.requests if e.path.endswith(job))
    done = asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))
    assert done.state == "finished", done.error
    assert sum(1 for e in em.requests if e.path.endswith(job)) == polls  # not polled: its answers are gone
    rep = report(ctx, info.id)
    assert (rep.reasked, rep.not_reasked) == (0, 3)
    with ctx.store.session() as s:
        lost = s.scalars(select(EnrichmentRequest).where(EnrichmentRequest.job_id == job)).one()
        assert lost.state == "lost"
        assert "30 days" in (lost.error or "")


def test_cancel_keeps_what_was_found_and_resume_finishes(ctx: Any, tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=30, providers=("dropcontact",))
    token = CancelToken()
    token.cancel()
    options = EnrichOptions(world.list_id, [D.EMAIL, D.PHONE], {D.EMAIL: ["dropcontact"], D.PHONE: ["dropcontact"]})
    cancelled = run(ctx, world, options, token)
    assert cancelled.state == "cancelled"
    assert world.credits_spent("dropcontact") == 0
    done = asyncio.run(resume_enrichment(ctx, cancelled.id, factory=world.factory))
    assert done.state == "finished"
    assert report(ctx, done.id).found > 0


@pytest.mark.parametrize("key", ["apollo", "hunter", "lusha", "dropcontact"])
def test_test_connection_shows_the_account_and_credits_left(ctx: Any, tmp_path: Path, key: str) -> None:
    import httpx

    from enginy_desktop.core.services.adapters import AdapterFactory
    from enginy_desktop.core.services.connection_test import run_connection_test, supports

    world = EnrichWorld.make(ctx, tmp_path, contacts=2, providers=(key,), credits=1234)
    assert supports(key)
    ctx.adapters = AdapterFactory(ctx, transport=httpx.ASGITransport(world.apps[key]))
    ok = asyncio.run(run_connection_test(ctx, key))
    assert ok.ok, ok.message
    if key != "apollo":  # Apollo's API does not report credits, and says so
        assert "1,234" in ok.message
    else:
        assert "does not report the credits" in ok.message
    if key == "lusha":  # Lusha's usage key in words, not as its API spells it
        assert "bulk credits: 0 used of 1,234" in ok.message
        assert "bulkCredits" not in ok.message
    ctx.integrations.save_connection(key, {"api_key": "not-the-key"})
    bad = asyncio.run(run_connection_test(ctx, key))
    assert not bad.ok
    assert "API key" in bad.message
    assert "not-the-key" not in bad.message


def test_one_enrichment_of_a_list_at_a_time(ctx: Any, tmp_path: Path) -> None:
    from enginy_desktop.core.runs import RunBusyError

    world = EnrichWorld.make(ctx, tmp_path, contacts=5, providers=("apollo",))
    options = EnrichOptions(world.list_id, [D.JOB_TITLE], {D.JOB_TITLE: ["apollo"]})
    first = start_enrichment(ctx, options)
    ctx.runs.start(first.id)
    with pytest.raises(RunBusyError, match="enrichment"):
        start_enrichment(ctx, options)
    assert asyncio.run(run_enrichment(ctx, first.id, factory=world.factory)).state == "finished"
    assert run(ctx, world, options).state == "finished"  # the lease is given up when the run ends


def test_a_companies_list_gets_domain_industry_size_revenue_and_location(ctx: Any, tmp_path: Path) -> None:
    from enginy_desktop.core.models import Company
    from enginy_desktop.core.services.workspace import WorkspaceService

    world = EnrichWorld.make(ctx, tmp_path, contacts=1, providers=("apollo", "lusha"))
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text("Name,Domain\nAcme,\nGlobex,globex.com\nInitech,\nHooli,hooli.com\nUmbrella,\n", "utf-8")
    result = WorkspaceService(ctx.store).import_csv(csv_file, "company", "Accounts")
    points = [D.COMPANY_DOMAIN, D.INDUSTRY, D.SIZE, D.REVENUE, D.LOCATION]
    options = EnrichOptions(int(result.list_id), points, {p: ["apollo", "lusha"] for p in points})
    assert estimate(ctx, options).missing["industry"] == 5
    done = run(ctx, world, options)
    assert done.state == "finished"
    with ctx.store.session() as s:
        rows = {c.name: c for c in s.scalars(select(Company))}
    assert rows["Globex"].domain == "globex.com"  # entered: kept
    filled = [c for c in rows.values() if c.industry and c.size and c.country]
    assert len(filled) >= 3
    assert any(c.revenue for c in rows.values())
    sources = provenance(ctx, "company", [c.id for c in filled])
    assert all("industry" in sources[c.id] for c in filled)
