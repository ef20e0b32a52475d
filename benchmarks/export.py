"""Export benchmark (issue 7, DESIGN §12) against the HubSpot sandbox on loopback.

Run from the project root:

    python benchmarks/export.py                     # (a) 10,000 contacts at 190/10 s, with companies, and (b)
    python benchmarks/export.py --only a --contacts 10000
    python benchmarks/export.py --only b --big 100000
    python benchmarks/export.py --crm pipedrive       # Pipedrive: the app against a naive per-record script
                                                     # (benchmarks/export_pipedrive.py says what it measures)
    python benchmarks/export.py --crm salesforce      # Salesforce: the app (with and without companies) against a
                                                     # naive per-record script (benchmarks/export_salesforce.py)
    python benchmarks/export.py --crm zoho            # Zoho CRM: the same three runs (benchmarks/export_zoho.py)
    python benchmarks/export.py --crm dynamics        # Dynamics 365: the same (benchmarks/export_dynamics.py)

(a) The sandbox runs in this process (a uvicorn thread) at HubSpot's Professional limit (190 requests per 10 s,
    search 4 per second). The CRM holds 10,000 contacts, 3,000 of which are in the list (their job title differs,
    Overwrite on: they are updated); the other 7,000 of the list are new. The export (plan + run, the whole
    command) prints:

    - ``throughput_vs_ceiling``: records/s achieved over the records/s the limit allows for the calls the run
      needed (``calls × 10 / 190`` seconds, or the search limit when searches dominate); budget ≥ 0.95;
    - ``api_calls_per_1000_contacts``: every HTTP request (matching, reading, writing, retries); budget ≤ 40;
    - ``http_429_count``: requests the sandbox refused with 429 during the export; budget 0;
    - ``api_calls_per_1000_contacts_with_companies``: the same export of another list with Export associated
      companies (one company per ten contacts, Association Type "additional"), measured without rate limit.

(peer) Run before (a), or alone with ``--only peer``: HubSpot's own SDK, ``hubspot-api-client``
    (``pip install -e ".[bench]"``), batch-upserting the same contacts by e-mail, 100 per call, against its own
    copy of the same emulator at the same 190 requests / 10 s (retrying 429s with its urllib3 retry policy).
    Prints ``peer_records_per_s``, ``peer_api_calls_per_1000_contacts`` and ``peer_http_429_count``. Compare
    with (a)'s ``records_per_s``: the app plans (it reads the CRM to show before → after), the peer does not.

(c) ``--only c``: the way a user runs it — the HubSpot sandbox as its own process (``enginy-desktop sandbox``) at
    190 requests per 10 s and search 4 per second; a first export puts a third of the list in the CRM, then the
    whole list (10,000: a third updated, the rest created) is exported. Prints ``http_429_count_standalone``: the
    429 answers of that export as its own report counts them (``traffic.throttled``), and its retries and time
    waited.

(b) The sandbox runs in a child process (``enginy-desktop sandbox``) with no rate limit, so this process holds only
    the app: an export of 100,000 contacts (20,000 already in the CRM from a first export) prints ``records_per_s``
    and ``peak_rss_mb`` (budget ≤ 400; the process's peak resident memory, set-up included).

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")
os.environ.setdefault("ENGINY_TEST_KEYRING_FILE", str(Path(tempfile.mkdtemp()) / "keyring.json"))

from sqlalchemy import insert  # noqa: E402

from enginy_desktop.core.context import AppContext  # noqa: E402
from enginy_desktop.core.crm_config import AssociationType, CrmConfig, FieldMapping, MappingKind  # noqa: E402
from enginy_desktop.core.export.plan import ExportOptions, plan_export  # noqa: E402
from enginy_desktop.core.export.run import execute, start_export  # noqa: E402
from enginy_desktop.core.models import Company, Contact, ContactList, ListMembership, utcnow  # noqa: E402
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, RateLimit, create_app  # noqa: E402
from enginy_desktop.sandbox.server import serve  # noqa: E402

FIRST = ["Ana", "Ben", "Carla", "Dario", "Elena", "Fabio", "Greta", "Hugo", "Irene", "Jonas", "Kira", "Leo"]
LAST = ["Arnau", "Bosch", "Cortes", "Duran", "Esteve", "Ferrer", "Gil", "Homs", "Iglesias", "Jover", "Llull"]


def _person(i: int, prefix: str = "p") -> dict[str, Any]:
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    return {
        "first_name": first, "last_name": f"{last}{i}", "email": f"{prefix}{i}@corp{i % 997}.example",
        "company_name": f"Corp {i % 997}", "job_title": "Head of Sales", "phone": f"+34 600 {i:06d}",
        "linkedin_url": f"https://www.linkedin.com/in/{prefix}{i}-{last.lower()}", "city": "Madrid",
    }


def _crm_props(row: dict[str, Any], job: str) -> dict[str, str]:
    return {"firstname": row["first_name"], "lastname": row["last_name"], "email": row["email"],
            "company": row["company_name"], "jobtitle": job, "hs_linkedin_url": row["linkedin_url"]}


def _config(ctx: AppContext, association: AssociationType = AssociationType.ADDITIONAL) -> None:
    config = CrmConfig(crm="hubspot")
    for source, crm_field, overwrite in (("first_name", "firstname", False), ("last_name", "lastname", False),
                                         ("email", "email", False), ("company_name", "company", False),
                                         ("job_title", "jobtitle", True), ("phone", "phone", False),
                                         ("linkedin_url", "hs_linkedin_url", False), ("city", "city", False)):
        config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, crm_field, source=source, overwrite=overwrite))
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, "lifecyclestage", value="Lead"))
    for source, crm_field in (("name", "name"), ("domain", "domain")):
        config.add_mapping("company", FieldMapping(MappingKind.ENGINY, crm_field, source=source))
    config.association_type = association
    ctx.crm_configs.save(config)


def _list(ctx: AppContext, name: str, rows: Iterable[dict[str, Any]], companies: bool = False) -> None:
    """Insert contacts (and, with ``companies``, one company per ten contacts) and a list, in bulk (the rows are
    consumed 5,000 at a time, so the benchmark's own data never sits in memory whole)."""
    now = utcnow()
    rows = list(rows) if companies else rows
    with ctx.store.write() as s:
        lst = ContactList(name=name, kind="contacts")
        s.add(lst)
        s.flush()
        company_ids: list[int] = []
        if companies:
            n = max(1, len(rows) // 10)  # type: ignore[arg-type]
            first = s.execute(insert(Company).returning(Company.id, sort_by_parameter_order=True), [
                {"name": f"{name} Company {i}", "domain": f"{name.lower().replace(' ', '')}{i}.example",
                 "created_at": now, "updated_at": now, "custom_fields": {}} for i in range(n)]).scalars().all()
            company_ids = list(first)
        iterator = iter(rows)
        start = 0
        while chunk := list(itertools.islice(iterator, 5000)):
            ids = s.execute(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), [
                {**r, "created_at": now, "updated_at": now, "custom_fields": {},
                 "company_id": company_ids[(start + i) % len(company_ids)] if company_ids else None}
                for i, r in enumerate(chunk)]).scalars().all()
            s.execute(insert(ListMembership), [{"list_id": lst.id, "record_id": rid, "position": start + i}
                                               for i, rid in enumerate(ids)])
            start += len(chunk)


async def _export(ctx: AppContext, list_name: str, options: ExportOptions | None = None) -> tuple[Any, Any, float]:
    started = time.monotonic()
    adapter = ctx.adapters.crm("hubspot")
    try:
        plan = await plan_export(ctx, list_name, options, adapter=adapter)
        run_id = start_export(ctx, plan)
        plan_calls = plan.api_calls
        del plan  # the journal holds it now
        result = await execute(ctx, run_id, adapter=adapter, notify=False)
        calls = adapter.calls_made
    finally:
        await adapter.aclose()
    return plan_calls, (result, calls), time.monotonic() - started


def _connect(ctx: AppContext, url: str, tier: str = "Professional") -> None:
    ctx.integrations.save_connection("hubspot", {"base_url": url, "token": DEFAULT_TOKEN, "tier": tier})
    ctx.integrations.enable("hubspot")


def bench_a(contacts: int, existing: int) -> None:
    app = create_app(HubSpotSandboxConfig(seed_contacts=0, owners=3, rate_limit=RateLimit(190, 10.0),
                                          search_rate_limit=RateLimit(4, 1.0), daily_limit=None))
    sb = app.state.sandbox
    with tempfile.TemporaryDirectory() as tmp, serve(app) as url:
        ctx = AppContext.open(Path(tmp))
        try:
            _connect(ctx, url)
            _config(ctx)
            rows = [_person(i) for i in range(contacts)]
            for i in range(existing):  # in the CRM with another job title: updated (Overwrite on)
                sb.insert("contacts", _crm_props(rows[i], "Sales"))
            for i in range(contacts, contacts + (contacts - existing)):  # other CRM contacts, not in the list
                sb.insert("contacts", _crm_props(_person(i, "x"), "Other"))
            _list(ctx, "Bench", rows)
            before = len(sb.requests)
            plan, (result, calls), seconds = asyncio.run(_export(ctx, "Bench"))
            log = sb.requests[before:]
            http_429 = sum(1 for e in log if e.status == 429)
            searches = sum(1 for e in log if e.path.endswith("/search"))
            assert result.state == "finished", result.error
            c = result.counters
            # The ceiling: the calls this run needed, at 190 per 10 s (and searches at 4 per second).
            ceiling_seconds = max(calls * 10 / 190, searches / 4)
            print(f"contacts: {contacts} records")
            print(f"created: {c.get('created', 0)} records")
            print(f"updated: {c.get('updated', 0)} records")
            print(f"failed: {c.get('failed', 0)} records")
            print(f"export_seconds: {seconds:.1f} s")
            print(f"records_per_s: {contacts / seconds:.0f} records/s")
            print(f"ceiling_records_per_s: {contacts / ceiling_seconds:.0f} records/s")
            print(f"throughput_vs_ceiling: {ceiling_seconds / seconds:.3f} ratio")
            # Stricter: a rolling window lets the first 190 calls go at once and each later one 10 s after an
            # earlier one, so N calls need at least 10 * floor((N - 1) / 190) seconds (latency aside).
            window_seconds = max(10 * ((calls - 1) // 190), searches / 4)
            if window_seconds:
                print(f"throughput_vs_window_ceiling: {window_seconds / seconds:.3f} ratio")
            print(f"api_calls: {calls} calls")
            print(f"api_calls_plan: {plan} calls")
            print(f"api_calls_per_1000_contacts: {calls * 1000 / contacts:.1f} calls")
            print(f"http_429_count: {http_429} responses")

        finally:
            ctx.close()
    bench_companies(contacts, existing)


def bench_peer(contacts: int, existing: int) -> None:
    """The peer: HubSpot's own SDK (``hubspot-api-client``, ``pip install -e ".[bench]"``) batch-upserting the same
    contacts by e-mail (100 per call, ``/crm/v3/objects/contacts/batch/upsert``) against its own copy of the same
    emulator at the same 190 requests / 10 s, retrying 429s as its urllib3 retry policy does (Retry-After
    honoured). It reads nothing: an upsert cannot tell what it changed."""
    try:
        from hubspot import HubSpot
        from hubspot.crm.contacts import (
            BatchInputSimplePublicObjectBatchInputUpsert,
            SimplePublicObjectBatchInputUpsert,
        )
        from urllib3.util.retry import Retry
    except ImportError:
        print("peer_records_per_s: skipped (pip install -e \".[bench]\" installs hubspot-api-client)")
        return
    app = create_app(HubSpotSandboxConfig(seed_contacts=0, owners=3, rate_limit=RateLimit(190, 10.0),
                                          search_rate_limit=RateLimit(4, 1.0), daily_limit=None))
    sb = app.state.sandbox
    rows = [_person(i) for i in range(contacts)]
    for i in range(existing):
        sb.insert("contacts", _crm_props(rows[i], "Sales"))
    for i in range(contacts, contacts + (contacts - existing)):
        sb.insert("contacts", _crm_props(_person(i, "x"), "Other"))
    with serve(app) as url:
        retry = Retry(total=20, status_forcelist=[429], allowed_methods=None, backoff_factor=0.2,
                      respect_retry_after_header=True)
        client = HubSpot(access_token=DEFAULT_TOKEN, host=url, retry=retry)
        before = len(sb.requests)
        started = time.monotonic()
        for start in range(0, contacts, 100):
            inputs = [SimplePublicObjectBatchInputUpsert(id=r["email"], id_property="email", properties={
                "firstname": r["first_name"], "lastname": r["last_name"], "email": r["email"],
                "company": r["company_name"], "jobtitle": r["job_title"], "phone": r["phone"],
                "hs_linkedin_url": r["linkedin_url"], "city": r["city"], "lifecyclestage": "lead"})
                for r in rows[start:start + 100]]
            client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))
        seconds = time.monotonic() - started
        log = sb.requests[before:]
    print(f"peer_contacts: {contacts} records")
    print(f"peer_seconds: {seconds:.1f} s")
    print(f"peer_records_per_s: {contacts / seconds:.0f} records/s")
    print(f"peer_api_calls_per_1000_contacts: {len(log) * 1000 / contacts:.1f} calls")
    print(f"peer_http_429_count: {sum(1 for e in log if e.status == 429)} responses")


def bench_companies(contacts: int, existing: int) -> None:
    """The same shape with Export associated companies (one company per ten contacts, all new, "additional"),
    without rate limit: only the calls per 1,000 contacts are measured."""
    app = create_app(HubSpotSandboxConfig(seed_contacts=0, owners=3, rate_limit=None, search_rate_limit=None,
                                          daily_limit=None))
    sb = app.state.sandbox
    with tempfile.TemporaryDirectory() as tmp, serve(app) as url:
        ctx = AppContext.open(Path(tmp))
        try:
            _connect(ctx, url, tier="API add-on")
            _config(ctx)
            rows = [_person(i, "c") for i in range(contacts)]
            for i in range(existing):
                sb.insert("contacts", _crm_props(rows[i], "Sales"))
            for i in range(contacts, contacts + (contacts - existing)):
                sb.insert("contacts", _crm_props(_person(i, "x"), "Other"))
            _list(ctx, "Bench companies", rows, companies=True)
            _, (result, calls), _ = asyncio.run(_export(ctx, "Bench companies",
                                                         ExportOptions(associated_companies=True)))
            assert result.state == "finished", result.error
            print(f"api_calls_per_1000_contacts_with_companies: {calls * 1000 / contacts:.1f} calls")
        finally:
            ctx.close()


def _sandbox_process(limited: bool = False) -> tuple[subprocess.Popen[str], str]:
    limits = (["--rate-limit", "190/10s", "--search-rate-limit", "4/1s"] if limited
              else ["--rate-limit", "off", "--search-rate-limit", "off"])
    cmd = [sys.executable, "-m", "enginy_desktop", "sandbox", "--crm", "hubspot", "--port", "0", "--seed", "0",
           *limits, "--daily-limit", "off"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "ENGINY_DATA_DIR": tempfile.mkdtemp()})
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("the sandbox did not start")


def bench_c(contacts: int) -> None:
    existing = contacts // 3
    proc, url = _sandbox_process(limited=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = AppContext.open(Path(tmp))
            try:
                _connect(ctx, url)
                _config(ctx)
                _list(ctx, "Third", (_person(i) for i in range(existing)))
                _, (first, _), _ = asyncio.run(_export(ctx, "Third"))
                assert first.state == "finished", first.error
                _list(ctx, "All", ({**_person(i), "job_title": "VP Sales"} for i in range(contacts)))
                _, (result, calls), seconds = asyncio.run(_export(ctx, "All"))
                assert result.state == "finished", result.error
                counters = ctx.runs.get(result.run_id).counters
                print(f"standalone_contacts: {contacts} records")
                print(f"standalone_export_seconds: {seconds:.1f} s")
                print(f"standalone_api_calls: {calls} calls")
                print(f"http_429_count_standalone: {counters.get('throttled', 0)} responses")
                print(f"retries_standalone: {counters.get('retries', 0)} requests")
                print(f"waited_standalone: {counters.get('waited_ms', 0) / 1000:.1f} s")
            finally:
                ctx.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def bench_b(contacts: int, existing: int) -> None:
    proc, url = _sandbox_process()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = AppContext.open(Path(tmp))
            try:
                _connect(ctx, url, tier="API add-on")
                _config(ctx)
                _list(ctx, "First", (_person(i) for i in range(existing)))
                _, (first, _), _ = asyncio.run(_export(ctx, "First"))  # puts `existing` contacts in the CRM
                assert first.state == "finished", first.error
                _list(ctx, "Big", ({**_person(i), "job_title": "VP Sales"} for i in range(contacts)))
                _, (result, calls), seconds = asyncio.run(_export(ctx, "Big"))
                assert result.state == "finished", result.error
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"big_contacts: {contacts} records")
                print(f"big_created: {result.counters.get('created', 0)} records")
                print(f"big_updated: {result.counters.get('updated', 0)} records")
                print(f"big_export_seconds: {seconds:.1f} s")
                print(f"records_per_s: {contacts / seconds:.0f} records/s")
                print(f"big_api_calls_per_1000_contacts: {calls * 1000 / contacts:.1f} calls")
                print(f"peak_rss_mb: {rss:.0f} MB")
            finally:
                ctx.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    if "--crm" in sys.argv and sys.argv[sys.argv.index("--crm") + 1:][:1] == ["pipedrive"]:
        from benchmarks.export_pipedrive import main as pipedrive_main  # see its docstring

        pipedrive_main(sys.argv[1:])
        return
    if "--crm" in sys.argv and sys.argv[sys.argv.index("--crm") + 1:][:1] == ["zoho"]:
        from benchmarks.export_zoho import main as zoho_main  # see its docstring

        zoho_main(sys.argv[1:])
        return
    if "--crm" in sys.argv and sys.argv[sys.argv.index("--crm") + 1:][:1] == ["dynamics"]:
        from benchmarks.export_dynamics import main as dynamics_main  # see its docstring

        dynamics_main(sys.argv[1:])
        return
    if "--crm" in sys.argv and sys.argv[sys.argv.index("--crm") + 1:][:1] == ["salesforce"]:
        from benchmarks.export_salesforce import main as salesforce_main  # see its docstring

        salesforce_main(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["a", "b", "c", "peer"])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--existing", type=int, default=3_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--big-existing", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.only in (None, "a", "peer"):
        bench_peer(args.contacts, args.existing)
    if args.only in (None, "a"):
        bench_a(args.contacts, args.existing)
    if args.only in (None, "b"):
        bench_b(args.big, args.big_existing)
    if args.only in (None, "c"):
        bench_c(args.contacts)


if __name__ == "__main__":
    main()
