"""Connection dialogs: an integration's settings and credentials, the CRM conflict question, secret storage."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpacerItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core import catalog
from enginy_desktop.core.catalog import CredentialField, FieldKind, Integration
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.redact import redact
from enginy_desktop.core.secrets import EncryptedFileSecrets, SecretsError, secrets_file
from enginy_desktop.core.services import connection_test
from enginy_desktop.core.services import crm as crm_service
from enginy_desktop.core.services.integrations import (
    ConnectionInvalidError,
    IntegrationError,
    IntegrationInfo,
    NoSecretStoreError,
)

from . import theme
from .message import DetailsDisclosure, MessageBox
from .tasks import TaskKeeper
from .widgets import make_primary

log = logging.getLogger(__name__)

SAVED_SECRET_PLACEHOLDER = "Saved — leave empty to keep it"


class FieldRow(QWidget):
    """An input for one credential field, with help text and an inline error line."""

    def __init__(self, spec: CredentialField, value: str, has_secret: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.editor: QLineEdit | QComboBox
        if spec.kind is FieldKind.CHOICE:
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.setCurrentText(value or spec.default)
            self.editor = combo
        else:
            edit = QLineEdit(value or (spec.default if spec.required else ""))
            edit.setPlaceholderText(spec.placeholder or (spec.default and f"Default: {spec.default}") or "")
            if spec.secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setText("")
                if has_secret:
                    edit.setPlaceholderText(SAVED_SECRET_PLACEHOLDER)
                reveal = QAction(theme.icon("lock"), "Show", edit)
                reveal.setToolTip("Show or hide what you typed")
                reveal.triggered.connect(self._toggle_echo)
                edit.addAction(reveal, QLineEdit.ActionPosition.TrailingPosition)
            self.editor = edit
        self.editor.setObjectName(f"field-{spec.name}")
        self.editor.setAccessibleName(spec.label)
        lay.addWidget(self.editor)
        if spec.help:
            help_label = QLabel(spec.help)
            help_label.setObjectName("fieldHelp")
            help_label.setWordWrap(True)
            lay.addWidget(help_label)
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        lay.addWidget(self.error)

    def _toggle_echo(self) -> None:
        assert isinstance(self.editor, QLineEdit)
        hidden = self.editor.echoMode() == QLineEdit.EchoMode.Password
        self.editor.setEchoMode(QLineEdit.EchoMode.Normal if hidden else QLineEdit.EchoMode.Password)

    def value(self) -> str:
        if isinstance(self.editor, QComboBox):
            return self.editor.currentText()
        return self.editor.text().strip()

    def set_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.editor.setProperty("invalid", "true" if message else "false")
        self.editor.style().unpolish(self.editor)
        self.editor.style().polish(self.editor)


class _BodyScroll(QScrollArea):
    """A frameless scroll area exactly as tall as its content for a given width (so the dialog sizes to it), able
    to shrink to a few rows when the screen is short."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setObjectName("connectBodyScroll")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)
        self.content = content

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt's name)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        lay = self.content.layout()
        if lay is None:
            return self.content.sizeHint().height()
        lay.activate()
        return lay.totalHeightForWidth(width) if lay.hasHeightForWidth() else lay.totalSizeHint().height()

    def sizeHint(self) -> QSize:
        return QSize(self.content.sizeHint().width(), self.heightForWidth(max(self.width(), 1)))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.content.minimumSizeHint().width(), 96)


class ConnectDialog(QDialog):
    """Edit one integration's connection. Built from the catalog's credential fields.

    Signals: ``saved(IntegrationInfo)`` after a successful save; ``disconnected(IntegrationInfo)``;
    ``needsSecrets()`` when credentials cannot be saved because no secret store is unlocked.
    """

    saved = Signal(object)
    disconnected = Signal(object)
    needsSecrets = Signal()

    WIDTH = 560
    #: How the sign-in opens the browser; tests replace it with a fake browser.
    open_browser: Any = None
    redirect_port: int | None = None

    def __init__(self, ctx: AppContext, spec: Integration, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.spec = spec
        self.setObjectName(f"connect-{spec.key}")
        self.setWindowTitle(f"Connect {spec.name}")
        self.setModal(True)
        self.setFixedWidth(self.WIDTH)
        self.tasks = TaskKeeper()  # the connection test or browser sign-in going on
        info = ctx.integrations.get(spec.key)
        settings = info.settings

        self.root_layout = root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(12)
        head = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(theme.icon(spec.key).pixmap(40, 40))
        head.addWidget(icon)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel(f"{spec.name}")
        title.setObjectName("dialogTitle")
        sub = QLabel(f"{spec.category.heading} · " + ("Connected" if info.connected else "Not connected"))
        sub.setObjectName("dialogSubtitle")
        titles.addWidget(title)
        titles.addWidget(sub)
        head.addLayout(titles, 1)
        root.addLayout(head)
        root.addSpacing(4)  # the header stands apart from the first section
        # Between the header and the buttons, everything scrolls when the screen is shorter than the dialog (a
        # 768-pixel laptop, Advanced settings open): Save and Cancel stay in view.
        self.body = QWidget()
        self.body.setObjectName("connectBody")
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(12)
        self.body_scroll = _BodyScroll(self.body)
        root.addWidget(self.body_scroll)

        for text in (spec.not_ready_text, spec.notice):
            if text:
                notice = QLabel(text)
                notice.setObjectName("notice")
                notice.setWordWrap(True)
                body.addWidget(notice)

        self.sign_in_button: QPushButton | None = None
        if crm_service.supports_browser_sign_in(spec.key):
            self.sign_in_button = QPushButton(f"Sign in with {spec.name}…")
            self.sign_in_button.setObjectName("signInButton")
            self.sign_in_button.setAutoDefault(False)
            self.sign_in_button.setToolTip(
                "Opens your browser on the sign-in page of your own app. Register this redirect URL in it: "
                "http://localhost:53682/oauth-callback"
            )
            self.sign_in_button.clicked.connect(self._on_sign_in_clicked)

        self.rows: dict[str, FieldRow] = {}
        groups = self._groups()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setVerticalSpacing(10)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for index, (group_title, fields) in enumerate(groups):
            if group_title:
                label = QLabel(group_title)
                label.setObjectName("sectionTitle")
                if index:
                    form.addItem(QSpacerItem(0, 6))
                form.addRow(label)
            for f in fields:
                has_secret = f.secret and self._has_secret(f.name)
                row = FieldRow(f, str(settings.get(f.name, "")), has_secret)
                self.rows[f.name] = row
                form.addRow(f.label + (" *" if f.required and not f.group else ""), row)
            if self.sign_in_button is not None and fields and fields[0].group == "oauth":
                sign_row = QHBoxLayout()
                sign_row.addWidget(self.sign_in_button)
                sign_row.addStretch(1)
                form.addRow("", sign_row)
        body.addLayout(form)

        self.advanced_box = QWidget()
        adv_form = QFormLayout(self.advanced_box)
        adv_form.setContentsMargins(0, 0, 0, 0)
        advanced = [f for f in spec.fields if f.advanced]
        for f in advanced:
            row = FieldRow(f, str(settings.get(f.name, "")), False)
            self.rows[f.name] = row
            adv_form.addRow(f.label, row)
        if advanced:
            self.advanced_toggle = QToolButton()
            self.advanced_toggle.setObjectName("advancedToggle")
            self.advanced_toggle.setText("Advanced settings")
            self.advanced_toggle.setCheckable(True)
            self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
            self.advanced_toggle.setStyleSheet("QToolButton { border: none; font-weight: 600; }")
            self.advanced_toggle.toggled.connect(self._show_advanced)
            body.addWidget(self.advanced_toggle)
            body.addWidget(self.advanced_box)
            show = any(settings.get(f.name) for f in advanced)
            self.advanced_toggle.setChecked(show)
            self._show_advanced(show)

        self.form_error = QLabel()
        self.form_error.setObjectName("fieldError")
        self.form_error.setWordWrap(True)
        self.form_error.setVisible(False)
        body.addWidget(self.form_error)

        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_result.setVisible(False)
        body.addWidget(self.test_result)
        self.test_details = DetailsDisclosure()  # the technical part of a failed test, folded
        body.addWidget(self.test_details)
        self.test_details.toggle.toggled.connect(lambda _shown: self._fit_height())

        if spec.category is catalog.Category.DATA_ENRICHMENT:  # the waterfall, reachable from every enrichment card
            order_row = QHBoxLayout()
            order_text = QLabel(f"When {spec.name} is asked, per data point, among the enrichment providers:")
            order_text.setObjectName("fieldHelp")
            order_text.setWordWrap(True)
            order_row.addWidget(order_text, 1)
            self.enrichment_settings_button = QPushButton("Enrichment settings…")
            self.enrichment_settings_button.setObjectName("enrichmentSettingsFromCard")
            self.enrichment_settings_button.setAutoDefault(False)
            self.enrichment_settings_button.setToolTip("The order in which the providers are asked, per data point")
            self.enrichment_settings_button.clicked.connect(self.open_enrichment_settings)
            order_row.addWidget(self.enrichment_settings_button)
            body.addLayout(order_row)

        line = QFrame()
        line.setObjectName("pageDivider")
        root.addWidget(line)
        buttons = QHBoxLayout()
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.setObjectName("disconnectButton")
        self.disconnect_button.setProperty("danger", True)
        self.disconnect_button.setAutoDefault(False)
        self.disconnect_button.setVisible(info.connected)
        self.disconnect_button.clicked.connect(self._confirm_disconnect)
        buttons.addWidget(self.disconnect_button)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testButton")
        self.test_button.setAutoDefault(False)
        self.test_button.setVisible(connection_test.supports(spec.key))
        self.test_button.clicked.connect(self._on_test_clicked)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel | QDialogButtonBox.StandardButton.Save)
        self.save_button = box.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("saveButton")
        make_primary(self.save_button)
        box.button(QDialogButtonBox.StandardButton.Cancel).setObjectName("cancelButton")
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        buttons.addWidget(box)
        root.addLayout(buttons)
        self._fit_height()

    def open_enrichment_settings(self) -> QDialog:
        from .enrich_dialog import EnrichSettingsDialog

        dialog = EnrichSettingsDialog(self.ctx, parent=self)
        dialog.setModal(True)
        dialog.show()
        return dialog

    def _fit_height(self) -> None:
        """Size to the content: wrapped help texts need the height that goes with the fixed width; never taller
        than the screen (the fields scroll instead)."""
        layout = self.root_layout
        body = self.body.layout()
        if body is not None:
            body.invalidate()  # a section shown or hidden (Advanced settings, a test's result)
        self.body_scroll.updateGeometry()
        layout.invalidate()
        layout.activate()
        need = max(layout.totalHeightForWidth(self.WIDTH), layout.totalMinimumSize().height())
        screen = self.screen()
        if screen is not None:
            need = min(need, max(screen.availableGeometry().height() - 40, layout.totalMinimumSize().height()))
        self.setFixedHeight(need)

    def _groups(self) -> list[tuple[str, list[CredentialField]]]:
        basic = [f for f in self.spec.fields if not f.advanced]
        named = sorted({f.group for f in basic if f.group})
        if not named:
            return [("", basic)]
        titles = {
            "token": "Access token",
            "oauth": "Sign in with your own OAuth app",
            "webhook": "Incoming webhook",
            "bot": "Bot token",
            "openai": "Your OpenAI API key",
            "server": "An OpenAI-compatible server",
            "client_credentials": "Client credentials (an integration application, no browser)",
            "password": "Username and password (legacy Enterprise API)",
        } | dict(self.spec.group_titles)
        order = [g for g in ("token", "webhook", "openai", "oauth", "client_credentials", "bot", "server", "password")
                 if g in named]
        out: list[tuple[str, list[CredentialField]]] = []
        for number, g in enumerate(order, 1):
            title = titles.get(g, g)
            if len(order) > 1:  # one option alone (the other under Advanced settings) is not "Option 1"
                title = f"Option {number} · {title}"
            out.append((title, [f for f in basic if f.group == g]))
        shared = [f for f in basic if not f.group]
        if shared:
            out.append(("Settings", shared))
        return out

    def _has_secret(self, name: str) -> bool:
        try:
            return self.ctx.integrations.has_secret(self.spec.key, name)
        except SecretsError:
            return False

    def _show_advanced(self, show: bool) -> None:
        self.advanced_box.setVisible(show)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if show else Qt.ArrowType.RightArrow)
        if hasattr(self, "test_result"):
            self._fit_height()

    def values(self) -> dict[str, str]:
        return {name: row.value() for name, row in self.rows.items()}

    # -- save ------------------------------------------------------------------------------------------------
    def _show_problems(self, problems: dict[str, str]) -> None:
        for name, row in self.rows.items():
            row.set_error(problems.get(name, ""))
            if problems.get(name) and row.spec.advanced and hasattr(self, "advanced_toggle"):
                self.advanced_toggle.setChecked(True)
        general = problems.get("", "")
        self.form_error.setText(general)
        self.form_error.setVisible(bool(general))
        self._fit_height()

    def _save_values(self) -> IntegrationInfo | None:
        values = self.values()
        problems = self.ctx.integrations.validate_connection(self.spec.key, values)
        self._show_problems(problems)
        if problems:
            first = next((self.rows[n].editor for n in problems if n in self.rows), None)
            if first is not None:
                first.setFocus()
            return None
        try:
            info = self.ctx.integrations.save_connection(self.spec.key, values)
        except ConnectionInvalidError as exc:
            self._show_problems(exc.problems)
            return None
        except NoSecretStoreError as exc:
            self._show_problems({"": str(exc)})
            self.needsSecrets.emit()
            return None
        except (IntegrationError, SecretsError) as exc:
            self._show_problems({"": redact(exc)})
            return None
        for row in self.rows.values():
            if row.spec.secret and isinstance(row.editor, QLineEdit) and row.editor.text():
                row.editor.clear()
                row.editor.setPlaceholderText(SAVED_SECRET_PLACEHOLDER)
        self.disconnect_button.setVisible(info.connected)
        return info

    def save(self) -> None:
        info = self._save_values()
        if info is not None:
            self.saved.emit(info)
            self.accept()

    # -- test ------------------------------------------------------------------------------------------------
    def _on_test_clicked(self) -> None:
        info = self._save_values()
        if info is None:
            return
        self.saved.emit(info)
        self._set_test_state("busy", "Testing the connection…")
        self.test_button.setEnabled(False)
        self.tasks.start(self.run_test())

    async def run_test(self) -> connection_test.ConnectionTestResult:
        try:
            result = await connection_test.run_connection_test(self.ctx, self.spec.key)
        except Exception as exc:  # the tester promises not to raise; never let a bug freeze the dialog
            log.exception("Connection test for %s failed unexpectedly", self.spec.key)
            result = connection_test.ConnectionTestResult(
                False, "The test could not run because of an unexpected problem; the log has more.",
                detail=f"{type(exc).__name__}: {redact(exc)}")
        if result.ok:
            who = " · ".join(x for x in (result.account, result.user) if x)
            self._set_test_state("ok", f"✓ Connected{': ' + who if who else ''}")
        else:
            self._set_test_state("error", f"✗ {result.message} The settings are saved.", result.detail)
        self.test_button.setEnabled(True)
        return result

    # -- browser sign-in (OAuth) -----------------------------------------------------------------------------
    def _on_sign_in_clicked(self) -> None:
        values = self.values()
        if not values.get("client_id"):
            self._show_problems({"client_id": "Enter your app's OAuth client ID first."})
            return
        if self._save_values() is None:
            return
        assert self.sign_in_button is not None
        self.sign_in_button.setEnabled(False)
        self._set_test_state("busy", "Finish signing in in your browser… (this window waits up to 5 minutes)")
        self.tasks.start(self.run_sign_in())

    async def run_sign_in(self) -> bool:
        from enginy_desktop.adapters.base import AdapterError, error_detail

        def on_url(url: str) -> None:
            self.test_result.setToolTip(f"If your browser did not open, visit:\n{url}")

        try:
            await crm_service.sign_in_with_browser(
                self.ctx, self.spec.key, open_browser=self.open_browser, on_url=on_url, redirect_port=self.redirect_port
            )
        except (AdapterError, IntegrationError, SecretsError) as exc:
            self._set_test_state("error", f"✗ Sign-in did not complete: {redact(exc)}", error_detail(exc))
            ok = False
        else:
            self._set_test_state("ok", f"✓ Signed in to {self.spec.name}. You can now test the connection.")
            info = self.ctx.integrations.get(self.spec.key)
            self.disconnect_button.setVisible(info.connected)
            self.saved.emit(info)
            ok = True
        if self.sign_in_button is not None:
            self.sign_in_button.setEnabled(True)
        return ok

    def _set_test_state(self, state: str, text: str, detail: str = "") -> None:
        self.test_result.setProperty("state", state)
        self.test_result.setText(text)
        self.test_result.setVisible(True)
        self.test_details.set_detail(detail)
        self._fit_height()
        self.test_result.style().unpolish(self.test_result)
        self.test_result.style().polish(self.test_result)

    # -- disconnect ------------------------------------------------------------------------------------------
    def _confirm_disconnect(self) -> None:
        box = MessageBox(self)
        box.setObjectName("confirmDisconnect")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(f"Disconnect {self.spec.name}")
        box.setText(f"Remove the saved credentials for {self.spec.name}?")
        box.setInformativeText(
            "Its settings and configuration are kept; you will need to enter the credentials again to use it."
        )
        remove = box.addButton("Remove credentials", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda b: self._disconnect() if b is remove else None)
        box.open()

    def _disconnect(self) -> None:
        try:
            info = self.ctx.integrations.disconnect(self.spec.key)
        except NoSecretStoreError as exc:  # the credentials file is locked: unlock it, then disconnect
            self._show_problems({"": str(exc)})
            self.needsSecrets.emit()
            return
        self.disconnected.emit(info)
        self.accept()

    def done(self, result: int) -> None:
        self.tasks.cancel_all()
        super().done(result)


class CrmConflictDialog(MessageBox):
    """"<Active> is your active CRM. Only one CRM can be active at a time." — accept means switch."""

    def __init__(self, active: Integration, wanted: Integration, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crmConflictDialog")
        self.setIcon(QMessageBox.Icon.Information)
        self.setWindowTitle("Only one CRM can be active")
        self.setText(f"{active.name} is your active CRM. Only one CRM can be active at a time.")
        self.setInformativeText(
            f"Disabling {active.name} keeps its configuration, so you can switch back later."
        )
        self.switch_button = self.addButton(
            f"Disable {active.name} and enable {wanted.name}", QMessageBox.ButtonRole.AcceptRole
        )
        self.switch_button.setObjectName("switchCrmButton")
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        cancel.setObjectName("cancelButton")
        self.setDefaultButton(cancel)
        self.setEscapeButton(cancel)


class SecretsSetupDialog(QDialog):
    """Create or unlock the encrypted credentials file when no system keyring is usable."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("secretsSetupDialog")
        self.path = secrets_file(ctx.data_dir)
        self.creating = not self.path.exists()
        self.setWindowTitle("Create encrypted credentials file" if self.creating else "Unlock credentials")
        self.setModal(True)
        self.setMinimumWidth(480)
        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(10)
        title = QLabel(self.windowTitle())
        title.setObjectName("dialogTitle")
        root.addWidget(title)
        if self.creating:
            text = (
                "No system keyring is available on this computer. Enginy Desktop can keep your credentials in a "
                f"file encrypted with a passphrase you choose ({self.path}). You will be asked for it each time "
                "Enginy Desktop starts. If you forget it, the credentials cannot be recovered; you would enter "
                "them again."
            )
        else:
            text = f"Your credentials are kept in an encrypted file ({self.path}). Enter its passphrase."
        explain = QLabel(text)
        explain.setWordWrap(True)
        explain.setObjectName("dialogSubtitle")
        root.addWidget(explain)
        form = QFormLayout()
        self.passphrase = QLineEdit()
        self.passphrase.setObjectName("passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Passphrase", self.passphrase)
        self.confirm = QLineEdit()
        self.confirm.setObjectName("passphraseConfirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        if self.creating:
            form.addRow("Repeat passphrase", self.confirm)
        root.addLayout(form)
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        root.addWidget(self.error)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = box.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Create file" if self.creating else "Unlock")
        ok.setObjectName("okButton")
        box.accepted.connect(self.submit)
        box.rejected.connect(self.reject)
        root.addWidget(box)

    def submit(self) -> None:
        phrase = self.passphrase.text()
        if self.creating:
            if len(phrase) < 8:
                return self._fail("Choose a passphrase of at least 8 characters.")
            if phrase != self.confirm.text():
                return self._fail("The two passphrases are different.")
        try:
            if self.creating:
                store = EncryptedFileSecrets.create(self.path, phrase)
            else:
                store = EncryptedFileSecrets(self.path, phrase)
        except SecretsError as exc:
            return self._fail(str(exc))
        self.ctx.use_secrets(store)
        self.accept()
        return None

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)
        self.passphrase.setFocus()


__all__ = ["ConnectDialog", "CrmConflictDialog", "SecretsSetupDialog", "catalog"]
