"""Export benchmark against the Zoho CRM emulator: ``python benchmarks/export.py --crm zoho``.

The emulator runs in this process (a uvicorn thread on loopback) at an edition's limits (``--edition``, default
Enterprise, and ``--users``, default 5: 55,000 API credits per 24 h and 20 concurrent requests) with
``--latency-ms`` (default 30) on every answer. The organisation holds ``--existing`` contacts of the list (their
title differs, Overwrite on: updated) and as many others; the rest of the list is new. Contacts are identified by
e-mail.

Three kinds of run, each on a fresh emulator (medians printed):

- **the app** (``app_*``, ``--runs`` times): the whole export (plan + run) as the window and the command line do
  it: COQL ``in`` lookups of 50 e-mails, inserts and updates of 100 records, at the adapter's concurrency;
- **the app with companies** (``companies_*``): the same list with one of ``--companies`` accounts each
  (``--associated-companies``: accounts matched or created, each contact's ``Account_Name`` written with it);
- **a naive per-record script** (``naive_*``, ``--naive-runs`` times, default once): for each record, a COQL query
  by e-mail, then ``POST /crm/v8/Contacts`` or ``PUT /crm/v8/Contacts`` with that one record.

Figures: ``api_calls_per_1000_contacts`` (requests sent), ``credits_per_1000_contacts`` (what the emulator
deducted), ``share_of_daily_credits_per_1000_contacts`` (percent), ``records_per_s``, ``seconds``,
``max_concurrent_requests`` and ``concurrency_used_of_limit`` (the most requests the emulator saw in flight, over the
edition's limit), ``throttled`` (429 answers); ``naive_to_app_*`` ratios compare the naive script with the app.
Prints ``name: value unit`` lines.

With ``--steady-contacts N`` (e.g. 10,000), a run long enough to fill the concurrency limit too (``steady_*``,
``--runs`` times, a third of them updated): ``steady_max_concurrent_requests``, ``steady_concurrency_used_of_limit``
(over the edition's limit) and ``steady_concurrency_used_of_heavy_limit`` (over Zoho's 10 concurrent heavy calls:
COQL and writes of more than 10 records, the limit that binds an export), ``steady_throttled``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, imported first, sets up the keyring

import httpx  # noqa: E402

from benchmarks import export_harness as harness  # noqa: E402
from enginy_desktop.sandbox.crm.zoho import DEFAULT_TOKEN, ZohoSandbox, ZohoSandboxConfig, create_app  # noqa: E402
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402

DATA = "/crm/v8"
MAPPED = (("first_name", "First_Name", False), ("last_name", "Last_Name", False), ("email", "Email", False),
          ("job_title", "Title", True), ("phone", "Phone", False))
EDITION: list[Any] = ["Enterprise", 5]


LATENCY_MS = [30]  # every answer waits this long (--latency-ms): a nearby instance rather than loopback


def _emulator(contacts: int, existing: int) -> Any:
    # The latency is time spent in Zoho, holding one of the edition's concurrent slots.
    app = create_app(ZohoSandboxConfig(edition=str(EDITION[0]), user_licences=int(EDITION[1]),
                                       processing_ms=LATENCY_MS[0]))
    sb: ZohoSandbox = app.state.sandbox
    for r, listed in harness.in_crm(contacts, existing):
        sb.insert("Contacts", {"First_Name": r["first_name"], "Last_Name": r["last_name"], "Email": r["email"],
                               **({"Title": "Sales"} if listed else {})})
    return app


def _figures(sb: ZohoSandbox, since: int, used_before: int, seconds: float, contacts: int) -> dict[str, float]:
    log = [e for e in sb.requests[since:] if not e.path.startswith("/__sandbox__")]
    credits = sb.credits.used("org") - used_before
    daily = sb.config.credits() or 1
    limit = sb.config.max_in_flight() or 1
    return {
        "seconds": seconds,
        "records_per_s": contacts / seconds,
        "api_calls_per_1000_contacts": len(log) * 1000 / contacts,
        "credits_per_1000_contacts": credits * 1000 / contacts,
        "share_of_daily_credits_per_1000_contacts": 100.0 * credits * 1000 / contacts / daily,
        "max_concurrent_requests": float(sb.max_in_flight_seen),
        "concurrency_used_of_limit": sb.max_in_flight_seen / limit,
        "throttled": float(sum(1 for e in log if e.status == 429)),
    }


def _check(sb: ZohoSandbox, existing: int, companies: int) -> None:
    if companies:
        assert len(sb.records["Accounts"]) == companies
        assert all(c.get("Account_Name") for c in sb.records["Contacts"].values() if c.get("Title") == "Head of Sales")


def _before(sb: ZohoSandbox) -> int:
    sb.max_in_flight_seen = 0
    return int(sb.credits.used("org"))


def run_app(contacts: int, existing: int, companies: int = 0) -> dict[str, float]:
    """The whole export through the shared harness (``benchmarks/export_harness.py``)."""
    bench = harness.CrmBench(
        crm="zoho", contact_fields=MAPPED, company_fields=(("name", "Account_Name"), ("domain", "Website")),
        email_field="Email", make_app=_emulator,
        settings=lambda url: {"base_url": url, "access_token": DEFAULT_TOKEN, "edition": str(EDITION[0]),
                              "user_licences": str(EDITION[1])},
        check=_check, before=_before)
    done = harness.run_app(bench, contacts, existing, companies)
    return _figures(done.sandbox, done.since, done.before, done.seconds, contacts)


def run_steady(contacts: int, existing: int) -> dict[str, float]:
    """A long export: how much of the concurrency limits the app uses, without a 429."""
    from enginy_desktop.adapters.zoho_wire import SUB_CONCURRENCY

    figures = run_app(contacts, existing)
    return {"seconds": figures["seconds"], "records_per_s": figures["records_per_s"],
            "max_concurrent_requests": figures["max_concurrent_requests"],
            "concurrency_used_of_limit": figures["concurrency_used_of_limit"],
            "concurrency_used_of_heavy_limit": figures["max_concurrent_requests"] / SUB_CONCURRENCY,
            "throttled": figures["throttled"]}


def run_naive(contacts: int, existing: int) -> dict[str, float]:
    """A COQL query by e-mail, then an insert or an update of that one record, record after record."""
    app = _emulator(contacts, existing)
    sb: ZohoSandbox = app.state.sandbox
    with serve(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Zoho-oauthtoken {DEFAULT_TOKEN}"},
                                         timeout=30) as c:
        since, used = len(sb.requests), sb.credits.used("org")
        sb.max_in_flight_seen = 0
        started = time.monotonic()
        created = updated = 0
        for i in range(contacts):
            r = harness.row(i)
            query = f"select id from Contacts where Email = '{r['email']}' limit 0, 1"  # noqa: S608 - made-up values
            answer = c.post(f"{DATA}/coql", json={"select_query": query}).raise_for_status()
            found = answer.json()["data"] if answer.status_code == 200 else []
            if found:
                c.put(f"{DATA}/Contacts", json={"data": [{"id": found[0]["id"], "Title": r["job_title"],
                                                          "Phone": r["phone"]}]}).raise_for_status()
                updated += 1
            else:
                c.post(f"{DATA}/Contacts", json={"data": [{
                    "First_Name": r["first_name"], "Last_Name": r["last_name"], "Email": r["email"],
                    "Title": r["job_title"], "Phone": r["phone"]}]}).raise_for_status()
                created += 1
        seconds = time.monotonic() - started
        assert (created, updated) == (contacts - existing, existing)
        return _figures(sb, since, used, seconds, contacts)


UNITS = harness.UNITS | {"credits_per_1000_contacts": "credits", "share_of_daily_credits_per_1000_contacts": "%",
         "max_concurrent_requests": "requests", "concurrency_used_of_limit": "ratio", "throttled": "responses",
         "concurrency_used_of_heavy_limit": "ratio"}


def main(argv: list[str] | None = None) -> None:
    parser = harness.arguments("Zoho CRM", "zoho")
    parser.add_argument("--edition", default="Enterprise", choices=["Free", "Standard", "Professional",
                                                                    "Enterprise", "Ultimate"])
    parser.add_argument("--users", type=int, default=5, help="user licences (credits grow with them)")
    parser.add_argument("--steady-contacts", type=int, default=0,
                        help="also a long export of this many contacts that fills the concurrency limit (e.g. 10000)")
    parser.add_argument("--steady-only", action="store_true", help="only the long export")
    args = parser.parse_args(argv)
    LATENCY_MS[0] = args.latency_ms
    EDITION[:] = [args.edition, args.users]
    if args.steady_contacts:
        steady = harness.medians([run_steady(args.steady_contacts, args.steady_contacts // 3)
                                  for _ in range(args.runs)])
        print(f"steady state: {args.steady_contacts} contacts ({args.steady_contacts // 3} updated), {args.runs} "
              "runs (medians)")
        harness.print_figures("steady_", steady, UNITS)
        if args.steady_only:
            return
    app = harness.medians([run_app(args.contacts, args.existing) for _ in range(args.runs)])
    firms = harness.medians([run_app(args.contacts, args.existing, args.companies) for _ in range(args.runs)])
    naive = harness.medians([run_naive(args.contacts, args.existing) for _ in range(args.naive_runs)])
    limits = ZohoSandboxConfig(edition=args.edition, user_licences=args.users)
    print(f"edition: {args.edition}, {args.users} user licences: {limits.credits()} credits per 24 h, "
          f"{limits.max_in_flight()} concurrent requests; latency {args.latency_ms} ms per answer")
    print(f"contacts: {args.contacts} records ({args.existing} updated, {args.contacts - args.existing} created); "
          f"with companies: {args.companies} accounts")
    print(f"runs: {args.runs} app, {args.runs} with companies, {args.naive_runs} naive (medians)")
    harness.print_figures("app_", app, UNITS)
    harness.print_figures("companies_", firms, UNITS)
    harness.print_figures("naive_", naive, UNITS)
    harness.print_ratios(naive, app, ("seconds", "api_calls_per_1000_contacts", "credits_per_1000_contacts"))


if __name__ == "__main__":
    main()
