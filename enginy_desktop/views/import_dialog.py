"""The CSV import dialog: choose a file, see how it is read, map its columns, import it in the background.

One dialog, three pages:

1. **Setup** — the file (a file dialog, or drop it on the dialog), its detected encoding and delimiter,
   contacts or companies, the target list (a new one, or an existing one), the column mapping (pre-filled by
   the importer's auto-mapping; each column to an Enginy field, kept as a custom field, or ignored) and a
   preview of the first rows.
2. **Progress** — rows done, rate, time left, Cancel. The importer runs in a worker thread
   (``asyncio.to_thread``), so the window never freezes; the page polls its progress a few times a second.
3. **Summary** — rows read / imported / updated / rejected, warnings, every problem with its line and reason,
   and **Save rejected rows as CSV…**.

Cancelling pauses the importer at its next batch (:class:`CancelGate`) and asks whether to keep the rows imported
so far (the default is to discard them: the import is one transaction, rolled back whole).

The file dialogs are injectable: :attr:`ImportDialog.pick_open_file` and :attr:`ImportDialog.pick_save_file`
are called with a callback instead of returning, so no dialog runs a nested event loop.

Signals: ``imported(int, str)`` — rows were written into a list (its id and name).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.fields import RecordKind, fields_for
from enginy_desktop.core.importers.csv_import import (
    CHUNK_ROWS,
    ColumnMapping,
    ImportFileError,
    ImportProgress,
    ImportResult,
    MappingError,
    Preview,
)
from enginy_desktop.core.importers.mapping import Action
from enginy_desktop.core.services.workspace import WorkspaceError, WorkspaceService

from . import theme
from .message import MessageBox
from .tasks import TaskKeeper
from .widgets import make_primary
from .workspace_widgets import count_text, number, set_state

PickOpen = Callable[[QWidget, Callable[[Path], object]], None]
PickSave = Callable[[QWidget, str, Callable[[Path], object]], None]

KIND_NOUN = {RecordKind.CONTACT: "contacts", RecordKind.COMPANY: "companies"}
CUSTOM, IGNORE = "custom", "ignore"
ISSUES_SHOWN = 500


def open_file_dialog(parent: QWidget, done: Callable[[Path], object]) -> None:
    """Ask for a CSV file with a window-modal file dialog (``open()``, never a nested event loop)."""
    dialog = QFileDialog(parent, "Choose a CSV file to import", str(Path.home()))
    dialog.setObjectName("importFilePicker")
    dialog.setNameFilters(["CSV files (*.csv *.tsv *.txt)", "All files (*)"])
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    dialog.fileSelected.connect(lambda name: done(Path(name)))
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()


def save_file_dialog(parent: QWidget, suggested: str, done: Callable[[Path], object]) -> None:
    dialog = QFileDialog(parent, "Save rejected rows as CSV", str(Path.home() / suggested))
    dialog.setObjectName("saveReportPicker")
    dialog.setNameFilters(["CSV files (*.csv)"])
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("csv")
    dialog.fileSelected.connect(lambda name: done(Path(name)))
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()


class ImportDiscarded(Exception):
    """Raised inside the importer's cancel check when the user discards: its transaction is rolled back whole."""


class CancelGate:
    """The importer's cancel check (``is_set()``, called by the worker between batches).

    :meth:`request` makes the worker stop at its next batch and wait for :meth:`decide`: ``"continue"`` goes on,
    ``"keep"`` stops keeping what was written, ``"discard"`` stops and rolls everything back.
    """

    CONTINUE, KEEP, DISCARD = "continue", "keep", "discard"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._choice = ""
        self._decided = threading.Event()
        self.paused = threading.Event()

    def request(self) -> None:
        with self._lock:
            self._requested = True
            self._choice = ""
            self._decided.clear()

    def decide(self, choice: str) -> None:
        with self._lock:
            self._choice = choice
            if choice == self.CONTINUE:
                self._requested = False
            self._decided.set()

    def is_set(self) -> bool:
        with self._lock:
            requested = self._requested
        if not requested:
            return False
        self.paused.set()
        self._decided.wait()
        self.paused.clear()
        with self._lock:
            choice = self._choice
        if choice == self.DISCARD:
            raise ImportDiscarded
        return choice == self.KEEP


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "less than a second"
    if seconds < 90:
        s = round(seconds)
        return f"{s} second{'s' if s != 1 else ''}"
    m = round(seconds / 60)
    return f"{m} minute{'s' if m != 1 else ''}"


def _size(n: int) -> str:
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / 1024 / 1024:.1f} MB"


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


class ImportDialog(QDialog):
    """Signals: ``imported(int, str)`` — rows were written into a list (its id and name)."""

    imported = Signal(int, str)

    PAGE_SETUP, PAGE_PROGRESS, PAGE_SUMMARY = 0, 1, 2
    #: Rows per batch (tests use small batches to cancel in the middle of a small file).
    chunk_rows = CHUNK_ROWS

    def __init__(
        self,
        service: WorkspaceService,
        parent: QWidget | None = None,
        *,
        reports_dir: Path,
        kind: RecordKind = RecordKind.CONTACT,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.reports_dir = reports_dir
        self.setObjectName("importDialog")
        self.setWindowTitle("Import a CSV file")
        self.setModal(True)
        self.setAcceptDrops(True)
        self.setMinimumSize(600, 480)
        self.resize(900, 660)
        self.pick_open_file: PickOpen = open_file_dialog
        self.pick_save_file: PickSave = save_file_dialog
        self.tasks = TaskKeeper()
        self.preview: Preview | None = None
        self.mapping: ColumnMapping | None = None
        self.import_result: ImportResult | None = None
        self.outcome = ""  # finished | kept | discarded | failed
        self.report_path: Path | None = None
        self.cancel_box: QMessageBox | None = None
        self._gate: CancelGate | None = None
        self._latest: ImportProgress | None = None
        self._started = 0.0
        self._running = False
        self._list_name = ""
        self._combos: list[QComboBox] = []

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(12)
        self.pages = QStackedWidget()
        root.addWidget(self.pages, 1)
        self.pages.addWidget(self._build_setup(kind))
        self.pages.addWidget(self._build_progress())
        self.pages.addWidget(self._build_summary())
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._refresh_progress)
        self._set_file_state(False)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.abandon)  # quitting never waits for a long import to finish

    # -- building ------------------------------------------------------------------------------------------
    def _build_setup(self, kind: RecordKind) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        title = QLabel("Import a CSV file")
        title.setObjectName("dialogTitle")
        lay.addWidget(title)
        sub = QLabel(
            "Contacts or companies exported from Sales Navigator, Apollo, HubSpot, Salesforce, Excel or Google "
            "Sheets. You check how each column is imported before anything is written."
        )
        sub.setObjectName("dialogSubtitle")
        sub.setWordWrap(True)
        lay.addWidget(sub)

        file_box = QFrame()
        file_box.setObjectName("fileBox")
        file_lay = QHBoxLayout(file_box)
        file_lay.setContentsMargins(12, 10, 12, 10)
        file_lay.setSpacing(12)
        names = QVBoxLayout()
        names.setSpacing(2)
        self.file_name = QLabel("No file chosen")
        self.file_name.setObjectName("importFileName")
        self.file_format = QLabel("Choose a file, or drop it here.")
        self.file_format.setObjectName("importFormat")
        self.file_format.setWordWrap(True)
        names.addWidget(self.file_name)
        names.addWidget(self.file_format)
        file_lay.addLayout(names, 1)
        self.choose_button = QPushButton("Choose file…")
        self.choose_button.setObjectName("chooseFileButton")
        self.choose_button.setAutoDefault(False)
        self.choose_button.clicked.connect(self.choose_file)
        file_lay.addWidget(self.choose_button, 0, Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(file_box)

        self.file_error = QLabel()
        self.file_error.setObjectName("fieldError")
        self.file_error.setWordWrap(True)
        self.file_error.setVisible(False)
        lay.addWidget(self.file_error)

        self.target_box = QWidget()
        grid = QGridLayout(self.target_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        grid.setColumnStretch(2, 1)
        grid.addWidget(QLabel("Records"), 0, 0)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("importKind")
        self.kind_combo.setAccessibleName("The file holds")
        self.kind_combo.addItem("Contacts", RecordKind.CONTACT.value)
        self.kind_combo.addItem("Companies", RecordKind.COMPANY.value)
        self.kind_combo.setCurrentIndex(0 if kind is RecordKind.CONTACT else 1)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        grid.addWidget(self.kind_combo, 0, 1)
        grid.addWidget(QLabel("Import into"), 1, 0)
        self.new_list_radio = QRadioButton("A new list")
        self.new_list_radio.setObjectName("importNewList")
        self.existing_list_radio = QRadioButton("An existing list")
        self.existing_list_radio.setObjectName("importExistingList")
        group = QButtonGroup(self)
        group.addButton(self.new_list_radio)
        group.addButton(self.existing_list_radio)
        self.new_list_radio.setChecked(True)
        self.list_name = QLineEdit()
        self.list_name.setObjectName("importListName")
        self.list_name.setAccessibleName("New list name")
        self.list_name.setPlaceholderText("Name of the new list")
        self.list_name.textEdited.connect(lambda _t: self.new_list_radio.setChecked(True))
        self.list_combo = QComboBox()
        self.list_combo.setObjectName("importListCombo")
        self.list_combo.setAccessibleName("Existing list")
        self.list_combo.activated.connect(lambda _i: self.existing_list_radio.setChecked(True))
        grid.addWidget(self.new_list_radio, 1, 1)
        grid.addWidget(self.list_name, 1, 2)
        grid.addWidget(self.existing_list_radio, 2, 1)
        grid.addWidget(self.list_combo, 2, 2)
        lay.addWidget(self.target_box)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("importTabs")
        self.mapping_table = QTableWidget(0, 3)
        self.mapping_table.setObjectName("mappingTable")
        self.mapping_table.setAccessibleName("Column mapping")
        self.mapping_table.setHorizontalHeaderLabels(["Column in your file", "Example values", "Import as"])
        self.mapping_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.mapping_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.mapping_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mapping_table.setTabKeyNavigation(False)
        self.mapping_table.setShowGrid(False)
        self.mapping_table.setWordWrap(False)
        self.mapping_table.verticalHeader().setVisible(False)
        self.mapping_table.verticalHeader().setDefaultSectionSize(40)
        mh = self.mapping_table.horizontalHeader()
        mh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        mh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        mh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        mh.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        mh.resizeSection(0, 190)
        mh.resizeSection(2, 240)
        self.tabs.addTab(self.mapping_table, "Columns")
        self.preview_table = QTableWidget(0, 0)
        self.preview_table.setObjectName("previewTable")
        self.preview_table.setAccessibleName("First rows of the file")
        self.preview_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_table.setWordWrap(False)
        self.preview_table.setAlternatingRowColors(True)
        self.preview_table.setShowGrid(False)
        self.preview_table.verticalHeader().setDefaultSectionSize(30)
        self.preview_table.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        self.preview_table.horizontalHeader().setDefaultSectionSize(150)
        self.tabs.addTab(self.preview_table, "Preview")
        lay.addWidget(self.tabs, 1)

        self.problem = QLabel()
        self.problem.setObjectName("importProblem")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        lay.addWidget(self.problem)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.setup_cancel = QPushButton("Cancel")
        self.setup_cancel.setObjectName("cancelButton")
        self.setup_cancel.setAutoDefault(False)
        self.setup_cancel.clicked.connect(self.reject)
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("startImportButton")
        make_primary(self.import_button)
        self.import_button.clicked.connect(self.start_import)
        buttons.addWidget(self.setup_cancel)
        buttons.addWidget(self.import_button)
        lay.addLayout(buttons)
        return page

    def _build_progress(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        lay.addStretch(1)
        self.progress_title = QLabel("Importing…")
        self.progress_title.setObjectName("dialogTitle")
        self.progress_title.setWordWrap(True)
        lay.addWidget(self.progress_title)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("importProgressBar")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setAccessibleName("Import progress")
        lay.addWidget(self.progress_bar)
        self.progress_text = QLabel("Starting…")
        self.progress_text.setObjectName("importProgressText")
        lay.addWidget(self.progress_text)
        self.progress_counts = QLabel("")
        self.progress_counts.setObjectName("importProgressCounts")
        lay.addWidget(self.progress_counts)
        note = QLabel("Enginy Desktop keeps responding while the file is imported. Cancel asks whether to keep "
                      "the rows imported so far.")
        note.setObjectName("fieldHelp")
        note.setWordWrap(True)
        lay.addWidget(note)
        lay.addStretch(2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_import_button = QPushButton("Cancel import")
        self.cancel_import_button.setObjectName("cancelImportButton")
        self.cancel_import_button.setAutoDefault(False)
        self.cancel_import_button.clicked.connect(self.request_cancel)
        buttons.addWidget(self.cancel_import_button)
        lay.addLayout(buttons)
        return page

    def _build_summary(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        self.summary_title = QLabel("Import finished")
        self.summary_title.setObjectName("dialogTitle")
        lay.addWidget(self.summary_title)
        self.summary_subtitle = QLabel()
        self.summary_subtitle.setObjectName("dialogSubtitle")
        self.summary_subtitle.setWordWrap(True)
        lay.addWidget(self.summary_subtitle)
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
        self.summary_text = QLabel()
        self.summary_text.setObjectName("importSummaryText")
        self.summary_text.setWordWrap(True)
        self.summary_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.summary_text)
        self.issues_title = QLabel("Rejected rows and warnings")
        self.issues_title.setObjectName("sectionTitle")
        lay.addWidget(self.issues_title)
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
        lay.addWidget(self.issues_table, 1)
        self.summary_spacer = QWidget()
        lay.addWidget(self.summary_spacer, 1)
        self.save_result = QLabel()
        self.save_result.setObjectName("saveResult")
        self.save_result.setWordWrap(True)
        self.save_result.setVisible(False)
        lay.addWidget(self.save_result)
        buttons = QHBoxLayout()
        self.save_rejected_button = QPushButton("Save rejected rows as CSV…")
        self.save_rejected_button.setObjectName("saveRejectedButton")
        self.save_rejected_button.setAutoDefault(False)
        self.save_rejected_button.clicked.connect(self.save_rejected)
        buttons.addWidget(self.save_rejected_button)
        buttons.addStretch(1)
        self.again_button = QPushButton("Import another file…")
        self.again_button.setObjectName("importAnotherButton")
        self.again_button.setAutoDefault(False)
        self.again_button.clicked.connect(self.start_over)
        buttons.addWidget(self.again_button)
        self.done_button = QPushButton("Done")
        self.done_button.setObjectName("doneButton")
        self.done_button.clicked.connect(self.accept)
        buttons.addWidget(self.done_button)
        lay.addLayout(buttons)
        return page

    # -- the file ------------------------------------------------------------------------------------------
    @property
    def kind(self) -> RecordKind:
        return RecordKind(self.kind_combo.currentData())

    def choose_file(self) -> None:
        self.pick_open_file(self, self.load_file)

    def load_file(self, path: Path) -> bool:
        """Read the file's start: format, headers, first rows and the suggested mapping. False if unusable."""
        path = Path(path)
        try:
            preview = self.service.preview_csv(path, self.kind)
        except (ImportFileError, MappingError, WorkspaceError, OSError) as exc:
            self.preview = self.mapping = None
            self.file_name.setText(path.name)
            self.file_name.setToolTip(str(path))
            self.file_format.setText("This file cannot be imported.")
            self.file_error.setText(f"{exc} Choose another file.")
            self.file_error.setVisible(True)
            self._set_file_state(False)
            return False
        self.file_error.setVisible(False)
        self.preview = preview
        self.file_name.setText(path.name)
        self.file_name.setToolTip(str(path))
        self.file_format.setText(
            f"Read as {preview.format.encoding_label} · {preview.format.delimiter_label}-separated · "
            f"{_size(preview.total_bytes)} · {count_text(len(preview.headers), 'column', 'columns')}"
        )
        if not self.list_name.text().strip() or not self.list_name.isModified():
            self.list_name.setText(self._free_list_name(path.stem))
        self._fill_lists()
        self._show_mapping(preview.mapping)
        self._fill_preview(preview)
        self._set_file_state(True)
        self.import_button.setFocus()
        return True

    def _free_list_name(self, stem: str) -> str:
        base = re.sub(r"[_]+", " ", stem).strip() or "Imported"
        taken = {i.name.casefold() for i in self.service.lists()}
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base} ({n})"
        return name

    def _set_file_state(self, loaded: bool) -> None:
        for w in (self.target_box, self.tabs, self.import_button):
            w.setEnabled(loaded)
        self.choose_button.setText("Choose another file…" if loaded else "Choose file…")
        # The one primary button is the next thing to do: choose a file, then import it.
        make_primary(self.import_button if loaded else self.choose_button)
        if not loaded:
            self.mapping_table.setRowCount(0)
            self.preview_table.setRowCount(0)
            self.preview_table.setColumnCount(0)
            self.problem.setVisible(False)
            self.tabs.setTabText(0, "Columns")
            self.tabs.setTabText(1, "Preview")

    def _fill_lists(self) -> None:
        current = self.list_combo.currentText()
        self.list_combo.clear()
        for info in self.service.lists(self.kind):
            self.list_combo.addItem(f"{info.name} ({number(info.count)})", info.name)
        index = self.list_combo.findData(current)
        if index >= 0:
            self.list_combo.setCurrentIndex(index)
        has_lists = self.list_combo.count() > 0
        self.existing_list_radio.setEnabled(has_lists)
        self.list_combo.setEnabled(has_lists)
        if not has_lists:
            self.list_combo.addItem(f"No {KIND_NOUN[self.kind]} lists yet")
            self.new_list_radio.setChecked(True)

    def select_existing_list(self, name: str) -> None:
        index = self.list_combo.findData(name)
        if index < 0:
            raise KeyError(name)
        self.list_combo.setCurrentIndex(index)
        self.existing_list_radio.setChecked(True)

    def _kind_changed(self) -> None:
        if self.preview is not None:
            self.load_file(self.preview.path)

    # -- the mapping ---------------------------------------------------------------------------------------
    def _show_mapping(self, mapping: ColumnMapping) -> None:
        assert self.preview is not None
        self.mapping = mapping
        table = self.mapping_table
        table.setRowCount(len(mapping.rules))
        self._combos = []
        fields = fields_for(mapping.kind)
        for row, rule in enumerate(mapping.rules):
            header = QTableWidgetItem(rule.header or f"(column {row + 1}, no header)")
            header.setToolTip(rule.header)
            table.setItem(row, 0, header)
            samples = ", ".join(self.preview.column_samples(row))
            example = QTableWidgetItem(samples or "(empty in the first rows)")
            example.setToolTip(samples)
            table.setItem(row, 1, example)
            combo = QComboBox()
            combo.setObjectName(f"mapping-{row}")
            combo.setAccessibleName(f"Import the column {rule.header} as")
            for f in fields:
                combo.addItem(f.label, f.name)
            combo.insertSeparator(combo.count())
            combo.addItem("Keep as custom field", CUSTOM)
            combo.addItem("Ignore", IGNORE)
            combo.setMaxVisibleItems(len(fields) + 3)
            spec = CUSTOM if rule.action is Action.CUSTOM else (IGNORE if rule.action is Action.IGNORE else rule.target)
            combo.setCurrentIndex(combo.findData(spec))
            combo.currentIndexChanged.connect(lambda _i, r=row: self._mapping_edited(r))
            self._combos.append(combo)
            holder = QWidget()
            holder_lay = QHBoxLayout(holder)
            holder_lay.setContentsMargins(4, 2, 8, 2)
            holder_lay.addWidget(combo)
            table.setCellWidget(row, 2, holder)
            self._paint_row(row)
        self._mapping_changed()

    def mapping_combo(self, header: str) -> QComboBox:
        assert self.mapping is not None
        return self._combos[list(self.mapping.headers).index(header)]

    def set_mapping(self, header: str, spec: str) -> None:
        """Choose what a column is imported as, as the user would in its combo (field name, custom, ignore)."""
        combo = self.mapping_combo(header)
        index = combo.findData(spec)
        if index < 0:
            raise KeyError(spec)
        combo.setCurrentIndex(index)

    def _mapping_edited(self, row: int) -> None:
        assert self.mapping is not None
        spec = self._combos[row].currentData()
        rule = self.mapping.rules[row]
        if spec == IGNORE:
            self.mapping = self.mapping.with_rule(row, Action.IGNORE)
        elif spec == CUSTOM:
            self.mapping = self.mapping.with_rule(row, Action.CUSTOM, rule.header.strip() or rule.header)
        else:
            self.mapping = self.mapping.with_rule(row, Action.FIELD, str(spec))
        self._paint_row(row)
        self._mapping_changed()

    def _paint_row(self, row: int) -> None:
        """An ignored column is shown greyed out, so what will not be imported stands out."""
        assert self.mapping is not None
        ignored = self.mapping.rules[row].action is Action.IGNORE
        header, example = self.mapping_table.item(row, 0), self.mapping_table.item(row, 1)
        assert header is not None
        assert example is not None
        header.setForeground(theme.color("text_disabled" if ignored else "text"))
        font = header.font()
        font.setStrikeOut(ignored)
        header.setFont(font)
        example.setForeground(theme.color("text_disabled" if ignored or not example.toolTip() else "text_secondary"))

    def _mapping_changed(self) -> None:
        assert self.mapping is not None
        rules = self.mapping.rules
        fields = sum(1 for r in rules if r.action is Action.FIELD)
        custom = sum(1 for r in rules if r.action is Action.CUSTOM)
        ignored = len(rules) - fields - custom
        parts = [f"{fields} to fields"]
        if custom:
            parts.append(f"{custom} custom")
        if ignored:
            parts.append(f"{ignored} ignored")
        self.tabs.setTabText(0, f"Columns ({', '.join(parts)})")
        problems = self.mapping.problems()
        notes = []
        labels = {f.name: f.label for f in fields_for(self.mapping.kind)}
        for field, columns in self.mapping.field_columns().items():
            if len(columns) > 1:
                names = " and ".join(f"“{rules[i].header}”" for i in columns)
                notes.append(f"{names} both fill {labels[field]}: the first non-empty value of a row is used.")
        if problems:
            self._set_problem("error", problems[0])
        elif notes:
            self._set_problem("note", " ".join(notes))
        else:
            self.problem.setVisible(False)

    def _set_problem(self, state: str, text: str) -> None:
        self.problem.setText(text)
        set_state(self.problem, "state", state)
        self.problem.setVisible(True)

    def _fill_preview(self, preview: Preview) -> None:
        table = self.preview_table
        table.clear()
        table.setColumnCount(len(preview.headers))
        table.setRowCount(len(preview.rows))
        table.setHorizontalHeaderLabels([h or "(no header)" for h in preview.headers])
        for r, values in enumerate(preview.rows):
            for c, value in enumerate(values):
                item = QTableWidgetItem(" ".join(value.split()))
                if len(value) > 30:
                    item.setToolTip(value)
                table.setItem(r, c, item)
        self.tabs.setTabText(1, f"Preview (first {count_text(len(preview.rows), 'row', 'rows')})")

    # -- starting ------------------------------------------------------------------------------------------
    def target_list_name(self) -> str:
        if self.existing_list_radio.isChecked():
            return str(self.list_combo.currentData() or "")
        return self.list_name.text().strip()

    def _check(self) -> str:
        """Why the import cannot start yet ("" when it can)."""
        if self.preview is None or self.mapping is None:
            return "Choose a CSV file first."
        problems = self.mapping.problems()
        if problems:
            return problems[0]
        name = self.target_list_name()
        if self.existing_list_radio.isChecked():
            if not name:
                return f"There is no {KIND_NOUN[self.kind]} list yet: import into a new list."
            return ""
        if not name:
            return "Name the new list."
        existing = self.service.find_list(name)
        if existing is not None:
            return (
                f"A list named “{existing.name}” already exists. Choose “An existing list” to add these rows "
                "to it, or give the new list another name."
            )
        return ""

    def start_import(self) -> None:
        problem = self._check()
        if problem:
            self._set_problem("error", problem)
            if "list" in problem and not self.existing_list_radio.isChecked():
                self.list_name.setFocus()
            return
        self.tasks.start(self.run_import())

    def _report_path(self, list_name: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", list_name).strip("-")[:40] or "import"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.reports_dir / f"import-{KIND_NOUN[self.kind]}-{slug}-{stamp}.csv"
        n = 1
        while path.exists():
            n += 1
            path = self.reports_dir / f"import-{KIND_NOUN[self.kind]}-{slug}-{stamp}-{n}.csv"
        return path

    async def run_import(self) -> ImportResult | None:
        """Import with the dialog's choices in a worker thread; show the summary. None when nothing was kept."""
        problem = self._check()
        if problem:
            self._set_problem("error", problem)
            return None
        assert self.preview is not None
        assert self.mapping is not None
        preview, mapping, kind = self.preview, self.mapping, self.kind
        self._list_name = list_name = self.target_list_name()
        self._gate = gate = CancelGate()
        self._latest = None
        self._started = time.monotonic()
        self._running = True
        self.report_path = report = self._report_path(list_name)
        self.progress_title.setText(f"Importing {preview.path.name} into “{list_name}”")
        self.progress_bar.setValue(0)
        self.progress_text.setText("Starting…")
        self.progress_counts.setText("")
        self.cancel_import_button.setEnabled(True)
        self.pages.setCurrentIndex(self.PAGE_PROGRESS)
        self.cancel_import_button.setFocus()
        self._timer.start()
        try:
            result: ImportResult = await asyncio.to_thread(
                self.service.import_csv,
                preview.path,
                kind,
                list_name,
                mapping=mapping,
                fmt=preview.format,
                progress=self._progress_from_worker,
                cancel=gate,
                keep_partial=True,
                report_path=report,
                chunk_rows=self.chunk_rows,
            )
        except ImportDiscarded:
            report.unlink(missing_ok=True)
            self.report_path = None
            self.outcome = "discarded"
            self._show_discarded(preview, list_name)
            return None
        except (ImportFileError, MappingError, WorkspaceError, OSError) as exc:
            report.unlink(missing_ok=True)
            self.report_path = None
            self.outcome = "failed"
            self.pages.setCurrentIndex(self.PAGE_SETUP)
            self._set_problem("error", f"The import stopped: {exc} Nothing was imported; the list is unchanged.")
            return None
        finally:
            self._running = False
            self._timer.stop()
            self._close_cancel_box()
        self.import_result = result
        if result.rejected + result.warnings == 0:
            report.unlink(missing_ok=True)
            self.report_path = None
        self.outcome = "kept" if result.cancelled else "finished"
        self._show_summary(result)
        if result.committed and result.list_id is not None:
            self.imported.emit(result.list_id, result.list_name)
        return result

    def _progress_from_worker(self, progress: ImportProgress) -> None:
        # Called in the worker thread: only store it; the UI timer shows it.
        self._latest = progress

    def _refresh_progress(self) -> None:
        p = self._latest
        if p is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self.progress_bar.setValue(int(p.fraction * 1000))
        rate = p.rows_done / elapsed
        text = f"{count_text(p.rows_done, 'row', 'rows')} read · {number(rate)} rows a second"
        if 0 < p.fraction < 1:
            text += f" · about {_duration(elapsed * (1 - p.fraction) / p.fraction)} left"
        if self._gate is not None and self._gate.paused.is_set():
            text = f"Paused after {count_text(p.rows_done, 'row', 'rows')}: waiting for your answer."
        self.progress_text.setText(text)
        self.progress_counts.setText(
            f"{number(p.imported)} imported · {number(p.updated)} updated · {number(p.rejected)} rejected"
        )
        if self.cancel_box is not None:
            self.cancel_box.setInformativeText(self._cancel_question_text())

    # -- cancelling ----------------------------------------------------------------------------------------
    def _cancel_question_text(self) -> str:
        p = self._latest
        done = (p.imported + p.updated) if p else 0
        return (
            f"{count_text(done, 'row has', 'rows have')} been imported into “{self._list_name}” so far. "
            "Discard them to leave your lists as they were, or keep them."
        )

    def request_cancel(self) -> QMessageBox | None:
        """The user pressed Cancel while importing: pause the importer and ask what to do with the rows so far."""
        if not self._running or self._gate is None:
            return None
        if self.cancel_box is not None:
            return self.cancel_box
        self._gate.request()
        self.cancel_import_button.setEnabled(False)
        self.progress_text.setText("Stopping after the current batch of rows…")
        box = MessageBox(self)
        box.setObjectName("cancelImportQuestion")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Stop the import?")
        box.setText("Stop the import?")
        box.setInformativeText(self._cancel_question_text())
        discard = box.addButton("Discard imported rows", QMessageBox.ButtonRole.DestructiveRole)
        discard.setObjectName("discardRowsButton")
        discard.setProperty("danger", True)
        keep = box.addButton("Keep imported rows", QMessageBox.ButtonRole.AcceptRole)
        keep.setObjectName("keepRowsButton")
        go_on = box.addButton("Continue importing", QMessageBox.ButtonRole.RejectRole)
        go_on.setObjectName("continueImportButton")
        box.setDefaultButton(discard)
        box.setEscapeButton(go_on)
        gate = self._gate

        def answered(button: object) -> None:
            choice = (
                CancelGate.DISCARD if button is discard else CancelGate.KEEP if button is keep else CancelGate.CONTINUE
            )
            gate.decide(choice)
            self.cancel_box = None
            if choice == CancelGate.CONTINUE:
                self.cancel_import_button.setEnabled(True)
                self.progress_text.setText("Continuing…")
            else:
                self.progress_text.setText("Stopping…")

        box.buttonClicked.connect(answered)
        self.cancel_box = box
        box.open()
        return box

    def _close_cancel_box(self) -> None:
        box, self.cancel_box = self.cancel_box, None
        if box is not None:
            box.done(0)

    def reject(self) -> None:
        if self._running:
            self.request_cancel()  # Escape or closing the window while importing asks first
            return
        super().reject()

    def abandon(self) -> None:
        """Stop a running import at its next batch and roll it back (the application is quitting)."""
        if self._gate is not None and self._running:
            self._gate.request()
            self._gate.decide(CancelGate.DISCARD)

    def done(self, result: int) -> None:
        self.abandon()  # never leave the worker running, or waiting for an answer nobody will give
        super().done(result)

    # -- the summary ---------------------------------------------------------------------------------------
    def _show_summary(self, result: ImportResult) -> None:
        what = KIND_NOUN[result.kind]
        self.summary_title.setText("Import stopped" if result.cancelled else "Import finished")
        self.summary_subtitle.setText(
            f"{result.path.name} into the {what} list “{result.list_name}” · {_duration(result.seconds)}"
        )
        self.stats.setVisible(True)
        for key, value in (("read", result.rows_read), ("imported", result.imported),
                           ("updated", result.updated), ("rejected", result.rejected)):
            self.stat_labels[key].setText(number(value))
        set_state(self.stat_labels["rejected"], "state", "danger" if result.rejected else "")
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
        self.summary_text.setText("\n".join(lines))
        issues = result.issues[:ISSUES_SHOWN]
        self._fill_issues(result)
        has_issues = bool(issues)
        self.issues_title.setVisible(has_issues)
        self.issues_table.setVisible(has_issues)
        self.summary_spacer.setVisible(not has_issues)
        total = result.rejected + result.warnings
        if total > len(issues):
            self.issues_title.setText(
                f"Rejected rows and warnings (the first {number(len(issues))} of {number(total)}; save the CSV "
                "to see them all)"
            )
        else:
            self.issues_title.setText("Rejected rows and warnings")
        self.save_rejected_button.setVisible(self.report_path is not None)
        self.save_rejected_button.setText(
            "Save rejected rows as CSV…" if result.rejected else "Save warnings as CSV…"
        )
        self.save_result.setVisible(False)
        self.pages.setCurrentIndex(self.PAGE_SUMMARY)
        make_primary(self.done_button)
        self.done_button.setFocus()

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

    def _show_discarded(self, preview: Preview, list_name: str) -> None:
        self.summary_title.setText("Import cancelled")
        self.summary_subtitle.setText(f"{preview.path.name} · “{list_name}”")
        self.stats.setVisible(False)
        self.summary_text.setText(
            "Nothing was imported: the rows read before you stopped were discarded, and your lists are as they "
            "were. You can import the file again at any time."
        )
        self.issues_title.setVisible(False)
        self.issues_table.setVisible(False)
        self.summary_spacer.setVisible(True)
        self.save_rejected_button.setVisible(False)
        self.save_result.setVisible(False)
        self.pages.setCurrentIndex(self.PAGE_SUMMARY)
        make_primary(self.done_button)
        self.done_button.setFocus()

    def save_rejected(self) -> None:
        if self.report_path is None or self.import_result is None:
            return
        suggested = f"{self.import_result.path.stem}-rejected.csv"
        self.pick_save_file(self, suggested, self._save_report_to)

    def _save_report_to(self, target: Path) -> None:
        assert self.report_path is not None
        try:
            shutil.copyfile(self.report_path, target)
        except OSError as exc:
            self.save_result.setText(f"✗ Could not save {target}: {exc.strerror or exc}. Choose another folder.")
            set_state(self.save_result, "state", "error")
        else:
            self.save_result.setText(
                f"✓ Saved to {target}: one row per rejected row or dropped value, with its line number and reason."
            )
            set_state(self.save_result, "state", "ok")
        self.save_result.setVisible(True)

    def start_over(self) -> None:
        self.import_result = None
        self.preview = self.mapping = None
        self.report_path = None
        self.outcome = ""
        self.file_name.setText("No file chosen")
        self.file_name.setToolTip("")
        self.file_format.setText("Choose a file, or drop it here.")
        self.list_name.clear()
        self._set_file_state(False)
        self.pages.setCurrentIndex(self.PAGE_SETUP)
        self.choose_button.setFocus()

    # -- drag and drop -------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        urls = event.mimeData().urls()
        if self.pages.currentIndex() == self.PAGE_SETUP and len(urls) == 1 and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.load_file(Path(urls[0].toLocalFile()))
            event.acceptProposedAction()
