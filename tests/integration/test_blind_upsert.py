"""The blind upsert plan (DESIGN §6, §12): when the identifier is a unique field the CRM can create-or-update by,
every mapped field has Overwrite on, no owner is set and no association changes, the export writes in upsert
batches without reading the CRM first — on every CRM whose adapter declares upsert on that key (HubSpot's
``batch/upsert`` with ``idProperty``, Zoho's ``/upsert`` with ``duplicate_check_fields``, Dynamics 365's upsert
by an alternate key). The preview says it cannot show before -> after and that the replaced values are not kept;
the report counts created and updated as the CRM says; a run killed mid-way resumes with no duplicate."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from enginy_desktop.core.crm_config import AssociationType
from enginy_desktop.core.export.plan import UPSERT, ExportOptions, plan_export
from enginy_desktop.core.export.report import load_report
from enginy_desktop.core.export.run import execute, start_export
from tests.support.crm_world import CrmWorld, crm_world

# CRMs whose adapter declares upsert on the contacts' e-mail (Dynamics 365: with the alternate key defined).
UPSERT_CRMS = {"hubspot": {}, "zoho": {}, "dynamics": {"alternate_keys": {"contact": ("emailaddress1",)}}}
UPSERT_PATH = {"hubspot": "/contacts/batch/upsert", "zoho": "/Contacts/upsert", "dynamics": "/$batch"}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(params=list(UPSERT_CRMS))
def w(request: pytest.FixtureRequest, ctx: Any) -> Iterator[CrmWorld]:
    with crm_world(ctx, request.param, **UPSERT_CRMS[request.param]) as value:
        yield value


def _blind_config(w: CrmWorld, **kw: Any) -> Any:
    return w.configure([w.mapping("first_name", "first_name", overwrite=True),
                        w.mapping("last_name", "last_name", overwrite=True),
                        w.mapping("email", "email", overwrite=True),
                        w.mapping("job_title", "job_title", overwrite=True)], **kw)


def _people(n: int) -> list[dict[str, Any]]:
    return [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test", "job_title": "CEO"}
            for i in range(n)]


def test_writes_in_upsert_batches_without_reading_and_counts_what_the_crm_says(w: CrmWorld) -> None:
    for i in range(3):  # already in the CRM, with another job title: updated
        w.add_contact(f"Lead{i}", "Test", f"lead{i}@acme.test", job_title="Old")
    _blind_config(w)
    people = _people(8)
    people.append({**people[5], "email": "LEAD5@Acme.test ", "job_title": None, "phone": "+1 555"})  # a duplicate
    people.append({"first_name": "No", "last_name": "Mail", "email": None, "job_title": "CTO"})
    w.contacts("Leads", people)
    before = len(w.sb.requests)
    plan = run(plan_export(w.ctx, "Leads"))
    assert plan.blind is not None
    assert plan.blind.keys["contact"][0] == w.f("email")
    assert plan.counts("contact") == {"create": 0, "update": 0, "upsert": 8, "unchanged": 0, "merge": 1,
                                      "blocked": 1}
    # The plan read no record: what it asked is the CRM's fields and users, the same for any list size.
    plan_sent = [(r.method, r.path) for r in w.sb.requests[before:] if not r.path.startswith("/__sandbox__")]
    assert len(plan_sent) == plan.api_calls
    assert not any(p.endswith(("/search", "/batch/read", "/coql")) or "$filter" in p for _, p in plan_sent)
    assert all(not r.changes for r in plan.records)
    lines = plan.summary_lines()
    assert any("8 created or updated by" in line for line in lines), lines
    assert any(line.startswith("Before → after cannot be shown") for line in lines), lines
    assert any("nothing can put the previous values back" in line for line in lines), lines

    run_id = start_export(w.ctx, plan)
    writes_before = len(w.sb.requests)
    result = run(execute(w.ctx, run_id, notify=False))
    assert result.state == "finished", result.error
    # One upsert request for the 8 records (every CRM here takes 100 per request); besides it, only what the plan
    # asked too (the CRM's fields and users, which the run's own connection needs to convert values).
    sent = [(r.method, r.path) for r in w.sb.requests[writes_before:] if not r.path.startswith("/__sandbox__")]
    writes = [x for x in sent if x[1].endswith(UPSERT_PATH[w.crm])]
    assert len(writes) == 1, sent
    assert {x for x in sent if x not in writes} <= set(plan_sent), sent
    assert result.counters["created"] == 5, result.counters
    assert result.counters["updated"] == 3, result.counters
    assert result.counters["merged"] == 1
    assert result.counters["blocked"] == 1
    emails = Counter((c["email"] or "").lower() for c in w.crm_contacts())
    assert set(emails.values()) == {1}
    assert len(emails) == 8
    assert {c["job_title"] for c in w.crm_contacts()} == {"CEO"}  # Overwrite on: the old title replaced
    report = load_report(w.ctx, run_id)
    outcomes = Counter(r.outcome for r in report.records if r.object == "contact")
    assert outcomes["created"] == 5
    assert outcomes["updated"] == 3


def test_the_plan_reads_first_whenever_reading_could_change_what_is_written(ctx: Any) -> None:
    with crm_world(ctx, "hubspot") as w:
        w.add_contact("Lead0", "Test", "lead0@acme.test", job_title="Old")
        w.contacts("Leads", _people(3))
        config = _blind_config(w)
        assert run(plan_export(w.ctx, "Leads")).blind is not None
        # The user asks to see before -> after.
        plan = run(plan_export(w.ctx, "Leads", ExportOptions(read_current=True)))
        assert plan.blind is None
        assert plan.counts("contact") == {"create": 2, "update": 1, "unchanged": 0,
                                                                  "merge": 0, "blocked": 0}
        assert not any("cannot be shown" in line for line in plan.summary_lines())
        # One mapping with Overwrite off: an update depends on what the CRM holds.
        w.configure([w.mapping("email", "email", overwrite=True), w.mapping("job_title", "job_title")])
        plan = run(plan_export(w.ctx, "Leads"))
        assert plan.blind is None
        assert "Overwrite is off for Job Title" in plan.why_read
        # Records get an owner: written on update only where the CRM's is empty.
        _blind_config(w, default_owner=w.owners[0])
        plan = run(plan_export(w.ctx, "Leads"))
        assert plan.blind is None
        assert "owner" in plan.why_read
        # Associated companies: the current associations are read.
        _blind_config(w, company=w.company_basics(), association=AssociationType.ADDITIONAL)
        plan = run(plan_export(w.ctx, "Leads", ExportOptions(associated_companies=True)))
        assert plan.blind is None
        assert "associations" in plan.why_read
        # An identifier that is not one unique field (the default preset: LinkedIn, or name and company).
        config = _blind_config(w, by_email=False)
        plan = run(plan_export(w.ctx, "Leads"))
        assert plan.blind is None
        assert "more than one field" in plan.why_read
        assert config is not None


@pytest.mark.parametrize("crm", ["pipedrive", "salesforce", "tribecrm"])
def test_a_crm_that_cannot_upsert_by_that_key_is_read_first(crm: str, ctx: Any) -> None:
    """Pipedrive and TribeCRM have no upsert; Salesforce upserts only by external-ID fields (its e-mail is not
    one)."""
    with crm_world(ctx, crm) as w:
        w.add_contact("Lead0", "Test", "lead0@acme.test", job_title="Old")
        w.contacts("Leads", _people(2))
        _blind_config(w)
        plan = run(plan_export(w.ctx, "Leads"))
        assert plan.blind is None
        assert "cannot create-or-update contacts by" in plan.why_read
        assert plan.counts("contact")["update"] == 1
        assert UPSERT not in plan.counts("contact")


def test_the_command_line_says_it_and_can_read_first(ctx: Any, cli: Any) -> None:
    with crm_world(ctx, "hubspot") as w:
        w.add_contact("Lead0", "Test", "lead0@acme.test", job_title="Old")
        w.contacts("Leads", _people(3))
        _blind_config(w)
        code, out, err = cli("export", "--list", "Leads", "--dry-run")
        assert code == 0, err
        assert "3 contacts: 3 created or updated by Email." in out
        assert "Before → after cannot be shown: HubSpot's current values are not read." in out
        code, out, err = cli("export", "--list", "Leads", "--dry-run", "--read-first")
        assert code == 0, err
        assert "3 contacts: 2 created, 1 updated, 0 unchanged." in out
        code, out, err = cli("export", "--list", "Leads", "--yes")
        assert code == 0, err
        assert "created 2, updated 1" in out


# -- kill -9 in the middle, then resume --------------------------------------------------------------------------


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir), *args]


@pytest.mark.subprocess
def test_a_killed_blind_upsert_resumes_with_no_duplicate_and_no_loss(ctx: Any, data_dir: Path,
                                                                     tmp_path: Path) -> None:
    from enginy_desktop.sandbox.kit.faults import FaultConfig
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())  # the child processes read the connection's token from this file
    total, existing = 600, 40
    faults = FaultConfig(latency_ms=150, path_prefix="/crm/objects/2026-03/contacts/batch")
    with crm_world(ctx, "hubspot", faults=faults) as w:
        _blind_config(w)
        for i in range(existing):
            w.add_contact(f"Lead{i}", "Test", f"lead{i}@acme.test", job_title="Old")
        w.contacts("Leads", _people(total))
        out_file = (tmp_path / "child.out").open("w")
        err_file = (tmp_path / "child.err").open("w")
        child = subprocess.Popen(_command(data_dir, "export", "--list", "Leads", "--yes"), env=dict(os.environ),
                                 stdout=out_file, stderr=err_file)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if len(w.crm_contacts()) - existing >= 120 or child.poll() is not None:
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
        assert existing < len(w.crm_contacts()) < total  # partly done
        upserts = sum(1 for r in w.sb.requests if r.path.endswith("/batch/upsert"))
        assert upserts
        assert not any(r.path.endswith(("/batch/read", "/search")) for r in w.sb.requests)
        run_id = ctx.runs.history(kind="export")[0].id
        report_path = tmp_path / "report.json"
        result = subprocess.run(_command(data_dir, "resume", str(run_id), "--report", str(report_path)),
                                env=dict(os.environ), capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
        emails = Counter(c["email"] for c in w.crm_contacts())
        assert len(emails) == total  # no record lost...
        assert set(emails.values()) == {1}  # ...and none twice
        assert {c["job_title"] for c in w.crm_contacts()} == {"CEO"}
        report = json.loads(report_path.read_text("utf-8"))
        assert report["run"]["state"] == "finished"
        outcomes = Counter(r["outcome"] for r in report["records"])
        # Created or updated as HubSpot said; a batch sent again after the kill is "updated" by then.
        assert outcomes["created"] + outcomes["updated"] == total
        assert outcomes["updated"] >= existing
