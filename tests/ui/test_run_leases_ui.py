"""The window refuses a sync of a list another run (a command line's export) holds, saying who holds it."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from sqlalchemy import update

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.models import RunLease
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.views.sync_dialog import SyncDialog
from tests.ui.test_sync_dialog import connected, hubspot  # noqa: F401  (fixtures)
from tests.ui.workspace_helpers import aloop  # noqa: F401  (fixture)


def test_a_sync_of_a_list_an_export_holds_is_refused(qtbot: Any, ctx: AppContext,
                                                       connected: dict[str, str]) -> None:  # noqa: F811
    leads = WorkspaceService(ctx.store).get_list("Leads")
    held = ctx.runs.create("export", crm="hubspot", list_id=leads.id, list_name="Leads", start=True)
    with ctx.store.write() as s:  # as a command line running beside the window holds it
        s.execute(update(RunLease).values(owner_pid=os.getppid()))
    dialog = SyncDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.resize(720, 480)
    dialog.show()
    assert asyncio.run(dialog.run_sync()) is None
    text = dialog.refusal.text()
    assert text.startswith(f"The sync did not start: An export of “Leads” to HubSpot is already running (run {held.id}")
    assert f"by a command line on this computer, pid {os.getppid()})." in text
    assert dialog.refusal.isVisible()
    assert dialog.start_button.isEnabled()
    assert ctx.runs.history(kind="sync") == []  # nothing recorded, nothing sent
    if os.environ.get("ENGINY_SHOTS"):
        dialog.grab().save(os.path.join(os.environ["ENGINY_SHOTS"], "sync-refused-by-lease.png"))


def test_the_export_dialog_says_who_holds_the_list_before_planning(qtbot: Any, aloop: Any,  # noqa: F811
                                                                    ctx: AppContext) -> None:
    from enginy_desktop.views.export_dialog import ExportDialog
    from tests.support.export_world import CONTACT_BASICS, world
    from tests.ui.workspace_helpers import settle

    with world(ctx) as w:
        w.configure(list(CONTACT_BASICS))
        w.contacts("Leads", [{"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test"}])
        leads = WorkspaceService(ctx.store).get_list("Leads")
        held = ctx.runs.create("sync", crm="hubspot", list_id=leads.id, list_name="Leads", start=True)
        with ctx.store.write() as s:
            s.execute(update(RunLease).values(owner_pid=os.getppid(), owner_label="command line"))
        dialog = ExportDialog(ctx, leads.id)
        qtbot.addWidget(dialog)
        dialog.resize(760, 520)
        dialog.show()
        settle(aloop, dialog)
        assert dialog.refusal.isVisible()
        text = dialog.refusal_text.text()
        assert text.startswith(f"A sync of “Leads” with HubSpot is already running (run {held.id}, started ")
        assert "Export again when it has ended" in text
        if os.environ.get("ENGINY_SHOTS"):
            dialog.grab().save(os.path.join(os.environ["ENGINY_SHOTS"], "export-refused-by-lease.png"))
