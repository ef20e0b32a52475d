"""The window's read-only table models, written once: :class:`TableModel` and :class:`PagedTableModel`.

A screen's model says what a table shows — its ``COLUMNS`` and, for one row object, each cell's :meth:`text` — and
the base answers Qt's model API the same way everywhere: row and column counts, header labels (and tooltips, and
row numbers where asked), right-aligned number columns, the full text of a cell as its tooltip (so a cut cell can
be read), ``UserRole`` for the row's key, and read-only flags.

* :class:`TableModel` holds its rows in a list (``set_rows``); a model reading rows from elsewhere (a window over a
  million-row list) overrides :meth:`TableModel.row_count` and :meth:`TableModel.row_at` instead.
* :class:`PagedTableModel` fetches its rows a page at a time as the view scrolls (``fetch(offset, limit)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from .formatting import number

Row = TypeVar("Row")
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
DISPLAY, TOOLTIP, KEY = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.UserRole

PAGE = 200


class TableModel(QAbstractTableModel, Generic[Row]):
    """Rows of one kind of object, one column a ``COLUMNS`` label.

    Subclasses implement :meth:`text`; they may give :meth:`tooltip` (default: the cell's text), :meth:`key`
    (``UserRole``: the row's id), :meth:`align_right` (number columns), :meth:`header_tooltip`, ``ROW_NUMBERS``
    (1, 2, 3 … as row headers), ``ROLES`` and :meth:`role_data` for further roles, ``EDITABLE``.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    ROW_NUMBERS: ClassVar[bool] = False
    EDITABLE: ClassVar[bool] = False
    # The roles that need the row object (any other role is answered without reading a row).
    ROLES: ClassVar[frozenset[int]] = frozenset({DISPLAY, TOOLTIP, KEY})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []

    # -- what a subclass says -----------------------------------------------------------------------------------
    def headers(self) -> Sequence[str]:
        return self.COLUMNS

    def text(self, row: Row, column: int) -> Any:
        """What the cell shows."""
        raise NotImplementedError

    def tooltip(self, row: Row, column: int) -> str | None:
        """The cell's tooltip: its whole text (a cell cut by its column's width can be read)."""
        text = self.text(row, column)
        return None if text in (None, "") else str(text)

    def key(self, row: Row) -> Any:
        """``UserRole``: what identifies the row (a record or run id)."""
        return None

    def align_right(self, column: int) -> bool:
        return False

    def header_tooltip(self, section: int) -> str | None:
        return None

    def role_data(self, row: Row, column: int, role: int) -> Any:
        """Any role of ``ROLES`` beyond display, tooltip and key."""
        return None

    # -- where the rows are ----------------------------------------------------------------------------------------
    def set_rows(self, rows: Iterable[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def update_rows(self, rows: Iterable[Row]) -> None:
        """The same rows with new values (a live run's counters): redrawn in place, selection and scroll kept;
        other rows: a reset."""
        rows = list(rows)
        if len(rows) != len(self.rows):
            self.set_rows(rows)
            return
        self.rows = rows
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(self.headers()) - 1))

    def row_count(self) -> int:
        return len(self.rows)

    def row_at(self, row: int) -> Row | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    # -- Qt's model API ------------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.headers())

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        if not index.isValid() or not 0 <= index.column() < len(self.headers()):
            return None
        column = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if self.align_right(column) else _LEFT
        if role not in self.ROLES:
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        if role == DISPLAY:
            return self.text(row, column)
        if role == TOOLTIP:
            return self.tooltip(row, column)
        if role == KEY:
            return self.key(row)
        return self.role_data(row, column, role)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = DISPLAY
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            headers = self.headers()
            if not 0 <= section < len(headers):
                return None
            if role == DISPLAY:
                return headers[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and self.align_right(section):
                return _RIGHT
            if role == TOOLTIP:
                return self.header_tooltip(section)
            return None
        if self.ROW_NUMBERS and role == DISPLAY and 0 <= section < self.row_count():
            return number(section + 1)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        return flags | Qt.ItemFlag.ItemIsEditable if self.EDITABLE else flags


class PagedTableModel(TableModel[Row]):
    """Rows come from ``fetch(offset, limit)`` a page at a time as the view scrolls (``fetchMore``); ``total`` is
    how many exist. A fetch that returns nothing ends the table there (the source changed meanwhile)."""

    PAGE: ClassVar[int] = PAGE

    def __init__(self, fetch: Callable[[int, int], list[Row]], total: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self.total = total
        self._fetching = False

    def reset(self, fetch: Callable[[int, int], list[Row]], total: int) -> None:
        self.beginResetModel()
        self._fetch = fetch
        self.total = total
        self.rows = []
        self.endResetModel()

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802 - Qt API
        return not parent.isValid() and not self._fetching and len(self.rows) < self.total

    def fetchMore(self, parent: Index) -> None:  # noqa: N802 - Qt API
        # A view (or a model checker) may ask again from inside beginInsertRows: one page at a time, never twice.
        if parent.isValid() or self._fetching:
            return
        self._fetching = True
        try:
            more = self._fetch(len(self.rows), self.PAGE)
            if not more:
                self.total = len(self.rows)
                return
            self.beginInsertRows(_ROOT, len(self.rows), len(self.rows) + len(more) - 1)
            self.rows.extend(more)
            self.endInsertRows()
        finally:
            self._fetching = False
