"""Export benchmark against the Dynamics 365 (Dataverse) emulator: ``python benchmarks/export.py --crm dynamics``.

The emulator runs in this process (a uvicorn thread on loopback) with the service protection limit (``--daily`` is
the requests per user per 5 minutes here, default 6,000) and ``--latency-ms`` (default 30) on every answer. The
environment holds ``--existing`` contacts of the list (their job title differs, Overwrite on: updated) and as many
others; the rest of the list is new. Contacts are identified by e-mail.

Three kinds of run, each on a fresh emulator (medians printed):

- **the app** (``app_*``, ``--runs`` times): the whole export (plan + run) as the window and the command line do
  it: ``Microsoft.Dynamics.CRM.In`` lookups, ``$batch`` writes of 100, at the adapter's concurrency;
- **the app with companies** (``companies_*``): the same list with one of ``--companies`` accounts each
  (``--associated-companies``: accounts matched or created, each contact's ``parentcustomerid`` written with it);
- **a naive per-record script** (``naive_*``, ``--naive-runs`` times, default once), the way Web API scripts are
  commonly written: for each record, ``GET contacts?$filter=emailaddress1 eq '…'``, then ``POST contacts`` or
  ``PATCH contacts(id)``.

With ``--window-s W`` (e.g. 10), a **steady-state** run too (``steady_*``, ``--runs`` times): the same rate of
service protection on a window short enough to bind within a couple of minutes (``--daily`` × W / 300 requests per W
seconds: 200 per 10 s is the 20 per second of 6,000 per 5 minutes), kept by both the emulator and the app (the
connection's ``service_protection_limit``), and an export of ``--steady-contacts`` (default 2,000, a third of them
updated) that runs over several windows. ``steady_throughput_vs_window_ceiling`` is the service protection units the
emulator accepted per second over the mean of the run's full W-second windows after the first (the first, with the
plan's look-ups and the start of the writes, and the last, partial one, left out), over the ceiling rate (requests
per window / W); ``steady_http_429_count`` counts the 429 answers (a whole request's, or one operation's in a
``$batch``).

Figures: ``api_calls_per_1000_contacts`` (HTTP requests sent), ``service_protection_units_per_1000_contacts``
(requests the emulator counted against the service protection limit: each operation of a ``$batch`` counts),
``share_of_5min_window_per_1000_contacts`` (percent of one 5-minute window),
``records_per_s`` and ``seconds``; ``naive_to_app_*`` ratios compare the naive script with the app. Prints
``name: value unit`` lines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, imported first, sets up the keyring

import httpx  # noqa: E402

from benchmarks import export_harness as harness  # noqa: E402
from enginy_desktop.sandbox.crm.dynamics import (  # noqa: E402
    DEFAULT_TOKEN,
    DynamicsSandbox,
    DynamicsSandboxConfig,
    create_app,
)
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402

DATA = "/api/data/v9.2"
MAPPED = (("first_name", "firstname", False), ("last_name", "lastname", False), ("email", "emailaddress1", False),
          ("job_title", "jobtitle", True), ("phone", "telephone1", False))


LATENCY_MS = [30]  # every answer waits this long (--latency-ms): a nearby instance rather than loopback


def _emulator(daily: int, contacts: int, existing: int, window_s: float = 300.0) -> Any:
    from enginy_desktop.sandbox.kit.faults import FaultConfig

    app = create_app(DynamicsSandboxConfig(requests_per_window=daily, window_s=window_s,
                                           faults=FaultConfig(latency_ms=LATENCY_MS[0])))
    sb: DynamicsSandbox = app.state.sandbox
    for r, listed in harness.in_crm(contacts, existing):
        sb.insert("contact", {"firstname": r["first_name"], "lastname": r["last_name"], "emailaddress1": r["email"],
                              **({"jobtitle": "Sales"} if listed else {})})
    return app


def _figures(sb: DynamicsSandbox, since: int, used_before: int, seconds: float, contacts: int,
             daily: int) -> dict[str, float]:
    log = [e for e in sb.requests[since:] if not e.path.startswith("/__sandbox__")]
    assert not [e for e in log if e.status == 429], "throttled"
    units = sb.requests_used - used_before
    return {
        "seconds": seconds,
        "records_per_s": contacts / seconds,
        "api_calls_per_1000_contacts": len(log) * 1000 / contacts,
        "service_protection_units_per_1000_contacts": units * 1000 / contacts,
        "share_of_5min_window_per_1000_contacts": 100.0 * units * 1000 / contacts / daily,
    }


def _check(sb: DynamicsSandbox, existing: int, companies: int) -> None:
    if companies:
        assert len(sb.records["account"]) == companies
        assert all(c["_parentcustomerid_value"] for c in sb.records["contact"].values()
                   if c["jobtitle"] == "Head of Sales")


def run_app(daily: int, contacts: int, existing: int, companies: int = 0) -> dict[str, float]:
    """The whole export through the shared harness (``benchmarks/export_harness.py``)."""
    bench = harness.CrmBench(
        crm="dynamics", contact_fields=MAPPED, company_fields=(("name", "name"), ("domain", "websiteurl")),
        email_field="emailaddress1", make_app=lambda n, e: _emulator(daily, n, e),
        settings=lambda url: {"org_url": url, "access_token": DEFAULT_TOKEN}, check=_check,
        before=lambda sb: sb.requests_used)
    done = harness.run_app(bench, contacts, existing, companies)
    return _figures(done.sandbox, done.since, done.before, done.seconds, contacts, daily)


def run_naive(daily: int, contacts: int, existing: int) -> dict[str, float]:
    """Look up by e-mail, then create or update, record after record."""
    app = _emulator(daily, contacts, existing)
    sb: DynamicsSandbox = app.state.sandbox
    with serve(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                                         timeout=30) as c:
        since, used = len(sb.requests), sb.requests_used
        started = time.monotonic()
        created = updated = 0
        for i in range(contacts):
            r = harness.row(i)
            found = c.get(f"{DATA}/contacts", params={"$select": "contactid", "$filter": f"emailaddress1 eq "
                                                      f"'{r['email']}'"}).raise_for_status().json()["value"]
            if found:
                c.patch(f"{DATA}/contacts({found[0]['contactid']})",
                        json={"jobtitle": r["job_title"], "telephone1": r["phone"]}).raise_for_status()
                updated += 1
            else:
                c.post(f"{DATA}/contacts", json={
                    "firstname": r["first_name"], "lastname": r["last_name"], "emailaddress1": r["email"],
                    "jobtitle": r["job_title"], "telephone1": r["phone"]}).raise_for_status()
                created += 1
        seconds = time.monotonic() - started
        assert (created, updated) == (contacts - existing, existing)
        return _figures(sb, since, used, seconds, contacts, daily)


def _record_hits(sb: DynamicsSandbox) -> tuple[list[float], list[int]]:
    """Notes every service protection unit the emulator's window accepts (its time) and every one it refuses (a 429
    answer: a whole request's or one ``$batch`` operation's)."""
    window = sb.window
    assert window is not None
    accepted: list[float] = []
    refused = [0]
    hit = window.try_hit

    def recording(key: str, now: float) -> tuple[bool, int]:
        allowed, remaining = hit(key, now)
        if allowed:
            accepted.append(now)
        else:
            refused[0] += 1
        return allowed, remaining

    window.try_hit = recording  # type: ignore[method-assign]
    return accepted, refused


def full_window_rate(times: list[float], window_s: float) -> float:
    """Units per second over the run's consecutive ``window_s`` windows from its first unit, the first window and
    the last (partial) one left out: the steady state."""
    if not times:
        return 0.0
    t0 = times[0]
    full = int((times[-1] - t0) // window_s)  # windows that end before the last unit
    if full < 2:
        return 0.0
    counts = [0] * full
    for t in times:
        k = int((t - t0) // window_s)
        if k < full:
            counts[k] += 1
    steady = counts[1:]
    return sum(steady) / len(steady) / window_s


def run_steady(daily: int, window_s: float, contacts: int, existing: int) -> dict[str, float]:
    """The app's export with the service protection limit scaled to ``window_s``, in the emulator and the app."""
    per_window = max(1, round(daily * window_s / 300))
    noted: dict[str, Any] = {}

    def make(n: int, e: int) -> Any:
        app = _emulator(per_window, n, e, window_s)
        noted["hits"] = _record_hits(app.state.sandbox)
        return app

    bench = harness.CrmBench(
        crm="dynamics", contact_fields=MAPPED, company_fields=(("name", "name"), ("domain", "websiteurl")),
        email_field="emailaddress1", make_app=make,
        settings=lambda url: {"org_url": url, "access_token": DEFAULT_TOKEN,
                              "service_protection_limit": f"{per_window}/{window_s:g}"})
    done = harness.run_app(bench, contacts, existing)
    accepted, refused = noted["hits"]
    ceiling = per_window / window_s
    rate = full_window_rate(accepted, window_s)
    return {"seconds": done.seconds, "records_per_s": contacts / done.seconds, "units_per_s": rate,
            "ceiling_units_per_s": ceiling, "throughput_vs_window_ceiling": rate / ceiling,
            "http_429_count": float(refused[0])}


UNITS = harness.UNITS | {
    "service_protection_units_per_1000_contacts": "requests", "share_of_5min_window_per_1000_contacts": "%",
    "units_per_s": "requests/s", "ceiling_units_per_s": "requests/s", "throughput_vs_window_ceiling": "ratio",
    "http_429_count": "responses"}


def main(argv: list[str] | None = None) -> None:
    parser = harness.arguments("Dynamics 365", "dynamics")
    parser.add_argument("--daily", type=int, default=6_000,
                        help="service protection: requests per user per 5 minutes")
    parser.add_argument("--window-s", type=float, default=0.0,
                        help="also a steady-state run with the same rate on a window of this many seconds (e.g. 10)")
    parser.add_argument("--steady-contacts", type=int, default=2000, help="contacts of the steady-state run")
    parser.add_argument("--steady-only", action="store_true", help="only the steady-state run")
    args = parser.parse_args(argv)
    LATENCY_MS[0] = args.latency_ms
    if args.window_s:
        steady = harness.medians([run_steady(args.daily, args.window_s, args.steady_contacts, args.steady_contacts // 3)
                           for _ in range(args.runs)])
        print(f"steady state: {round(args.daily * args.window_s / 300)} requests per {args.window_s:g} s (the rate "
              f"of {args.daily} per 5 minutes), {args.steady_contacts} contacts ({args.steady_contacts // 3} updated), "
              f"{args.runs} runs (medians)")
        harness.print_figures("steady_", steady, UNITS)
        if args.steady_only:
            return
    app = harness.medians([run_app(args.daily, args.contacts, args.existing) for _ in range(args.runs)])
    firms = harness.medians([run_app(args.daily, args.contacts, args.existing, args.companies)
                             for _ in range(args.runs)])
    naive = harness.medians([run_naive(args.daily, args.contacts, args.existing) for _ in range(args.naive_runs)])
    print(f"service protection: {args.daily} requests per 5 minutes; latency {args.latency_ms} ms per answer")
    print(f"contacts: {args.contacts} records ({args.existing} updated, {args.contacts - args.existing} created); "
          f"with companies: {args.companies} accounts")
    print(f"runs: {args.runs} app, {args.runs} with companies, {args.naive_runs} naive (medians)")
    harness.print_figures("app_", app, UNITS)
    harness.print_figures("companies_", firms, UNITS)
    harness.print_figures("naive_", naive, UNITS)
    harness.print_ratios(naive, app, ("seconds", "api_calls_per_1000_contacts",
                                      "service_protection_units_per_1000_contacts"))


if __name__ == "__main__":
    main()
