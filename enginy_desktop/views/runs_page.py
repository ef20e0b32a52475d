"""The Runs page: the history of syncs, exports and enrichments, newest first, and the selected run's details.

The table renders :class:`~enginy_desktop.core.runs.RunService` history; the details pane shows a summary any run
has (state, times, counters, error) and, below it, a widget particular to the run's kind, taken from
:data:`DETAIL_WIDGETS`. A kind of run adds its own there (``register_detail("export", factory)`` or an entry
``"export": "module:function"``, imported on first use); the factory gets ``(ctx, run, parent)`` and returns a
widget (or None). A detail widget with a true ``shows_counters`` attribute replaces the summary's counter tiles.

Signals: ``statusMessage(str)`` — a short line for the window's status bar.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.runs import RunInfo, format_duration

from .formatting import amount, number, when, window_text
from .run_progress import EXPORT_COUNTERS, SYNC_COUNTERS, CounterTiles
from .table_model import TableModel
from .widgets import DialogHost, EmptyState

log = logging.getLogger(__name__)

__all__ = ["DETAIL_WIDGETS", "KIND_LABELS", "RunSummary", "RunsPage", "RunsTableModel", "register_detail"]

DetailFactory = Callable[[AppContext, RunInfo, QWidget], QWidget | None]

# kind -> factory, or "module:function" imported the first time a run of that kind is shown.
DETAIL_WIDGETS: dict[str, DetailFactory | str] = {
    "sync": "enginy_desktop.views.sync_dialog:sync_run_detail",
    "export": "enginy_desktop.views.export_report:export_run_detail",
    "ai": "enginy_desktop.views.ai_column_dialog:ai_run_detail",
    "import": "enginy_desktop.views.theirstack_dialog:import_run_detail",
    "enrichment": "enginy_desktop.views.enrich_dialog:enrich_run_detail",
}

KIND_LABELS = {"sync": "Sync", "export": "Export", "enrichment": "Enrichment", "ai": "AI column", "import": "Import"}
# The counters a kind of run shows (key, label, tone), in order; other counters are shown after them.
KIND_COUNTERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "sync": SYNC_COUNTERS,
    "export": EXPORT_COUNTERS,
    "ai": (("written", "Values written", "good"), ("cached", "From the cache", ""),
           ("skipped_empty", "Empty placeholders", "warning"), ("failed", "Failed", "danger")),
    "enrichment": (("found", "Values found", "good"), ("cached", "From the cache", ""),
                   ("credits", "Credits spent", ""), ("requests", "Requests", ""),
                   ("reasked", "Asked again after a crash", "warning"),
                   ("not_reasked", "Not asked again after a crash", "warning"),
                   ("left_by_cap", "Left for lack of credit", "warning")),
    "import": (("added", "Added", "good"), ("linked", "Already in workspace", ""),
               ("duplicates", "Duplicates skipped", "warning"), ("credits", "Credits spent", "")),
}
RESUMABLE_KINDS = frozenset({"export", "ai", "import", "enrichment"})  # their details offer Resume
HIDDEN_COUNTERS = frozenset({"api_calls", "total", "done", "resolved", "pages"})
# How the history's one-line summary names counters no kind lists above (else "associations done", "1 requests").
EXTRA_LABELS = {"throttled": "rate-limited requests", "associations_done": "associations",
                "removals_done": "associations removed", "activities_done": "activities",
                "completion_tokens": "answer tokens", "no_domain": "without a domain",
                "pending": "not done yet", "in_flight": "sent, not confirmed yet"}  # a stopped export's journal
# The words of a label said in the singular for a count of one ("1 request", "1 value written").
_SINGULAR = {"values": "value", "requests": "request", "credits": "credit", "duplicates": "duplicate",
             "rows": "row", "records": "record", "placeholders": "placeholder", "tokens": "token",
             "retries": "retry", "associations": "association", "activities": "activity"}


def _hidden(key: str) -> bool:
    """Counters kept for the details, not for the history's one-line summary (e.g. a sync's companies)."""
    return key in HIDDEN_COUNTERS or key.startswith(("companies_", "contact_", "company_", "planned_"))


def register_detail(kind: str, factory: DetailFactory | str) -> None:
    """Show ``factory(ctx, run, parent)`` under the summary of runs of ``kind``."""
    DETAIL_WIDGETS[kind] = factory


def _detail_factory(kind: str) -> DetailFactory | None:
    entry = DETAIL_WIDGETS.get(kind)
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        try:
            entry = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            log.exception("No detail view for %s runs (%s)", kind, DETAIL_WIDGETS[kind])
            return None
        DETAIL_WIDGETS[kind] = entry
    return entry


def crm_name(key: str | None) -> str:
    if not key:
        return ""
    try:
        return catalog.get(key).name
    except Exception:
        return key


def counts_text(run: RunInfo) -> str:
    """"812 matched · 40 new · 3 ambiguous" (zeros left out)."""
    spec = KIND_COUNTERS.get(run.kind, ())
    keys = [k for k, _, _ in spec] + sorted(k for k in run.counters if k not in {s[0] for s in spec})
    labels = {k: label.lower() for k, label, _ in spec}
    parts = []
    for k in keys:
        value = run.counters.get(k)
        if _hidden(k) or not _amount(value):
            continue
        if k == "waited_ms":  # time waited for the rate limit: news from a tenth of a second
            if isinstance(value, int | float) and value >= 100:
                parts.append(f"{amount(round(value / 1000, 1))} s waited")
            continue
        label = labels.get(k) or EXTRA_LABELS.get(k) or k.replace("_", " ")
        if value == 1:
            label = " ".join(_SINGULAR.get(word, word) for word in label.split(" "))
        parts.append(f"{_amount(value)} {label}")
    return " · ".join(parts) or "—"


def _amount(value: object) -> str:
    """A counter as shown: "1,240"; a decimal one (an enrichment's credits) keeps its decimals: "12.5"; "" for 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value:
        return ""
    return amount(value)


def run_title(run: RunInfo) -> str:
    kind = KIND_LABELS.get(run.kind, run.kind.capitalize())
    target = crm_name(run.crm)
    list_part = f" of “{run.list_name}”" if run.list_name else ""
    prep = {"sync": "with", "export": "to", "enrichment": "with", "ai": "on", "import": "from"}.get(run.kind, "with")
    return f"{kind}{list_part}" + (f" {prep} {target}" if target else "")


def _drop(layout: QVBoxLayout, widget: QWidget) -> None:
    """Take ``widget`` out of ``layout`` for good: hidden at once (never drawn again at a stale place while it
    waits to be deleted), then deleted."""
    layout.removeWidget(widget)
    widget.hide()
    widget.deleteLater()


def integrations_text(run: RunInfo) -> str:
    """"HubSpot", "OpenAI", "TheirStack", or an enrichment's providers: "Apollo, Hunter"."""
    return ", ".join(crm_name(key) for key in run.integration_keys)


class RunsTableModel(TableModel[RunInfo]):
    COLUMNS = ("Run", "List", "Integration", "Started", "State", "Results")

    def text(self, run: RunInfo, column: int) -> Any:
        if column == 0:
            return f"{KIND_LABELS.get(run.kind, run.kind)} #{run.id}"
        if column == 1:
            return run.list_name or "—"
        if column == 2:
            return integrations_text(run) or "—"
        if column == 3:
            return when(run.started_at or run.created_at)
        if column == 4:
            return run.state_label
        return counts_text(run)

    def key(self, run: RunInfo) -> Any:
        return run.id


class RunSummary(QFrame):
    """What every run shows: title, state, times, counters, and what went wrong or was left undone."""

    def __init__(self, run: RunInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runDetail")
        self.run = run
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        lay.setSpacing(8)
        top = QHBoxLayout()
        title = QLabel(run_title(run))
        title.setObjectName("runDetailTitle")
        title.setWordWrap(True)
        top.addWidget(title, 1)
        self.state = QLabel(run.state_label)
        self.state.setObjectName("runState")
        self.state.setProperty("state", run.state)
        top.addWidget(self.state, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(top)
        meta = [f"Started {when(run.started_at or run.created_at)}"]
        if run.duration is not None:
            took = format_duration(run.duration) if run.duration >= 1 else "less than a second"
            meta.append(("running for " if run.active else "took ") + took)
        calls = run.counter("api_calls")
        if calls:
            meta.append(f"{number(calls)} API call{'s' if calls != 1 else ''}")
        total = run.counter("total")
        if total:
            meta.append(f"{number(total)} records")
        self.meta = QLabel(" · ".join(meta))
        self.meta.setObjectName("runDetailMeta")
        self.meta.setWordWrap(True)
        lay.addWidget(self.meta)
        spec = KIND_COUNTERS.get(run.kind) or tuple(
            (k, k.replace("_", " ").capitalize(), "") for k in run.counters if not _hidden(k)
        )
        if run.kind == "enrichment":  # its crash and cap counters are news only when something happened
            spec = tuple(t for t in spec if t[2] != "warning" or run.counters.get(t[0]))
        self.tiles = CounterTiles(spec)
        self.tiles.set_counts(run.counters)
        self.tiles.setVisible(bool(spec))
        lay.addWidget(self.tiles)
        self.error: QLabel | None = None
        note = ""
        # A run with a journal is carried on by Resume (in its details), never started again from the beginning.
        finish = ("Resume carries it on without doing anything twice" if run.kind in RESUMABLE_KINDS
                  else "run it again to finish")
        if run.state == "failed":
            reason = window_text(run.error) or "no reason was recorded."
            note = f"This run failed: {reason} What was done before is kept."
        elif run.state == "cancelled":
            note = f"This run was cancelled. What it did before it stopped is kept; {finish}."
        elif run.state == "interrupted":
            reason = window_text(run.error) or "This run was interrupted."
            note = f"{reason} What it did before is kept; {finish}."
        if note:
            self.error = QLabel(note)
            self.error.setObjectName("runError" if run.state == "failed" else "runNote")
            self.error.setWordWrap(True)
            lay.addWidget(self.error)


class RunsPage(QWidget):
    """Signals: ``statusMessage(str)``."""

    statusMessage = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("runsPage")
        self.dialogs = DialogHost()
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)

        header = QHBoxLayout()
        header.setSpacing(12)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        title = QLabel("Runs")
        title.setObjectName("pageTitle")
        subtitle = QLabel(
            "Every sync, export, enrichment, AI column and import, newest first. Select one to see what it did."
        )
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(subtitle)
        header.addLayout(titles, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("refreshRuns")
        self.refresh_button.clicked.connect(self.refresh)
        self.sync_button = QPushButton("Sync a list…")
        self.sync_button.setObjectName("newSync")
        self.sync_button.setProperty("primary", True)
        self.sync_button.clicked.connect(lambda: self.open_sync_dialog())
        header.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.sync_button, 0, Qt.AlignmentFlag.AlignTop)
        root.addLayout(header)
        divider = QFrame()
        divider.setObjectName("pageDivider")
        root.addWidget(divider)

        self.stack = QStackedWidget()
        self.empty = EmptyState(
            "No runs yet",
            "Sync a list with your CRM to see which records it already holds; syncs, exports, enrichments, AI columns "
            "and imports appear here.",
        )
        empty_host = QWidget()
        empty_lay = QVBoxLayout(empty_host)
        empty_lay.setContentsMargins(0, 0, 0, 0)
        empty_lay.addStretch(1)
        empty_lay.addWidget(self.empty)
        self.empty_sync_button = QPushButton("Sync a list…")
        self.empty_sync_button.setObjectName("emptySyncButton")
        self.empty_sync_button.clicked.connect(lambda: self.open_sync_dialog())
        empty_lay.addWidget(self.empty_sync_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_lay.addStretch(2)
        self.empty_host = empty_host
        self.stack.addWidget(empty_host)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.model = RunsTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(False)
        self.table.setAccessibleName("Runs")
        head = self.table.horizontalHeader()
        head.setHighlightSections(False)
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for col, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents,
                                    QHeaderView.ResizeMode.Interactive,
                                    QHeaderView.ResizeMode.ResizeToContents,
                                    QHeaderView.ResizeMode.ResizeToContents,
                                    QHeaderView.ResizeMode.ResizeToContents,
                                    QHeaderView.ResizeMode.Stretch)):
            head.setSectionResizeMode(col, mode)
        head.resizeSection(1, 180)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.splitter.addWidget(self.table)

        self.detail_scroll = QScrollArea()
        self.detail_scroll.setObjectName("runDetailScroll")
        self.detail_scroll.setWidgetResizable(True)
        self.detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.detail_host = QWidget()
        self.detail_layout = QVBoxLayout(self.detail_host)
        self.detail_layout.setContentsMargins(0, 0, 0, 0)
        self.detail_layout.setSpacing(12)
        self.detail_scroll.setWidget(self.detail_host)
        self.splitter.addWidget(self.detail_scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([200, 600])  # the history is short to scan; the details need the room
        self.stack.addWidget(self.splitter)
        root.addWidget(self.stack, 1)

        self.detail: QWidget | None = None
        self.summary: RunSummary | None = None
        self._selected: int | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self.refresh()

    # -- data ----------------------------------------------------------------------------------------------------
    def refresh(self, select_id: int | None = None) -> None:
        keep = select_id if select_id is not None else self._selected
        runs = self.ctx.runs.history(limit=500)
        self.model.set_rows(runs)
        self.stack.setCurrentWidget(self.splitter if runs else self.empty_host)
        row = next((i for i, r in enumerate(runs) if r.id == keep), 0 if runs else -1)
        if row >= 0:
            self.table.selectRow(row)
            self._show(runs[row], force=True)
        else:
            self._clear_detail()
        if any(r.active for r in runs):
            self._timer.start()
        else:
            self._timer.stop()

    def _tick(self) -> None:
        """While runs are live, their state and counters change: refresh the rows (and the summary)."""
        if not self.isVisible():
            return
        runs = self.ctx.runs.history(limit=500)
        if [r.id for r in runs] != [r.id for r in self.model.rows]:
            self.refresh()
            return
        self.model.update_rows(runs)
        current = next((r for r in runs if r.id == self._selected), None)
        previous = self.summary.run if self.summary is not None else None
        if current is not None and previous is not None and (current.state, current.counters) != (
            previous.state, previous.counters
        ):
            self._show(current, force=current.state != previous.state)
        if not any(r.active for r in runs):
            self._timer.stop()

    def selected_run(self) -> RunInfo | None:
        return next((r for r in self.model.rows if r.id == self._selected), None)

    def select_run(self, run_id: int) -> None:
        self.refresh(select_id=run_id)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._show(self.model.rows[current.row()])

    def _clear_detail(self) -> None:
        while self.detail_layout.count():
            item = self.detail_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                _drop(self.detail_layout, widget)
        self.detail = None
        self.summary = None
        self._selected = None

    def _show(self, run: RunInfo, force: bool = False) -> None:
        if run.id == self._selected and not force and self.summary is not None:
            return
        same_run = run.id == self._selected and self.detail is not None
        old_summary = self.summary
        if old_summary is not None:
            _drop(self.detail_layout, old_summary)
        self.summary = RunSummary(run, self.detail_host)
        self.detail_layout.insertWidget(0, self.summary)
        if not same_run:
            if self.detail is not None:
                _drop(self.detail_layout, self.detail)
                self.detail = None
            while self.detail_layout.count() > 1:  # the stretch
                item = self.detail_layout.takeAt(1)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    _drop(self.detail_layout, widget)
            factory = _detail_factory(run.kind)
            if factory is not None:
                try:
                    self.detail = factory(self.ctx, run, self.detail_host)
                except Exception:
                    log.exception("The detail view of run %s failed", run.id)
                    self.detail = None
                if self.detail is not None:
                    self.detail_layout.addWidget(self.detail, 1)
            if self.detail is None:
                self.detail_layout.addStretch(1)
        if getattr(self.detail, "shows_counters", False):  # the kind's details show the counts their own way
            self.summary.tiles.setVisible(False)
        if getattr(self.detail, "shows_state", False) and self.summary.error is not None:  # ... and why it stopped
            self.summary.error.setVisible(False)
        self._selected = run.id

    # -- actions -------------------------------------------------------------------------------------------------
    def open_sync_dialog(self, list_id: int | None = None) -> QWidget:
        from .sync_dialog import SyncDialog

        dialog = SyncDialog(self.ctx, list_id=list_id, parent=self)
        dialog.runFinished.connect(lambda run_id: self.refresh(select_id=run_id))
        return self.dialogs.open(dialog)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()
