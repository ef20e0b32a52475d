"""The CSV import dialog end to end: file, detected format, auto-mapping, a changed mapping, import, summary,
rejected rows saved as CSV, and cancelling in the middle (discard, keep, continue)."""

from __future__ import annotations

import asyncio
import csv
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.importers.csv_import import ImportProgress
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.views.import_dialog import ImportDialog
from enginy_desktop.views.lists_page import ListsPage
from enginy_desktop.views.workspace_widgets import CAPTION_ROLE
from tests.ui.workspace_helpers import aloop, picker, settle, write_contacts  # noqa: F401

BAD_ROWS = [
    ["Nina", "Costa", "not-an-email", "CEO", "Globex", "Lima", "5"],  # imported without the email (warning)
    ["", "", "", "Intern", "Nowhere", "", "1"],  # no name, email or LinkedIn URL: rejected
    ["Too", "Many", "x@y.com", "a", "b", "c", "d", "e", "f"],  # more values than columns: rejected
]


def open_dialog(window, path: Path) -> tuple[ListsPage, ImportDialog]:  # type: ignore[no-untyped-def]
    window.show_page("lists")
    page = window.pages["lists"]
    page.pick_open_file = picker(path)
    page.import_button.click()
    dialog = page.current_dialog
    assert isinstance(dialog, ImportDialog)
    assert dialog.isVisible()
    dialog.choose_button.click()
    return page, dialog


def test_file_format_auto_mapping_and_preview(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _page, dialog = open_dialog(window, write_contacts(tmp_path / "q3_leads.csv", 30))
    assert dialog.file_name.text() == "q3_leads.csv"
    assert "UTF-8" in dialog.file_format.text()
    assert "comma-separated" in dialog.file_format.text()
    assert "7 columns" in dialog.file_format.text()
    mapped = {h: dialog.mapping_combo(h).currentText() for h in dialog.mapping.headers}
    assert mapped == {
        "First Name": "First name", "Last Name": "Last name", "Email": "Email", "Title": "Job title",
        "Company": "Company name", "City": "City", "Score": "Keep as custom field",
    }
    examples = dialog.mapping_table.item(2, 1).text()
    assert examples == "person0@acme0.com, person1@acme1.com, person2@acme2.com"
    assert dialog.preview_table.rowCount() == 20
    assert dialog.preview_table.horizontalHeaderItem(0).text() == "First Name"
    assert dialog.tabs.tabText(1) == "Preview (first 20 rows)"
    assert dialog.tabs.tabText(0) == "Columns (6 to fields, 1 custom)"
    assert dialog.list_name.text() == "q3 leads"  # the file's name, as a new list
    assert dialog.new_list_radio.isChecked()


def test_a_semicolon_windows_file_is_detected(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "export.csv"
    path.write_bytes("Nombre;Apellidos;Correo;Empresa\nMaría;Núñez;maria@x.es;Acme\n".encode("cp1252"))
    _page, dialog = open_dialog(window, path)
    assert "Windows-1252" in dialog.file_format.text()
    assert "semicolon-separated" in dialog.file_format.text()
    assert dialog.preview_table.item(0, 1).text() == "Núñez"
    assert dialog.mapping_combo("Correo").currentData() == "email"


def test_an_unreadable_file_is_explained(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _page, dialog = open_dialog(window, empty)
    assert dialog.file_error.isVisible()
    assert "is empty" in dialog.file_error.text()
    assert dialog.file_error.text().endswith("Choose another file.")
    assert not dialog.import_button.isEnabled()


def test_import_into_a_new_list_with_a_changed_mapping(window, ctx: AppContext, tmp_path: Path, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811, E501
    page, dialog = open_dialog(window, write_contacts(tmp_path / "leads.csv", 20, extra_rows=BAD_ROWS))
    dialog.set_mapping("Score", "ignore")
    dialog.set_mapping("City", "custom")
    assert dialog.tabs.tabText(0) == "Columns (5 to fields, 1 custom, 1 ignored)"
    dialog.list_name.clear()
    qtbot.keyClicks(dialog.list_name, "Q3 leads")
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    settle(aloop, dialog)
    assert dialog.pages.currentIndex() == ImportDialog.PAGE_SUMMARY
    assert dialog.outcome == "finished"
    assert dialog.summary_title.text() == "Import finished"
    stats = {k: v.text() for k, v in dialog.stat_labels.items()}
    assert stats == {"read": "23", "imported": "21", "updated": "0", "rejected": "2"}
    text = dialog.summary_text.text()
    assert "23 read = 21 imported + 0 updated (already in the list) + 2 rejected" in text
    assert "1 value was left out" in text
    assert dialog.issues_table.rowCount() == 3
    reasons = [dialog.issues_table.item(r, 1).text() for r in range(3)]
    assert sorted(reasons) == ["Rejected", "Rejected", "Value dropped"]
    # The Lists page shows the new list, selected, with its count.
    assert page.current is not None
    assert page.current.name == "Q3 leads"
    assert page.lists_view.currentItem().data(CAPTION_ROLE) == "21 contacts"
    service = WorkspaceService(ctx.store)
    record = service.records(page.current.id, 0, 1)[0]
    assert record["custom_fields"] == {"City": "Madrid"}  # City kept as a custom field, Score ignored
    assert record["city"] is None
    # Save the rejected rows.
    out = tmp_path / "rejected.csv"
    dialog.pick_save_file = picker(out)
    dialog.save_rejected_button.click()
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows].count("rejected") == 2
    assert {r["line"] for r in rows} == {"22", "23", "24"}
    assert dialog.save_result.text().startswith("✓ Saved to")
    qtbot.mouseClick(dialog.done_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def test_import_into_an_existing_list_updates(window, ctx: AppContext, tmp_path: Path, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    path = write_contacts(tmp_path / "leads.csv", 10)
    WorkspaceService(ctx.store).import_csv(path, "contact", "People")
    page, dialog = open_dialog(window, path)
    assert dialog.list_name.text() == "leads"
    dialog.list_name.setText("People")
    dialog.start_import()
    assert dialog.problem.text().startswith("A list named “People” already exists.")
    assert dialog.pages.currentIndex() == ImportDialog.PAGE_SETUP
    dialog.select_existing_list("People")
    dialog.start_import()
    settle(aloop, dialog)
    assert {k: v.text() for k, v in dialog.stat_labels.items()} == {
        "read": "10", "imported": "0", "updated": "10", "rejected": "0",
    }
    assert not dialog.save_rejected_button.isVisible()
    assert "Nothing was rejected" in dialog.summary_text.text()
    assert page.current is not None
    assert page.current.count == 10


def test_a_mapping_without_identifiers_cannot_start(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _page, dialog = open_dialog(window, write_contacts(tmp_path / "leads.csv", 3))
    for header in ("First Name", "Last Name", "Email"):
        dialog.set_mapping(header, "ignore")
    assert dialog.problem.isVisible()
    assert "every row would be rejected" in dialog.problem.text()
    dialog.start_import()
    assert dialog.pages.currentIndex() == ImportDialog.PAGE_SETUP
    dialog.set_mapping("Email", "email")
    assert not dialog.problem.isVisible()


def test_companies_change_the_suggested_mapping(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "accounts.csv"
    path.write_text("Company Name,Domain,# Employees\nAcme,acme.com,10\n", encoding="utf-8")
    _page, dialog = open_dialog(window, path)
    dialog.kind_combo.setCurrentIndex(1)
    assert dialog.mapping_combo("Company Name").currentData() == "name"
    assert dialog.mapping_combo("# Employees").currentData() == "employee_count"


def _paused_import(dialog: ImportDialog) -> tuple[threading.Event, threading.Event]:
    """Make the worker stop after its first batch until the test lets it go (no race with a fast import)."""
    reached, proceed = threading.Event(), threading.Event()
    original = dialog._progress_from_worker

    def hook(progress: ImportProgress) -> None:
        original(progress)
        if not reached.is_set():
            reached.set()
            proceed.wait(10)

    dialog._progress_from_worker = hook  # type: ignore[method-assign]
    dialog.chunk_rows = 10
    return reached, proceed


def _cancel_in_the_middle(dialog: ImportDialog, loop: asyncio.AbstractEventLoop, answer: str):  # type: ignore[no-untyped-def]
    reached, proceed = _paused_import(dialog)

    async def scenario():  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(dialog.run_import())
        try:
            assert await asyncio.to_thread(reached.wait, 10)
            assert dialog.pages.currentIndex() == ImportDialog.PAGE_PROGRESS
            dialog.cancel_import_button.click()
            box = dialog.cancel_box
            assert box is not None
            assert box.defaultButton().objectName() == "discardRowsButton"
            proceed.set()
            assert await asyncio.to_thread(dialog._gate.paused.wait, 10)
            dialog._refresh_progress()
            assert "10 rows have been imported" in box.informativeText()
            box.findChild(QPushButton, answer).click()
            return await asyncio.wait_for(task, 20)
        finally:
            proceed.set()
            if dialog._gate is not None and not task.done():
                dialog._gate.decide("discard")

    return loop.run_until_complete(scenario())


@pytest.mark.parametrize("answer", ["discardRowsButton", "keepRowsButton", "continueImportButton"])
def test_cancel_in_the_middle(window, ctx: AppContext, tmp_path: Path, aloop, answer: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page, dialog = open_dialog(window, write_contacts(tmp_path / "big.csv", 100))
    dialog.list_name.setText("Partial")
    result = _cancel_in_the_middle(dialog, aloop, answer)
    service = WorkspaceService(ctx.store)
    assert dialog.pages.currentIndex() == ImportDialog.PAGE_SUMMARY
    if answer == "discardRowsButton":
        assert result is None
        assert dialog.outcome == "discarded"
        assert dialog.summary_title.text() == "Import cancelled"
        assert "Nothing was imported" in dialog.summary_text.text()
        assert service.find_list("Partial") is None  # not even the new list is left
        assert not list((ctx.data_dir / "reports").glob("*.csv"))
    elif answer == "keepRowsButton":
        assert result is not None
        assert result.cancelled
        assert result.kept_partial
        assert dialog.summary_title.text() == "Import stopped"
        assert dialog.stat_labels["imported"].text() == "10"
        assert service.get_list("Partial").count == 10
        assert page.current is not None
        assert page.current.name == "Partial"
    else:
        assert result is not None
        assert not result.cancelled
        assert dialog.summary_title.text() == "Import finished"
        assert service.get_list("Partial").count == 100


def test_escape_while_importing_asks_first(window, tmp_path: Path, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _page, dialog = open_dialog(window, write_contacts(tmp_path / "big.csv", 50))
    reached, proceed = _paused_import(dialog)

    async def scenario() -> None:
        task = asyncio.ensure_future(dialog.run_import())
        try:
            assert await asyncio.to_thread(reached.wait, 10)
            dialog.reject()  # what Escape and the window's close button do
            assert dialog.isVisible()
            assert dialog.cancel_box is not None
            proceed.set()
            dialog.cancel_box.findChild(QPushButton, "discardRowsButton").click()
            await asyncio.wait_for(task, 20)
        finally:
            proceed.set()

    aloop.run_until_complete(scenario())
    assert dialog.outcome == "discarded"
    dialog.reject()
    assert not dialog.isVisible()


def test_quitting_stops_a_running_import_and_keeps_nothing(window, ctx: AppContext, tmp_path: Path, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811, E501
    _page, dialog = open_dialog(window, write_contacts(tmp_path / "big.csv", 50))
    dialog.list_name.setText("Half done")
    reached, proceed = _paused_import(dialog)

    async def scenario() -> None:
        task = asyncio.ensure_future(dialog.run_import())
        try:
            assert await asyncio.to_thread(reached.wait, 10)
            dialog.abandon()  # what the application's aboutToQuit does
            proceed.set()
            assert await asyncio.wait_for(task, 20) is None
        finally:
            proceed.set()

    aloop.run_until_complete(scenario())
    assert dialog.outcome == "discarded"
    assert WorkspaceService(ctx.store).find_list("Half done") is None
