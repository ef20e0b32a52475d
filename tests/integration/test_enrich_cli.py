"""``enrich`` on the command line against the emulators served on loopback: the estimate, the confirmation (refused
without a terminal unless --yes), the run and its report, enriched values with their sources in ``lists NAME
--json``, the run in ``runs``, a free re-run; and a run killed with SIGKILL, then resumed, paying nothing twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from enginy_desktop.sandbox.kit.server import serve
from tests.support.enrich_world import MODULES, EnrichWorld


@contextlib.contextmanager
def served(ctx: Any, world: EnrichWorld) -> Iterator[dict[str, str]]:
    """Serve the world's emulators on loopback and point the saved connections at them."""
    with contextlib.ExitStack() as stack:
        urls = {key: stack.enter_context(serve(app)) for key, app in world.apps.items()}
        for key, url in urls.items():  # a new address needs the key again (it is never sent elsewhere)
            ctx.integrations.save_connection(key, {"base_url": url, "api_key": MODULES[key].DEFAULT_KEY})
        yield urls


def test_enrich_command_estimate_confirm_run_report(cli: Any, ctx: Any, tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=30, providers=("hunter", "lusha"))
    with served(ctx, world):
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email,phone", "--dry-run")
        assert code == 0, err
        assert "Estimate" in out
        assert "Hunter" in out
        assert "Lusha" in out
        assert "Dry run" in out
        assert world.credits_spent("hunter") == world.credits_spent("lusha") == 0
        # The window's default cap applies here too, and the estimate says how to change it.
        assert "(cap 100, the default: --max-credits N sets another, --no-cap none)" in out
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email", "--dry-run", "--json")
        assert code == 0, err
        assert json.loads(out)["cap"] == 100
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email", "--dry-run", "--json", "--no-cap")
        assert code == 0, err
        assert json.loads(out)["cap"] is None
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email", "--no-cap", "--max-credits", "5")
        assert code == 2
        assert "not both" in err

        code, out, err = cli("enrich", "--list", "Leads", "--find", "email,phone")  # stdin is not a terminal
        assert code == 1
        assert "--yes" in err
        assert world.credits_spent("hunter") == 0

        code, out, err = cli("enrich", "--list", "Leads", "--find", "nonsense")
        assert code == 2
        assert "Choose among" in err

        report_file = tmp_path / "report.json"
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email,phone", "--providers", "hunter,lusha",
                             "--max-credits", "500", "--yes", "--report", str(report_file))
        assert code == 0, err
        assert "finished" in out
        assert "credits spent" in out
        finals = [line for line in err.splitlines() if line.startswith("Enriching · 30/30")]
        assert len(finals) == 1, err  # the last count once, not again when the run ends
        rep = json.loads(report_file.read_text("utf-8"))
        paid = world.credits_spent("hunter") + world.credits_spent("lusha")
        assert rep["state"] == "finished"
        assert rep["credits_spent"] >= paid > 0
        assert {p["provider"] for p in rep["providers"]} == {"hunter", "lusha"}

        code, out, _ = cli("lists", "Leads", "--json")
        records = json.loads(out)
        sourced = [r for r in records if r.get("enrichment")]
        assert sourced
        assert all(r["enrichment"][f]["provider"] in ("hunter", "lusha") for r in sourced for f in r["enrichment"])
        assert any(r["email"] and "email" in r["enrichment"] for r in sourced)

        code, out, _ = cli("runs")
        assert "enrichment" in out
        assert "found" in out

        code, out, err = cli("enrich", "--list", "Leads", "--find", "email,phone", "--providers", "hunter,lusha",
                             "--yes", "--json")
        assert code == 0, err
        assert json.loads(out)["credits_spent"] == 0
        assert world.credits_spent("hunter") + world.credits_spent("lusha") == paid  # re-running costs nothing

        # nothing left to pay for: no question to answer, even without a terminal and without --yes
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email,phone", "--providers", "hunter,lusha")
        assert code == 0, err
        assert "Nothing to ask" in out
        assert "credits spent" in out
        assert world.credits_spent("hunter") + world.credits_spent("lusha") == paid


def test_the_command_lines_default_cap_is_the_windows() -> None:
    from enginy_desktop.cli.enrich import DEFAULT_CAP
    from enginy_desktop.core.enrich import DEFAULT_MAX_CREDITS

    assert DEFAULT_CAP == DEFAULT_MAX_CREDITS


def test_a_stop_at_the_cap_says_it_once_and_how_to_resume_with_a_higher_cap(cli: Any, ctx: Any,
                                                                            tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=30, providers=("hunter",))
    with served(ctx, world):
        code, out, err = cli("enrich", "--list", "Leads", "--find", "email", "--providers", "hunter",
                             "--max-credits", "1", "--yes")
        assert code == 3, err
        assert out.count("still had a provider to ask") == 1, out
        run_id = int(out.split("Run ", 1)[1].split()[0])
        assert f"enginy-desktop enrich --resume {run_id} --max-credits N (N above this run's cap of 1)" in out
        assert f"Run {run_id} paused at cap:" in out  # a stop at the cap is not a cancel
        code, out, err = cli("runs")
        assert code == 0, err
        line = next(x for x in out.splitlines() if x.startswith(f"#{run_id} "))
        assert "Paused at cap" in line
        assert "Cancelled" not in out
        code, out, err = cli("enrich", "--resume", str(run_id), "--max-credits", "500", "--yes")
        assert code == 0, err
        assert "finished" in out


def test_enrich_command_says_the_commands_to_run_not_the_windows_menus(cli: Any, ctx: Any, tmp_path: Path) -> None:
    from tests.support.enrich_world import write_csv

    code, _, err = cli("import", "contacts", str(write_csv(tmp_path / "leads.csv", 5)), "--list", "Leads")
    assert code == 0, err
    code, _, err = cli("enrich", "--list", "Leads", "--find", "email", "--dry-run")
    assert code == 1
    assert "enginy-desktop integrations enable KEY" in err
    assert "enginy-desktop connect KEY --secret-stdin api_key" in err
    assert "Integrations →" not in err
    ctx.integrations.enable("hunter")  # switched on, no key saved
    code, _, err = cli("enrich", "--list", "Leads", "--find", "email", "--providers", "hunter", "--dry-run")
    assert code == 1
    assert "enginy-desktop connect hunter --secret-stdin api_key" in err
    assert "Integrations →" not in err
    companies = tmp_path / "companies.csv"
    companies.write_text("Name,Domain\nAcme,acme.test\n", encoding="utf-8")
    code, _, err = cli("import", "companies", str(companies), "--list", "Accounts")
    assert code == 0, err
    code, _, err = cli("enrich", "--list", "Accounts", "--find", "email", "--dry-run")
    assert code == 1
    # what it can be enriched with, as --find takes it
    assert ("A companies list cannot be enriched with Work e-mail; it can be with --find company_domain,industry,"
            in err)


def test_a_saved_exclusion_is_shown_and_respected_and_providers_overrides_it(cli: Any, ctx: Any,
                                                                             tmp_path: Path) -> None:
    from enginy_desktop.adapters.enrichment.base import DataPoint as D
    from enginy_desktop.core.enrich import default_order, save_default_order

    world = EnrichWorld.make(ctx, tmp_path, contacts=20, providers=("apollo", "lusha"))
    order = default_order(ctx)
    order[D.JOB_TITLE] = ["lusha", "apollo"]  # Lusha first for job titles, but never asked for them
    save_default_order(ctx, order, {D.JOB_TITLE: ["lusha"]})
    lusha = world.emulator("lusha")
    with served(ctx, world):
        code, out, err = cli("enrich", "--providers-list")
        assert code == 0, err
        assert "job_title: apollo (never lusha)" in out
        code, out, err = cli("enrich", "--providers-list", "--json")
        assert json.loads(out)["excluded"] == {"job_title": ["lusha"]}
        code, out, err = cli("enrich", "--list", "Leads", "--find", "job_title", "--dry-run")
        assert code == 0, err
        assert "Job title: apollo (not asked: lusha" in out
        assert "Lusha" not in out.split("Estimate", 1)[1]

        code, out, err = cli("enrich", "--list", "Leads", "--find", "job_title", "--yes", "--json")
        assert code == 0, err
        assert json.loads(out)["state"] == "finished"
        assert world.emulator("apollo").requests
        assert not lusha.requests  # the saved exclusion held: Lusha was not asked for job titles

        save_default_order(ctx, order, {D.JOB_TITLE: ["lusha", "apollo"]})
        code, out, err = cli("enrich", "--list", "Leads", "--find", "job_title", "--dry-run")
        assert code == 1
        assert "unticked for it on the Enrichment settings page (job_title: lusha, apollo)" in " ".join(err.split())
        code, out, err = cli("enrich", "--list", "Leads", "--find", "job_title", "--providers", "lusha", "--dry-run")
        assert code == 0, err
        assert "Job title: lusha\n" in out  # --providers overrides the exclusion for this run
    help_text = subprocess.run(_command(tmp_path, "enrich", "--help"), capture_output=True, text=True, timeout=60)
    assert "overrides both" in " ".join(help_text.stdout.split())  # --help says --providers overrides


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir), *args]


def _killed_then_resumed(ctx: Any, data_dir: Path, tmp_path: Path, providers: str, child: dict[str, Any],
                         between: Any = None) -> dict[str, Any]:
    """``enrich --providers PROVIDERS`` in a child process (``child["proc"]``, which the emulator's hook kills),
    then what the next start-up does, ``between()``, and ``enrich --resume RUN --json``: its report."""
    err_path = tmp_path / "child.err"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen(_command(data_dir, "enrich", "--list", "Leads", "--find", "email,job_title,phone",
                                         "--providers", providers, "--no-cap", "--yes"),
                                env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=err_file)
        child["proc"] = proc
        try:
            proc.wait(90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, err_path.read_text()
    run_id = ctx.runs.history(kind="enrichment")[0].id
    assert ctx.runs.mark_interrupted() == [run_id]  # what the next start-up does
    if between is not None:
        between()
    result = subprocess.run(_command(data_dir, "enrich", "--resume", str(run_id), "--yes", "--json"),
                            env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rep: dict[str, Any] = json.loads(result.stdout)
    assert rep["state"] == "finished"
    return rep


@pytest.mark.subprocess
def test_killed_enrichment_resumes_without_paying_twice(ctx: Any, data_dir: Path, tmp_path: Path) -> None:
    from enginy_desktop.adapters.enrichment.base import DataPoint as D
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.enrich import EnrichOptions, run_enrichment, start_enrichment
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())  # the child process reads the API keys from this file
    points = [D.EMAIL, D.JOB_TITLE, D.PHONE]
    order = {p: ["hunter", "dropcontact"] for p in points}  # what --providers hunter,dropcontact means

    # What the run costs when nothing goes wrong (another workspace, same list).
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_ctx = AppContext.open(clean_dir)
    try:
        clean = EnrichWorld.make(clean_ctx, clean_dir, contacts=50, providers=("hunter", "dropcontact"))
        import asyncio

        info = start_enrichment(clean_ctx, EnrichOptions(clean.list_id, points, order))
        assert asyncio.run(run_enrichment(clean_ctx, info.id, factory=clean.factory)).state == "finished"
        clean_cost = {k: clean.credits_spent(k) for k in clean.apps}
    finally:
        clean_ctx.close()

    world = EnrichWorld.make(ctx, tmp_path, contacts=50, providers=("hunter", "dropcontact"))
    world.emulator("hunter").set_faults({"latency_ms": 25})
    world.emulator("dropcontact").set_limits({"polls_until_ready": 0})
    with served(ctx, world):
        err_path = tmp_path / "child.err"
        err_file = err_path.open("w")
        child = subprocess.Popen(_command(data_dir, "enrich", "--list", "Leads", "--find", "email,job_title,phone",
                                          "--providers", "hunter,dropcontact", "--no-cap", "--yes"),
                                 env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=err_file)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # kill it part-way, requests in flight
                if len(world.emulator("hunter").requests) >= 15 or child.poll() is not None:
                    break
                time.sleep(0.005)
            assert child.poll() is None, err_path.read_text()
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            err_file.close()
        assert child.returncode == -signal.SIGKILL
        run_id = ctx.runs.history(kind="enrichment")[0].id
        assert ctx.runs.mark_interrupted() == [run_id]  # what the next start-up does
        left = ctx.runs.item_counts(run_id)
        assert left.get("pending", 0) > 0

        result = subprocess.run(_command(data_dir, "enrich", "--resume", str(run_id), "--yes", "--json"),
                                env=dict(os.environ), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        rep = json.loads(result.stdout)
        assert rep["state"] == "finished"
        spent = {k: world.credits_spent(k) for k in world.apps}
        assert spent == clean_cost  # nothing paid twice, nothing missed
        assert rep["credits_spent"] >= sum(spent.values()) - 1e-9  # Hunter's repeated requests are free



@pytest.mark.subprocess
def test_killed_mid_bulk_request_apollo_and_lusha_charge_nothing_twice(ctx: Any, data_dir: Path,
                                                                       tmp_path: Path) -> None:
    """SIGKILL while Apollo answers a bulk match it has just charged (the answer never reaches the run's journal),
    with Lusha's bulk requests going on: resuming asks those people again, and neither vendor charges again for a
    record the account already revealed (Apollo's net-new rule, Lusha's 30 days) — credits equal a clean run's."""
    import asyncio

    from enginy_desktop.adapters.enrichment.base import DataPoint as D
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.enrich import EnrichOptions, run_enrichment, start_enrichment
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())
    points = [D.EMAIL, D.JOB_TITLE, D.PHONE]
    providers = ("apollo", "lusha")
    order = {p: [k for k in providers if not (k == "apollo" and p is D.PHONE)] for p in points}

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_ctx = AppContext.open(clean_dir)
    try:
        clean = EnrichWorld.make(clean_ctx, clean_dir, contacts=120, providers=providers)
        info = start_enrichment(clean_ctx, EnrichOptions(clean.list_id, points, order))
        assert asyncio.run(run_enrichment(clean_ctx, info.id, factory=clean.factory)).state == "finished"
        clean_cost = {k: clean.credits_spent(k) for k in providers}
    finally:
        clean_ctx.close()
    assert all(clean_cost.values())

    world = EnrichWorld.make(ctx, tmp_path, contacts=120, providers=providers)
    apollo_em = world.emulator("apollo")
    child: dict[str, Any] = {}
    reveal = apollo_em.reveal
    calls = {"n": 0}

    def reveal_then_die(key: str, items: list[str]) -> int:  # charged, then the client dies before the answer
        charged = reveal(key, items)
        calls["n"] += 1
        if calls["n"] == 3 and "proc" in child:
            os.kill(child["proc"].pid, signal.SIGKILL)
            child["proc"].wait(10)
        return charged

    apollo_em.reveal = reveal_then_die

    def revealed() -> None:
        apollo_em.reveal = reveal
        assert world.credits_spent("apollo") > 0

    with served(ctx, world):
        rep = _killed_then_resumed(ctx, data_dir, tmp_path, "apollo,lusha", child, revealed)
        assert rep["records_asked_again_after_a_crash"] >= 10  # at least the bulk match cut off
        assert rep["records_not_asked_again_after_a_crash"] == 0  # both vendors' repeats are free
        assert {k: world.credits_spent(k) for k in providers} == clean_cost  # nothing paid twice, nothing missed
        assert {p["provider"]: p["repeated_lookup"] for p in rep["providers"]} == {"apollo": "free", "lusha": "free"}


@pytest.mark.subprocess
def test_killed_after_a_dropcontact_submit_the_resume_fetches_the_batch_and_pays_nothing_more(
        ctx: Any, data_dir: Path, tmp_path: Path) -> None:
    """SIGKILL once Dropcontact has taken a batch (and its credits) and made its answers, before they reach the
    run's journal: resuming polls the request_id journaled right after the submit, sends nothing again, pays
    nothing more and gets every answer a clean run gets."""
    import asyncio

    from enginy_desktop.adapters.enrichment.base import DataPoint as D
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.enrich import EnrichOptions, run_enrichment, start_enrichment
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())
    points = [D.EMAIL, D.JOB_TITLE, D.PHONE]
    order = {p: ["dropcontact"] for p in points}

    def values(c: Any, list_id: int) -> list[tuple[str, ...]]:
        from enginy_desktop.core.services.workspace import WorkspaceService

        rows = WorkspaceService(c.store).records(list_id, limit=1000)
        return sorted(tuple(str(r.get(f) or "") for f in ("first_name", "last_name", "email", "job_title",
                                                             "phone", "mobile_phone")) for r in rows)

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_ctx = AppContext.open(clean_dir)
    try:
        clean = EnrichWorld.make(clean_ctx, clean_dir, contacts=60, providers=("dropcontact",))
        info = start_enrichment(clean_ctx, EnrichOptions(clean.list_id, points, order))
        assert asyncio.run(run_enrichment(clean_ctx, info.id, factory=clean.factory)).state == "finished"
        clean_cost = clean.credits_spent("dropcontact")
        clean_values = values(clean_ctx, clean.list_id)
    finally:
        clean_ctx.close()
    assert clean_cost > 0

    world = EnrichWorld.make(ctx, tmp_path, contacts=60, providers=("dropcontact",))
    values_before = values(ctx, world.list_id)
    em = world.emulator("dropcontact")
    em.set_limits({"polls_until_ready": 0})  # done at the first poll
    child: dict[str, Any] = {}
    finish = em.finish

    def answer_then_die(job: Any) -> None:  # the batch is done and charged; the client dies before the answer
        finish(job)
        if "proc" in child:
            os.kill(child["proc"].pid, signal.SIGKILL)
            child["proc"].wait(10)

    em.finish = answer_then_die
    submits: list[int] = []

    def answered() -> None:
        em.finish = finish
        assert world.credits_spent("dropcontact") > 0  # the batches were taken and charged before the kill
        submits.append(sum(1 for e in em.requests if e.method == "POST" and e.path == "/enrich/all"))

    with served(ctx, world):
        rep = _killed_then_resumed(ctx, data_dir, tmp_path, "dropcontact", child, answered)
        assert rep["records_not_asked_again_after_a_crash"] == 0  # nothing lost
        assert sum(1 for e in em.requests if e.method == "POST" and e.path == "/enrich/all") == submits[0] >= 1
        assert world.credits_spent("dropcontact") == clean_cost  # nothing more paid
        assert rep["credits_spent"] == pytest.approx(clean_cost)
    assert values(ctx, world.list_id) == clean_values  # every answer, as a clean run gets them
    assert values(ctx, world.list_id) != values_before
