"""The Team & identities page: the Enginy users of this computer (and which one is you), and the identities — the
LinkedIn profiles and email senders — that run campaigns.

The page renders :class:`WorkspaceService` state; every rule (a valid email, a LinkedIn profile address, unique
addresses, an identity still running a campaign) is the service's, and its sentence is shown as it comes.

Signals: ``statusMessage(str)`` — a short confirmation for the window's status bar.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.services.workspace import IdentityInfo, UserInfo, WorkspaceError, WorkspaceService

from .message import MessageBox, show_message
from .widgets import DialogHost, make_primary, note_label, titled_layout
from .workspace_widgets import divider, fit_height, page_header

IDENTITY_KINDS = {"linkedin": "LinkedIn profile", "email": "Email sender"}
ADDRESS_HINTS = {"linkedin": "https://www.linkedin.com/in/your-profile", "email": "name@company.com"}


class PersonDialog(QDialog):
    """Add or edit an Enginy user (``what="user"``) or an identity (``what="identity"``).

    Signals: ``saved(object)`` — the :class:`UserInfo` or :class:`IdentityInfo` saved.
    """

    saved = Signal(object)

    def __init__(
        self,
        service: WorkspaceService,
        what: str,
        parent: QWidget | None = None,
        existing: UserInfo | IdentityInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.what = what
        self.existing = existing
        noun = "user" if what == "user" else "identity"
        self.setObjectName(f"{noun}Dialog")
        self.setWindowTitle(f"Edit {noun}" if existing else f"Add {'an identity' if noun == 'identity' else 'a user'}")
        self.setModal(True)
        self.setMinimumWidth(460)
        root = titled_layout(self)
        explain = QLabel(
            "A person who uses Enginy on this computer. The records they import belong to them, and exports "
            "are owned by the CRM user mapped to them (CRM configuration, Step 4)."
            if what == "user"
            else "A LinkedIn profile or an email sender that runs campaigns. Activities from its campaigns are "
            "attributed to the CRM user mapped to it."
        )
        explain.setObjectName("dialogSubtitle")
        explain.setWordWrap(True)
        root.addWidget(explain)
        form = QFormLayout()
        form.setVerticalSpacing(10)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.kind = QComboBox()
        self.kind.setObjectName("identityKind")
        self.kind.setAccessibleName("Identity type")
        for key, label in IDENTITY_KINDS.items():
            self.kind.addItem(label, key)
        self.name = QLineEdit()
        self.name.setObjectName("personName")
        self.name.setAccessibleName("Name")
        self.address = QLineEdit()
        self.address.setObjectName("personAddress")
        self.make_current = QCheckBox("This is me (make it the current user)")
        self.make_current.setObjectName("makeCurrentUser")
        if what == "user":
            self.name.setPlaceholderText("Ana García")
            self.address.setPlaceholderText("ana@company.com")
            self.address.setAccessibleName("Email")
            form.addRow("Name", self.name)
            form.addRow("Email", self.address)
            if existing is None:
                form.addRow("", self.make_current)
        else:
            self.kind.currentIndexChanged.connect(self._kind_changed)
            form.addRow("Type", self.kind)
            form.addRow("Name", self.name)
            form.addRow("Address", self.address)
            self.name.setPlaceholderText("Optional: how it appears in lists")
            self._kind_changed()
        if isinstance(existing, UserInfo):
            self.name.setText(existing.name)
            self.address.setText(existing.email)
        elif isinstance(existing, IdentityInfo):
            self.kind.setCurrentIndex(self.kind.findData(existing.kind))
            self.kind.setEnabled(False)  # an identity keeps its type; add another one for the other channel
            self.name.setText(existing.name)
            self.address.setText(existing.address)
        root.addLayout(form)
        self.error = note_label("fieldError")
        root.addWidget(self.error)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = box.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("savePersonButton")
        make_primary(self.save_button)
        if existing is None:
            self.save_button.setText("Add")
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        root.addWidget(box)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.address.setPlaceholderText(ADDRESS_HINTS[kind])
        self.address.setAccessibleName("LinkedIn profile address" if kind == "linkedin" else "Sender email address")

    def save(self) -> None:
        name, address = self.name.text(), self.address.text()
        try:
            if self.what == "user":
                if isinstance(self.existing, UserInfo):
                    info: UserInfo | IdentityInfo = self.service.update_user(self.existing.id, name=name, email=address)
                else:
                    info = self.service.create_user(name, address, make_current=self.make_current.isChecked())
            elif isinstance(self.existing, IdentityInfo):
                info = self.service.update_identity(self.existing.id, name=name, address=address)
            else:
                info = self.service.create_identity(str(self.kind.currentData()), name, address)
        except WorkspaceError as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            fit_height(self)
            lowered = str(exc).lower()
            (self.name if "name" in lowered and "address" not in lowered else self.address).setFocus()
            return
        self.saved.emit(info)
        self.accept()


def _table(name: str, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setTabKeyNavigation(False)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(32)
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setMinimumHeight(150)
    return table


class Section(QFrame):
    """A card with a title, a one-line explanation, a table (or its empty text) and buttons."""

    def __init__(self, title: str, blurb: str, table: QTableWidget, empty: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sectionCard")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(8)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        t = QLabel(title)
        t.setObjectName("categoryTitle")
        b = QLabel(blurb)
        b.setObjectName("categoryBlurb")
        b.setWordWrap(True)
        titles.addWidget(t)
        titles.addWidget(b)
        head.addLayout(titles, 1)
        self.header_actions = QHBoxLayout()
        self.header_actions.setSpacing(8)
        head.addLayout(self.header_actions)
        lay.addLayout(head)
        self.stack = QStackedWidget()
        self.table = table
        self.stack.addWidget(table)
        self.empty = QLabel(empty)
        self.empty.setObjectName("sectionEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty)
        lay.addWidget(self.stack)
        self.row_buttons = QHBoxLayout()
        self.row_buttons.setSpacing(8)
        self.row_buttons.addStretch(1)
        lay.addLayout(self.row_buttons)

    def set_empty(self, empty: bool) -> None:
        self.stack.setCurrentIndex(1 if empty else 0)
        self.stack.setFixedHeight(72 if empty else max(150, 36 + 32 * min(self.table.rowCount(), 8)))


class TeamPage(QWidget):
    """Signals: ``statusMessage(str)`` — a short confirmation for the status bar."""

    statusMessage = Signal(str)

    def __init__(
        self, ctx: AppContext, parent: QWidget | None = None, service: WorkspaceService | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = service or WorkspaceService(ctx.store)
        self.setObjectName("teamPage")
        self._users: list[UserInfo] = []
        self._identities: list[IdentityInfo] = []
        self.dialogs = DialogHost()

        self.root_layout = root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 0)
        root.setSpacing(12)
        self.header, _actions = page_header(
            "Team & identities",
            "Who uses Enginy on this computer, and the LinkedIn profiles and email senders that run your campaigns.",
        )
        root.addLayout(self.header)
        root.addWidget(divider())
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 4, 8, 24)
        lay.setSpacing(16)

        current = QFrame()
        current.setObjectName("sectionCard")
        cur_lay = QVBoxLayout(current)
        cur_lay.setContentsMargins(16, 14, 16, 14)
        cur_lay.setSpacing(6)
        row = QHBoxLayout()
        label = QLabel("You are")
        label.setObjectName("categoryTitle")
        row.addWidget(label)
        self.current_user = QComboBox()
        self.current_user.setObjectName("currentUserCombo")
        self.current_user.setAccessibleName("Current user")
        self.current_user.setMinimumWidth(260)
        self.current_user.activated.connect(self._current_chosen)
        label.setBuddy(self.current_user)
        row.addWidget(self.current_user)
        row.addStretch(1)
        cur_lay.addLayout(row)
        help_text = QLabel(
            "The current user owns the records you import on this computer; exports give them to the CRM user "
            "mapped to this user."
        )
        help_text.setObjectName("fieldHelp")
        help_text.setWordWrap(True)
        cur_lay.addWidget(help_text)
        lay.addWidget(current)

        self.users_table = _table("usersTable", ["Name", "Email", ""])
        self.users_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        self.users_table.horizontalHeader().resizeSection(2, 110)
        self.users = Section(
            "Enginy users",
            "The people who work with Enginy here.",
            self.users_table,
            "No users yet. Add the people who use Enginy on this computer, starting with yourself.",
        )
        self.add_user_button = self._button("Add user…", "addUserButton", self.add_user, primary=True)
        self.users.header_actions.addWidget(self.add_user_button)
        self.edit_user_button = self._button("Edit…", "editUserButton", self.edit_user)
        self.remove_user_button = self._button("Remove…", "removeUserButton", self.confirm_remove_user, danger=True)
        self.users.row_buttons.addWidget(self.edit_user_button)
        self.users.row_buttons.addWidget(self.remove_user_button)
        self.users_table.itemSelectionChanged.connect(self._selection_changed)
        self.users_table.doubleClicked.connect(lambda _i: self.edit_user())
        lay.addWidget(self.users)

        self.identities_table = _table("identitiesTable", ["Name", "Type", "Address"])
        self.identities = Section(
            "Identities",
            "LinkedIn profiles and email senders. Importing a campaign adds the one that runs it.",
            self.identities_table,
            "No identities yet. Add the LinkedIn profiles and email senders your campaigns run from.",
        )
        self.add_identity_button = self._button(
            "Add identity…", "addIdentityButton", self.add_identity, primary=True
        )
        self.identities.header_actions.addWidget(self.add_identity_button)
        self.edit_identity_button = self._button("Edit…", "editIdentityButton", self.edit_identity)
        self.remove_identity_button = self._button(
            "Remove…", "removeIdentityButton", self.confirm_remove_identity, danger=True
        )
        self.identities.row_buttons.addWidget(self.edit_identity_button)
        self.identities.row_buttons.addWidget(self.remove_identity_button)
        self.identities_table.itemSelectionChanged.connect(self._selection_changed)
        self.identities_table.doubleClicked.connect(lambda _i: self.edit_identity())
        lay.addWidget(self.identities)
        lay.addStretch(1)
        scroll.setWidget(content)
        root.addWidget(scroll, 1)

        for table, action in ((self.users_table, self.confirm_remove_user),
                              (self.identities_table, self.confirm_remove_identity)):
            shortcut = QShortcut(QKeySequence.StandardKey.Delete, table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(action)
            enter = QShortcut(QKeySequence(Qt.Key.Key_Return), table)
            enter.setContext(Qt.ShortcutContext.WidgetShortcut)
            enter.activated.connect(self.edit_user if table is self.users_table else self.edit_identity)
        self.refresh()

    @staticmethod
    def _button(
        text: str, name: str, slot: Callable[[], object], primary: bool = False, danger: bool = False
    ) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        if primary:
            button.setProperty("primary", True)
        if danger:
            button.setProperty("danger", True)
        button.clicked.connect(slot)
        return button

    # -- state -----------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._users = self.service.users()
        self._identities = self.service.identities()
        selected_user = self.selected_user()
        selected_identity = self.selected_identity()
        table = self.users_table
        table.setRowCount(len(self._users))
        for r, u in enumerate(self._users):
            table.setItem(r, 0, QTableWidgetItem(u.name))
            table.setItem(r, 1, QTableWidgetItem(u.email))
            mark = QTableWidgetItem("✓ You" if u.is_current else "")
            mark.setData(Qt.ItemDataRole.AccessibleTextRole, "Current user" if u.is_current else "")
            table.setItem(r, 2, mark)
            if selected_user and u.id == selected_user.id:
                table.selectRow(r)
        self.users.set_empty(not self._users)
        table = self.identities_table
        table.setRowCount(len(self._identities))
        for r, i in enumerate(self._identities):
            table.setItem(r, 0, QTableWidgetItem(i.name))
            table.setItem(r, 1, QTableWidgetItem(IDENTITY_KINDS.get(i.kind, i.kind)))
            address = QTableWidgetItem(i.address)
            address.setToolTip(i.address)
            table.setItem(r, 2, address)
            if selected_identity and i.id == selected_identity.id:
                table.selectRow(r)
        self.identities.set_empty(not self._identities)
        combo = self.current_user
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Nobody (imports have no owner)", None)
        for u in self._users:
            combo.addItem(f"{u.name} <{u.email}>", u.id)
            if u.is_current:
                combo.setCurrentIndex(combo.count() - 1)
        combo.blockSignals(False)
        self._selection_changed()

    def selected_user(self) -> UserInfo | None:
        rows = {i.row() for i in self.users_table.selectedIndexes()}
        return self._users[min(rows)] if rows and min(rows) < len(self._users) else None

    def selected_identity(self) -> IdentityInfo | None:
        rows = {i.row() for i in self.identities_table.selectedIndexes()}
        return self._identities[min(rows)] if rows and min(rows) < len(self._identities) else None

    def _selection_changed(self) -> None:
        self.edit_user_button.setEnabled(self.selected_user() is not None)
        self.remove_user_button.setEnabled(self.selected_user() is not None)
        self.edit_identity_button.setEnabled(self.selected_identity() is not None)
        self.remove_identity_button.setEnabled(self.selected_identity() is not None)

    def select(self, what: str, row: int) -> None:
        (self.users_table if what == "user" else self.identities_table).selectRow(row)

    # -- current user ----------------------------------------------------------------------------------------
    def _current_chosen(self, index: int) -> None:
        user_id = self.current_user.itemData(index)
        try:
            user = self.service.set_current_user(user_id)
        except WorkspaceError as exc:
            show_message(self, "Could not change the current user", str(exc))
        else:
            self.statusMessage.emit(f"You are now {user.name}." if user else "No current user: imports have no owner.")
        self.refresh()

    def choose_current_user(self, user_id: int | None) -> None:
        """As the user does with the "You are" combo."""
        index = self.current_user.findData(user_id)
        self.current_user.setCurrentIndex(index)
        self.current_user.activated.emit(index)

    # -- dialogs ---------------------------------------------------------------------------------------------
    def _open(self, dialog: PersonDialog, verb: str) -> PersonDialog:
        def saved(info: UserInfo | IdentityInfo) -> None:
            self.refresh()
            name = info.name if isinstance(info, UserInfo) else f"{info.name} ({IDENTITY_KINDS[info.kind]})"
            self.statusMessage.emit(f"{name} {verb}.")

        dialog.saved.connect(saved)
        self._show(dialog)
        return dialog

    def add_user(self) -> PersonDialog:
        return self._open(PersonDialog(self.service, "user", self), "added")

    def edit_user(self) -> PersonDialog | None:
        user = self.selected_user()
        return self._open(PersonDialog(self.service, "user", self, user), "saved") if user else None

    def add_identity(self) -> PersonDialog:
        return self._open(PersonDialog(self.service, "identity", self), "added")

    def edit_identity(self) -> PersonDialog | None:
        identity = self.selected_identity()
        return self._open(PersonDialog(self.service, "identity", self, identity), "saved") if identity else None

    def confirm_remove_user(self) -> QMessageBox | None:
        user = self.selected_user()
        if user is None:
            return None
        box = self._confirm(
            "confirmRemoveUser",
            f"Remove the user {user.name}?",
            "The records they own are kept, without an owner. Their CRM user mapping stops applying."
            + (" You will have no current user." if user.is_current else ""),
            "Remove user",
        )
        box.accepted.connect(lambda: self._remove_user(user))
        return box

    def _remove_user(self, user: UserInfo) -> None:
        self.service.delete_user(user.id)
        self.refresh()
        self.statusMessage.emit(f"{user.name} removed.")

    def confirm_remove_identity(self) -> QMessageBox | None:
        identity = self.selected_identity()
        if identity is None:
            return None
        box = self._confirm(
            "confirmRemoveIdentity",
            f"Remove the identity {identity.name} ({IDENTITY_KINDS.get(identity.kind, identity.kind)})?",
            f"{identity.address} will no longer be available for campaigns. An identity that runs a campaign "
            "cannot be removed.",
            "Remove identity",
        )
        box.accepted.connect(lambda: self._remove_identity(identity))
        return box

    def _remove_identity(self, identity: IdentityInfo) -> None:
        try:
            self.service.delete_identity(identity.id)
        except WorkspaceError as exc:
            box = MessageBox(self, "Cannot remove this identity", str(exc), QMessageBox.Icon.Warning)
            box.addButton(QMessageBox.StandardButton.Ok)
            box.setObjectName("removeIdentityRefused")
            self._show(box)
            return
        self.refresh()
        self.statusMessage.emit(f"{identity.name} removed.")

    def _confirm(self, name: str, text: str, detail: str, action: str) -> QMessageBox:
        box = MessageBox(self, text, detail, QMessageBox.Icon.Warning, action)
        box.setObjectName(name)
        box.add_danger_button(action, "confirmRemoveButton", QMessageBox.ButtonRole.AcceptRole)
        box.add_safe_cancel()
        self._show(box)
        return box

    def _show(self, dialog: QWidget) -> None:
        self.dialogs.open(dialog)

    @property
    def current_dialog(self) -> QWidget | None:
        return self.dialogs.current

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()  # a campaign import may have added identities

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        narrow = event.size().width() < 760
        margin = 16 if narrow else 32
        self.root_layout.setContentsMargins(margin, 16 if narrow else 24, margin, 0)
