"""The Campaigns page: campaigns on the left; the selected one's identity, steps and leads with their eight campaign
properties (exactly as :mod:`enginy_desktop.core.campaigns` derives them and Step 3 exports them).

Campaigns come in from CSV files (``docs/campaigns.md``): **Import campaign…** opens :class:`CampaignImportDialog`,
which reads a definition (the steps) and, optionally, an events log (what happened to each lead) in a worker
thread.

Signals: ``statusMessage(str)`` — a short confirmation for the window's status bar.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.campaigns import PROPERTY_NAMES, CampaignError, CampaignInfo, CampaignService, LeadInfo
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.importers.campaign_import import (
    DefinitionResult,
    EventsResult,
    import_definition,
    import_events,
)
from enginy_desktop.core.importers.report import new_report_path
from enginy_desktop.core.importers.rows import ImportFileError

from . import theme
from .file_pickers import PickOpen, PickSave, csv_opener
from .formatting import when
from .import_dialog import save_file_dialog
from .side_panel import SidePanel
from .table_model import PagedTableModel
from .tasks import TaskKeeper
from .widgets import DialogHost, EmptyState, dialog_heading, make_primary
from .workspace_widgets import (
    CAPTION_ROLE,
    count_text,
    divider,
    fit_height,
    number,
    page_header,
    set_state,
)

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
IDENTITY_KINDS = {"email": "Email sender", "linkedin": "LinkedIn profile"}
NUMBER_PROPERTIES = {"Campaign Opens", "Campaign Clicks"}


class LeadsModel(PagedTableModel[LeadInfo]):
    """A campaign's leads with their eight properties, read in batches as the view scrolls (``fetchMore``)."""

    # The properties that differ from lead to lead first; the sequence (the same for every lead) last.
    HEADERS = ("Lead", "Email or LinkedIn", *PROPERTY_NAMES[1:], "Added", PROPERTY_NAMES[0])
    COLUMNS = HEADERS
    ROW_NUMBERS = True

    def __init__(self, service: CampaignService, parent: Any = None) -> None:
        super().__init__(lambda _offset, _limit: [], 0, parent)
        self.service = service
        self.campaign: CampaignInfo | None = None

    def load(self, campaign: CampaignInfo | None) -> None:
        self.campaign = campaign
        self.reset(self._leads_of(campaign), campaign.lead_count if campaign else 0)
        if self.canFetchMore(_ROOT):
            self.fetchMore(_ROOT)

    def _leads_of(self, campaign: CampaignInfo | None) -> Callable[[int, int], list[LeadInfo]]:
        def fetch(offset: int, limit: int) -> list[LeadInfo]:
            if campaign is None:
                return []
            try:
                return self.service.leads(campaign.id, offset=offset, limit=limit)
            except CampaignError:
                return []  # the campaign changed meanwhile: the table ends here

        return fetch

    def lead(self, row: int) -> LeadInfo:
        return self.rows[row]

    def value(self, row: int, column: int) -> Any:
        return self._value(self.rows[row], column)

    def _value(self, lead: LeadInfo, column: int) -> Any:
        header = self.HEADERS[column]
        if header == "Lead":
            return lead.name
        if header == "Email or LinkedIn":
            return lead.email or lead.linkedin_url or ""
        if header == "Added":
            return lead.added_at
        return lead.properties.as_dict()[header]

    def text(self, lead: LeadInfo, column: int) -> Any:
        value = self._value(lead, column)
        if isinstance(value, datetime):
            return when(value)
        if isinstance(value, int):
            return number(value)
        return str(value)

    def tooltip(self, lead: LeadInfo, column: int) -> str | None:
        text = self.text(lead, column)
        return text if len(text) > 28 else None

    def align_right(self, column: int) -> bool:
        return self.HEADERS[column] in NUMBER_PROPERTIES

    def header_tooltip(self, section: int) -> str | None:
        if self.HEADERS[section] in PROPERTY_NAMES:
            return f"{self.HEADERS[section]}: a campaign property Step 3 of the CRM configuration exports"
        return None


class FileRow(QWidget):
    """A chosen file's name, a Choose… button and (optional files) a Clear button."""

    changed = Signal()

    def __init__(self, name: str, placeholder: str, optional: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.placeholder = placeholder
        self.pick: PickOpen = csv_opener(placeholder)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.label = QLabel(placeholder)
        self.label.setObjectName("fileName")
        self.label.setProperty("empty", "true")
        self.label.setMinimumWidth(120)
        lay.addWidget(self.label, 1)
        self.choose = QPushButton("Choose…")
        self.choose.setObjectName(f"choose-{name}")
        self.choose.setAutoDefault(False)
        self.choose.clicked.connect(lambda: self.pick(self, self.set_path))
        lay.addWidget(self.choose)
        self.clear = QPushButton("Clear")
        self.clear.setObjectName(f"clear-{name}")
        self.clear.setAutoDefault(False)
        self.clear.setVisible(False)
        self.clear.clicked.connect(lambda: self.set_path(None))
        self._optional = optional
        lay.addWidget(self.clear)

    def set_path(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self.label.setText(self.path.name if self.path else self.placeholder)
        self.label.setToolTip(str(self.path) if self.path else "")
        set_state(self.label, "empty", "false" if self.path else "true")
        self.clear.setVisible(self._optional and self.path is not None)
        self.changed.emit()


class CampaignImportDialog(QDialog):
    """Import a campaign definition and/or an events log (docs/campaigns.md) and say plainly what happened.

    Signals: ``imported(list)`` — the names of the campaigns created or updated (possibly empty after an events
    log only).
    """

    imported = Signal(list)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("campaignImportDialog")
        self.setWindowTitle("Import a campaign")
        self.setModal(True)
        self.setMinimumWidth(560)
        self.tasks = TaskKeeper()
        self.pick_save_file: PickSave = save_file_dialog
        self.definition_result: DefinitionResult | None = None
        self.events_result: EventsResult | None = None
        self.report_path: Path | None = None
        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(12)
        dialog_heading(
            root, "Import a campaign",
            "A campaign comes in two CSV files: its definition (the steps, and who runs it) and its events log "
            "(what happened to each lead). You can import a newer events log later on its own.",
        )
        form = QFormLayout()
        form.setVerticalSpacing(6)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.definition = FileRow("definition", "No definition file", optional=True)
        form.addRow("Definition", self.definition)
        form.addRow("", self._help("Columns: campaign, identity, identity_name, step, type — one row per step."))
        self.events = FileRow("events", "No events log", optional=True)
        form.addRow("Events log", self.events)
        form.addRow("", self._help("Columns: campaign, email, linkedin, step, event, timestamp — one row per event."))
        root.addLayout(form)
        missing = QVBoxLayout()
        missing.setSpacing(6)
        self.create_missing = QCheckBox("Create the leads that are not in your workspace yet, in the list:")
        self.create_missing.setObjectName("createMissingLeads")
        self.missing_list = QLineEdit("Campaign leads")
        self.missing_list.setObjectName("missingLeadsList")
        self.missing_list.setAccessibleName("List for new leads")
        self.missing_list.setEnabled(False)
        self.create_missing.toggled.connect(self.missing_list.setEnabled)
        missing.addWidget(self.create_missing)
        missing.addWidget(self.missing_list)
        root.addLayout(missing)
        self.result_label = QLabel()
        self.result_label.setObjectName("campaignImportResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setVisible(False)
        root.addWidget(self.result_label)
        buttons = QHBoxLayout()
        self.save_rejected_button = QPushButton("Save rejected rows as CSV…")
        self.save_rejected_button.setObjectName("saveRejectedEventsButton")
        self.save_rejected_button.setAutoDefault(False)
        self.save_rejected_button.setVisible(False)
        self.save_rejected_button.clicked.connect(self.save_rejected)
        buttons.addWidget(self.save_rejected_button)
        buttons.addStretch(1)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.reject)
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("importCampaignButton")
        make_primary(self.import_button)
        self.import_button.clicked.connect(lambda: self.tasks.start(self.run_import()))
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.import_button)
        root.addLayout(buttons)
        self.definition.changed.connect(self._files_changed)
        self.events.changed.connect(self._files_changed)
        self._files_changed()

    @staticmethod
    def _help(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("fieldHelp")
        label.setWordWrap(True)
        return label

    def _files_changed(self) -> None:
        self.import_button.setEnabled(self.definition.path is not None or self.events.path is not None)

    def _show_result(self, state: str, text: str) -> None:
        self.result_label.setText(text)
        set_state(self.result_label, "state", state)
        self.result_label.setVisible(True)
        fit_height(self)

    async def run_import(self) -> bool:
        """Import the chosen files in a worker thread; True when everything chosen was imported."""
        definition, events = self.definition.path, self.events.path
        if definition is None and events is None:
            self._show_result("error", "Choose a definition file, an events log, or both.")
            return False
        list_name = self.missing_list.text().strip() if self.create_missing.isChecked() else None
        if self.create_missing.isChecked() and not list_name:
            self._show_result("error", "Name the list for leads that are not in your workspace yet.")
            return False
        self.import_button.setEnabled(False)
        self._show_result("busy", "Importing…")
        self.save_rejected_button.setVisible(False)
        store = self.ctx.store
        lines: list[str] = []
        names: list[str] = []
        try:
            if definition is not None:
                try:
                    self.definition_result = await asyncio.to_thread(import_definition, store, definition)
                except (ImportFileError, CampaignError, OSError) as exc:
                    self._show_result(
                        "error", f"✗ The definition {definition.name} was not imported: {exc}\nNothing was changed."
                    )
                    return False
                d = self.definition_result
                names = [*d.created, *d.replaced, *d.unchanged]
                lines.append(self._definition_sentence(d))
            if events is not None:
                report = new_report_path(self.ctx.data_dir / "reports", "campaign-events", events.stem, "events")
                try:
                    self.events_result = await asyncio.to_thread(
                        import_events, store, events, list_name=list_name, report_path=report
                    )
                except (ImportFileError, CampaignError, OSError) as exc:
                    report.unlink(missing_ok=True)
                    done = (" " + lines[0]) if lines else ""
                    self._show_result(
                        "error",
                        f"✗ The events log {events.name} was not imported: {exc}\nNo event was recorded.{done}",
                    )
                    self.imported.emit(names)
                    return False
                e = self.events_result
                if e.rejected:
                    self.report_path = report
                    self.save_rejected_button.setVisible(True)
                else:
                    report.unlink(missing_ok=True)
                lines.append(self._events_sentence(e))
        finally:
            self._files_changed()
        rejected = self.events_result.rejected if self.events_result and events is not None else 0
        self._show_result("warning" if rejected else "ok", ("⚠ " if rejected else "✓ ") + "\n".join(lines))
        self.imported.emit(names)
        return True

    @staticmethod
    def _definition_sentence(d: DefinitionResult) -> str:
        parts = []
        if d.created:
            parts.append(f"created {', '.join(d.created)}")
        if d.replaced:
            parts.append(f"updated {', '.join(d.replaced)}")
        if d.unchanged:
            parts.append(f"already up to date: {', '.join(d.unchanged)}")
        return "Campaigns " + "; ".join(parts) + "."

    @staticmethod
    def _events_sentence(e: EventsResult) -> str:
        text = (
            f"Events log: {count_text(e.rows_read, 'row', 'rows')} read — {number(e.recorded)} recorded, "
            f"{number(e.already_recorded)} already recorded, {number(e.rejected)} rejected; "
            f"{count_text(e.leads_added, 'lead', 'leads')} added to campaigns"
        )
        if e.contacts_created:
            text += f", {count_text(e.contacts_created, 'contact', 'contacts')} created"
        text += "."
        if e.rejected:
            shown = e.issues[:3]
            reasons = "; ".join(f"line {number(i.line)}: {i.reason.rstrip('.')}" for i in shown)
            more = f" (and {number(e.rejected - len(shown))} more)" if e.rejected > len(shown) else ""
            text += f"\nRejected rows — {reasons}{more}. Save them as CSV to see every reason."
        return text

    def save_rejected(self) -> None:
        if self.report_path is None:
            return
        stem = self.events.path.stem if self.events.path else "events"
        self.pick_save_file(self, f"{stem}-rejected.csv", self._save_to)

    def _save_to(self, target: Path) -> None:
        assert self.report_path is not None
        try:
            shutil.copyfile(self.report_path, target)
        except OSError as exc:
            self._show_result("error", f"✗ Could not save {target}: {exc.strerror or exc}.")
        else:
            self._show_result("ok", f"✓ Rejected rows saved to {target}.")


class CampaignsPage(QWidget):
    """Signals: ``statusMessage(str)`` — a short confirmation for the status bar."""

    statusMessage = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = CampaignService(ctx.store)
        self.setObjectName("campaignsPage")
        self.tasks = TaskKeeper()
        self._campaigns: list[CampaignInfo] = []
        self.current: CampaignInfo | None = None
        self.dialogs = DialogHost()
        #: How the import dialog asks for files; tests replace it.
        self.pick_open_file: PickOpen | None = None

        self.root_layout = root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 0)
        root.setSpacing(12)
        self.header, actions = page_header(
            "Campaigns",
            "Sequences run by your identities, with what happened to each lead and the campaign properties "
            "exported to your CRM.",
        )
        self.import_button = QPushButton("Import campaign…")
        self.import_button.setObjectName("importCampaignButton")
        self.import_button.setProperty("primary", True)
        self.import_button.setIcon(theme.icon("import"))
        self.import_button.clicked.connect(self.open_import)
        actions.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignTop)
        root.addLayout(self.header)
        root.addWidget(divider())

        self.body = QStackedWidget()
        root.addWidget(self.body, 1)
        empty = QWidget()
        empty.setObjectName("noCampaignsState")
        empty_lay = QVBoxLayout(empty)
        empty_lay.addStretch(1)
        self.empty_state = EmptyState(
            "No campaigns yet",
            "Import a campaign from CSV files: its definition (the steps) and its events log (what happened to "
            "each lead).",
        )
        empty_lay.addWidget(self.empty_state)
        row = QHBoxLayout()
        row.addStretch(1)
        self.empty_import_button = QPushButton("Import campaign…")
        self.empty_import_button.setObjectName("emptyImportCampaignButton")
        self.empty_import_button.setProperty("primary", True)
        self.empty_import_button.clicked.connect(self.open_import)
        row.addWidget(self.empty_import_button)
        row.addStretch(1)
        empty_lay.addLayout(row)
        empty_lay.addStretch(2)
        self.body.addWidget(empty)

        split = QWidget()
        split_lay = QHBoxLayout(split)
        split_lay.setContentsMargins(0, 4, 0, 0)
        split_lay.setSpacing(16)
        self.side = SidePanel("Campaigns", "campaignList", "Campaigns")
        self.campaign_list = self.side.items
        self.campaign_list.currentRowChanged.connect(self._row_changed)
        split_lay.addWidget(self.side)

        detail = QWidget()
        detail_lay = QVBoxLayout(detail)
        detail_lay.setContentsMargins(0, 0, 0, 0)
        detail_lay.setSpacing(8)
        self.campaign_title = QLabel()
        self.campaign_title.setObjectName("campaignTitle")
        self.campaign_title.setWordWrap(True)
        detail_lay.addWidget(self.campaign_title)
        self.campaign_identity = QLabel()
        self.campaign_identity.setObjectName("campaignIdentity")
        self.campaign_identity.setWordWrap(True)
        self.campaign_identity.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        detail_lay.addWidget(self.campaign_identity)
        steps_title = QLabel("Steps")
        steps_title.setObjectName("sectionTitle")
        detail_lay.addWidget(steps_title)
        self.campaign_steps = QLabel()
        self.campaign_steps.setObjectName("campaignSteps")
        self.campaign_steps.setWordWrap(True)
        self.campaign_steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        detail_lay.addWidget(self.campaign_steps)
        leads_title = QLabel("Leads")
        leads_title.setObjectName("sectionTitle")
        detail_lay.addSpacing(4)
        detail_lay.addWidget(leads_title)
        self.leads_stack = QStackedWidget()
        self.model = LeadsModel(self.service, self)
        self.table = QTableView()
        self.table.setObjectName("leadsTable")
        self.table.setAccessibleName("Leads and their campaign properties")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(32)
        hh = self.table.horizontalHeader()
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hh.setHighlightSections(False)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        widths = {"Lead": 160, "Email or LinkedIn": 210, "Campaign Engagement Status": 240, "Campaign Opens": 130,
                  "Campaign Clicks": 130, "Added": 140, "Campaign Sequence Details": 360, "Sequence Status": 130}
        for column, header in enumerate(LeadsModel.HEADERS):
            hh.resizeSection(column, widths.get(header, 190))
        self.leads_stack.addWidget(self.table)
        self.leads_empty = EmptyState(
            "No leads yet", "Import this campaign's events log: each lead is added by its first event."
        )
        self.leads_empty.setObjectName("leadsEmptyState")
        self.leads_stack.addWidget(self.leads_empty)
        detail_lay.addWidget(self.leads_stack, 1)
        self.status = QLabel()
        self.status.setObjectName("campaignStatus")
        detail_lay.addWidget(self.status)
        split_lay.addWidget(detail, 1)
        self.body.addWidget(split)
        self.setTabOrder(self.import_button, self.campaign_list)
        self.setTabOrder(self.campaign_list, self.table)
        self.refresh()

    # -- state -----------------------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        wanted = select or (self.current.name if self.current else None)
        self._campaigns = self.service.list_campaigns()
        self.campaign_list.blockSignals(True)
        self.campaign_list.clear()
        row = 0
        for i, c in enumerate(self._campaigns):
            item = QListWidgetItem(c.name)
            caption = f"{count_text(c.lead_count, 'lead', 'leads')} · {c.identity.name or c.identity.address}"
            item.setData(CAPTION_ROLE, caption)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{c.name}, {caption}")
            item.setToolTip(f"{c.name}\n{caption}")
            self.campaign_list.addItem(item)
            if c.name == wanted:
                row = i
        self.campaign_list.blockSignals(False)
        self.body.setCurrentIndex(1 if self._campaigns else 0)
        if not self._campaigns:
            self.current = None
            self.model.load(None)
            return
        self.campaign_list.setCurrentRow(row)
        self._show(self._campaigns[row])

    def campaign_names(self) -> list[str]:
        return [c.name for c in self._campaigns]

    def select_campaign(self, name: str) -> None:
        self.campaign_list.setCurrentRow(self.campaign_names().index(name))

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self._campaigns):
            self._show(self._campaigns[row])

    def _show(self, campaign: CampaignInfo) -> None:
        self.current = campaign
        self.campaign_title.setText(campaign.name)
        identity = campaign.identity
        kind = IDENTITY_KINDS.get(identity.kind, identity.kind)
        self.campaign_identity.setText(f"Run by {identity.display} · {kind}")
        labels = campaign.sequence_details.split(", ") if campaign.steps else []
        if len(labels) == len(campaign.steps):
            self.campaign_steps.setText("   →   ".join(f"{s.position}. {label}" for s, label in
                                                       zip(campaign.steps, labels, strict=True)))
        else:
            self.campaign_steps.setText(campaign.sequence_details)
        self.model.load(campaign)
        self.leads_stack.setCurrentWidget(self.table if campaign.lead_count else self.leads_empty)
        messages = sum(1 for s in campaign.steps if s.kind.is_message)
        self.status.setText(
            f"{count_text(campaign.lead_count, 'lead', 'leads')} · "
            f"{count_text(len(campaign.steps), 'step', 'steps')} ({count_text(messages, 'message', 'messages')})"
        )

    def lead_properties(self, row: int) -> dict[str, Any]:
        """What the table shows for one lead, by column header."""
        return {h: self.model.data(self.model.index(row, c)) for c, h in enumerate(self.model.HEADERS)}

    # -- importing -----------------------------------------------------------------------------------------
    def open_import(self) -> CampaignImportDialog:
        dialog = CampaignImportDialog(self.ctx, self)
        if self.pick_open_file is not None:
            dialog.definition.pick = self.pick_open_file
            dialog.events.pick = self.pick_open_file
        dialog.imported.connect(self._imported)
        self.dialogs.open(dialog)
        return dialog

    @property
    def current_dialog(self) -> QWidget | None:
        return self.dialogs.current

    def _imported(self, names: list[str]) -> None:
        self.refresh(select=names[0] if names else None)
        if names:
            self.statusMessage.emit(f"Campaign {', '.join(names)} imported.")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()  # contacts may have been edited or deleted on the Lists page

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        narrow = event.size().width() < 760
        margin = 16 if narrow else 32
        self.root_layout.setContentsMargins(margin, 16 if narrow else 24, margin, 0)
        self.side.setFixedWidth(180 if narrow else 240)
