"""Export benchmark against the TribeCRM emulator: ``python benchmarks/export.py --crm tribecrm``.

The emulator runs in this process (a uvicorn thread on loopback) with TribeCRM's limit, 1,000 calls per minute per
application on a sliding window (``--calls-per-minute``), 429 without headers over it, and ``--latency-ms`` (default
30) on every answer. The CRM holds ``--existing`` persons of the list (their job title differs, Overwrite on:
updated) and as many others; the rest of the list is new. Contacts are identified by e-mail. TribeCRM has no batch
and no upsert: every write is one call.

Three kinds of run, each on a fresh emulator (medians printed):

- **the app** (``app_*``, ``--runs`` times): the whole export (plan + run) as the window and the command line do
  it: ``EmailAddress eq … or eq …`` lookups of 25 values, reads of 100, single writes at the adapter's concurrency,
  paced at 16.5 calls per second so the minute's allowance is spread evenly;
- **the app with companies** (``companies_*``, ``--company-runs`` times): the same list with one of ``--companies``
  organisations each: organisations matched or created, each person made a contact of its own
  (``Relationship_Person_Contact_Standard``, one call each, after one read per 25 persons of the pairs already
  linked);
- **a naive per-record script** (``naive_*``, once), the way OData scripts are commonly written: for each record,
  ``GET Relation_Person?$filter=EmailAddress eq '…'``, then ``POST`` or ``PUT``, as fast as answers come; on a 429
  it waits the minute TribeCRM asks for, then goes on.

Figures: ``api_calls_per_1000_contacts``; ``calls_per_minute``, at steady state: the mean count of the run's
60-second windows, as TribeCRM's sliding window counts them (a run shorter than a minute: its rate);
``throughput_vs_ceiling``, that against 1,000; ``busiest_minute_calls``, the most calls the emulator saw arrive in
any 60 s; ``throttled`` (429 answers), ``records_per_s`` and ``seconds``; the ``naive_to_app_*`` ratios compare
the naive script with the app. Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from benchmarks.export_harness import UNITS as BASE_UNITS  # noqa: E402
from benchmarks.export_harness import (  # noqa: E402
    CrmBench,
    api_log,
    arguments,
    busiest_window,
    in_crm,
    medians,
    print_figures,
    print_ratios,
    row,
    run_app,
    window_rate,
)
from enginy_desktop.sandbox.crm.tribecrm import DEFAULT_TOKEN, TribeSandbox, TribeSandboxConfig, create_app  # noqa: E402
from enginy_desktop.sandbox.kit.faults import FaultConfig  # noqa: E402
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402

DATA = "/v1/odata"
SETTINGS: dict[str, int] = {"latency_ms": 30, "calls_per_minute": 1000}
UNITS = BASE_UNITS | {"calls_per_minute": "calls/min", "throughput_vs_ceiling": "ratio",
                      "busiest_minute_calls": "calls", "throttled": "responses"}


def _app(contacts: int, existing: int) -> Any:
    app = create_app(TribeSandboxConfig(calls_per_minute=SETTINGS["calls_per_minute"],
                                        faults=FaultConfig(latency_ms=SETTINGS["latency_ms"])))
    sb: TribeSandbox = app.state.sandbox
    for r, listed in in_crm(contacts, existing):
        sb.insert("Relation_Person", {"FirstName": r["first_name"], "LastName": r["last_name"],
                                      "EmailAddress": r["email"], **({"JobTitle": "Sales"} if listed else {})})
    return app


def _check(sb: TribeSandbox, existing: int, companies: int) -> None:
    if companies:
        assert len(sb.records["Relation_Organization"]) == companies
        staff = {e["Person"] for e in sb.records["Relationship_Person_Contact_Employee"].values()}
        listed = [p["ID"] for p in sb.records["Relation_Person"].values()
                  if p["ID"] not in staff and p.get("JobTitle") == "Head of Sales"]
        assert all(sb.companies_of(p) for p in listed), "a person without its organisation"


BENCH = CrmBench(
    crm="tribecrm",
    contact_fields=(("first_name", "FirstName", False), ("last_name", "LastName", False),
                    ("email", "EmailAddress", False), ("job_title", "JobTitle", True), ("phone", "PhoneNumber", False)),
    company_fields=(("name", "Name"), ("domain", "Website")),
    email_field="EmailAddress",
    make_app=_app,
    settings=lambda url: {"base_url": url, "access_token": DEFAULT_TOKEN},
    check=_check,
)


def _figures(sb: TribeSandbox, since: int, seconds: float, contacts: int) -> dict[str, float]:
    log = api_log(sb, since)
    per_minute = window_rate([e for e in log if e.status != 429], 60.0)
    return {
        "seconds": seconds,
        "records_per_s": contacts / seconds,
        "api_calls_per_1000_contacts": sum(1 for e in log if e.status != 429) * 1000 / contacts,
        "calls_per_minute": per_minute,
        "throughput_vs_ceiling": per_minute / SETTINGS["calls_per_minute"],
        "busiest_minute_calls": float(busiest_window([e for e in log if e.status != 429], 60.0)),
        "throttled": float(sum(1 for e in log if e.status == 429)),
    }


def app_figures(contacts: int, existing: int, companies: int = 0) -> dict[str, float]:
    done = run_app(BENCH, contacts, existing, companies)
    return _figures(done.sandbox, done.since, done.seconds, contacts)


def run_naive(contacts: int, existing: int) -> dict[str, float]:
    """Look up by e-mail, then create or update, record after record; a 429 waits a minute."""
    app = _app(contacts, existing)
    sb: TribeSandbox = app.state.sandbox
    with serve(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                                         timeout=30) as c:
        def call(method: str, path: str, **kw: Any) -> httpx.Response:
            while True:
                r = c.request(method, path, **kw)
                if r.status_code != 429:
                    return r.raise_for_status()
                time.sleep(60)  # "wait at least one minute before retrying"

        since = len(sb.requests)
        started = time.monotonic()
        created = updated = 0
        for i in range(contacts):
            r = row(i)
            found = call("GET", f"{DATA}/Relation_Person", params={
                "$select": "ID", "$filter": f"EmailAddress eq '{r['email']}'"}).json()["value"]
            fields = {"JobTitle": r["job_title"], "PhoneNumber": r["phone"]}
            if found:
                call("PUT", f"{DATA}/Relation_Person({found[0]['ID']})", json=fields)
                updated += 1
            else:
                call("POST", f"{DATA}/Relation_Person", json={
                    "FirstName": r["first_name"], "LastName": r["last_name"], "EmailAddress": r["email"], **fields})
                created += 1
        seconds = time.monotonic() - started
        assert (created, updated) == (contacts - existing, existing)
        return _figures(sb, since, seconds, contacts)


def main(argv: list[str] | None = None) -> None:
    parser = arguments("TribeCRM", "tribecrm")
    parser.add_argument("--calls-per-minute", type=int, default=1000)
    parser.add_argument("--company-runs", type=int, default=1, help="over two minutes each: default 1")
    args = parser.parse_args(argv)
    SETTINGS.update(latency_ms=args.latency_ms, calls_per_minute=args.calls_per_minute)
    app = medians([app_figures(args.contacts, args.existing) for _ in range(args.runs)])
    firms = medians([app_figures(args.contacts, args.existing, args.companies) for _ in range(args.company_runs)])
    naive = medians([run_naive(args.contacts, args.existing) for _ in range(args.naive_runs)])
    print(f"rate limit: {args.calls_per_minute} calls per minute; latency {args.latency_ms} ms per answer")
    print(f"contacts: {args.contacts} records ({args.existing} updated, {args.contacts - args.existing} created); "
          f"with companies: {args.companies} organisations")
    print(f"runs: {args.runs} app, {args.company_runs} with companies, {args.naive_runs} naive (medians)")
    print_figures("app_", app, UNITS)
    print_figures("companies_", firms, UNITS)
    print_figures("naive_", naive, UNITS)
    print_ratios(naive, app, ("seconds", "api_calls_per_1000_contacts"), 2)


if __name__ == "__main__":
    main()
