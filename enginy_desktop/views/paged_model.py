"""A read-only table model that fetches its rows a page at a time as the view scrolls (``fetchMore``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Row = TypeVar("Row")

PAGE = 200


class PagedTableModel(QAbstractTableModel, Generic[Row]):
    """Rows come from ``fetch(offset, limit)``; ``total`` is how many exist. Subclasses name their ``COLUMNS``
    and implement ``data``."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, fetch: Callable[[int, int], list[Row]], total: int, parent: Any = None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self.total = total
        self.rows: list[Row] = []
        self._fetching = False

    def reset(self, fetch: Callable[[int, int], list[Row]], total: int) -> None:
        self.beginResetModel()
        self._fetch = fetch
        self.total = total
        self.rows = []
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        return not parent.isValid() and not self._fetching and len(self.rows) < self.total

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:  # noqa: N802
        # A view (or a model checker) may ask again from inside beginInsertRows: one page at a time, never twice.
        if parent.isValid() or self._fetching:
            return
        self._fetching = True
        try:
            more = self._fetch(len(self.rows), PAGE)
            if not more:
                self.total = len(self.rows)
                return
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
            self.rows.extend(more)
            self.endInsertRows()
        finally:
            self._fetching = False

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None
