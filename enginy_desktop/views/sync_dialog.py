"""Sync a list with the enabled CRM: start it, follow its progress, see and settle its result (issue 5).

* :class:`SyncDialog` — pick the list (or come with one from the Lists page), see the identifiers that will be
  used, **Start sync**. It is refused with the reason when no CRM is enabled or connected. While the sync runs
  the progress dialog takes its place (and can send the run to the background); when the sync ends, the dialog
  comes back with the result.
* :class:`SyncResultView` — counts per outcome; every record with its outcome, CRM id and why it matched; for an
  ambiguous record, the CRM records it matched (their key properties) to pick from, or **Create new**; and the
  duplicate-risk check of the identifier. The Runs page shows it as a sync run's details.

The view renders :mod:`enginy_desktop.core.sync` state and forwards the user's choices to it; the coroutines it
runs (``run_sync``, ``load_candidates``, ``check_risk``) are what tests call directly.

Signals: ``SyncDialog.runFinished(int)`` — a sync run ended (its run id); ``SyncResultView.changed()`` — the
user settled an ambiguous record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTabBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.adapters.base import AdapterError
from enginy_desktop.core import catalog, sync
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.export.interactive import in_worker_thread
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunBusyError, RunHandle, RunInfo
from enginy_desktop.core.services import crm as crm_service
from enginy_desktop.core.services.integrations import IntegrationError
from enginy_desktop.core.services.workspace import ListInfo, WorkspaceService

from .formatting import window_text
from .run_progress import SYNC_COUNTERS, CounterTiles, ProgressDialog, number, show_progress
from .table_model import PagedTableModel
from .tasks import TaskKeeper
from .widgets import make_primary

log = logging.getLogger(__name__)

__all__ = ["ACTIVE_SYNCS", "LinksModel", "SyncDialog", "SyncResultView", "sync_button_label", "sync_run_detail"]

# Runs started from the window, referenced until they end (a dialog may close while its run goes on).
ACTIVE_SYNCS: set[RunHandle] = set()

OUTCOME_LABELS = {
    "matched": "Matched",
    "new": "New",
    "ambiguous": "Ambiguous",
    "unmatchable": "Unmatchable",
    "chosen": "Chosen by you",
    "create_new": "Create new",
    "": "Not synced yet",
}
FILTERS: list[tuple[str, list[str] | None]] = [
    ("All records", None),
    ("Ambiguous — your choice needed", ["ambiguous"]),
    ("Matched", ["matched", "chosen"]),
    ("New", ["new", "create_new"]),
    ("Unmatchable", ["unmatchable"]),
]
PAGE = 200


def _crm_display(key: str) -> str:
    try:
        return catalog.get(key).name
    except Exception:
        return key


def _why_text(row: sync.LinkRow, crm_name: str) -> str:
    if row.why:
        return row.why
    if row.outcome == "new":
        return f"No {crm_name} record has the same identifier"
    if row.outcome == "unmatchable":
        return "An identifier field is empty, so it cannot be compared"
    if row.outcome == "ambiguous":
        return f"{len(row.candidates)} {crm_name} records match: choose one"
    return ""


class LinksModel(PagedTableModel[sync.LinkRow]):
    """A list's records with their links, fetched a page at a time as the table scrolls."""

    COLUMNS = ("Record", "Outcome", "CRM ID", "Why it matched")

    def __init__(self, fetch: Callable[[int, int], list[sync.LinkRow]], total: int, crm_name: str,
                 parent: Any = None) -> None:
        super().__init__(fetch, total, parent)
        self.crm_name = crm_name

    def text(self, row: sync.LinkRow, column: int) -> Any:
        if column == 0:
            return row.name
        if column == 1:
            label = OUTCOME_LABELS.get(row.outcome, row.outcome)
            return f"{label} · {len(row.candidates)}" if row.outcome == "ambiguous" else label
        if column == 2:
            if row.crm_id:
                return row.crm_id
            return ", ".join(row.candidates) if row.candidates else "—"
        return _why_text(row, self.crm_name)

    def tooltip(self, row: sync.LinkRow, column: int) -> str | None:
        if column == 0 and row.detail:
            return f"{row.name}\n{row.detail}"
        return str(self.text(row, column))

    def key(self, row: sync.LinkRow) -> Any:
        return row.local_id

    def row_of(self, local_id: int) -> int:
        return next((i for i, r in enumerate(self.rows) if r.local_id == local_id), -1)


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


class SyncResultView(QWidget):
    """Counts per outcome, the records with why they matched, ambiguous records settled by the user.

    Signals: ``changed()`` — a decision was recorded; ``syncAgainRequested(int)`` — the list to sync again.
    """

    changed = Signal()
    syncAgainRequested = Signal(int)
    shows_counters = True  # the Runs page hides its own tiles for it

    def __init__(
        self,
        ctx: AppContext,
        list_id: int,
        crm: str,
        *,
        result: sync.SyncResult | None = None,
        run: RunInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("syncResultView")
        self.ctx = ctx
        self.list_id = list_id
        self.crm = crm
        self.crm_name = _crm_display(crm)
        self.result = result
        self.tasks = TaskKeeper()
        self._candidates: dict[str, sync.Candidate] = {}
        self._current: sync.LinkRow | None = None
        info = WorkspaceService(ctx.store).get_list(list_id)
        self.list_info = info
        self.objects = ["contact", "company"] if info.kind.value == "contact" else ["company"]
        self.object = self.objects[0]

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(10)

        top = QHBoxLayout()
        top.setSpacing(8)
        self.tabs = QTabBar()
        self.tabs.setObjectName("syncObjectTabs")
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.setUsesScrollButtons(False)
        for object_ in self.objects:
            self.tabs.addTab(sync.OBJECT_LABELS[object_][1].capitalize())
        self.tabs.currentChanged.connect(self._object_changed)
        self.tabs.setVisible(len(self.objects) > 1)
        top.addWidget(self.tabs)
        top.addStretch(1)
        self.risk_button = QPushButton("Check duplicate risk")
        self.risk_button.setObjectName("checkRisk")
        self.risk_button.setToolTip("How many records this identifier would leave ambiguous or create twice, on "
                                    "this list and the CRM's current data")
        self.risk_button.clicked.connect(self._risk_clicked)
        top.addWidget(self.risk_button)
        self.again_button = QPushButton("Sync again")
        self.again_button.setObjectName("syncAgain")
        self.again_button.clicked.connect(lambda: self.syncAgainRequested.emit(self.list_id))
        top.addWidget(self.again_button)
        root.addLayout(top)

        self.tiles = CounterTiles(SYNC_COUNTERS)
        root.addWidget(self.tiles)

        self.risk = QLabel("")
        self.risk.setObjectName("riskNote")
        self.risk.setWordWrap(True)
        self.risk.setVisible(False)
        root.addWidget(self.risk)

        filters = QHBoxLayout()
        filters.setSpacing(8)
        self.filter = QComboBox()
        self.filter.setObjectName("outcomeFilter")
        self.filter.setAccessibleName("Show")
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for label, _ in FILTERS:
            self.filter.addItem(label)
        self.filter.currentIndexChanged.connect(lambda _i: self.reload())
        show = QLabel("Show")
        show.setObjectName("fieldHelp")
        filters.addWidget(show)
        filters.addWidget(self.filter)
        self.caption = QLabel("")
        self.caption.setObjectName("fieldHelp")
        filters.addWidget(self.caption, 1)
        root.addLayout(filters)

        self.model = LinksModel(lambda o, n: [], 0, self.crm_name, self)
        self.table = QTableView()
        self.table.setObjectName("syncRecords")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAccessibleName("Synced records")
        self.table.setMinimumHeight(120)
        head = self.table.horizontalHeader()
        head.setHighlightSections(False)
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        head.resizeSection(0, 260)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        root.addWidget(self.table, 1)

        self.resolve = QFrame()
        self.resolve.setObjectName("runDetail")
        res_lay = QVBoxLayout(self.resolve)
        res_lay.setContentsMargins(12, 10, 12, 10)
        res_lay.setSpacing(8)
        self.resolve_title = QLabel("")
        self.resolve_title.setObjectName("sectionTitle")
        self.resolve_title.setWordWrap(True)
        res_lay.addWidget(self.resolve_title)
        self.resolve_status = QLabel("")
        self.resolve_status.setObjectName("fieldHelp")
        self.resolve_status.setWordWrap(True)
        res_lay.addWidget(self.resolve_status)
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
        self.create_new_button.clicked.connect(self._create_new_clicked)
        cards_row.addWidget(self.create_new_button, 0, Qt.AlignmentFlag.AlignBottom)
        res_lay.addLayout(cards_row)
        self.resolve.setVisible(False)
        root.addWidget(self.resolve)

        self.reload()

    # -- data ----------------------------------------------------------------------------------------------------
    def _outcomes(self) -> list[str] | None:
        return FILTERS[self.filter.currentIndex()][1]

    def counts(self) -> dict[str, int]:
        return sync.link_counts(self.ctx, self.list_id, object=self.object, crm=self.crm)

    def reload(self, keep: int | None = None) -> None:
        counts = self.counts()
        folded = {
            "matched": counts.get("matched", 0) + counts.get("chosen", 0),
            "new": counts.get("new", 0) + counts.get("create_new", 0),
            "ambiguous": counts.get("ambiguous", 0),
            "unmatchable": counts.get("unmatchable", 0),
        }
        self.tiles.set_counts(folded)
        outcomes = self._outcomes()
        total = sum(n for o, n in counts.items() if outcomes is None or o in outcomes)
        object_ = self.object

        def fetch(offset: int, limit: int) -> list[sync.LinkRow]:
            return sync.link_rows(self.ctx, self.list_id, object=object_, crm=self.crm, outcome=outcomes,
                                  offset=offset, limit=limit)

        self.model.reset(fetch, total)
        if self.model.canFetchMore(QModelIndex()):
            self.model.fetchMore(QModelIndex())
        noun = sync.OBJECT_LABELS[object_]
        never = counts.get("", 0)
        self.caption.setText(f"{number(total)} {noun[0] if total == 1 else noun[1]}"
                             + (f" · {number(never)} not synced yet" if never else ""))
        self._current = None
        row = self.model.row_of(keep) if keep is not None else -1
        if row >= 0:
            self.table.selectRow(row)
        else:
            self.resolve.setVisible(False)

    def _object_changed(self, index: int) -> None:
        self.object = self.objects[index]
        self.risk.setVisible(False)
        self.reload()

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = self.model.rows[current.row()]
        self._current = row
        if row.outcome in ("ambiguous", "chosen", "create_new") and row.candidates:
            self._show_resolve(row)
            layout = self.layout()
            if layout is not None:
                layout.activate()
            self.table.scrollTo(current)
            self._start(self.load_candidates(row))
        else:
            self.resolve.setVisible(False)

    def _start(self, coro: Any) -> None:
        self.tasks.start(coro)

    # -- ambiguous records -----------------------------------------------------------------------------------------
    def _show_resolve(self, row: sync.LinkRow) -> None:
        n = len(row.candidates)
        if row.outcome == "ambiguous":
            self.resolve_title.setText(f"{row.name} matches {n} {self.crm_name} records. Pick the right one, or "
                                       "choose Create new if none of them is this record.")
        elif row.outcome == "chosen":
            self.resolve_title.setText(f"You chose {self.crm_name} record {row.crm_id} for {row.name}. You can "
                                       "change your choice.")
        else:
            self.resolve_title.setText(f"You chose to create a new record for {row.name}. You can pick one of "
                                       f"the {n} matching records instead.")
        self.create_new_button.setEnabled(row.outcome != "create_new")
        self.create_new_button.setText("Create new" if row.outcome != "create_new" else "Create new (chosen)")
        self._render_cards(row)
        self.resolve.setVisible(True)

    def _render_cards(self, row: sync.LinkRow) -> None:
        while self.cards_layout.count():
            item = self.cards_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        known = all(c in self._candidates for c in row.candidates)
        self.resolve_status.setText("" if known else f"Reading the records from {self.crm_name}…")
        self.resolve_status.setVisible(not known)
        for crm_id in row.candidates:
            card = CandidateCard(self._candidates.get(crm_id) if known else None, crm_id, self.crm_name,
                                 row.outcome == "chosen" and row.crm_id == crm_id, self.choose, self.cards_host)
            self.cards_layout.addWidget(card)
        self.cards_layout.addStretch(1)
        self.cards_layout.activate()
        cards = self.cards_host.findChildren(CandidateCard)
        tallest = max((c.sizeHint().height() for c in cards if c.parent() is self.cards_host), default=0)
        bar = self.cards_scroll.horizontalScrollBar().sizeHint().height()
        self.cards_scroll.setFixedHeight(tallest + bar + 4)

    async def load_candidates(self, row: sync.LinkRow) -> list[sync.Candidate]:
        """Read the key properties of an ambiguous record's candidates (one call) and show them."""
        missing = [c for c in row.candidates if c not in self._candidates]
        records: list[sync.Candidate] = []
        if missing:
            try:
                records = await sync.candidate_details(self.ctx, row.object, missing, crm=self.crm)
            except (AdapterError, IntegrationError) as exc:
                if self._current is row:
                    self.resolve_status.setText(f"The records could not be read from {self.crm_name}: "
                                                f"{redact(exc)} You can still choose by ID.")
                    self.resolve_status.setVisible(True)
                return []
            for rec in records:
                self._candidates[rec.id] = rec
            for crm_id in missing:  # deleted since: remember that it has no details
                self._candidates.setdefault(crm_id, sync.Candidate(crm_id, "", (), {}))
        if self._current is row:
            self._render_cards(row)
        return records

    def choose(self, crm_id: str) -> None:
        row = self._current
        if row is None:
            return
        sync.choose(self.ctx, row.object, row.local_id, crm_id, crm=self.crm)
        self.reload(keep=row.local_id)
        self.changed.emit()

    def _create_new_clicked(self) -> None:
        row = self._current
        if row is None:
            return
        sync.create_new(self.ctx, row.object, row.local_id, crm=self.crm)
        self.reload(keep=row.local_id)
        self.changed.emit()

    def select_record(self, local_id: int) -> bool:
        while self.model.row_of(local_id) < 0 and self.model.canFetchMore(QModelIndex()):
            self.model.fetchMore(QModelIndex())
        row = self.model.row_of(local_id)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    # -- duplicate risk --------------------------------------------------------------------------------------------
    def _risk_clicked(self) -> None:
        self._start(self.check_risk())

    async def check_risk(self) -> sync.RiskReport | None:
        self.risk_button.setEnabled(False)
        self.risk.setObjectName("riskNote")
        self.risk.setText(f"Checking the identifier against {self.crm_name}…")
        self.risk.setVisible(True)
        self._repolish(self.risk)
        try:
            report = await sync.check_duplicate_risk(self.ctx, self.list_id, object=self.object, crm=self.crm)
        except (AdapterError, IntegrationError, sync.SyncError) as exc:
            self.risk.setText(f"The check could not run: {redact(exc)}")
            return None
        finally:
            self.risk_button.setEnabled(True)
        text = report.message
        if report.suggestion:
            text += f" Suggested identifier: {report.suggestion}."
        self.risk.setObjectName("riskNote" if report.risk.risky else "okNote")
        self.risk.setText(text)
        self._repolish(self.risk)
        return report

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class SyncDialog(QDialog):
    """Start a sync of a list; follow it; see its result. Signals: ``runFinished(int)`` (the run id);
    ``exportRequested(int)`` — the next step after a sync, export the list (offered when ``offer_export``)."""

    runFinished = Signal(int)
    exportRequested = Signal(int)
    offer_export = False
    _synced_list = 0

    def __init__(self, ctx: AppContext, list_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("syncDialog")
        self.setWindowTitle("Sync with your CRM")
        self.setModal(False)
        self.resize(600, 440)
        self.setMinimumSize(480, 420)
        self.workspace = WorkspaceService(ctx.store)
        self.handle: RunHandle | None = None
        self.progress: ProgressDialog | None = None
        self.sync_result: sync.SyncResult | None = None
        self.result_view: SyncResultView | None = None
        self.result_scroll: QScrollArea | None = None
        self._backgrounded = False
        self.tasks = TaskKeeper()
        self.crm: str | None = None
        self._budget_refused = False
        self._starting = False

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 20)
        root.setSpacing(12)
        self.title = QLabel("Sync a list with your CRM")
        self.title.setObjectName("dialogTitle")
        root.addWidget(self.title)
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("dialogSubtitle")
        self.subtitle.setWordWrap(True)
        root.addWidget(self.subtitle)

        self.pages = QStackedWidget()
        root.addWidget(self.pages, 1)

        # -- start page
        self.start_page = QWidget()
        sp = QVBoxLayout(self.start_page)
        sp.setContentsMargins(0, 0, 0, 0)
        sp.setSpacing(10)
        self.refusal = QLabel("")
        self.refusal.setObjectName("runError")
        self.refusal.setWordWrap(True)
        self.refusal.setVisible(False)
        sp.addWidget(self.refusal)
        label = QLabel("List")
        label.setObjectName("sectionTitle")
        sp.addWidget(label)
        self.list_box = QComboBox()
        self.list_box.setObjectName("syncList")
        self.list_box.setAccessibleName("List to sync")
        self.list_box.currentIndexChanged.connect(lambda _i: self._update_identifiers())
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
        self.budget_line = QLabel("")
        self.budget_line.setObjectName("syncBudget")
        self.budget_line.setWordWrap(True)
        self.budget_line.setVisible(False)
        sp.addWidget(self.budget_line)
        sp.addStretch(1)
        self.pages.addWidget(self.start_page)

        # -- result page (built when a sync ends)
        self.result_page = QWidget()
        self.result_layout = QVBoxLayout(self.result_page)
        self.result_layout.setContentsMargins(0, 0, 0, 0)
        self.result_layout.setSpacing(10)
        self.result_note = QLabel("")
        self.result_note.setObjectName("runNote")
        self.result_note.setWordWrap(True)
        self.result_note.setVisible(False)
        self.result_layout.addWidget(self.result_note)
        self.pages.addWidget(self.result_page)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.close_button = QPushButton("Cancel")
        self.close_button.setObjectName("closeSync")
        self.close_button.clicked.connect(self.reject)
        self.start_button = QPushButton("Start sync")
        self.start_button.setObjectName("startSync")
        make_primary(self.start_button)
        self.start_button.clicked.connect(self.start_sync)
        # The next step once the list is synced: export it (the page that opened the dialog does it).
        self.export_button = QPushButton("")
        self.export_button.setObjectName("exportAfterSync")
        self.export_button.setVisible(False)
        self.export_button.clicked.connect(self._export_next)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.start_button)
        root.addLayout(buttons)

        self._fill_lists(list_id)
        self.refresh_state()

    # -- start page ------------------------------------------------------------------------------------------------
    def _fill_lists(self, list_id: int | None) -> None:
        self.lists: list[ListInfo] = self.workspace.lists()
        self.list_box.clear()
        for info in self.lists:
            noun = "contact" if info.kind.value == "contact" else "company"
            plural = "contacts" if noun == "contact" else "companies"
            self.list_box.addItem(f"{info.name} — {number(info.count)} {noun if info.count == 1 else plural}",
                                  info.id)
        if list_id is not None:
            index = self.list_box.findData(list_id)
            if index >= 0:
                self.list_box.setCurrentIndex(index)

    def selected_list(self) -> ListInfo | None:
        index = self.list_box.currentIndex()
        return self.lists[index] if 0 <= index < len(self.lists) else None

    def refresh_state(self) -> str:
        """Say why a sync cannot start (no CRM enabled or connected, no list), or what it will do. Returns the
        refusal ("" when it can start)."""
        problem = ""
        try:
            self.crm = crm_service.active_crm_key(self.ctx)
            crm_service.require_connected(self.ctx, self.crm)
        except IntegrationError as exc:
            problem = str(exc)
        if not problem and not self.lists:
            problem = "There are no lists yet. Import contacts or companies from a CSV file on the Lists page first."
        name = _crm_display(self.crm) if self.crm else "your CRM"
        self.setWindowTitle(f"Sync with {name}")
        self.title.setText(f"Sync a list with {name}")
        self.subtitle.setText(f"Enginy compares the list's records with {catalog.possessive(name)}, using the "
                              f"identifiers of Step 1, and remembers which {name} record each one is. Nothing is "
                              f"written to {name}.")
        self.refusal.setText(window_text(problem))
        self.refusal.setVisible(bool(problem))
        self.start_button.setEnabled(not problem)
        self.list_box.setEnabled(bool(self.lists))
        self._update_identifiers()
        return problem

    def _update_identifiers(self) -> None:
        self.identifiers_title.setVisible(self.crm is not None)  # no CRM: no heading over nothing
        if self.crm is None:
            self.identifiers.setText("")
            return
        config = self.ctx.crm_configs.load(self.crm)
        info = self.selected_list()
        lines = []
        if info is None or info.kind.value == "contact":
            lines.append(f"Contacts: {config.contact_identifier.preset.label}")
        company = config.company_identifier
        any_ext = " (any domain extension)" if company.include_any_extension else ""
        lines.append(f"Companies: {company.preset.label}{any_ext}"
                     + (" — the companies of the list's contacts" if info is not None and
                        info.kind.value == "contact" else ""))
        self.identifiers.setText("\n".join(lines))
        if self._starting:  # the sync itself checks the budget as it starts
            return
        try:  # on the window's running loop only (a screen built in a test without its loop checks on demand)
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.tasks.start(self.check_budget())

    async def check_budget(self) -> sync.SyncBudget | None:
        """Show what a sync of the selected list needs of the CRM's daily budget and what is left today; a sync
        that needs more is refused here already, with the numbers."""
        info, crm = self.selected_list(), self.crm
        if self._budget_refused:  # the list changed: its own budget check decides
            self._budget_refused = False
            self.refusal.setVisible(False)
            self.start_button.setEnabled(True)
        if info is None or crm is None or self.refusal.isVisible():
            self.budget_line.setVisible(False)
            return None
        name = _crm_display(crm)
        self.budget_line.setText(f"Checking {catalog.possessive(name)} daily budget…")
        self.budget_line.setVisible(True)
        try:
            # On its own loop in a worker thread, as the export's plan is (see ui.in_worker_thread).
            budget = await in_worker_thread(lambda: sync.estimate_sync(self.ctx, info.id, crm=crm),
                                            name="sync-budget")
        except (AdapterError, IntegrationError, sync.SyncError) as exc:
            self.budget_line.setText(f"{catalog.possessive(name)} daily budget could not be checked: "
                                     f"{window_text(str(redact(exc)))}")
            return None
        if self.selected_list() is not info:  # another list was chosen meanwhile: its own check says
            return None
        if budget is None:
            self.budget_line.setVisible(False)
            return None
        if budget.check.fits:
            self.budget_line.setText(budget.line(name))
            return budget
        self.budget_line.setVisible(False)
        self.refusal.setText(window_text(budget.refusal(name)))
        self.refusal.setVisible(True)
        self.start_button.setEnabled(False)
        self._budget_refused = True
        return budget

    # -- running ---------------------------------------------------------------------------------------------------
    def start_sync(self) -> None:
        if self.refresh_state():
            return
        self.tasks.start(self.run_sync())

    async def run_sync(self) -> sync.SyncResult | None:
        """Run the sync of the selected list with its progress dialog, then show the result (or the failure)."""
        info = self.selected_list()
        self._starting = True
        try:
            if info is None or self.refresh_state() or self.crm is None:
                return None
        finally:
            self._starting = False
        crm_name = _crm_display(self.crm)
        unit = "contacts" if info.kind.value == "contact" else "companies"
        handle = RunHandle("sync", f"Syncing “{info.name}” with {crm_name}", verb="Syncing",
                           target=f"with {crm_name}", unit=unit)
        self.handle = handle
        ACTIVE_SYNCS.add(handle)
        self._backgrounded = False
        window = self._window()
        self.progress = show_progress(handle, parent=window or self.parentWidget() or self, counters=SYNC_COUNTERS)
        self.progress.backgrounded.connect(self._sent_to_background)
        self.start_button.setEnabled(False)
        self.hide()

        def summarize(result: sync.SyncResult) -> str:
            if result.cancelled:
                return result.message
            return f"Sync of “{info.name}” with {crm_name} finished. {result.message}"

        try:
            result = await handle.run(sync.sync_list(self.ctx, info.id, crm=self.crm, progress=handle.publish,
                                                     token=handle.token), summarize)
        except RunBusyError as exc:  # another run of this list (an export, a sync in a command line...)
            self._show_failure(str(redact(exc)), started=False)
            return None
        except sync.SyncRefused as exc:  # e.g. the CRM's daily budget: nothing was read or stored
            self._show_failure(str(redact(exc)), started=False, refused=True)
            return None
        except (AdapterError, IntegrationError, sync.SyncError) as exc:
            self._show_failure(str(redact(exc)))
            return None
        finally:
            ACTIVE_SYNCS.discard(handle)
        self.sync_result = result
        self.runFinished.emit(result.run_id)
        if self._backgrounded:
            self.done(QDialog.DialogCode.Accepted)
            return result
        self.show_result(result)
        return result

    def _sent_to_background(self) -> None:
        self._backgrounded = True

    def _window(self) -> QMainWindow | None:
        widget = self.parentWidget()
        while widget is not None:
            if isinstance(widget, QMainWindow):
                return widget
            widget = widget.parentWidget()
        return None

    def _show_failure(self, message: str, *, started: bool = True, refused: bool = False) -> None:
        self.pages.setCurrentWidget(self.start_page)
        if refused:
            self.refusal.setText(f"The sync did not start: {message}")
        elif started:
            self.refusal.setText(f"The sync failed: {message} Links stored before the failure are kept; you can "
                                 "start the sync again.")
        else:
            self.refusal.setText(f"The sync did not start: {message} Nothing was changed; start it again when that "
                                 "run has ended.")
        self.refusal.setVisible(True)
        self.start_button.setEnabled(True)
        if not self._backgrounded:
            self.show()

    def show_result(self, result: sync.SyncResult) -> SyncResultView:
        if self.result_view is not None:
            self.result_view.deleteLater()
        self.result_view = SyncResultView(self.ctx, result.list_id, result.crm, result=result)
        self.result_view.syncAgainRequested.connect(lambda _lid: self.show_start())
        # In a small window the view scrolls as a whole rather than squeezing its parts.
        if self.result_scroll is None:
            self.result_scroll = QScrollArea()
            self.result_scroll.setObjectName("syncResultScroll")
            self.result_scroll.setWidgetResizable(True)
            self.result_scroll.setFrameShape(QFrame.Shape.NoFrame)
            self.result_layout.addWidget(self.result_scroll, 1)
        self.result_scroll.setWidget(self.result_view)
        crm_name = _crm_display(result.crm)
        self.title.setText(f"“{result.list_name}” synced with {crm_name}")
        calls = f"{number(result.api_calls)} API call{'s' if result.api_calls != 1 else ''}"
        self.subtitle.setText(f"{result.message} {calls}, {result.seconds:.1f} s.".strip())
        self.result_note.setText(result.message if result.cancelled else "")
        self.result_note.setVisible(result.cancelled)
        self.pages.setCurrentWidget(self.result_page)
        self.resize(max(self.width(), 1000), max(self.height(), 700))  # room for the records and the candidates
        self.start_button.setVisible(False)
        self.close_button.setText("Close")
        primary = result.primary
        self._synced_list = result.list_id
        if self.offer_export and not result.cancelled and primary is not None and primary.total:
            one, many = ("contact", "contacts") if primary.object == "contact" else ("company", "companies")
            these = "this" if primary.total == 1 else "these"
            self.export_button.setText(
                f"Export {these} {number(primary.total)} {one if primary.total == 1 else many} to {crm_name}…"
            )
            self.export_button.setVisible(True)
            make_primary(self.export_button)
        else:
            self.export_button.setVisible(False)
            make_primary(self.close_button)
        self.show()
        return self.result_view

    def _export_next(self) -> None:
        self.accept()
        self.exportRequested.emit(self._synced_list)

    def show_start(self) -> None:
        self.pages.setCurrentWidget(self.start_page)
        self.export_button.setVisible(False)
        self.start_button.setVisible(True)
        self.close_button.setText("Cancel")
        make_primary(self.start_button)
        self.refresh_state()


def sync_button_label(ctx: AppContext) -> str:
    """"Sync with HubSpot…" (the enabled CRM), or "Sync with CRM…" when none is enabled."""
    spec = ctx.integrations.active_crm()
    return f"Sync with {spec.name}…" if spec is not None else "Sync with CRM…"


def sync_run_detail(ctx: AppContext, run: RunInfo, parent: QWidget) -> QWidget | None:
    """The Runs page's details of a sync run: the list's records as the last sync left them."""
    if run.list_id is None or not run.crm:
        note = QLabel("The list of this sync was deleted; its links are kept with the records.")
        note.setObjectName("fieldHelp")
        note.setWordWrap(True)
        return note
    try:
        view = SyncResultView(ctx, run.list_id, run.crm, run=run, parent=parent)
    except Exception:
        log.exception("Cannot show the records of sync run %s", run.id)
        return None

    def again(list_id: int) -> None:
        dialog = SyncDialog(ctx, list_id=list_id, parent=view)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    view.syncAgainRequested.connect(again)
    return view
