"""``enginy-desktop export / resume / restore-associations`` against the HubSpot sandbox, including a real
subprocess killed with SIGKILL in the middle of an export and then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from enginy_desktop.sandbox.faults import FaultConfig
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig
from tests.support.export_world import CONTACT_BASICS, World, export_field, world

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def w(ctx: Any) -> Iterator[World]:
    with world(ctx) as value:
        yield value


def leads(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test", "company_name": "Acme",
             "job_title": "CEO"} for i in range(start, start + n)]


def test_dry_run_then_export_with_report(w: World, cli: Cli, tmp_path: Path) -> None:
    w.configure([*CONTACT_BASICS, export_field("hs_lead_status", overwrite=True)])
    w.contacts("Leads", leads(3))
    code, out, err = cli("export", "--list", "Leads", "--dry-run", "--set", "Lead Status=Open")
    assert code == 0, err
    assert "3 contacts: 3 created, 0 updated, 0 unchanged." in out
    assert w.crm_contacts() == []  # a dry run writes nothing
    assert out.rstrip().endswith("Dry run: nothing was written to HubSpot. Run the same command without --dry-run "
                                 "to export (it shows this plan again and asks before writing).")  # and says so

    code, out, _ = cli("export", "--list", "Leads", "--dry-run", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["counts"]["contact"]["create"] == 3
    assert any("has no value" in warning for warning in plan["warnings"])

    report_path = tmp_path / "report.json"
    code, out, err = cli("export", "--list", "Leads", "--set", "hs_lead_status=Open", "--report", str(report_path),
                         "--yes")
    assert code == 0, err
    assert "created 3" in out
    assert "slow down" not in out  # nothing to say about the traffic: nothing said
    assert "retried" not in out
    assert "Creating contacts in HubSpot" in err  # progress on stderr
    lines = err.splitlines()
    assert len(lines) == len(set(lines)), err  # no line twice (the run's last snapshot is published again)
    report = json.loads(report_path.read_text("utf-8"))
    assert report["format"] == "enginy-export-report"
    assert [r["outcome"] for r in report["records"]] == ["created"] * 3
    assert all(r["crm_id"] for r in report["records"])
    assert {c["hs_lead_status"] for c in w.crm_contacts()} == {"OPEN"}
    assert DEFAULT_TOKEN not in out + err + report_path.read_text("utf-8")

    code, out, _ = cli("runs")
    assert code == 0
    assert "export" in out

    code, out, _ = cli("runs", "--json")
    run_id = next(r["id"] for r in json.loads(out) if r["kind"] == "export")
    code, _, err = cli("resume", str(run_id))  # a finished run: what to do instead, in words the command line knows
    assert code == 1
    assert "nothing is left to resume" in err
    assert "export the list again" in err
    assert err.count("\n") == 1


def test_cli_refusals_are_one_line(w: World, cli: Cli) -> None:
    w.contacts("Leads", leads(1))
    code, _, err = cli("export", "--list", "Leads", "--yes")
    assert code == 1
    assert "HubSpot is not configured yet" in err
    assert "crm-config init" in err  # the command line's way to configure it
    assert err.count("\n") == 1
    code, _, err = cli("export", "--list", "Nope")
    assert code == 1
    assert "There is no list named 'Nope'" in err
    code, _, err = cli("export", "--list", "Leads", "--set", "broken")
    assert code == 1
    assert "FIELD=VALUE" in err


def test_primary_and_remove_previous_needs_yes(w: World, cli: Cli) -> None:
    from enginy_desktop.core.crm_config import AssociationType
    from tests.support.export_world import COMPANY_BASICS

    w.configure(list(CONTACT_BASICS), list(COMPANY_BASICS), association=AssociationType.PRIMARY_REMOVE_PREVIOUS)
    old = w.add_crm_company(name="Old", domain="old.test")
    contact = w.add_crm_contact(email="lead0@acme.test", firstname="Lead0", lastname="Test", company="Acme")
    w.sb.associate("contacts", int(contact), "companies", int(old), [1])
    acme = w.company(name="Acme", domain="acme.test")
    w.contacts("Leads", [dict(leads(1)[0], company_id=acme)])
    code, _, err = cli("export", "--list", "Leads", "--associated-companies")
    assert code == 1
    assert "will remove 1 company association from 1 contact" in err
    assert "--yes" in err
    assert set(w.company_links(contact)) == {old}
    code, out, err = cli("export", "--list", "Leads", "--associated-companies", "--yes")
    assert code == 0, err
    assert "associations removed 1" in out
    assert old not in w.company_links(contact)
    run_id = w.ctx.runs.history(kind="export")[0].id
    code, _, err = cli("restore-associations", str(run_id))  # it writes to the CRM: a script says --yes
    assert code == 1
    assert "--yes" in err
    code, out, _ = cli("restore-associations", str(run_id), "--yes")
    assert code == 0
    assert "Restored 1" in out
    assert old in w.company_links(contact)
    code, out, err = cli("restore-associations", str(run_id))  # all back: nothing to ask, nothing to write
    assert code == 0, err
    assert "nothing to restore" in out


# -- kill -9 in the middle, then resume ------------------------------------------------------------------------


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir), *args]


@pytest.mark.subprocess
def test_killed_export_resumes_with_no_duplicate_and_no_loss(ctx: Any, data_dir: Path, tmp_path: Path) -> None:
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())  # the child processes read the connection's token from this file
    total = 1200
    config = HubSpotSandboxConfig(owners=2, rate_limit=None, search_rate_limit=None,
                                  faults=FaultConfig(latency_ms=120, path_prefix="/crm/objects/2026-03/contacts/batch"))
    with world(ctx, config=config) as w:
        w.configure([*CONTACT_BASICS, w_job()])
        existing = [w.add_crm_contact(email=f"lead{i}@acme.test", firstname=f"Lead{i}", lastname="Test",
                                      company="Acme", jobtitle="Old") for i in range(100)]
        assert len(existing) == 100
        w.contacts("Leads", leads(total))
        env = dict(os.environ)
        out_file = (tmp_path / "child.out").open("w")
        err_file = (tmp_path / "child.err").open("w")
        child = subprocess.Popen(_command(data_dir, "export", "--list", "Leads", "--yes"), env=env,
                                 stdout=out_file, stderr=err_file)
        try:
            deadline = time.monotonic() + 60
            # Kill it once some contacts are created and more are on their way (requests in flight).
            while time.monotonic() < deadline:
                created = len(w.crm_contacts()) - 100
                if created >= 300 or child.poll() is not None:
                    break
                time.sleep(0.005)
            assert child.poll() is None, (tmp_path / "child.err").read_text()
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            out_file.close()
            err_file.close()
        assert child.returncode == -signal.SIGKILL
        before = len(w.crm_contacts())
        assert 100 < before < 100 + total + 100  # partly done

        run_id = ctx.runs.history(kind="export")[0].id
        left = ctx.runs.item_counts(run_id)
        assert left.get("pending", 0) + left.get("in_flight", 0) > 0  # killed with work left (often in flight)
        report_path = tmp_path / "report.json"
        result = subprocess.run(_command(data_dir, "resume", str(run_id), "--report", str(report_path)),
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        emails = Counter(c["email"] for c in w.crm_contacts())
        assert len(emails) == total  # no record lost...
        assert set(emails.values()) == {1}  # ...and none twice
        report = json.loads(report_path.read_text("utf-8"))
        assert report["run"]["state"] == "finished"
        outcomes = Counter(r["outcome"] for r in report["records"])
        assert sum(outcomes.values()) == total  # the report accounts for every record
        assert outcomes["created"] == total - 100
        assert outcomes["updated"] == 100
        assert all(r["crm_id"] for r in report["records"])
        by_email = {c["email"]: c["id"] for c in w.crm_contacts()}
        assert {r["crm_id"] for r in report["records"]} == set(by_email.values())


def w_job() -> Any:
    from tests.support.export_world import enginy

    return enginy("job_title", "jobtitle", overwrite=True)


def test_a_report_path_that_cannot_be_written_is_refused_before_anything_is_written(w: World, cli: Cli,
                                                                                   tmp_path: Path) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", leads(2))
    missing = tmp_path / "no-such-folder" / "report.json"
    code, out, err = cli("export", "--list", "Leads", "--yes", "--report", str(missing))
    assert code == 2
    assert err.strip() == (f"enginy-desktop: --report {missing}: the folder {missing.parent} does not exist. "
                           "Nothing was done.")
    assert out == ""
    assert w.crm_contacts() == []  # not exported with its report lost afterwards


def test_an_export_killed_before_it_wrote_its_counts_shows_what_its_journal_did(w: World, cli: Cli, ctx: Any,
                                                                                 qapp: Any) -> None:
    """kill -9 leaves the run's row with the plan's counts only: ``runs``, the Runs table and the details all say
    what the journal holds (created and still to do), and the same numbers."""
    from sqlalchemy import update

    from enginy_desktop.core.models import Run, RunItem
    from enginy_desktop.views.runs_page import counts_text

    w.configure(CONTACT_BASICS)
    w.contacts("Leads", leads(5))
    code, _, err = cli("export", "--list", "Leads", "--yes")
    assert code == 0, err
    run_id = ctx.runs.history(kind="export")[0].id
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with ctx.store.write() as s:  # as the row and the journal are when the process dies part-way
        s.execute(update(Run).where(Run.id == run_id).values(
            state="running", owner_pid=int(gone.stdout), counters={"planned_contact_create": 5, "requests": 3}))
        first_two = s.scalars(select_items(run_id).limit(2)).all()
        s.execute(update(RunItem).where(RunItem.id.in_(first_two)).values(state="pending"))

    code, out, _ = cli("runs")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith(f"#{run_id}"))
    assert "Interrupted" in line
    assert "3 contacts created, 2 contacts not done yet, 3 requests" in line  # the journal first, then the traffic
    run = ctx.runs.get(run_id)
    assert run.counters["created"] == 3
    assert counts_text(run).startswith("3 created · 2 not done yet")
    assert run.counters["planned_contact_create"] == 5  # the plan's count is kept
    ctx.runs.resume(run_id)  # carried on, one more record done, stopped again: the new counts, not the ones read
    with ctx.store.write() as s:
        s.execute(update(RunItem).where(RunItem.id == first_two[0]).values(state="done"))
    ctx.runs.finish(run_id, "interrupted", error="Stopped again.")
    assert ctx.runs.get(run_id).counters["created"] == 4


def select_items(run_id: int) -> Any:
    from sqlalchemy import select

    from enginy_desktop.core.models import RunItem

    return select(RunItem.id).where(RunItem.run_id == run_id).order_by(RunItem.id)


def test_export_progress_reaches_every_total_and_says_each_phases_own_counts(w: World, cli: Cli) -> None:
    import re

    from tests.support.export_world import COMPANY_BASICS

    w.configure(CONTACT_BASICS, COMPANY_BASICS)
    firms = [w.company(name="Acme", domain="acme.test"), w.company(name="Gamma", domain="gamma.test")]
    w.contacts("Leads", [{**row, "company_id": firms[i % 2]} for i, row in enumerate(leads(6))])
    code, _, err = cli("export", "--list", "Leads", "--associated-companies", "--yes")
    assert code == 0, err
    counted = [m.groups() for m in re.finditer(r"^(.+?) · ([\d,]+)/([\d,]+)", err, re.MULTILINE)]
    assert counted, err
    for phase in {name for name, _, _ in counted}:  # no phase left at "0/80": each one reaches its total
        assert any(name == phase and done == total for name, done, total in counted), err
    assert "Creating companies in HubSpot · 2/2 · created 2" in err
    assert "Creating contacts in HubSpot · 6/6 · created 6\n" in err  # the contacts' own count, not the run's 8
    assert "Finished · created 8" in err  # the run's total where the run is said

    code, out, err = cli("export", "--list", "Leads", "--associated-companies", "--yes")  # all written already
    assert code == 0, err
    assert "Nothing to write, so this export needs none of HubSpot's daily budget" in out
    assert "needs about 0" not in out
