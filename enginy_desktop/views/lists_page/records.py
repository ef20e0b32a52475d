"""The selected list's records: a lazy table over :class:`RecordTableModel` (a window over the service's pages),
its starting column widths, its sort indicator and its selection as row ranges."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from enginy_desktop.core.fields import FieldType, RecordKind
from enginy_desktop.core.services.workspace import Column

from ..formatting import count_text

NOUNS = {RecordKind.CONTACT: ("contact", "contacts"), RecordKind.COMPANY: ("company", "companies")}
COLUMN_WIDTHS = {
    FieldType.EMAIL: 240, FieldType.LINKEDIN_URL: 270, FieldType.URL: 220, FieldType.DOMAIN: 160,
    FieldType.INTEGER: 110, FieldType.PHONE: 140, FieldType.LONG_TEXT: 260,
}


def records_text(kind: RecordKind, n: int) -> str:
    one, many = NOUNS[kind]
    return count_text(n, one, many)


class RecordsTable(QTableView):
    """Rows selected whole (many at once), cells edited in place, headers clicked to sort."""

    def __init__(self, model: QAbstractItemModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recordsTable")
        self.setAccessibleName("Records")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.setTabKeyNavigation(False)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(32)
        hh = self.horizontalHeader()
        hh.setSectionsClickable(True)
        hh.setSortIndicatorShown(True)
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setDefaultSectionSize(170)
        hh.setMinimumSectionSize(60)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def size_columns(self, columns: list[Column]) -> None:
        """Starting widths by what a column holds (users resize them; sizing to contents would read every row)."""
        header = self.horizontalHeader()
        for i, c in enumerate(columns):
            header.resizeSection(i, COLUMN_WIDTHS.get(c.type, 160))

    def show_sort(self, section: int, descending: bool) -> None:
        """The header's sort indicator (``section`` -1: none), without it asking for a sort."""
        header = self.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(
            section, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        )
        header.blockSignals(False)

    def selected_ranges(self) -> list[tuple[int, int]]:
        """The selected rows as sorted, merged (first, last) ranges: cheap even when a million rows are selected."""
        selection = self.selectionModel().selection()
        spans = sorted((selection.at(i).top(), selection.at(i).bottom()) for i in range(selection.count()))
        merged: list[tuple[int, int]] = []
        for top, bottom in spans:
            if merged and top <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], bottom))
            else:
                merged.append((top, bottom))
        return merged
