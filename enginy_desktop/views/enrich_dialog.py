"""Enrich… (DESIGN §13): what to find, the providers and their order, the estimate against a cap, then the run with
the shared progress dialog; the run's report on the Runs page; the Enrichment settings (default order per data
point). The views only render core state and call :mod:`enginy_desktop.core.enrich` (in worker threads)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.adapters.enrichment.base import DATA_POINT_LABELS, DataPoint
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.enrich import (
    DEFAULT_MAX_CREDITS,
    EnrichOptions,
    providers,
    save_default_order,
    saved_waterfall,
)
from enginy_desktop.core.enrich.points import points_for
from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunHandle, RunInfo

from .formatting import decimal, number
from .run_progress import main_window_of, show_progress
from .workspace_widgets import TaskKeeper

log = logging.getLogger(__name__)

__all__ = ["ENRICH_COUNTERS", "EnrichDialog", "EnrichSettingsDialog", "enrich_run_detail"]

ENRICH_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("found", "Values found", "good"),
    ("cached", "From the cache", ""),
    ("requests", "Requests", ""),
    ("reasked", "Asked again", "warning"),
)
DEFAULT_POINTS = (DataPoint.EMAIL, DataPoint.PHONE, DataPoint.JOB_TITLE)


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return decimal(x)


def _item(text: str, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class OrderList(QWidget):
    """Providers in their order, each checkable (asked or not), with Up / Down."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, checkable: bool = True) -> None:
        super().__init__(parent)
        self.checkable = checkable
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget(self)
        self.list.setObjectName("providerOrder")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemChanged.connect(lambda _i: self.changed.emit())
        lay.addWidget(self.list, 1)
        side = QVBoxLayout()
        self.up = QPushButton("Up")
        self.up.setObjectName("orderUp")
        self.down = QPushButton("Down")
        self.down.setObjectName("orderDown")
        self.up.clicked.connect(lambda: self.shift(-1))
        self.down.clicked.connect(lambda: self.shift(1))
        side.addWidget(self.up)
        side.addWidget(self.down)
        side.addStretch(1)
        lay.addLayout(side)

    def set_providers(self, entries: Sequence[tuple[str, str, bool, bool, str]]) -> None:
        """(key, label, checked, enabled, tooltip) in order."""
        self.list.blockSignals(True)
        self.list.clear()
        for key, label, checked, enabled, tip in entries:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            flags = Qt.ItemFlag.ItemIsSelectable
            if self.checkable:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
            if enabled:
                flags |= Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)
            if self.checkable:
                item.setCheckState(Qt.CheckState.Checked if checked and enabled else Qt.CheckState.Unchecked)
            item.setToolTip(tip)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setFixedHeight(self.height_for(max(4, min(7, self.list.count()))))

    def height_for(self, rows: int) -> int:
        """The list's height to show ``rows`` providers without scrolling."""
        row = max(self.list.sizeHintForRow(0) if self.list.count() else 0, self.fontMetrics().height() + 6)
        return rows * (row + 2) + 2 * self.list.frameWidth() + 8

    def shift(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)
        self.changed.emit()

    def keys(self, checked_only: bool = True) -> list[str]:
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if checked_only and self.checkable and item.checkState() != Qt.CheckState.Checked:
                continue
            out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out


class WaterfallEditor(QWidget):
    """The waterfall per data point: the data points on the left, the providers that find the selected one on the
    right, in their order (Up / Down), checkable (asked or not) when ``checkable``; "Use this order for every data
    point" copies it (and its ticks) to the others. ``order`` is the list of the data point shown. With
    ``gate_ready`` a provider that is switched off or not connected is greyed and cannot be ticked (a run's
    choice); without it every provider can be ticked (the saved default)."""

    changed = Signal()

    def __init__(self, choices: dict[str, Any], orders: dict[DataPoint, list[tuple[str, bool]]], *,
                 checkable: bool, gate_ready: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = choices
        self.gate_ready = gate_ready
        self.orders = {p: list(v) for p, v in orders.items()}  # point -> [(provider key, asked)]
        self.current: DataPoint | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        self.points = QListWidget(self)
        self.points.setObjectName("waterfallPoints")
        self.points.setAccessibleName("Data points")
        self.points.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        widest = max(self.points.fontMetrics().horizontalAdvance(label) for label in DATA_POINT_LABELS.values())
        self.points.setFixedWidth(widest + 40)
        lay.addWidget(self.points)
        right = QVBoxLayout()
        right.setSpacing(6)
        self.heading = QLabel()
        self.heading.setObjectName("fieldHelp")
        self.heading.setWordWrap(True)
        right.addWidget(self.heading)
        self.order = OrderList(self, checkable=checkable)
        self.order.list.setAccessibleName("Providers, in the order they are asked")
        self.order.changed.connect(self._store)
        right.addWidget(self.order)
        self.copy_all = QPushButton("Use this order for every data point")
        self.copy_all.setObjectName("waterfallCopyAll")
        self.copy_all.setToolTip("Ask the providers in this order, ticked as here, for every data point they can find")
        self.copy_all.clicked.connect(self.apply_to_all)
        right.addWidget(self.copy_all, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addLayout(right, 1)
        self.points.currentItemChanged.connect(self._show)

    def set_points(self, points: Sequence[DataPoint]) -> None:
        """Show these data points (the others keep their order, hidden)."""
        keep = self.current
        self.points.blockSignals(True)
        self.points.clear()
        for point in points:
            item = QListWidgetItem(DATA_POINT_LABELS[point])
            item.setData(Qt.ItemDataRole.UserRole, point.value)
            self.points.addItem(item)
        self.points.blockSignals(False)
        rows = [p for p in points]
        self.points.setCurrentRow(rows.index(keep) if keep in rows else 0)
        self.points.setFixedHeight(max(self.order.height_for(7), self.points.sizeHintForRow(0) * len(rows) + 12
                                       if rows else 0))
        if not rows:
            self.current = None
            self.order.set_providers([])
            self.heading.setText("Choose what to find to order its providers.")
        self._label_points()

    def select(self, point: DataPoint) -> None:
        for i in range(self.points.count()):
            if self.points.item(i).data(Qt.ItemDataRole.UserRole) == point.value:
                self.points.setCurrentRow(i)
                return

    def _show(self, item: QListWidgetItem | None, _prev: Any = None) -> None:
        if item is None:
            return
        self.current = DataPoint(str(item.data(Qt.ItemDataRole.UserRole)))
        entries = []
        for key, asked in self.orders.get(self.current, []):
            c = self.choices[key]
            state = "" if c.ready else (" — switched off" if not c.enabled else " — not connected")
            tip = c.why_not() or f"{c.name}: {c.pricing}"
            entries.append((key, f"{c.name}{state}", asked, c.ready or not self.gate_ready, tip))
        self.order.set_providers(entries)
        label = DATA_POINT_LABELS[self.current]
        untick = ("" if not self.order.checkable else " Untick a provider to skip it." if self.gate_ready
                  else " Untick a provider never to ask it for this.")
        self.heading.setText(f"{label}: asked in this order, the next one only when the one before found nothing."
                             f"{untick}" if entries else f"No provider Enginy can ask finds {label.lower()}.")
        self.copy_all.setEnabled(len(entries) > 1)

    def _store(self) -> None:
        if self.current is None:
            return
        keys = self.order.keys(checked_only=False)
        asked = set(self.order.keys())
        self.orders[self.current] = [(k, k in asked) for k in keys]
        self._label_points()
        self.changed.emit()

    def apply_to_all(self) -> None:
        """The order shown, for every other data point (each keeps only the providers that find it)."""
        if self.current is None:
            return
        rank = {k: i for i, (k, _a) in enumerate(self.orders.get(self.current, []))}
        asked = dict(self.orders.get(self.current, []))
        for point, entries in self.orders.items():
            if point is self.current:
                continue
            entries.sort(key=lambda e: rank.get(e[0], len(rank)))
            self.orders[point] = [(k, asked.get(k, a)) for k, a in entries]
        self._label_points()
        self.changed.emit()

    def keys(self, point: DataPoint, asked_only: bool = True) -> list[str]:
        return [k for k, a in self.orders.get(point, []) if a or not asked_only]

    def _label_points(self) -> None:
        """Each data point says its waterfall: "Work e-mail — Hunter → Lusha"."""
        for i in range(self.points.count()):
            item = self.points.item(i)
            point = DataPoint(str(item.data(Qt.ItemDataRole.UserRole)))
            names = [self.choices[k].name for k in self.keys(point, asked_only=self.order.checkable)
                     if self.choices[k].ready or not self.gate_ready]
            item.setToolTip(f"{DATA_POINT_LABELS[point]}: {' → '.join(names) if names else 'no provider'}")


class _FittingScroll(QScrollArea):
    """A frameless scroll area as tall as its content when there is room (QScrollArea's own hint is capped), and
    allowed to shrink to a few rows when there is not."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setObjectName("enrichOptionsScroll")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)
        self.content = content

    def sizeHint(self) -> QSize:
        hint = self.content.sizeHint()
        return QSize(hint.width() + self.verticalScrollBar().sizeHint().width(), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.content.minimumSizeHint().width(), 120)


class EnrichDialog(QDialog):
    """What to find, the waterfall order, the estimate against a cap, Enrich."""

    runStarted = Signal(int)
    runEnded = Signal(int)
    statusMessage = Signal(str)

    def __init__(self, ctx: AppContext, list_id: int, *, record_ids: Sequence[int] | None = None,
                 parent: QWidget | None = None, factory: Callable[[str], Any] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("enrichDialog")
        self.setWindowTitle("Enrich")
        self.setMinimumWidth(720)
        self.ctx = ctx
        self.list_id = list_id
        self.record_ids = list(record_ids) if record_ids else None
        self.factory = factory  # tests: adapters on the emulators in-process
        self.tasks = TaskKeeper()
        self.estimate: Any = None
        self.last_run: RunInfo | None = None
        from enginy_desktop.core.enrich.plan import list_kind

        self.kind, self.list_name = list_kind(ctx, list_id)
        self.choices = {c.key: c for c in providers(ctx)}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(lambda: self.tasks.start(self.refresh_estimate()))

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 20)
        root.setSpacing(12)
        title = QLabel(f"Enrich “{self.list_name}”")
        title.setObjectName("dialogTitle")
        root.addWidget(title)
        scope = (f"the {number(len(self.record_ids))} selected records" if self.record_ids
                 else "every record of the list")
        sub = QLabel(f"Find what is missing in {scope}. Providers are asked in order: the next one only for what is "
                     "still missing. Values you entered are kept.")
        sub.setObjectName("dialogSubtitle")
        sub.setWordWrap(True)
        root.addWidget(sub)

        self.notice = QLabel()
        self.notice.setObjectName("enrichNotice")
        self.notice.setWordWrap(True)
        self.notice.setProperty("appMessage", True)
        root.addWidget(self.notice)

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        self.point_boxes: dict[DataPoint, QCheckBox] = {}
        allowed = points_for(self.kind)
        for i, point in enumerate(allowed):
            box = QCheckBox(DATA_POINT_LABELS[point])
            box.setObjectName(f"find_{point.value}")
            box.setChecked(point in DEFAULT_POINTS or (self.kind is RecordKind.COMPANY and i < 3))
            finders = [c.name for c in self.choices.values() if point in c.finds]
            box.setToolTip(f"Found by {', '.join(finders)}" if finders else "No provider finds it")
            box.toggled.connect(self._points_changed)
            self.point_boxes[point] = box
            grid.addWidget(box, i // 3, i % 3)
        form.addRow("Find", grid)

        self.waterfall = WaterfallEditor(self.choices, self._initial_orders(), checkable=True, parent=self)
        self.waterfall.setObjectName("enrichWaterfall")
        self.waterfall.changed.connect(self._changed)
        self.order = self.waterfall.order  # the providers of the data point selected
        form.addRow("Providers, per data point", self.waterfall)
        self.save_default = QCheckBox("Save these orders and ticks as the default (Enrichment settings)")
        self.save_default.setObjectName("saveDefaultOrder")
        form.addRow("", self.save_default)

        cap_row = QHBoxLayout()
        cap_row.setSpacing(8)
        self.cap_on = QCheckBox("Spend at most")
        self.cap_on.setObjectName("capOn")
        self.cap_on.setChecked(True)
        self.cap = QDoubleSpinBox()
        self.cap.setObjectName("creditCap")
        self.cap.setRange(0, 10_000_000)
        self.cap.setDecimals(1)
        self.cap.setValue(DEFAULT_MAX_CREDITS)
        self.cap.setSuffix(" credits")
        self.cap.setToolTip(f"{_num(DEFAULT_MAX_CREDITS)} credits unless you change it (the command line's default "
                            "too). A run that reaches the cap is paused there; resume it from Runs with a higher "
                            "cap.")
        self.cap_on.setToolTip(self.cap.toolTip())
        self.cap_on.toggled.connect(self.cap.setEnabled)
        self.cap_on.toggled.connect(self._changed)
        self.cap.valueChanged.connect(self._changed)
        cap_row.addWidget(self.cap_on)
        cap_row.addWidget(self.cap)
        cap_hint = QLabel(f"Default {_num(DEFAULT_MAX_CREDITS)}")
        cap_hint.setObjectName("fieldHelp")
        cap_hint.setToolTip(self.cap.toolTip())
        cap_row.addWidget(cap_hint)
        cap_row.addStretch(1)
        form.addRow("Cap", cap_row)
        self.replace = QCheckBox("Also replace values that are already there")
        self.replace.setObjectName("replaceValues")
        self.replace.toggled.connect(self._changed)
        form.addRow("", self.replace)
        # The options scroll when the screen is short (a 768-pixel laptop): the estimate and Enrich stay in view.
        options = QWidget()
        options.setObjectName("enrichOptions")
        form.setContentsMargins(0, 0, 0, 0)
        options.setLayout(form)
        self.options_scroll = _FittingScroll(options)
        root.addWidget(self.options_scroll)

        est_title = QLabel("Estimate before spending")
        est_title.setObjectName("sectionTitle")
        root.addWidget(est_title)
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("enrichEstimate")
        self.table.setHorizontalHeaderLabels(["Provider", "Records asked (at most)", "Credits (at most)", "From cache"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 150)
        self.table.setColumnWidth(1, 190)
        self.table.setColumnWidth(2, 150)
        self.table.setMinimumHeight(100)
        root.addWidget(self.table)
        self.total = QLabel()
        self.total.setObjectName("enrichTotal")
        self.total.setWordWrap(True)
        root.addWidget(self.total)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("enrichClose")
        self.cancel_button.clicked.connect(self.reject)
        self.start_button = QPushButton("Enrich")
        self.start_button.setObjectName("enrichStart")
        self.start_button.setProperty("primary", True)
        self.start_button.setEnabled(False)
        self.start_button.clicked.connect(lambda: self.tasks.start(self.start()))
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.start_button)
        root.addLayout(buttons)
        self._fill_order()
        self._changed()

    # -- state -------------------------------------------------------------------------------------------------
    def points(self) -> list[DataPoint]:
        return [p for p, box in self.point_boxes.items() if box.isChecked()]

    def _initial_orders(self) -> dict[DataPoint, list[tuple[str, bool]]]:
        """Each data point's saved waterfall, the ready providers first (ticked unless excluded from that point in
        the settings), then the others (greyed)."""
        saved = saved_waterfall(self.ctx)
        self._saved_excluded = {p: {k for k, asked in entries if not asked} for p, entries in saved.items()}
        out: dict[DataPoint, list[tuple[str, bool]]] = {}
        for point in DataPoint:
            entries = [(k, asked) for k, asked in saved.get(point, []) if k in self.choices]
            entries.sort(key=lambda e: not self.choices[e[0]].ready)  # stable: the saved order among the ready ones
            out[point] = [(k, asked and self.choices[k].ready) for k, asked in entries]
        return out

    def _excluded(self) -> dict[DataPoint, list[str]]:
        """The exclusions to save: the ready providers unticked here, and what was saved for the others (they
        cannot be ticked here, so their greyed box says nothing)."""
        out: dict[DataPoint, list[str]] = {}
        for point in DataPoint:
            asked = set(self.waterfall.keys(point))
            out[point] = [k for k in self.waterfall.keys(point, asked_only=False)
                          if (k not in asked if self.choices[k].ready else k in self._saved_excluded.get(point, ()))]
        return out

    def _points_changed(self, *_args: Any) -> None:
        self.waterfall.set_points(self.points())
        self._changed()

    def _fill_order(self) -> None:
        self.waterfall.set_points(self.points())
        if not any(c.ready for c in self.choices.values()):
            self._notice("No enrichment provider is ready. Switch one on under Integrations → Data Enrichment "
                         "and connect it, then open Enrich… again.", "warning")

    def options(self) -> EnrichOptions:
        order = {p: [k for k in self.waterfall.keys(p) if self.choices[k].ready and p in self.choices[k].finds]
                 for p in self.points()}
        cap = self.cap.value() if self.cap_on.isChecked() else None
        return EnrichOptions(self.list_id, self.points(), order, record_ids=self.record_ids, max_credits=cap,
                             replace=self.replace.isChecked())

    def _notice(self, text: str, tone: str = "") -> None:
        self.notice.setText(text)
        self.notice.setProperty("tone", tone)
        self.notice.setVisible(bool(text))

    def _changed(self, *_args: Any) -> None:
        self.start_button.setEnabled(False)
        self._timer.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """Never taller than the screen: the options scroll instead, and Enrich stays reachable."""
        super().showEvent(event)
        screen = self.screen()
        if screen is not None and not self.isMaximized():
            room = screen.availableGeometry().height() - 40  # the window frame's title bar
            if self.minimumHeight() > room:  # the minimum counts the options at full height: let them scroll
                self.setMinimumHeight(max(room, self.minimumSizeHint().height()))
            if self.height() > room:
                self.resize(self.width(), self.minimumHeight())

    async def refresh_estimate(self) -> None:
        from enginy_desktop.core.enrich import EnrichError, estimate
        from enginy_desktop.core.export import interactive as ui

        options = self.options()
        if not options.points:
            self._show_estimate(None, "Choose at least one thing to find.")
            return
        if not any(options.order.get(p) for p in options.points):
            self._show_estimate(None, "No provider in the list is ready and finds what you chose.")
            return
        try:
            est = await ui.in_thread(lambda: estimate(self.ctx, options), name="enrich-estimate")
        except EnrichError as exc:
            self._show_estimate(None, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown, and the dialog stays usable
            log.warning("enrichment estimate failed: %s", exc)
            self._show_estimate(None, f"The estimate could not be made: {redact(exc)}")
            return
        self._show_estimate(est, "")

    def _show_estimate(self, est: Any, problem: str) -> None:
        self.estimate = est
        self.table.setRowCount(0)
        if est is None:
            self.total.setText(problem)
            self.start_button.setEnabled(False)
            return
        self.table.setRowCount(len(est.providers))
        for row, pe in enumerate(est.providers):
            self.table.setItem(row, 0, _item(pe.name))
            self.table.setItem(row, 1, _item(f"{number(pe.records)}", True))
            self.table.setItem(row, 2, _item(f"{_num(pe.credits)}", True))
            self.table.setItem(row, 3, _item(f"{number(pe.cached)}" if pe.cached else "—", True))
        missing = ", ".join(f"{DATA_POINT_LABELS[DataPoint(k)].lower()} {number(v)}"
                            for k, v in est.missing.items())
        lines = [f"{number(est.records)} records; missing: {missing or 'nothing'}.",
                 f"At most {_num(est.credits_at_most)} credits in all"
                 + (f", against a cap of {_num(est.cap)}." if est.cap is not None else " (no cap).")]
        if est.over_cap:
            lines.append("Over the cap: the run asks only what the cap pays for at most (the last request is split "
                         "to fit), then stops; resume it later with a higher cap.")
        if est.nothing_to_do:
            lines.append("Nothing to ask: the records have these values, or the cache answers them for free.")
        self.total.setText(" ".join(lines))
        self.start_button.setEnabled(not est.nothing_to_do)

    # -- the run -----------------------------------------------------------------------------------------------
    async def start(self) -> RunInfo | None:
        from enginy_desktop.core.enrich import EnrichError, run_enrichment, start_enrichment
        from enginy_desktop.core.export import interactive as ui
        from enginy_desktop.core.runs import RunError

        options = self.options()
        if self.save_default.isChecked():  # every data point's order as shown, and the providers unticked in it
            save_default_order(self.ctx, {p: self.waterfall.keys(p, asked_only=False) for p in DataPoint},
                               self._excluded())
        try:
            info = start_enrichment(self.ctx, options)
        except (EnrichError, RunError) as exc:
            self._notice(str(exc), "danger")
            return None
        self.runStarted.emit(info.id)
        handle = RunHandle("enrichment", f"Enriching “{self.list_name}”", verb="Enriching",
                           target=f"“{self.list_name}”", unit="records")
        handle.run_id = info.id
        window = main_window_of(self.parentWidget())
        self.accept()
        show_progress(handle, parent=window or self.parentWidget(), counters=ENRICH_COUNTERS)
        relay = ui.ProgressRelay(handle.publish)
        token = handle.token
        factory = self.factory

        async def work() -> RunInfo:
            return await run_enrichment(self.ctx, info.id, factory=factory, progress=relay, token=token)

        result: RunInfo = await handle.run(ui.in_worker_thread(work, token=token, relay=relay, name="enrich-run"),
                                           lambda r: _summary(r))
        self.last_run = result
        self.runEnded.emit(result.id)
        self.statusMessage.emit(_summary(result))
        return result


def _summary(run: RunInfo) -> str:
    c = run.counters
    text = f"Enrichment {run.state_label.lower()}: {number(int(c.get('found', 0) or 0))} values found, " \
           f"{_num(float(c.get('credits', 0) or 0))} credits spent."
    return text if not run.error else f"{text} {run.error}"


class EnrichSettingsDialog(QDialog):
    """Enrichment settings: the default waterfall per data point (reachable from the Data Enrichment cards)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("enrichSettings")
        self.setWindowTitle("Enrichment settings")
        self.setMinimumWidth(640)
        self.ctx = ctx
        self.choices = {c.key: c for c in providers(ctx)}
        saved = saved_waterfall(ctx)
        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 20)
        root.setSpacing(12)
        title = QLabel("Enrichment settings")
        title.setObjectName("dialogTitle")
        root.addWidget(title)
        sub = QLabel("For each data point, the order in which the providers are asked: the next one only for what "
                     "the ones before did not find. Untick a provider never to ask it for that data point. Enrich… "
                     "starts from these orders and ticks; providers that are switched off or not connected are "
                     "skipped. On the command line, --providers sets one order for every data point instead, for "
                     "that run.")
        sub.setObjectName("dialogSubtitle")
        sub.setWordWrap(True)
        root.addWidget(sub)
        orders = {p: [(k, asked) for k, asked in saved.get(p, []) if k in self.choices] for p in DataPoint}
        self.waterfall = WaterfallEditor(self.choices, orders, checkable=True, gate_ready=False, parent=self)
        self.waterfall.setObjectName("settingsWaterfall")
        self.points = self.waterfall.points
        self.order = self.waterfall.order
        root.addWidget(self.waterfall, 1)
        self.pricing = QLabel()
        self.pricing.setObjectName("fieldHelp")
        self.pricing.setWordWrap(True)
        root.addWidget(self.pricing)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        close = QPushButton("Cancel")
        close.clicked.connect(self.reject)
        save = QPushButton("Save")
        save.setObjectName("settingsSave")
        save.setProperty("primary", True)
        save.clicked.connect(self.save)
        buttons.addWidget(close)
        buttons.addWidget(save)
        root.addLayout(buttons)
        self.order.list.currentRowChanged.connect(lambda *_: self._pricing())
        self.waterfall.set_points(list(DataPoint))
        self.order.list.setCurrentRow(0)
        self._pricing()

    def _pricing(self) -> None:
        """What the selected provider costs (the one being moved)."""
        item = self.order.list.currentItem()
        key = str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""
        c = self.choices.get(key)
        self.pricing.setText(f"{c.name}: {c.pricing} {c.why_not()}".strip() if c else "")

    def save(self) -> None:
        every = {p: self.waterfall.keys(p, asked_only=False) for p in DataPoint}
        asked = {p: set(self.waterfall.keys(p)) for p in DataPoint}
        save_default_order(self.ctx, every, {p: [k for k in keys if k not in asked[p]] for p, keys in every.items()})
        self.accept()


def enrich_run_detail(ctx: AppContext, run: RunInfo, parent: QWidget) -> QWidget:
    """Under an enrichment run on the Runs page: per provider and data point, asked / found / not found / failed,
    the credits, what is still missing, and Resume."""
    from enginy_desktop.core.enrich import report
    from enginy_desktop.core.enrich.report import point_label

    rep = report(ctx, run.id)
    w = QWidget(parent)
    w.setObjectName("enrichRunDetail")
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    notes = []
    if rep.reasked:
        notes.append(f"{number(rep.reasked)} records were asked again after an interruption (their provider does "
                     "not charge a repeated lookup).")
    if rep.not_reasked:
        notes.append(f"{number(rep.not_reasked)} records were not asked again after an interruption: their "
                     "provider charges a repeated lookup, so nothing was paid twice; enrich the list again to ask "
                     "them.")
    if rep.left_by_cap:
        notes.append(f"{number(rep.left_by_cap)} records still had a provider to ask, left for lack of credit under "
                     "the cap.")
    head = QLabel(f"{number(rep.found)} values found ({number(rep.cached)} from the cache, free); "
                  f"{_num(rep.credits)} credits spent." + "".join(f" {n}" for n in notes))
    head.setObjectName("fieldHelp")
    head.setWordWrap(True)
    lay.addWidget(head)
    rows = [(p, point, o) for p in rep.providers for point, o in p.points.items()]
    table = QTableWidget(len(rows), 7, w)
    table.setObjectName("enrichReport")
    table.setHorizontalHeaderLabels(["Provider", "Data point", "Asked", "Found", "Not found", "Failed", "Credits"])
    table.verticalHeader().setVisible(False)
    for i, (p, point, o) in enumerate(rows):
        name = _item(p.name)
        name.setToolTip(p.repeat_note)  # what the vendor charges for asking again (what a resumed run relies on)
        table.setItem(i, 0, name)
        table.setItem(i, 1, _item(point_label(point)))
        for col, value in enumerate((o.asked, o.found, o.not_found, o.failed), start=2):
            table.setItem(i, col, _item(f"{number(value)}", True))
        table.setItem(i, 6, _item(_num(p.credits) if point == next(iter(p.points)) else "", True))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    table.setMinimumHeight(160)
    lay.addWidget(table)
    missing = ", ".join(f"{point_label(k)} {number(v)}" for k, v in rep.still_missing.items() if v)
    if missing:
        left = QLabel(f"Still missing: {missing}.")
        left.setObjectName("fieldHelp")
        left.setWordWrap(True)
        lay.addWidget(left)
    for p in rep.providers:
        for error in p.errors[:2]:
            err = QLabel(f"{p.name}: {error}")
            err.setObjectName("fieldHelp")
            err.setWordWrap(True)
            lay.addWidget(err)
    if rep.resumable:
        row = QHBoxLayout()
        row.setSpacing(8)
        resume = QPushButton("Resume", w)
        resume.setObjectName("enrichResume")
        resume.setToolTip("Carry on where it stopped; lookups already answered are not paid again")
        raised: QDoubleSpinBox | None = None
        old_cap = (run.options.get("enrich") or {}).get("max_credits")
        if rep.left_by_cap and isinstance(old_cap, int | float):  # the same cap would stop it again at once
            resume.setText("Resume with a higher cap")
            raised = QDoubleSpinBox(w)
            raised.setObjectName("enrichResumeCap")
            raised.setRange(float(old_cap) + 1, 10_000_000)
            raised.setDecimals(1)
            raised.setValue(float(old_cap) * 2 or 100.0)
            raised.setSuffix(" credits")
            raised.setToolTip(f"The new cap of the whole run (it stopped at {_num(float(old_cap))} credits)")

        def go() -> None:
            from enginy_desktop.core.enrich import resume_enrichment
            from enginy_desktop.core.export import interactive as ui

            handle = RunHandle("enrichment", f"Enriching “{run.list_name}”", verb="Enriching",
                               target=f"“{run.list_name}”", unit="records")
            handle.run_id = run.id
            show_progress(handle, parent=main_window_of(parent) or parent, counters=ENRICH_COUNTERS)
            relay = ui.ProgressRelay(handle.publish)
            token = handle.token

            cap = raised.value() if raised is not None else None

            async def work() -> RunInfo:
                return await resume_enrichment(ctx, run.id, max_credits=cap, progress=relay, token=token)

            handle.start(ui.in_worker_thread(work, token=token, relay=relay, name="enrich-resume"), _summary)

        resume.clicked.connect(go)
        row.addWidget(resume)
        if raised is not None:
            row.addWidget(raised)
        row.addStretch(1)
        lay.addLayout(row)
    return w
