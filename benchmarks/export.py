"""Export benchmark (DESIGN §12) against the HubSpot sandbox on loopback, beside HubSpot's own SDK.

Run from the project root (``pip install -e ".[bench]"`` installs the peer, ``hubspot-api-client``):

    python benchmarks/export.py                      # peer, blind upsert and reading export, 20,000 contacts, 3 runs
    python benchmarks/export.py --repeat 5 --contacts 30000 --existing 9000
    python benchmarks/export.py --only b --big 100000
    python benchmarks/export.py --crm pipedrive       # Pipedrive: the app against a naive per-record script
                                                     # (benchmarks/export_pipedrive.py says what it measures)
    python benchmarks/export.py --crm salesforce      # Salesforce: the app (with and without companies) against a
                                                     # naive per-record script (benchmarks/export_salesforce.py)
    python benchmarks/export.py --crm zoho            # Zoho CRM: the same three runs (benchmarks/export_zoho.py)
    python benchmarks/export.py --crm dynamics        # Dynamics 365: the same (benchmarks/export_dynamics.py)
    python benchmarks/export.py --crm tribecrm        # TribeCRM: the same, against its 1,000 calls per minute

(a) Each run gets three fresh copies of the same emulator, each in its own process (so neither the app nor the
    peer shares an interpreter with it), at HubSpot's Professional limit (190 requests per 10 s,
    search 4 per second), each holding 20,000 contacts, 6,000 of which are in the list of 20,000 (their job title
    differs: updated); the other 14,000 of the list are new. On them, in the same run:

    - the peer: HubSpot's own SDK batch-upserting the list by e-mail (100 per call, ``batch/upsert``), retrying its
      429s as its urllib3 retry policy does (``Retry-After`` honoured). It reads nothing: an upsert cannot tell
      what it changed. Prints ``peer_records_per_s``, ``peer_api_calls_per_1000_contacts``,
      ``peer_http_429_count``;
    - the app's **blind upsert**: e-mail identifier, every mapped field Overwrite on (the same fields the peer
      sends), the whole export — plan, journal and run — timed: ``upsert_records_per_s`` (and
      ``upsert_run_records_per_s`` from the run's start, after the preview), ``upsert_api_calls_per_1000_contacts``,
      ``upsert_http_429_count``, and ``vs_peer`` (blind upsert over the peer, the whole export; budget ≥ 1.0) and
      ``vs_peer_run`` (the same from Export, after the preview: the plan is what the user confirms);
    - the app's **reading** export: the same identifier, Overwrite off on most fields (the current values decide
      what is written, so the plan reads them and shows before → after): ``api_calls_per_1000_contacts`` (every
      request: matching with the current values, writes, retries; budget ≤ 16), ``records_per_s``,
      ``throughput_vs_window_ceiling`` (records/s over what the limits allow for the very requests the run sent,
      in their order: a simulation of the 190-per-10-s rolling window and the 4-per-second search window with
      answers taking no time; budget ≥ 0.95) and ``http_429_count`` (budget 0).

    The parent prints the median of each figure over ``--repeat`` runs (default 3), each run's figures as comments.
    Then, once and without rate limit: ``api_calls_per_1000_contacts_with_companies`` (Export associated companies,
    one company per ten contacts) and ``api_calls_per_1000_contacts_name_identifier`` (the default identifier,
    LinkedIn URL or first name + last name + company: HubSpot's search compares stored text, so the CRM's
    identifier fields are listed — the figure depends on the CRM's size, 20,000 here).

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
import statistics
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
from enginy_desktop.core.crm_config import (  # noqa: E402
    AssociationType,
    ContactIdentifier,
    CrmConfig,
    FieldMapping,
    MappingKind,
)
from enginy_desktop.core.export.plan import ExportOptions, plan_export  # noqa: E402
from enginy_desktop.core.export.run import execute, start_export  # noqa: E402
from enginy_desktop.core.matching.normalize import Kind  # noqa: E402
from enginy_desktop.core.matching.rules import Condition, ContactPreset, Rule  # noqa: E402
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


def _config(ctx: AppContext, association: AssociationType = AssociationType.ADDITIONAL, *, by_email: bool = False,
            overwrite_all: bool = False) -> None:
    """The benchmark's Export Mapping. ``by_email``: contacts identified by their e-mail (else the default
    identifier); ``overwrite_all``: Overwrite on for every field (with ``by_email``, a blind upsert)."""
    config = CrmConfig(crm="hubspot")
    if by_email:
        email = Rule.of(Condition("email", "email", Kind.EMAIL, "Email"))
        config.contact_identifier = ContactIdentifier(ContactPreset.CUSTOM, email)
    for source, crm_field, overwrite in (("first_name", "firstname", False), ("last_name", "lastname", False),
                                         ("email", "email", False), ("company_name", "company", False),
                                         ("job_title", "jobtitle", True), ("phone", "phone", False),
                                         ("linkedin_url", "hs_linkedin_url", False), ("city", "city", False)):
        config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, crm_field, source=source,
                                                   overwrite=overwrite or overwrite_all))
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, "lifecyclestage", value="Lead",
                                               overwrite=overwrite_all))
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


LAST_RUN_SECONDS: list[float] = []  # the latest export's run alone (Export to the end, after the preview)
LAST_BLIND: list[bool] = []  # whether the latest export's plan was a blind upsert


async def _export(ctx: AppContext, list_name: str, options: ExportOptions | None = None) -> tuple[Any, Any, float]:
    started = time.monotonic()
    adapter = ctx.adapters.crm("hubspot")
    try:
        plan = await plan_export(ctx, list_name, options, adapter=adapter)
        LAST_BLIND[:] = [plan.blind is not None]
        run_id = start_export(ctx, plan)
        plan_calls = plan.api_calls
        del plan  # the journal holds it now
        run_started = time.monotonic()
        result = await execute(ctx, run_id, adapter=adapter, notify=False)
        LAST_RUN_SECONDS[:] = [time.monotonic() - run_started]
        calls = adapter.calls_made
    finally:
        await adapter.aclose()
    return plan_calls, (result, calls), time.monotonic() - started


def _connect(ctx: AppContext, url: str, tier: str = "Professional") -> None:
    ctx.integrations.save_connection("hubspot", {"base_url": url, "token": DEFAULT_TOKEN, "tier": tier})
    ctx.integrations.enable("hubspot")


LIMIT, SEARCH_LIMIT = RateLimit(190, 10.0), RateLimit(4, 1.0)


CONTROL_TOKEN = "bench-control-token"  # noqa: S105 - the benchmark's own emulator's control API


class ChildCrm:
    """A fresh HubSpot emulator in its own process (so neither the app nor the peer shares an interpreter with
    it), seeded with ``existing`` of the list's contacts (another job title) and ``contacts - existing`` others,
    then set to the Professional limit; its request log is read through the control API."""

    def __init__(self, contacts: int, existing: int) -> None:
        import httpx

        self.rows = [_person(i) for i in range(contacts)]
        os.environ["ENGINY_SANDBOX_CONTROL_TOKEN"] = CONTROL_TOKEN
        self.proc, self.url = _sandbox_process()
        self.http = httpx.Client(base_url=self.url, timeout=60)
        seed = [_crm_props(self.rows[i], "Sales") for i in range(existing)]
        seed += [_crm_props(_person(i, "x"), "Other") for i in range(contacts, contacts + (contacts - existing))]
        auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        for start in range(0, len(seed), 100):
            reply = self.http.post("/crm/v3/objects/contacts/batch/create", headers=auth,
                                   json={"inputs": [{"properties": p} for p in seed[start:start + 100]]})
            reply.raise_for_status()
        self._control("POST", "/__sandbox__/limits", json={"rate_limit": "190/10s", "search_rate_limit": "4/1s"})
        self.mark = self.total()

    def _control(self, method: str, path: str, **kw: Any) -> Any:
        reply = self.http.request(method, path, headers={"Authorization": f"Bearer {CONTROL_TOKEN}"}, **kw)
        reply.raise_for_status()
        return reply.json()

    def total(self) -> int:
        return int(self._control("GET", "/__sandbox__/requests", params={"since": 10**9})["total"])

    def log(self) -> list[Any]:
        """The requests since the emulator was seeded and limited (control requests left out)."""
        from types import SimpleNamespace

        entries = self._control("GET", "/__sandbox__/requests", params={"since": self.mark})["results"]
        return [SimpleNamespace(path=e["path"], status=e["status"]) for e in entries
                if not e["path"].startswith("/__sandbox__")]

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def window_ceiling_seconds(log: list[Any]) -> float:
    """The least time the requests of ``log`` (in their order) could take under the emulator's limits, answers
    taking no time: each request starts as soon as both the 10-second rolling window (190 requests; searches do
    not count in it, as in HubSpot) and, for a search, the 1-second search window (4) allow it."""
    starts: list[float] = []
    windowed: list[float] = []
    searches: list[float] = []
    for e in log:
        t = starts[-1] if starts else 0.0
        is_search = e.path.endswith("/search")
        if is_search:
            if len(searches) >= SEARCH_LIMIT.max_requests:
                t = max(t, searches[-SEARCH_LIMIT.max_requests] + SEARCH_LIMIT.interval_s)
            searches.append(t)
        else:
            if len(windowed) >= LIMIT.max_requests:
                t = max(t, windowed[-LIMIT.max_requests] + LIMIT.interval_s)
            windowed.append(t)
        starts.append(t)
    return starts[-1] if starts else 0.0


def bench_a(contacts: int, existing: int) -> dict[str, float]:
    """The reading export: e-mail identifier, Overwrite off on most fields (the current values decide)."""
    crm = ChildCrm(contacts, existing)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = AppContext.open(Path(tmp))
            try:
                _connect(ctx, crm.url)
                _config(ctx, by_email=True)
                _list(ctx, "Bench", crm.rows)
                plan, (result, calls), seconds = asyncio.run(_export(ctx, "Bench"))
            finally:
                ctx.close()
        assert not LAST_BLIND[0]
        log = crm.log()
    finally:
        crm.close()
    assert result.state == "finished", result.error
    c = result.counters
    assert c.get("created", 0) == contacts - existing, c
    assert c.get("updated", 0) == existing, c
    ceiling = window_ceiling_seconds(log)
    return {
        "records_per_s": contacts / seconds,
        "ceiling_records_per_s": contacts / ceiling,
        "throughput_vs_window_ceiling": ceiling / seconds,
        "api_calls_per_1000_contacts": calls * 1000 / contacts,
        "api_calls_plan_per_1000_contacts": plan * 1000 / contacts,
        "http_429_count": float(sum(1 for e in log if e.status == 429)),
        "searches": float(sum(1 for e in log if e.path.endswith("/search"))),
    }


def bench_upsert(contacts: int, existing: int) -> dict[str, float]:
    """The blind upsert: e-mail identifier, every mapped field Overwrite on; nothing read first."""
    crm = ChildCrm(contacts, existing)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = AppContext.open(Path(tmp))
            try:
                _connect(ctx, crm.url)
                _config(ctx, by_email=True, overwrite_all=True)
                _list(ctx, "Bench", crm.rows)
                _plan, (result, calls), seconds = asyncio.run(_export(ctx, "Bench"))
            finally:
                ctx.close()
        assert LAST_BLIND[0]
        log = crm.log()
    finally:
        crm.close()
    assert result.state == "finished", result.error
    c = result.counters
    assert c.get("created", 0) == contacts - existing, c
    assert c.get("updated", 0) == existing, c
    return {
        "upsert_records_per_s": contacts / seconds,
        "upsert_run_records_per_s": contacts / LAST_RUN_SECONDS[0],
        "upsert_api_calls_per_1000_contacts": calls * 1000 / contacts,
        "upsert_http_429_count": float(sum(1 for e in log if e.status == 429)),
        "upsert_vs_window_ceiling": window_ceiling_seconds(log) / seconds,
    }


def bench_peer(contacts: int, existing: int) -> dict[str, float]:
    """The peer: HubSpot's own SDK (``hubspot-api-client``, ``pip install -e ".[bench]"``) batch-upserting the same
    contacts by e-mail (100 per call, ``/crm/v3/objects/contacts/batch/upsert``) against its own copy of the same
    emulator at the same 190 requests / 10 s, retrying 429s as its urllib3 retry policy does (Retry-After
    honoured). It reads nothing: an upsert cannot tell what it changed."""
    from hubspot import HubSpot
    from hubspot.crm.contacts import (
        BatchInputSimplePublicObjectBatchInputUpsert,
        SimplePublicObjectBatchInputUpsert,
    )
    from urllib3.util.retry import Retry

    crm = ChildCrm(contacts, existing)
    try:
        retry = Retry(total=20, status_forcelist=[429], allowed_methods=None, backoff_factor=0.2,
                      respect_retry_after_header=True)
        client = HubSpot(access_token=DEFAULT_TOKEN, host=crm.url, retry=retry)
        rows = crm.rows
        started = time.monotonic()
        for start in range(0, contacts, 100):
            inputs = [SimplePublicObjectBatchInputUpsert(id=r["email"], id_property="email", properties={
                "firstname": r["first_name"], "lastname": r["last_name"], "email": r["email"],
                "company": r["company_name"], "jobtitle": r["job_title"], "phone": r["phone"],
                "hs_linkedin_url": r["linkedin_url"], "city": r["city"], "lifecyclestage": "lead"})
                for r in rows[start:start + 100]]
            client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))
        seconds = time.monotonic() - started
        log = crm.log()
    finally:
        crm.close()
    return {
        "peer_records_per_s": contacts / seconds,
        "peer_api_calls_per_1000_contacts": len(log) * 1000 / contacts,
        "peer_http_429_count": float(sum(1 for e in log if e.status == 429)),
        "peer_vs_window_ceiling": window_ceiling_seconds(log) / seconds,
    }


UNITS = {"per_s": "records/s", "per_1000_contacts": "calls", "count": "responses", "searches": "calls"}


def _unit(name: str) -> str:
    return next((u for k, u in UNITS.items() if name.endswith(k)), "ratio")


def bench_side_by_side(contacts: int, existing: int, repeat: int) -> None:
    try:
        import hubspot  # noqa: F401
    except ImportError:
        raise SystemExit('the peer is missing: pip install -e ".[bench]" installs hubspot-api-client') from None
    runs: list[dict[str, float]] = []
    for i in range(repeat):
        figures = {**bench_peer(contacts, existing), **bench_upsert(contacts, existing), **bench_a(contacts, existing)}
        figures["vs_peer"] = figures["upsert_records_per_s"] / figures["peer_records_per_s"]
        figures["vs_peer_run"] = figures["upsert_run_records_per_s"] / figures["peer_records_per_s"]
        runs.append(figures)
        print(f"# run {i + 1}: " + ", ".join(f"{k}={v:.3f}" if v < 10 else f"{k}={v:.0f}" for k, v in figures.items()),
              flush=True)
    print(f"contacts: {contacts} records")
    print(f"existing: {existing} records")
    print(f"runs: {len(runs)} runs")
    for name in runs[0]:
        value = statistics.median(r[name] for r in runs)
        text = f"{value:.0f}" if name.endswith("per_s") else (f"{value:.1f}" if "per_1000" in name or name.endswith(
            ("count", "searches")) else f"{value:.3f}")
        print(f"{name}: {text} {_unit(name)}")


def bench_unlimited(contacts: int, existing: int, *, companies: bool) -> None:
    """Calls only, without rate limit: with Export associated companies (one company per ten contacts, all new,
    "additional", e-mail identifier), or without companies by the default identifier (LinkedIn URL, or first name
    + last name + company)."""
    app = create_app(HubSpotSandboxConfig(seed_contacts=0, owners=3, rate_limit=None, search_rate_limit=None,
                                          daily_limit=None))
    sb = app.state.sandbox
    with tempfile.TemporaryDirectory() as tmp, serve(app) as url:
        ctx = AppContext.open(Path(tmp))
        try:
            _connect(ctx, url, tier="API add-on")
            _config(ctx, by_email=companies)
            rows = [_person(i, "c") for i in range(contacts)]
            for i in range(existing):
                sb.insert("contacts", _crm_props(rows[i], "Sales"))
            for i in range(contacts, contacts + (contacts - existing)):
                sb.insert("contacts", _crm_props(_person(i, "x"), "Other"))
            _list(ctx, "Bench unlimited", rows, companies=companies)
            _, (result, calls), _ = asyncio.run(_export(ctx, "Bench unlimited",
                                                         ExportOptions(associated_companies=companies)))
            assert result.state == "finished", result.error
            name = "with_companies" if companies else "name_identifier"
            print(f"api_calls_per_1000_contacts_{name}: {calls * 1000 / contacts:.1f} calls")
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
    if "--crm" in sys.argv and sys.argv[sys.argv.index("--crm") + 1:][:1] == ["tribecrm"]:
        from benchmarks.export_tribecrm import main as tribecrm_main  # see its docstring

        tribecrm_main(sys.argv[1:])
        return
    if "--crm" in sys.argv and sys.argv[sys.argv.index("--crm") + 1:][:1] == ["salesforce"]:
        from benchmarks.export_salesforce import main as salesforce_main  # see its docstring

        salesforce_main(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["a", "b", "c"])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--existing", type=int, default=6_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--big-existing", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.only in (None, "a"):
        bench_side_by_side(args.contacts, args.existing, args.repeat)
        bench_unlimited(args.contacts, args.existing, companies=True)
        bench_unlimited(args.contacts, args.existing, companies=False)
    if args.only in (None, "b"):
        bench_b(args.big, args.big_existing)
    if args.only in (None, "c"):
        bench_c(min(args.contacts, 10_000))


if __name__ == "__main__":
    main()
