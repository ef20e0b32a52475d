"""A toggle switch: a checkable button drawn as a track and a knob, usable with mouse and keyboard."""

from __future__ import annotations

from PySide6.QtCore import Property, QEasingCurve, QPropertyAnimation, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractButton, QWidget

from . import theme


class ToggleSwitch(QAbstractButton):
    """Checkable switch. Space toggles it when focused; the focus ring uses the accent colour.

    Signals are those of ``QAbstractButton``: ``toggled(bool)`` fires for every change, ``clicked(bool)`` only
    for the user's own clicks and key presses (use it to react to user intent, not to programmatic updates).
    """

    TRACK_W, TRACK_H = 40, 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCheckable(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._offset = 0.0
        self._anim = QPropertyAnimation(self, b"offset", self)
        self._anim.setDuration(120)
        self._anim.setEasingCurve(QEasingCurve.Type.OutCubic)
        self.toggled.connect(self._animate)

    def sizeHint(self) -> QSize:
        return QSize(self.TRACK_W + 6, self.TRACK_H + 6)

    def _get_offset(self) -> float:
        return self._offset

    def _set_offset(self, value: float) -> None:
        self._offset = value
        self.update()

    offset = Property(float, _get_offset, _set_offset)

    def _animate(self, checked: bool) -> None:
        self._anim.stop()
        if not self.isVisible():
            self._set_offset(1.0 if checked else 0.0)
            return
        self._anim.setStartValue(self._offset)
        self._anim.setEndValue(1.0 if checked else 0.0)
        self._anim.start()

    def setChecked(self, checked: bool) -> None:  # noqa: N802 - Qt API
        super().setChecked(checked)
        if not self.isVisible():
            self._set_offset(1.0 if checked else 0.0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        x = (self.width() - self.TRACK_W) / 2
        y = (self.height() - self.TRACK_H) / 2
        track = QRectF(x, y, self.TRACK_W, self.TRACK_H)
        off, on = theme.color("track_off"), theme.color("accent")
        t = self._offset
        mixed = QColor(
            round(off.red() + (on.red() - off.red()) * t),
            round(off.green() + (on.green() - off.green()) * t),
            round(off.blue() + (on.blue() - off.blue()) * t),
        )
        if not self.isEnabled():
            mixed.setAlpha(110)
        if self.hasFocus():
            p.setPen(QPen(theme.color("accent"), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(track.adjusted(-2.5, -2.5, 2.5, 2.5), self.TRACK_H / 2 + 2.5, self.TRACK_H / 2 + 2.5)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(mixed)
        p.drawRoundedRect(track, self.TRACK_H / 2, self.TRACK_H / 2)
        d = self.TRACK_H - 6
        kx = x + 3 + (self.TRACK_W - 6 - d) * t
        p.setBrush(QColor("#FFFFFF"))
        p.drawEllipse(QRectF(kx, y + 3, d, d))
        p.end()
