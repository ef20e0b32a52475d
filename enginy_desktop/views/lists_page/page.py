"""The Lists page: contact and company lists on the left, the selected list's records in a lazy table on the right.

The page is the controller: it renders :class:`WorkspaceService` state in its parts — the lists
(:class:`SidePanel`), the bar over the records (:class:`ListToolbar`), the next step after an import
(:class:`NextStepBar`), the records (:class:`RecordsTable` over a :class:`RecordTableModel`, a window over the
service's pages, so a list of a million contacts opens at once) — and forwards intent to the service and to the
dialogs it opens. Sorting and filtering a large list are computed in a worker thread before the table shows them.

Signals: ``statusMessage(str)`` — a short confirmation for the window's status bar.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.services.workspace import Column, ListInfo, WorkspaceError, WorkspaceService

from .. import theme
from ..export_dialog import ExportDialog, export_button_label
from ..import_dialog import ImportDialog
from ..record_model import RecordTableModel
from ..side_panel import SidePanel
from ..sync_dialog import sync_button_label
from ..tasks import TaskKeeper
from ..widgets import DialogHost, EmptyState, OverflowRow, note_label
from ..workspace_widgets import CAPTION_ROLE, count_text, divider, number, page_header
from .name_dialog import ListNameDialog
from .next_step import NextStepBar
from .questions import delete_list_question, delete_records_question
from .records import NOUNS, RecordsTable, records_text
from .toolbar import ListToolbar

log = logging.getLogger(__name__)

FILTER_DELAY_MS = 300


class ListsPage(QWidget):
    """Signals: ``statusMessage(str)`` — a short confirmation for the status bar."""

    statusMessage = Signal(str)

    def __init__(
        self, ctx: AppContext, parent: QWidget | None = None, service: WorkspaceService | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = service or WorkspaceService(ctx.store)
        self.setObjectName("listsPage")
        self.tasks = TaskKeeper()
        self.current: ListInfo | None = None
        self._lists: list[ListInfo] = []
        self._columns_by_list: dict[int, list[str]] = {}
        self._available: list[Column] = []
        self._shown_once = False
        self._query_generation = 0
        self.want_sort: str | None = None
        self.want_descending = False
        self._busy = ""
        self.dialogs = DialogHost()
        #: How the import dialog asks for files; tests replace them (see :class:`ImportDialog`).
        self.pick_open_file = None
        self.pick_save_file = None

        self.root_layout = root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 0)
        root.setSpacing(12)
        self.header, actions = page_header(
            "Lists", "Your contacts and companies, in lists. Sort, filter and edit them, or import more from CSV."
        )
        self.import_button = QPushButton("Import CSV…")
        self.import_button.setObjectName("importCsvButton")
        self.import_button.setProperty("primary", True)
        self.import_button.setIcon(theme.icon("import"))
        self.import_button.clicked.connect(lambda: self.open_import())
        self.theirstack_button = QPushButton("Import from TheirStack…")
        self.theirstack_button.setObjectName("importTheirStackButton")
        self.theirstack_button.setToolTip("Import companies matching technologies, hiring and size filters "
                                          "(free count first)")
        self.theirstack_button.clicked.connect(lambda: self.open_theirstack())
        self.ai_button = QPushButton("Add AI column…")
        self.ai_button.setObjectName("addAiColumnButton")
        self.ai_button.setToolTip("A column the model fills for every row of the open list from a prompt (preview "
                                  "and estimate first)")
        self.ai_button.clicked.connect(lambda: self.tasks.start(self.open_ai_column()))
        self.enrich_button = QPushButton("Enrich…")
        self.enrich_button.setObjectName("enrichButton")
        self.enrich_button.setToolTip("Find missing e-mails, phones, titles… for the open list or the selected rows "
                                      "with your enrichment providers (estimate first)")
        self.enrich_button.clicked.connect(lambda: self.tasks.start(self.open_enrich()))
        # The header's buttons never clip: in a narrow window the others go into a ⋯ menu, Import CSV stays.
        self.header_buttons = OverflowRow()
        for button in (self.theirstack_button, self.ai_button, self.enrich_button):
            self.header_buttons.add(button)
        self.header_buttons.add(self.import_button, keep=True)
        actions.addWidget(self.header_buttons, 0, Qt.AlignmentFlag.AlignTop)
        root.addLayout(self.header)
        root.addWidget(divider())

        self.body = QStackedWidget()
        self.body.setObjectName("listsBody")
        root.addWidget(self.body, 1)
        self.body.addWidget(self._build_no_lists())

        # -- lists and records ---------------------------------------------------------------------------------
        split = QWidget()
        split_lay = QHBoxLayout(split)
        split_lay.setContentsMargins(0, 4, 0, 0)
        split_lay.setSpacing(16)
        split_lay.addWidget(self._build_side())

        content = QWidget()
        content_lay = QVBoxLayout(content)
        content_lay.setContentsMargins(0, 0, 0, 0)
        content_lay.setSpacing(8)
        self.toolbar = toolbar = ListToolbar(sync_button_label(ctx), export_button_label(ctx))
        toolbar.filterEdited.connect(self._filter_edited)
        toolbar.filterSubmitted.connect(self._apply_filter_now)
        toolbar.columnsWanted.connect(self._fill_columns_menu)
        toolbar.columnToggled.connect(self.set_column_visible)
        toolbar.columnsReset.connect(self.reset_columns)
        toolbar.syncRequested.connect(lambda: self.open_sync())
        toolbar.exportRequested.connect(lambda: self.tasks.start(self.open_export()))
        toolbar.deleteRequested.connect(self.confirm_delete_records)
        self.search, self.toolbar_buttons, self.columns_menu = toolbar.search, toolbar.buttons, toolbar.columns_menu
        self.columns_button, self.sync_button = toolbar.columns_button, toolbar.sync_button
        self.export_button, self.delete_records_button = toolbar.export_button, toolbar.delete_records_button
        content_lay.addWidget(toolbar)

        # The next step after an import (export these records, or sync them first); hidden otherwise.
        self._next_list = 0
        self.next_step = NextStepBar()
        self.next_step.syncRequested.connect(self._sync_next)
        self.next_step.exportRequested.connect(lambda: self._export_list(self._next_list))
        self.next_step_text, self.next_sync = self.next_step.text, self.next_step.sync_button
        self.next_export = self.next_step.export_button
        content_lay.addWidget(self.next_step)

        self.edit_error = note_label("editError", selectable=True)
        content_lay.addWidget(self.edit_error)

        self.table_stack = QStackedWidget()
        self.model = RecordTableModel(self.service, self)
        self.model.editFailed.connect(self._show_edit_error)
        self.model.orderStale.connect(lambda: self.tasks.start(self.reload(keep_position=True)))
        self.model.modelReset.connect(self._update_status)
        self.table = RecordsTable(self.model)
        self.table.horizontalHeader().sectionClicked.connect(self._header_clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table_stack.addWidget(self.table)
        self.list_empty = EmptyState("", "")
        self.list_empty.setObjectName("listEmptyState")
        self.table_stack.addWidget(self.list_empty)
        content_lay.addWidget(self.table_stack, 1)

        self.status = QLabel()
        self.status.setObjectName("listStatus")
        self.status.setAccessibleName("List status")
        content_lay.addWidget(self.status)
        split_lay.addWidget(content, 1)
        self.body.addWidget(split)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self._apply_filter_now)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.confirm_delete_records)

        self.setTabOrder(self.import_button, self.new_list_button)
        self.setTabOrder(self.new_list_button, self.lists_view)
        self.setTabOrder(self.lists_view, self.rename_list_button)
        self.setTabOrder(self.rename_list_button, self.delete_list_button)
        self.setTabOrder(self.delete_list_button, self.search)
        self.setTabOrder(self.search, self.columns_button)
        self.setTabOrder(self.columns_button, self.delete_records_button)
        self.setTabOrder(self.delete_records_button, self.table)
        self.refresh_lists()

    def _build_no_lists(self) -> QWidget:
        """What the page shows while there are no lists at all."""
        self.no_lists = QWidget()
        self.no_lists.setObjectName("noListsState")
        empty_lay = QVBoxLayout(self.no_lists)
        empty_lay.addStretch(1)
        self.no_lists_state = EmptyState("No lists yet", "Import a CSV to create your first list.")
        state_layout = self.no_lists_state.layout()
        assert state_layout is not None
        state_layout.setContentsMargins(24, 24, 24, 12)
        empty_lay.addWidget(self.no_lists_state)
        self.empty_import_button = QPushButton("Import CSV…")
        self.empty_import_button.setObjectName("emptyImportButton")
        self.empty_import_button.setProperty("primary", True)
        self.empty_import_button.clicked.connect(lambda: self.open_import())
        self.empty_new_button = QPushButton("New empty list…")
        self.empty_new_button.setObjectName("emptyNewListButton")
        self.empty_new_button.clicked.connect(self.new_list)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.empty_new_button)
        buttons.addWidget(self.empty_import_button)
        buttons.addStretch(1)
        empty_lay.addLayout(buttons)
        empty_lay.addStretch(2)
        return self.no_lists

    def _build_side(self) -> SidePanel:
        """The lists, with New list above them and Rename / Delete under them."""
        self.new_list_button = QPushButton("+ New list")
        self.new_list_button.setObjectName("newListButton")
        self.new_list_button.setProperty("flat", True)
        self.new_list_button.setToolTip("Create an empty list")
        self.new_list_button.clicked.connect(self.new_list)
        self.side = SidePanel("Lists", "listsList", "Lists", action=self.new_list_button)
        self.lists_view = self.side.items
        self.lists_view.currentItemChanged.connect(self._on_list_changed)
        side_buttons = QHBoxLayout()
        side_buttons.setSpacing(6)
        self.rename_list_button = QPushButton("Rename…")
        self.rename_list_button.setObjectName("renameListButton")
        self.rename_list_button.clicked.connect(self.rename_list)
        self.delete_list_button = QPushButton("Delete…")
        self.delete_list_button.setObjectName("deleteListButton")
        self.delete_list_button.setProperty("danger", True)
        self.delete_list_button.clicked.connect(self.confirm_delete_list)
        for b in (self.rename_list_button, self.delete_list_button):
            b.setProperty("compact", True)
            side_buttons.addWidget(b, 1)
        self.side.body.addLayout(side_buttons)
        return self.side

    # -- lists -----------------------------------------------------------------------------------------------
    def refresh_lists(self, select_id: int | None = None) -> None:
        """Read the lists again (names and counts); keep the selection, or select ``select_id``."""
        wanted = select_id if select_id is not None else (self.current.id if self.current else None)
        self._lists = self.service.lists()
        self.lists_view.blockSignals(True)
        self.lists_view.clear()
        row_to_select = 0
        for i, info in enumerate(self._lists):
            item = QListWidgetItem(info.name)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setData(CAPTION_ROLE, records_text(info.kind, info.count))
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{info.name}, {records_text(info.kind, info.count)}")
            item.setToolTip(f"{info.name} · {records_text(info.kind, info.count)}")
            self.lists_view.addItem(item)
            if info.id == wanted:
                row_to_select = i
        self.lists_view.blockSignals(False)
        self.body.setCurrentIndex(0 if not self._lists else 1)
        if not self._lists:
            self._open(None)
            return
        self.lists_view.setCurrentRow(row_to_select)
        info = self._lists[row_to_select]
        if self.current is None or self.current.id != info.id:
            self._open(info)
        else:
            changed = info.count != self.current.count
            self.current = info
            if changed:
                self._reload_soon()
            self._update_status()

    def _reload_soon(self) -> None:
        """Show the current list's records again after its size changed elsewhere (another page, the CLI)."""
        if self.current is None:
            return
        if self.model.sort_column or self.model.filter_text.strip():
            self.tasks.start(self.reload())
            return
        self._available = self.service.columns(self.current.id)  # an import may have brought custom fields
        position = self.table.verticalScrollBar().value()
        self.model.load(self.current.id, self.current.kind, self.model.columns, count=self.current.count)
        self.table.verticalScrollBar().setValue(position)

    def list_names(self) -> list[str]:
        return [i.name for i in self._lists]

    def select_list(self, name_or_id: str | int) -> None:
        for row, info in enumerate(self._lists):
            if name_or_id in (info.id, info.name):
                self.lists_view.setCurrentRow(row)
                return
        raise KeyError(name_or_id)

    def _on_list_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        list_id = item.data(Qt.ItemDataRole.UserRole)
        info = next((i for i in self._lists if i.id == list_id), None)
        if info is not None and (self.current is None or info.id != self.current.id):
            self._open(info)

    def _open(self, info: ListInfo | None) -> None:
        """Show a list in its own order, unfiltered (fast on any size: an indexed count and one page)."""
        self._query_generation += 1
        self.current = info
        self.edit_error.setVisible(False)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._filter_timer.stop()
        self.want_sort, self.want_descending = None, False
        self.table.show_sort(-1, False)
        self._busy = ""
        for w in (self.rename_list_button, self.delete_list_button, self.search, self.columns_button, self.sync_button,
                  self.export_button, self.enrich_button):
            w.setEnabled(info is not None)
        if info is None:
            self.model.load(None, RecordKind.CONTACT, [])
            self._update_status()
            return
        self._available = self.service.columns(info.id)  # fields, then the list's custom fields
        self.model.load(info.id, info.kind, self._visible_columns(info), count=info.count)
        self.table.size_columns(self.model.columns)
        self.table.scrollToTop()

    # -- columns -------------------------------------------------------------------------------------------
    def available_columns(self) -> list[Column]:
        return list(self._available) if self.current else []

    def _visible_columns(self, info: ListInfo) -> list[Column]:
        available = {c.name: c for c in self._available}
        names = self._columns_by_list.get(info.id) or list(self.service.default_columns(info.kind))
        return [available[n] for n in names if n in available]

    def visible_column_names(self) -> list[str]:
        return [c.name for c in self.model.columns]

    def set_column_visible(self, name: str, visible: bool) -> None:
        """Show or hide a column (at least one stays); the choice is kept per list while the app runs."""
        if self.current is None:
            return
        names = self.visible_column_names()
        if visible and name not in names:
            names.append(name)
        elif not visible and name in names and len(names) > 1:
            names.remove(name)
        else:
            return
        self._columns_by_list[self.current.id] = names
        position = self.table.verticalScrollBar().value()
        self.model.set_columns(self._visible_columns(self.current))
        self.table.size_columns(self.model.columns)
        self.table.verticalScrollBar().setValue(position)
        self._sync_sort_indicator()

    def reset_columns(self) -> None:
        if self.current is None:
            return
        self._columns_by_list.pop(self.current.id, None)
        self.model.set_columns(self._visible_columns(self.current))
        self.table.size_columns(self.model.columns)
        self._sync_sort_indicator()

    def _fill_columns_menu(self) -> None:
        self.toolbar.fill_columns(self.available_columns(), set(self.visible_column_names()))

    # -- sorting and filtering -------------------------------------------------------------------------------
    def _header_clicked(self, section: int) -> None:
        if self.current is None or not 0 <= section < len(self.model.columns):
            return
        name = self.model.columns[section].name
        if self.want_sort != name:
            self.want_sort, self.want_descending = name, False
        elif not self.want_descending:
            self.want_descending = True
        else:
            self.want_sort, self.want_descending = None, False  # a third click goes back to the list's order
        self._sync_sort_indicator(self.want_sort, self.want_descending)
        self.tasks.start(self.apply_query())

    def sort_by(self, column: str | None, descending: bool = False) -> asyncio.Task[Any] | None:
        """Sort as a click on the column's header does (None: the list's own order)."""
        self.want_sort, self.want_descending = column, descending
        self._sync_sort_indicator(column, descending)
        return self.tasks.start(self.apply_query())

    def _sync_sort_indicator(self, sort: str | None = None, descending: bool | None = None) -> None:
        if descending is None:
            sort, descending = self.model.sort_column, self.model.descending
        self.table.show_sort(self.model.column_index(sort) if sort else -1, descending)

    def _filter_edited(self, _text: str) -> None:
        self._filter_timer.start()

    def _apply_filter_now(self) -> None:
        self._filter_timer.stop()
        if self.current is not None and self.search.text().strip() != self.model.filter_text.strip():
            self.tasks.start(self.apply_query())

    async def apply_query(self, keep_position: bool = False) -> None:
        """Show the current list with the wanted sort and the filter box's text.

        The new order is computed in a worker thread (seconds on a million rows); the table keeps showing the
        rows it has until then, and a newer request replaces an older one still running.
        """
        info = self.current
        if info is None:
            return
        sort, desc, text = self.want_sort, self.want_descending, self.search.text()
        self._query_generation += 1
        generation = self._query_generation
        columns = list(self.model.columns)
        position = self.table.verticalScrollBar().value() if keep_position else 0
        self.model.hold()
        if not keep_position:
            self.edit_error.setVisible(False)
        total = records_text(info.kind, info.count)
        if text.strip() and text.strip() != self.model.filter_text.strip():
            self._busy = f"Filtering {total}…"
        elif sort and (sort, desc) != (self.model.sort_column, self.model.descending):
            self._busy = f"Sorting {total}…"
        else:
            self._busy = "Loading…"
        self._update_status()
        try:
            count = await asyncio.to_thread(self.service.prepare, info.id, sort, desc, text)
        except WorkspaceError as exc:
            if generation == self._query_generation:
                self._busy = ""
                self._show_edit_error(str(exc))
                self.current = None
                self.refresh_lists()
            return
        if generation != self._query_generation or self.current is None or self.current.id != info.id:
            return  # a newer request (or another list) replaced this one
        self._busy = ""
        self.model.load(info.id, info.kind, columns, count, sort, desc, text)
        self._sync_sort_indicator()
        self.table.verticalScrollBar().setValue(position)

    async def reload(self, keep_position: bool = True) -> None:
        """Read the current view again (after an edit or a delete), keeping the scroll position."""
        await self.apply_query(keep_position=keep_position)

    # -- status --------------------------------------------------------------------------------------------
    def selected_ranges(self) -> list[tuple[int, int]]:
        """The selected rows as sorted, merged (first, last) ranges: cheap even when a million rows are selected."""
        return self.table.selected_ranges()

    def selected_count(self) -> int:
        return sum(b - a + 1 for a, b in self.selected_ranges())

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_status()

    def _update_status(self) -> None:
        info = self.current
        if info is None:
            self.status.setText("")
            self.delete_records_button.setEnabled(False)
            return
        shown = self.model.total
        text = self.model.filter_text.strip()
        if text:
            one, many = NOUNS[info.kind]
            line = f"{number(shown)} of {number(info.count)} {many if info.count != 1 else one} match “{text}”"
        else:
            line = records_text(info.kind, shown)
        selected = self.selected_count() if shown else 0
        if selected:
            line += f" · {number(selected)} selected"
        if self._busy:
            line += f" · {self._busy}"
        self.status.setText(line)
        self.delete_records_button.setEnabled(selected > 0)
        if shown == 0 and not self._busy:
            if text:
                self.list_empty.set_text(
                    f"No {NOUNS[info.kind][1]} match “{text}”", "Check the spelling, or clear the filter (Esc)."
                )
            else:
                self.list_empty.set_text(
                    "This list is empty", "Import a CSV file into it with Import CSV…, at the top right."
                )
            self.table_stack.setCurrentWidget(self.list_empty)
        else:
            self.table_stack.setCurrentWidget(self.table)

    def _show_edit_error(self, message: str) -> None:
        self.edit_error.setText(f"✗ {message}")
        self.edit_error.setVisible(True)
        self.statusMessage.emit(message)

    # -- editing and deleting ------------------------------------------------------------------------------
    def edit_cell(self, row: int, column: str, value: str) -> bool:
        """Edit one cell as the user would in the table; False (and the error shown) when refused."""
        index = self.model.index(row, self.model.column_index(column))
        ok = self.model.setData(index, value)
        if ok:
            self.edit_error.setVisible(False)
        return ok

    def confirm_delete_records(self) -> QMessageBox | None:
        info = self.current
        ranges = self.selected_ranges()
        n = sum(b - a + 1 for a, b in ranges)
        if info is None or n == 0:
            return None
        box, delete, remove = delete_records_question(self, info, n)

        def clicked(button: object) -> None:
            if button is delete:
                self.tasks.start(self.delete_records(ranges, from_list_only=False))
            elif button is remove:
                self.tasks.start(self.delete_records(ranges, from_list_only=True))

        box.buttonClicked.connect(clicked)
        self._show(box)
        return box

    async def delete_records(self, ranges: list[tuple[int, int]], from_list_only: bool = False) -> int:
        """Delete (or only take out of the list) the records in these row ranges; returns how many."""
        info = self.current
        if info is None:
            return 0
        self.model.hold()
        self._busy = "Deleting…"
        self._update_status()
        ids = await asyncio.to_thread(self.model.record_ids, ranges)
        if from_list_only:
            n = await asyncio.to_thread(self.service.remove_from_list, info.id, ids)
            message = f"{records_text(info.kind, n)} removed from “{info.name}”."
        else:
            n = await asyncio.to_thread(self.service.delete_records, info.kind, ids)
            message = f"{records_text(info.kind, n)} deleted."
        self._busy = ""
        self.table.clearSelection()
        self.refresh_lists()
        await self.reload(keep_position=True)
        self.statusMessage.emit(message)
        return n

    # -- list actions ----------------------------------------------------------------------------------------
    def new_list(self) -> ListNameDialog:
        dialog = ListNameDialog(self.service, self)
        dialog.saved.connect(lambda info: self._list_saved(info, "created"))
        self._show(dialog)
        return dialog

    def rename_list(self) -> ListNameDialog | None:
        if self.current is None:
            return None
        dialog = ListNameDialog(self.service, self, self.current)
        dialog.saved.connect(lambda info: self._list_saved(info, "renamed"))
        self._show(dialog)
        return dialog

    def _list_saved(self, info: ListInfo, verb: str) -> None:
        self.current = None if verb == "created" else self.current
        self.refresh_lists(select_id=info.id)
        self.statusMessage.emit(f"List “{info.name}” {verb}.")

    def confirm_delete_list(self) -> QMessageBox | None:
        info = self.current
        if info is None:
            return None
        box, delete, both = delete_list_question(self, info)

        def clicked(button: object) -> None:
            if button is delete or (both is not None and button is both):
                self.tasks.start(self.delete_list(info, with_records=button is both))

        box.buttonClicked.connect(clicked)
        self._show(box)
        return box

    async def delete_list(self, info: ListInfo, with_records: bool = False) -> None:
        self._busy = "Deleting the list…"
        self._update_status()
        await asyncio.to_thread(self.service.delete_list, info.id, delete_records=with_records)
        self._busy = ""
        self.current = None
        self.refresh_lists()
        extra = f" and its {records_text(info.kind, info.count)}" if with_records else ""
        self.statusMessage.emit(f"List “{info.name}”{extra} deleted.")

    # -- importing -----------------------------------------------------------------------------------------
    def open_import(self, path: Path | None = None) -> ImportDialog:
        dialog = ImportDialog(self.service, self, reports_dir=self.ctx.data_dir / "reports")
        if self.pick_open_file is not None:
            dialog.pick_open_file = self.pick_open_file
        if self.pick_save_file is not None:
            dialog.pick_save_file = self.pick_save_file
        dialog.imported.connect(self._imported)
        self._show(dialog)
        if path is not None:
            dialog.load_file(path)
        return dialog

    def _imported(self, list_id: int, name: str) -> None:
        self.current = None
        self.refresh_lists(select_id=list_id)
        self.statusMessage.emit(f"Imported into “{name}”.")
        self.show_next_step(list_id, f"Imported into “{name}”.")

    def show_next_step(self, list_id: int, done: str) -> None:
        """After an import or an enrichment: say what comes next, with the buttons for it (sync, export to the
        enabled CRM)."""
        info = next((i for i in self._lists if i.id == list_id), None)
        spec = self.ctx.integrations.active_crm()
        if info is None or not info.count:
            self.next_step.setVisible(False)
            return
        connected = spec is not None and self.ctx.integrations.get(spec.key).connected
        self._next_list = list_id
        self.next_step.offer(done, info, spec.name if spec is not None and connected else None)

    def open_sync(self) -> QWidget:
        """The sync dialog for the current list (it says why when no CRM is enabled or connected)."""
        from ..sync_dialog import SyncDialog

        dialog = SyncDialog(self.ctx, list_id=self.current.id if self.current else None, parent=self)
        dialog.offer_export = True
        dialog.exportRequested.connect(self._export_list)
        self._show(dialog)
        return dialog

    def _sync_next(self) -> None:
        self.next_step.setVisible(False)
        if self.current is None or self.current.id != self._next_list:
            self.refresh_lists(select_id=self._next_list)
        self.open_sync()

    def _export_list(self, list_id: int) -> None:
        """The next step offered after an import or a sync: export that whole list."""
        self.next_step.setVisible(False)
        if self.current is None or self.current.id != list_id:
            self.refresh_lists(select_id=list_id)
        self.table.clearSelection()
        self.tasks.start(self.open_export())

    async def open_export(self) -> QWidget | None:
        """The export dialog for the selected rows of the current list, or the whole list when none is selected."""
        info = self.current
        if info is None:
            return None
        ranges = self.selected_ranges() if self.model.total else []
        ids = await asyncio.to_thread(self.model.record_ids, ranges) if ranges else None
        dialog = ExportDialog(self.ctx, info.id, record_ids=ids, parent=self)
        self._show(dialog)
        return dialog

    async def open_ai_column(self) -> QWidget | None:
        """The AI column dialog for the current list; a preview uses the selected rows (up to five)."""
        from ..ai_column_dialog import AiColumnDialog

        info = self.current
        if info is None:
            return None
        ranges = self.selected_ranges() if self.model.total else []
        ids = await asyncio.to_thread(self.model.record_ids, ranges) if ranges else None
        dialog = AiColumnDialog(self.ctx, info.id, record_ids=ids, parent=self)
        dialog.statusMessage.connect(self.statusMessage)
        dialog.finished.connect(lambda _r: self.tasks.start(self.reload(keep_position=True)))
        self._show(dialog)
        return dialog

    async def open_enrich(self, factory: Any = None) -> QWidget | None:
        """The Enrich dialog for the selected rows of the current list, or the whole list when none is selected."""
        from ..enrich_dialog import EnrichDialog

        info = self.current
        if info is None:
            return None
        ranges = self.selected_ranges() if self.model.total else []
        ids = await asyncio.to_thread(self.model.record_ids, ranges) if ranges else None
        dialog = EnrichDialog(self.ctx, info.id, record_ids=ids, parent=self, factory=factory)
        dialog.statusMessage.connect(self.statusMessage)
        dialog.runEnded.connect(lambda _id: self.tasks.start(self.reload(keep_position=True)))
        dialog.runEnded.connect(lambda run_id: self._enriched(info.id, info.name, run_id))
        self._show(dialog)
        return dialog

    def _enriched(self, list_id: int, name: str, run_id: int) -> None:
        """After an enrichment that found values: the next step (sync or export the list), as after an import."""
        run = self.ctx.runs.get(run_id)
        found = run.counter("found")
        if run.state == "finished" and found:
            self.show_next_step(list_id, f"Enriched “{name}”: {count_text(found, 'value', 'values')} found.")

    def open_theirstack(self) -> QWidget:
        """The TheirStack import dialog (into the current company list by default)."""
        from ..theirstack_dialog import TheirStackDialog

        name = self.current.name if self.current is not None and self.current.kind.value == "company" else ""
        dialog = TheirStackDialog(self.ctx, list_name=name, parent=self)
        dialog.statusMessage.connect(self.statusMessage)
        dialog.imported.connect(self._imported)
        self._show(dialog)
        return dialog

    # -- plumbing ------------------------------------------------------------------------------------------
    def _show(self, dialog: QWidget) -> None:
        self.dialogs.open(dialog)

    @property
    def current_dialog(self) -> QWidget | None:
        return self.dialogs.current

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.toolbar.set_labels(sync_button_label(self.ctx), export_button_label(self.ctx))  # the CRM may change
        # Other pages (campaign imports, the command line) may have changed lists and counts meanwhile; the
        # first showing follows the constructor's reading.
        if self._shown_once and not self.tasks.busy:
            self.refresh_lists()
        self._shown_once = True

    def sizeHint(self) -> QSize:
        return QSize(900, 600)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        narrow = event.size().width() < 760
        margin = 12 if narrow else 32
        self.root_layout.setContentsMargins(margin, 16 if narrow else 24, margin, 0)
        self.side.setFixedWidth(200 if narrow else 240)
        self.toolbar.set_narrow(narrow)
        self.side.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
