"""The app's one busy indicator: a small arc turning in the palette's highlight (accent) colour.

It turns while it is shown (and from :meth:`start` on, even before its window is shown), and stops when hidden,
so a spinner in a closed dialog costs nothing. Used by the views and the wizard alike (the shared look).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen, QShowEvent
from PySide6.QtWidgets import QWidget


class Spinner(QWidget):
    def __init__(self, parent: QWidget | None = None, size: int = 16, *, hidden: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("spinner")
        self._size = size
        self._angle = 0
        self._timer = QTimer(self)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self._turn)
        self.setFixedSize(size, size)
        self.setAccessibleName("Working")
        if hidden:
            self.setVisible(False)

    def start(self) -> None:
        """Show it and turn."""
        self.setVisible(True)
        self._timer.start()

    def stop(self) -> None:
        """Stop and hide it."""
        self._timer.stop()
        self.setVisible(False)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self._size, self._size)

    def _turn(self) -> None:
        self._angle = (self._angle + 30) % 360
        self.update()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._timer.start()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        self._timer.stop()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.palette().color(QPalette.ColorRole.Highlight), 2)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawArc(QRectF(2, 2, self._size - 4, self._size - 4), -self._angle * 16, 270 * 16)
        painter.end()
