"""Small reusable widgets: multi-line elided label, empty state, banner, page header."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

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
