"""The report of an export run (issue 7): at the end of a run in the export dialog, and as an export run's details
on the Runs page.

:class:`ExportReportView` shows the outcome counts, the warnings (the plan's, and the Slack summary's failure),
failures grouped by cause, every record's outcome with its CRM id or error (a lazy table, a page at a time), and
the actions: **Retry failed** (plans the failed records again, as a new run), **Save failed rows as CSV…** (the
engine's formula-safe writer), **Restore removed associations** (after a confirmation naming how many), and
**Resume** for an interrupted, cancelled or failed run.

It renders :mod:`enginy_desktop.core.export.interactive` and forwards the user's choices to the engine; the
coroutines (``restore``, ``save_failed_csv``, ``resume``) are what tests call directly.

Signals: ``retryRequested(int)`` — the run whose failed records to plan again (the export dialog does it);
``changed()`` — the run changed (restored, resumed): the Runs page refreshes; ``statusMessage(str)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import PRIMARY_REMOVE_WARNING
from enginy_desktop.core.export import interactive as ui
from enginy_desktop.core.export.report import RecordOutcome, write_failed_csv
from enginy_desktop.core.export.run import ExportResult, restore_removed_associations
from enginy_desktop.core.export.run import resume as resume_export
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunHandle, RunInfo

from .file_pickers import PickSave, csv_saver
from .formatting import window_text
from .message import MessageBox
from .run_progress import EXPORT_COUNTERS, CounterTiles, ProgressDialog, main_window_of, number, show_progress
from .table_model import PagedTableModel
from .tasks import TaskKeeper

log = logging.getLogger(__name__)

__all__ = [
    "ACTIVE_EXPORTS",
    "REPORT_COUNTERS",
    "ExportReportView",
    "ReportRecordsModel",
    "export_run_detail",
    "follow_export",
    "save_file_dialog",
]

# Export runs started from the window, referenced until they end (a dialog may close while its run goes on).
ACTIVE_EXPORTS: set[RunHandle] = set()

REPORT_COUNTERS: tuple[tuple[str, str, str], ...] = (*EXPORT_COUNTERS, ("blocked", "Blocked", "warning"))
PAGE = 200

OUTCOME_LABELS = {
    "created": "Created",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "merged": "Merged (local duplicate)",
    "existed": "Already there",
    "blocked": "Blocked",
    "failed": "Failed",
    "": "Not done yet",
}
EFFECT_LABELS = {"set": "set", "fill": "filled", "overwrite": "overwritten", "keep": "kept"}


def _plural(n: int, one: str, many: str) -> str:
    return f"{number(n)} {one if n == 1 else many}"


def outcome_label(r: RecordOutcome) -> str:
    if r.state == "failed":
        return "Failed"
    if r.state == "skipped":
        return "Blocked"
    if r.state in ("pending", "in_flight"):
        return "Not done yet" if r.state == "pending" else "Sent, not confirmed"
    return OUTCOME_LABELS.get(r.outcome, r.outcome.capitalize())


_INTERNAL_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # hs_lead_status, enginy_ref


def readable(text: str, labels: ui.CrmLabels | None, obj: str | None = None) -> str:
    """A CRM's message with its internal field names replaced by their labels (“Enginy ref”, not enginy_ref)."""
    if not labels or not labels.fields or not text:
        return text

    def label_of(m: re.Match[str]) -> str:
        for o in (obj,) if obj else ("contact", "company"):
            label = labels.fields.get((o, m.group(0)))
            if label:
                return f"“{label}”"
        return m.group(0)

    return _INTERNAL_NAME.sub(label_of, text)


def detail_text(r: RecordOutcome, crm_name: str, labels: ui.CrmLabels | None = None) -> str:
    """What happened to one record, in a sentence or two (the table's tooltip and the pane under it)."""
    labels = labels or ui.CrmLabels()
    if r.error:
        return readable(window_text(r.error), labels, r.object)
    if r.outcome == "created":
        return f"Created in {crm_name} (ID {r.crm_id})." if r.crm_id else f"Created in {crm_name}."
    if r.outcome == "existed":
        return f"Already in {crm_name} (ID {r.crm_id}); not changed by this run."
    if r.changes:
        o = r.object
        parts = [f"{labels.field_label(o, str(c[0]))}: {labels.value_label(o, str(c[0]), c[1]) or 'empty'} → "
                 f"{labels.value_label(o, str(c[0]), c[2]) or 'empty'} ({EFFECT_LABELS.get(str(c[3]), c[3])})"
                 for c in r.changes]
        return "; ".join(parts)
    if r.outcome == "unchanged":
        return f"Already up to date in {crm_name}."
    return ""


def _group_lines(groups: list[Any], labels: ui.CrmLabels | None = None) -> list[str]:
    lines = []
    for g in groups[:8]:
        examples = f" — e.g. {', '.join(g.examples)}" if g.examples else ""
        lines.append(f"{number(g.count)} × {readable(window_text(g.reason), labels)}{examples}")
    if len(groups) > 8:
        lines.append(f"… and {number(len(groups) - 8)} other causes")
    return lines


class ReportRecordsModel(PagedTableModel[RecordOutcome]):
    """A run's records with their outcome, CRM id and error or changes, fetched a page at a time."""

    COLUMNS = ("Record", "Outcome", "CRM ID", "Error or changes")

    def __init__(self, fetch: Callable[[int, int], list[RecordOutcome]], total: int, crm_name: str,
                 parent: Any = None) -> None:
        super().__init__(fetch, total, parent)
        self.crm_name = crm_name
        self.labels = ui.CrmLabels()

    def text(self, row: RecordOutcome, column: int) -> Any:
        if column == 0:
            return row.label
        if column == 1:
            label = outcome_label(row)
            return f"{label} · company" if row.object == "company" else label
        if column == 2:
            return row.crm_id or "—"
        return detail_text(row, self.crm_name, self.labels).replace("\n", " ")

    def tooltip(self, row: RecordOutcome, column: int) -> str | None:
        return f"{row.label}\n{detail_text(row, self.crm_name, self.labels)}".strip()

    def key(self, row: RecordOutcome) -> Any:
        return row.local_id

    def record_at(self, row: int) -> RecordOutcome | None:
        return self.row_at(row)


#: Ask where to save the failed rows (window-modal ``open()``, never a nested event loop).
save_file_dialog = csv_saver("Save failed rows as CSV", "saveFailedPicker")


def _summarize(list_name: str, crm_name: str) -> Callable[[ExportResult], str]:
    def summarize(result: ExportResult) -> str:
        c = result.counters
        parts = [f"{number(int(c.get('created', 0)) + int(c.get('existed', 0)))} created",
                 f"{number(int(c.get('updated', 0)))} updated"]
        if c.get("failed"):
            parts.append(f"{number(int(c['failed']))} failed")
        verb = {"finished": "finished", "cancelled": "was cancelled", "failed": "failed"}.get(result.state,
                                                                                              result.state)
        tail = f" — {window_text(result.error)}" if result.error else ""
        return f"Export of “{list_name}” to {crm_name} {verb}: {', '.join(parts)}.{tail}"

    return summarize


async def follow_export(ctx: AppContext, run_id: int, *, parent: QWidget | None, list_name: str, crm_name: str,
                        resume: bool = False, on_background: Callable[[], None] | None = None,
                        on_handle: Callable[[RunHandle], None] | None = None,
                        after: Awaitable[Any] | None = None, dialog: ProgressDialog | None = None) -> ExportResult:
    """Carry out (or ``resume``) export run ``run_id`` as a :class:`RunHandle` with the progress dialog open
    (``dialog`` when one was built ahead, see :meth:`ExportDialog._prepare_progress`).

    ``after``: work to finish before the engine starts, the progress dialog already open (freeing the plan: two
    busy worker threads at once would keep the window waiting for the GIL).

    The engine runs on its own loop in a worker thread (:func:`ui.in_worker_thread`): its database work never
    stalls the window. Returns the engine's result; raises what the engine raised.
    """
    from enginy_desktop.core.export.run import execute

    handle = RunHandle("export", f"Exporting “{list_name}” to {crm_name}", verb="Exporting",
                       target=f"to {crm_name}", unit="records")
    handle.run_id = run_id
    ACTIVE_EXPORTS.add(handle)
    if on_handle is not None:
        on_handle(handle)
    window = main_window_of(parent)
    dialog = show_progress(handle, parent=window or parent, counters=EXPORT_COUNTERS, dialog=dialog)
    if on_background is not None:
        dialog.backgrounded.connect(on_background)
    token = handle.token
    relay = ui.ProgressRelay(handle.publish)  # the engine's snapshots, handed on by the window's loop

    async def engine_after() -> Any:
        if after is not None:
            await after
        return await ui.in_worker_thread(engine, token=token, relay=relay, name=f"export-{run_id}", pause_gc=True)

    def engine() -> Any:
        if resume:
            return resume_export(ctx, run_id, progress=relay, cancel=token)
        return execute(ctx, run_id, progress=relay, cancel=token)

    try:
        result: ExportResult = await handle.run(engine_after(), _summarize(list_name, crm_name))
    finally:
        ACTIVE_EXPORTS.discard(handle)
    return result


class ExportReportView(QWidget):
    """The report of export run ``run_id``. See the module's docstring."""

    retryRequested = Signal(int)
    changed = Signal()
    statusMessage = Signal(str)
    shows_counters = True  # the Runs page hides its own tiles for it
    shows_state = True  # and its note of a stopped run: this view says it, with what is left and Resume

    def __init__(self, ctx: AppContext, run_id: int, parent: QWidget | None = None, *,
                 data: ui.ReportData | None = None, load: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("exportReport")
        self.ctx = ctx
        self.run_id = run_id
        self.tasks = TaskKeeper()
        self.pick_save_file: PickSave = save_file_dialog
        self.confirm_box: QMessageBox | None = None
        self.handle: RunHandle | None = None

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(10)

        self.tiles = CounterTiles(REPORT_COUNTERS, columns=5)
        root.addWidget(self.tiles)
        self.extra = QLabel("")
        self.extra.setObjectName("fieldHelp")
        self.extra.setWordWrap(True)
        root.addWidget(self.extra)

        self.state_note = QFrame()
        self.state_note.setObjectName("reportStateNote")
        note_lay = QHBoxLayout(self.state_note)
        note_lay.setContentsMargins(10, 8, 8, 8)
        note_lay.setSpacing(10)
        self.state_text = QLabel("")
        self.state_text.setObjectName("reportStateText")
        self.state_text.setWordWrap(True)
        note_lay.addWidget(self.state_text, 1)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeRun")
        self.resume_button.setToolTip("Carry on from where the run stopped: nothing done is sent twice")
        self.resume_button.clicked.connect(lambda: self.tasks.start(self.resume()))
        note_lay.addWidget(self.resume_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.state_note.setVisible(False)
        self.resume_button.setVisible(False)
        root.addWidget(self.state_note)

        self.slack = QLabel("")
        self.slack.setObjectName("slackWarning")
        self.slack.setWordWrap(True)
        self.slack.setVisible(False)
        root.addWidget(self.slack)
        self.warnings = QLabel("")
        self.warnings.setObjectName("reportWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setTextFormat(Qt.TextFormat.PlainText)
        self.warnings.setVisible(False)
        root.addWidget(self.warnings)

        self.failures = QFrame()
        self.failures.setObjectName("failureGroups")
        fail_lay = QVBoxLayout(self.failures)
        fail_lay.setContentsMargins(12, 10, 12, 10)
        fail_lay.setSpacing(6)
        fail_title = QLabel("Failures by cause")
        fail_title.setObjectName("sectionTitle")
        fail_lay.addWidget(fail_title)
        self.failure_list = QLabel("")
        self.failure_list.setObjectName("failureList")
        self.failure_list.setWordWrap(True)
        self.failure_list.setTextFormat(Qt.TextFormat.PlainText)
        self.failure_list.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fail_lay.addWidget(self.failure_list)
        self.failures.setVisible(False)
        root.addWidget(self.failures)
        # Records the plan held back were never sent: said apart from failures, in the warning colour.
        self.blocked_box = QLabel("")
        self.blocked_box.setObjectName("blockedGroups")
        self.blocked_box.setWordWrap(True)
        self.blocked_box.setTextFormat(Qt.TextFormat.PlainText)
        self.blocked_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.blocked_box.setVisible(False)
        root.addWidget(self.blocked_box)

        actions = QHBoxLayout()
        actions.setSpacing(8)
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.setObjectName("retryFailed")
        self.retry_button.setToolTip("Plan the failed records again with today's values, then export them as a "
                                     "new run")
        self.retry_button.clicked.connect(lambda: self.retryRequested.emit(self.run_id))
        self.csv_button = QPushButton("Save failed rows as CSV…")
        self.csv_button.setObjectName("saveFailedCsv")
        self.csv_button.setToolTip("One row per failed record with the reason and every field, safe to open in a "
                                   "spreadsheet")
        self.csv_button.clicked.connect(self.ask_save_failed_csv)
        self.restore_button = QPushButton("Restore removed associations")
        self.restore_button.setObjectName("restoreAssociations")
        self.restore_button.clicked.connect(self.confirm_restore)
        for b in (self.retry_button, self.csv_button, self.restore_button):
            b.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            b.setVisible(False)  # until the report is read
            actions.addWidget(b)
        actions.addStretch(1)
        root.addLayout(actions)
        self.action_note = QLabel("")
        self.action_note.setObjectName("fieldHelp")
        self.action_note.setWordWrap(True)
        self.action_note.setVisible(False)
        root.addWidget(self.action_note)

        filters = QHBoxLayout()
        filters.setSpacing(8)
        show = QLabel("Show")
        show.setObjectName("fieldHelp")
        filters.addWidget(show)
        self.filter = QComboBox()
        self.filter.setObjectName("reportFilter")
        self.filter.setAccessibleName("Show records")
        # Its items arrive with the report: size to them then, not to the empty box first shown (it was cut).
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.filter.currentIndexChanged.connect(lambda _i: self.reload_records())
        filters.addWidget(self.filter)
        self.caption = QLabel("")
        self.caption.setObjectName("fieldHelp")
        filters.addWidget(self.caption, 1)
        root.addLayout(filters)

        self.model = ReportRecordsModel(lambda o, n: [], 0, "the CRM", self)
        self.table = QTableView()
        self.table.setObjectName("reportRecords")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAccessibleName("Exported records")
        self.table.setMinimumHeight(200)
        head = self.table.horizontalHeader()
        head.setHighlightSections(False)
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        # Fixed widths, not ResizeToContents: sizing to the loaded rows' contents costs a stall at each page.
        for col, width in ((1, 170), (2, 110)):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            head.resizeSection(col, width)
        head.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        head.resizeSection(0, 240)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        root.addWidget(self.table, 1)
        self.detail = QLabel("")
        self.detail.setObjectName("recordDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setVisible(False)
        root.addWidget(self.detail)

        self.filter_counts: dict[str, int] = {}
        self.crm_name = "the CRM"
        if data is not None:
            self.show_data(data)
        elif load:
            self.refresh()

    # -- rendering -----------------------------------------------------------------------------------------------
    def refresh(self) -> ui.ReportSummary:
        """Read the report here (small runs, tests); :meth:`reload` reads it in a worker thread."""
        return self.show_data(ui.report_data(self.ctx, self.run_id, self._current_filter()))

    async def reload(self) -> ui.ReportSummary:
        """Read the report in a worker thread (a 100,000-record run takes a moment), then render it."""
        data = await ui.in_thread(ui.report_data, self.ctx, self.run_id, self._current_filter())
        return self.show_data(data)

    def _current_filter(self) -> str | None:
        current = self.filter.currentData()
        return str(current) if current else None

    def show_data(self, data: ui.ReportData) -> ui.ReportSummary:
        s = data.summary
        self.summary = s
        run = s.run
        self.crm_name = str(run.options.get("crm_name") or run.crm or "the CRM")
        self.model.crm_name = self.crm_name
        self.model.labels = data.labels
        c = s.counts
        self.tiles.set_counts({**c, "created": int(c.get("created", 0)) + int(c.get("existed", 0))})
        extra = []
        if c.get("existed"):
            extra.append(f"{_plural(int(c['existed']), 'record was', 'records were')} already in {self.crm_name}")
        if c.get("merged"):
            extra.append(f"{_plural(int(c['merged']), 'local duplicate', 'local duplicates')} merged")
        assoc = int(c.get("associations_done", 0))
        if assoc:
            extra.append(f"{_plural(assoc, 'company association', 'company associations')} added")
        removed = int(c.get("removals_done", 0))
        if removed:
            extra.append(f"{_plural(removed, 'association', 'associations')} removed")
        acts = int(c.get("activities_done", 0))
        if acts:
            extra.append(f"{_plural(acts, 'activity', 'activities')} logged")
        if c.get("failed_ops"):
            extra.append(f"{_plural(int(c['failed_ops']), 'association or activity', 'associations or activities')}"
                         " failed")
        left = int(c.get("pending", 0)) + int(c.get("in_flight", 0))
        if left:
            extra.append(f"{_plural(left, 'record', 'records')} not done yet")
        self.extra.setText(" · ".join(extra))
        self.extra.setVisible(bool(extra))

        note = ""
        if run.state == "failed":
            reason = window_text(run.error) or "no reason was recorded."
            note = f"This export stopped: {reason} Everything done before is kept."
        elif run.state == "cancelled":
            note = "This export was cancelled. What it did before it stopped is kept."
        elif run.state == "interrupted":
            note = f"{window_text(run.error) or 'This export was interrupted.'} What it did before is kept."
        if note and s.can_resume and left:
            note += " Resume carries on from where it stopped, without sending anything twice."
        self.state_text.setText(note)
        self.state_note.setVisible(bool(note))
        self.state_note.setProperty("state", run.state)
        self.state_note.style().unpolish(self.state_note)
        self.state_note.style().polish(self.state_note)
        self.resume_button.setVisible(s.can_resume and left > 0)
        self.resume_button.setEnabled(not self._running())

        self.slack.setText(f"Slack: {s.slack_warning} The export itself is not affected." if s.slack_warning else "")
        self.slack.setVisible(bool(s.slack_warning))
        warnings = [w for w in s.warnings if not (c.get("removals_done") and PRIMARY_REMOVE_WARNING in w)]
        shown = warnings[:6]
        text = "\n".join(f"• {w}" for w in shown)
        if len(warnings) > len(shown):
            text += f"\n… and {number(len(warnings) - len(shown))} more"
        self.warnings.setText(f"Warnings from the plan\n{text}" if warnings else "")
        self.warnings.setVisible(bool(warnings))

        failed = [g for g in s.failures if not g.blocked]
        lines = _group_lines(failed, self.model.labels)
        self.failure_list.setText("\n".join(lines))
        self.failures.setVisible(bool(lines))
        blocked = _group_lines([g for g in s.failures if g.blocked], self.model.labels)
        self.blocked_box.setText("Blocked by the plan (not sent to the CRM)\n" + "\n".join(blocked) if blocked else "")
        self.blocked_box.setVisible(bool(blocked))

        self.retry_button.setVisible(s.can_retry)
        self.retry_button.setText(f"Retry {number(s.failed)} failed" if s.failed else "Retry failed")
        self.retry_button.setEnabled(run.list_id is not None and not run.active)
        self.csv_button.setVisible(s.failed > 0)
        self.restore_button.setVisible(s.removed > 0)
        self.restore_button.setText(f"Restore {_plural(s.removed, 'removed association', 'removed associations')}")
        self.restore_button.setEnabled(not run.active)

        self.filter_counts = dict(data.filter_counts)
        self.filter.blockSignals(True)
        self.filter.clear()
        for key, label in ui.OUTCOME_FILTERS.items():
            n = self.filter_counts.get(key, 0)
            if key != "all" and not n:
                continue
            self.filter.addItem(f"{label} ({number(n)})", key)
        self.filter.setCurrentIndex(max(0, self.filter.findData(data.outcome)))
        self.filter.blockSignals(False)
        self._show_records(data.outcome, data.first_page)
        return s

    def reload_records(self) -> None:
        """The chosen filter's records, from the first page (its count is known: one indexed page is read)."""
        key = str(self.filter.currentData() or "all")
        self._show_records(key, ui.report_rows(self.ctx, self.run_id, key, 0, PAGE))

    def _show_records(self, key: str, first: list[RecordOutcome]) -> None:
        total = self.filter_counts.get(key, len(first))
        ctx, run_id = self.ctx, self.run_id
        pages: list[list[RecordOutcome]] = [first]

        def fetch(offset: int, limit: int) -> list[RecordOutcome]:
            if offset == 0 and pages:
                return pages.pop()
            return ui.report_rows(ctx, run_id, key, offset, limit)

        self.model.reset(fetch, total)
        if self.model.canFetchMore(QModelIndex()):
            self.model.fetchMore(QModelIndex())
        self.caption.setText(_plural(total, "record", "records"))
        self.detail.setVisible(False)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        r = self.model.record_at(current.row()) if current.isValid() else None
        if r is None:
            self.detail.setVisible(False)
            return
        crm = f" · {self.crm_name} ID {r.crm_id}" if r.crm_id else ""
        text = detail_text(r, self.crm_name, self.model.labels)
        self.detail.setText(f"{r.label} — {outcome_label(r)}{crm}\n{text}".strip())
        self.detail.setVisible(True)

    def _running(self) -> bool:
        return any(h.run_id == self.run_id and not h.done for h in ACTIVE_EXPORTS)

    def _note(self, text: str, ok: bool = True) -> None:
        self.action_note.setObjectName("okNote" if ok else "runError")
        self.action_note.setText(text)
        self.action_note.setVisible(bool(text))
        self.action_note.style().unpolish(self.action_note)
        self.action_note.style().polish(self.action_note)

    # -- save failed rows ----------------------------------------------------------------------------------------
    def ask_save_failed_csv(self) -> None:
        name = f"export-{self.run_id}-failed.csv"
        self.pick_save_file(self, name, lambda path: self.tasks.start(self.save_failed_csv(path)))

    async def save_failed_csv(self, path: Path) -> int:
        try:
            n = await ui.in_thread(write_failed_csv, self.ctx, self.run_id, path)
        except OSError as exc:
            self._note(f"The file could not be written: {exc}", ok=False)
            return 0
        self._note(f"Saved {_plural(n, 'failed row', 'failed rows')} to {path}. Cells that a spreadsheet would "
                   "run as formulas start with an apostrophe.")
        self.statusMessage.emit(f"Saved {_plural(n, 'failed row', 'failed rows')} to {path.name}.")
        return n

    # -- restore removed associations ----------------------------------------------------------------------------
    def confirm_restore(self) -> QMessageBox:
        """Ask before adding the removed associations back (Cancel is the default)."""
        n = self.summary.removed
        what = _plural(n, "association", "associations")
        box = MessageBox(self)
        box.setObjectName("confirmRestore")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(f"Restore {what}?")
        box.setText(f"Add the {what} this export removed back to {self.crm_name}?")
        box.setInformativeText("Each comes back as it was before the export; a company that was the primary one "
                               "comes back as an additional association (the export's primary company stays "
                               "primary).")
        restore = box.addButton(f"Restore {what}", QMessageBox.ButtonRole.AcceptRole)
        restore.setObjectName("confirmRestoreButton")
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        cancel.setObjectName("cancelRestore")
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)

        def answered(button: Any) -> None:
            self.confirm_box = None
            if button is restore:
                self.tasks.start(self.restore())

        box.buttonClicked.connect(answered)
        self.confirm_box = box
        box.open()
        return box

    async def restore(self) -> dict[str, int] | None:
        self.restore_button.setEnabled(False)
        self._note(f"Restoring the removed associations in {self.crm_name}…")
        ctx, run_id = self.ctx, self.run_id
        try:
            outcome = await ui.in_worker_thread(lambda: restore_removed_associations(ctx, run_id),
                                                name=f"restore-{run_id}")
        except Exception as exc:  # the CRM refused or could not be reached: say so, keep the journal
            log.warning("Restoring the associations of run %s failed: %s", run_id, exc)
            self._note(f"The associations could not be restored: {redact(exc)} Nothing was lost: try again later.",
                       ok=False)
            self.restore_button.setEnabled(True)
            return None
        restored, failed = outcome.get("restored", 0), outcome.get("failed", 0)
        text = f"Restored {_plural(restored, 'association', 'associations')} in {self.crm_name}."
        if failed:
            text += f" {_plural(failed, 'association', 'associations')} could not be restored; try again."
        await self.reload()
        self._note(text, ok=not failed)
        self.statusMessage.emit(text)
        self.changed.emit()
        return outcome

    # -- resume --------------------------------------------------------------------------------------------------
    async def resume(self) -> ExportResult | None:
        """Carry on this interrupted, cancelled or failed run, with the progress dialog; then show it again."""
        run = self.summary.run
        self.resume_button.setEnabled(False)

        def keep(handle: RunHandle) -> None:
            self.handle = handle

        try:
            result = await follow_export(self.ctx, self.run_id, parent=self, list_name=run.list_name,
                                         crm_name=self.crm_name, resume=True, on_handle=keep)
        except Exception as exc:
            log.warning("Resuming export run %s failed: %s", self.run_id, exc)
            self._note(f"The export could not be resumed: {redact(exc)}", ok=False)
            result = None
        await self.reload()
        self.changed.emit()
        return result


def export_run_detail(ctx: AppContext, run: RunInfo, parent: QWidget) -> QWidget | None:
    """The Runs page's details of an export run: its report (Retry failed opens the export dialog)."""
    import asyncio

    try:
        asyncio.get_running_loop()
        in_app = True  # the window: the report is read in a worker thread, the page stays responsive
    except RuntimeError:
        in_app = False
    try:
        view = ExportReportView(ctx, run.id, parent, load=not in_app)
    except Exception:
        log.exception("Cannot show the report of export run %s", run.id)
        return None
    if in_app:
        view.caption.setText("Reading the report…")
        view.tasks.start(view.reload())

    def retry(run_id: int) -> None:
        from .export_dialog import open_retry

        open_retry(ctx, run_id, view)

    def changed() -> None:
        page = view.parentWidget()
        while page is not None and not hasattr(page, "select_run"):
            page = page.parentWidget()
        if page is not None:
            page.select_run(run.id)

    view.retryRequested.connect(retry)
    view.changed.connect(changed)
    return view
