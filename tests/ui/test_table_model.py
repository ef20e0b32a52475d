"""The table-model base behind every table of the window (runs, leads, the export plan, sync results, reports)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from enginy_desktop.views.table_model import PAGE, PagedTableModel, TableModel


class _Squares(TableModel[int]):
    COLUMNS = ("Number", "Square", "Note")
    ROW_NUMBERS = True

    def text(self, row: int, column: int) -> Any:
        return (str(row), f"{row * row:,}", "" if row % 2 else "an even number with a long note")[column]

    def key(self, row: int) -> Any:
        return row

    def align_right(self, column: int) -> bool:
        return column in (0, 1)

    def header_tooltip(self, section: int) -> str | None:
        return "The number times itself" if section == 1 else None


class _Paged(PagedTableModel[int]):
    COLUMNS = ("Number", "Square")

    def text(self, row: int, column: int) -> Any:
        return str(row if column == 0 else row * row)


def test_a_table_of_rows_answers_every_role_the_window_reads(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = _Squares()
    qtmodeltester.check(model)
    model.set_rows([1, 2, 1200])
    qtmodeltester.check(model)
    assert model.rowCount() == 3
    assert model.columnCount() == 3
    cell = model.index(2, 1)
    assert model.data(cell) == "1,440,000"
    assert model.data(cell, Qt.ItemDataRole.ToolTipRole) == "1,440,000"  # a cut cell can be read in full
    assert model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole) is None  # nothing to read: no tooltip
    assert model.data(cell, Qt.ItemDataRole.UserRole) == 1200
    assert model.data(cell, Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert model.data(model.index(0, 2), Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignLeft
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Square"
    assert model.headerData(1, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == "The number times itself"
    assert model.headerData(2, Qt.Orientation.Vertical) == "3"  # row numbers
    assert model.headerData(3, Qt.Orientation.Vertical) is None
    assert not model.flags(cell) & Qt.ItemFlag.ItemIsEditable
    assert model.row_at(5) is None
    assert model.data(model.index(5, 0)) is None
    model.set_rows([])
    assert model.rowCount() == 0


def test_rows_arrive_a_page_at_a_time_and_pass_the_model_tester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int]] = []

    def fetch(offset: int, limit: int) -> list[int]:
        calls.append((offset, limit))
        return list(range(offset, min(offset + limit, 450)))

    model = _Paged(fetch, 450)
    qtmodeltester.check(model)
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 450, calls
    assert calls[:3] == [(0, PAGE), (PAGE, PAGE), (2 * PAGE, PAGE)]
    assert model.data(model.index(449, 1)) == str(449 * 449)
    model.reset(lambda offset, limit: [], 10)  # fewer rows than announced: the model stops asking
    model.fetchMore(QModelIndex())
    assert model.total == 0
    assert not model.canFetchMore(QModelIndex())
