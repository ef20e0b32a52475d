"""The export preview of a blind upsert (nothing read first): it says so — no before -> after, the replaced values
not kept — before the user confirms, and **Read HubSpot first** plans again with the reads."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from enginy_desktop.views.export_dialog import ExportDialog
from tests.support.crm_world import CrmWorld, crm_world
from tests.ui import workspace_helpers
from tests.ui.workspace_helpers import settle


@pytest.fixture
def aloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    yield from workspace_helpers.aloop.__wrapped__(qapp)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _collect_garbage_here() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()


@pytest.fixture
def w(ctx: Any) -> Iterator[CrmWorld]:
    with crm_world(ctx, "hubspot") as value:
        yield value


def test_the_blind_preview_says_what_it_cannot_show_and_reads_first_on_request(qtbot: Any, aloop: Any,
                                                                                w: CrmWorld) -> None:
    from enginy_desktop.core.services.workspace import WorkspaceService

    w.add_contact("Ana", "Test", "ana@acme.test", job_title="Old")
    w.contacts("Leads", [{"first_name": n, "last_name": "Test", "email": f"{n.lower()}@acme.test",
                          "job_title": "CEO"} for n in ("Ana", "Ben", "Carla")])
    w.configure([w.mapping(s, s, overwrite=True) for s in ("first_name", "last_name", "email", "job_title")])
    dialog = ExportDialog(w.ctx, WorkspaceService(w.ctx.store).get_list("Leads").id)
    qtbot.addWidget(dialog)
    dialog.resize(900, 700)
    dialog.show()
    settle(aloop, dialog)
    plan = aloop.run_until_complete(dialog.make_plan())
    assert plan is not None
    assert plan.blind is not None
    settle(aloop, dialog)
    assert dialog.contact_blind_tiles.isVisible()
    assert not dialog.contact_tiles.isVisible()
    assert dialog.contact_blind_tiles.value("upsert") == 3
    text = dialog.summary_list.text()
    assert "3 contacts: 3 created or updated by Email." in text
    assert "Before → after cannot be shown: HubSpot's current values are not read." in text
    assert "nothing can put the previous values back" in text
    assert dialog.read_first_button.isVisible()
    assert dialog.read_first_button.text() == "Read HubSpot first"
    assert dialog.next_button.text() == "Export 3 records"
    # The records tab: what is written, and that what HubSpot holds now was not read.
    dialog.changes_model.show_record(plan.records[0], dialog.records_model, plan.crm_name)
    assert ("Job Title", "Not read", "CEO", "Written — replaces any value") in dialog.changes_model.rows

    dialog.read_first_button.click()
    settle(aloop, dialog)
    aloop.run_until_complete(dialog.tasks.wait())
    settle(aloop, dialog)
    assert dialog.plan is not None
    assert dialog.plan.blind is None
    assert dialog.contact_tiles.isVisible()
    assert not dialog.contact_blind_tiles.isVisible()
    assert dialog.contact_tiles.value("update") == 1
    assert dialog.contact_tiles.value("create") == 2
    assert not dialog.read_first_button.isVisible()
    assert "1 job title would be overwritten." in dialog.summary_list.text()
