"""Export benchmark against the Salesforce emulator: ``python benchmarks/export.py --crm salesforce``.

The emulator runs in this process (a uvicorn thread on loopback) with a daily API request allocation
(``--daily``, default 100,000, a production org's base) and ``--latency-ms`` (default 30) on every answer. The org
holds ``--existing`` contacts of the list (their title differs, Overwrite on: updated) and as many others; the rest
of the list is new. Contacts are identified by e-mail.

Three kinds of run, each on a fresh emulator (medians printed):

- **the app** (``app_*``, ``--runs`` times): the whole export (plan + run) as the window and the command line do
  it: SOQL ``IN`` lookups, sObject Collections writes of 200, at the adapter's concurrency;
- **the app with companies** (``companies_*``): the same list with one of ``--companies`` accounts each
  (``--associated-companies``: accounts matched or created, each contact's ``AccountId`` written with it);
- **the app with companies as related accounts** (``relations_*``): the same, on an org with Contacts to Multiple
  Accounts where the ``--existing`` contacts already have another primary account: their company becomes an
  ``AccountContactRelation`` (sObject Collections, 200 a request), the new contacts get it as ``AccountId``;
- **a naive per-record script** (``naive_*``, ``--naive-runs`` times, default once), the way ``simple-salesforce``
  users commonly write it: for each record, a SOQL query by e-mail, then ``POST sobjects/Contact`` or
  ``PATCH sobjects/Contact/{id}``.

Figures: ``api_calls_per_1000_contacts`` (requests sent), ``allocation_units_per_1000_contacts`` (requests the
emulator counted against the daily allocation), ``share_of_daily_allocation_per_1000_contacts`` (percent),
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
from enginy_desktop.sandbox.crm.salesforce import (  # noqa: E402
    DEFAULT_TOKEN,
    SalesforceSandbox,
    SalesforceSandboxConfig,
    create_app,
)
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402

DATA = "/services/data/v62.0"
MAPPED = (("first_name", "FirstName", False), ("last_name", "LastName", False), ("email", "Email", False),
          ("job_title", "Title", True), ("phone", "Phone", False))


LATENCY_MS = [30]  # every answer waits this long (--latency-ms): a nearby instance rather than loopback


def _emulator(daily: int, contacts: int, existing: int, relations: bool = False) -> Any:
    """``relations``: the org has Contacts to Multiple Accounts and the existing contacts already have a primary
    account ("Old Corp"): their list company becomes an additional, related account."""
    from enginy_desktop.sandbox.kit.faults import FaultConfig

    app = create_app(SalesforceSandboxConfig(daily_requests=daily, faults=FaultConfig(latency_ms=LATENCY_MS[0]),
                                             account_contact_relations=relations))
    sb: SalesforceSandbox = app.state.sandbox
    old = sb.insert("Account", {"Name": "Old Corp"})["Id"] if relations else None
    for r, listed in harness.in_crm(contacts, existing):
        sb.insert("Contact", {"FirstName": r["first_name"], "LastName": r["last_name"], "Email": r["email"],
                              **({"Title": "Sales", **({"AccountId": old} if old else {})} if listed else {})})
    return app


def _figures(sb: SalesforceSandbox, since: int, used_before: int, seconds: float, contacts: int,
             daily: int) -> dict[str, float]:
    log = [e for e in sb.requests[since:] if not e.path.startswith("/__sandbox__")]
    units = sb.requests_used - used_before
    return {
        "seconds": seconds,
        "records_per_s": contacts / seconds,
        "api_calls_per_1000_contacts": len(log) * 1000 / contacts,
        "allocation_units_per_1000_contacts": units * 1000 / contacts,
        "share_of_daily_allocation_per_1000_contacts": 100.0 * units * 1000 / contacts / daily,
    }


def _check(sb: SalesforceSandbox, existing: int, companies: int) -> None:
    if companies:
        assert len(sb.records["Account"]) == companies
        assert all(c["AccountId"] for c in sb.records["Contact"].values() if c["Title"] == "Head of Sales")


def _check_relations(sb: SalesforceSandbox, existing: int, companies: int) -> None:
    """Existing contacts keep Old Corp as their primary account and are related to their company too."""
    old = next(a["Id"] for a in sb.records["Account"].values() if a["Name"] == "Old Corp")
    assert len(sb.records["Account"]) == companies + 1
    updated = [c for c in sb.records["Contact"].values() if c["Title"] == "Head of Sales" and c["AccountId"] == old]
    assert len(updated) == existing
    indirect = {r["ContactId"] for r in sb.records["AccountContactRelation"].values() if not r["IsDirect"]}
    assert {c["Id"] for c in updated} <= indirect


def run_app(daily: int, contacts: int, existing: int, companies: int = 0, relations: bool = False
            ) -> dict[str, float]:
    """The whole export through the shared harness (``benchmarks/export_harness.py``)."""
    bench = harness.CrmBench(
        crm="salesforce", contact_fields=MAPPED, company_fields=(("name", "Name"), ("domain", "Website")),
        email_field="Email", make_app=lambda n, e: _emulator(daily, n, e, relations),
        settings=lambda url: {"base_url": url, "access_token": DEFAULT_TOKEN},
        check=_check_relations if relations else _check, before=lambda sb: sb.requests_used)
    done = harness.run_app(bench, contacts, existing, companies)
    return _figures(done.sandbox, done.since, done.before, done.seconds, contacts, daily)


def run_naive(daily: int, contacts: int, existing: int) -> dict[str, float]:
    """Query by e-mail, then create or update, record after record (as simple-salesforce scripts do)."""
    app = _emulator(daily, contacts, existing)
    sb: SalesforceSandbox = app.state.sandbox
    with serve(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                                         timeout=30) as c:
        since, used = len(sb.requests), sb.requests_used
        started = time.monotonic()
        created = updated = 0
        for i in range(contacts):
            r = harness.row(i)
            soql = f"SELECT Id FROM Contact WHERE Email = '{r['email']}'"  # noqa: S608 - a made-up benchmark value
            found = c.get(f"{DATA}/query", params={"q": soql}).raise_for_status().json()["records"]
            if found:
                c.patch(f"{DATA}/sobjects/Contact/{found[0]['Id']}",
                        json={"Title": r["job_title"], "Phone": r["phone"]}).raise_for_status()
                updated += 1
            else:
                c.post(f"{DATA}/sobjects/Contact", json={
                    "FirstName": r["first_name"], "LastName": r["last_name"], "Email": r["email"],
                    "Title": r["job_title"], "Phone": r["phone"]}).raise_for_status()
                created += 1
        seconds = time.monotonic() - started
        assert (created, updated) == (contacts - existing, existing)
        return _figures(sb, since, used, seconds, contacts, daily)


UNITS = harness.UNITS | {"allocation_units_per_1000_contacts": "requests",
                         "share_of_daily_allocation_per_1000_contacts": "%"}


def main(argv: list[str] | None = None) -> None:
    parser = harness.arguments("Salesforce", "salesforce")
    parser.add_argument("--daily", type=int, default=100_000, help="the org's daily API request allocation")
    args = parser.parse_args(argv)
    LATENCY_MS[0] = args.latency_ms
    app = harness.medians([run_app(args.daily, args.contacts, args.existing) for _ in range(args.runs)])
    firms = harness.medians([run_app(args.daily, args.contacts, args.existing, args.companies)
                             for _ in range(args.runs)])
    related = harness.medians([run_app(args.daily, args.contacts, args.existing, args.companies, relations=True)
                        for _ in range(args.runs)])
    naive = harness.medians([run_naive(args.daily, args.contacts, args.existing) for _ in range(args.naive_runs)])
    print(f"daily allocation: {args.daily} requests; latency {args.latency_ms} ms per answer")
    print(f"contacts: {args.contacts} records ({args.existing} updated, {args.contacts - args.existing} created); "
          f"with companies: {args.companies} accounts")
    print(f"runs: {args.runs} app, {args.runs} with companies, {args.runs} with companies as related accounts, "
          f"{args.naive_runs} naive (medians)")
    harness.print_figures("app_", app, UNITS)
    harness.print_figures("companies_", firms, UNITS)
    harness.print_figures("relations_", related, UNITS)
    harness.print_figures("naive_", naive, UNITS)
    harness.print_ratios(naive, app, ("seconds", "api_calls_per_1000_contacts", "allocation_units_per_1000_contacts"))


if __name__ == "__main__":
    main()
