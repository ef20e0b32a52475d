"""The sync's first stage: why it cannot start (if so), the list to sync, the identifiers Step 1 of the CRM
configuration sets, and what the sync needs of the CRM's daily budget.

Signals: ``listChanged()`` — another list was chosen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from enginy_desktop.core.crm_config import CrmConfig
from enginy_desktop.core.services.workspace import ListInfo

from ..formatting import number
from ..message import DetailsDisclosure
from ..widgets import note_label


class SyncStartView(QWidget):
    """Signals: ``listChanged()`` — another list was chosen."""

    listChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        sp = QVBoxLayout(self)
        sp.setContentsMargins(0, 0, 0, 0)
        sp.setSpacing(10)
        self.refusal = note_label("runError")
        sp.addWidget(self.refusal)
        self.refusal_details = DetailsDisclosure()
        sp.addWidget(self.refusal_details)
        label = QLabel("List")
        label.setObjectName("sectionTitle")
        sp.addWidget(label)
        self.list_box = QComboBox()
        self.list_box.setObjectName("syncList")
        self.list_box.setAccessibleName("List to sync")
        self.list_box.currentIndexChanged.connect(lambda _i: self.listChanged.emit())
        sp.addWidget(self.list_box)
        self.identifiers_title = QLabel("Identifiers (Step 1 of the CRM configuration)")
        self.identifiers_title.setObjectName("sectionTitle")
        sp.addWidget(self.identifiers_title)
        self.identifiers = QLabel("")
        self.identifiers.setObjectName("fieldHelp")
        self.identifiers.setWordWrap(True)
        self.identifiers.setTextFormat(Qt.TextFormat.PlainText)
        sp.addWidget(self.identifiers)
        # What the sync needs of the CRM's daily budget and what is left today (CRMs that have one).
        self.budget_line = note_label("syncBudget")
        sp.addWidget(self.budget_line)
        sp.addStretch(1)

    def fill_lists(self, lists: list[ListInfo], list_id: int | None) -> None:
        """Every list with its size; ``list_id`` chosen when it is one of them."""
        self.list_box.clear()
        for info in lists:
            noun = "contact" if info.kind.value == "contact" else "company"
            plural = "contacts" if noun == "contact" else "companies"
            self.list_box.addItem(f"{info.name} — {number(info.count)} {noun if info.count == 1 else plural}",
                                  info.id)
        if list_id is not None:
            index = self.list_box.findData(list_id)
            if index >= 0:
                self.list_box.setCurrentIndex(index)

    def show_refusal(self, text: str, detail: str = "") -> None:
        """Why the sync cannot start, or did not ("" hides it), with an error's technical ``detail`` folded under
        "Details"."""
        self.refusal.setText(text)
        self.refusal.setVisible(bool(text))
        self.refusal_details.set_detail(detail if text else "")

    def show_identifiers(self, config: CrmConfig | None, info: ListInfo | None) -> None:
        """The identifiers the sync compares (``config`` None: no CRM, no heading over nothing)."""
        self.identifiers_title.setVisible(config is not None)
        if config is None:
            self.identifiers.setText("")
            return
        lines = []
        if info is None or info.kind.value == "contact":
            lines.append(f"Contacts: {config.contact_identifier.preset.label}")
        company = config.company_identifier
        any_ext = " (any domain extension)" if company.include_any_extension else ""
        lines.append(f"Companies: {company.preset.label}{any_ext}"
                     + (" — the companies of the list's contacts" if info is not None and
                        info.kind.value == "contact" else ""))
        self.identifiers.setText("\n".join(lines))

    def show_budget(self, text: str) -> None:
        """The budget line ("" hides it)."""
        self.budget_line.setText(text)
        self.budget_line.setVisible(bool(text))
