"""Step 1: Input / Sync Mapping — the Contact and Company Identifiers, the Custom Mapping pop-up, and the
duplicate-risk check of the chosen identifiers on the current data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.crm_config import ObjectType, Problem, Step
from enginy_desktop.core.crm_wizard import (
    COMPANY_PRESET_HELP,
    CONTACT_PRESET_HELP,
    INCLUDE_ANY_EXTENSION_HELP,
    WizardState,
)
from enginy_desktop.core.matching.rules import CompanyPreset, ContactPreset, Rule
from enginy_desktop.core.services import crm_setup

from . import loader as L
from .base import StepPage, message_label, show_messages
from .custom_mapping import CustomMappingDialog
from .widgets import Spinner, button, caption, compact_combo, set_state

INTRO = (
    "This step defines how Enginy matches contacts and companies with your CRM records to prevent duplicates and "
    "ensure data integrity. A “sync” means Enginy compares its records against CRM records using the identifiers "
    "you configure here."
)


class IdentifierSection(QFrame):
    """One identifier: its three options with their matching logic, the custom mapping, the risk check."""

    def __init__(self, page: SyncPage, object_type: ObjectType) -> None:
        super().__init__()
        self.page = page
        self.object_type = object_type
        contact = object_type is ObjectType.CONTACT
        self.presets: list[ContactPreset | CompanyPreset] = list(ContactPreset if contact else CompanyPreset)
        helps: dict[Any, str] = dict(CONTACT_PRESET_HELP if contact else COMPANY_PRESET_HELP)
        noun = "contact" if contact else "company"
        self.setObjectName(f"{noun}Identifier")
        self.setProperty("section", "true")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(6)
        title = QLabel("Contact Identifier" if contact else "Company Identifier")
        title.setObjectName("sectionTitle")
        lay.addWidget(title)
        lay.addWidget(caption(f"Choose how Enginy determines whether a {noun} already exists in your CRM."))

        self.group = QButtonGroup(self)
        self.radios: dict[ContactPreset | CompanyPreset, QRadioButton] = {}
        self.extension: QCheckBox | None = None
        for i, preset in enumerate(self.presets):
            radio = QRadioButton(preset.label)
            radio.setObjectName(f"{noun}Preset-{preset.value}")
            radio.setAccessibleDescription(helps[preset])
            self.group.addButton(radio, i)
            self.radios[preset] = radio
            lay.addWidget(radio)
            help_label = caption(helps[preset], "optionHelp")
            lay.addWidget(help_label)
            if preset is CompanyPreset.DOMAIN:
                self.extension = QCheckBox("Include any domain extension")
                self.extension.setObjectName("includeAnyExtension")
                self.extension.setAccessibleDescription(INCLUDE_ANY_EXTENSION_HELP)
                self.extension.toggled.connect(self._on_extension)
                lay.addWidget(self.extension)
                lay.addWidget(caption(INCLUDE_ANY_EXTENSION_HELP, "optionHelp"))
        self.group.idClicked.connect(self._on_preset)

        custom_row = QHBoxLayout()
        custom_row.setContentsMargins(24, 0, 0, 0)
        self.custom_summary = caption("", "customSummary")
        custom_row.addWidget(self.custom_summary, 1)
        self.edit_custom = button("Edit custom mapping…")
        self.edit_custom.setObjectName(f"{noun}EditCustom")
        self.edit_custom.clicked.connect(self.open_custom)
        custom_row.addWidget(self.edit_custom, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(custom_row)

        self.matches = caption("", "identifierSummary")
        lay.addWidget(self.matches)
        self.message = message_label()
        lay.addWidget(self.message)

        risk = QFrame()
        risk.setObjectName("riskBox")
        self.risk_box = risk
        risk_lay = QVBoxLayout(risk)
        risk_lay.setContentsMargins(10, 8, 8, 8)
        risk_lay.setSpacing(6)
        top = QHBoxLayout()
        top.setSpacing(8)
        heading = QLabel("Duplicate risk on your data")
        heading.setObjectName("riskTitle")
        top.addWidget(heading)
        self.risk_spinner = Spinner(risk)
        top.addWidget(self.risk_spinner)
        top.addStretch(1)
        self.risk_list = compact_combo()
        self.risk_list.setObjectName(f"{noun}RiskList")
        self.risk_list.setAccessibleName(f"List to check the {noun} identifier on")
        self.risk_list.setToolTip("The list whose records are compared with the CRM")
        self.risk_list.currentIndexChanged.connect(self._on_risk_list)
        top.addWidget(self.risk_list, 1)
        self.risk_button = button("Check", f"{noun}CheckRisk", accessible=f"Check the {noun} identifier on this list",
                                  tip="Compare the list with the CRM using this identifier (reads the CRM)")
        top.addWidget(self.risk_button)
        risk_lay.addLayout(top)
        self.risk_text = caption("", "riskText")
        risk_lay.addWidget(self.risk_text)
        self.risk_button.clicked.connect(lambda: page.check_risk([object_type], force=True))
        lay.addSpacing(4)
        lay.addWidget(risk)
        self._previous = self.current_preset()

    # -- reading the state ---------------------------------------------------------------------------------------
    def identifier(self) -> Any:
        cfg = self.page.state.config
        return cfg.contact_identifier if self.object_type is ObjectType.CONTACT else cfg.company_identifier

    def current_preset(self) -> ContactPreset | CompanyPreset:
        return self.identifier().preset

    def render_state(self) -> None:
        state = self.page.state
        preset = self.current_preset()
        self._previous = preset
        self.radios[preset].setChecked(True)
        if self.extension is not None:
            self.extension.blockSignals(True)
            self.extension.setChecked(state.config.company_identifier.include_any_extension)
            self.extension.blockSignals(False)
        custom = state.custom_summary(self.object_type)
        self.custom_summary.setText(f"Custom mapping: {custom}" if custom else "No custom mapping yet.")
        self.edit_custom.setText("Edit custom mapping…" if custom else "Set up custom mapping…")
        summary = state.identifier_summary(self.object_type)
        company = self.object_type is ObjectType.COMPANY
        if summary and company and state.config.company_identifier.include_any_extension:
            summary += " (any domain extension)"
        self.matches.setText(f"Matches on: {summary}" if summary else "Matches on: nothing yet — set up the custom "
                                                                      "mapping.")  # fmt: skip
        self.render_risk()

    def render_risk(self) -> None:
        state = self.page.state
        data = self.page.data
        lists = state.risk_lists.get(self.object_type, [])
        chosen = state.chosen_risk_list(self.object_type)
        self.risk_list.blockSignals(True)
        self.risk_list.clear()
        for lst in lists:
            self.risk_list.addItem(lst.label, lst.id)
        self.risk_list.setCurrentIndex(self.risk_list.findData(chosen.id) if chosen is not None else -1)
        self.risk_list.blockSignals(False)
        self.risk_list.setVisible(bool(lists))
        busy = self.object_type in data.risk_checking
        view = state.duplicate_risk(self.object_type)
        if busy:
            self.risk_spinner.start()
            name = chosen.name if chosen is not None else ""
            text, shown = f"Comparing “{name}” with {state.crm_name} using this identifier…", "unknown"
        else:
            self.risk_spinner.stop()
            text, shown = view.text, view.state
            if state.snapshot is None and view.state == "unknown" and chosen is not None:
                text = f"The check runs once the {state.crm_name} fields are loaded."
        self.risk_text.setText(text)
        set_state(self.risk_box, "state", shown)
        self.risk_button.setVisible(bool(lists))
        self.risk_button.setEnabled(not busy and state.snapshot is not None
                                    and not state.current_rule(self.object_type).problems())  # fmt: skip

    def _on_risk_list(self, _index: int) -> None:
        list_id = self.risk_list.currentData()
        if list_id is not None:
            self.page.state.risk_list[self.object_type] = int(list_id)
            self.render_risk()
            self.page.check_risk([self.object_type])

    # -- edits ---------------------------------------------------------------------------------------------------
    def _on_preset(self, index: int) -> None:
        preset = self.presets[index]
        if preset.value == "custom" and not (self.page.state.custom_rule(self.object_type) or Rule()).groups:
            self.open_custom()  # nothing to match with yet: define it first (cancel goes back)
            return
        self._apply_preset(preset)

    def _apply_preset(self, preset: ContactPreset | CompanyPreset) -> None:
        if self.object_type is ObjectType.CONTACT:
            self.page.state.set_contact_preset(preset)
        else:
            self.page.state.set_company_preset(preset)
        self.page.identifier_changed()

    def _on_extension(self, on: bool) -> None:
        self.page.state.set_include_any_extension(on)
        self.page.identifier_changed()

    def open_custom(self) -> None:
        self.page.open_custom(self.object_type)

    def custom_closed(self, accepted: bool) -> None:
        if not accepted:
            self.radios[self._previous].setChecked(True)

    def show_problems(self, problems: Sequence[Problem]) -> None:
        severity = show_messages(self.message, problems)
        set_state(self, "invalid", "true" if severity == "error" else "false")


class SyncPage(StepPage):
    step = Step.SYNC

    def __init__(self, state: WizardState, data: L.CrmDataLoader) -> None:
        super().__init__(state, data, "Step 1: Input / Sync Mapping", INTRO)
        self.sections = {
            ObjectType.CONTACT: IdentifierSection(self, ObjectType.CONTACT),
            ObjectType.COMPANY: IdentifierSection(self, ObjectType.COMPANY),
        }
        for section in self.sections.values():
            self.body.addWidget(section)
        self.body.addStretch(1)
        self.dialog: CustomMappingDialog | None = None
        data.riskChanged.connect(self._render_risk)

    def render_state(self) -> None:
        for section in self.sections.values():
            section.render_state()

    def _render_risk(self) -> None:
        for section in self.sections.values():
            section.render_risk()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        for obj, section in self.sections.items():
            tab = "Contact Identifier" if obj is ObjectType.CONTACT else "Company Identifier"
            section.show_problems([p for p in problems if p.location.tab == tab])

    def _on_data(self) -> None:
        super()._on_data()
        if self.data.status in (L.READY, L.CACHED, L.OFFLINE) and self.isVisible():
            self.check_risk()

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        self.refresh_lists()
        super().initializePage()
        if self.state.snapshot is not None:
            self.check_risk()

    def refresh_lists(self) -> None:
        """The lists the duplicate-risk check can run on (the workspace may have changed since last time)."""
        for obj in ObjectType:
            self.state.risk_lists[obj] = crm_setup.risk_lists(self.data.ctx, obj)
        self._render_risk()

    def identifier_changed(self) -> None:
        self.render_state()
        self.edited()
        self.check_risk()

    def check_risk(self, objects: list[ObjectType] | None = None, force: bool = False) -> None:
        """Run the duplicate-risk check in the background (see :meth:`CrmDataLoader.check_risk`)."""
        objects = [o for o in (objects or list(ObjectType)) if o not in self.data.risk_checking]
        if objects:
            self.data.tasks.start(self.data.check_risk(objects, force=force))
        self._render_risk()

    # -- the pop-up ----------------------------------------------------------------------------------------------
    def open_custom(self, object_type: ObjectType) -> CustomMappingDialog:
        draft = self.state.draft_for(object_type)
        enginy = [c for c in self.state.enginy_choices(object_type) if not c.foreign]
        crm = self.state.crm_choices(object_type, writable=False, foreign=False)
        dialog = CustomMappingDialog(draft, enginy, crm, self.state.crm_name, self)
        section = self.sections[object_type]

        def accepted(rule: Rule) -> None:
            self.state.set_custom_rule(object_type, rule)
            self.identifier_changed()

        dialog.ruleAccepted.connect(accepted)
        dialog.finished.connect(lambda result: self._custom_closed(section, dialog, result))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _custom_closed(self, section: IdentifierSection, dialog: QWidget, result: int) -> None:
        section.custom_closed(bool(result))
        section.render_state()
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
