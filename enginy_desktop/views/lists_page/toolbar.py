"""The bar over the records: the filter box, then Columns, Sync, Export and Delete selected — on one row when
there is room, the filter above the buttons in a narrow window; what does not fit goes into a More menu.

Signals: ``filterEdited(str)`` — the filter's text changed; ``filterSubmitted()`` — Enter in the filter;
``columnsWanted()`` — the Columns menu is about to show (fill it with :meth:`ListToolbar.fill_columns`);
``columnToggled(str, bool)`` — a column shown or hidden; ``columnsReset()`` — Show the default columns;
``syncRequested()``, ``exportRequested()``, ``deleteRequested()`` — the buttons.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QBoxLayout, QLineEdit, QMenu, QPushButton, QSizePolicy, QToolButton, QWidget

from enginy_desktop.core.services.workspace import Column

from .. import theme
from ..widgets import OverflowRow


class ListToolbar(QWidget):
    """Signals: see the module."""

    filterEdited = Signal(str)
    filterSubmitted = Signal()
    columnsWanted = Signal()
    columnToggled = Signal(str, bool)
    columnsReset = Signal()
    syncRequested = Signal()
    exportRequested = Signal()
    deleteRequested = Signal()

    def __init__(self, sync_label: str, export_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # As tall as its row (two in a narrow window): never squeezed by the next-step bar under it.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.row = row = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.search = QLineEdit()
        self.search.setObjectName("listFilter")
        self.search.setPlaceholderText("Filter this list…")
        self.search.setToolTip("Shows the records whose name, email, company, job title, LinkedIn URL, city or "
                               "country contain the text (Ctrl+F; Esc clears it)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setAccessibleName("Filter the list")
        self.search.setMinimumWidth(160)
        self.search.textChanged.connect(self.filterEdited)
        self.search.returnPressed.connect(self.filterSubmitted)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.search)
        escape.setContext(Qt.ShortcutContext.WidgetShortcut)
        escape.activated.connect(self.search.clear)
        row.addWidget(self.search, 1)
        # The buttons never clip: what does not fit goes into a More menu, Sync and Export (the core flow) last.
        self.buttons = buttons = OverflowRow()
        row.addWidget(buttons)
        self.columns_button = QToolButton()
        self.columns_button.setObjectName("columnsButton")
        self.columns_button.setText("Columns")
        self.columns_button.setIcon(theme.icon("columns"))
        self.columns_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_button.setToolTip("Choose the columns to show")
        self.columns_menu = QMenu(self.columns_button)
        self.columns_menu.setObjectName("columnsMenu")
        self.columns_button.setMenu(self.columns_menu)
        self.columns_menu.aboutToShow.connect(self.columnsWanted)
        buttons.add(self.columns_button, overflow_first=True)
        self.sync_button = QPushButton(sync_label)
        self.sync_button.setObjectName("syncListButton")
        self.sync_button.setToolTip("Match this list's records with the enabled CRM's records (writes nothing)")
        self.sync_button.clicked.connect(self.syncRequested)
        buttons.add(self.sync_button, keep=True)
        self.export_button = QPushButton(export_label)
        self.export_button.setObjectName("exportListButton")
        self.export_button.setToolTip("Export this list, or the selected rows, to the enabled CRM (preview first)")
        self.export_button.clicked.connect(self.exportRequested)
        buttons.add(self.export_button, keep=True)
        self.delete_records_button = QPushButton("Delete selected…")
        self.delete_records_button.setObjectName("deleteRecordsButton")
        self.delete_records_button.setProperty("danger", True)
        self.delete_records_button.setToolTip("Delete the selected records (Delete key)")
        self.delete_records_button.clicked.connect(self.deleteRequested)
        buttons.add(self.delete_records_button)

    def set_labels(self, sync_label: str, export_label: str) -> None:
        """Name the enabled CRM on Sync and Export (it may have changed)."""
        self.sync_button.setText(sync_label)
        self.export_button.setText(export_label)
        self.buttons.refresh()

    def set_narrow(self, narrow: bool) -> None:
        direction = QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight
        if direction != self.row.direction():
            self.row.setDirection(direction)
            self.updateGeometry()  # one row or two: the page makes room again

    def fill_columns(self, columns: list[Column], visible: set[str]) -> None:
        """The Columns menu: Enginy fields, then the list's custom fields, each checked when shown (the last one
        shown cannot be hidden), and Show the default columns."""
        menu = self.columns_menu
        menu.clear()
        fields = [c for c in columns if not c.is_custom]
        custom = [c for c in columns if c.is_custom]
        menu.addSection("Enginy fields")
        for c in fields:
            self._column_action(menu, c, c.name in visible, len(visible) == 1)
        menu.addSection("Custom fields" if custom else "No custom fields in this list")
        for c in custom:
            self._column_action(menu, c, c.name in visible, len(visible) == 1)
        menu.addSeparator()
        reset = menu.addAction("Show the default columns")
        reset.setObjectName("resetColumnsAction")
        reset.triggered.connect(self.columnsReset)

    def _column_action(self, menu: QMenu, column: Column, checked: bool, last: bool) -> QAction:
        action = menu.addAction(column.label)
        action.setObjectName(f"column-{column.name}")
        action.setCheckable(True)
        action.setChecked(checked)
        action.setEnabled(not (checked and last))
        action.toggled.connect(lambda on, n=column.name: self.columnToggled.emit(n, on))
        return action
