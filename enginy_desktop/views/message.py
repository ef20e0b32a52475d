"""The app's message dialog: a heading, the explanation under it, our own icons, the app's buttons.

:class:`MessageBox` keeps :class:`QMessageBox`'s API (buttons, roles, default and escape buttons, details), so
every confirmation in the app is built the same way, but never shows the platform's stock "i" / "?" icons and
always has a heading (the ``text``), styled by ``style.qss``. :func:`show_message` replaces the blocking
``QMessageBox.warning(...)`` with a window-modal dialog that does not start a nested event loop.

An error's technical part (``error_detail(exc)``: the low-level error, an HTTP status and address) never goes in
its sentence: a message dialog takes it as ``details`` (behind "Show Details…"), a sentence shown in a dialog's
own label gets a :class:`DetailsDisclosure` under it.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QToolButton, QVBoxLayout, QWidget

from . import theme
from .formatting import window_text

_ICONS = {
    QMessageBox.Icon.Information: "msg-info",
    QMessageBox.Icon.Question: "msg-question",
    QMessageBox.Icon.Warning: "msg-warning",
    QMessageBox.Icon.Critical: "msg-danger",
}


class MessageBox(QMessageBox):
    """A message or a question with a heading (``heading``), an explanation (``text``) and, for an error, its
    technical detail (``details``, e.g. ``error_detail(exc)``) folded behind "Show Details…"."""

    def __init__(
        self,
        parent: QWidget | None = None,
        heading: str = "",
        text: str = "",
        icon: QMessageBox.Icon = QMessageBox.Icon.NoIcon,
        title: str = "",
        details: str = "",
    ) -> None:
        super().__init__(parent)
        self.setProperty("appMessage", True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._tone = QMessageBox.Icon.NoIcon
        if icon != QMessageBox.Icon.NoIcon:
            self.setIcon(icon)
        if heading:
            self.setText(heading)
        if text:
            self.setInformativeText(text)
        if title:
            self.setWindowTitle(title)
        if details:  # the technical part of an error, behind the dialog's "Show Details…" button
            self.setDetailedText(details)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        super().setText(window_text(text))

    def setInformativeText(self, text: str) -> None:  # noqa: N802 - Qt naming
        super().setInformativeText(window_text(text))

    def setIcon(self, icon: QMessageBox.Icon) -> None:  # noqa: N802 - Qt naming
        """Our icon for the tone (never the platform's)."""
        self._tone = icon
        name = _ICONS.get(icon)
        if name is None:
            super().setIcon(icon)
            return
        ratio = self.devicePixelRatioF() or 1.0
        pixmap = theme.icon(name).pixmap(QSize(40, 40), ratio)
        self.setIconPixmap(pixmap)

    def tone(self) -> QMessageBox.Icon:
        return self._tone

    def add_danger_button(
        self, text: str, name: str, role: QMessageBox.ButtonRole = QMessageBox.ButtonRole.DestructiveRole
    ) -> QPushButton:
        """A button that loses something (styled as dangerous); never the default."""
        button = self.addButton(text, role)
        button.setObjectName(name)
        button.setProperty("danger", True)
        return button

    def add_safe_cancel(self) -> QPushButton:
        """Cancel, the default and what Escape presses: the safe choice of a destructive question."""
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        cancel.setObjectName("cancelButton")
        self.setDefaultButton(cancel)
        self.setEscapeButton(cancel)
        return cancel


def show_message(
    parent: QWidget | None, heading: str, text: str = "", icon: QMessageBox.Icon = QMessageBox.Icon.Warning,
    details: str = "",
) -> MessageBox:
    """Tell the user something (with an OK button), without blocking the caller; ``details`` is an error's
    technical part, shown only when asked for."""
    box = MessageBox(parent, heading, text, icon, details=details)
    box.setObjectName("appMessage")
    ok = box.addButton(QMessageBox.StandardButton.Ok)
    box.setDefaultButton(ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class DetailsDisclosure(QWidget):
    """"Details": the technical part of an error (the low-level error, an HTTP status and address) under the
    sentence the user reads, folded until asked for; hidden while there is none. Selectable, to paste into a
    support request."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorDetails")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.toggle = QToolButton()
        self.toggle.setObjectName("detailsToggle")
        self.toggle.setText("Details")
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAccessibleName("Show the technical details")
        self.text = QLabel()
        self.text.setObjectName("detailsText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        lay.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.text)
        self.toggle.toggled.connect(self._unfold)
        self.set_detail("")

    def detail(self) -> str:
        return self.text.text()

    def set_detail(self, detail: str) -> None:
        """Show ``detail`` folded under "Details" ("" hides the whole disclosure); the same detail again leaves
        it as the user left it."""
        if detail != self.text.text() or not detail:
            self.text.setText(detail)
            self.toggle.setChecked(False)
            self._unfold(False)
        self.setVisible(bool(detail))

    def _unfold(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.text.setVisible(shown)
