"""Runs foundation: RunService (history, states, atomic counters, journal, interrupted at start-up), the progress
protocol (rate, ETA, throttling), cooperative cancellation, RunHandle, and the 0004 migration."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.runs import (
    CancelToken,
    Progress,
    ProgressTracker,
    RunCancelled,
    RunHandle,
    RunService,
    RunStateError,
    format_duration,
)
from enginy_desktop.core.store import Store, alembic_config
from tests.unit.test_migrations_workspace import _schema

RUN_TABLES = {"runs", "run_items"}


@pytest.fixture
def runs(data_dir: Path):  # type: ignore[no-untyped-def]
    store = Store.open(data_dir)
    yield RunService(store)
    store.close()


def test_create_history_and_get(runs: RunService) -> None:
    a = runs.create("sync", crm="hubspot", list_name="Leads", options={"rule": "x"})
    b = runs.create("export", crm="hubspot", list_name="Leads", start=True)
    assert a.state == "queued"
    assert a.started_at is None
    assert b.state == "running"
    assert b.started_at is not None
    assert [r.id for r in runs.history()] == [b.id, a.id]
    assert [r.id for r in runs.history(kind="sync")] == [a.id]
    got = runs.get(a.id)
    assert got.options == {"rule": "x"}
    assert got.created_at.tzinfo is not None
    assert got.as_json()["list"] == "Leads"
    with pytest.raises(ValueError, match="Unknown run kind"):
        runs.create("nap")


def test_state_moves_and_refusals(runs: RunService) -> None:
    run = runs.create("sync")
    run = runs.start(run.id)
    assert run.state == "running"
    assert run.active
    run = runs.request_cancel(run.id)
    assert run.state == "cancelling"
    run = runs.finish(run.id, "cancelled", counters={"matched": 3})
    assert run.state == "cancelled"
    assert run.finished_at is not None
    assert run.counters["matched"] == 3
    assert run.resumable
    run = runs.resume(run.id)
    assert run.state == "running"
    assert run.finished_at is None
    run = runs.finish(run.id)
    assert run.state == "finished"
    assert run.duration is not None
    with pytest.raises(RunStateError, match="cannot become"):
        runs.set_state(run.id, "running")
    with pytest.raises(RunStateError, match="only an interrupted"):
        runs.resume(run.id)
    queued = runs.create("export")
    assert runs.request_cancel(queued.id).state == "cancelled"


def test_counters_are_atomic_across_threads(runs: RunService) -> None:
    run = runs.create("sync", start=True)

    def work() -> None:
        for _ in range(25):
            runs.add_counters(run.id, {"matched": 1, "new": 2})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counters = runs.get(run.id).counters
    assert counters == {"matched": 100, "new": 200}
    assert runs.set_counters(run.id, {"api_calls": 7}).counters == {"matched": 100, "new": 200, "api_calls": 7}
    assert runs.set_counters(run.id, {"x": 1}, replace=True).counters == {"x": 1}


def test_journal_items_by_state(runs: RunService) -> None:
    run = runs.create("export", start=True)
    assert runs.add_items(run.id, [("contact", i, "create") for i in range(1, 11)]) == 10
    runs.set_items_state(run.id, "contact", [1, 2, 3], "in_flight", bump_attempt=True)
    runs.set_items(run.id, "contact", [{"local_id": 1, "state": "done", "crm_id": "501"},
                                       {"local_id": 2, "state": "failed", "error": "Invalid email"}])
    assert runs.item_counts(run.id) == {"pending": 7, "in_flight": 1, "done": 1, "failed": 1}
    failed = runs.items(run.id, state="failed")
    assert [(i.local_id, i.error, i.attempt) for i in failed] == [(2, "Invalid email", 1)]
    assert runs.items(run.id, state=["done"])[0].crm_id == "501"
    assert len(runs.items(run.id, limit=3, offset=8)) == 2
    with pytest.raises(RunStateError):
        runs.delete(run.id)
    runs.finish(run.id, "failed", error="boom")
    runs.delete(run.id)
    assert runs.items(run.id) == []


@pytest.mark.parametrize(("kind", "command"), [("export", "resume"), ("ai", "resume"),
                                              ("enrichment", "enrich --resume")])
def test_a_run_with_items_left_never_ends_finished(runs: RunService, kind: str, command: str) -> None:
    run = runs.create(kind, start=True)
    runs.add_items(run.id, [("contact", i, "enrich") for i in range(1, 5)])
    runs.set_items_state(run.id, "contact", [1, 2], "done")
    runs.set_items_state(run.id, "contact", [3], "in_flight")
    ended = runs.finish(run.id, "finished")
    assert ended.state == "interrupted"  # paused: resumable, not a success
    assert ended.resumable
    assert ended.error == (f"Run {run.id} could not finish: 2 of its journal's items are still to be done or "
                           f"confirmed; nothing was lost. Resume with: enginy-desktop {command} {run.id}")
    runs.resume(run.id)
    runs.set_items_state(run.id, "contact", [3, 4], "done")
    assert runs.finish(run.id, "finished").state == "finished"


def test_stale_runs_become_interrupted_at_start_up(data_dir: Path, runs: RunService) -> None:
    mine = runs.create("sync", start=True)
    # A run whose process is gone: a child that exits at once.
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)
    gone = runs.create("export", start=True)
    other_host = runs.create("export", start=True)
    with runs.store.write() as s:
        from enginy_desktop.core.models import Run

        s.get(Run, gone.id).owner_pid = dead_pid  # type: ignore[union-attr]
        s.get(Run, other_host.id).owner_host = "another-machine"  # type: ignore[union-attr]
    ctx = AppContext.open(data_dir)  # start-up
    try:
        assert ctx.runs.get(gone.id).state == "interrupted"
        assert "stopped while this run was in progress" in (ctx.runs.get(gone.id).error or "")
        assert ctx.runs.get(mine.id).state == "running"  # this process is alive
        assert ctx.runs.get(other_host.id).state == "running"
        assert ctx.runs.mark_interrupted() == []
    finally:
        ctx.close()
    assert os.getpid() != dead_pid


def test_progress_tracker_rate_eta_and_throttle() -> None:
    now = [0.0]
    seen: list[Progress] = []
    tracker = ProgressTracker(seen.append, run_id=4, interval=1.0, clock=lambda: now[0])
    tracker.phase("Matching", total=1000)
    assert seen[-1].phase == "Matching"
    assert seen[-1].done == 0
    assert seen[-1].run_id == 4
    for _ in range(10):
        now[0] += 0.5
        tracker.advance(50, matched=40, new=10)
    snap = tracker.flush()
    assert snap.done == 500
    assert snap.counters == {"matched": 400, "new": 100}
    assert snap.rate == pytest.approx(100.0)
    assert snap.eta == pytest.approx(5.0)
    assert snap.fraction == 0.5
    assert len(seen) < 10  # throttled: about one per second, plus the phase and the flush
    tracker.phase("Saving", total=None)
    assert seen[-1].fraction is None
    assert seen[-1].counters["matched"] == 400


def test_a_phase_says_its_last_count_before_the_next_phase_starts() -> None:
    seen: list[Progress] = []
    now = [0.0]
    tracker = ProgressTracker(seen.append, interval=1.0, clock=lambda: now[0])
    tracker.phase("Storing contact links", total=80)
    now[0] += 0.2
    tracker.advance(80)  # held back: within a second of the phase's first snapshot
    assert seen[-1].done == 0
    tracker.phase("Reading HubSpot companies")
    assert [(p.phase, p.done) for p in seen] == [("Storing contact links", 0), ("Storing contact links", 80),
                                                 ("Reading HubSpot companies", 0)]  # not "0 / 80" as its last
    tracker.phase("Matching companies", total=12)  # nothing held back: no snapshot again
    assert [p.phase for p in seen][-2:] == ["Reading HubSpot companies", "Matching companies"]


def test_format_duration() -> None:
    assert format_duration(None) == ""
    assert format_duration(42) == "42 s"
    assert format_duration(75) == "1 min 15 s"
    assert format_duration(3 * 3600 + 120) == "3 h 02 min"


def test_cancel_token_and_run_handle_from_a_worker_thread() -> None:
    async def scenario() -> tuple[list[str], str]:
        handle = RunHandle("sync", "Syncing with HubSpot")
        got: list[str] = []
        handle.subscribe(lambda p: got.append(f"{p.phase}:{threading.current_thread() is threading.main_thread()}"))
        done: list[str] = []
        handle.on_done(lambda h: done.append("done"))

        async def run() -> str:
            def cpu() -> None:
                handle.publish(Progress("Matching", 1, 2))  # from the worker thread

            await asyncio.to_thread(cpu)
            await asyncio.sleep(0)
            handle.token.raise_if_cancelled()
            await asyncio.sleep(0.01)
            handle.token.raise_if_cancelled()
            return "finished"

        task = handle.start(run())
        handle.cancel()
        assert handle.cancel_requested
        with pytest.raises(RunCancelled):
            await task
        assert handle.done
        assert isinstance(handle.exception(), RunCancelled)
        return got, done[0]

    got, done = asyncio.run(scenario())
    assert got == ["Matching:True"]  # delivered on the loop's thread
    assert done == "done"
    token = CancelToken()
    token.raise_if_cancelled()
    token.cancel()
    with pytest.raises(RunCancelled):
        token.raise_if_cancelled()


def test_migration_0004_matches_the_models_and_downgrades(tmp_path: Path) -> None:
    chain = tmp_path / "chain.db"
    command.upgrade(alembic_config(chain), "0003")
    con = sqlite3.connect(chain)
    con.execute("INSERT INTO lists (name, kind, created_at, updated_at) VALUES ('Leads', 'contacts', 'x', 'x')")
    con.commit()
    con.close()
    command.upgrade(alembic_config(chain), "head")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    Store.open(fresh).close()
    a, b = _schema(chain), _schema(fresh / "enginy.db")
    assert set(a) >= RUN_TABLES
    assert {k: v for k, v in a.items() if k in RUN_TABLES or k.startswith(("ix_runs", "ix_run_items"))} == {
        k: v for k, v in b.items() if k in RUN_TABLES or k.startswith(("ix_runs", "ix_run_items"))
    }
    command.downgrade(alembic_config(chain), "0003")
    con = sqlite3.connect(chain)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not (RUN_TABLES & tables)
        assert con.execute("SELECT name FROM lists").fetchall() == [("Leads",)]
    finally:
        con.close()


def test_deleting_a_list_keeps_its_runs(runs: RunService) -> None:
    from sqlalchemy import text

    with runs.store.write() as s:
        s.execute(text("INSERT INTO lists (name, kind, created_at, updated_at) VALUES ('L', 'contacts', 'x', 'x')"))
        list_id = s.execute(text("SELECT id FROM lists")).scalar()
    run = runs.create("sync", list_id=list_id, list_name="L")
    with runs.store.write() as s:
        s.execute(text("DELETE FROM lists"))
    kept = runs.get(run.id)
    assert kept.list_id is None
    assert kept.list_name == "L"
