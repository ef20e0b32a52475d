"""The page-at-a-time table model behind the sync results and export reports."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from enginy_desktop.views.paged_model import PAGE, PagedTableModel


class _Numbers(PagedTableModel[int]):
    COLUMNS = ("Number", "Square")

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        n = self.rows[index.row()]
        return str(n if index.column() == 0 else n * n)


def test_rows_arrive_a_page_at_a_time_and_pass_the_model_tester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int]] = []

    def fetch(offset: int, limit: int) -> list[int]:
        calls.append((offset, limit))
        return list(range(offset, min(offset + limit, 450)))

    model = _Numbers(fetch, 450)
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
