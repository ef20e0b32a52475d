"""The main window: navigation on the left, one page at a time on the right, a status bar.

Pages are registered in :data:`PAGES` (key, title, icon, factory); later features add their page there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop import APP_NAME, __version__
from enginy_desktop.core.context import AppContext

from . import theme
from .integrations_page import IntegrationsPage


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    icon: str
    factory: Callable[[AppContext, QWidget], QWidget]


def _integrations(ctx: AppContext, parent: QWidget) -> QWidget:
    return IntegrationsPage(ctx, parent)


def _lists(ctx: AppContext, parent: QWidget) -> QWidget:
    from .lists_page import ListsPage

    return ListsPage(ctx, parent)


def _campaigns(ctx: AppContext, parent: QWidget) -> QWidget:
    from .campaigns_page import CampaignsPage

    return CampaignsPage(ctx, parent)


def _runs(ctx: AppContext, parent: QWidget) -> QWidget:
    from .runs_page import RunsPage

    return RunsPage(ctx, parent)


def _team(ctx: AppContext, parent: QWidget) -> QWidget:
    from .people_page import TeamPage

    return TeamPage(ctx, parent)


PAGES: list[PageSpec] = [
    PageSpec("integrations", "Integrations", "nav-integrations", _integrations),
    PageSpec("lists", "Lists", "nav-lists", _lists),
    PageSpec("campaigns", "Campaigns", "nav-campaigns", _campaigns),
    PageSpec("runs", "Runs", "nav-runs", _runs),
    PageSpec("team", "Team & identities", "nav-team", _team),
]


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, settings_path: Path | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.demo = False
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(theme.icon("enginy"))
        # The narrowest window every screen is laid out for (tests/ui/test_clipping.py checks nothing is cut).
        self.setMinimumSize(QSize(720, 540))
        self._settings = QSettings(
            str(settings_path or ctx.data_dir / "window.ini"), QSettings.Format.IniFormat
        )

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)

        self.nav_panel = nav = QFrame()
        nav.setObjectName("navPanel")
        nav.setFixedWidth(200)
        self.nav_layout = nav_lay = QVBoxLayout(nav)
        nav_lay.setContentsMargins(12, 16, 12, 12)
        nav_lay.setSpacing(12)
        brand = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(theme.icon("enginy").pixmap(28, 28))
        brand.addWidget(logo)
        self.brand_name = name = QLabel("Enginy")
        name.setObjectName("navBrand")
        brand.addWidget(name, 1)
        nav_lay.addLayout(brand)
        self.demo_badge = QLabel("Demo workspace")
        self.demo_badge.setObjectName("demoBadge")
        self.demo_badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_badge.setVisible(False)
        nav_lay.addWidget(self.demo_badge)
        self.nav = QListWidget()
        self.nav.setObjectName("navList")
        self.nav.setIconSize(QSize(18, 18))
        self.nav.setAccessibleName("Pages")
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        nav_lay.addWidget(self.nav, 1)
        self.nav_footer = footer = QLabel(f"Version {__version__}")
        footer.setObjectName("navFooter")
        nav_lay.addWidget(footer)
        row.addWidget(nav)

        self.stack = QStackedWidget()
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        # Pages are built the first time they are shown, so start-up only pays for the first one.
        self.pages: dict[str, QWidget] = {}
        for spec in PAGES:
            item = QListWidgetItem(theme.icon(spec.icon), spec.title)
            item.setToolTip(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, spec.title)
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self._show_row)
        self.nav.setCurrentRow(0)

        where = ctx.secrets.description if ctx.secrets else "no credential store unlocked"
        # A file inside the data folder is named by its name alone: the line fits a narrow window's status bar.
        where = where.replace(os.path.join(str(ctx.data_dir), ""), "")
        self.statusBar().showMessage(f"Data folder: {ctx.data_dir} · Credentials: {where}", 10000)
        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setObjectName("quitAction")
        # Ctrl+Q everywhere (the platform's own Quit key too, e.g. Cmd+Q on macOS).
        keys = [QKeySequence("Ctrl+Q"), *QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)]
        unique = {k.toString(): k for k in keys if not k.isEmpty()}
        self.quit_action.setShortcuts(list(unique.values()))
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.quit)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.setObjectName("fileMenu")
        file_menu.addAction(self.quit_action)
        self.addAction(self.quit_action)

        self._restore_geometry()

    def set_demo(self, demo: bool) -> None:
        """Mark the window as the demo's: a badge that stays in the navigation and the status bar, and the title."""
        self.demo = demo
        self.demo_badge.setVisible(demo)
        active = self.ctx.integrations.active_crm() if demo else None
        crm = active.name if active is not None else "the CRM"
        self.demo_badge.setToolTip(
            f"A temporary sample workspace: {crm} is a local sandbox, and everything is deleted when you quit.")
        self.setWindowTitle(f"{APP_NAME} — Demo" if demo else APP_NAME)
        if demo and self.findChild(QLabel, "demoStatus") is None:
            note = QLabel("Demo — nothing you do here is kept")
            note.setObjectName("demoStatus")
            self.statusBar().addPermanentWidget(note)

    def quit(self) -> None:
        """File ▸ Quit and Ctrl+Q: close the window and leave (the demo removes its folder)."""
        self.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def page(self, key: str) -> QWidget:
        """The page ``key``, built on first use."""
        page = self.pages.get(key)
        if page is None:
            spec = next(p for p in PAGES if p.key == key)
            page = spec.factory(self.ctx, self.stack)
            self.pages[key] = page
            self.stack.addWidget(page)
            status = getattr(page, "statusMessage", None)
            if status is not None:
                status.connect(lambda text: self.statusBar().showMessage(text, 6000))
        return page

    def _show_row(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.stack.setCurrentWidget(self.page(PAGES[row].key))

    @property
    def integrations_page(self) -> IntegrationsPage:
        page = self.page("integrations")
        assert isinstance(page, IntegrationsPage)
        return page

    def show_page(self, key: str) -> QWidget:
        """Navigate to page ``key`` (building it if needed) and return it."""
        self.nav.setCurrentRow([p.key for p in PAGES].index(key))
        return self.page(key)

    def _focus_search(self) -> None:
        page = self.stack.currentWidget()
        search = getattr(page, "search", None)
        if search is not None:
            search.setFocus()
            search.selectAll()

    def _restore_geometry(self) -> None:
        geometry = self._settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    def save_geometry(self) -> None:
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.sync()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._set_compact(event.size().width() < 760)

    def _set_compact(self, compact: bool) -> None:
        """Narrow windows get an icon-only navigation rail."""
        self.nav_panel.setFixedWidth(60 if compact else 200)
        self.brand_name.setVisible(not compact)
        self.nav_footer.setVisible(not compact)
        self.demo_badge.setText("Demo" if compact else "Demo workspace")
        self.demo_badge.setProperty("compact", compact)
        self.demo_badge.style().unpolish(self.demo_badge)
        self.demo_badge.style().polish(self.demo_badge)
        self.nav_layout.setContentsMargins(*((4, 16, 4, 12) if compact else (12, 16, 12, 12)))
        for i, spec in enumerate(PAGES):
            self.nav.item(i).setText("" if compact else spec.title)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.save_geometry()
        super().closeEvent(event)
