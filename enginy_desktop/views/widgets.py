"""Small reusable widgets: multi-line elided label, empty state, banner, page header."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import theme


class ElidedLabel(QLabel):
    """Word-wrapped text cut to ``max_lines`` with an ellipsis; the full text goes to the tooltip when cut."""

    def __init__(self, text: str = "", max_lines: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = text
        self._max_lines = max_lines
        self.setWordWrap(False)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._relayout(240)

    def full_text(self) -> str:
        return self._full

    def setFullText(self, text: str) -> None:  # noqa: N802 - Qt naming
        self._full = text
        self._relayout(self.width() or 240)

    def sizeHint(self) -> QSize:
        return QSize(200, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(80, self._height())

    def _height(self) -> int:
        fm = QFontMetrics(self.font())
        return fm.lineSpacing() * self._max_lines + fm.descent() + 2

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._relayout(event.size().width())

    def _relayout(self, width: int) -> None:
        fm = QFontMetrics(self.font())
        width = max(width, 40)
        lines: list[str] = []
        words = self._full.split()
        current = ""
        i = 0
        while i < len(words):
            candidate = f"{current} {words[i]}".strip()
            if fm.horizontalAdvance(candidate) <= width or not current:
                current = candidate
                i += 1
            else:
                lines.append(current)
                current = ""
                if len(lines) == self._max_lines:
                    break
        cut = i < len(words) or (current and len(lines) == self._max_lines)
        if current and len(lines) < self._max_lines:
            lines.append(current)
        if cut and lines:
            rest = " ".join([lines[-1], *words[i:]])
            lines[-1] = fm.elidedText(rest, Qt.TextElideMode.ElideRight, width)
        super().setText("\n".join(lines))
        self.setToolTip(self._full if cut else "")


class EmptyState(QFrame):
    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 48, 24, 48)
        lay.setSpacing(8)
        icon = QLabel()
        icon.setPixmap(theme.icon("empty").pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(title)
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(text)
        self.text.setObjectName("emptyText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        lay.addWidget(icon)
        lay.addWidget(self.title)
        lay.addWidget(self.text)

    def set_text(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)


class Banner(QFrame):
    """A warning strip with a message and one action button."""

    actionTriggered = Signal()

    def __init__(self, text: str, action: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        lay.setSpacing(12)
        icon = QLabel()
        icon.setPixmap(theme.icon("lock").pixmap(18, 18))
        self.label = QLabel(text)
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.button = QPushButton(action)
        self.button.clicked.connect(self.actionTriggered)
        lay.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)


def dialog_heading(layout: QBoxLayout, title: str, subtitle: str = "") -> tuple[QLabel, QLabel]:
    """A dialog's title and the wrapped line under it, added to ``layout``; returned to be reworded later."""
    heading = QLabel(title)
    heading.setObjectName("dialogTitle")
    layout.addWidget(heading)
    under = QLabel(subtitle)
    under.setObjectName("dialogSubtitle")
    under.setWordWrap(True)
    layout.addWidget(under)
    return heading, under


def titled_layout(dialog: QWidget, spacing: int = 12) -> QVBoxLayout:
    """A small dialog's layout, headed by its window title (set the title first)."""
    root = QVBoxLayout(dialog)
    root.setContentsMargins(24, 20, 24, 16)
    root.setSpacing(spacing)
    title = QLabel(dialog.windowTitle())
    title.setObjectName("dialogTitle")
    root.addWidget(title)
    return root


def note_label(name: str, selectable: bool = False) -> QLabel:
    """A wrapped line that stays hidden until there is something to say (an error, a note, a result); styled by
    its object name."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setVisible(False)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def make_primary(button: QPushButton) -> QPushButton:
    """The dialog's one filled button: styled by the ``primary`` property (not by ``:default``, which Qt moves
    with keyboard focus), the button Enter presses, and never default just because it has focus."""
    window = button.window()
    for other in window.findChildren(QPushButton) if window is not button else []:
        if other is not button and other.property("primary"):  # one primary button per dialog
            other.setProperty("primary", False)
            other.setDefault(False)
            other.style().unpolish(other)
            other.style().polish(other)
    button.setProperty("primary", True)
    button.setAutoDefault(False)
    button.setDefault(True)
    button.style().unpolish(button)
    button.style().polish(button)
    return button


class _MoreButton(QToolButton):
    """"⋯": as wide as its text (a tool button's size hint otherwise keeps room for a menu arrow not drawn)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self.text()) + 22, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return self.sizeHint()


class OverflowRow(QWidget):
    """A row of toolbar buttons that never clips them: the ones that do not fit move, last first, into a "More"
    menu (each as an action that mirrors the button's text, tooltip and enabled state, or its own menu).

    ``keep`` buttons never move into the menu, so the row's minimum width is theirs plus the More button's.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtWidgets import QMenu, QToolButton

        self.setObjectName("overflowRow")
        self._lay = QHBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(8)
        self._lay.addStretch(1)
        self._buttons: list[tuple[QWidget, bool]] = []
        self.more = _MoreButton()
        self.more.setObjectName("overflowButton")
        self.more.setText("⋯")
        self.more.setToolTip("More actions")
        self.more.setAccessibleName("More actions")
        self.more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.more)
        self.menu.setObjectName("overflowMenu")
        self.menu.aboutToShow.connect(self._fill_menu)
        self.more.setMenu(self.menu)
        self.more.setVisible(False)
        self._lay.addWidget(self.more)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def add(self, button: QWidget, keep: bool = False, overflow_first: bool = False) -> None:
        """Add ``button``; ``keep`` ones never move into More, ``overflow_first`` ones move before the others."""
        button.setProperty("overflowFirst", overflow_first)
        self._buttons.append((button, keep))
        self._lay.insertWidget(self._lay.indexOf(self.more), button)
        self._relayout(self.width())

    def refresh(self) -> None:
        """After a button's text changed: measure again."""
        self.updateGeometry()
        self._relayout(self.width())

    def set_available(self, button: QWidget, available: bool) -> None:
        """Show ``button`` in the row (or its menu) or leave it out altogether. The row decides each button's
        visibility: never call ``setVisible`` on them."""
        button.setProperty("unavailable", not available)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._relayout(self.width())

    def overflowed(self) -> list[QWidget]:
        """The buttons shown in the More menu now."""
        return [b for b, _keep in self._buttons if b.property("overflowed")]

    def _width_of(self, widgets: list[QWidget]) -> int:
        if not widgets:
            return 0
        spacing = self._lay.spacing()
        return sum(w.sizeHint().width() for w in widgets) + spacing * (len(widgets) - 1)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        shown = [b for b, _k in self._buttons if not b.property("unavailable")]
        height = max([b.sizeHint().height() for b in shown] + [self.more.sizeHint().height()])
        return QSize(self._width_of(shown), height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        available = [(b, keep) for b, keep in self._buttons if not b.property("unavailable")]
        kept = [b for b, keep in available if keep]
        more = self.more.sizeHint().width() + self._lay.spacing() if len(kept) < len(available) else 0
        return QSize(self._width_of(kept) + more, self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._relayout(event.size().width())

    def _relayout(self, width: int) -> None:
        available = [(b, keep) for b, keep in self._buttons if not b.property("unavailable")]
        visible = [b for b, _k in available]
        movable = [b for b, keep in reversed(available) if not keep]
        movable.sort(key=lambda b: not b.property("overflowFirst"))
        overflow: list[QWidget] = []
        more = self.more.sizeHint().width() + self._lay.spacing()
        while movable and self._width_of(visible) + (more if overflow else 0) > width:
            b = movable.pop(0)
            visible.remove(b)
            overflow.append(b)
        for b, _keep in self._buttons:
            b.setProperty("overflowed", b in overflow)
            b.setVisible(b in visible)
        self.more.setVisible(bool(overflow))

    def _fill_menu(self) -> None:
        self.menu.clear()
        for b, _keep in self._buttons:
            if not b.property("overflowed"):
                continue
            text = b.text() if hasattr(b, "text") else ""
            own_menu = b.menu() if hasattr(b, "menu") else None
            if own_menu is not None:
                action = self.menu.addMenu(own_menu)
                action.setText(text)
            else:
                action = self.menu.addAction(text)
                action.triggered.connect(b.click)  # type: ignore[attr-defined]
            action.setEnabled(b.isEnabled())
            action.setToolTip(b.toolTip())


class DialogHost:
    """The one dialog a page has open: opened window-modal without a nested event loop (``open()``, never
    ``exec()``), and known while it is open (``current``: tests and the page itself ask for it).

    A dialog opened by another one's answer becomes the current one; the first one's closing does not forget it.
    ``on_closed`` runs whenever one of the page's dialogs closes (e.g. to read the page's state again).
    """

    def __init__(self, on_closed: Callable[[], object] | None = None) -> None:
        self.current: QWidget | None = None
        self._on_closed = on_closed

    def open(self, dialog: QWidget) -> QWidget:
        self.current = dialog
        dialog.finished.connect(lambda _result, d=dialog: self._closed(d))  # type: ignore[attr-defined]
        dialog.open()  # type: ignore[attr-defined]
        return dialog

    def _closed(self, dialog: QWidget) -> None:
        if self.current is dialog:
            self.current = None
        if self._on_closed is not None:
            self._on_closed()
