"""Render the export window offscreen to PNG files, for review: the refusals, the options, the preview (overwrites and
the association confirmation), the progress dialog during an export, and reports (one with failures).

    QT_QPA_PLATFORM=offscreen python scripts/export_screenshots.py OUT_DIR [--dark]

A throw-away data folder, an in-memory keyring, and the HubSpot sandbox on loopback; never touches your own data.
Each screen is saved at 1280×800 and at 760×560 (``-small``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"": (1280, 800), "-small": (760, 560)}


def main(out: Path) -> None:
    import keyring
    import qasync
    from PySide6.QtWidgets import QApplication

    from tests.support.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.crm_config import AssociationType
    from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN
    from enginy_desktop.views import theme
    from enginy_desktop.views.export_dialog import ExportDialog
    from enginy_desktop.views.main_window import MainWindow
    from enginy_desktop.views.run_progress import ProgressDialog
    from tests.support.export_world import COMPANY_BASICS, CONTACT_BASICS, enginy, export_field, world

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    dark = "--dark" in sys.argv
    theme.apply_theme(app, dark=dark)  # type: ignore[arg-type]
    suffix = "-dark" if dark else ""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    data = Path(tempfile.mkdtemp())
    ctx = AppContext.open(data)
    win = MainWindow(ctx, settings_path=data / "w.ini")
    win.resize(1280, 800)
    win.show()

    def settle(holder: Any) -> None:
        loop.run_until_complete(holder.tasks.wait())
        for _ in range(5):
            app.processEvents()

    def shot(widget: Any, name: str, sizes: dict[str, tuple[int, int]] | None = None) -> None:
        for tail, (w, h) in (sizes or SIZES).items():
            widget.resize(w, h)
            widget.show()
            for _ in range(6):
                app.processEvents()
            widget.grab().save(str(out / f"{name}{tail}{suffix}.png"))
            print(out / f"{name}{tail}{suffix}.png")

    with world(ctx, connect=False) as w:
        people = [{"first_name": f"Person{i}", "last_name": "Example", "email": f"p{i}@acme{i % 3}.test",
                   "company_name": f"Acme {i % 3}", "job_title": "Head of Sales"} for i in range(40)]

        def list_id(name: str) -> int:
            from enginy_desktop.core.services.workspace import WorkspaceService

            return WorkspaceService(ctx.store).get_list(name).id

        # -- refusals --------------------------------------------------------------------------------------------
        ann = w.user("Ana García", "ana@enginy.test", current=True)
        marc = w.user("Marc Puig", "marc@enginy.test")
        companies = [w.company(name=f"Acme {i}", domain=f"acme{i}.test") for i in range(3)]
        ids = w.contacts("Q4 prospects", [dict(p, company_id=companies[i % 3], owner_id=marc if i % 4 == 0 else ann)
                                          for i, p in enumerate(people)])
        dialog = ExportDialog(ctx, list_id("Q4 prospects"), parent=win)
        settle(dialog)
        shot(dialog, "export-refused-no-crm", {"": (720, 520)})
        ctx.integrations.enable("hubspot")
        loop.run_until_complete(dialog.prepare())
        shot(dialog, "export-refused-no-mapping", {"": (720, 520)})
        ctx.integrations.save_connection("hubspot", {"base_url": w.url, "token": DEFAULT_TOKEN})
        w.configure([*CONTACT_BASICS, enginy("job_title", "industry")])
        loop.run_until_complete(dialog.prepare())
        shot(dialog, "export-refused-cross-object", {"": (720, 560), "-small": (560, 480)})
        dialog.close()

        # -- options, preview, confirmation, progress, report ------------------------------------------------------
        owners = w.owners
        camp, _identity, steps = w.campaign("Q4 Outreach", "Sam Sender", ["email", "linkedin_message", "call"])
        for i, contact_id in enumerate(ids[:12]):
            w.lead(camp, contact_id, [(steps[0], "sent", datetime(2025, 10, 1 + i % 20, 9, tzinfo=UTC)),
                                      (steps[1], "sent", datetime(2025, 10, 2 + i % 20, 9, tzinfo=UTC))])
        w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle", overwrite=True),
                     export_field("hs_lead_status", overwrite=True), export_field("lifecyclestage")],
                    list(COMPANY_BASICS), association=AssociationType.PRIMARY_REMOVE_PREVIOUS,
                    users={ann: owners[0]}, default_owner=owners[1])
        old = [w.add_crm_company(name=f"Old Co {i}", domain=f"oldco{i}.test") for i in range(4)]
        for i, p in enumerate(people[:24]):  # in HubSpot already, with an older job title and other companies
            crm_id = w.add_crm_contact(email=p["email"], firstname=p["first_name"], lastname=p["last_name"],
                                       company=p["company_name"], jobtitle="Sales" if i % 2 else "Head of Sales")
            w.sb.associate("contacts", int(crm_id), "companies", int(old[i % 4]), [1])
            if i % 3 == 0:
                w.sb.associate("contacts", int(crm_id), "companies", int(old[(i + 1) % 4]), [279])
        dialog = ExportDialog(ctx, list_id("Q4 prospects"), parent=win)
        settle(dialog)
        dialog.companies_switch.switch.setChecked(True)
        from PySide6.QtWidgets import QComboBox

        status = dialog.findChild(QComboBox, "exportField-contact-hs_lead_status")
        if status is not None:
            status.setCurrentIndex(max(0, status.findData("OPEN")))
        shot(dialog, "export-options")
        loop.run_until_complete(dialog.make_plan())
        shot(dialog, "export-preview")
        dialog.preview_tabs.setCurrentIndex(1)
        shot(dialog, "export-preview-records")
        dialog.resize(1280, 800)
        box = dialog.start_export_clicked()
        for _ in range(6):
            app.processEvents()
        if box is not None:
            box.grab().save(str(out / f"export-confirm-removals{suffix}.png"))
            print(out / f"export-confirm-removals{suffix}.png")
            box.done(0)

        w.sb.config.faults.update({"latency_ms": 400, "path_prefix": "/crm/objects/2026-03/contacts/batch/"})

        async def run_and_grab() -> Any:
            task = asyncio.ensure_future(dialog.run_export(confirmed=True))
            while not (dialog.handle is not None and dialog.handle.latest is not None
                       and dialog.handle.latest.phase.startswith(("Creating contacts", "Updating contacts"))):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            shown = [d for d in app.topLevelWidgets() if isinstance(d, ProgressDialog) and d.isVisible()]
            for d in shown:
                d.grab().save(str(out / f"export-progress{suffix}.png"))
                print(out / f"export-progress{suffix}.png")
            return await task

        loop.run_until_complete(run_and_grab())
        w.sb.config.faults.update({"latency_ms": 0})
        shot(dialog, "export-report")
        dialog.close()

        # -- a report with failures (a 207: a unique value taken by another HubSpot contact) ----------------------
        w.sb.create_property("contacts", {"name": "enginy_ref", "label": "Enginy ref", "type": "string",
                                          "fieldType": "text", "groupName": "contactinformation",
                                          "hasUniqueValue": True})
        w.add_crm_contact(email="someone@else.test", firstname="Some", lastname="One", enginy_ref="taken")
        w.configure([*CONTACT_BASICS, enginy("source", "enginy_ref")])
        rows = [{"first_name": f"Lead{i}", "last_name": "Sample", "email": f"lead{i}@beta.test",
                 "company_name": "Beta", "source": "taken" if i % 5 == 0 else f"ref-{i}"} for i in range(30)]
        rows[3]["email"] = "=cmd|' /C calc'!A0"  # blocked before any request: not an e-mail
        w.contacts("Webinar leads", rows)
        dialog = ExportDialog(ctx, list_id("Webinar leads"), parent=win)
        settle(dialog)
        loop.run_until_complete(dialog.make_plan())
        shot(dialog, "export-preview-blocked")
        loop.run_until_complete(dialog.run_export())
        shot(dialog, "export-report-failures")
        page = win.show_page("runs")
        shot(win, "runs-export-detail")
        dialog.close()
        _ = page
    win.close()
    ctx.close()
    loop.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "screenshots"))
