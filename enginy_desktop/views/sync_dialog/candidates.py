"""An ambiguous record's candidates: the CRM records it matched, each a card with its key properties and
**Use this record**, and **Create new** when none of them is the same record.

Signals: ``CandidatesPanel.chosen(str)`` — the CRM id the user picked; ``CandidatesPanel.createNewRequested()``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from enginy_desktop.core import sync


class CandidateCard(QFrame):
    """One CRM record an ambiguous record matched, with its key properties and "Use this record"."""

    def __init__(self, record: sync.Candidate | None, crm_id: str, crm_name: str, chosen: bool,
                 on_choose: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("candidateCard")
        self.setProperty("selected", chosen)
        self.crm_id = crm_id
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(4)
        name = record.title if record is not None else ""
        title = QLabel(name or f"{crm_name} record {crm_id}")
        title.setObjectName("candidateTitle")
        title.setWordWrap(True)
        lay.addWidget(title)
        details = list(record.details) if record is not None else []
        if record is None or not record.properties:
            details = ["Its details could not be read (it may have been deleted)."]
        details.append(f"{crm_name} ID {crm_id}")
        text = QLabel("\n".join(details))
        text.setObjectName("candidateProps")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(text, 1)
        self.button = QPushButton("Chosen" if chosen else "Use this record")
        self.button.setObjectName(f"useCandidate-{crm_id}")
        self.button.setEnabled(not chosen)
        self.button.clicked.connect(lambda: on_choose(crm_id))
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        self.setMinimumWidth(220)
        self.setMaximumWidth(320)




class CandidatesPanel(QFrame):
    """What the user settles an ambiguous record with. Signals: ``chosen(str)`` (a CRM id),
    ``createNewRequested()``."""

    chosen = Signal(str)
    createNewRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runDetail")
        res_lay = QVBoxLayout(self)
        res_lay.setContentsMargins(12, 10, 12, 10)
        res_lay.setSpacing(8)
        self.title = QLabel("")
        self.title.setObjectName("sectionTitle")
        self.title.setWordWrap(True)
        res_lay.addWidget(self.title)
        self.status = QLabel("")
        self.status.setObjectName("fieldHelp")
        self.status.setWordWrap(True)
        res_lay.addWidget(self.status)
        self.cards_host = QWidget()
        self.cards_layout = QHBoxLayout(self.cards_host)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        self.cards_layout.setSpacing(8)
        self.cards_scroll = QScrollArea()
        self.cards_scroll.setWidgetResizable(True)
        self.cards_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.cards_scroll.setWidget(self.cards_host)
        self.cards_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cards_scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        cards_row = QHBoxLayout()
        cards_row.setSpacing(12)
        cards_row.addWidget(self.cards_scroll, 1)
        self.create_new_button = QPushButton("Create new")
        self.create_new_button.setObjectName("createNew")
        self.create_new_button.setToolTip("None of these is the same record: an export creates a new one")
        self.create_new_button.clicked.connect(self.createNewRequested)
        cards_row.addWidget(self.create_new_button, 0, Qt.AlignmentFlag.AlignBottom)
        res_lay.addLayout(cards_row)

    def show_row(self, row: sync.LinkRow, crm_name: str) -> None:
        """Say what the record matched and what the user chose so far (the cards come with :meth:`show_cards`)."""
        n = len(row.candidates)
        if row.outcome == "ambiguous":
            self.title.setText(f"{row.name} matches {n} {crm_name} records. Pick the right one, or "
                               "choose Create new if none of them is this record.")
        elif row.outcome == "chosen":
            self.title.setText(f"You chose {crm_name} record {row.crm_id} for {row.name}. You can "
                               "change your choice.")
        else:
            self.title.setText(f"You chose to create a new record for {row.name}. You can pick one of "
                               f"the {n} matching records instead.")
        self.create_new_button.setEnabled(row.outcome != "create_new")
        self.create_new_button.setText("Create new" if row.outcome != "create_new" else "Create new (chosen)")

    def show_cards(self, row: sync.LinkRow, crm_name: str, details: dict[str, sync.Candidate] | None) -> None:
        """A card per candidate, with its details once they are read (``details`` None: still reading)."""
        while self.cards_layout.count():
            item = self.cards_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        known = details is not None
        self.show_status("" if known else f"Reading the records from {crm_name}…")
        for crm_id in row.candidates:
            card = CandidateCard(details.get(crm_id) if details is not None else None, crm_id, crm_name,
                                 row.outcome == "chosen" and row.crm_id == crm_id, self.chosen.emit, self.cards_host)
            self.cards_layout.addWidget(card)
        self.cards_layout.addStretch(1)
        self.cards_layout.activate()
        cards = self.cards_host.findChildren(CandidateCard)
        tallest = max((c.sizeHint().height() for c in cards if c.parent() is self.cards_host), default=0)
        bar = self.cards_scroll.horizontalScrollBar().sizeHint().height()
        self.cards_scroll.setFixedHeight(tallest + bar + 4)

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))
