"""The progress of a run: a dialog, and an indicator in the main window's status bar (DESIGN §6, UI.md).

Both follow a :class:`~enginy_desktop.core.runs.RunHandle` (the run's asyncio task, its cancel token and its
latest :class:`~enginy_desktop.core.runs.Progress`); neither knows what kind of run it shows. Usage::

    handle = RunHandle("sync", "Syncing “Leads” with HubSpot", verb="Syncing", target="with HubSpot",
                       unit="contacts")
    handle.start(sync_coroutine(..., progress=handle.publish, token=handle.token))
    dialog = show_progress(handle, parent=window, counters=SYNC_COUNTERS)
    dialog.runEnded.connect(...)       # the run ended while the dialog was open (it closes itself)

* **Cancel** asks for confirmation (a non-modal box: no nested event loop), then sets the token; the dialog says
  it waits for the batch in flight, and closes when the run has stopped.
* **Run in background** (or Escape, or closing the window) closes the dialog and leaves a
  :class:`RunStatusIndicator` in the main window's status bar: a spinner and "Syncing 1,240 / 5,000 with
  HubSpot". Clicking it opens the dialog again. When the run ends, the indicator goes and the status bar says how
  it ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.runs import Progress, RunCancelled, RunHandle, format_duration

from .formatting import amount
from .formatting import number as number  # re-exported: the run views import it from here
from .message import MessageBox
from .spinner import Spinner as Spinner  # re-exported: the run views import it from here

log = logging.getLogger(__name__)

__all__ = [
    "EXPORT_COUNTERS",
    "SYNC_COUNTERS",
    "CounterTiles",
    "ProgressDialog",
    "RunStatusIndicator",
    "Spinner",
    "main_window_of",
    "number",
    "show_progress",
]

# (counter key, label, tone): the tiles a kind of run shows, in order. Tone "" | "good" | "warning" | "danger".
SYNC_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("matched", "Matched", "good"),
    ("new", "New", ""),
    ("ambiguous", "Ambiguous", "warning"),
    ("unmatchable", "Unmatchable", "warning"),
)
EXPORT_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("created", "Created", "good"),
    ("updated", "Updated", "good"),
    ("unchanged", "Unchanged", ""),
    ("failed", "Failed", "danger"),
)


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class CounterTiles(QWidget):
    """Counters as tiles (value over label), e.g. Matched 812 · New 40 · Ambiguous 3 · Unmatchable 1."""

    def __init__(self, counters: Sequence[tuple[str, str, str]], parent: QWidget | None = None,
                 columns: int = 4) -> None:
        super().__init__(parent)
        self.setObjectName("counterTiles")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(8)
        self.values: dict[str, QLabel] = {}
        self.tiles: dict[str, QFrame] = {}
        for i, (key, label, tone) in enumerate(counters):
            tile = QFrame()
            tile.setObjectName("counterTile")
            tile.setProperty("tone", tone)
            tile.setProperty("zero", True)
            lay = QVBoxLayout(tile)
            lay.setContentsMargins(12, 8, 12, 8)
            lay.setSpacing(0)
            value = QLabel("0")
            value.setObjectName("counterValue")
            value.setAccessibleName(label)
            caption = QLabel(label)
            caption.setObjectName("counterLabel")
            lay.addWidget(value)
            lay.addWidget(caption)
            grid.addWidget(tile, i // columns, i % columns)
            self.values[key] = value
            self.tiles[key] = tile
        for c in range(min(columns, max(1, len(counters)))):
            grid.setColumnStretch(c, 1)

    def set_counts(self, counts: Any) -> None:
        for key, label in self.values.items():
            raw = counts.get(key, 0) or 0
            n = raw if isinstance(raw, float) and not raw.is_integer() else int(raw)  # credits keep decimals
            label.setText(amount(n))
            tile = self.tiles[key]
            if tile.property("zero") != (n == 0):
                tile.setProperty("zero", n == 0)
                _repolish(tile)

    def value(self, key: str) -> int:
        return int(self.values[key].text().replace(",", "").replace(".", "").replace("\u202f", "").replace(" ", ""))


class ProgressDialog(QDialog):
    """Phase, done / total with a bar, counters, rate, ETA; Cancel (graceful) and Run in background.

    Signals: ``backgrounded()`` — the user sent the run to the background (the dialog closed, the run goes on);
    ``runEnded()`` — the run ended while the dialog was open (it then closes by itself).
    """

    backgrounded = Signal()
    runEnded = Signal()

    def __init__(
        self,
        handle: RunHandle | None,
        *,
        counters: Sequence[tuple[str, str, str]] = (),
        parent: QWidget | None = None,
    ) -> None:
        """``handle`` None builds the dialog ahead of its run (building and styling it costs the window some
        milliseconds, better spent before Run than at it); :meth:`bind` gives it its run before it opens."""
        super().__init__(parent)
        self.handle: RunHandle
        self.setObjectName("progressDialog")
        self.setModal(False)
        self.setMinimumWidth(460)
        self.confirm_box: QMessageBox | None = None
        self._counters = list(counters)

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 20)
        root.setSpacing(12)
        self.title = QLabel()
        self.title.setObjectName("dialogTitle")
        self.title.setWordWrap(True)
        root.addWidget(self.title)

        phase_row = QHBoxLayout()
        phase_row.setSpacing(8)
        self.spinner = Spinner(size=16)
        phase_row.addWidget(self.spinner)
        self.phase = QLabel("Starting…")
        self.phase.setObjectName("progressPhase")
        phase_row.addWidget(self.phase, 1)
        root.addLayout(phase_row)

        self.bar = QProgressBar()
        self.bar.setObjectName("progressBar")
        self.bar.setTextVisible(False)
        self.bar.setRange(0, 0)
        self.bar.setFixedHeight(8)
        self.bar.setAccessibleName("Progress")
        root.addWidget(self.bar)

        self.numbers = QLabel("")
        self.numbers.setObjectName("progressNumbers")
        root.addWidget(self.numbers)

        self.tiles = CounterTiles(counters)
        root.addWidget(self.tiles)
        self.tiles.setVisible(bool(counters))  # in the dialog first: shown on its own, it would be a window

        self.message = QLabel("")
        self.message.setObjectName("progressMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        root.addWidget(self.message)

        root.addStretch(1)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        hint = QLabel("You can keep working: the run goes on in the background.")
        hint.setObjectName("fieldHelp")
        hint.setWordWrap(True)
        hint.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        buttons.addWidget(hint, 1)
        self.background_button = QPushButton("Run in background")
        self.background_button.setObjectName("runInBackground")
        self.background_button.clicked.connect(self.send_to_background)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelRun")
        self.cancel_button.setProperty("danger", True)
        self.cancel_button.clicked.connect(self.ask_cancel)
        buttons.addWidget(self.background_button)
        buttons.addWidget(self.cancel_button)
        root.addLayout(buttons)

        self._ended = False
        if handle is not None:
            self.bind(handle)

    def bind(self, handle: RunHandle) -> None:
        """Follow ``handle``'s run (once, before the dialog opens)."""
        self.handle = handle
        self.setWindowTitle(handle.title)
        self.title.setText(handle.title)
        handle.subscribe(self.update_progress)
        handle.on_done(self._on_done)
        if handle.latest is not None:
            self.update_progress(handle.latest)
        if handle.cancel_requested:
            self._show_stopping()

    # -- rendering -----------------------------------------------------------------------------------------------
    def update_progress(self, p: Progress) -> None:
        if self.handle.cancel_requested:
            self.phase.setText(f"Stopping after the current batch… ({p.phase})")
        else:
            self.phase.setText(p.phase)
        if p.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * (p.fraction or 0.0)))
        else:
            self.bar.setRange(0, 0)
        parts = []
        if p.total is not None:
            parts.append(f"{number(p.done)} of {number(p.total)} {self.handle.unit}")
        elif p.done:
            parts.append(f"{number(p.done)} {self.handle.unit}")
        if p.rate:
            parts.append(f"{number(p.rate)} per second" if p.rate >= 1 else f"{p.rate:.1f} per second")
        if p.eta is not None and p.total:
            left = format_duration(p.eta)
            parts.append(f"about {left} left" if p.eta >= 1 else "almost done")
        self.numbers.setText(" · ".join(parts))
        self.tiles.set_counts(p.counters)
        self.message.setText(p.message)
        self.message.setVisible(bool(p.message))

    # -- cancel --------------------------------------------------------------------------------------------------
    def ask_cancel(self) -> QMessageBox:
        """Ask before stopping (the safe choice, Keep running, is the default). Non-modal: no nested loop."""
        if self.confirm_box is not None:
            self.confirm_box.raise_()
            return self.confirm_box
        noun = self.handle.kind
        box = MessageBox(self)
        box.setObjectName("confirmCancelRun")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(f"Stop the {noun}?")
        box.setText(f"Stop the {noun}?")
        box.setInformativeText(
            "The batch in progress finishes first. Everything done so far is kept, and the run's report says what "
            "was not done."
        )
        stop = box.addButton(f"Stop {noun}", QMessageBox.ButtonRole.DestructiveRole)
        stop.setObjectName("confirmStop")
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("keepRunning")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def answered(button: Any) -> None:
            self.confirm_box = None
            if button is stop:
                self.cancel_run()

        box.buttonClicked.connect(answered)
        box.finished.connect(lambda _code: setattr(self, "confirm_box", None))
        self.confirm_box = box
        box.open()
        return box

    def cancel_run(self) -> None:
        """Cancel without asking (after the confirmation)."""
        self.handle.cancel()
        self._show_stopping()

    def _show_stopping(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Stopping…")
        self.phase.setText("Stopping after the current batch…")

    # -- background ----------------------------------------------------------------------------------------------
    def send_to_background(self) -> None:
        """Close the dialog; the run goes on, followed by the main window's status-bar indicator."""
        if self._ended:
            self.close()
            return
        window = main_window_of(self.parentWidget())
        if window is not None:
            RunStatusIndicator.for_window(window).track(
                self.handle, lambda: show_progress(self.handle, parent=window, counters=self._counters)
            )
        self._detach()
        self.backgrounded.emit()
        self.done(QDialog.DialogCode.Rejected)

    def reject(self) -> None:
        """Escape or the window's close button: the run goes to the background, it is never stopped."""
        if self._ended:
            super().reject()
        else:
            self.send_to_background()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self._ended and self.isVisible():
            event.ignore()
            self.send_to_background()
            return
        super().closeEvent(event)

    # -- end -----------------------------------------------------------------------------------------------------
    def _on_done(self, _handle: RunHandle) -> None:
        self._ended = True
        self._detach()
        if self.confirm_box is not None:
            self.confirm_box.done(0)
            self.confirm_box = None
        if self.isVisible():
            self.runEnded.emit()
            self.accept()

    def _detach(self) -> None:
        self.handle.unsubscribe(self.update_progress)
        self.handle.remove_done_listener(self._on_done)


def main_window_of(widget: QWidget | None) -> QMainWindow | None:
    """The main window ``widget`` is in (itself, or its nearest parent that is one), or None."""
    while widget is not None:
        if isinstance(widget, QMainWindow):
            return widget
        widget = widget.parentWidget()
    return None


def show_progress(
    handle: RunHandle,
    *,
    parent: QWidget | None = None,
    counters: Sequence[tuple[str, str, str]] = (),
    dialog: ProgressDialog | None = None,
) -> ProgressDialog:
    """Open (non-modal) the progress dialog of ``handle`` — ``dialog`` when one was built ahead (unbound); if its
    run is already followed by the status bar, the indicator stops following it while the dialog is open."""
    window = main_window_of(parent)
    if window is not None:
        indicator = window.findChild(RunStatusIndicator, "runStatusIndicator")
        if indicator is not None:
            indicator.untrack(handle)
    if dialog is None:
        dialog = ProgressDialog(handle, counters=counters, parent=parent)
    else:
        dialog.bind(handle)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


class RunStatusIndicator(QWidget):
    """The runs going on in the background, in the status bar: a spinner and "Syncing 1,240 / 5,000 with
    HubSpot" (and "+1 more" when several run). Clicking it reopens the first run's progress dialog.

    Signals: ``runEnded(str)`` — a followed run ended; the text says how (also shown in the status bar).
    """

    runEnded = Signal(str)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("runStatusIndicator")
        self.window_ = window
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 0, 4, 0)
        lay.setSpacing(6)
        self.spinner = Spinner(size=14)
        lay.addWidget(self.spinner)
        self.button = QPushButton("")
        self.button.setObjectName("runStatusButton")
        self.button.setFlat(True)
        self.button.setProperty("flat", True)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.setToolTip("Show the progress of this run")
        self.button.clicked.connect(self.reopen)
        lay.addWidget(self.button)
        self._entries: list[tuple[RunHandle, Callable[[], Any]]] = []
        self.setVisible(False)

    @classmethod
    def for_window(cls, window: QMainWindow) -> RunStatusIndicator:
        found = window.findChild(RunStatusIndicator, "runStatusIndicator")
        if found is None:
            found = cls(window)
            window.statusBar().addPermanentWidget(found)
        return found

    @property
    def handles(self) -> list[RunHandle]:
        return [h for h, _ in self._entries]

    def track(self, handle: RunHandle, reopen: Callable[[], Any]) -> None:
        if handle.done:
            self._ended(handle)
            return
        if handle not in self.handles:
            self._entries.append((handle, reopen))
            handle.subscribe(self._refresh_from)
            handle.on_done(self._ended)
        self._refresh()

    def untrack(self, handle: RunHandle) -> None:
        self._entries = [(h, r) for h, r in self._entries if h is not handle]
        handle.unsubscribe(self._refresh_from)
        handle.remove_done_listener(self._ended)
        self._refresh()

    def reopen(self) -> Any:
        if not self._entries:
            return None
        handle, reopen = self._entries[0]
        self.untrack(handle)
        return reopen()

    def text(self) -> str:
        return self.button.text()

    def _refresh_from(self, _progress: Progress) -> None:
        self._refresh()

    def _refresh(self) -> None:
        if not self._entries:
            self.setVisible(False)
            return
        handle = self._entries[0][0]
        p = handle.latest
        if handle.cancel_requested:
            line = f"Stopping the {handle.kind}…"
        elif p is not None and p.total:
            line = f"{handle.verb} {number(p.done)} / {number(p.total)} {handle.target}".strip()
        else:
            line = f"{handle.verb} {handle.target}…".replace(" …", "…")
        more = len(self._entries) - 1
        if more:
            line += f"  (+{more} more)"
        self.button.setText(line)
        self.button.setAccessibleName(line)
        self.setVisible(True)

    def _ended(self, handle: RunHandle) -> None:
        self.untrack(handle)
        message = _ending(handle)
        self.window_.statusBar().showMessage(message, 15000)
        self.runEnded.emit(message)


def _ending(handle: RunHandle) -> str:
    """How a run ended, in one line."""
    name = f"{handle.verb} {handle.target}".strip()
    exc = handle.exception()
    if isinstance(exc, asyncio.CancelledError):
        return f"{name}: stopped."
    if isinstance(exc, RunCancelled):
        return handle.summary or f"{name}: cancelled."
    if exc is not None:
        return f"{name}: failed — {exc}"
    return handle.summary or f"{name}: done."
