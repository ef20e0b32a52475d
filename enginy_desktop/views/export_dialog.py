"""Export a list — or the selected rows of it — to the enabled CRM: options, preview, run, report (issue 7).

:class:`ExportDialog` goes through four stages in one window:

1. **Options**: what is exported (contacts, and their companies with **Export associated companies**), the values
   of the Export fields of Step 2 (typed by their CRM field: text, number, date, yes/no, picklists with the CRM's
   options), campaign properties and activities on or off. When the export cannot be done (no CRM enabled, no
   export mapping — FAQ Q2 —, a field mapped in the wrong tab, credentials missing) it says why in the product's
   words, with a button to where it is fixed (Integrations, Configure, the connection).
2. **Planning**, in the background (a worker thread: the window never freezes), with its phase and Cancel.
3. **Preview**: the plan's counts (create / update / unchanged / blocked), the field-level summaries ("312 job
   titles would be overwritten"), the association changes — with how many associations "primary and remove
   previous" would remove —, the owner warnings, and every record with its before → after per field (a
   virtualized table). **Back** changes the options; **Export** starts the run (after an explicit confirmation
   naming the removals, whose safe answer is the default).
4. **Run** with the shared progress dialog (Run in background leaves the status-bar indicator), then the
   **report** (:class:`~.export_report.ExportReportView`).

The dialog renders :mod:`enginy_desktop.core.export` and forwards the user's choices to it. Its coroutines
(:meth:`ExportDialog.prepare`, :meth:`ExportDialog.make_plan`, :meth:`ExportDialog.run_export`) are what tests call.

Signals: ``runFinished(int)`` — an export run ended (its id).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.adapters.base import AdapterError, Value
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import PRIMARY_REMOVE_WARNING
from enginy_desktop.core.export import interactive as ui
from enginy_desktop.core.export.plan import ExportOptions, ExportRefused, Plan, PlanRecord, plan_export
from enginy_desktop.core.export.run import ExportResult, retry_failed, start_export
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import CancelToken, Progress, RunCancelled, RunHandle
from enginy_desktop.core.services.integrations import IntegrationError
from enginy_desktop.wizard.widgets import ValueEditor

from .export_report import ExportReportView, follow_export
from .formatting import window_text
from .guards import keep_text_readable
from .message import MessageBox
from .run_progress import (
    EXPORT_COUNTERS,
    CounterTiles,
    ProgressDialog,
    Spinner,
    format_duration,
    main_window_of,
    number,
)
from .table_model import TableModel
from .tasks import TaskKeeper
from .toggle import ToggleSwitch

log = logging.getLogger(__name__)

__all__ = ["ChangesModel", "ExportDialog", "PlanRecordsModel", "export_button_label", "open_retry"]

ACTION_LABELS = {"create": "Create", "update": "Update", "upsert": "Create or update", "unchanged": "Unchanged",
                 "merge": "Merge", "blocked": "Blocked"}
EFFECT_LABELS = {
    "set": "Set (new record)",
    "fill": "Filled — it was empty",
    "overwrite": "Overwritten",
    "keep": "Kept — Overwrite is off",
    "write": "Written — replaces any value",
}
PLAN_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("create", "Create", "good"),
    ("update", "Update", "good"),
    ("unchanged", "Unchanged", ""),
    ("blocked", "Blocked", "warning"),
)
# A blind upsert plan: the CRM decides create or update when it is written (the report says which).
BLIND_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("upsert", "Create or update", "good"),
    ("create", "Create (no key)", "good"),
    ("merge", "Merged", ""),
    ("blocked", "Blocked", "warning"),
)
RECORD_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("All records", None),
    ("Updated", "update"),
    ("Created", "create"),
    ("Unchanged", "unchanged"),
    ("Blocked", "blocked"),
    ("Merged (local duplicates)", "merge"),
    ("Created or updated (not read first)", "upsert"),
)
# The parts of the options page and of the preview, built one per turn of the event loop (see ExportDialog._open_later)
OPTION_PARTS = 3
PREVIEW_PARTS = 5
PREPARE_PROGRESS_AFTER_S = 0.1  # after the preview is on screen: the run's progress dialog is built ahead

FIX_LABELS = {
    ui.FIX_INTEGRATIONS: "Open Integrations",
    ui.FIX_CONFIGURE: "Configure {crm}",
    ui.FIX_CONNECT: "Connect {crm}",
    ui.FIX_SPLIT: "Export the first {n} now",
}


def export_button_label(ctx: AppContext) -> str:
    """"Export to HubSpot…" (the enabled CRM), or "Export to CRM…" when none is enabled."""
    spec = ctx.integrations.active_crm()
    return f"Export to {spec.name}…" if spec is not None else "Export to CRM…"


def _plural(n: int, one: str, many: str) -> str:
    return f"{number(n)} {one if n == 1 else many}"


def _nouns(obj: str) -> tuple[str, str]:
    return ("company", "companies") if obj == "company" else ("contact", "contacts")


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _page() -> tuple[QWidget, QVBoxLayout]:
    """An empty page of the dialog and its layout (its widgets come later)."""
    page = QWidget()
    lay = QVBoxLayout(page)
    lay.setContentsMargins(0, 0, 0, 0)
    return page, lay


def _shown(value: str | None) -> str:
    return "(empty)" if value in (None, "") else str(value)


class PlanRecordsModel(TableModel[PlanRecord]):
    """The plan's records of one object (and action): label, action, CRM id, a one-line summary of the changes.

    Virtualized by the view (uniform rows); the model holds references to the plan's records only.
    """

    COLUMNS = ("Record", "Action", "CRM ID", "What changes")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.labels: dict[tuple[str, str], str] = {}
        self.crm_labels = ui.CrmLabels()

    @property
    def records(self) -> list[PlanRecord]:
        return self.rows

    def set_records(self, records: list[PlanRecord], labels: dict[tuple[str, str], str]) -> None:
        self.labels = labels
        self.set_rows(records)

    def label(self, obj: str, name: str) -> str:
        return self.labels.get((obj, name)) or self.crm_labels.field_label(obj, name)

    def value(self, obj: str, name: str, value: Value | None) -> str:
        """A value as the user reads it: picklist labels, owners' names, "(empty)"."""
        return _shown(self.crm_labels.value_label(obj, name, value))

    def summary(self, r: PlanRecord) -> str:
        if r.action == "blocked" or r.action == "merge":
            return r.reason
        if r.action in ("create", "upsert"):
            names = [self.label(r.object, n) for n in r.payload]
            head = ", ".join(names[:4])
            more = f" and {number(len(names) - 4)} more" if len(names) > 4 else ""
            verb = "set" if r.action == "create" else "written"
            return f"{_plural(len(names), 'field', 'fields')} {verb}: {head}{more}" if names else "No values to send"
        if r.action == "update":
            parts = [f"{self.label(r.object, f)}: {self.value(r.object, f, b)} → {self.value(r.object, f, a)}"
                     for f, b, a, e in r.changes if e in ("fill", "overwrite")]
            kept = sum(1 for c in r.changes if c[3] == "keep")
            text = " · ".join(parts[:3]) + (f" · {number(len(parts) - 3)} more" if len(parts) > 3 else "")
            if kept:
                text += f" ({_plural(kept, 'value', 'values')} kept)"
            return text
        kept = sum(1 for c in r.changes if c[3] == "keep")
        return f"Up to date ({_plural(kept, 'different value', 'different values')} kept: Overwrite is off)" if kept \
            else "Already up to date"

    def text(self, r: PlanRecord, column: int) -> Any:
        if column == 0:
            return r.label
        if column == 1:
            return ACTION_LABELS.get(r.action, r.action)
        if column == 2:
            return r.crm_id or "—"
        return self.summary(r)

    def tooltip(self, r: PlanRecord, column: int) -> str | None:
        return f"{r.label}\n{self.summary(r)}"

    def key(self, r: PlanRecord) -> Any:
        return r.local_id

    def record_at(self, row: int) -> PlanRecord | None:
        return self.row_at(row)


class ChangesModel(TableModel[tuple[str, str, str, str]]):
    """One record's fields: in the CRM now → after the export, and what happens (set, filled, overwritten, kept)."""

    COLUMNS = ("Field", "In the CRM now", "After the export", "What happens")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = self.COLUMNS  # "In HubSpot now" once a record of a CRM is shown

    def show_record(self, r: PlanRecord | None, model: PlanRecordsModel, crm_name: str) -> None:
        self.columns = ("Field", f"In {crm_name} now", "After the export", "What happens")
        rows: list[tuple[str, str, str, str]] = []
        if r is not None:
            o = r.object
            if r.action == "create":
                rows = [(model.label(o, n), "—", model.value(o, n, v), EFFECT_LABELS["set"])
                        for n, v in r.payload.items()]
            elif r.action == "upsert":  # not read first: what the CRM holds now is not known
                rows = [(model.label(o, n), "Not read", model.value(o, n, v), EFFECT_LABELS["write"])
                        for n, v in r.payload.items()]
            else:
                rows = [(model.label(o, f), model.value(o, f, b), model.value(o, f, a), EFFECT_LABELS.get(e, e))
                        for f, b, a, e in r.changes]
        self.set_rows(rows)

    def headers(self) -> tuple[str, ...]:
        return self.columns

    def text(self, row: tuple[str, str, str, str], column: int) -> Any:
        return row[column]


def _table(name: str, model: QAbstractTableModel, accessible: str) -> QTableView:
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(30)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # uniform rows: 100,000 stay fast
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setAccessibleName(accessible)
    table.setTabKeyNavigation(False)
    head = table.horizontalHeader()
    head.setHighlightSections(False)
    head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    head.setStretchLastSection(True)
    return table


def _section(title: str, name: str) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName(name)
    frame.setProperty("exportSection", True)
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(14, 12, 14, 12)
    lay.setSpacing(8)
    heading = QLabel(title)
    heading.setObjectName("sectionTitle")
    lay.addWidget(heading)
    return frame, lay


def _caption(text: str = "", name: str = "fieldHelp") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


class _Switch(QWidget):
    """A switch with its label and a caption under the label; the label is its accessible name."""

    def __init__(self, name: str, label: str, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(10)
        self.switch = ToggleSwitch()
        self.switch.setObjectName(name)
        self.switch.setAccessibleName(label)
        lay.addWidget(self.switch, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        self.label = QLabel(label)
        self.label.setObjectName("switchLabel")
        self.label.setWordWrap(True)
        self.caption = _caption(caption)
        texts.addWidget(self.label)
        texts.addWidget(self.caption)
        lay.addLayout(texts, 1)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API: a click on the label toggles too
        if self.switch.isEnabled():
            self.switch.click()
        super().mousePressEvent(event)


class ExportDialog(QDialog):
    """Options → planning → preview → run → report. See the module's docstring."""

    runFinished = Signal(int)

    def __init__(self, ctx: AppContext, list_id: int, record_ids: Sequence[int] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.list_id = list_id
        self.record_ids = tuple(record_ids) if record_ids is not None else None
        self.read_current = False  # the user asked to read the CRM first (no blind upsert)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export to your CRM")
        self.setModal(False)
        self.resize(720, 620)
        self.setMinimumSize(520, 440)
        self.tasks = TaskKeeper()
        self.setup: ui.ExportSetup | None = None
        self.plan: Plan | None = None
        self.preview: ui.PlanPreview | None = None
        self.plan_gc = ui.GcPause()
        # While the dialog is open the window's heap is frozen: a full garbage collection (~70 ms on it) never
        # pauses the options, the preview or the report; released when the dialog closes (see ui.GcPause).
        self.dialog_gc = ui.GcPause()
        self.dialog_gc.hold()
        self.destroyed.connect(self.dialog_gc.release)
        self.retry_of: int | None = None
        self.plan_token: CancelToken | None = None
        self.handle: RunHandle | None = None
        self.export_result: ExportResult | None = None
        self.report: ExportReportView | None = None
        self.report_scroll: QScrollArea | None = None
        self.confirm_box: QMessageBox | None = None
        self.editors: dict[str, Any] = {}
        self._backgrounded = False
        self._last_refusal: ui.Refusal | None = None
        self._report_error = ""

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(10)
        self.title = QLabel("Export to your CRM")
        self.title.setObjectName("dialogTitle")
        self.title.setWordWrap(True)
        root.addWidget(self.title)
        self.subtitle = QLabel("Checking the CRM configuration…")  # until prepare() has read the setup
        self.subtitle.setObjectName("dialogSubtitle")
        self.subtitle.setWordWrap(True)
        root.addWidget(self.subtitle)

        self.refusal = QFrame()
        self.refusal.setObjectName("exportRefusal")
        ref_lay = QHBoxLayout(self.refusal)
        ref_lay.setContentsMargins(12, 10, 10, 10)
        ref_lay.setSpacing(12)
        self.refusal_text = QLabel("")
        self.refusal_text.setObjectName("exportRefusalText")
        self.refusal_text.setWordWrap(True)
        self.refusal_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        ref_lay.addWidget(self.refusal_text, 1)
        self.fix_button = QPushButton("")
        self.fix_button.setObjectName("exportFix")
        self.fix_button.clicked.connect(self.fix)
        ref_lay.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.refusal.setVisible(False)
        root.addWidget(self.refusal)

        self.pages = QStackedWidget()
        root.addWidget(self.pages, 1)
        # The pages are empty here: their widgets (the style sheet's polish and the size hints of each subtree cost
        # the window tens of milliseconds) are built once the dialog is on screen, a part per turn of the event loop
        # (see _open_later), or at once when first needed (_ensure_options, _ensure_planning, _ensure_preview).
        self.options_page, self._options_shell = _page()
        self._options_parts = 0  # of OPTION_PARTS built
        self.planning_page, self._planning_layout = _page()
        self._planning_layout.setContentsMargins(0, 24, 0, 0)
        self._planning_layout.setSpacing(10)
        self._planning_built = False
        self.records_model = PlanRecordsModel(self)
        self.changes_model = ChangesModel(self)
        self.preview_tabs: QTabWidget | None = None
        self._preview_parts = 0  # of PREVIEW_PARTS built
        self.preview_page, self._preview_layout = _page()
        self.report_page, self.report_layout = _page()
        for page in (self.options_page, self.planning_page, self.preview_page, self.report_page):
            self.pages.addWidget(page)
        # The run's progress dialog, built while the user reads the preview so that Export only opens it.
        self._progress: ProgressDialog | None = None
        self.finished.connect(self._drop_progress)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        self.footer = _caption("Nothing is written to your CRM before you have seen the preview.")
        buttons.addWidget(self.footer, 1)
        buttons.addStretch(0)  # the buttons keep their size when the caption is hidden
        self.back_button = QPushButton("Back")
        self.back_button.setObjectName("exportBack")
        self.back_button.setToolTip("Change the options (the plan is made again)")
        self.back_button.clicked.connect(self.back)
        self.close_button = QPushButton("Cancel")
        self.close_button.setObjectName("closeExport")
        self.close_button.clicked.connect(self.reject)
        self.next_button = QPushButton("Preview")
        self.next_button.setObjectName("previewExport")
        self.next_button.setProperty("primary", True)
        self.next_button.clicked.connect(self._next_clicked)
        for b in (self.back_button, self.close_button, self.next_button):
            b.setAutoDefault(False)  # Enter presses the stage's default button, never the focused Cancel
            buttons.addWidget(b)
        root.addLayout(buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self, self._next_clicked)

        self._set_stage(self.options_page)
        if self.tasks.start(self._open_later()) is None:  # no event loop to build them later: now
            self._ensure_options()
            self._ensure_planning()
            self._ensure_preview()
        else:
            self.next_button.setEnabled(False)  # until prepare() has read what the options show

    # -- building ------------------------------------------------------------------------------------------------
    async def _open_later(self) -> None:
        """Build the pages' widgets once the dialog is on screen, a part per turn of the event loop (each a few
        milliseconds of the window's time), so opening the dialog never stalls the window for all of them at once:
        the options' sections first, then :meth:`prepare` renders into them, then the preview's tabs and the planning
        page are built while the user reads the options (never while prepare's worker thread computes: the window's
        thread would wait for the interpreter at each of its many calls into Qt)."""
        await self._build_parts(functools.partial(self._ensure_options, part) for part in range(1, OPTION_PARTS + 1))
        await self.prepare()
        await self._build_parts((*(functools.partial(self._ensure_preview, part)
                                   for part in range(1, PREVIEW_PARTS + 1)), self._ensure_planning))

    @staticmethod
    async def _build_parts(steps: Iterable[Callable[[], object]]) -> None:
        for step in steps:
            await asyncio.sleep(0.02)  # a real pause (not 0): the window repaints and handles input in between
            step()

    def _built(self) -> None:
        """A page got its last part: the dialog's minimum height counts it, as when it was built with the rest."""
        if self.isVisible():
            keep_text_readable(self)

    def _ensure_options(self, parts: int = OPTION_PARTS) -> None:
        """The options page's first ``parts`` parts, built now if not yet: the Export fields (in their scroll
        area), the associated companies, the campaigns."""
        builders = (self._build_fields, self._build_companies, self._build_campaigns)
        while self._options_parts < min(parts, OPTION_PARTS):
            builders[self._options_parts]()
            self._options_parts += 1
            if self._options_parts == OPTION_PARTS:
                self._built()

    def _build_fields(self) -> None:
        scroll = QScrollArea()
        scroll.setObjectName("exportOptionsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        host = QWidget()
        lay = QVBoxLayout(host)
        lay.setContentsMargins(0, 4, 4, 4)
        lay.setSpacing(12)
        self._options_layout = lay

        self.fields_frame, fields_lay = _section("Export fields", "exportFields")
        self.fields_help = _caption("Step 2 asks for these values at each export. A field left empty is not written.")
        fields_lay.addWidget(self.fields_help)
        self.fields_form = QFormLayout()
        self.fields_form.setHorizontalSpacing(12)
        self.fields_form.setVerticalSpacing(8)
        self.fields_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.fields_form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        fields_lay.addLayout(self.fields_form)
        self.fields_note = _caption("")
        self.fields_note.setVisible(False)
        fields_lay.addWidget(self.fields_note)
        self.fields_frame.setVisible(False)
        lay.addWidget(self.fields_frame)
        scroll.setWidget(host)
        self._options_shell.addWidget(scroll)
        if self.stage() == "options" and self.focusWidget() in (None, self.close_button):
            scroll.setFocus()  # where the focus is when the dialog opens with its options built (not on Cancel)

    def _build_companies(self) -> None:
        self.companies_frame, comp_lay = _section("Associated companies", "exportCompanies")
        self.companies_switch = _Switch("associatedCompanies", "Export associated companies")
        self.companies_switch.switch.toggled.connect(lambda _on: self._options_changed())
        comp_lay.addWidget(self.companies_switch)
        self.removal_warning = _caption("", "removalWarning")
        self.removal_warning.setVisible(False)
        comp_lay.addWidget(self.removal_warning)
        self._options_layout.addWidget(self.companies_frame)

    def _build_campaigns(self) -> None:
        self.campaign_frame, camp_lay = _section("Campaigns", "exportCampaigns")
        self.properties_switch = _Switch("campaignProperties", "Campaign properties")
        self.properties_switch.switch.setChecked(True)
        camp_lay.addWidget(self.properties_switch)
        self.activities_switch = _Switch("campaignActivities", "Activities from campaign events")
        self.activities_switch.switch.setChecked(True)
        camp_lay.addWidget(self.activities_switch)
        self._options_layout.addWidget(self.campaign_frame)
        self._options_layout.addStretch(1)

    def _ensure_planning(self) -> None:
        """The planning page's widgets, built now if not yet."""
        if self._planning_built:
            return
        self._planning_built = True
        lay = self._planning_layout
        row = QHBoxLayout()
        row.setSpacing(8)
        self.plan_spinner = Spinner(size=16)
        row.addWidget(self.plan_spinner)
        self.plan_phase = QLabel("Preparing the preview…")
        self.plan_phase.setObjectName("progressPhase")
        self.plan_phase.setWordWrap(True)
        row.addWidget(self.plan_phase, 1)
        lay.addLayout(row)
        self.plan_bar = QProgressBar()
        self.plan_bar.setObjectName("progressBar")
        self.plan_bar.setTextVisible(False)
        self.plan_bar.setRange(0, 0)
        self.plan_bar.setFixedHeight(8)
        self.plan_bar.setAccessibleName("Planning progress")
        lay.addWidget(self.plan_bar)
        self.plan_numbers = _caption("", "progressNumbers")
        lay.addWidget(self.plan_numbers)
        lay.addWidget(_caption("Enginy finds each record in your CRM and reads its current values to show what "
                               "would change. Nothing is written yet."))
        lay.addStretch(1)
        self._built()

    def _ensure_preview(self, parts: int = PREVIEW_PARTS) -> QTabWidget:
        """The preview's tabs with their first ``parts`` parts, built now if not yet: the Summary tab's counts of
        contacts, of companies, its sections, the Records tab's table, the selected record's fields."""
        builders = (self._build_summary, self._build_company_tiles, self._build_summary_sections, self._build_records,
                    self._build_record_detail)
        while self._preview_parts < min(parts, PREVIEW_PARTS):
            builders[self._preview_parts]()
            self._preview_parts += 1
            if self._preview_parts == PREVIEW_PARTS:
                self._built()
        assert self.preview_tabs is not None
        return self.preview_tabs

    def _build_summary(self) -> None:
        self.preview_tabs = QTabWidget()
        self.preview_tabs.setObjectName("previewTabs")
        self.preview_tabs.setDocumentMode(True)
        summary_scroll = QScrollArea()
        summary_scroll.setWidgetResizable(True)
        summary_scroll.setFrameShape(QFrame.Shape.NoFrame)
        host = QWidget()
        lay = QVBoxLayout(host)
        lay.setContentsMargins(0, 10, 4, 4)
        lay.setSpacing(10)
        self.contact_heading = QLabel("Contacts")
        self.contact_heading.setObjectName("sectionTitle")
        lay.addWidget(self.contact_heading)
        self.contact_tiles = CounterTiles(PLAN_COUNTERS)
        self.contact_tiles.setObjectName("contactPlanTiles")
        lay.addWidget(self.contact_tiles)
        self.contact_blind_tiles = CounterTiles(BLIND_COUNTERS)
        self.contact_blind_tiles.setObjectName("contactBlindTiles")
        lay.addWidget(self.contact_blind_tiles)
        summary_scroll.setWidget(host)
        self._summary_layout = lay
        self.preview_tabs.addTab(summary_scroll, "Summary")
        self._preview_layout.addWidget(self.preview_tabs)

    def _build_company_tiles(self) -> None:
        lay = self._summary_layout
        self.company_heading = QLabel("Companies")
        self.company_heading.setObjectName("sectionTitle")
        lay.addWidget(self.company_heading)
        self.company_tiles = CounterTiles(PLAN_COUNTERS)
        self.company_tiles.setObjectName("companyPlanTiles")
        lay.addWidget(self.company_tiles)
        self.company_blind_tiles = CounterTiles(BLIND_COUNTERS)
        self.company_blind_tiles.setObjectName("companyBlindTiles")
        lay.addWidget(self.company_blind_tiles)

    def _build_summary_sections(self) -> None:
        lay = self._summary_layout
        self.changes_frame, ch_lay = _section("What would change", "previewSummary")
        self.summary_list = QLabel("")
        self.summary_list.setObjectName("summaryList")
        self.summary_list.setWordWrap(True)
        self.summary_list.setTextFormat(Qt.TextFormat.PlainText)
        ch_lay.addWidget(self.summary_list)
        # A blind upsert: the CRM is not read first; this plans again, reading it (before -> after, slower).
        self.read_first_button = QPushButton("Read the CRM first")
        self.read_first_button.setObjectName("readFirstButton")
        self.read_first_button.setToolTip("Plan again, reading each record's current values first: the preview "
                                          "shows before → after and the report keeps what was replaced.")
        self.read_first_button.clicked.connect(self._read_first)
        self.read_first_button.setVisible(False)
        read_row = QHBoxLayout()
        read_row.addWidget(self.read_first_button)
        read_row.addStretch(1)
        ch_lay.addLayout(read_row)
        lay.addWidget(self.changes_frame)

        self.assoc_frame, as_lay = _section("Company associations", "associationChanges")
        self.assoc_text = _caption("", "assocText")
        as_lay.addWidget(self.assoc_text)
        self.removals_box = QLabel("")
        self.removals_box.setObjectName("removalsBox")
        self.removals_box.setWordWrap(True)
        as_lay.addWidget(self.removals_box)
        lay.addWidget(self.assoc_frame)

        self.warnings_frame, w_lay = _section("Check before exporting", "previewWarnings")
        self.warnings_list = QLabel("")
        self.warnings_list.setObjectName("warningsList")
        self.warnings_list.setWordWrap(True)
        self.warnings_list.setTextFormat(Qt.TextFormat.PlainText)
        w_lay.addWidget(self.warnings_list)
        lay.addWidget(self.warnings_frame)
        lay.addStretch(1)

    def _build_records(self) -> None:
        records = QWidget()
        r_lay = QVBoxLayout(records)
        r_lay.setContentsMargins(0, 10, 0, 0)
        r_lay.setSpacing(8)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.object_box = QComboBox()
        self.object_box.setObjectName("previewObject")
        self.object_box.setAccessibleName("Object")
        self.object_box.currentIndexChanged.connect(lambda _i: self._fill_records())
        bar.addWidget(self.object_box)
        self.action_box = QComboBox()
        self.action_box.setObjectName("previewAction")
        self.action_box.setAccessibleName("Show")
        self.action_box.currentIndexChanged.connect(lambda _i: self._fill_records())
        bar.addWidget(self.action_box)
        self.records_caption = _caption("")
        bar.addWidget(self.records_caption, 1)
        r_lay.addLayout(bar)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.records_table = _table("previewRecords", self.records_model, "Records of the plan")
        head = self.records_table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        head.resizeSection(0, 280)
        # Fixed widths, not ResizeToContents: sizing to 100,000 rows' contents would stall the window.
        for col, width in ((1, 100), (2, 110)):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            head.resizeSection(col, width)
        self.records_table.selectionModel().currentRowChanged.connect(self._record_selected)
        split.addWidget(self.records_table)
        r_lay.addWidget(split, 1)
        self._records_split = split
        assert self.preview_tabs is not None
        self.preview_tabs.addTab(records, "Records")

    def _build_record_detail(self) -> None:
        split = self._records_split
        detail = QWidget()
        d_lay = QVBoxLayout(detail)
        d_lay.setContentsMargins(0, 6, 0, 0)
        d_lay.setSpacing(6)
        self.record_title = _caption("Select a record to see each field before and after the export.")
        d_lay.addWidget(self.record_title)
        self.changes_table = _table("recordChanges", self.changes_model, "Fields of the selected record")
        self.changes_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        ch_head = self.changes_table.horizontalHeader()
        for col in range(3):
            ch_head.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            ch_head.resizeSection(col, 170)
        d_lay.addWidget(self.changes_table, 1)
        split.addWidget(detail)
        split.setSizes([300, 200])

    # -- stages --------------------------------------------------------------------------------------------------
    def _set_stage(self, page: QWidget) -> None:
        if page is self.preview_page:
            self._ensure_preview()
        elif page is self.planning_page:
            self._ensure_planning()
        self.pages.setCurrentWidget(page)
        options, planning, preview, report = (page is self.options_page, page is self.planning_page,
                                              page is self.preview_page, page is self.report_page)
        self.back_button.setVisible(preview)
        self.next_button.setVisible(options or preview)
        self.footer.setVisible(options or preview)
        self.close_button.setText("Close" if report else "Cancel")
        self.close_button.setProperty("primary", report)
        _repolish(self.close_button)
        if options:
            self.next_button.setText("Preview")
            self.next_button.setObjectName("previewExport")
            self.footer.setText("Nothing is written to your CRM before you have seen the preview.")
        elif preview and self.preview is not None:
            self.next_button.setText(self._export_label(self.preview))
            self.next_button.setObjectName("startExport")
            self.footer.setText("")
        self.close_button.setDefault(report)
        self.next_button.setDefault(options or preview)
        if report or planning:
            self.close_button.setFocus()
        elif preview:
            self._ensure_preview().tabBar().setFocus()
        self.refusal.setVisible(options and self._last_refusal is not None)

    def stage(self) -> str:
        page = self.pages.currentWidget()
        return {id(self.options_page): "options", id(self.planning_page): "planning",
                id(self.preview_page): "preview", id(self.report_page): "report"}[id(page)]

    def _next_clicked(self) -> None:
        stage = self.stage()
        if stage == "options" and self.next_button.isEnabled():
            self.tasks.start(self.make_plan())
        elif stage == "preview" and self.next_button.isEnabled():
            self.start_export_clicked()

    # -- options -------------------------------------------------------------------------------------------------
    async def prepare(self) -> ui.ExportSetup | None:
        """Read what the options show (counts, Export fields, refusals); see :func:`ui.prepare_export`."""
        self.next_button.setEnabled(False)
        self.subtitle.setText("Checking the CRM configuration…")
        try:
            ctx, list_id, ids = self.ctx, self.list_id, self.record_ids
            setup = await ui.in_worker_thread(lambda: ui.prepare_export(ctx, list_id, ids), name="export-prepare")
        except Exception as exc:  # the list was deleted meanwhile, the database is locked…
            log.warning("Cannot prepare the export of list %s: %s", self.list_id, exc)
            self._show_refusal(ui.Refusal(f"The export cannot be prepared: {redact(exc)}", "error"))
            self.subtitle.setText("")
            return None
        self.setup = setup
        self.records_model.crm_labels = setup.labels
        self._ensure_options()
        self._render_setup(setup)
        return setup

    def _render_title(self, s: ui.ExportSetup) -> None:
        one, many = _nouns("contact" if s.list_kind == "contacts" else "company")
        self.setWindowTitle(f"Export to {s.crm_name}")
        if s.selection:
            self.title.setText(f"Export {_plural(s.records, 'selected ' + one, 'selected ' + many)} of "
                               f"“{s.list_name}” to {s.crm_name}")
        else:
            self.title.setText(f"Export “{s.list_name}” to {s.crm_name}")

    def _render_setup(self, s: ui.ExportSetup) -> None:
        contacts = s.list_kind == "contacts"
        self._render_title(s)
        # Export fields, typed by their CRM field
        while self.fields_form.rowCount():
            self.fields_form.removeRow(0)
        self.editors = {}
        for f in s.fields:
            editor = ValueEditor()
            editor.set_spec(f.spec, "")
            inner = editor.editor
            if inner is not None:
                inner.setObjectName(f"exportField-{f.object}-{f.name}")
                inner.setAccessibleName(f.label)
            tab = "Contacts" if f.object == "contact" else "Companies"
            label = QLabel(f"{f.label}")
            label.setToolTip(f"{tab} tab · {f.name} · Overwrite {'on' if f.overwrite else 'off'}")
            label.setBuddy(editor)
            self.fields_form.addRow(label, editor)
            self.editors[f.key] = editor
        self.fields_note.setText(s.fields_note)
        self.fields_note.setVisible(bool(s.fields_note))
        # Associated companies
        self.companies_frame.setVisible(contacts)
        assoc = s.association_type.label
        self.companies_switch.caption.setText(
            f"Each contact's company is found, created or updated in {s.crm_name} with the Companies tab, then "
            f"associated: {assoc}.")
        self.removal_warning.setText(f"⚠ {s.removal_warning} The preview says how many would be removed; you "
                                     "confirm before anything is sent.")
        # Campaigns
        self.campaign_frame.setVisible(contacts)
        if s.campaign_mapping:
            self.properties_switch.caption.setText(
                "The eight campaign properties of Step 3, from each contact's latest campaign "
                f"({_plural(s.campaign_leads, 'contact is', 'contacts are')} in a campaign).")
        else:
            self.properties_switch.caption.setText("No campaign property is mapped (Step 3 is optional): nothing to "
                                                   "export.")
        self.properties_switch.switch.setEnabled(s.campaign_mapping)
        self.properties_switch.switch.setChecked(s.campaign_mapping and self.properties_switch.switch.isChecked())
        self.activities_switch.caption.setText(
            f"Emails, LinkedIn messages and calls of the campaigns, logged on the contacts in {s.crm_name} and "
            "attributed through Identities Mapping (Step 4). An event is never logged twice.")
        self._options_changed()

    def _options_changed(self) -> None:
        s = self.setup
        if s is None:
            return
        with_companies = self.companies_switch.switch.isChecked() and s.list_kind == "contacts"
        one, many = _nouns("contact" if s.list_kind == "contacts" else "company")
        counts = _plural(s.records, one, many)
        if s.selection:
            counts += f" selected of {number(s.list_count)}"
        if with_companies:
            counts += f" and their {_plural(s.companies, 'company', 'companies')}"
        elif s.list_kind == "contacts" and s.companies:
            counts += f" (their {_plural(s.companies, 'company', 'companies')} are not exported)"
        self.subtitle.setText(f"{counts}, to {s.crm_name}, as Step 2 of its configuration says.")
        self.removal_warning.setVisible(with_companies and s.removes_previous)
        wanted = {f.key for f in s.fields_for(with_companies)}
        for row in range(self.fields_form.rowCount()):
            field_item = self.fields_form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            editor = field_item.widget() if field_item is not None else None
            key = next((k for k, e in self.editors.items() if e is editor), "")
            self.fields_form.setRowVisible(row, key in wanted)
        self.fields_frame.setVisible(bool(wanted) or bool(s.fields_note and s.fields))
        refusal = s.refusal_for(with_companies)
        self._show_refusal(refusal)
        if s.records == 0 and refusal is None:
            self._show_refusal(ui.Refusal(f"“{s.list_name}” has no records to export.", "empty"))
        self.next_button.setEnabled(self._last_refusal is None)

    def _show_refusal(self, refusal: ui.Refusal | None) -> None:
        self._last_refusal = refusal
        self.refusal.setVisible(refusal is not None and self.stage() == "options")
        if refusal is None:
            return
        self.refusal_text.setText(window_text(refusal.message))
        crm = self.setup.crm_name if self.setup is not None else "the CRM"
        label = FIX_LABELS.get(refusal.fix, "")
        self.fix_button.setText(label.format(crm=crm, n=number(len(refusal.split))))
        self.fix_button.setVisible(bool(label))
        self.next_button.setEnabled(False)

    def options(self) -> ExportOptions:
        self._ensure_options()
        s = self.setup
        with_companies = bool(s and s.list_kind == "contacts" and self.companies_switch.switch.isChecked())
        wanted = {f.key for f in s.fields_for(with_companies)} if s is not None else set()
        values = {k: e.value() for k, e in self.editors.items() if k in wanted and e.value().strip()}
        contacts = s is None or s.list_kind == "contacts"
        return ExportOptions(
            associated_companies=with_companies,
            campaign_properties=contacts and self.properties_switch.switch.isChecked(),
            activities=contacts and self.activities_switch.switch.isChecked(),
            export_values=values,
            record_ids=self.record_ids,
            read_current=self.read_current,
        )

    def fix(self) -> QWidget | None:
        """Take the user where the refusal is fixed: Integrations, the CRM's configuration, or its connection."""
        refusal = self._last_refusal
        if refusal is None:
            return None
        crm = self.setup.crm if self.setup is not None else ""
        if refusal.fix == ui.FIX_SPLIT:  # the first records that fit in today's budget; the rest after the reset
            self.record_ids = refusal.split
            self._show_refusal(None)
            self.next_button.setEnabled(True)
            self.tasks.start(self.make_plan())
            return None
        window = main_window_of(self)
        opened: QWidget | None = None
        if refusal.fix == ui.FIX_CONNECT and crm:
            from enginy_desktop.core import catalog

            from .connect_dialog import ConnectDialog

            dialog = ConnectDialog(self.ctx, catalog.get(crm), window or self)
            dialog.finished.connect(lambda _code: self.tasks.start(self.prepare()))
            dialog.open()
            opened = dialog
        elif window is not None and hasattr(window, "show_page"):
            page = window.show_page("integrations")
            if refusal.fix == ui.FIX_CONFIGURE and crm and hasattr(page, "configure"):
                page.configure(crm)
                opened = getattr(page, "current_dialog", None)
            self.reject()  # the user fixes it there, then exports again
        return opened

    # -- planning ------------------------------------------------------------------------------------------------
    def _read_first(self) -> None:
        """Plan again reading the CRM first (the blind upsert preview's button)."""
        self.read_current = True
        self.tasks.start(self.make_plan())

    async def make_plan(self, factory: Callable[[Callable[[Progress], None], CancelToken],
                                                Coroutine[Any, Any, Plan]] | None = None) -> Plan | None:
        """Plan the export with the chosen options in a worker thread, with its phase and Cancel; then show the
        preview. A refusal (the product's words) brings the options back with it."""
        if factory is None:
            if self.setup is None or self._last_refusal is not None:
                return None
            options = self.options()
            ctx, list_id = self.ctx, self.list_id

            def factory(progress: Callable[[Progress], None], token: CancelToken) -> Coroutine[Any, Any, Plan]:
                return plan_export(ctx, list_id, options, progress=progress, cancel=token)

            self.retry_of = None
        self.plan_gc.hold(pause=True)  # until the plan is dropped (Back, Export, closing): see ui.GcPause
        handle = RunHandle("plan", "Preparing the preview")
        handle.subscribe(self._plan_progress)
        token = handle.token
        self.plan_token = token
        self._ensure_planning()
        self.plan_phase.setText("Preparing the preview…")
        self.plan_numbers.setText("")
        self.plan_bar.setRange(0, 0)
        self._set_stage(self.planning_page)
        make = factory
        relay = ui.ProgressRelay(handle.publish)

        async def planned() -> tuple[Plan, ui.PlanPreview]:
            plan = await make(relay, token)
            return plan, ui.preview_of(plan)  # summarized in the worker too: the window only renders it

        try:
            plan, preview = await handle.run(ui.in_worker_thread(planned, token=token, relay=relay,
                                                                 name="export-plan"))
        except RunCancelled:
            self._set_stage(self.options_page)
            self.footer.setText("Planning cancelled: nothing was written.")
            self.plan_gc.release()
            return None
        except ExportRefused as exc:
            self._set_stage(self.options_page)
            self._show_refusal(ui.refusal_of(exc))
            self.plan_gc.release()
            return None
        except (AdapterError, IntegrationError) as exc:
            self._set_stage(self.options_page)
            self._show_refusal(ui.Refusal(f"The preview could not be made: {redact(exc)}", "crm_error"))
            self.plan_gc.release()
            return None
        finally:
            handle.unsubscribe(self._plan_progress)
            self.plan_token = None
        self.plan_gc.settle()  # the plan is built: frozen, the collector looks only at what is new
        self.show_preview(plan, preview)
        return plan

    def _plan_progress(self, p: Progress) -> None:
        self.plan_phase.setText(p.phase or "Preparing the preview…")
        if p.total:
            self.plan_bar.setRange(0, 1000)
            self.plan_bar.setValue(int(1000 * (p.fraction or 0.0)))
            parts = [f"{number(p.done)} of {number(p.total)}"]
            if p.eta is not None and p.eta >= 1:
                parts.append(f"about {format_duration(p.eta)} left")
            self.plan_numbers.setText(" · ".join(parts))
        else:
            self.plan_bar.setRange(0, 0)
            self.plan_numbers.setText("")

    def cancel_plan(self) -> None:
        if self.plan_token is not None and self._planning_built:
            self.plan_token.cancel()
            self.plan_phase.setText("Stopping…")

    # -- preview -------------------------------------------------------------------------------------------------
    @staticmethod
    def _export_label(preview: ui.PlanPreview) -> str:
        if preview.to_send:
            return f"Export {_plural(preview.to_send, 'record', 'records')}"
        return "Export" if preview.anything else "Nothing to export"

    def show_preview(self, plan: Plan, preview: ui.PlanPreview | None = None) -> None:
        """Render the plan (and its :class:`ui.PlanPreview`, computed here when not given)."""
        tabs = self._ensure_preview()
        preview = preview or ui.preview_of(plan)
        self.plan, self.preview = plan, preview
        objects: list[str] = [o for o in ("contact", "company") if o in preview.counts]
        main = "contact" if plan.list_kind == "contacts" else "company"
        empty = {a: 0 for a in ("create", "update", "upsert", "unchanged", "merge", "blocked")}
        blind = plan.blind.keys if plan.blind is not None else {}
        for obj, heading, tiles, blind_tiles in (
                ("contact", self.contact_heading, self.contact_tiles, self.contact_blind_tiles),
                ("company", self.company_heading, self.company_tiles, self.company_blind_tiles)):
            shown = obj in objects or obj == main
            heading.setVisible(shown and len(objects) > 1)
            tiles.setVisible(shown and obj not in blind)
            blind_tiles.setVisible(shown and obj in blind)
            tiles.set_counts(preview.counts.get(obj, empty))
            blind_tiles.set_counts(preview.counts.get(obj, empty))
        self.read_first_button.setText(f"Read {plan.crm_name} first")
        self.read_first_button.setVisible(bool(blind) and self.retry_of is None)
        if self.retry_of is not None:
            self.title.setText(f"Retry the failed records of run {self.retry_of}: “{plan.list_name}” to "
                               f"{plan.crm_name}")
        total = preview.total
        self.subtitle.setText(f"The preview of {_plural(total, 'record', 'records')}: nothing has been written to "
                              f"{plan.crm_name} yet. {_plural(plan.api_calls, 'request', 'requests')} to plan it.")
        lines = [line for line in preview.summary if not line.startswith("Blocked (")]
        field_lines = [line for line in lines if "would be overwritten" in line or "are kept" in line
                       or line in plan.blind_lines()]
        other = [line for line in lines if line not in field_lines and "association" not in line]
        blocked = [f"{number(n)} blocked: {reason}" for reason, n in preview.blocked[:5]]
        text = [*other, *field_lines, *blocked]
        self.summary_list.setText("\n".join(f"• {t}" for t in text) or "• Nothing would change.")
        ops = preview.ops
        added = ops["associate"] + ops["primary"]
        self.assoc_frame.setVisible(bool(added or preview.removals or plan.options.associated_companies))
        assoc_lines = []
        if plan.options.associated_companies:
            assoc_lines.append(f"Association Type: {plan.association_type.label}.")
        assoc_lines.append(f"{_plural(added, 'company association', 'company associations')} would be added."
                           if added else "No company association to add: they are already as configured.")
        self.assoc_text.setText(" ".join(assoc_lines))
        if preview.removals:
            self.removals_box.setText(
                f"{_plural(preview.removals, 'company association', 'company associations')} would be REMOVED from "
                f"{_plural(preview.removal_contacts, 'contact', 'contacts')} in {plan.crm_name}. "
                f"{PRIMARY_REMOVE_WARNING} You will be asked to confirm; the report can restore them.")
        self.removals_box.setVisible(bool(preview.removals))
        warnings = [w for w in preview.warnings if not (preview.removals and PRIMARY_REMOVE_WARNING in w)]
        self.warnings_frame.setVisible(bool(warnings))
        self.warnings_list.setText("\n".join(f"• {w}" for w in warnings))

        self.object_box.blockSignals(True)
        self.object_box.clear()
        for obj in objects or [main]:
            self.object_box.addItem(_nouns(str(obj))[1].capitalize(), obj)
        self.object_box.setVisible(self.object_box.count() > 1)
        self.object_box.blockSignals(False)
        self.action_box.blockSignals(True)
        self.action_box.clear()
        for label, action in RECORD_FILTERS:
            self.action_box.addItem(label, action)
        # Updates first: they are where before -> after matters.
        self.action_box.setCurrentIndex(1 if preview.counts.get(main, empty)["update"] else 0)
        self.action_box.blockSignals(False)
        self._fill_records()
        tabs.setCurrentIndex(0)
        tabs.setTabText(1, f"Records ({number(total)})")
        self._set_stage(self.preview_page)
        self.next_button.setEnabled(preview.anything)
        if preview.removals:
            self.footer.setText(f"⚠ {_plural(preview.removals, 'association', 'associations')} would be removed: "
                                "you confirm after Export.")
        if self._progress is None:
            self.tasks.start(self._prepare_progress_later())

    def _fill_records(self) -> None:
        plan, preview = self.plan, self.preview
        if plan is None or preview is None:
            return
        self._ensure_preview()
        obj = self.object_box.currentData() or ("contact" if plan.list_kind == "contacts" else "company")
        action = self.action_box.currentData()
        records = preview.rows.get((str(obj), action), [])
        self.records_model.set_records(records, plan.labels)
        noun = _nouns(str(obj))
        self.records_caption.setText(_plural(len(records), noun[0], noun[1]))
        if records:
            self.records_table.selectRow(0)
        else:
            self._record_selected(QModelIndex(), QModelIndex())

    def _record_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        r = self.records_model.record_at(current.row()) if current.isValid() else None
        plan = self.plan
        crm = plan.crm_name if plan is not None else "the CRM"
        if not isinstance(r, PlanRecord):
            self.changes_model.show_record(None, self.records_model, crm)
            self.record_title.setText("Select a record to see each field before and after the export.")
            return
        self.changes_model.show_record(r, self.records_model, crm)
        where = f" · {crm} ID {r.crm_id}" if r.crm_id else ""
        head = f"{r.label} — {ACTION_LABELS.get(r.action, r.action)}{where}"
        if r.reason:
            head += f"\n{r.reason}"
        elif r.action == "upsert":
            head += f" by {r.why} ({crm} says which when it is written)"
        elif r.why:
            head += f" · matched by {r.why}"
        self.record_title.setText(head)

    def back(self) -> None:
        """Back to the options (or, for a retry, to the report it came from)."""
        self._drop_plan()
        if self.retry_of is not None and self.report is not None:
            self.retry_of = None
            self._restore_report_titles()
            self._set_stage(self.report_page)
            return
        self.retry_of = None
        self._set_stage(self.options_page)
        if self.setup is not None:
            self._render_title(self.setup)
            self._options_changed()

    # -- export --------------------------------------------------------------------------------------------------
    def start_export_clicked(self) -> QMessageBox | None:
        plan = self.plan
        if plan is None:
            return None
        if plan.needs_confirmation:
            return self.confirm_removals()
        self.tasks.start(self.run_export())
        return None

    def confirm_removals(self) -> QMessageBox:
        """The explicit confirmation of "primary and remove previous", naming how many associations are removed;
        Go back is the default (and Escape)."""
        plan = self.plan
        assert plan is not None
        what = _plural(plan.removals, "association", "associations")
        box = MessageBox(self)
        box.setObjectName("confirmRemovals")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(f"Remove {what}?")
        box.setText(f"Remove {what} from {plan.crm_name}?")
        box.setInformativeText(plan.confirmation_text)
        remove = box.addButton(f"Remove {what}", QMessageBox.ButtonRole.DestructiveRole)
        remove.setObjectName("confirmRemove")
        remove.setProperty("danger", True)
        _repolish(remove)
        back = box.addButton("Go back", QMessageBox.ButtonRole.RejectRole)
        back.setObjectName("keepAssociations")
        box.setDefaultButton(back)
        box.setEscapeButton(back)

        def answered(button: Any) -> None:
            self.confirm_box = None
            if button is remove:
                self.tasks.start(self.run_export(confirmed=True))

        box.buttonClicked.connect(answered)
        self.confirm_box = box
        box.open()
        return box

    async def _prepare_progress_later(self) -> None:
        """Build the run's progress dialog a moment after the preview is on screen, while the user reads it: its
        widgets and their style cost the window 10-25 ms, better spent then than at Export."""
        await asyncio.sleep(PREPARE_PROGRESS_AFTER_S)
        if self._progress is not None or not self.isVisible() or self.stage() != "preview":
            return
        parent = self.parentWidget() or None
        progress = ProgressDialog(None, counters=EXPORT_COUNTERS, parent=main_window_of(parent) or parent)
        progress.ensurePolished()  # the style sheet's rules resolved for it and its children now, not at Export
        layout = progress.layout()
        if layout is not None:
            layout.activate()
        self._progress = progress

    def _drop_progress(self, *_args: Any) -> None:
        """The dialog closed: a progress dialog built ahead and not used goes too."""
        if self._progress is not None:
            self._progress.deleteLater()
            self._progress = None

    async def run_export(self, confirmed: bool = False) -> ExportResult | None:
        """Journal the plan as a run and carry it out with the progress dialog; then show the report."""
        plan = self.plan
        if plan is None or (plan.needs_confirmation and not confirmed):
            return None
        self.next_button.setEnabled(False)
        self.handle = None
        retry_of = self.retry_of
        try:
            run_id = await ui.in_thread(functools.partial(start_export, self.ctx, plan, retry_of=retry_of))
        except Exception as exc:
            log.exception("Could not start the export")
            self.footer.setText(f"The export could not start: {redact(exc)}")
            self.next_button.setEnabled(True)
            return None
        list_name, crm_name = plan.list_name, plan.crm_name
        del plan
        freeing = self._drop_plan()  # the journal holds it now: the run reads its batches from there
        self._backgrounded = False
        self.hide()

        def keep(handle: RunHandle) -> None:
            self.handle = handle

        ready, self._progress = self._progress, None  # the progress dialog built ahead, if it was
        try:
            result = await follow_export(self.ctx, run_id, parent=self.parentWidget() or None,
                                         list_name=list_name, crm_name=crm_name,
                                         on_background=self._sent_to_background, on_handle=keep,
                                         after=freeing, dialog=ready)
        except Exception as exc:
            log.warning("Export run %s ended with an error: %s", run_id, exc)
            self.export_result = None
            self.runFinished.emit(run_id)
            await self.open_report(run_id, error=str(redact(exc)))
            return None
        self.export_result = result
        self.runFinished.emit(run_id)
        if self._backgrounded:
            self.done(QDialog.DialogCode.Accepted)
            return result
        await self.open_report(run_id)
        return result

    async def open_report(self, run_id: int, error: str = "") -> ExportReportView:
        """The run's report, read in a worker thread, in this dialog (shown at once, saying it reads it)."""
        self.title.setText("Reading the export's report…")
        self.subtitle.setText("")
        self._last_refusal = None
        self._set_stage(self.report_page)
        self.show()
        data = await ui.in_thread(ui.report_data, self.ctx, run_id)
        # Built in three turns of the event loop (its widgets, their styling on screen, the data), not in one:
        # together they paused the window for 25-50 ms.
        view = ExportReportView(self.ctx, run_id, load=False)
        view.retryRequested.connect(self._retry_requested)
        await asyncio.sleep(0)
        self._attach_report(view, error)
        await asyncio.sleep(0)
        view.show_data(data)
        self._restore_report_titles()
        return view

    def _drop_plan(self) -> asyncio.Task[Any] | None:
        """Forget the plan; a big one is freed in a worker thread (the task returned), never on the window's."""
        plan, preview = self.plan, self.preview
        self.plan = self.preview = None
        self.records_model.set_records([], {})
        self.changes_model.show_record(None, self.records_model, "the CRM")
        if plan is not None and len(plan.records) > 5000:
            # A big plan is freed in a worker thread, a slice at a time: never a pause of the window.
            gc_hold = self.plan_gc
            self.plan_gc = ui.GcPause()

            async def free() -> None:
                try:
                    await ui.in_thread(ui.release, preview, plan, name="export-free")
                finally:
                    gc_hold.release()

            return self.tasks.start(free())
        self.plan_gc.release()
        return None

    def _sent_to_background(self) -> None:
        self._backgrounded = True

    def _attach_report(self, view: ExportReportView, error: str) -> None:
        old = self.report_scroll
        self.report = view
        scroll = QScrollArea()
        scroll.setObjectName("exportReportScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(view)
        self.report_scroll = scroll
        self.report_layout.addWidget(scroll)
        if old is not None:  # the report of an earlier run (before Retry failed), with its view inside
            self.report_layout.removeWidget(old)
            old.hide()
            old.deleteLater()
        self._report_error = error
        self._last_refusal = None
        self._set_stage(self.report_page)
        self.resize(max(self.width(), 900), max(self.height(), 680))
        self.show()

    def _retry_requested(self, run_id: int) -> None:
        self.tasks.start(self.plan_retry(run_id))

    def _restore_report_titles(self) -> None:
        view = self.report
        if view is None:
            return
        run = view.summary.run
        verb = {"finished": "finished", "failed": "stopped", "cancelled": "was cancelled",
                "interrupted": "was interrupted"}.get(run.state, run.state)
        self.title.setText(f"Export of “{run.list_name}” to {view.crm_name} {verb}")
        took = format_duration(run.duration) if run.duration and run.duration >= 1 else "less than a second"
        failed = view.summary.failed
        tail = f" {_plural(failed, 'record', 'records')} failed: see why below." if failed else ""
        error = self._report_error
        self.subtitle.setText(f"Run {run.id} took {took}.{tail}" + (f" {error}" if error else ""))

    # -- retry ---------------------------------------------------------------------------------------------------
    async def plan_retry(self, run_id: int) -> Plan | None:
        """Plan the failed records of run ``run_id`` again (today's values and CRM state), then the preview."""
        ctx = self.ctx

        def factory(progress: Callable[[Progress], None], token: CancelToken) -> Coroutine[Any, Any, Plan]:
            return retry_failed(ctx, run_id, progress=progress, cancel=token)

        self.retry_of = run_id
        self.show()
        plan = await self.make_plan(factory)
        if plan is None:
            self.retry_of = None
        return plan

    # -- closing -------------------------------------------------------------------------------------------------
    def reject(self) -> None:
        """Cancel or Escape. While planning: stop the planning and come back to the options (nothing was
        written). Otherwise close; a run started from here goes on in the background."""
        if self.stage() == "planning":
            self.cancel_plan()
            return
        self._drop_plan()
        super().reject()

    def done(self, code: int) -> None:
        self._drop_plan()
        self.dialog_gc.release()
        super().done(code)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API: shown again (a report after a run)
        self.dialog_gc.hold()
        super().showEvent(event)


def open_retry(ctx: AppContext, run_id: int, parent: QWidget | None = None) -> ExportDialog | None:
    """The export dialog planning the failed records of run ``run_id`` again (from a report on the Runs page)."""
    run = ctx.runs.get(run_id)
    if run.list_id is None:
        return None
    dialog = ExportDialog(ctx, run.list_id, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    dialog.tasks.start(dialog.plan_retry(run_id))
    return dialog
