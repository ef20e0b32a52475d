"""The bar offered after an import or an enrichment: what was done and what comes next — export these records to
the enabled CRM, or sync with it first — or, with no CRM connected, where to connect one.

Signals: ``syncRequested()`` — Sync with … first; ``exportRequested()`` — Export these … to …
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from enginy_desktop.core.services.workspace import ListInfo

from ..widgets import OverflowRow
from .records import records_text


class NextStepBar(QFrame):
    """Signals: ``syncRequested()``, ``exportRequested()``; Dismiss hides it."""

    syncRequested = Signal()
    exportRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("nextStep")
        next_lay = QVBoxLayout(self)
        next_lay.setContentsMargins(12, 8, 8, 8)
        next_lay.setSpacing(6)
        self.text = QLabel()
        self.text.setObjectName("nextStepText")
        self.text.setWordWrap(True)
        next_lay.addWidget(self.text)
        self.sync_button = QPushButton()
        self.sync_button.setObjectName("nextSyncButton")
        self.sync_button.clicked.connect(self.syncRequested)
        self.export_button = QPushButton()
        self.export_button.setObjectName("nextExportButton")
        self.export_button.setProperty("primary", True)
        self.export_button.clicked.connect(self.exportRequested)
        dismiss = QPushButton("Dismiss")
        dismiss.setObjectName("dismissNextStep")
        dismiss.clicked.connect(lambda: self.setVisible(False))
        self.buttons = OverflowRow()  # narrow: Sync and Dismiss go into ⋯, the export stays
        self.buttons.add(dismiss)
        self.buttons.add(self.sync_button)
        self.buttons.add(self.export_button, keep=True)
        next_lay.addWidget(self.buttons)
        self.setVisible(False)

    def offer(self, done: str, info: ListInfo, crm_name: str | None) -> None:
        """Show what was ``done`` and the next step for the list (``crm_name`` None: no CRM connected)."""
        if crm_name is None:
            self.text.setText(f"{done} Next: connect your CRM on the Integrations page to sync or export this "
                              "list.")
            self.buttons.set_available(self.export_button, False)
            self.buttons.set_available(self.sync_button, False)
        else:
            these = "this" if info.count == 1 else "these"
            self.text.setText(f"{done} Next: export them, or see first which ones {crm_name} holds.")
            self.export_button.setText(f"Export {these} {records_text(info.kind, info.count)} to {crm_name}…")
            self.sync_button.setText(f"Sync with {crm_name} first…")
            self.sync_button.setToolTip(f"See which of them {crm_name} already holds (writes nothing)")
            self.buttons.set_available(self.export_button, True)
            self.buttons.set_available(self.sync_button, True)
        self.setVisible(True)
        self.buttons.refresh()
