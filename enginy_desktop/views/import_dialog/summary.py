"""The import's last stage: rows read / imported / updated / rejected, what was left out and why, every problem
with its line and reason, and the buttons to save them, import another file or close.

Signals: ``saveRequested()`` — Save rejected rows as CSV…; ``againRequested()`` — Import another file…;
``doneRequested()`` — Done.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.importers.csv_import import ImportResult

from .. import theme
from ..formatting import count_text, duration, number
from ..widgets import dialog_heading, make_primary, note_label
from ..workspace_widgets import set_state
from .setup import KIND_NOUN

ISSUES_SHOWN = 500


def _stat(caption: str, name: str) -> tuple[QFrame, QLabel]:
    tile = QFrame()
    tile.setObjectName("statTile")
    lay = QVBoxLayout(tile)
    lay.setContentsMargins(12, 10, 12, 10)
    lay.setSpacing(2)
    value = QLabel("0")
    value.setObjectName(name)
    value.setProperty("role", "statValue")
    cap = QLabel(caption)
    cap.setObjectName("statCaption")
    lay.addWidget(value)
    lay.addWidget(cap)
    return tile, value


class ImportSummaryView(QWidget):
    """Signals: ``saveRequested()``, ``againRequested()``, ``doneRequested()`` (see the module)."""

    saveRequested = Signal()
    againRequested = Signal()
    doneRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        self.title, self.subtitle = dialog_heading(lay, "Import finished")
        self.stats = QWidget()
        stats_lay = QHBoxLayout(self.stats)
        stats_lay.setContentsMargins(0, 0, 0, 0)
        stats_lay.setSpacing(12)
        self.stat_labels: dict[str, QLabel] = {}
        for key, caption in (("read", "Rows read"), ("imported", "Imported"), ("updated", "Updated"),
                             ("rejected", "Rejected")):
            tile, value = _stat(caption, f"stat-{key}")
            self.stat_labels[key] = value
            stats_lay.addWidget(tile, 1)
        lay.addWidget(self.stats)
        self.text = QLabel()
        self.text.setObjectName("importSummaryText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.text)
        self.issues_title = QLabel("Rejected rows and warnings")
        self.issues_title.setObjectName("sectionTitle")
        lay.addWidget(self.issues_title)
        lay.addWidget(self._build_issues_table(), 1)
        self.spacer = QWidget()
        lay.addWidget(self.spacer, 1)
        self.save_result = note_label("saveResult")
        lay.addWidget(self.save_result)
        buttons = QHBoxLayout()
        self.save_rejected_button = QPushButton("Save rejected rows as CSV…")
        self.save_rejected_button.setObjectName("saveRejectedButton")
        self.save_rejected_button.setAutoDefault(False)
        self.save_rejected_button.clicked.connect(self.saveRequested)
        buttons.addWidget(self.save_rejected_button)
        buttons.addStretch(1)
        self.again_button = QPushButton("Import another file…")
        self.again_button.setObjectName("importAnotherButton")
        self.again_button.setAutoDefault(False)
        self.again_button.clicked.connect(self.againRequested)
        buttons.addWidget(self.again_button)
        self.done_button = QPushButton("Done")
        self.done_button.setObjectName("doneButton")
        self.done_button.clicked.connect(self.doneRequested)
        buttons.addWidget(self.done_button)
        lay.addLayout(buttons)

    def _build_issues_table(self) -> QTableWidget:
        self.issues_table = QTableWidget(0, 4)
        self.issues_table.setObjectName("issuesTable")
        self.issues_table.setAccessibleName("Rejected rows and warnings")
        self.issues_table.setHorizontalHeaderLabels(["Line", "What happened", "Value", "Reason"])
        self.issues_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.issues_table.setWordWrap(False)
        self.issues_table.setShowGrid(False)
        self.issues_table.setAlternatingRowColors(True)
        self.issues_table.verticalHeader().setVisible(False)
        self.issues_table.verticalHeader().setDefaultSectionSize(28)
        ih = self.issues_table.horizontalHeader()
        ih.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        ih.resizeSection(0, 64)
        ih.resizeSection(1, 140)
        ih.resizeSection(2, 190)
        ih.setStretchLastSection(True)
        return self.issues_table

    def show_result(self, result: ImportResult, can_save: bool) -> None:
        """The import's counts, what they mean, and its problems (``can_save``: a report of them was written)."""
        what = KIND_NOUN[result.kind]
        self.title.setText("Import stopped" if result.cancelled else "Import finished")
        self.subtitle.setText(
            f"{result.path.name} into the {what} list “{result.list_name}” · {duration(result.seconds)}"
        )
        self.stats.setVisible(True)
        for key, value in (("read", result.rows_read), ("imported", result.imported),
                           ("updated", result.updated), ("rejected", result.rejected)):
            self.stat_labels[key].setText(number(value))
        set_state(self.stat_labels["rejected"], "state", "danger" if result.rejected else "")
        self.text.setText("\n".join(self._explanation(result)))
        issues = result.issues[:ISSUES_SHOWN]
        self._fill_issues(result)
        has_issues = bool(issues)
        self.issues_title.setVisible(has_issues)
        self.issues_table.setVisible(has_issues)
        self.spacer.setVisible(not has_issues)
        total = result.rejected + result.warnings
        if total > len(issues):
            self.issues_title.setText(
                f"Rejected rows and warnings (the first {number(len(issues))} of {number(total)}; save the CSV "
                "to see them all)"
            )
        else:
            self.issues_title.setText("Rejected rows and warnings")
        self.save_rejected_button.setVisible(can_save)
        self.save_rejected_button.setText(
            "Save rejected rows as CSV…" if result.rejected else "Save warnings as CSV…"
        )
        self._finish()

    @staticmethod
    def _explanation(result: ImportResult) -> list[str]:
        lines = []
        if result.cancelled:
            lines.append(
                f"You stopped the import: the {count_text(result.imported + result.updated, 'row', 'rows')} "
                "imported before that are kept. The rest of the file was not read."
            )
        lines.append(
            f"Every row read is accounted for: {number(result.rows_read)} read = {number(result.imported)} "
            f"imported + {number(result.updated)} updated (already in the list) + {number(result.rejected)} "
            "rejected."
        )
        if result.rejected:
            lines.append(
                f"{count_text(result.rejected, 'row was', 'rows were')} not imported (no name, email or LinkedIn "
                "URL, or not as many values as the header has columns): see the line and reason below."
            )
        if result.warnings:
            lines.append(
                f"{count_text(result.warnings, 'value was', 'values were')} left out (an invalid email, web "
                "address or number); the rest of "
                + ("that row was" if result.warnings == 1 else "those rows were")
                + " imported."
            )
        if result.companies_created:
            lines.append(
                f"{count_text(result.companies_created, 'company was', 'companies were')} created for the "
                "contacts' employers."
            )
        if not result.rejected and not result.warnings:
            lines.append("Nothing was rejected and there were no warnings.")
        return lines

    def _fill_issues(self, result: ImportResult) -> None:
        issues = result.issues[:ISSUES_SHOWN]
        table = self.issues_table
        table.setRowCount(len(issues))
        for r, issue in enumerate(issues):
            rejected = issue.status == "rejected"
            cells = [
                number(issue.line),
                "Rejected" if rejected else "Value dropped",
                f"{issue.column}: {issue.value}" if issue.column else issue.value,
                issue.reason,
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text if len(text) > 30 else "")
                if c == 1:
                    item.setForeground(theme.color("danger" if rejected else "warning"))
                table.setItem(r, c, item)

    def show_discarded(self, file_name: str, list_name: str) -> None:
        self.title.setText("Import cancelled")
        self.subtitle.setText(f"{file_name} · “{list_name}”")
        self.stats.setVisible(False)
        self.text.setText(
            "Nothing was imported: the rows read before you stopped were discarded, and your lists are as they "
            "were. You can import the file again at any time."
        )
        self.issues_title.setVisible(False)
        self.issues_table.setVisible(False)
        self.spacer.setVisible(True)
        self.save_rejected_button.setVisible(False)
        self._finish()

    def _finish(self) -> None:
        self.save_result.setVisible(False)
        make_primary(self.done_button)

    def show_saved(self, target: Path, error: OSError | None = None) -> None:
        if error is not None:
            self.save_result.setText(f"✗ Could not save {target}: {error.strerror or error}. Choose another folder.")
            set_state(self.save_result, "state", "error")
        else:
            self.save_result.setText(
                f"✓ Saved to {target}: one row per rejected row or dropped value, with its line number and reason."
            )
            set_state(self.save_result, "state", "ok")
        self.save_result.setVisible(True)
