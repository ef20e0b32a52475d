"""The CRM configuration wizard: four sequential steps, and **Update** saves (the product's "Configure Your CRM").

:class:`CrmWizard` edits a copy of the saved configuration held by a Qt-free
:class:`~enginy_desktop.core.crm_wizard.WizardState`; its pages render that state and apply the user's edits.
The CRM's fields and users load in the background (:class:`~enginy_desktop.wizard.loader.CrmDataLoader`), from a
cached copy when the CRM cannot be reached. **Update** validates the whole configuration, shows any problem on
the page it belongs to, and otherwise saves it in one transaction and closes; Cancel (or Escape) asks before
discarding edits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from enginy_desktop.core import catalog
from enginy_desktop.core import fields as field_registry
from enginy_desktop.core.crm_config import CrmConfigFileError, Severity, Step
from enginy_desktop.core.crm_wizard import WizardState
from enginy_desktop.core.services.crm_configs import CrmConfigInvalidError
from enginy_desktop.core.services.crm_setup import workspace_people
from enginy_desktop.core.store import StoreError
from enginy_desktop.views.message import MessageBox

from . import loader as L
from .base import StepPage
from .page_campaign import CampaignPage
from .page_export import ExportPage
from .page_sync import SyncPage
from .page_users import UsersPage
from .widgets import repolish

log = logging.getLogger(__name__)

class CrmWizard(QWizard):
    """The four steps of a CRM's configuration, opened by Configure on its card.

    Signals:

    - ``saved(object)``: Update stored the configuration (the :class:`CrmConfig` saved);
    - ``statusMessage(str)``: a short confirmation for the window's status bar.
    """

    saved = Signal(object)
    statusMessage = Signal(str)

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None, *,
                 connect_dialog: Callable[[Any, Any, QWidget], Any]) -> None:
        """``connect_dialog(ctx, spec, parent)`` makes the connection dialog the wizard opens when the CRM is not
        connected (given by the window, so the wizard never imports the views)."""
        super().__init__(parent)
        self.ctx = ctx
        self.connect_dialog = connect_dialog
        self.spec = catalog.get(key)
        self.state = WizardState(self.spec.key, ctx.crm_configs.load(self.spec.key), people=workspace_people(ctx),
                                 enginy_fields=field_registry.workspace_fields(ctx.store))
        self.data = L.CrmDataLoader(ctx, self.state, self)
        self.data.use_cache()
        self.dialog: QWidget | None = None  # the confirmation or connection dialog open on top, if any
        self._started = False
        self._discard_confirmed = False
        self._unchecked_ok = False

        self.setObjectName("crmWizard")
        self.setWindowTitle(f"Configure {self.spec.name}")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.setOption(QWizard.WizardOption.HaveCustomButton2, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Update")
        self.setButtonText(QWizard.WizardButton.BackButton, "Back")
        self.setButtonText(QWizard.WizardButton.NextButton, "Next")
        self.setButtonText(QWizard.WizardButton.CustomButton1, "Skip this step")
        self.setButtonText(QWizard.WizardButton.CustomButton2, "Connection…")
        B = QWizard.WizardButton
        self.setButtonLayout([B.CustomButton2, B.Stretch, B.CancelButton, B.BackButton, B.CustomButton1,
                              B.NextButton, B.FinishButton])  # fmt: skip
        names = {
            B.BackButton: ("wizardBack", "Back"),
            B.NextButton: ("wizardNext", "Next step"),
            B.FinishButton: ("wizardUpdate", "Update: save the configuration"),
            B.CancelButton: ("wizardCancel", "Cancel"),
            B.CustomButton1: ("wizardSkip", "Skip this optional step"),
            B.CustomButton2: ("wizardConnection", f"{self.spec.name} connection settings"),
        }
        for which, (name, accessible) in names.items():
            button = self.button(which)
            button.setObjectName(name)
            button.setAccessibleName(accessible)
        for which in (B.NextButton, B.FinishButton):
            self.button(which).setProperty("primary", "true")
        self.button(B.CustomButton2).setToolTip(f"Change the {self.spec.name} credentials or test the connection")
        self.button(B.CustomButton2).setProperty("flat", "true")

        self.pages: dict[Step, StepPage] = {
            Step.SYNC: SyncPage(self.state, self.data),
            Step.EXPORT: ExportPage(self.state, self.data),
            Step.CAMPAIGN: CampaignPage(self.state, self.data),
            Step.USERS: UsersPage(self.state, self.data),
        }
        for step, page in self.pages.items():
            self.setPage(int(step), page)
            page.strip.refreshRequested.connect(self.refresh)
            page.strip.connectionRequested.connect(self.open_connection)
        self.currentIdChanged.connect(self._on_page)
        self.customButtonClicked.connect(self._on_custom_button)
        self.setMinimumSize(640, 480)
        self.resize(1080, 760)

    # -- pages -------------------------------------------------------------------------------------------------
    def page_of(self, step: Step) -> StepPage:
        return self.pages[step]

    def _on_page(self, page_id: int) -> None:
        self.button(QWizard.WizardButton.CustomButton1).setVisible(page_id == int(Step.CAMPAIGN))
        page = self.pages.get(Step(page_id)) if page_id in (1, 2, 3, 4) else None
        if page is not None:
            # Next initializes a page, Back does not: render it from the state either way (another step may
            # have changed what it shows or checks).
            page.render_state()
            page.edited()
        self.on_edited()

    def on_edited(self) -> None:
        """After any edit: the title says whether there are unsaved edits, the step list what to fix."""
        dirty = self.state.dirty
        self.setWindowTitle(f"Configure {self.spec.name}" + (" — unsaved changes" if dirty else ""))
        blocked = {p.location.step for p in self.state.problems() if p.severity is Severity.ERROR}
        for page in self.pages.values():
            page.stepper.render_state(self.currentId(), blocked)
        for which in (QWizard.WizardButton.NextButton, QWizard.WizardButton.FinishButton):
            # The style sheet styles primary buttons by a property: re-apply it once enabled/disabled changed.
            button = self.button(which)
            shown = "true" if button.isEnabled() else "false"
            if button.property("shownEnabled") != shown:
                button.setProperty("shownEnabled", shown)
                repolish(button)

    def go_to(self, step: Step) -> StepPage:
        """Show the page of ``step`` (Back and Next keep every edit)."""
        guard = 8
        while self.currentId() > int(step) and guard:
            self.back()
            guard -= 1
        while 0 <= self.currentId() < int(step) and guard:
            self.next()
            guard -= 1
        return self.pages[step]

    def _on_custom_button(self, which: int) -> None:
        if which == QWizard.WizardButton.CustomButton1.value:
            self.skip_step()
        elif which == QWizard.WizardButton.CustomButton2.value:
            self.open_connection()

    def skip_step(self) -> None:
        """Step 3 is optional: go on to Step 4 without mapping campaign properties."""
        page = self.pages[Step.CAMPAIGN]
        assert isinstance(page, CampaignPage)
        page.skipped = True
        if self.currentId() == int(Step.CAMPAIGN):
            self.next()

    # -- CRM data ----------------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._started:
            self._started = True
            if self.data.needs_fetch():
                self.data.tasks.start(self.data.load())
            elif self.state.snapshot is not None:
                self.pages[Step.SYNC].initializePage()

    def refresh(self) -> None:
        if not self.data.busy:
            self.data.tasks.start(self.data.load(refresh=True))

    def open_connection(self) -> QWidget:
        dialog = self.connect_dialog(self.ctx, self.spec, self)
        dialog.saved.connect(lambda _info: self.refresh())
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    # -- Update ------------------------------------------------------------------------------------------------
    def accept(self) -> None:
        """Update: validate everything; problems -> show them on their page; else save and close."""
        problems = self.state.problems()
        blocked = self.state.first_blocked_step(problems)
        if blocked is not None:
            self.show_problem_page(blocked)
            return
        if self.state.snapshot is None and not self._unchecked_ok:
            self.confirm_unchecked_save()
            return
        self.save()

    def save(self) -> bool:
        try:
            config = self.ctx.crm_configs.save(self.state.config, **self.state.validation_kwargs())
        except CrmConfigInvalidError as exc:  # the service checks again; show where, as for our own check
            step = min(p.location.step for p in exc.problem_list)
            self.show_problem_page(step)
            return False
        except (StoreError, CrmConfigFileError, OSError) as exc:
            log.warning("Could not save the %s configuration: %s", self.spec.key, exc)
            box = MessageBox(self, "The configuration was not saved",
                             f"The {self.spec.name} configuration could not be saved: {exc}", QMessageBox.Icon.Critical)
            box.setObjectName("saveFailed")
            box.setInformativeText("The configuration you had is unchanged, and your edits are still here. Try "
                                   "Update again; if it keeps failing, restart Enginy Desktop.")  # fmt: skip
            self.dialog = box
            box.open()
            return False
        self.state.mark_saved()
        self.saved.emit(config)
        self.statusMessage.emit(f"{self.spec.name} configuration updated.")
        self._discard_confirmed = True
        super().accept()
        return True

    def show_problem_page(self, step: Step) -> None:
        page = self.go_to(step)
        page.edited()
        first = next((p for p in self.state.blocking(self.state.problems(), step)), None)
        if first is not None and isinstance(page, ExportPage):
            page.go_to_problem(first)
        page.banner.setText("Not saved yet. " + page.banner.text())
        self.statusMessage.emit(f"Not saved: fix the problems marked in {step.title}.")

    def confirm_unchecked_save(self) -> QMessageBox:
        box = MessageBox(self)
        box.setObjectName("confirmUncheckedSave")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Save without checking the CRM fields?")
        box.setText(f"The {self.spec.name} fields could not be loaded, so the mappings were not checked against "
                    "them (a misplaced or deleted field would only show at export).")  # fmt: skip
        save = box.addButton("Save anyway", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def chosen(button: object) -> None:
            if button is save:
                self._unchecked_ok = True
                self.accept()

        box.buttonClicked.connect(chosen)
        self.dialog = box
        box.open()
        return box

    # -- Cancel ------------------------------------------------------------------------------------------------
    def reject(self) -> None:
        """Cancel / Escape / close: discard the edits, asking first when there are any."""
        if self.state.dirty and not self._discard_confirmed:
            self.confirm_discard()
            return
        super().reject()

    def confirm_discard(self) -> QMessageBox:
        box = MessageBox(self)
        box.setObjectName("confirmDiscard")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Discard your changes?")
        box.setText(f"Discard your changes to the {self.spec.name} configuration?")
        box.setInformativeText("The saved configuration stays as it was.")
        discard = box.addButton("Discard changes", QMessageBox.ButtonRole.DestructiveRole)
        discard.setObjectName("confirmDiscardYes")
        keep = box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("confirmDiscardNo")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def chosen(button: object) -> None:
            if button is discard:
                self._discard_confirmed = True
                self.reject()

        box.buttonClicked.connect(chosen)
        self.dialog = box
        box.open()
        return box

    def done(self, result: int) -> None:
        self.data.tasks.cancel_all()
        super().done(result)

