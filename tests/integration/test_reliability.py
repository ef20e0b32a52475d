"""What a run guarantees when things go wrong (docs/reliability.md): a journal written whole or not at all, a full
disk, one run per list at a time, a CRM that stops answering, and honest reports and exit codes. Against the
HubSpot sandbox on loopback, with a real SQLite store."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from enginy_desktop.adapters.http import RateLimit as AdapterRateLimit
from enginy_desktop.adapters.http import SlidingWindowLimiter
from enginy_desktop.core.export.plan import ExportOptions, plan_export
from enginy_desktop.core.export.report import load_report, write_failed_csv
from enginy_desktop.core.export.run import execute, resume, start_export
from enginy_desktop.core.models import Contact, RunLease
from enginy_desktop.core.runs import RunBusyError
from enginy_desktop.sandbox.hubspot import HubSpotSandboxConfig
from enginy_desktop.sandbox.kit.limits import RateLimit
from tests.support.export_world import COMPANY_BASICS, CONTACT_BASICS, World, enginy, world

Cli = Callable[..., tuple[int, str, str]]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def w(ctx: Any) -> Iterator[World]:
    with world(ctx) as value:
        yield value


def leads(n: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test", "company_name": "Acme",
             "job_title": "CEO", **extra} for i in range(start, start + n)]


async def execute_through(ctx: Any, run_id: int, transport: Any, **kw: Any) -> Any:
    """``execute`` with every adapter of the run talking through ``transport`` (a dead or hanging network)."""
    from enginy_desktop.core.services.adapters import AdapterFactory

    saved = ctx.adapters
    ctx.adapters = AdapterFactory(ctx, transport=transport)
    try:
        return await execute(ctx, run_id, **kw)
    finally:
        ctx.adapters = saved


def emails(w: World) -> Counter[str]:
    return Counter(c["email"] for c in w.crm_contacts())


# -- 1. the journal is written whole or not at all ----------------------------------------------------------------


def test_a_journal_that_cannot_be_written_leaves_no_run(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import enginy_desktop.core.export.run as run_module

    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(5))
    plan = run(plan_export(w.ctx, "Leads"))

    def broken(action: str) -> str:
        raise OSError("the disk went away")

    monkeypatch.setattr(run_module, "_initial", broken)
    with pytest.raises(OSError, match="the disk went away"):
        start_export(w.ctx, plan)
    assert w.ctx.runs.history(kind="export") == []  # no run without its records (none to "resume" as finished)
    assert w.ctx.runs.lease_holder("hubspot", plan.list_id) is None  # nor a lease left behind


def test_a_run_whose_records_are_missing_never_finishes(w: World) -> None:
    """A run row without its records (what a kill between the two did before they shared a transaction) ends as
    failed with the reason, never as "finished: created 0"."""
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(3))
    info = w.ctx.runs.create("export", crm="hubspot", list_name="Leads", options={"crm_name": "HubSpot"},
                             counters={"planned_create": 3, "planned_update": 0})
    result = run(execute(w.ctx, info.id))
    assert result.state == "failed"
    assert "before its records were journaled (0 of 3)" in result.error
    assert w.crm_contacts() == []


def _disk_full(ctx: Any) -> Callable[[], None]:
    """Make the store's file unable to grow (SQLite answers "database or disk is full"); returns the undo."""
    engine = ctx.store.engine
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()
    event.listen(engine, "connect", limit)

    def undo() -> None:
        event.remove(engine, "connect", limit)
        engine.dispose()

    return undo


def test_a_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(w: World) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(400))
    plan = run(plan_export(w.ctx, "Leads"))
    run_id = start_export(w.ctx, plan)
    undo = _disk_full(w.ctx)
    try:
        result = run(execute(w.ctx, run_id))
    finally:
        undo()
    assert result.state == "interrupted"
    assert "disk is full or failing" in result.error
    assert "\n" not in result.error
    assert f"enginy-desktop resume {run_id}" in result.error
    assert w.ctx.runs.get(run_id).resumable
    result = run(resume(w.ctx, run_id))
    assert result.state == "finished"
    sent = emails(w)
    assert len(sent) == 400
    assert set(sent.values()) == {1}


# -- 2. one run per list and CRM ----------------------------------------------------------------------------------


def test_a_second_export_of_the_list_is_refused_with_who_holds_it(w: World, cli: Cli) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(3))
    plan = run(plan_export(w.ctx, "Leads"))
    first = start_export(w.ctx, plan)
    with pytest.raises(RunBusyError, match="An export of “Leads” to HubSpot is already running"):
        start_export(w.ctx, plan)
    # As the window holding it would be seen from a command line.
    with w.ctx.store.write() as s:
        s.execute(update(RunLease).values(owner_pid=os.getppid(), owner_label="window"))
    code, _out, err = cli("export", "--list", "Leads", "--yes")
    assert code == 1
    assert err.count("\n") == 1
    assert f"An export of “Leads” to HubSpot is already running (run {first}, started " in err
    assert "by this computer's window). Add --wait" in err
    assert w.crm_contacts() == []
    code, _, err = cli("sync", "--list", "Leads")  # a sync of the same list too
    assert code == 1
    assert "An export of “Leads” to HubSpot is already running" in err


def test_a_dead_process_gives_its_lease_up(w: World, cli: Cli) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(3))
    first = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with w.ctx.store.write() as s:
        s.execute(update(RunLease).values(owner_pid=gone.pid))
    code, out, err = cli("export", "--list", "Leads", "--yes")
    assert code == 0, err
    assert "created 3" in out
    assert w.ctx.runs.get(first).state == "interrupted"  # the crashed run can be resumed, not lost


def test_wait_queues_the_export_behind_the_running_one(w: World, cli: Cli) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(3))
    first = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    with w.ctx.store.write() as s:
        s.execute(update(RunLease).values(owner_pid=os.getppid()))
    timer = threading.Timer(1.5, lambda: w.ctx.runs.finish(first, "cancelled"))
    timer.start()
    try:
        code, out, err = cli("export", "--list", "Leads", "--wait", "--yes")
    finally:
        timer.join()
    assert code == 0, err
    assert "Waiting: An export of “Leads” to HubSpot is already running" in err
    assert "created 3" in out
    assert emails(w) == Counter({f"lead{i}@acme.test": 1 for i in range(3)})


def test_sync_wait_starts_once_the_export_holding_the_list_ends(w: World, cli: Cli) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(2))
    first = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    with w.ctx.store.write() as s:
        s.execute(update(RunLease).values(owner_pid=os.getppid()))
    code, _, err = cli("sync", "--list", "Leads")
    assert code == 1
    assert "Add --wait to start when it ends." in err
    assert w.ctx.runs.history(kind="sync") == []
    timer = threading.Timer(1.5, lambda: w.ctx.runs.finish(first, "cancelled"))
    timer.start()
    try:
        code, _, err = cli("sync", "--list", "Leads", "--wait")
    finally:
        timer.join()
    assert code == 0, err
    assert "Waiting: An export of “Leads” to HubSpot is already running" in err
    assert len(w.ctx.runs.history(kind="sync")) == 1


# -- 3. a CRM that stops answering ----------------------------------------------------------------------------------


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("Connection refused", request=request)


def test_a_dead_crm_pauses_the_run_and_resume_sends_what_was_never_sent(w: World) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(250))
    w.add_crm_contact(email="lead0@acme.test", firstname="Old", lastname="Test")
    plan = run(plan_export(w.ctx, "Leads"))
    run_id = start_export(w.ctx, plan)
    result = run(execute_through(w.ctx, run_id, httpx.MockTransport(_unreachable), pause_after=0.5))
    assert result.state == "interrupted"
    assert result.error.startswith("HubSpot has not answered for ")
    assert "the run is paused — 250 records not sent yet." in result.error
    assert f"Resume with: enginy-desktop resume {run_id}" in result.error
    items = w.ctx.runs.items(run_id)
    assert {i.state for i in items} == {"pending"}  # never sent: not "sent several times", not failed
    assert {i.attempt for i in items} == {0}
    result = run(resume(w.ctx, run_id))
    assert result.state == "finished"
    c = result.counters
    assert c.get("created", 0) + c.get("updated", 0) + c.get("unchanged", 0) + c.get("existed", 0) == 250
    sent = emails(w)
    assert len(sent) == 250
    assert set(sent.values()) == {1}


# -- 4. honest reports and exit codes -----------------------------------------------------------------------------


def test_an_export_of_only_blocked_records_exits_non_zero_with_blocked(w: World, cli: Cli, tmp_path: Path) -> None:
    w.text_property("employees_count", "Employees", ptype="number", field_type="number")
    w.configure([*CONTACT_BASICS, enginy("job_title", "employees_count")])
    ids = w.contacts("Leads", leads(3, job_title="many"))
    with w.ctx.store.write() as s:
        for i in ids:
            s.execute(update(Contact).where(Contact.id == i).values(custom_fields={"Favourite colour": "=teal"}))
    failed = tmp_path / "failed.csv"
    code, out, err = cli("export", "--list", "Leads", "--failed-csv", str(failed), "--yes")
    assert code == 3, err
    assert "Blocked (3): “Employees” is a number field; “…” is not a number." in out
    assert "Failed (" not in out
    rows = list(csv.DictReader(failed.read_text("utf-8").splitlines()))
    assert len(rows) == 3  # every record not written
    assert {r["outcome"] for r in rows} == {"blocked"}
    assert {r["contact.Favourite colour"] for r in rows} == {"'=teal"}  # custom fields, formula-safe
    assert {r["contact.job_title"] for r in rows} == {"many"}
    assert w.crm_contacts() == []


def test_failed_csv_holds_records_not_sent_yet(w: World, tmp_path: Path) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(4))
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    result = run(execute_through(w.ctx, run_id, httpx.MockTransport(_unreachable), pause_after=0.1))
    assert result.state == "interrupted"
    path = tmp_path / "left.csv"
    assert write_failed_csv(w.ctx, run_id, path) == 4
    rows = list(csv.DictReader(path.read_text("utf-8").splitlines()))
    assert {r["outcome"] for r in rows} == {"not sent"}
    assert {r["contact → HubSpot: email"] for r in rows} == {f"lead{i}@acme.test" for i in range(4)}


def test_reports_count_retries_throttling_and_waits(ctx: Any, cli: Cli, tmp_path: Path) -> None:
    # A CRM stricter than its published limit: the client keeps to 190 / 10 s, the server allows 2 / s (three
    # creates go at once: one at least is refused).
    config = HubSpotSandboxConfig(rate_limit=RateLimit(2, 1.0), owners=2)
    with world(ctx, config=config) as w:
        w.configure(list(CONTACT_BASICS))
        w.contacts("Leads", leads(900))
        report_path = tmp_path / "report.json"
        code, out, err = cli("export", "--list", "Leads", "--report", str(report_path), "--yes")
        assert code == 0, err
        report = json.loads(report_path.read_text("utf-8"))
        traffic = report["traffic"]
        assert traffic["throttled"] >= 1
        assert traffic["retries"] >= traffic["throttled"]
        assert traffic["waited_s"] > 0
        assert traffic["requests"] >= 9 + traffic["retries"]
        times = "once" if traffic["throttled"] == 1 else f"{traffic['throttled']:,} times"
        assert f"HubSpot asked us to slow down {times} (429); the export waited" in out
        assert set(emails(w).values()) == {1}
        assert len(emails(w)) == 900


def test_report_of_a_clean_run_says_no_429(w: World) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(3))
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    run(execute(w.ctx, run_id))
    traffic = load_report(w.ctx, run_id).traffic
    assert traffic["requests"] >= 1
    assert traffic["throttled"] == 0
    assert traffic["retries"] == 0
    with w.ctx.store.session() as s:
        assert s.scalars(select(RunLease)).all() == []  # the finished run gave its lease up


class _OneHang(httpx.AsyncBaseTransport):
    """The loopback connection, except that the first batch create hangs ``seconds`` before it reaches the CRM;
    counts the creates answered while it hangs."""

    def __init__(self, seconds: float) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seconds = seconds
        self.hung = False
        self.hanging = False
        self.answered_meanwhile = 0
        self.given_up = False  # the client stopped waiting for the hung request

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        create = request.url.path.endswith("/contacts/batch/create")
        if create and not self.hung:
            self.hung = self.hanging = True
            try:
                await asyncio.sleep(self.seconds)
            except asyncio.CancelledError:
                self.given_up = True
                raise
            finally:
                self.hanging = False
        response = await self.inner.handle_async_request(request)
        if create and self.hanging:
            self.answered_meanwhile += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_one_hung_request_never_holds_the_others(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import enginy_desktop.core.export.run as run_module

    monkeypatch.setattr(run_module, "SLOW_AFTER", 0.3)  # the window moves on from a batch this slow
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(500))
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    hang = _OneHang(4.0)
    result = run(execute_through(w.ctx, run_id, hang, concurrency=1))
    assert result.state == "finished"
    assert hang.answered_meanwhile >= 2  # with one request in flight, the others went on while it hung
    sent = emails(w)
    assert len(sent) == 500
    assert set(sent.values()) == {1}


def test_a_request_that_never_answers_is_given_up_and_its_creates_checked(w: World) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(300))
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    hang = _OneHang(600.0)  # far longer than any client waits
    result = run(execute_through(w.ctx, run_id, hang, request_timeout=1.0))
    assert hang.given_up
    assert result.state == "finished"
    sent = emails(w)
    assert len(sent) == 300  # the hung batch was looked up, then sent again
    assert set(sent.values()) == {1}


class _HeldLimiter(SlidingWindowLimiter):
    """A rate limiter that, once ``holding``, keeps each call waiting ``seconds`` for its slot before it is sent
    (an allowance another app is using up, a slow pacer)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(AdapterRateLimit(1000, 1.0), name="held")
        self.seconds = seconds
        self.holding = False
        self.held = 0

    async def acquire_up_to(self, count: int, *, at_least: int = 1) -> Any:  # every way of taking slots
        if self.holding:
            self.held += 1
            await asyncio.sleep(self.seconds)
        return await super().acquire_up_to(count, at_least=at_least)


def _firms_world(w: World, n: int) -> list[int]:
    """``n`` contacts of the list "Leads", each with one of two companies; returns the companies' ids."""
    w.configure(list(CONTACT_BASICS), list(COMPANY_BASICS))
    firms = [w.company(name=f"Firm {k}", domain=f"firm{k}.test") for k in range(2)]
    w.contacts("Leads", [dict(row, company_id=firms[i % 2]) for i, row in enumerate(leads(n))])
    return firms


def _linked(w: World) -> int:
    """Contacts in the CRM linked to the company of their own domain."""
    firm_ids = {k: [c["id"] for c in w.crm_companies() if c.get("domain") == f"firm{k}.test"] for k in range(2)}
    assert all(len(ids) == 1 for ids in firm_ids.values())
    return sum(1 for c in w.crm_contacts()
               if firm_ids[int(c["email"].removeprefix("lead").split("@")[0]) % 2][0] in w.company_links(c["id"]))


def test_waiting_for_the_rate_limiter_is_not_a_crm_that_does_not_answer(w: World) -> None:
    # Association calls wait for their limiter slot longer than the per-request time-out: they were given up as
    # hung, put back to pending, and the run still said "finished" with contacts left without their company.
    _firms_world(w, 16)
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads", ExportOptions(associated_companies=True))))
    held = _HeldLimiter(0.6)

    async def go() -> Any:
        adapter = w.ctx.adapters.crm("hubspot")
        adapter.api.pacers = (*adapter.api.pacers, held)
        associate = adapter.associate

        async def associate_held(*args: Any, **kw: Any) -> Any:
            held.holding = True
            return await associate(*args, **kw)

        adapter.associate = associate_held
        try:
            return await execute(w.ctx, run_id, adapter=adapter, request_timeout=0.3, pause_after=5.0)
        finally:
            await adapter.aclose()

    result = run(go())
    assert held.held >= 1  # the association calls did wait longer than the time-out
    assert result.state == "finished", result.error
    assert not result.counters.get("associations_pending")
    assert not result.counters.get("associations_in_flight")
    assert result.counters.get("associations_done") == 16
    assert _linked(w) == 16  # every contact has its company


def test_a_run_never_ends_finished_with_operations_still_pending(w: World, cli: Cli,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import enginy_desktop.core.export.run as run_module

    _firms_world(w, 6)
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads", ExportOptions(associated_companies=True))))

    async def nothing(self: Any) -> None:  # a phase that returns with its operations still pending
        return None

    with monkeypatch.context() as m:
        m.setattr(run_module._Executor, "associations", nothing)
        result = run(execute(w.ctx, run_id))
    assert result.state == "interrupted"
    assert result.error == (f"Run {run_id} could not finish: 6 company associations still to be sent to or "
                            f"confirmed by HubSpot; nothing was lost. Resume with: enginy-desktop resume {run_id}")
    assert w.ctx.runs.get(run_id).resumable
    assert _linked(w) == 0
    code, out, err = cli("resume", str(run_id))
    assert code == 0, out + err
    assert w.ctx.runs.get(run_id).state == "finished"
    assert _linked(w) == 6


def test_resume_from_the_command_line_pauses_on_a_dead_crm_then_finishes(w: World, cli: Cli) -> None:
    from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN

    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(120))
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    w.ctx.runs.finish(run_id, "interrupted")  # as a kill before anything was sent leaves it
    w.ctx.integrations.save_connection("hubspot", {"base_url": "http://127.0.0.1:9", "token": DEFAULT_TOKEN})
    code, out, err = cli("resume", str(run_id), "--pause-after", "0.5")
    assert code == 1
    paused = [line for line in out.splitlines() if "has not answered" in line]
    assert len(paused) == 1
    assert "the run is paused — 120 records not sent yet. Resume with: enginy-desktop resume" in paused[0]
    assert "Resume it with" not in out  # said once
    assert "No answer from HubSpot for " in err  # said while it happens, not only at the end
    assert "the run pauses after 1 second without an answer." in err
    w.ctx.integrations.save_connection("hubspot", {"base_url": w.url, "token": DEFAULT_TOKEN})
    code, out, err = cli("resume", str(run_id))
    assert code == 0, out + err
    assert "created 120" in out
    assert len(emails(w)) == 120


class _Throttled(httpx.AsyncBaseTransport):
    """The loopback connection, except that the first ``n`` batch creates are answered 429 (another app shares
    the allowance): more than the client retries one request."""

    def __init__(self, n: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.left = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/contacts/batch/create") and self.left > 0:
            self.left -= 1
            return httpx.Response(429, headers={"Retry-After": "0.05"},
                                  json={"status": "error", "message": "You have reached your ten_secondly_rolling "
                                        "limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_streak_of_429s_is_waited_out_not_a_failed_run(w: World) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(150))
    run_id = start_export(w.ctx, run(plan_export(w.ctx, "Leads")))
    result = run(execute_through(w.ctx, run_id, _Throttled(6), concurrency=1))
    assert result.state == "finished", result.error
    sent = emails(w)
    assert len(sent) == 150
    assert set(sent.values()) == {1}
    traffic = load_report(w.ctx, run_id).traffic
    assert traffic["throttled"] == 6  # and the report says so
