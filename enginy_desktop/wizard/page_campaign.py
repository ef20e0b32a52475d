"""Step 3: Campaign Mapping (optional) — each of the eight campaign properties to a CRM contact field, or none."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from enginy_desktop.core.crm_config import CampaignProperty, Problem, Step
from enginy_desktop.core.crm_wizard import CAMPAIGN_HELP, WizardState

from . import loader as L
from .base import StepPage, message_label, show_messages
from .widgets import FieldPicker, button, caption, set_state

INTRO = (
    "This step lets you sync campaign-specific properties to your CRM. These are not standard list fields; they "
    "are properties tied to campaign activity. It is optional: leave a property unmapped, or press Skip this step."
)


class PropertyRow(QFrame):
    def __init__(self, page: CampaignPage, prop: CampaignProperty) -> None:
        super().__init__()
        self.page = page
        self.prop = prop
        self.setObjectName(f"campaign-{prop.value}")
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 10, 12, 10)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        what, example = CAMPAIGN_HELP[prop]
        name = QLabel(prop.label)
        name.setObjectName("propertyName")
        grid.addWidget(name, 0, 0)
        grid.addWidget(caption(what), 1, 0)
        hint = caption(f"Example: {example}", "exampleHint")
        grid.addWidget(hint, 2, 0)
        self.picker = FieldPicker("Not mapped", none_text="Not mapped")
        self.picker.setObjectName("campaignField")
        self.picker.setAccessibleName(f"{prop.label}: {page.state.crm_name} field")
        self.picker.setToolTip(f"e.g. {example}")
        self.picker.valueChanged.connect(self._on_field)
        grid.addWidget(self.picker, 0, 1, 3, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.message = message_label()
        grid.addWidget(self.message, 3, 0, 1, 2)

    def render_state(self) -> None:
        state = self.page.state
        self.picker.set_choices(state.campaign_choices(), state.config.campaign_mappings.get(self.prop, ""))

    def _on_field(self, name: str) -> None:
        self.page.state.config.set_campaign_mapping(self.prop, name or None)
        self.page.edited()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        severity = show_messages(self.message, problems)
        set_state(self, "invalid", "true" if severity == "error" else "false")


class CampaignPage(StepPage):
    step = Step.CAMPAIGN

    def __init__(self, state: WizardState, data: L.CrmDataLoader) -> None:
        super().__init__(state, data, "Step 3: Campaign Mapping (Optional)", INTRO)
        tools = QHBoxLayout()
        self.count_label = caption("", "sectionHelp")
        tools.addWidget(self.count_label, 1)
        self.suggest = button("Suggest fields")
        self.suggest.setObjectName("suggestCampaign")
        self.suggest.setToolTip("Fill unmapped properties with CRM fields of similar names (check them before Update)")
        self.suggest.clicked.connect(self.apply_suggestions)
        tools.addWidget(self.suggest)
        self.body.addLayout(tools)
        holder = QWidget()
        holder.setObjectName("campaignProperties")
        lay = QVBoxLayout(holder)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.rows = {prop: PropertyRow(self, prop) for prop in CampaignProperty}
        for row in self.rows.values():
            row.setProperty("section", "true")
            lay.addWidget(row)
        self.body.addWidget(holder)
        self.body.addStretch(1)
        self.skipped = False

    def render_state(self) -> None:
        for row in self.rows.values():
            row.render_state()
        self._count()

    def _count(self) -> None:
        n = len(self.state.config.campaign_mappings)
        self.count_label.setText(f"{n} of 8 properties mapped." if n else "No property mapped: campaign activity is "
                                                                           "not written to the CRM.")  # fmt: skip
        self.suggest.setEnabled(self.state.snapshot is not None)

    def edited(self) -> None:
        super().edited()
        self._count()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        for prop, row in self.rows.items():
            row.show_problems([p for p in problems if p.location.tab == prop.label])

    def apply_suggestions(self) -> int:
        found = self.state.campaign_suggestions()
        for prop, crm_field in found.items():
            self.state.config.set_campaign_mapping(prop, crm_field)
        self.render_state()
        self.edited()
        self.count_label.setText(self.count_label.text() + (f" {len(found)} filled in by name: check them."
                                                            if found else " No similarly named CRM field found."))
        return len(found)
