"""A sync's result: counts per outcome, every record with its outcome, CRM id and why it matched, ambiguous
records settled by the user (:mod:`.candidates`), and the identifier's duplicate-risk check. The sync dialog shows
it when a sync ends; the Runs page shows it as a sync run's details.

The view renders :mod:`enginy_desktop.core.sync` state and forwards the user's choices to it; ``load_candidates``
and ``check_risk`` are what tests call directly.

Signals: ``SyncResultView.changed()`` — the user settled an ambiguous record; ``syncAgainRequested(int)``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTabBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.adapters.base import AdapterError
from enginy_desktop.core import sync
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunInfo
from enginy_desktop.core.services.integrations import IntegrationError
from enginy_desktop.core.services.workspace import WorkspaceService

from ..run_progress import SYNC_COUNTERS, CounterTiles, number
from ..tasks import TaskKeeper
from ..widgets import note_label
from .candidates import CandidatesPanel
from .links import FILTERS, LinksModel, crm_display


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
        self.crm_name = crm_display(crm)
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

        self.risk = note_label("riskNote")
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

        self.resolve = CandidatesPanel()
        self.resolve.chosen.connect(self.choose)
        self.resolve.createNewRequested.connect(self._create_new_clicked)
        self.resolve_title, self.cards_host = self.resolve.title, self.resolve.cards_host
        self.create_new_button = self.resolve.create_new_button
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
        self.resolve.show_row(row, self.crm_name)
        self._render_cards(row)
        self.resolve.setVisible(True)

    def _render_cards(self, row: sync.LinkRow) -> None:
        known = all(c in self._candidates for c in row.candidates)
        self.resolve.show_cards(row, self.crm_name, self._candidates if known else None)

    async def load_candidates(self, row: sync.LinkRow) -> list[sync.Candidate]:
        """Read the key properties of an ambiguous record's candidates (one call) and show them."""
        missing = [c for c in row.candidates if c not in self._candidates]
        records: list[sync.Candidate] = []
        if missing:
            try:
                records = await sync.candidate_details(self.ctx, row.object, missing, crm=self.crm)
            except (AdapterError, IntegrationError) as exc:
                if self._current is row:
                    self.resolve.show_status(f"The records could not be read from {self.crm_name}: "
                                             f"{redact(exc)} You can still choose by ID.")
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
