"""Sync a list with the enabled CRM: start it, follow its progress, see and settle its result.

:class:`SyncDialog` is the controller of two stages: the start (:class:`SyncStartView`: pick the list — or come
with one from the Lists page —, see the identifiers that will be used, **Start sync**; refused with the reason
when no CRM is enabled or connected) and the result (:class:`SyncResultView`). While the sync runs the progress
dialog takes its place (and can send the run to the background); when the sync ends, the dialog comes back with
the result.

The dialog forwards the user's intent to :mod:`enginy_desktop.core.sync`; the coroutines it runs (``run_sync``,
``check_budget``) are what tests call directly.

Signals: ``SyncDialog.runFinished(int)`` — a sync run ended (its run id); ``exportRequested(int)`` — export that
list next.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.adapters.base import AdapterError, error_detail
from enginy_desktop.core import catalog, sync
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.export.interactive import in_worker_thread
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunBusyError, RunHandle, RunInfo
from enginy_desktop.core.services import crm as crm_service
from enginy_desktop.core.services.integrations import IntegrationError
from enginy_desktop.core.services.workspace import ListInfo, WorkspaceService

from ..formatting import window_text
from ..run_progress import SYNC_COUNTERS, ProgressDialog, main_window_of, number, show_progress
from ..tasks import TaskKeeper
from ..widgets import dialog_heading, make_primary, note_label
from .links import crm_display
from .result import SyncResultView
from .start import SyncStartView

log = logging.getLogger(__name__)

# Runs started from the window, referenced until they end (a dialog may close while its run goes on).
ACTIVE_SYNCS: set[RunHandle] = set()


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
        self.title, self.subtitle = dialog_heading(root, "Sync a list with your CRM")

        self.pages = QStackedWidget()
        root.addWidget(self.pages, 1)

        self.start_page = start = SyncStartView()
        start.listChanged.connect(self._update_identifiers)
        self.pages.addWidget(start)
        # The start's parts the tests reach through the dialog.
        self.refusal, self.list_box, self.budget_line = start.refusal, start.list_box, start.budget_line
        self.identifiers = start.identifiers

        # -- result page (its view is built when a sync ends)
        self.result_page = QWidget()
        self.result_layout = QVBoxLayout(self.result_page)
        self.result_layout.setContentsMargins(0, 0, 0, 0)
        self.result_layout.setSpacing(10)
        self.result_note = note_label("runNote")
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
        self.start_page.fill_lists(self.lists, list_id)

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
        name = crm_display(self.crm) if self.crm else "your CRM"
        self.setWindowTitle(f"Sync with {name}")
        self.title.setText(f"Sync a list with {name}")
        self.subtitle.setText(f"Enginy compares the list's records with {catalog.possessive(name)}, using the "
                              f"identifiers of Step 1, and remembers which {name} record each one is. Nothing is "
                              f"written to {name}.")
        self.start_page.show_refusal(window_text(problem))
        self.start_button.setEnabled(not problem)
        self.list_box.setEnabled(bool(self.lists))
        self._update_identifiers()
        return problem

    def _update_identifiers(self) -> None:
        if self.crm is None:
            self.start_page.show_identifiers(None, None)
            return
        self.start_page.show_identifiers(self.ctx.crm_configs.load(self.crm), self.selected_list())
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
            self.start_page.show_refusal("")
            self.start_button.setEnabled(True)
        if info is None or crm is None or self.refusal.isVisible():
            self.start_page.show_budget("")
            return None
        name = crm_display(crm)
        self.start_page.show_budget(f"Checking {catalog.possessive(name)} daily budget…")
        try:
            # On its own loop in a worker thread, as the export's plan is (see ui.in_worker_thread).
            budget = await in_worker_thread(lambda: sync.estimate_sync(self.ctx, info.id, crm=crm),
                                            name="sync-budget")
        except (AdapterError, IntegrationError, sync.SyncError) as exc:
            self.start_page.show_budget(f"{catalog.possessive(name)} daily budget could not be checked: "
                                        f"{window_text(str(redact(exc)))}")
            return None
        if self.selected_list() is not info:  # another list was chosen meanwhile: its own check says
            return None
        if budget is None:
            self.start_page.show_budget("")
            return None
        if budget.check.fits:
            self.start_page.show_budget(budget.line(name))
            return budget
        self.start_page.show_budget("")
        self.start_page.show_refusal(window_text(budget.refusal(name)))
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
        crm_name = crm_display(self.crm)
        unit = "contacts" if info.kind.value == "contact" else "companies"
        handle = RunHandle("sync", f"Syncing “{info.name}” with {crm_name}", verb="Syncing",
                           target=f"with {crm_name}", unit=unit)
        self.handle = handle
        ACTIVE_SYNCS.add(handle)
        self._backgrounded = False
        window = main_window_of(self)
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
            self._show_failure(str(redact(exc)), detail=error_detail(exc))
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

    def _show_failure(self, message: str, *, started: bool = True, refused: bool = False, detail: str = "") -> None:
        self.pages.setCurrentWidget(self.start_page)
        if refused:
            text = f"The sync did not start: {message}"
        elif started:
            text = (f"The sync failed: {message} Links stored before the failure are kept; you can start the sync "
                    "again.")
        else:
            text = (f"The sync did not start: {message} Nothing was changed; start it again when that run has "
                    "ended.")
        self.start_page.show_refusal(text, detail)
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
        crm_name = crm_display(result.crm)
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
