"""Run leases (core/runs/lease.py): one active run per list and CRM, given up when the run ends, taken over from a
process that is gone or silent, renewed by the heartbeat, and described in the product's words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from enginy_desktop.core.models import ContactList, RunLease, utcnow
from enginy_desktop.core.runs import RunBusyError, RunService, set_process_label
from enginy_desktop.core.runs.lease import STALE_AFTER
from enginy_desktop.core.store import Store


@pytest.fixture
def runs(data_dir: Path) -> Iterator[RunService]:
    store = Store.open(data_dir)
    with store.write() as s:
        s.add_all([ContactList(id=7, name="Leads", kind="contacts"), ContactList(id=8, name="Other", kind="contacts")])
    service = RunService(store)
    yield service
    service.close()
    store.close()


def _lease(runs: RunService) -> RunLease:
    with runs.store.session() as s:
        row = s.scalars(select(RunLease)).one()
        s.expunge(row)
        return row


def test_one_run_per_list_and_crm(runs: RunService) -> None:
    first = runs.create("sync", crm="hubspot", list_id=None, list_name="Leads", start=True)
    assert runs.lease_holder("hubspot", None) is None  # no list, no lease
    a = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    with pytest.raises(RunBusyError) as busy:
        runs.create("sync", crm="hubspot", list_id=7, list_name="Leads", start=True)
    assert busy.value.holder.run_id == a.id
    assert str(busy.value).startswith("An export of “Leads” to HubSpot is already running")
    runs.create("sync", crm="pipedrive", list_id=7, list_name="Leads", start=True)  # another CRM: its own lease
    runs.create("sync", crm="hubspot", list_id=8, list_name="Other", start=True)  # another list too
    runs.finish(a.id, "finished")
    assert runs.lease_holder("hubspot", 7) is None  # given up when the run ends
    b = runs.create("sync", crm="hubspot", list_id=7, list_name="Leads", start=True)
    assert runs.lease_holder("hubspot", 7).run_id == b.id  # type: ignore[union-attr]
    assert first.id != b.id


def test_resume_takes_the_lease_again_or_is_refused(runs: RunService) -> None:
    a = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    runs.finish(a.id, "interrupted")
    b = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    with pytest.raises(RunBusyError):
        runs.resume(a.id)
    assert runs.get(a.id).state == "interrupted"  # untouched, still resumable
    runs.finish(b.id, "cancelled")
    runs.resume(a.id)
    assert runs.lease_holder("hubspot", 7).run_id == a.id  # type: ignore[union-attr]


def test_a_silent_holder_on_another_computer_is_taken_over(runs: RunService) -> None:
    a = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    with runs.store.write() as s:  # another computer sharing the data folder, alive a minute ago
        s.execute(update(RunLease).values(owner_host="elsewhere", owner_pid=1,
                                          heartbeat_at=utcnow() - timedelta(seconds=60)))
    with pytest.raises(RunBusyError, match="by a command line on elsewhere"):
        runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    with runs.store.write() as s:  # ...and then silent for longer than a lease may be
        s.execute(update(RunLease).values(heartbeat_at=utcnow() - timedelta(seconds=STALE_AFTER + 5)))
    b = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    assert runs.get(a.id).state == "interrupted"
    assert _lease(runs).run_id == b.id


def test_the_heartbeat_renews_held_leases(runs: RunService) -> None:
    a = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    old = utcnow() - timedelta(seconds=STALE_AFTER - 1)
    with runs.store.write() as s:
        s.execute(update(RunLease).values(heartbeat_at=old))
    runs.heartbeat()
    renewed = _lease(runs).heartbeat_at
    assert renewed.replace(tzinfo=None) > old.replace(tzinfo=None)
    assert _lease(runs).owner_pid == os.getpid()
    assert a.id == _lease(runs).run_id


def test_the_window_is_named_as_the_window(runs: RunService) -> None:
    set_process_label("window")
    try:
        runs.create("sync", crm="hubspot", list_id=7, list_name="Prospects", start=True)
    finally:
        set_process_label("command line")
    holder = runs.lease_holder("hubspot", 7)
    assert holder is not None
    assert "(run 1, started " in holder.describe()
    assert holder.describe().endswith("by this computer's window).")
    assert holder.describe().startswith("A sync of “Prospects” with HubSpot is already running")


@pytest.mark.parametrize(
    ("kind", "crm", "start"),
    [("export", "hubspot", "An export of “Leads” to HubSpot"),
     ("sync", "pipedrive", "A sync of “Leads” with Pipedrive"),
     ("ai", "openai", "An AI column run of “Leads” with OpenAI"),
     ("import", "theirstack", "An import of “Leads” from TheirStack")],
)  # fmt: skip
def test_refusals_name_the_kind_of_run(runs: RunService, kind: str, crm: str, start: str) -> None:
    runs.create(kind, crm=crm, list_id=7, list_name="Leads", start=True)
    with pytest.raises(RunBusyError) as busy:
        runs.create(kind, crm=crm, list_id=7, list_name="Leads", start=True)
    assert str(busy.value).startswith(start + " is already running (run 1, started ")


def test_a_process_holding_a_lease_beats_by_itself_and_stops_when_it_ends(runs: RunService,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import enginy_desktop.core.runs.service as service

    monkeypatch.setattr(service, "HEARTBEAT_EVERY", 0.05)
    a = runs.create("export", crm="hubspot", list_id=7, list_name="Leads", start=True)
    old = utcnow() - timedelta(seconds=STALE_AFTER - 1)
    with runs.store.write() as s:
        s.execute(update(RunLease).values(heartbeat_at=old))
    deadline = time.monotonic() + 10
    while _lease(runs).heartbeat_at.replace(tzinfo=None) <= old.replace(tzinfo=None):
        assert time.monotonic() < deadline, "the heartbeat never came"
        time.sleep(0.02)
    runs.finish(a.id, "finished")
    while runs._beating is not None and runs._beating.is_alive():  # nothing held: the thread ends
        assert time.monotonic() < deadline, "the heartbeat thread did not stop"
        time.sleep(0.02)
