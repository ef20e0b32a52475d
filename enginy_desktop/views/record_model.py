"""The table model of a list's records: a window over :meth:`WorkspaceService.page`, for lists of a million rows.

``rowCount`` is the list's whole size (so the scroll bar is honest and End jumps to the last record), and rows
are read on demand in pages of :attr:`RecordTableModel.PAGE_ROWS`, kept in a small least-recently-used cache. A
page in the list's own order is an indexed read of a few milliseconds, whatever the list's size.

Sorting or filtering a large list makes the service compute the new order once (about two seconds for a million
rows). That must not happen inside ``data()`` on the UI thread, so the page computes it in a worker thread first
(:meth:`WorkspaceService.count` and a one-row :meth:`WorkspaceService.page`) and only then calls :meth:`load`.
While a new order is being computed the model is *held*: rows already read are shown, others stay blank for the
moment, and nothing is read from the store.

Signals:

* ``editFailed(str)`` — a cell edit was refused (the value is unchanged); the sentence to show the user.
* ``orderStale()`` — an edit changed a sorted or filtered view; the page recomputes the order and reloads.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from enginy_desktop.core.fields import FieldType, RecordKind
from enginy_desktop.core.services.workspace import Column, WorkspaceError, WorkspaceService

from .table_model import TableModel
from .workspace_widgets import number

log = logging.getLogger(__name__)

RECORD_ID_ROLE = Qt.ItemDataRole.UserRole + 10
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class RecordTableModel(TableModel[list[Any]]):
    PAGE_ROWS = 200
    ROW_NUMBERS = True
    EDITABLE = True
    ROLES = TableModel.ROLES | {Qt.ItemDataRole.EditRole, RECORD_ID_ROLE}
    MAX_PAGES = 64

    editFailed = Signal(str)
    orderStale = Signal()

    def __init__(self, service: WorkspaceService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.list_id: int | None = None
        self.kind = RecordKind.CONTACT
        self.columns: list[Column] = []
        self.sort_column: str | None = None
        self.descending = False
        self.filter_text = ""
        self._count = 0
        self._pages: OrderedDict[int, list[list[Any]]] = OrderedDict()
        self._held = False
        self.fetches = 0  # pages read from the store (for tests and the benchmark)
        self._sources: OrderedDict[int, dict[str, Any]] = OrderedDict()  # record id -> enriched fields' sources

    # -- what is shown -----------------------------------------------------------------------------------------
    def load(
        self,
        list_id: int | None,
        kind: RecordKind,
        columns: Sequence[Column],
        count: int | None = None,
        sort_column: str | None = None,
        descending: bool = False,
        filter_text: str = "",
    ) -> None:
        """Show a list (None: nothing) with these columns and this order; ``count`` when already known."""
        self.beginResetModel()
        self.list_id = list_id
        self.kind = kind
        self.columns = list(columns)
        self.sort_column = sort_column
        self.descending = descending
        self.filter_text = filter_text
        self._pages.clear()
        self._sources.clear()
        self._held = False
        if list_id is None:
            self._count = 0
        else:
            try:
                self._count = count if count is not None else self.service.count(list_id, filter_text)
            except WorkspaceError:
                log.info("List %s is gone", list_id)
                self._count = 0
        self.endResetModel()

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show other columns of the same rows (cached rows are read again with the new columns)."""
        self.beginResetModel()
        self.columns = list(columns)
        self._pages.clear()
        self.endResetModel()

    def hold(self) -> None:
        """Read nothing new from the store until the next :meth:`load` (a new order is being computed)."""
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    @property
    def total(self) -> int:
        return self._count

    def column_index(self, name: str) -> int:
        return next((i for i, c in enumerate(self.columns) if c.name == name), -1)

    # -- reading -------------------------------------------------------------------------------------------
    def _row(self, row: int) -> list[Any] | None:
        if not 0 <= row < self._count or self.list_id is None:
            return None
        page_no, offset = divmod(row, self.PAGE_ROWS)
        page = self._pages.get(page_no)
        if page is None:
            if self._held:
                return None
            page = self._fetch(page_no)
        else:
            self._pages.move_to_end(page_no)
        return page[offset] if offset < len(page) else None

    def _fetch(self, page_no: int) -> list[list[Any]]:
        assert self.list_id is not None
        try:
            rows = self.service.page(
                self.list_id,
                page_no * self.PAGE_ROWS,
                self.PAGE_ROWS,
                self.sort_column,
                self.descending,
                self.filter_text,
                [c.name for c in self.columns],
            )
        except WorkspaceError as exc:
            log.info("Could not read rows of list %s: %s", self.list_id, exc)
            rows = []
        self.fetches += 1
        page = [list(r) for r in rows]
        self._pages[page_no] = page
        while len(self._pages) > self.MAX_PAGES:
            self._pages.popitem(last=False)
        return page

    def record_id(self, row: int) -> int | None:
        values = self._row(row)
        return int(values[0]) if values else None

    def record_ids(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """Record ids of the rows ``first..last`` (inclusive) of each range, read in large pages.

        Thread-safe: it reads from the service only (callers run it in a worker thread for big selections).
        """
        if self.list_id is None:
            return []
        list_id, sort, desc, text = self.list_id, self.sort_column, self.descending, self.filter_text
        ids: list[int] = []
        step = 5000
        for first, last in ranges:
            offset = first
            while offset <= last:
                limit = min(step, last - offset + 1)
                ids.extend(int(r[0]) for r in self.service.page(list_id, offset, limit, sort, desc, text, []))
                offset += limit
        return ids

    # -- what the table shows (TableModel) ---------------------------------------------------------------------
    def headers(self) -> list[str]:
        return [c.label for c in self.columns]

    def row_count(self) -> int:
        return self._count

    def row_at(self, row: int) -> list[Any] | None:
        return self._row(row)

    def align_right(self, column: int) -> bool:
        return self.columns[column].type is FieldType.INTEGER

    def header_tooltip(self, section: int) -> str | None:
        column = self.columns[section]
        kind = "Custom field" if column.is_custom else "Enginy field"
        return f"{column.label} ({kind}). Click to sort."

    def text(self, values: list[Any], column: int) -> Any:
        value = values[column + 1]
        if value is None:
            return ""
        if isinstance(value, int) and not isinstance(value, bool):
            return number(value)
        text = str(value)
        return " ".join(text.split()) if "\n" in text else text

    def tooltip(self, values: list[Any], column: int) -> str | None:
        value = values[column + 1]
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return number(value)
        text = str(value)
        source = self.source(int(values[0]), self.columns[column].name)
        if source:  # where an enriched value came from (its provenance)
            return f"{text}\n{source}" if len(text) > 40 else source
        return text if len(text) > 40 or "\n" in text else None

    def role_data(self, values: list[Any], column: int, role: int) -> Any:
        if role == RECORD_ID_ROLE:
            return int(values[0])
        value = values[column + 1]  # the edit role: the value as stored
        return "" if value is None else str(value)

    def source(self, record_id: int, field: str) -> str:
        """"Found by Hunter on 3 Dec 2026 · status valid · confidence 95" for an enriched value, else ""."""
        if record_id not in self._sources:
            from enginy_desktop.core.enrich.report import describe_source, provenance

            try:
                found = provenance(self.service, self.kind.value, [record_id]).get(record_id, {})
            except Exception:  # noqa: BLE001 - a tooltip never breaks the table
                found = {}
            self._sources[record_id] = {k: describe_source(v) for k, v in found.items()}
            while len(self._sources) > 2000:
                self._sources.popitem(last=False)
        return str(self._sources[record_id].get(field, ""))

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        values = self._row(index.row())
        if values is None:
            return False
        column = self.columns[index.column()]
        old = values[index.column() + 1]
        new_text = "" if value is None else str(value)
        if new_text.strip() == ("" if old is None else str(old)).strip():
            return True
        record_id = int(values[0])
        try:
            self.service.edit_cell(self.kind, record_id, column.name, new_text)
            record = self.service.record(self.kind, record_id)
        except WorkspaceError as exc:
            self.editFailed.emit(str(exc))
            return False
        custom = record.get("custom_fields") or {}
        if isinstance(custom, str):
            custom = json.loads(custom)
        for i, col in enumerate(self.columns, 1):
            values[i] = custom.get(col.name.split(":", 1)[1]) if col.is_custom else record.get(col.name)
        row = index.row()
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))
        if self.sort_column or self.filter_text.strip():
            # The edit may move the record in this order (or out of the filter): recompute it off the UI thread.
            self._held = True
            self.orderStale.emit()
        return True
