"""One integration's card: icon, name, toggle, description, status line and Configure."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from enginy_desktop.core.catalog import Integration
from enginy_desktop.core.services.integrations import IntegrationInfo

from . import theme
from .toggle import ToggleSwitch
from .widgets import ElidedLabel


class IntegrationCard(QFrame):
    """Signals:

    - ``toggleRequested(key, on)``: the user flipped the switch (the page decides; the card shows the new state
      only after :meth:`set_info`).
    - ``configureRequested(key)``: the user pressed Configure.
    """

    toggleRequested = Signal(str, bool)
    configureRequested = Signal(str)

    def __init__(self, spec: Integration, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setObjectName("integrationCard")
        self.setProperty("cardKey", spec.key)
        self.setAccessibleName(f"{spec.name} integration")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(220)
        self.setMinimumHeight(150)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 12)
        outer.setSpacing(8)

        top = QHBoxLayout()
        top.setSpacing(12)
        icon = QLabel()
        icon.setPixmap(theme.icon(spec.key).pixmap(40, 40))
        icon.setFixedSize(40, 40)
        top.addWidget(icon)
        self.name = QLabel(spec.name)
        self.name.setObjectName("cardName")
        top.addWidget(self.name, 1)
        self.toggle = ToggleSwitch()
        self.toggle.setObjectName(f"toggle-{spec.key}")
        self.toggle.setAccessibleName(f"Enable {spec.name}")
        self.toggle.setToolTip(f"Turn {spec.name} on or off")
        self.toggle.clicked.connect(self._on_clicked)
        top.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)

        self.description = ElidedLabel(spec.description, max_lines=3)
        self.description.setObjectName("cardDescription")
        outer.addWidget(self.description)

        self.notice = QLabel()
        self.notice.setObjectName("cardNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        outer.addWidget(self.notice)
        outer.addStretch(1)

        bottom = QHBoxLayout()
        bottom.setSpacing(6)
        self.status_icon = QLabel()
        self.status_icon.setFixedSize(16, 16)
        self.status = QLabel()
        self.status.setObjectName("cardStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bottom.addWidget(self.status_icon)
        bottom.addWidget(self.status, 1)
        self.configure = QPushButton("Configure")
        self.configure.setObjectName(f"configure-{spec.key}")
        self.configure.setAccessibleName(f"Configure {spec.name}")
        self.configure.setCursor(Qt.CursorShape.PointingHandCursor)
        self.configure.clicked.connect(lambda: self.configureRequested.emit(self.spec.key))
        bottom.addWidget(self.configure)
        outer.addLayout(bottom)

        self.info: IntegrationInfo | None = None

    def _on_clicked(self, checked: bool) -> None:
        # Show the current state until the page has decided (a dialog may still be open).
        self.toggle.setChecked(not checked)
        self.toggleRequested.emit(self.spec.key, checked)

    def set_info(self, info: IntegrationInfo) -> None:
        self.info = info
        self.toggle.setChecked(info.enabled)
        self.setProperty("enabledState", "true" if info.enabled else "false")
        if info.connected:
            state, text, icon = "connected", "Connected", "status-connected"
        elif info.enabled:
            state, text, icon = "attention", "Needs attention", "status-attention"
        else:
            state, text, icon = "idle", "Not connected", "status-not-connected"
        self.status.setText(text)
        self.status.setToolTip(
            f"{self.spec.name} is on but has no credentials yet. Press Configure to connect it."
            if state == "attention"
            else ""
        )
        self.status.setProperty("state", state)
        self.status_icon.setPixmap(theme.icon(icon).pixmap(16, 16))
        # An integration that cannot do its job yet says so on its card, before anything is entered.
        not_ready = self.spec.not_ready_text
        # OpenAI and TheirStack say, until connected, that Enginy's built-in credits are not available here.
        credits_note = self.spec.key in ("openai", "theirstack") and not info.connected
        self.notice.setText(not_ready.split(". ")[0] + "." if not_ready else (
            self.spec.notice if self.spec.key == "proxycurl" or credits_note else ""))
        self.notice.setToolTip(not_ready)
        self.notice.setVisible(bool(self.notice.text()))
        self.notice.setProperty("state", "notReady" if not self.spec.ready else "")
        for w in (self, self.status):
            w.style().unpolish(w)
            w.style().polish(w)
