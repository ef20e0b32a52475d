"""The CSV import dialog: choose a file, see how it is read, map its columns, import it in the background.

The dialog is the controller of three stages (each a view of its own module):

1. **Setup** (:class:`ImportSetupView`) — the file (a file dialog, or drop it on the dialog), its detected
   encoding and delimiter, contacts or companies, the target list (a new one, or an existing one), the column
   mapping (pre-filled by the importer's auto-mapping; each column to an Enginy field, kept as a custom field, or
   ignored) and a preview of the first rows.
2. **Progress** (:class:`ImportProgressView`) — rows done, rate, time left, Cancel. The importer runs in a worker
   thread (``asyncio.to_thread``), so the window never freezes; the dialog polls its progress a few times a second.
3. **Summary** (:class:`ImportSummaryView`) — rows read / imported / updated / rejected, warnings, every problem
   with its line and reason, and **Save rejected rows as CSV…**.

Cancelling pauses the importer at its next batch (:class:`CancelGate`) and asks whether to keep the rows imported
so far (the default is to discard them: the import is one transaction, rolled back whole).

The file dialogs are injectable: :attr:`ImportDialog.pick_open_file` and :attr:`ImportDialog.pick_save_file`
are called with a callback instead of returning, so no dialog runs a nested event loop.

Signals: ``imported(int, str)`` — rows were written into a list (its id and name).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QComboBox, QDialog, QMessageBox, QStackedWidget, QVBoxLayout, QWidget

from enginy_desktop.core.fields import RecordKind
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
from enginy_desktop.core.importers.report import new_report_path
from enginy_desktop.core.services.workspace import WorkspaceError, WorkspaceService

from ..file_pickers import PickOpen, PickSave, csv_opener, csv_saver
from ..formatting import count_text
from ..tasks import TaskKeeper
from .cancel import CancelGate, ImportDiscarded
from .progress import ImportProgressView, stop_question
from .setup import CUSTOM, IGNORE, KIND_NOUN, ImportSetupView
from .summary import ImportSummaryView

open_file_dialog = csv_opener("Choose a CSV file to import", "importFilePicker")
save_file_dialog = csv_saver("Save rejected rows as CSV", "saveReportPicker")


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

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(12)
        self.pages = QStackedWidget()
        root.addWidget(self.pages, 1)
        self.setup_view = setup = ImportSetupView(kind)
        setup.chooseRequested.connect(self.choose_file)
        setup.importRequested.connect(self.start_import)
        setup.cancelRequested.connect(self.reject)
        setup.kindChanged.connect(self._kind_changed)
        setup.mappingEdited.connect(self._mapping_edited)
        self.progress_view = progress = ImportProgressView()
        progress.cancelRequested.connect(self.request_cancel)
        self.summary_view = summary = ImportSummaryView()
        summary.saveRequested.connect(self.save_rejected)
        summary.againRequested.connect(self.start_over)
        summary.doneRequested.connect(self.accept)
        for page in (setup, progress, summary):
            self.pages.addWidget(page)
        # The stages' parts the Lists page, the tests and the screenshots reach through the dialog.
        self.file_name, self.file_format, self.file_error = setup.file_name, setup.file_format, setup.file_error
        self.kind_combo, self.list_name, self.list_combo = setup.kind_combo, setup.list_name, setup.list_combo
        self.new_list_radio, self.existing_list_radio = setup.new_list_radio, setup.existing_list_radio
        self.tabs, self.mapping_table, self.preview_table = setup.tabs, setup.mapping_table, setup.preview_table
        self.problem, self.choose_button, self.import_button = setup.problem, setup.choose_button, setup.import_button
        self.progress_title, self.cancel_import_button = progress.title, progress.cancel_button
        self.summary_title, self.summary_text, self.stat_labels = summary.title, summary.text, summary.stat_labels
        self.issues_table, self.save_result = summary.issues_table, summary.save_result
        self.save_rejected_button, self.done_button = summary.save_rejected_button, summary.done_button

        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._refresh_progress)
        setup.set_file_state(False)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.abandon)  # quitting never waits for a long import to finish

    # -- the file ------------------------------------------------------------------------------------------
    @property
    def kind(self) -> RecordKind:
        return self.setup_view.kind

    def choose_file(self) -> None:
        self.pick_open_file(self, self.load_file)

    def load_file(self, path: Path) -> bool:
        """Read the file's start: format, headers, first rows and the suggested mapping. False if unusable."""
        path = Path(path)
        setup = self.setup_view
        try:
            preview = self.service.preview_csv(path, self.kind)
        except (ImportFileError, MappingError, WorkspaceError, OSError) as exc:
            self.preview = self.mapping = None
            setup.show_file_error(path.name, str(path), str(exc))
            return False
        self.preview = preview
        setup.show_file(preview)
        setup.suggest_list_name(self.service.free_list_name(path.stem))
        setup.fill_lists(self.service.lists(self.kind))
        self.mapping = preview.mapping
        setup.show_mapping(preview, preview.mapping)
        setup.fill_preview(preview)
        setup.set_file_state(True)
        self.import_button.setFocus()
        return True

    def select_existing_list(self, name: str) -> None:
        self.setup_view.select_existing_list(name)

    def _kind_changed(self) -> None:
        if self.preview is not None:
            self.load_file(self.preview.path)

    # -- the mapping ---------------------------------------------------------------------------------------
    def mapping_combo(self, header: str) -> QComboBox:
        assert self.mapping is not None
        return self.setup_view.mapping_combo(list(self.mapping.headers).index(header))

    def set_mapping(self, header: str, spec: str) -> None:
        """Choose what a column is imported as, as the user would in its combo (field name, custom, ignore)."""
        combo = self.mapping_combo(header)
        index = combo.findData(spec)
        if index < 0:
            raise KeyError(spec)
        combo.setCurrentIndex(index)

    def _mapping_edited(self, row: int, spec: str) -> None:
        assert self.mapping is not None
        rule = self.mapping.rules[row]
        if spec == IGNORE:
            self.mapping = self.mapping.with_rule(row, Action.IGNORE)
        elif spec == CUSTOM:
            self.mapping = self.mapping.with_rule(row, Action.CUSTOM, rule.header.strip() or rule.header)
        else:
            self.mapping = self.mapping.with_rule(row, Action.FIELD, spec)
        self.setup_view.paint_row(row, spec == IGNORE)
        self.setup_view.show_mapping_state(self.mapping)

    # -- starting ------------------------------------------------------------------------------------------
    def target_list_name(self) -> str:
        return self.setup_view.target_list_name()

    def _check(self) -> str:
        """Why the import cannot start yet ("" when it can)."""
        if self.preview is None or self.mapping is None:
            return "Choose a CSV file first."
        problems = self.mapping.problems()
        if problems:
            return problems[0]
        name = self.target_list_name()
        if self.setup_view.into_existing():
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
            self.setup_view.set_problem("error", problem)
            if "list" in problem and not self.setup_view.into_existing():
                self.list_name.setFocus()
            return
        self.tasks.start(self.run_import())

    async def run_import(self) -> ImportResult | None:
        """Import with the dialog's choices in a worker thread; show the summary. None when nothing was kept."""
        problem = self._check()
        if problem:
            self.setup_view.set_problem("error", problem)
            return None
        assert self.preview is not None
        assert self.mapping is not None
        preview, mapping, kind = self.preview, self.mapping, self.kind
        self._list_name = list_name = self.target_list_name()
        self._gate = gate = CancelGate()
        self._latest = None
        self._started = time.monotonic()
        self._running = True
        self.report_path = report = new_report_path(self.reports_dir, f"import-{KIND_NOUN[kind]}", list_name)
        self.progress_view.start(f"Importing {preview.path.name} into “{list_name}”")
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
            self.summary_view.show_discarded(preview.path.name, list_name)
            self._show_summary_page()
            return None
        except (ImportFileError, MappingError, WorkspaceError, OSError) as exc:
            report.unlink(missing_ok=True)
            self.report_path = None
            self.outcome = "failed"
            self.pages.setCurrentIndex(self.PAGE_SETUP)
            self.setup_view.set_problem(
                "error", f"The import stopped: {exc} Nothing was imported; the list is unchanged."
            )
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
        self.summary_view.show_result(result, can_save=self.report_path is not None)
        self._show_summary_page()
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
        paused = self._gate is not None and self._gate.paused.is_set()
        self.progress_view.show_progress(p, elapsed, paused)
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
        text = self.progress_view.text
        text.setText("Stopping after the current batch of rows…")
        box, discard, keep = stop_question(self, self._cancel_question_text())
        gate = self._gate

        def answered(button: object) -> None:
            choice = (
                CancelGate.DISCARD if button is discard else CancelGate.KEEP if button is keep else CancelGate.CONTINUE
            )
            gate.decide(choice)
            self.cancel_box = None
            if choice == CancelGate.CONTINUE:
                self.cancel_import_button.setEnabled(True)
                text.setText("Continuing…")
            else:
                text.setText("Stopping…")

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
    def _show_summary_page(self) -> None:
        self.pages.setCurrentIndex(self.PAGE_SUMMARY)
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
            self.summary_view.show_saved(target, exc)
        else:
            self.summary_view.show_saved(target)

    def start_over(self) -> None:
        self.import_result = None
        self.preview = self.mapping = None
        self.report_path = None
        self.outcome = ""
        self.setup_view.clear_file()
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
