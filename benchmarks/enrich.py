"""Enrichment benchmark (DESIGN §12, §13): credits per value found with the waterfall against asking every enabled
provider for every record, the cost of a re-run, and records/s against each provider's rate limit.

    python benchmarks/enrich.py                    # 10,000 contacts, the four emulators, rate part on 3,000 records
    python benchmarks/enrich.py --contacts 2000 --rate-records 1500 --runs 3
    python benchmarks/enrich.py --providers all    # every provider with an emulator in the waterfall

**Credits** (in-process emulators, no rate limit: limits do not change what is charged). A list of ``--contacts``
made-up people (names and companies; one in ten with an e-mail, one in ten with a phone) is enriched for e-mail,
phone, job title and industry:

- the waterfall (``--providers``, by default Apollo, Hunter, Lusha, Dropcontact in that order for every point, each
  asked only for what is still missing): ``credits_per_value_found``;
- the naive way, in the same run: every provider asked for every record and every point (four workspaces, one
  provider each); the values found are the union of what they found: ``naive_credits_per_value_found``, and
  ``waterfall_vs_naive_ratio`` (lower is better);
- ``credits_on_rerun``: the waterfall run again on the same list (0: values kept, misses cached).

**Rate** (each emulator on loopback, at its documented limit scaled five times faster in time — "500 a minute"
becomes "500 per 12 s" — so a few windows pass in seconds; the ratio is what a real minute would give). Each
provider alone on ``--rate-records`` records: ``<provider>_records_per_s``, its ceiling (requests per second the
limit allows × records per request) and ``<provider>_vs_ceiling`` — measured from the emulator's own arrival times
over whole windows (the requests sent before the last window opened, over the time until it opened: the last one is
only partly used). Dropcontact's batches are paced by its processing (submit, then poll), not by its limit of 60
requests per second: its ratio is printed for what it is.

``peak_memory_mb``: the process's peak memory. Credits are deterministic (same data, same answers); the rates are the
median of ``--runs`` runs.

A provider is benchmarked when it has an adapter (``ADAPTERS``) and an emulator (``tests/support/enrich_world.py``);
its rate is measured when :data:`LIMITS` has its line (the emulator's documented limit): add yours there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keyring  # noqa: E402

from tests.support.memory_keyring import MemoryKeyring  # noqa: E402

keyring.set_keyring(MemoryKeyring())

from enginy_desktop.adapters.base import RateLimit  # noqa: E402
from enginy_desktop.adapters.enrichment.base import ADAPTERS, adapter_class  # noqa: E402
from enginy_desktop.adapters.enrichment.base import DataPoint as D  # noqa: E402
from enginy_desktop.adapters.http import RetryPolicy  # noqa: E402
from enginy_desktop.core.context import AppContext  # noqa: E402
from enginy_desktop.core.enrich import EnrichOptions, report, run_enrichment, start_enrichment  # noqa: E402
from enginy_desktop.core.enrich.plan import iter_rows  # noqa: E402
from enginy_desktop.core.enrich.points import is_missing  # noqa: E402
from enginy_desktop.core.fields import RecordKind  # noqa: E402
from enginy_desktop.sandbox.kit import RateLimit as EmuLimit  # noqa: E402
from enginy_desktop.sandbox.kit import RollingWindow  # noqa: E402
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402
from tests.support.enrich_world import MODULES, EnrichWorld  # noqa: E402

FOUR = ("apollo", "hunter", "lusha", "dropcontact")  # the waterfall the figures are quoted for
POINTS = [D.EMAIL, D.PHONE, D.JOB_TITLE, D.INDUSTRY]
SCALE = 5.0  # limits run five times faster in time


def out(name: str, value: float, unit: str = "") -> None:
    shown = f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"
    print(f"{name}: {shown} {unit}".rstrip(), flush=True)


def _world(tmp: Path, contacts: int, providers: tuple[str, ...],
           linkedin: bool = False) -> tuple[AppContext, EnrichWorld]:
    tmp.mkdir(parents=True, exist_ok=True)
    ctx = AppContext.open(tmp)
    # Kaspr starts from LinkedIn profile URLs: its list has one per row (the waterfall's list has none).
    world = EnrichWorld.make(ctx, tmp, contacts=contacts, providers=providers, credits=10_000_000,
                             linkedin=linkedin or "kaspr" in providers)
    for key in providers:  # the credit part: no rate limits (they do not change what is charged)
        _unlimit(world.emulator(key))
    fast = RateLimit(100_000, 1.0)
    world.options = {k: {"rate_limit": fast} for k in providers}
    world.options.setdefault("hunter", {})["minute_limit"] = fast
    world.options.setdefault("dropcontact", {}).update(poll_every=0.01, poll_max=0.05)
    return ctx, world


def _unlimit(em: Any) -> None:
    """An emulator without its rate limits or daily caps, whichever way it keeps them."""
    if hasattr(em.cfg, "rate_limit"):
        em.cfg.rate_limit = None
    for name in ("windows", "verifier_windows"):
        if isinstance(getattr(em, name, None), list):
            setattr(em, name, [])
    if hasattr(em, "window"):
        em.window = None
    if hasattr(em.cfg, "daily_leads"):
        em.cfg.daily_leads = 10_000_000
    if isinstance(getattr(em, "record_windows", None), dict):  # Cognism: search results and redeemed ids a minute
        em.record_windows = {api: [] for api in em.record_windows}


def _limit(em: Any, limits: tuple[EmuLimit, ...]) -> None:
    """An emulator at these limits (the credit part's ``_unlimit`` undone, scaled)."""
    if isinstance(getattr(em, "windows", None), list):
        em.windows = [RollingWindow(x) for x in limits]
    elif isinstance(getattr(em, "windows", None), dict):  # one window per endpoint, made on first use
        em.windows = {}
    if hasattr(em.cfg, "rate_limit"):
        em.cfg.rate_limit = limits[0]
    if hasattr(em, "window"):
        em.window = RollingWindow(limits[0])
    if isinstance(getattr(em, "record_windows", None), dict):
        em.record_windows = {api: [RollingWindow(x) for x in limits] for api in em.record_windows}


def _order(keys: tuple[str, ...]) -> dict[D, list[str]]:
    return {p: [k for k in keys if p in adapter_class(k).capabilities.finds] for p in POINTS}


def _run(ctx: AppContext, world: EnrichWorld, keys: tuple[str, ...]) -> Any:
    info = start_enrichment(ctx, EnrichOptions(world.list_id, POINTS, _order(keys)))
    return asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))


def _filled(ctx: AppContext, list_id: int) -> set[tuple[int, str]]:
    found = set()
    for rows in iter_rows(ctx, RecordKind.CONTACT, list_id, None, chunk=2000):
        for row in rows:
            for p in POINTS:
                if not is_missing(RecordKind.CONTACT, p, row):
                    found.add((row["id"], p.value))
    return found


def credits_part(base: Path, contacts: int, providers: tuple[str, ...]) -> None:
    ctx, world = _world(base / "waterfall", contacts, providers)
    before = _filled(ctx, world.list_id)
    started = time.monotonic()
    result = _run(ctx, world, providers)
    elapsed = time.monotonic() - started
    rep = report(ctx, result.id)
    spent = sum(world.credits_spent(k) for k in providers)
    by_provider = {k: world.credits_spent(k) for k in providers}
    found = len(_filled(ctx, world.list_id) - before)
    _run(ctx, world, providers)
    rerun = sum(world.credits_spent(k) for k in providers) - spent
    ctx.close()

    naive_credits, naive_found = 0.0, set()
    for key in providers:
        nctx, nworld = _world(base / f"naive-{key}", contacts, (key,))
        nbefore = _filled(nctx, nworld.list_id)
        _run(nctx, nworld, (key,))
        naive_credits += nworld.credits_spent(key)
        naive_found |= _filled(nctx, nworld.list_id) - nbefore
        nctx.close()
    print(f"# waterfall: {' > '.join(providers)}", flush=True)
    out("contacts", contacts)
    for key, credits in by_provider.items():
        out(f"{key}_credits_spent", credits, "credits")
    out("values_found", found)
    out("credits_spent", spent, "credits")
    out("credits_per_value_found", spent / max(1, found), "credits")
    out("naive_values_found", len(naive_found))
    out("naive_credits_spent", naive_credits, "credits")
    out("naive_credits_per_value_found", naive_credits / max(1, len(naive_found)), "credits")
    out("waterfall_vs_naive_ratio", (spent / max(1, found)) / max(1e-9, naive_credits / max(1, len(naive_found))))
    out("credits_on_rerun", rerun, "credits")
    out("waterfall_records_per_s_unthrottled", contacts / elapsed, "records/s")
    assert rep.state == "finished", rep.error


LIMITS: dict[str, tuple[tuple[EmuLimit, ...], dict[str, Any], float]] = {  # (emulator limits scaled in
    # time, the client's matching limits, records per request)
    "apollo": ((EmuLimit(100, 60 / SCALE),), {"rate_limit": RateLimit(100, 60 / SCALE)}, 10),
    "hunter": ((EmuLimit(15, 1 / SCALE), EmuLimit(500, 60 / SCALE)),
               {"rate_limit": RateLimit(15, 1 / SCALE), "minute_limit": RateLimit(500, 60 / SCALE)}, 1),
    "lusha": ((EmuLimit(10, 60 / SCALE),), {"rate_limit": RateLimit(10, 60 / SCALE)}, 100),
    "dropcontact": ((EmuLimit(60, 1.0),), {"rate_limit": RateLimit(60, 1.0), "poll_every": 0.2, "poll_max": 1.0},
                    250),
    # Enrich Layer: 300 requests/min; one record costs a person lookup and an e-mail lookup when it is matched, so
    # its records per request are measured (0 here).
    "proxycurl": ((EmuLimit(300, 60 / SCALE),), {"rate_limit": RateLimit(300, 60 / SCALE)}, 0),
    # Kaspr: 60 requests/min (the emulator's; Kaspr's plan limits are not published), one profile per request.
    "kaspr": ((EmuLimit(60, 60 / SCALE),), {"rate_limit": RateLimit(60, 60 / SCALE)}, 1),
    # Datagma: 10 requests/s (a per-second limit, not scaled, like Dropcontact's); an e-mail is one /v8/findEmail call
    # per record.
    "datagma": ((EmuLimit(10, 1.0),), {"rate_limit": RateLimit(10, 1.0)}, 1),
    # Cognism: 1,000 records a minute (its rate list has LinkedIn URLs: one free enrich call per record, then a redeem
    # of up to 20 ids); the records per request are measured. Not scaled: five times 1,000 a minute is faster than the
    # app and the emulator together go in one process here, which would measure the machine, not the pacing.
    "cognism": ((EmuLimit(1000, 60.0),), {"rate_limit": RateLimit(1000, 60.0)}, 0),
    # ZoomInfo (Builder package): 5 requests/s of up to 25 contacts (a per-second limit, not scaled). Its hourly
    # 10,800 (3/s sustained) binds only after an hour at full speed, past what a run here lasts.
    "zoominfo": ((EmuLimit(5, 1.0),), {"rate_limit": RateLimit(5, 1.0)}, 25),
}


def rate_part(base: Path, records: int, key: str) -> tuple[float, float]:
    ctx, world = _world(base / f"rate-{key}", records, (key,), linkedin=key == "cognism")
    emu_limits, client_opts, per_request = LIMITS[key]
    em = world.emulator(key)
    _limit(em, emu_limits)
    with serve(world.apps[key]) as url:
        connect_values = getattr(MODULES[key], "connect_values", None)  # ZoomInfo: a client id and secret
        ctx.integrations.save_connection(key, connect_values(url) if connect_values else
                                         {"base_url": url, "api_key": MODULES[key].DEFAULT_KEY})

        def factory(k: str) -> Any:
            return adapter_class(k).from_connection(
                ctx.adapters.connection(k), retry=RetryPolicy(max_attempts=5, base_delay=0.2, max_wait=30),
                **client_opts)

        em.requests.clear()
        info = start_enrichment(ctx, EnrichOptions(world.list_id, [D.EMAIL], {D.EMAIL: [key]}))
        asyncio.run(run_enrichment(ctx, info.id, factory=factory))
    answered = (200, 404) if key in ("proxycurl", "kaspr", "datagma") else (200,)  # their 404 (not found) counts
    arrivals = sorted(r.t for r in em.requests if r.status in answered and not r.path.startswith("/enrich/all/")
                      and "/oauth/" not in r.path)  # not the token request
    throttled = sum(1 for r in em.requests if r.limited_by)
    ctx.close()
    tightest = min(emu_limits, key=lambda x: x.max_requests / x.interval_s)
    ceiling_req = tightest.max_requests / tightest.interval_s
    # Steady state over whole windows: the requests sent before the last window opened, over the time until it
    # opened (the last window is only partly used when the records run out; a window opens after a pause longer
    # than half the limit's interval).
    starts = [i for i in range(1, len(arrivals)) if arrivals[i] - arrivals[i - 1] > tightest.interval_s / 2]
    if starts:
        last = starts[-1]
        steady = last / (arrivals[last] - arrivals[0])
    else:  # no pause (the client spreads its calls evenly, or the limit was never reached): the whole run's rate
        steady = len(arrivals) / max(1e-9, arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
        if len(arrivals) <= tightest.max_requests:
            print(f"# {key}: {len(arrivals)} requests fit in one window of its limit: the rate says nothing of the "
                  "ceiling; measure more --rate-records", flush=True)
    if throttled:
        print(f"# {key}: {throttled} requests were throttled", flush=True)
    if not per_request:  # several requests per record: the records each request stands for, as measured
        per_request = records / max(1, len(arrivals))
    return steady * per_request, ceiling_req * per_request


def _providers(text: str) -> tuple[str, ...]:
    able = [k for k in ADAPTERS if k in MODULES]  # an adapter and an emulator
    if text == "all":
        return tuple(able)
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in keys if k not in able]
    if unknown:
        raise SystemExit(f"No adapter or emulator for {', '.join(unknown)}; known: {', '.join(able)}")
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rate-records", type=int, default=3_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of the rate part; the median is printed")
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--skip-credits", action="store_true")
    parser.add_argument("--providers", default=",".join(FOUR),
                        help="the waterfall, in order, for every data point (comma-separated, or 'all')")
    parser.add_argument("--rate-providers", default="",
                        help="the providers whose records/s are measured (default: those of --providers)")
    args = parser.parse_args()
    providers = _providers(args.providers)
    with tempfile.TemporaryDirectory(prefix="enginy-enrich-bench-") as tmp:
        base = Path(tmp)
        if not args.skip_credits:
            credits_part(base, args.contacts, providers)
        if not args.skip_rate:
            for key in _providers(args.rate_providers) if args.rate_providers else providers:
                if key not in LIMITS:
                    print(f"# {key}: no rate limit line in LIMITS; its records/s are not measured", flush=True)
                    continue
                ratios, rates = [], []
                ceiling = 0.0
                for i in range(args.runs):
                    with contextlib.suppress(FileExistsError):
                        (base / f"run{i}").mkdir()
                    rate, ceiling = rate_part(base / f"run{i}", args.rate_records, key)
                    rates.append(rate)
                    ratios.append(rate / ceiling if ceiling else 0.0)
                out(f"{key}_records_per_s", statistics.median(rates), "records/s")
                out(f"{key}_ceiling_records_per_s", ceiling, "records/s")
                out(f"{key}_vs_ceiling", statistics.median(ratios))
    out("peak_memory_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB")


if __name__ == "__main__":
    main()
