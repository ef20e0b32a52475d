"""Nothing a user reads is cut: every visible button, tab and one-line label of the main screens gets at least
the width its text needs, at 1280×800 and at the window's minimum size, in the demo workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QLabel,
    QPushButton,
    QTabBar,
    QToolButton,
    QWidget,
)

from enginy_desktop.views.widgets import ElidedLabel

PAGES = ["integrations", "lists", "campaigns", "runs", "team"]


def _in_scrolled_area(widget: QWidget, root: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""
    return f"{type(widget).__name__}#{widget.objectName() or '?'} “{text}”"


def cut_texts(root: QWidget) -> list[str]:
    """What is elided or clipped among the visible buttons, tabs and one-line labels under ``root``."""
    problems = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0 or w.window() is not root.window():
            continue
        if isinstance(w, QToolButton) and w.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly \
                and not w.icon().isNull():
            continue  # an icon button (a field's "Show" eye): its text is for screen readers, never drawn
        if isinstance(w, QAbstractButton) and isinstance(w, QPushButton | QToolButton) and w.text():
            need = w.sizeHint().width()
            if w.width() < need - 1:
                problems.append(f"{_name(w)}: {w.width()} px of {need}")
        elif isinstance(w, QLabel) and not isinstance(w, ElidedLabel) and w.text() and not w.wordWrap():
            need = w.minimumSizeHint().width()
            if w.width() < need - 1:
                problems.append(f"{_name(w)}: {w.width()} px of {need}")
        elif isinstance(w, QComboBox) and w.currentText() and not w.isEditable():
            # The shown choice plus the drop-down arrow (24 px) and the padding (8 px a side) must fit.
            need = w.fontMetrics().horizontalAdvance(w.currentText()) + 24 + 16
            if w.width() < need - 1:
                problems.append(f"{_name(w)} “{w.currentText()}”: {w.width()} px of {need}")
        elif isinstance(w, QTabBar):
            for i in range(w.count()):
                rect, want = w.tabRect(i), w.tabSizeHint(i)
                if rect.width() < want.width() - 1 or rect.right() > w.width():
                    problems.append(f"tab “{w.tabText(i)}” of {w.objectName()}: {rect.width()} px of {want.width()}")
            continue
        else:
            continue
        # Visible but cut by a parent (outside a scrolling area, where scrolling shows the rest).
        if not _in_scrolled_area(w, root):
            shown = w.visibleRegion().boundingRect()
            if not shown.isEmpty() and shown.width() < w.width() - 1:
                problems.append(f"{_name(w)}: cut to {shown.width()} of {w.width()} px by its parent")
    return problems


@pytest.fixture
def demo_window(qtbot, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.demo import start_demo
    from enginy_desktop.views.main_window import MainWindow

    env = start_demo(base_dir=tmp_path)
    ctx = AppContext.open(env.data_dir, passphrase=env.passphrase)
    win = MainWindow(ctx, settings_path=tmp_path / "w.ini")
    qtbot.addWidget(win)
    win.set_demo(True)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    ctx.close()
    env.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_no_text_is_cut_on_the_main_screens(demo_window, qtbot, qapp, dark: bool) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.views import theme

    theme.apply_theme(qapp, dark=dark)
    win = demo_window
    minimum = win.minimumSize()
    assert minimum.width() >= 700  # the screens are laid out for it
    problems = []
    for size in ((1280, 800), (minimum.width(), minimum.height())):
        win.resize(*size)
        for key in PAGES:
            win.show_page(key)
            if key == "lists":
                page = win.page("lists")
                page.table.selectRow(1)  # the selection enables Delete selected…
                page.show_next_step(page._lists[0].id, "Imported.")  # the bar offered after an import
            for _ in range(4):
                qtbot.wait(5)
                QApplication.processEvents()
            assert win.width() == size[0]
            problems += [f"{key} at {size[0]}×{size[1]}: {p}" for p in cut_texts(win)]
    assert not problems, "\n".join(problems)


def test_the_detector_sees_a_cut_button(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QHBoxLayout

    host = QWidget()
    qtbot.addWidget(host)
    lay = QHBoxLayout(host)
    button = QPushButton("Export to HubSpot…")
    button.setMinimumWidth(10)
    button.setMaximumWidth(60)
    lay.addWidget(button)
    host.show()
    qtbot.waitExposed(host)
    assert any("Export to HubSpot" in p for p in cut_texts(host))


def test_the_lists_toolbar_moves_what_does_not_fit_into_more(demo_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    win = demo_window
    page = win.show_page("lists")
    row = page.toolbar_buttons
    win.resize(1280, 800)
    qtbot.wait(20)
    assert page.sync_button.isVisible()
    assert page.export_button.isVisible()
    win.resize(win.minimumWidth(), 600)
    qtbot.wait(20)
    assert page.sync_button.isVisible()  # the core flow's two buttons never leave
    assert page.export_button.isVisible()
    hidden = row.overflowed()
    if hidden:
        assert row.more.isVisible()
        row._fill_menu()
        texts = [a.text() for a in row.menu.actions()]
        assert all(b.text() in texts for b in hidden)


def test_the_start_up_status_line_names_the_data_folder_once(demo_window) -> None:  # type: ignore[no-untyped-def]
    message = demo_window.statusBar().currentMessage()
    folder = str(demo_window.ctx.data_dir)
    assert message.count(folder) == 1, message  # the credentials file in it is named by its name: a shorter line
    assert message.endswith("Credentials: encrypted file secrets.enc"), message
