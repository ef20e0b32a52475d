"""The import's second stage: rows done, rate, time left and Cancel, and the question Cancel asks.

Signals: ``cancelRequested()`` — the user pressed Cancel import.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QVBoxLayout, QWidget

from enginy_desktop.core.importers.csv_import import ImportProgress

from ..formatting import count_text, duration, number
from ..message import MessageBox


class ImportProgressView(QWidget):
    """Signals: ``cancelRequested()`` — Cancel import was pressed."""

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        lay.addStretch(1)
        self.title = QLabel("Importing…")
        self.title.setObjectName("dialogTitle")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.bar = QProgressBar()
        self.bar.setObjectName("importProgressBar")
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("Import progress")
        lay.addWidget(self.bar)
        self.text = QLabel("Starting…")
        self.text.setObjectName("importProgressText")
        lay.addWidget(self.text)
        self.counts = QLabel("")
        self.counts.setObjectName("importProgressCounts")
        lay.addWidget(self.counts)
        note = QLabel("Enginy Desktop keeps responding while the file is imported. Cancel asks whether to keep "
                      "the rows imported so far.")
        note.setObjectName("fieldHelp")
        note.setWordWrap(True)
        lay.addWidget(note)
        lay.addStretch(2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.setObjectName("cancelImportButton")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)

    def start(self, title: str) -> None:
        self.title.setText(title)
        self.bar.setValue(0)
        self.text.setText("Starting…")
        self.counts.setText("")
        self.cancel_button.setEnabled(True)

    def show_progress(self, p: ImportProgress, elapsed: float, paused: bool) -> None:
        self.bar.setValue(int(p.fraction * 1000))
        rate = p.rows_done / elapsed
        text = f"{count_text(p.rows_done, 'row', 'rows')} read · {number(rate)} rows a second"
        if 0 < p.fraction < 1:
            text += f" · about {duration(elapsed * (1 - p.fraction) / p.fraction)} left"
        if paused:
            text = f"Paused after {count_text(p.rows_done, 'row', 'rows')}: waiting for your answer."
        self.text.setText(text)
        self.counts.setText(
            f"{number(p.imported)} imported · {number(p.updated)} updated · {number(p.rejected)} rejected"
        )


def stop_question(parent: QWidget, informative: str) -> tuple[QMessageBox, QPushButton, QPushButton]:
    """"Stop the import?" with Discard (the default), Keep and Continue (Escape); returns the box and its Discard
    and Keep buttons. The caller connects ``buttonClicked`` and opens it."""
    box = MessageBox(parent)
    box.setObjectName("cancelImportQuestion")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Stop the import?")
    box.setText("Stop the import?")
    box.setInformativeText(informative)
    discard = box.addButton("Discard imported rows", QMessageBox.ButtonRole.DestructiveRole)
    discard.setObjectName("discardRowsButton")
    discard.setProperty("danger", True)
    keep = box.addButton("Keep imported rows", QMessageBox.ButtonRole.AcceptRole)
    keep.setObjectName("keepRowsButton")
    go_on = box.addButton("Continue importing", QMessageBox.ButtonRole.RejectRole)
    go_on.setObjectName("continueImportButton")
    box.setDefaultButton(discard)
    box.setEscapeButton(go_on)
    return box, discard, keep
