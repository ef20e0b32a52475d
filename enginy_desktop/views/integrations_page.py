"""The Integrations page: All / Enabled / Disabled tabs of cards grouped by category, with search.

The page renders :class:`IntegrationService` state and forwards intent. The one-CRM rule lives in the service
and the store; the page only asks the user how to resolve a conflict.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core import catalog
from enginy_desktop.core.catalog import Category
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.secrets import secrets_file
from enginy_desktop.core.services.integrations import CrmConflictError, IntegrationError, IntegrationInfo

from . import theme
from .connect_dialog import ConnectDialog, CrmConflictDialog, SecretsSetupDialog
from .integration_card import IntegrationCard
from .message import MessageBox, show_message
from .widgets import Banner, DialogHost, EmptyState

log = logging.getLogger(__name__)

TAB_ALL, TAB_ENABLED, TAB_DISABLED = 0, 1, 2


class CategorySection(QWidget):
    def __init__(self, category: Category, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.category = category
        self.setObjectName(f"section-{category.value}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        head = QHBoxLayout()
        title = QLabel(category.heading)
        title.setObjectName("categoryTitle")
        head.addWidget(title)
        head.addStretch(1)
        self.head = head
        lay.addLayout(head)
        blurb = QLabel(category.blurb)
        blurb.setObjectName("categoryBlurb")
        blurb.setWordWrap(True)
        lay.addWidget(blurb)
        lay.addSpacing(8)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(16)
        lay.addLayout(self.grid)
        self.cards: list[IntegrationCard] = []
        self._fillers: list[QWidget] = []  # a short row's empty cells: every section's cards equally wide

    def arrange(self, visible: list[IntegrationCard], columns: int) -> None:
        for card in self.cards:
            self.grid.removeWidget(card)
            card.setVisible(False)
        for filler in self._fillers:
            self.grid.removeWidget(filler)
            filler.deleteLater()
        self._fillers = []
        for index, card in enumerate(visible):
            self.grid.addWidget(card, index // columns, index % columns)
            card.setVisible(True)
        # Qt leaves out the spacing of an empty column: a section of one card would make it wider than the cards
        # of a full row. A blank, zero-high widget in each free cell of the first row keeps the columns alike (a
        # spacer item or a hidden widget counts as empty).
        for c in range(len(visible), columns):
            filler = QWidget()
            filler.setObjectName("gridFiller")
            filler.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            filler.setFixedHeight(0)
            filler.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.grid.addWidget(filler, 0, c)
            self._fillers.append(filler)
        for c in range(4):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
            self.grid.setColumnMinimumWidth(c, 0)
        self.setVisible(bool(visible))


class IntegrationsPage(QWidget):
    """Signals: ``statusMessage(str)`` — a short confirmation for the status bar."""

    statusMessage = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("integrationsPage")
        self._infos: dict[str, IntegrationInfo] = {}
        self._columns = 0
        self.dialogs = DialogHost(on_closed=self.refresh)

        self.root_layout = root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 0)
        root.setSpacing(12)

        self.header = header = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        header.setSpacing(12)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        title = QLabel("Integrations")
        title.setObjectName("pageTitle")
        subtitle = QLabel(
            "Connect your tech stack to sync data, enrich contacts, automate exports and keep your team informed."
        )
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(subtitle)
        header.addLayout(titles, 1)
        self.search = QLineEdit()
        self.search.setObjectName("integrationSearch")
        self.search.setPlaceholderText("Search integrations…")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(200)
        self.search.setMaximumWidth(260)
        self.search.setAccessibleName("Search integrations")
        self.search.textChanged.connect(self._apply_filter)
        header.addWidget(self.search, 0)
        root.addLayout(header)

        self.banner = Banner(
            "",
            "Use an encrypted file…",
        )
        self.banner.setObjectName("banner")
        self.banner.actionTriggered.connect(self.open_secrets_setup)
        root.addWidget(self.banner)

        self.tabs = QTabBar()
        self.tabs.setObjectName("integrationTabs")
        self.tabs.setExpanding(False)
        self.tabs.setDrawBase(False)
        for _ in range(3):
            self.tabs.addTab("")
        self.tabs.currentChanged.connect(self._apply_filter)
        root.addWidget(self.tabs)
        divider = QFrame()
        divider.setObjectName("pageDivider")
        root.addWidget(divider)

        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        self.content_layout = QVBoxLayout(content)
        self.content_layout.setContentsMargins(0, 12, 8, 24)
        self.content_layout.setSpacing(28)
        self.sections: dict[Category, CategorySection] = {}
        self.cards: dict[str, IntegrationCard] = {}
        for category in catalog.CATEGORY_ORDER:
            section = CategorySection(category)
            for spec in catalog.by_category(category):
                card = IntegrationCard(spec)
                card.setObjectName(f"card-{spec.key}")
                card.toggleRequested.connect(self.request_toggle)
                card.configureRequested.connect(self.configure)
                section.cards.append(card)
                self.cards[spec.key] = card
            self.sections[category] = section
            if category is Category.DATA_ENRICHMENT:  # the waterfall order of the enrichment providers
                settings = QPushButton("Enrichment settings…")
                settings.setObjectName("enrichmentSettingsButton")
                settings.setToolTip("The order in which the enrichment providers are asked, per data point")
                settings.clicked.connect(self.open_enrichment_settings)
                section.head.addWidget(settings)
            self.content_layout.addWidget(section)
        self.empty = EmptyState("", "")
        self.content_layout.addWidget(self.empty)
        self.content_layout.addStretch(1)
        self.scroll_area.setWidget(content)
        self.scroll_area.viewport().installEventFilter(self)
        root.addWidget(self.scroll_area, 1)

        self.refresh()

    # -- state -----------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._infos = {i.key: i for i in self.ctx.integrations.list()}
        for key, card in self.cards.items():
            card.set_info(self._infos[key])
        enabled = sum(1 for i in self._infos.values() if i.enabled)
        total = len(self._infos)
        self.tabs.setTabText(TAB_ALL, f"All ({total})")
        self.tabs.setTabText(TAB_ENABLED, f"Enabled ({enabled})")
        self.tabs.setTabText(TAB_DISABLED, f"Disabled ({total - enabled})")
        problem = self.ctx.secrets_problem
        self.banner.setVisible(bool(problem) and self.ctx.secrets is None)
        if problem:
            unlocking = secrets_file(self.ctx.data_dir).exists()
            self.banner.button.setText("Unlock…" if unlocking else "Use an encrypted file…")
            self.banner.label.setText(
                problem
                if unlocking
                else f"{problem} Enginy Desktop never stores credentials in plain text. You can keep them in "
                "an encrypted file protected by a passphrase instead."
            )
        self._apply_filter()

    def visible_keys(self) -> list[str]:
        """Keys of the cards shown under the current tab and search, in display order."""
        return [k for k, c in self.cards.items() if not c.isHidden()]

    def _matches(self, info: IntegrationInfo, text: str) -> bool:
        if not text:
            return True
        hay = f"{info.name} {info.category.heading} {info.description}".casefold()
        return all(word in hay for word in text.casefold().split())

    def _apply_filter(self) -> None:
        tab = self.tabs.currentIndex()
        text = self.search.text().strip()
        columns = self._columns_for(self.scroll_area.viewport().width())
        self._columns = columns
        shown = 0
        for section in self.sections.values():
            visible = []
            for card in section.cards:
                info = self._infos[card.spec.key]
                in_tab = tab == TAB_ALL or (tab == TAB_ENABLED) == info.enabled
                if in_tab and self._matches(info, text):
                    visible.append(card)
            section.arrange(visible, columns)
            shown += len(visible)
        self.empty.setVisible(shown == 0)
        if shown == 0:
            if text:
                self.empty.set_text(
                    f"No integrations match “{text}”", "Check the spelling, or clear the search to see them all."
                )
            elif tab == TAB_ENABLED:
                self.empty.set_text(
                    "No integrations enabled yet",
                    "Turn one on in the All tab. Start with your CRM to sync and export contacts.",
                )
            else:
                self.empty.set_text(
                    "Every integration is enabled", "Turn one off in the Enabled tab if you no longer use it."
                )

    @staticmethod
    def _columns_for(width: int) -> int:
        if width >= 900:
            return 3
        if width >= 560:
            return 2
        return 1

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        narrow = event.size().width() < 640
        self.header.setDirection(
            QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight
        )
        self.search.setMaximumWidth(16777215 if narrow else 260)
        margin = 16 if narrow else 32
        self.root_layout.setContentsMargins(margin, 24 if not narrow else 16, margin, 0)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        # Re-flow the card grid when the visible width crosses a column breakpoint.
        if (
            obj is self.scroll_area.viewport()
            and event.type() == QEvent.Type.Resize
            and self._columns_for(self.scroll_area.viewport().width()) != self._columns
        ):
            QTimer.singleShot(0, self._apply_filter)
        return False

    # -- intent ----------------------------------------------------------------------------------------------
    def request_toggle(self, key: str, on: bool) -> None:
        """The user flipped a card's switch."""
        if not on:
            info = self.ctx.integrations.disable(key)
            self.statusMessage.emit(f"{info.name} is off. Its configuration is kept.")
            self.refresh()
            return
        spec = catalog.get(key)
        active = self.ctx.integrations.active_crm() if spec.is_crm else None
        if active is not None and active.key != key:
            dialog = CrmConflictDialog(active, spec, self)
            dialog.accepted.connect(lambda: self._continue_enable(key, switch=True))
            self._show(dialog)
            return
        self._continue_enable(key, switch=False)

    def _continue_enable(self, key: str, switch: bool) -> None:
        if not self.ctx.integrations.get(key).connected:
            dialog = self._connect_dialog(key)
            dialog.saved.connect(lambda _info: self._enable(key, switch))
            self._show(dialog)
            return
        self._enable(key, switch)

    def _enable(self, key: str, switch: bool) -> None:
        try:
            info = self.ctx.integrations.switch_crm(key) if switch else self.ctx.integrations.enable(key)
        except CrmConflictError as exc:
            show_message(self, "Only one CRM can be active", str(exc))
        except IntegrationError as exc:
            show_message(self, "Could not enable", str(exc))
        else:
            self.statusMessage.emit(f"{info.name} is on.")
        self.refresh()

    def open_enrichment_settings(self) -> QWidget:
        from .enrich_dialog import EnrichSettingsDialog

        dialog = EnrichSettingsDialog(self.ctx, parent=self)
        self._show(dialog)
        return dialog

    def configure(self, key: str) -> None:
        """Configure: a CRM opens its four-step wizard (its connection stays reachable from inside it); any
        other integration opens its connection dialog."""
        if catalog.get(key).is_crm:
            self._show(self._crm_wizard(key))
            return
        dialog = self._connect_dialog(key)
        self._show(dialog)

    def _crm_wizard(self, key: str) -> QWidget:
        from enginy_desktop.core.crm_config import CrmConfigFileError
        from enginy_desktop.wizard import CrmWizard

        try:
            wizard = CrmWizard(self.ctx, key, self, connect_dialog=ConnectDialog)
        except CrmConfigFileError as exc:  # a saved configuration that cannot be read: say so, change nothing
            log.warning("The saved %s configuration cannot be read: %s", key, exc)
            box = MessageBox(self, "Configuration unreadable", str(exc), QMessageBox.Icon.Warning)
            box.setInformativeText("Nothing was changed: the connection settings are kept. Import a configuration "
                                   "file, or ask support for help.")
            return box
        wizard.statusMessage.connect(self.statusMessage)
        return wizard

    def _connect_dialog(self, key: str) -> ConnectDialog:
        dialog = ConnectDialog(self.ctx, catalog.get(key), self)
        dialog.saved.connect(lambda info: self.statusMessage.emit(f"{info.name} connection saved."))
        dialog.disconnected.connect(lambda info: self.statusMessage.emit(f"{info.name} disconnected."))
        dialog.needsSecrets.connect(self.open_secrets_setup)
        return dialog

    def _show(self, dialog: QWidget) -> None:
        self.dialogs.open(dialog)

    def open_secrets_setup(self) -> None:
        dialog = SecretsSetupDialog(self.ctx, self)
        dialog.accepted.connect(self.refresh)
        dialog.open()

    @property
    def current_dialog(self) -> QWidget | None:
        return self.dialogs.current
