"""The Lists page as a user drives it: lists with counts, the lazy table, sort, filter, edit, delete, columns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QMessageBox, QPushButton

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.views.lists_page import ListNameDialog, ListsPage
from enginy_desktop.views.record_model import RecordTableModel
from enginy_desktop.views.workspace_widgets import CAPTION_ROLE, number
from tests.ui.workspace_helpers import aloop, settle, write_contacts  # noqa: F401

N = 200


@pytest.fixture
def people(ctx: AppContext, tmp_path: Path) -> int:
    """A list "People" of 200 contacts, and an empty companies list "Accounts"; returns People's id."""
    service = WorkspaceService(ctx.store)
    result = service.import_csv(write_contacts(tmp_path / "people.csv", N), "contact", "People")
    service.create_list("Accounts", "company")
    assert result.imported == N
    assert result.list_id is not None
    return result.list_id


def lists_page(window) -> ListsPage:  # type: ignore[no-untyped-def]
    window.show_page("lists")
    page = window.pages["lists"]
    assert isinstance(page, ListsPage)
    return page


def column(page: ListsPage, name: str) -> list[str]:
    c = page.model.column_index(name)
    return [page.model.data(page.model.index(r, c)) for r in range(page.model.rowCount())]


def click_header(qtbot, page: ListsPage, name: str) -> None:  # type: ignore[no-untyped-def]
    header = page.table.horizontalHeader()
    section = page.model.column_index(name)
    x = header.sectionViewportPosition(section) + 20
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_no_lists_shows_what_to_do(window) -> None:  # type: ignore[no-untyped-def]
    page = lists_page(window)
    assert page.body.currentWidget() is page.no_lists
    assert page.no_lists_state.title.text() == "No lists yet"
    assert page.no_lists_state.text.text() == "Import a CSV to create your first list."
    assert page.findChild(QPushButton, "emptyImportButton").isVisible()


def test_lists_with_counts_and_a_lazy_table(window, people: int) -> None:  # type: ignore[no-untyped-def]
    page = lists_page(window)
    assert page.body.currentIndex() == 1
    view = page.lists_view
    assert [view.item(i).text() for i in range(view.count())] == ["Accounts", "People"]
    assert [view.item(i).data(CAPTION_ROLE) for i in range(view.count())] == ["0 companies", "200 contacts"]
    # The first list (empty) says what to do; People shows its records.
    assert page.table_stack.currentWidget() is page.list_empty
    assert page.list_empty.title.text() == "This list is empty"
    page.select_list("People")
    assert page.model.rowCount() == N
    assert page.visible_column_names()[:3] == ["full_name", "email", "job_title"]
    assert page.model.headerData(0, Qt.Orientation.Horizontal) == "Full name"
    assert page.status.text() == "200 contacts"
    # Only what is painted is read: a page or two, never the whole list.
    assert page.model.fetches <= 2
    page.table.selectRow(3)
    page.table.selectionModel().select(
        page.model.index(5, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    )
    assert page.status.text() == "200 contacts · 2 selected"
    page.table.selectAll()
    assert page.status.text() == "200 contacts · 200 selected"


def test_status_numbers_follow_the_locale(window, people: int) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QLocale

    previous = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    try:
        assert number(1_000_000) == "1.000.000"
    finally:
        QLocale.setDefault(previous)


def test_sort_by_clicking_headers(window, people: int, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = lists_page(window)
    page.select_list("People")
    click_header(qtbot, page, "full_name")
    settle(aloop, page)
    names = column(page, "full_name")
    assert names == sorted(names, key=lambda n: n.casefold().replace("Á", "a").replace("á", "a"))
    assert names[0].startswith("Ana")
    header = page.table.horizontalHeader()
    assert header.sortIndicatorSection() == 0
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    click_header(qtbot, page, "full_name")
    settle(aloop, page)
    assert column(page, "full_name")[0].startswith("Jon")
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    click_header(qtbot, page, "full_name")  # a third click: back to the list's order
    settle(aloop, page)
    assert page.model.sort_column is None
    assert column(page, "email")[:2] == ["person0@acme0.com", "person1@acme1.com"]
    assert header.sortIndicatorSection() == -1


def test_filter_box(window, people: int, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = lists_page(window)
    page.select_list("People")
    qtbot.keyClicks(page.search, "acme3")
    qtbot.keyClick(page.search, Qt.Key.Key_Return)
    settle(aloop, page)
    assert page.model.rowCount() == len([i for i in range(N) if i % 7 == 3])
    assert all(e.endswith("@acme3.com") for e in column(page, "email"))
    assert page.status.text() == f"{page.model.rowCount()} of 200 contacts match “acme3”"
    page.search.setText("nobody-here")
    page._apply_filter_now()
    settle(aloop, page)
    assert page.model.rowCount() == 0
    assert page.table_stack.currentWidget() is page.list_empty
    assert page.list_empty.title.text() == "No contacts match “nobody-here”"
    page.search.setFocus()
    qtbot.keyClick(page.search, Qt.Key.Key_Escape)  # Esc clears the filter
    page._apply_filter_now()
    settle(aloop, page)
    assert page.model.rowCount() == N
    assert page.status.text() == "200 contacts"


def _edit_with_keyboard(qtbot, page: ListsPage, row: int, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    index = page.model.index(row, page.model.column_index(name))
    page.table.setCurrentIndex(index)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F2)
    editors = [e for e in page.table.findChildren(QLineEdit) if e.isVisible()]  # earlier ones wait for deletion
    assert len(editors) == 1
    editor = editors[0]
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next turn of the event loop
    qtbot.waitUntil(lambda: page.table.state() != QAbstractItemView.State.EditingState)


def test_edit_a_cell_valid_and_invalid(window, people: int, ctx: AppContext, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = lists_page(window)
    page.select_list("People")
    record_id = page.model.record_id(0)
    _edit_with_keyboard(qtbot, page, 0, "email", "Ana.New@Acme.com")
    assert page.model.data(page.model.index(0, page.model.column_index("email"))) == "ana.new@acme.com"
    assert WorkspaceService(ctx.store).record("contact", record_id)["email"] == "ana.new@acme.com"
    assert page.edit_error.isHidden()

    _edit_with_keyboard(qtbot, page, 0, "email", "not an email")
    assert page.edit_error.isVisible()
    assert page.edit_error.text() == (
        "✗ Email: 'not an email' is not a valid email address. The value was not changed."
    )
    assert page.model.data(page.model.index(0, page.model.column_index("email"))) == "ana.new@acme.com"
    assert WorkspaceService(ctx.store).record("contact", record_id)["email"] == "ana.new@acme.com"

    # Editing a first name updates the full name shown in the same row; a valid edit clears the error.
    page.set_column_visible("first_name", True)
    assert page.edit_cell(0, "first_name", "Anita")
    assert page.model.data(page.model.index(0, page.model.column_index("full_name"))) == "Anita Zubiri"
    assert page.edit_error.isHidden()


def test_an_edit_in_a_sorted_view_is_sorted_again(window, people: int, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = lists_page(window)
    page.select_list("People")
    page.sort_by("email")
    settle(aloop, page)
    first = column(page, "email")[0]
    assert page.edit_cell(0, "email", "zzz@last.com")
    assert page.model.held  # nothing new is read until the order is computed again
    settle(aloop, page)
    emails = column(page, "email")
    assert emails[-1] == "zzz@last.com"
    assert first not in emails
    assert emails == sorted(emails)


def test_delete_selected_records_after_confirmation(window, people: int, ctx: AppContext, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811, E501
    page = lists_page(window)
    page.select_list("People")
    page.table.selectRow(0)
    for row in (1, 2):
        page.table.selectionModel().select(
            page.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    doomed = [page.model.record_id(r) for r in range(3)]
    qtbot.mouseClick(page.delete_records_button, Qt.MouseButton.LeftButton)
    box = page.current_dialog
    assert isinstance(box, QMessageBox)
    assert box.text() == "Delete 3 contacts?"
    assert box.defaultButton().objectName() == "cancelButton"
    box.findChild(QPushButton, "confirmDeleteButton").click()
    settle(aloop, page)
    assert page.model.rowCount() == N - 3
    assert page.status.text() == "197 contacts"
    assert page.lists_view.currentItem().data(CAPTION_ROLE) == "197 contacts"
    service = WorkspaceService(ctx.store)
    for record_id in doomed:
        with pytest.raises(Exception, match="no longer exists"):
            service.record("contact", record_id)


def test_delete_key_and_remove_from_list_only(window, people: int, ctx: AppContext, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811, E501
    page = lists_page(window)
    page.select_list("People")
    page.table.selectRow(10)
    kept = page.model.record_id(10)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    box = page.current_dialog
    assert isinstance(box, QMessageBox)
    assert box.objectName() == "confirmDeleteRecords"
    box.findChild(QPushButton, "removeFromListButton").click()
    settle(aloop, page)
    assert page.model.rowCount() == N - 1
    assert WorkspaceService(ctx.store).record("contact", kept)["email"]  # still in the workspace


def test_column_chooser_shows_custom_fields(window, people: int) -> None:  # type: ignore[no-untyped-def]
    page = lists_page(window)
    page.select_list("People")
    page.columns_menu.aboutToShow.emit()
    score = page.columns_menu.findChild(QAction, "column-custom:Score")
    assert score is not None
    assert not score.isChecked()
    score.trigger()
    assert "custom:Score" in page.visible_column_names()
    assert page.model.headerData(page.model.column_index("custom:Score"), Qt.Orientation.Horizontal) == "Score"
    assert column(page, "custom:Score")[:3] == ["0", "1", "2"]
    page.columns_menu.aboutToShow.emit()
    page.columns_menu.findChild(QAction, "column-email").trigger()
    assert "email" not in page.visible_column_names()
    # The choice is kept for the list; the default columns come back on request.
    page.select_list("Accounts")
    page.select_list("People")
    assert "custom:Score" in page.visible_column_names()
    page.reset_columns()
    assert page.visible_column_names() == list(WorkspaceService.default_columns("contact"))


def test_new_rename_and_delete_lists(window, people: int, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = lists_page(window)
    dialog = page.new_list()
    assert isinstance(dialog, ListNameDialog)
    qtbot.keyClicks(dialog.name, "People")
    dialog.findChild(QPushButton, "saveListButton").click()
    assert dialog.error.text() == "A list named 'People' already exists."
    assert dialog.isVisible()
    dialog.name.setText("Hot leads")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # Enter saves
    assert not dialog.isVisible()
    assert page.list_names() == ["Accounts", "Hot leads", "People"]
    assert page.current is not None
    assert page.current.name == "Hot leads"

    rename = page.rename_list()
    assert rename is not None
    rename.name.setText("Warm leads")
    rename.save()
    assert page.list_names() == ["Accounts", "People", "Warm leads"]

    page.select_list("People")
    box = page.confirm_delete_list()
    assert box is not None
    assert box.text() == "Delete the list “People”?"
    assert "200 contacts stay in your workspace" in box.informativeText()
    both = box.findChild(QPushButton, "confirmDeleteListAndRecordsButton")
    assert both.text() == "Delete list and its 200 contacts"
    assert box.defaultButton().objectName() == "cancelButton"
    box.findChild(QPushButton, "confirmDeleteListButton").click()
    settle(aloop, page)
    assert page.list_names() == ["Accounts", "Warm leads"]


def test_the_table_model_passes_the_model_tester(ctx: AppContext, people: int, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    service = WorkspaceService(ctx.store)
    model = RecordTableModel(service)
    model.PAGE_ROWS = 30  # several pages for the tester to walk through
    columns = service.columns(people)
    model.load(people, service.get_list(people).kind, columns[:5])
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)
    model.load(people, service.get_list(people).kind, columns, sort_column="email", descending=True,
               filter_text="acme2")
    qtmodeltester.check(model)
    assert model.rowCount() == len([i for i in range(N) if i % 7 == 2])
    model.set_columns(columns[:2])
    assert model.columnCount() == 2
    qtmodeltester.check(model)
    model.load(None, service.get_list(people).kind, [])
    qtmodeltester.check(model)


def test_record_ids_of_selected_ranges(ctx: AppContext, people: int) -> None:
    service = WorkspaceService(ctx.store)
    model = RecordTableModel(service)
    model.load(people, service.get_list(people).kind, service.columns(people)[:2])
    everything = model.record_ids([(0, N - 1)])
    assert len(everything) == N == len(set(everything))
    assert model.record_ids([(0, 1), (5, 5)]) == [everything[0], everything[1], everything[5]]


def test_apply_query_keeps_only_the_latest_request(window, people: int, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = lists_page(window)
    page.select_list("People")

    async def both() -> None:
        page.want_sort = "email"
        first = asyncio.ensure_future(page.apply_query())
        page.want_sort = "full_name"
        second = asyncio.ensure_future(page.apply_query())
        await asyncio.gather(first, second)

    aloop.run_until_complete(both())
    assert page.model.sort_column == "full_name"


def test_after_an_import_the_next_step_is_offered(window, ctx: AppContext, people: int, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = lists_page(window)
    page._imported(people, "People")  # what a finished import does
    assert page.next_step.isVisible()
    assert "connect your CRM on the Integrations page" in page.next_step_text.text()  # no CRM yet
    assert not page.next_export.isVisible()
    ctx.integrations.save_connection("hubspot", {"token": "pat-na1-test"})
    ctx.integrations.enable("hubspot")
    page._imported(people, "People")
    assert page.next_export.text() == f"Export these {N} contacts to HubSpot…"
    assert page.next_sync.text() == "Sync with HubSpot first…"
    assert page.next_export.property("primary")
    opened = []

    async def open_export() -> None:  # the export dialog itself is tested in test_export_ui.py
        opened.append((page.current.id if page.current else None, page.selected_count()))

    page.open_export = open_export  # type: ignore[method-assign]
    page.table.selectRow(3)
    page.next_export.click()  # the export of the whole list
    settle(aloop, page)
    assert not page.next_step.isVisible()
    assert opened == [(people, 0)]


def test_after_a_sync_the_dialog_offers_the_export(window, ctx: AppContext, people: int, qtbot) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core.sync import ObjectSync, SyncResult

    ctx.integrations.save_connection("hubspot", {"token": "pat-na1-test"})
    ctx.integrations.enable("hubspot")
    page = lists_page(window)
    page.select_list("People")
    dialog = page.open_sync()
    assert dialog.offer_export
    requested = []
    dialog.exportRequested.disconnect()
    dialog.exportRequested.connect(requested.append)
    totals = {"matched": 150, "new": 50}
    result = SyncResult(0, "hubspot", people, "People",
                        {"contact": ObjectSync("contact", N, totals, "", 3, 150, 150, "Email")}, 3, 0.5)
    dialog.show_result(result)
    assert dialog.export_button.isVisible()
    assert dialog.export_button.text() == f"Export these {N} contacts to HubSpot…"
    primaries = [b for b in dialog.findChildren(QPushButton) if b.property("primary") and b.isVisible()]
    assert primaries == [dialog.export_button]  # one primary button
    dialog.export_button.click()
    assert requested == [people]
