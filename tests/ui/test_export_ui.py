"""The export window against the HubSpot sandbox on loopback: refusals with the way to fix them, typed Export
fields, the preview's counts and before -> after, the destructive association confirmation, the run with its
progress dialog and report, Retry failed after a 207 partial failure, the formula-safe failed-rows CSV, Restore,
Resume from the Runs page, Run in background with the status-bar indicator, and the Lists page's button.

Coroutines are called directly (``aloop.run_until_complete``); nothing waits inside a task."""

from __future__ import annotations

import asyncio
import csv
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QMessageBox, QProgressBar, QScrollArea

from enginy_desktop.core.crm_config import AssociationType
from enginy_desktop.core.runs import Progress
from enginy_desktop.views.export_dialog import ExportDialog
from enginy_desktop.views.export_report import ACTIVE_EXPORTS, ExportReportView, export_run_detail
from enginy_desktop.views.run_progress import ProgressDialog, RunStatusIndicator
from enginy_desktop.views.toggle import ToggleSwitch
from tests.support.export_world import (
    COMPANY_BASICS,
    CONTACT_BASICS,
    World,
    enginy,
    export_field,
    world,
)
from tests.ui import workspace_helpers
from tests.ui.workspace_helpers import picker, settle

PRIMARY, UNLABELED = 1, 279


@pytest.fixture
def aloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """The qasync loop of :mod:`tests.ui.workspace_helpers` (tests call coroutines with ``run_until_complete``)."""
    yield from workspace_helpers.aloop.__wrapped__(qapp)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _collect_garbage_here() -> Iterator[None]:
    """Windows of earlier tests left in reference cycles are collected on this (the GUI) thread, not by the
    garbage collector running in an export's worker thread (Qt objects must be destroyed on their own thread)."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()


@pytest.fixture
def w(ctx: Any) -> Iterator[World]:
    with world(ctx) as value:
        yield value


def jane(**extra: Any) -> dict[str, Any]:
    return {"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test", "company_name": "Acme",
            "job_title": "CEO", **extra}


def list_id(w: World, name: str = "Leads") -> int:
    from enginy_desktop.core.services.workspace import WorkspaceService

    return WorkspaceService(w.ctx.store).get_list(name).id


def open_dialog(qtbot: Any, aloop: Any, w: World, **kw: Any) -> ExportDialog:
    dialog = ExportDialog(w.ctx, list_id(w), **kw)
    qtbot.addWidget(dialog)
    dialog.show()
    settle(aloop, dialog)
    return dialog


def progress_dialogs() -> list[ProgressDialog]:
    return [d for d in QApplication.topLevelWidgets() if isinstance(d, ProgressDialog) and d.isVisible()]


def choose(combo: QComboBox, data: str) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not among {[combo.itemData(i) for i in range(combo.count())]}"
    combo.setCurrentIndex(index)


# -- refusals --------------------------------------------------------------------------------------------------


def test_refusals_say_why_and_where_to_fix(qtbot, aloop, ctx: Any) -> None:  # type: ignore[no-untyped-def]
    with world(ctx, connect=False) as w:
        w.contacts("Leads", [jane(), jane(email="x@acme.test", first_name="X")])
        dialog = open_dialog(qtbot, aloop, w)
        assert dialog.stage() == "options"
        assert dialog.refusal.isVisible()
        assert "No CRM is enabled" in dialog.refusal_text.text()
        assert dialog.fix_button.text() == "Open Integrations"
        assert not dialog.next_button.isEnabled()
        assert aloop.run_until_complete(dialog.make_plan()) is None  # nothing is planned

        ctx.integrations.enable("hubspot")
        aloop.run_until_complete(dialog.prepare())
        assert "Enginy will not know which fields to push" in dialog.refusal_text.text()  # FAQ Q2
        assert dialog.fix_button.text() == "Configure HubSpot"

        w.configure(list(CONTACT_BASICS))
        aloop.run_until_complete(dialog.prepare())
        assert "HubSpot is not connected" in dialog.refusal_text.text()
        assert dialog.fix_button.text() == "Connect HubSpot"
        from enginy_desktop.views.connect_dialog import ConnectDialog

        connect = dialog.fix()  # the connection dialog opens over the export dialog
        assert isinstance(connect, ConnectDialog)
        assert connect.isVisible()
        connect.reject()
        settle(aloop, dialog)  # closing it checks again
        assert "HubSpot is not connected" in dialog.refusal_text.text()

        from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN

        ctx.integrations.save_connection("hubspot", {"base_url": w.url, "token": DEFAULT_TOKEN})
        aloop.run_until_complete(dialog.prepare())
        assert not dialog.refusal.isVisible()
        assert dialog.next_button.isEnabled()
        assert dialog.title.text() == "Export “Leads” to HubSpot"
        assert dialog.subtitle.text().startswith("2 contacts, to HubSpot")

        # Associated companies without a Companies tab: refused with FAQ Q2, until switched off again.
        dialog.companies_switch.switch.setChecked(True)
        assert "no export mapping for companies" in dialog.refusal_text.text()
        assert not dialog.next_button.isEnabled()
        dialog.companies_switch.switch.setChecked(False)
        assert not dialog.refusal.isVisible()

        # A company field of the CRM in the Contacts tab: the troubleshooting row.
        w.configure([*CONTACT_BASICS, enginy("job_title", "industry")])
        aloop.run_until_complete(dialog.prepare())
        assert "wrong tab" in dialog.refusal_text.text()
        assert "verify that each tab only contains fields belonging to its own object type" in \
            dialog.refusal_text.text()
        assert dialog.fix_button.text() == "Configure HubSpot"

        # Credentials the CRM refuses: found by the plan, shown the same way.
        w.configure(list(CONTACT_BASICS))
        aloop.run_until_complete(dialog.prepare())
        ctx.integrations.save_connection("hubspot", {"base_url": w.url, "token": "pat-na1-wrong-wrong"})
        assert aloop.run_until_complete(dialog.make_plan()) is None
        assert dialog.stage() == "options"
        assert "did not accept the credentials" in dialog.refusal_text.text()
        assert "pat-na1-wrong-wrong" not in dialog.refusal_text.text()
        assert dialog.fix_button.text() == "Connect HubSpot"


def test_fix_button_opens_the_crm_configuration(qtbot, aloop, window, ctx: Any) -> None:  # type: ignore[no-untyped-def]
    with world(ctx) as w:
        w.contacts("Leads", [jane()])
        dialog = ExportDialog(w.ctx, list_id(w), parent=window)
        dialog.show()
        settle(aloop, dialog)
        assert dialog.fix_button.text() == "Configure HubSpot"
        opened = dialog.fix()
        assert window.stack.currentWidget() is window.page("integrations")
        assert opened is not None
        assert opened.objectName() == "crmWizard"
        assert not dialog.isVisible()
        opened.close()


# -- options, preview, run, report ------------------------------------------------------------------------------


def test_typed_export_fields_preview_and_run(qtbot, aloop, w: World) -> None:  # type: ignore[no-untyped-def]
    w.text_property("employees_count", "Employees", ptype="number", field_type="number")
    w.configure([*CONTACT_BASICS, enginy("job_title", "jobtitle", overwrite=True),
                 export_field("hs_lead_status", overwrite=True), export_field("employees_count")])
    bob = w.add_crm_contact(email="bob@acme.test", firstname="Bob", lastname="Roe", company="Acme",
                            jobtitle="CTO", hs_lead_status="NEW")
    w.contacts("Leads", [jane(), {"first_name": "Bob", "last_name": "Roe", "email": "bob@acme.test",
                                  "company_name": "Acme", "job_title": "VP Sales"}])
    dialog = open_dialog(qtbot, aloop, w)
    assert not dialog.refusal.isVisible()
    status = dialog.findChild(QComboBox, "exportField-contact-hs_lead_status")
    assert status is not None  # a picklist with HubSpot's options
    labels = [status.itemText(i) for i in range(status.count())]
    assert "Open" in labels
    assert "New" in labels
    employees = dialog.findChild(QLineEdit, "exportField-contact-employees_count")
    assert employees is not None
    assert employees.validator() is not None
    choose(status, "OPEN")
    employees.setText("250")
    assert dict(dialog.options().export_values) == {"contact.hs_lead_status": "OPEN",
                                                    "contact.employees_count": "250"}

    seen: list[str] = []
    original = dialog._plan_progress

    def watch(p: Progress) -> None:
        seen.append(dialog.stage())
        original(p)

    dialog._plan_progress = watch  # type: ignore[method-assign]
    plan = aloop.run_until_complete(dialog.make_plan())
    assert plan is not None
    assert seen
    assert set(seen) == {"planning"}
    assert dialog.stage() == "preview"
    assert {k: dialog.contact_tiles.value(k) for k in ("create", "update", "unchanged", "blocked")} == {
        "create": 1, "update": 1, "unchanged": 0, "blocked": 0}
    assert "1 job title would be overwritten." in dialog.summary_list.text()
    assert "1 lead status would be overwritten." in dialog.summary_list.text()
    assert dialog.next_button.text() == "Export 2 records"
    assert dialog.action_box.currentData() == "update"  # updates first: before -> after
    assert dialog.records_model.rowCount() == 1
    row = dialog.records_model.records[0]
    assert row.crm_id == bob
    assert "Job Title: CTO → VP Sales" in dialog.records_model.summary(row)
    rows = {r[0]: r[1:] for r in dialog.changes_model.rows}
    assert rows["Job Title"] == ("CTO", "VP Sales", "Overwritten")
    assert rows["Lead Status"] == ("New", "Open", "Overwritten")  # picklist labels, not internal values
    assert rows["Employees"] == ("(empty)", "250", "Filled — it was empty")

    dialog.back()  # change an option, preview again
    assert dialog.stage() == "options"
    assert status.currentData() == "OPEN"  # the values are kept
    assert aloop.run_until_complete(dialog.make_plan()) is not None

    result = aloop.run_until_complete(run_to_report(dialog))
    assert result.state == "finished"
    assert not progress_dialogs()
    assert dialog.stage() == "report"
    assert dialog.isVisible()
    report = dialog.report
    assert isinstance(report, ExportReportView)
    assert report.tiles.value("created") == 1
    assert report.tiles.value("updated") == 1
    assert report.tiles.value("failed") == 0
    assert report.model.rowCount() == 2
    assert {r.crm_id for r in report.model.rows} == {bob, w.crm_contact("jane@acme.test")["id"]}
    assert not report.retry_button.isVisible()
    assert not report.csv_button.isVisible()
    assert w.crm_contact("jane@acme.test")["hs_lead_status"] == "OPEN"
    assert w.crm_contact("bob@acme.test")["jobtitle"] == "VP Sales"
    assert w.crm_contact("bob@acme.test")["employees_count"] == "250"


def test_opening_builds_the_pages_later_and_export_opens_a_progress_dialog_built_ahead(  # type: ignore[no-untyped-def]
        qtbot, aloop, w: World) -> None:
    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", [jane()])
    dialog = ExportDialog(w.ctx, list_id(w))
    qtbot.addWidget(dialog)
    dialog.show()
    # At once: the frame (title, what it is doing, the buttons); the pages come in later turns of the event loop.
    assert dialog.subtitle.text() == "Checking the CRM configuration…"
    assert dialog.next_button.isVisible()
    assert dialog.close_button.isVisible()
    assert dialog.findChild(QScrollArea, "exportOptionsScroll") is None
    assert dialog.findChild(ToggleSwitch, "associatedCompanies") is None
    assert dialog.findChild(QProgressBar, "progressBar") is None  # the planning page's
    assert dialog.preview_tabs is None
    settle(aloop, dialog)
    switch = dialog.findChild(ToggleSwitch, "associatedCompanies")
    assert switch is not None
    assert switch.isVisible()
    assert dialog.findChild(QScrollArea, "exportOptionsScroll").hasFocus()  # as when built with the dialog
    assert dialog.findChild(QProgressBar, "progressBar") is not None
    assert dialog.preview_tabs is not None
    assert dialog.preview_tabs.count() == 2
    assert dialog.subtitle.text().startswith("1 contact, to HubSpot")
    assert dialog.next_button.isEnabled()

    # The preview on screen a moment: the run's progress dialog is built (hidden), and the preview keeps the focus.
    assert aloop.run_until_complete(dialog.make_plan()) is not None
    settle(aloop, dialog)
    ahead = dialog._progress
    assert isinstance(ahead, ProgressDialog)
    assert not ahead.isVisible()
    assert QApplication.activeWindow() is dialog
    dialog.back()  # planned again: the same one waits
    assert aloop.run_until_complete(dialog.make_plan()) is not None
    settle(aloop, dialog)
    assert dialog._progress is ahead

    opened: list[ProgressDialog] = []

    async def export() -> Any:
        task = asyncio.ensure_future(dialog.run_export())
        while not task.done():
            opened.extend(d for d in progress_dialogs() if d not in opened)
            await asyncio.sleep(0.01)
        return task.result()

    assert aloop.run_until_complete(export()).state == "finished"
    assert opened == [ahead]  # Export opened the one built ahead
    assert dialog._progress is None

    # Closed without exporting: the progress dialog built ahead goes with it.
    other = open_dialog(qtbot, aloop, w)
    assert aloop.run_until_complete(other.make_plan()) is not None
    settle(aloop, other)
    unused = other._progress
    assert isinstance(unused, ProgressDialog)
    other.reject()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert other._progress is None
    assert not shiboken6.isValid(unused)


async def run_to_report(dialog: ExportDialog, confirmed: bool = False) -> Any:
    """Run the export; check the progress dialog was open while it ran and the export dialog hidden."""
    seen: list[bool] = []
    task = asyncio.ensure_future(dialog.run_export(confirmed=confirmed))
    while not task.done():
        if dialog.handle is not None and not dialog.handle.done:
            seen.append(bool(progress_dialogs()) and not dialog.isVisible())
        await asyncio.sleep(0.01)
    assert seen
    assert all(seen)
    return task.result()


def _companies_world(w: World) -> tuple[str, str, str]:
    w.configure(list(CONTACT_BASICS), list(COMPANY_BASICS), association=AssociationType.PRIMARY_REMOVE_PREVIOUS)
    old = w.add_crm_company(name="Old Primary", domain="old.test")
    other = w.add_crm_company(name="Other", domain="other.test")
    contact = w.add_crm_contact(email="jane@acme.test", firstname="Jane", lastname="Doe", company="Acme")
    w.sb.associate("contacts", int(contact), "companies", int(old), [PRIMARY])
    w.sb.associate("contacts", int(contact), "companies", int(other), [UNLABELED])
    acme = w.company(name="Acme", domain="acme.test")
    w.contacts("Leads", [jane(company_id=acme), {"first_name": "New", "last_name": "Person",
                                                 "email": "new@acme.test", "company_name": "Acme",
                                                 "company_id": acme}])
    return contact, old, other


def test_remove_previous_associations_needs_explicit_confirmation_and_restores(  # type: ignore[no-untyped-def]
    qtbot, aloop, w: World
) -> None:
    contact, old, other = _companies_world(w)
    dialog = open_dialog(qtbot, aloop, w)
    assert dialog.companies_frame.isVisible()
    assert not dialog.removal_warning.isVisible()
    dialog.companies_switch.switch.setChecked(True)
    assert dialog.removal_warning.isVisible()
    assert "not recommended" in dialog.removal_warning.text()
    assert "and their 1 company" in dialog.subtitle.text()
    plan = aloop.run_until_complete(dialog.make_plan())
    assert plan is not None
    assert plan.removals == 2
    assert dialog.company_tiles.isVisible()
    assert dialog.company_tiles.value("create") == 1
    assert dialog.removals_box.isVisible()
    assert "2 company associations would be REMOVED from 1 contact" in dialog.removals_box.text()

    box = dialog.start_export_clicked()
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert box.windowTitle() == "Remove 2 associations?"
    assert box.defaultButton().text() == "Go back"  # the safe choice is the default
    assert box.escapeButton() is box.defaultButton()
    assert "remove 2 company associations from 1 contact" in box.informativeText()
    box.defaultButton().click()
    settle(aloop, dialog)
    assert dialog.stage() == "preview"
    assert dialog.handle is None
    assert len(w.company_links(contact)) == 2

    box = dialog.start_export_clicked()
    remove = next(b for b in box.buttons() if b.text() == "Remove 2 associations")
    remove.click()
    settle(aloop, dialog)
    assert dialog.stage() == "report"
    links = w.company_links(contact)
    assert len(links) == 1
    assert PRIMARY in next(iter(links.values()))
    report = dialog.report
    assert report is not None
    assert report.restore_button.isVisible()
    assert report.restore_button.text() == "Restore 2 removed associations"

    confirm = report.confirm_restore()
    assert confirm.defaultButton().text() == "Cancel"
    assert confirm.text() == "Add the 2 associations this export removed back to HubSpot?"
    next(b for b in confirm.buttons() if b.text() == "Restore 2 associations").click()
    settle(aloop, report)
    assert set(w.company_links(contact)) >= {old, other}
    assert not report.restore_button.isVisible()
    assert "Restored 2 associations in HubSpot." in report.action_note.text()


# -- failures: 207, CSV, Retry failed ----------------------------------------------------------------------------


def _partial_world(w: World) -> list[int]:
    w.sb.create_property("contacts", {"name": "enginy_ref", "label": "Enginy ref", "type": "string",
                                      "fieldType": "text", "groupName": "contactinformation",
                                      "hasUniqueValue": True})
    w.add_crm_contact(email="someone@else.test", firstname="Some", lastname="One", enginy_ref="=HYPERLINK(1)")
    w.configure([*CONTACT_BASICS, enginy("source", "enginy_ref")])
    rows = [jane(email=f"p{i}@acme.test", first_name=f"P{i}", source=f"ref-{i}") for i in range(4)]
    rows[2]["source"] = "=HYPERLINK(1)"  # taken by another CRM contact: HubSpot refuses this record in a 207
    rows[2]["last_name"] = "@Evil"
    return w.contacts("Leads", rows)


def test_partial_failure_report_csv_and_retry_failed(qtbot, aloop, w: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _partial_world(w)
    dialog = open_dialog(qtbot, aloop, w)
    aloop.run_until_complete(dialog.make_plan())
    result = aloop.run_until_complete(run_to_report(dialog))
    assert result.counters["failed"] == 1
    report = dialog.report
    assert report is not None
    assert report.tiles.value("created") == 3
    assert report.tiles.value("failed") == 1
    assert report.failures.isVisible()
    assert "1 × " in report.failure_list.text()
    assert "already exists" in report.failure_list.text()
    assert report.filter.currentData() == "failed"  # the failures first
    assert [r.label for r in report.model.rows] == ["P2 @Evil <p2@acme.test>"]
    assert report.retry_button.text() == "Retry 1 failed"
    assert "1 record failed" in dialog.subtitle.text()

    out = tmp_path / "failed.csv"
    report.pick_save_file = picker(out)
    report.csv_button.click()
    settle(aloop, report)
    with out.open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 1
    assert table[0]["contact.last_name"] == "'@Evil"
    assert table[0]["contact.source"] == "'=HYPERLINK(1)"
    assert "Saved 1 failed row" in report.action_note.text()

    # Fix the record, then Retry failed: a preview of that record only, then a new run.
    from enginy_desktop.core.models import Contact

    with w.ctx.store.write() as s:
        s.get(Contact, ids[2]).source = "ref-2"
    report.retry_button.click()
    settle(aloop, dialog)
    assert dialog.stage() == "preview"
    assert dialog.retry_of == result.run_id
    assert dialog.plan is not None
    assert [r.label for r in dialog.plan.records] == ["P2 @Evil <p2@acme.test>"]
    assert dialog.title.text().startswith(f"Retry the failed records of run {result.run_id}")
    again = aloop.run_until_complete(run_to_report(dialog))
    assert again.state == "finished"
    assert again.counters["created"] == 1
    assert not again.counters.get("failed")
    assert w.ctx.runs.get(again.run_id).options["retry_of"] == result.run_id
    assert len([c for c in w.crm_contacts() if c["email"].endswith("@acme.test")]) == 4


def test_slack_failure_is_a_warning_on_the_report(qtbot, aloop, w: World) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.sandbox import server
    from enginy_desktop.sandbox.slack import DEFAULT_WEBHOOK_PATH, SlackSandboxConfig
    from enginy_desktop.sandbox.slack import create_app as slack_app

    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", [jane()])
    app = slack_app(SlackSandboxConfig())
    with server.serve(app) as slack_url:
        w.ctx.integrations.save_connection("slack", {"webhook_url": slack_url + DEFAULT_WEBHOOK_PATH})
        w.ctx.integrations.enable("slack")
        app.state.sandbox.config.webhooks[DEFAULT_WEBHOOK_PATH] = "revoked"
        dialog = open_dialog(qtbot, aloop, w)
        aloop.run_until_complete(dialog.make_plan())
        result = aloop.run_until_complete(run_to_report(dialog))
    assert result.state == "finished"
    report = dialog.report
    assert report is not None
    assert report.slack.isVisible()
    assert "Slack summary could not be posted" in report.slack.text()
    assert "The export itself is not affected." in report.slack.text()


# -- background, resume, Runs page, Lists page -------------------------------------------------------------------


def test_run_in_background_keeps_an_indicator(qtbot, aloop, window, ctx: Any) -> None:  # type: ignore[no-untyped-def]
    with world(ctx) as w:
        w.configure(list(CONTACT_BASICS))
        w.contacts("Leads", [jane(email=f"c{i}@acme.test", first_name=f"C{i}") for i in range(250)])
        dialog = ExportDialog(w.ctx, list_id(w), parent=window)
        dialog.show()
        settle(aloop, dialog)
        aloop.run_until_complete(dialog.make_plan())
        w.sb.config.faults.update({"latency_ms": 150, "path_prefix": "/crm/objects/2026-03/contacts/batch/create"})
        indicator_text: list[str] = []

        async def go() -> Any:
            task = asyncio.ensure_future(dialog.run_export())
            while not (dialog.handle is not None and dialog.handle.latest is not None
                       and dialog.handle.latest.phase.startswith("Creating")):
                await asyncio.sleep(0.01)
            shown = progress_dialogs()
            assert len(shown) == 1
            assert shown[0].tiles.isVisible()
            assert list(shown[0].tiles.values) == ["created", "updated", "unchanged", "failed"]
            shown[0].send_to_background()
            indicator = RunStatusIndicator.for_window(window)
            while indicator.isVisible() and not indicator.text().startswith("Exporting"):
                await asyncio.sleep(0.01)
            indicator_text.append(indicator.text())
            assert dialog.handle in ACTIVE_EXPORTS
            return await task

        result = aloop.run_until_complete(go())
        w.sb.config.faults.update({"latency_ms": 0})
    assert result.state == "finished"
    assert indicator_text
    assert indicator_text[0].startswith("Exporting")
    assert "to HubSpot" in indicator_text[0]
    indicator = RunStatusIndicator.for_window(window)
    assert not indicator.isVisible()
    assert "Export of “Leads” to HubSpot finished: 250 created" in window.statusBar().currentMessage()
    assert not dialog.isVisible()  # sent to the background: the report is on the Runs page
    page = window.show_page("runs")
    page.select_run(result.run_id)
    assert isinstance(page.detail, ExportReportView)
    assert page.detail.tiles.value("created") == 250


def test_resume_a_cancelled_export_from_the_runs_page(qtbot, aloop, window, ctx: Any) -> None:  # type: ignore[no-untyped-def]
    with world(ctx) as w:
        w.configure(list(CONTACT_BASICS))
        w.contacts("Leads", [jane(email=f"c{i}@acme.test", first_name=f"C{i}") for i in range(900)])
        dialog = ExportDialog(w.ctx, list_id(w), parent=window)
        dialog.show()
        settle(aloop, dialog)
        aloop.run_until_complete(dialog.make_plan())
        w.sb.config.faults.update({"latency_ms": 100, "path_prefix": "/crm/objects/2026-03/contacts/batch/create"})

        async def go() -> Any:
            task = asyncio.ensure_future(dialog.run_export())
            while not (dialog.handle is not None and dialog.handle.latest is not None
                       and dialog.handle.latest.counters.get("created", 0) >= 100):
                await asyncio.sleep(0.01)
            progress = progress_dialogs()[0]
            progress.cancel_run()  # as after "Stop export" in the confirmation
            return await task

        result = aloop.run_until_complete(go())
        w.sb.config.faults.update({"latency_ms": 0})
        assert result.state == "cancelled"
        assert dialog.stage() == "report"
        dialog.close()
        page = window.show_page("runs")
        page.select_run(result.run_id)
        view = page.detail
        assert isinstance(view, ExportReportView)
        assert view.state_note.isVisible()
        assert "cancelled" in view.state_text.text()
        assert view.resume_button.isVisible()
        again = aloop.run_until_complete(view.resume())
        assert again is not None
        assert again.state == "finished"
        assert again.counters["created"] == 900
        assert len(w.crm_contacts()) == 900
        detail = page.detail
        assert isinstance(detail, ExportReportView)
        assert not detail.resume_button.isVisible()
        assert detail.tiles.value("created") == 900


def test_lists_page_exports_the_selected_rows(qtbot, aloop, window, ctx: Any) -> None:  # type: ignore[no-untyped-def]
    with world(ctx) as w:
        w.configure(list(CONTACT_BASICS))
        w.contacts("Leads", [jane(email=f"c{i}@acme.test", first_name=f"C{i}") for i in range(5)])
        page = window.show_page("lists")
        page.select_list("Leads")
        assert page.export_button.text() == "Export to HubSpot…"
        assert page.export_button.isEnabled()
        page.table.selectRow(1)
        dialog = aloop.run_until_complete(page.open_export())
        assert isinstance(dialog, ExportDialog)
        settle(aloop, dialog)
        assert dialog.record_ids is not None
        assert len(dialog.record_ids) == 1
        assert dialog.title.text() == "Export 1 selected contact of “Leads” to HubSpot"
        assert dialog.subtitle.text().startswith("1 contact selected of 5")
        plan = aloop.run_until_complete(dialog.make_plan())
        assert plan is not None
        assert [r.label for r in plan.records] == ["C1 Doe <c1@acme.test>"]
        dialog.close()


def test_runs_page_detail_of_an_export(qtbot, aloop, w: World) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QWidget

    from enginy_desktop.core.export.run import export

    w.configure(list(CONTACT_BASICS))
    w.contacts("Leads", [jane()])
    _, result = aloop.run_until_complete(export(w.ctx, "Leads"))
    parent = QWidget()
    qtbot.addWidget(parent)
    view = export_run_detail(w.ctx, w.ctx.runs.get(result.run_id), parent)
    assert isinstance(view, ExportReportView)
    assert view.shows_counters
    assert view.tiles.value("created") == 1
    assert view.model.rowCount() == 1


def test_the_whole_flow_in_the_demo(qtbot, aloop) -> None:  # type: ignore[no-untyped-def]
    """``enginy-desktop --demo``: its sample list goes through options, preview, run and report with no setup."""
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.demo import DEMO_LIST, start_demo
    from enginy_desktop.views.main_window import MainWindow

    env = start_demo()
    try:
        ctx = AppContext.open(env.data_dir, passphrase=env.passphrase)
        try:
            window = MainWindow(ctx, settings_path=env.data_dir / "w.ini")
            qtbot.addWidget(window)
            window.resize(1280, 800)
            window.show()
            page = window.show_page("lists")
            page.select_list(DEMO_LIST)
            assert page.export_button.text() == "Export to HubSpot…"
            dialog = aloop.run_until_complete(page.open_export())
            settle(aloop, dialog)
            assert not dialog.refusal.isVisible(), dialog.refusal_text.text()
            assert dialog.subtitle.text().startswith("80 contacts")
            dialog.companies_switch.switch.setChecked(True)
            plan = aloop.run_until_complete(dialog.make_plan())
            assert plan is not None
            assert dialog.stage() == "preview"
            assert dialog.contact_tiles.value("update") > 0  # the demo's HubSpot holds some of them already
            assert dialog.contact_tiles.value("create") > 0
            assert "job titles would be overwritten." in dialog.summary_list.text()
            result = aloop.run_until_complete(run_to_report(dialog))
            assert result.state == "finished"
            assert result.counters.get("failed", 0) == 0
            report = dialog.report
            assert report is not None
            assert report.tiles.value("created") > 0
            dialog.close()
            window.close()
        finally:
            ctx.close()
    finally:
        env.close()
