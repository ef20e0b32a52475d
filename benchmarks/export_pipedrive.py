"""Export benchmark against the Pipedrive emulator (DESIGN §12): ``python benchmarks/export.py --crm pipedrive``.

The emulator runs in this process (a uvicorn thread on loopback) at a Pipedrive plan's limits (``--plan``, default
Essential with an API token: 20 requests per 2 s, searches 10 per 2 s, the plan's daily token budget; a faster plan
measures the machine's CPU rather than the window when the app and the emulator share a busy one). The CRM
holds ``--existing`` persons of the list (their job title differs, Overwrite on: updated) and as many others; the
rest of the list is new. Contacts are identified by e-mail.

Two ways to put the same list into Pipedrive, each on a fresh emulator, ``--runs`` times (medians printed):

- **the app**: the whole export (plan + run) as the window and the command line do it — a listing of the persons
  (500 per call), one write per record (Pipedrive has no batch), at the concurrency the plan's burst allows;
- **a naive per-record script**: for each record, an exact search by e-mail, then a create or an update, one at a
  time, sleeping ``x-ratelimit-reset`` seconds after a 429.

For each: ``throughput_vs_window_ceiling`` (the seconds the run's calls need at least under the rolling windows —
the first window's burst is free, then each further ``N`` calls need another window; searches under their own
window — over the seconds it took), ``api_calls_per_1000_contacts``, ``tokens_per_1000_contacts`` (each request's
``x-token-cost``, as the emulator counts them) and ``http_429_count``; the naive script's figures carry the
``naive_`` prefix, and ``naive_to_app_*`` ratios compare them. Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, imported first, sets up the keyring

import httpx  # noqa: E402

from benchmarks import export_harness as harness  # noqa: E402
from enginy_desktop.sandbox.crm.pipedrive import DEFAULT_TOKEN, PipedriveSandbox, PipedriveSandboxConfig, create_app  # noqa: E402
from enginy_desktop.sandbox.crm.pipedrive.state import BURST_API_TOKEN, SEARCH_LIMIT  # noqa: E402
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402

MAPPED = (("first_name", "first_name", False), ("last_name", "last_name", False), ("email", "email", False),
          ("job_title", "job_title", True), ("phone", "phone", False))


def _emulator(plan: str, contacts: int, existing: int) -> Any:
    app = create_app(PipedriveSandboxConfig(plan=plan, seats=3))
    sb: PipedriveSandbox = app.state.sandbox
    for r, listed in harness.in_crm(contacts, existing):
        sb.create("persons", {"name": f"{r['first_name']} {r['last_name']}",
                              "emails": [{"value": r["email"], "primary": True, "label": "work"}],
                              **({"job_title": "Sales"} if listed else {})})
    return app


def _window_seconds(calls: int, searches: int, burst: int) -> float:
    """The least time ``calls`` requests need under the rolling windows: the first window's requests go at once,
    each further ``burst`` requests need another 2-second window (searches: 10 per 2 s)."""
    general = 2.0 * ((calls - 1) // burst) if calls else 0.0
    search = 2.0 * ((searches - 1) // SEARCH_LIMIT.max_requests) if searches else 0.0
    return max(general, search)


def _figures(sb: PipedriveSandbox, since: int, tokens_before: int, seconds: float, contacts: int,
             burst: int) -> dict[str, float]:
    log = [e for e in sb.requests[since:] if not e.path.startswith("/__sandbox__")]
    accepted = [e for e in log if e.status != 429]
    searches = sum(1 for e in accepted if e.path.endswith("/search"))
    floor = _window_seconds(len(accepted), searches, burst)
    return {
        "seconds": seconds,
        "records_per_s": contacts / seconds,
        "throughput_vs_window_ceiling": floor / seconds if floor else 0.0,
        "api_calls_per_1000_contacts": len(log) * 1000 / contacts,
        "tokens_per_1000_contacts": (sb.tokens_spent - tokens_before) * 1000 / contacts,
        "http_429_count": float(sum(1 for e in log if e.status == 429)),
    }


def run_app(plan: str, contacts: int, existing: int) -> dict[str, float]:
    """The whole export through the shared harness (``benchmarks/export_harness.py``)."""
    bench = harness.CrmBench(
        crm="pipedrive", contact_fields=MAPPED, company_fields=(), email_field="email",
        make_app=lambda n, e: _emulator(plan, n, e),
        settings=lambda url: {"base_url": url, "api_token": DEFAULT_TOKEN, "plan": plan, "seats": "3"},
        before=lambda sb: sb.tokens_spent)
    done = harness.run_app(bench, contacts, existing)
    assert done.counters.get("created", 0) == contacts - existing, done.counters
    return _figures(done.sandbox, done.since, done.before, done.seconds, contacts, BURST_API_TOKEN[plan])


def run_naive(plan: str, contacts: int, existing: int) -> dict[str, float]:
    """Search by e-mail, then create or update, record after record; a 429 makes it sleep and ask again."""
    app = _emulator(plan, contacts, existing)
    sb: PipedriveSandbox = app.state.sandbox
    with serve(app) as url, httpx.Client(base_url=url, headers={"x-api-token": DEFAULT_TOKEN}, timeout=30) as c:

        def call(method: str, path: str, **kw: Any) -> httpx.Response:
            while True:
                response = c.request(method, path, **kw)
                if response.status_code != 429:
                    response.raise_for_status()
                    return response
                time.sleep(float(response.headers.get("x-ratelimit-reset") or 2))

        since, tokens = len(sb.requests), sb.tokens_spent
        started = time.monotonic()
        created = updated = 0
        for i in range(contacts):
            r = harness.row(i)
            found = call("GET", "/api/v2/persons/search", params={
                "term": r["email"], "fields": "email", "exact_match": "true"}).json()["data"]["items"]
            if found:
                call("PATCH", f"/api/v2/persons/{found[0]['item']['id']}",
                     json={"job_title": r["job_title"], "phones": [{"value": r["phone"], "primary": True}]})
                updated += 1
            else:
                call("POST", "/api/v2/persons", json={
                    "name": f"{r['first_name']} {r['last_name']}", "job_title": r["job_title"],
                    "emails": [{"value": r["email"], "primary": True, "label": "work"}],
                    "phones": [{"value": r["phone"], "primary": True, "label": "work"}]})
                created += 1
        seconds = time.monotonic() - started
        assert (created, updated) == (contacts - existing, existing)
        return _figures(sb, since, tokens, seconds, contacts, BURST_API_TOKEN[plan])


UNITS = harness.UNITS | {"throughput_vs_window_ceiling": "ratio", "tokens_per_1000_contacts": "tokens",
                         "http_429_count": "responses"}


def main(argv: list[str] | None = None) -> None:
    parser = harness.arguments("Pipedrive", "pipedrive", contacts=300, existing=100, companies=None, naive_runs=None,
                          latency=False)
    parser.add_argument("--plan", default="Essential", choices=sorted(BURST_API_TOKEN))
    args = parser.parse_args(argv)
    apps = [run_app(args.plan, args.contacts, args.existing) for _ in range(args.runs)]
    naives = [run_naive(args.plan, args.contacts, args.existing) for _ in range(args.naive_runs or args.runs)]
    app, naive = harness.medians(apps), harness.medians(naives)
    print(f"plan: {args.plan} (API token: {BURST_API_TOKEN[args.plan]} requests / 2 s, search 10 / 2 s)")
    print(f"contacts: {args.contacts} records ({args.existing} updated, {args.contacts - args.existing} created)")
    print(f"runs: {args.runs} app, {args.naive_runs or args.runs} naive (medians)")
    harness.print_figures("", app, UNITS)
    harness.print_figures("naive_", naive, UNITS)
    harness.print_ratios(naive, app, ("seconds", "api_calls_per_1000_contacts", "tokens_per_1000_contacts"), 2)


if __name__ == "__main__":
    main()
