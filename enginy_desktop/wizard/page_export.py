"""Step 2: Export Mapping — Contacts and Companies tabs with the four field types, suggestions by name, and the
Association Type (with its confirmation for "Associate as Primary and remove previous associations")."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import pairwise

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core import catalog
from enginy_desktop.core.automap import Suggestion
from enginy_desktop.core.crm_config import (
    PRIMARY_REMOVE_WARNING,
    AssociationType,
    EngagementSource,
    FieldMapping,
    MappingKind,
    ObjectType,
    Problem,
    Step,
)
from enginy_desktop.core.crm_wizard import (
    ASSOCIATION_HELP,
    CROSS_OBJECT_WARNING,
    FAQ_PRIMARY_REMOVE,
    KIND_HELP,
    KIND_TITLES,
    OVERWRITE_HELP,
    WizardState,
)
from enginy_desktop.views.message import MessageBox

from . import loader as L
from .base import StepPage, message_label, show_messages
from .widgets import FieldPicker, ValueEditor, button, caption, compact_combo, make_primary, set_state

INTRO = (
    "This step configures which Enginy fields map to which CRM fields when exporting data. The setup is split "
    "into two tabs — Contacts and Companies — and the mapping configuration works the same way in both."
)
PEOPLE_HELP = ("Where the contacts you export go in the CRM. The Contacts tab below lists the fields of the object "
               "you choose; Step 1 matches against it too.")
# Codes of a row that is still being filled in: said softly, not in red.
_FILLING_IN = ("missing_source", "missing_crm_field", "missing_value")
_ADD_TEXT = {
    MappingKind.ENGINY: "+ Add Enginy field",
    MappingKind.FIXED: "+ Add fixed field",
    MappingKind.EXPORT: "+ Add export field",
    MappingKind.ENGAGEMENT: "+ Add engagement field",
}


class MappingRow(QFrame):
    """One mapping: its source (Enginy field, fixed value, export-time value or engagement value), the CRM field,
    Overwrite, and move up / down / remove."""

    def __init__(self, tab: MappingTab, index: int) -> None:
        super().__init__()
        self.tab = tab
        self.index = index
        self.setObjectName("mappingRow")
        state = tab.state
        obj = tab.object_type
        m = self.mapping
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 6, 6)
        lay.setSpacing(4)
        line = QHBoxLayout()
        line.setSpacing(8)
        lay.addLayout(line)
        crm_name = state.crm_name
        n = index + 1

        self.enginy: FieldPicker | None = None
        self.value: ValueEditor | None = None
        self.engagement: QComboBox | None = None
        self.crm = FieldPicker(f"{crm_name} field…")
        self.crm.setObjectName("rowCrmField")
        self.crm.setAccessibleName(f"Row {n}: {crm_name} field")
        self.crm.set_choices(state.crm_choices(obj), m.crm_field)
        self.crm.valueChanged.connect(self._on_crm)

        if m.kind is MappingKind.ENGINY:
            self.enginy = FieldPicker("Enginy field…")
            self.enginy.setObjectName("rowEnginyField")
            self.enginy.setAccessibleName(f"Row {n}: Enginy field")
            self.enginy.set_choices(state.enginy_choices(obj), m.source)
            self.enginy.valueChanged.connect(self._on_enginy)
            line.addWidget(self.enginy, 1)
            line.addWidget(_arrow("→"))
            line.addWidget(self.crm, 1)
            # The Enginy field first, then the CRM field (the product's order).
            self.crm.setEnabled(bool(m.source) or bool(m.crm_field))
        elif m.kind is MappingKind.FIXED:
            line.addWidget(self.crm, 1)
            line.addWidget(_arrow("="))
            self.value = ValueEditor()
            self.value.set_spec(state.editor_for(obj, m.crm_field), m.value)
            self.value.setAccessibleName(f"Row {n}: fixed value")
            self.value.valueChanged.connect(self._on_value)
            line.addWidget(self.value, 1)
        elif m.kind is MappingKind.EXPORT:
            line.addWidget(self.crm, 1)
            asked = QLabel("Value asked when you export")
            asked.setObjectName("askedAtExport")
            asked.setWordWrap(True)
            asked.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            line.addWidget(asked, 1)
        else:
            self.engagement = compact_combo()
            self.engagement.setObjectName("rowEngagementSource")
            self.engagement.setAccessibleName(f"Row {n}: engagement value")
            for source in EngagementSource:
                self.engagement.addItem(source.label, source.value)
            known = self.engagement.findData(m.source)
            if known < 0 and m.source:
                self.engagement.addItem(m.source, m.source)
                known = self.engagement.count() - 1
            self.engagement.setCurrentIndex(max(0, known))
            self.engagement.currentIndexChanged.connect(self._on_engagement)
            line.addWidget(self.engagement, 1)
            line.addWidget(_arrow("→"))
            line.addWidget(self.crm, 1)

        self.overwrite = QCheckBox("Overwrite")
        self.overwrite.setObjectName("rowOverwrite")
        self.overwrite.setAccessibleName(f"Row {n}: overwrite existing CRM values")
        self.overwrite.setToolTip(OVERWRITE_HELP)
        self.overwrite.setChecked(m.overwrite)
        self.overwrite.toggled.connect(self._on_overwrite)
        line.addWidget(self.overwrite)
        self.up = _tool("↑", f"Move row {n} up", "rowUp")
        self.down = _tool("↓", f"Move row {n} down", "rowDown")
        self.remove = _tool("✕", f"Remove row {n}", "rowRemove")
        self.up.clicked.connect(lambda: tab.move_row(self.index, -1))
        self.down.clicked.connect(lambda: tab.move_row(self.index, +1))
        self.remove.clicked.connect(lambda: tab.remove_row(self.index))
        for b in (self.up, self.down, self.remove):
            line.addWidget(b)
        self.message = message_label()
        lay.addWidget(self.message)

    @property
    def mapping(self) -> FieldMapping:
        return self.tab.state.config.mappings(self.tab.object_type)[self.index]

    def focus_widgets(self) -> list[QWidget]:
        first: list[QWidget] = [w for w in (self.enginy, self.engagement) if w is not None]
        middle: list[QWidget] = [self.crm] + ([self.value] if self.value is not None else [])
        return [*first, *middle, self.overwrite, self.up, self.down, self.remove]

    # -- edits -------------------------------------------------------------------------------------------------
    def _on_enginy(self, name: str) -> None:
        self.mapping.source = name
        self.crm.setEnabled(True)
        self.tab.edited()
        if name and not self.mapping.crm_field:
            self.crm.setFocus()

    def _on_crm(self, name: str) -> None:
        self.mapping.crm_field = name
        if self.value is not None:
            self.value.set_spec(self.tab.state.editor_for(self.tab.object_type, name), self.mapping.value)
        self.tab.edited()

    def _on_value(self, value: str) -> None:
        self.mapping.value = value
        self.tab.edited()

    def _on_engagement(self, _index: int) -> None:
        assert self.engagement is not None
        self.mapping.source = str(self.engagement.currentData() or "")
        self.tab.edited()

    def _on_overwrite(self, on: bool) -> None:
        self.mapping.overwrite = on
        self.tab.edited()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        severity = show_messages(self.message, problems, hint_codes=_FILLING_IN)
        set_state(self, "invalid", "true" if severity == "error" else "false")
        set_state(self, "crossObject", "true" if any(p.code == "cross_object" for p in problems) else "false")


def _arrow(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("rowArrow")
    return label


def _tool(text: str, name: str, object_name: str) -> QPushButton:
    b = button(text, object_name, flat=True, accessible=name, tip=name)
    b.setFixedWidth(30)
    return b


class KindSection(QWidget):
    def __init__(self, tab: MappingTab, kind: MappingKind) -> None:
        super().__init__()
        self.kind = kind
        self.setObjectName(f"kind-{kind.value}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        head = QHBoxLayout()
        title = QLabel(KIND_TITLES[kind])
        title.setObjectName("kindTitle")
        head.addWidget(title, 1)
        self.add = button(_ADD_TEXT[kind])
        self.add.setObjectName(f"add-{kind.value}")
        self.add.setProperty("flat", "true")
        self.add.setAccessibleName(f"Add a {kind.label.lower()} mapping")
        self.add.clicked.connect(lambda: tab.add_row(kind))
        head.addWidget(self.add)
        lay.addLayout(head)
        lay.addWidget(caption(KIND_HELP[kind]))
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(6)
        lay.addLayout(self.rows_layout)
        self.empty = caption("No mapping of this type yet.", "emptyRows")
        lay.addWidget(self.empty)


class MappingTab(QWidget):
    """The rows of one object (Contacts or Companies), grouped by field type."""

    def __init__(self, page: ExportPage, object_type: ObjectType) -> None:
        super().__init__()
        self.page = page
        self.state: WizardState = page.state
        self.object_type = object_type
        self.setObjectName(f"tab-{object_type.value}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 12, 12, 12)
        lay.setSpacing(16)
        tools = QHBoxLayout()
        self.count_label = caption("", "sectionHelp")
        tools.addWidget(self.count_label, 1)
        self.suggest = button("Suggest mappings…")
        self.suggest.setObjectName(f"suggest-{object_type.value}")
        self.suggest.setToolTip("Propose Enginy → CRM pairs with similar names; you choose which to add")
        self.suggest.clicked.connect(lambda: page.open_suggestions(object_type))
        tools.addWidget(self.suggest, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(tools)
        self.sections = {kind: KindSection(self, kind) for kind in MappingKind}
        for section in self.sections.values():
            lay.addWidget(section)
        lay.addStretch(1)
        self.rows: list[MappingRow] = []

    def rebuild(self, focus: tuple[int, str] | None = None) -> None:
        """Recreate the rows from the state; ``focus`` = (row index, "first" | "up" | "down" | "remove")."""
        for row in self.rows:
            row.hide()
            row.deleteLater()
        self.rows = []
        mappings = self.state.config.mappings(self.object_type)
        for i, m in enumerate(mappings):
            row = MappingRow(self, i)
            self.sections[m.kind].rows_layout.addWidget(row)
            self.rows.append(row)
        for kind, section in self.sections.items():
            section.empty.setVisible(not any(m.kind is kind for m in mappings))
        n = len(mappings)
        self.count_label.setText(
            f"{n} mapping{'s' if n != 1 else ''} for {self.object_type.plural}." if n else
            f"No mapping for {self.object_type.plural} yet: add fields with + or Suggest mappings.")  # fmt: skip
        self.suggest.setEnabled(self.state.snapshot is not None)
        self._fix_tab_order()
        if focus is not None:
            index, which = focus
            self._focus(index, which)

    def _fix_tab_order(self) -> None:
        chain: list[QWidget] = [self.suggest]
        for kind, section in self.sections.items():
            chain.append(section.add)
            for row in self.rows:
                if row.mapping.kind is kind:
                    chain += row.focus_widgets()
        for a, b in pairwise(chain):
            QWidget.setTabOrder(a, b)

    def _focus(self, index: int, which: str) -> None:
        if not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        target = {"up": row.up, "down": row.down, "remove": row.remove}.get(which) or row.focus_widgets()[0]
        target.setFocus()
        QTimer.singleShot(0, row, lambda: self.page.scroll_to(row))

    def edited(self) -> None:
        self.page.edited()

    # -- structure ---------------------------------------------------------------------------------------------
    def add_row(self, kind: MappingKind) -> int:
        index = self.state.add_row(self.object_type, kind)
        self.rebuild(focus=(index, "first"))
        self.page.edited()
        return index

    def remove_row(self, index: int) -> None:
        kind = self.state.config.mappings(self.object_type)[index].kind
        self.state.config.remove_mapping(self.object_type, index)
        self.rebuild()
        same = [i for i, m in enumerate(self.state.config.mappings(self.object_type)) if m.kind is kind]
        if same:
            self._focus(max(i for i in same if i <= index) if any(i <= index for i in same) else same[0], "remove")
        else:
            self.sections[kind].add.setFocus()
        self.page.edited()

    def move_row(self, index: int, step: int) -> None:
        target = self.state.move_row_within_kind(self.object_type, index, step)
        if target is None:
            return
        self.rebuild(focus=(target, "up" if step < 0 else "down"))
        self.page.edited()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        by_row = self.state.row_problems(problems, self.object_type)
        for i, row in enumerate(self.rows):
            row.show_problems(by_row.get(i, []))


class SuggestionsDialog(QDialog):
    """Proposed Enginy → CRM pairs, each with a checkbox; "Add" adds the checked ones (opened with ``open()``).

    Signals: ``chosen(list)`` — the confirmed :class:`~enginy_desktop.core.automap.Suggestion` objects.
    """

    chosen = Signal(list)

    def __init__(self, suggestions: Sequence[Suggestion], object_type: ObjectType, crm_name: str,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("suggestionsDialog")
        self.setWindowTitle(f"Suggested mappings — {object_type.tab}")
        self.setModal(True)
        self.suggestions = list(suggestions)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.setSpacing(8)
        title = QLabel(f"Suggested mappings for {object_type.plural}")
        title.setObjectName("dialogTitle")
        lay.addWidget(title)
        self.boxes: list[QCheckBox] = []
        if self.suggestions:
            lay.addWidget(caption(f"Enginy fields paired with {crm_name} fields of similar names. Uncheck any pair "
                                  "that is wrong, then add the others.", "dialogSubtitle"))  # fmt: skip
            for s in self.suggestions:
                box = QCheckBox(f"{s.source_label} → {s.target_label} ({s.target})")
                box.setObjectName(f"suggestion-{s.source}")
                box.setChecked(True)
                box.toggled.connect(self._update)
                self.boxes.append(box)
                lay.addWidget(box)
        else:
            lay.addWidget(caption("No new suggestion: every Enginy field with a similarly named CRM field is mapped "
                                  "already, or the CRM fields are not loaded.", "dialogSubtitle"))  # fmt: skip
        lay.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = button("Cancel" if self.suggestions else "Close")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        buttons.addWidget(cancel)
        self.add_button = button("Add", "addSuggestions")
        self.add_button.setObjectName("addSuggestions")
        make_primary(self.add_button)
        self.add_button.clicked.connect(self._add)
        self.add_button.setVisible(bool(self.suggestions))
        buttons.addWidget(self.add_button)
        lay.addLayout(buttons)
        self._update()

    def selected(self) -> list[Suggestion]:
        return [s for s, box in zip(self.suggestions, self.boxes, strict=True) if box.isChecked()]

    def _update(self) -> None:
        n = len(self.selected())
        self.add_button.setText(f"Add {n} mapping{'s' if n != 1 else ''}")
        self.add_button.setEnabled(n > 0)

    def _add(self) -> None:
        self.chosen.emit(self.selected())
        self.accept()


class ExportPage(StepPage):
    step = Step.EXPORT

    def __init__(self, state: WizardState, data: L.CrmDataLoader) -> None:
        super().__init__(state, data, "Step 2: Export Mapping", INTRO)
        warning = caption("⚠ " + CROSS_OBJECT_WARNING, "notice")
        self.body.addWidget(warning)
        self.people_radios: dict[str, QRadioButton] = {}
        self.people_note: QLabel | None = None
        if catalog.get(state.crm).people_objects:  # a CRM that keeps people in one of several objects
            self.body.addWidget(self._people_section())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("exportTabs")
        self.tab_widgets = {obj: MappingTab(self, obj) for obj in ObjectType}
        for obj, tab in self.tab_widgets.items():
            self.tabs.addTab(tab, obj.tab)
        self.body.addWidget(self.tabs)
        self.body.addWidget(self._association_section())
        self.body.addStretch(1)
        self.dialog: QDialog | None = None

    def _people_section(self) -> QFrame:
        """Where people go in this CRM (e.g. Salesforce Contacts or Leads): the Contacts tab's fields follow."""
        frame = QFrame()
        frame.setObjectName("peopleObject")
        frame.setProperty("section", "true")
        lay = QVBoxLayout(frame)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(6)
        title = QLabel(f"Export people to {self.state.crm_name} as")
        title.setObjectName("sectionTitle")
        lay.addWidget(title)
        lay.addWidget(caption(PEOPLE_HELP))
        group = QButtonGroup(frame)
        for value, meaning, _note in catalog.get(self.state.crm).people_objects:
            radio = QRadioButton(value)
            radio.setObjectName(f"people-{value.casefold()}")
            radio.setAccessibleDescription(meaning)
            radio.toggled.connect(functools.partial(self._people_toggled, value))
            group.addButton(radio)
            self.people_radios[value] = radio
            lay.addWidget(radio)
            lay.addWidget(caption(meaning, "optionHelp"))
        self.people_note = message_label("peopleNote")
        lay.addWidget(self.people_note)
        return frame

    def _people_object(self) -> str:
        options = catalog.get(self.state.crm).people_objects
        return self.state.config.people_object or (options[0][0] if options else "")

    def _render_people(self) -> None:
        chosen = self._people_object()
        radio = self.people_radios.get(chosen)
        if radio is not None and not radio.isChecked():
            radio.blockSignals(True)
            radio.setChecked(True)
            radio.blockSignals(False)
        if self.people_note is not None:
            note = next((n for v, _m, n in catalog.get(self.state.crm).people_objects if v == chosen), "")
            self.people_note.setText(note)
            self.people_note.setVisible(bool(note))
            set_state(self.people_note, "severity", "hint" if note else "")

    def _people_toggled(self, value: str, on: bool) -> None:
        if on:
            self._on_people(value)

    def _on_people(self, value: str) -> None:
        if value == self._people_object():
            return
        self.state.config.people_object = value
        self._render_people()
        self.edited()
        self.data.tasks.start(self.data.load())  # the Contacts tab's fields are the chosen object's

    def _association_section(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("associationType")
        frame.setProperty("section", "true")
        lay = QVBoxLayout(frame)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(6)
        title = QLabel("Association Type")
        title.setObjectName("sectionTitle")
        lay.addWidget(title)
        lay.addWidget(caption("The Association Type setting controls the relationship between a contact and a "
                              "company inside the CRM."))  # fmt: skip
        self.association_group = QButtonGroup(frame)
        self.association_radios: dict[AssociationType, QRadioButton] = {}
        for i, kind in enumerate(AssociationType):
            radio = QRadioButton(kind.label)
            radio.setObjectName(f"association-{kind.value}")
            radio.setAccessibleDescription(ASSOCIATION_HELP[kind])
            self.association_group.addButton(radio, i)
            self.association_radios[kind] = radio
            lay.addWidget(radio)
            lay.addWidget(caption(ASSOCIATION_HELP[kind], "optionHelp"))
        lay.addWidget(caption("⚠ Not recommended: " + PRIMARY_REMOVE_WARNING, "optionWarning"))
        self.association_group.idClicked.connect(self._on_association)
        self.association_note = message_label("associationNote")
        lay.addWidget(self.association_note)
        return frame

    # -- rendering ---------------------------------------------------------------------------------------------
    def render_state(self) -> None:
        self._render_people()
        for tab in self.tab_widgets.values():
            tab.rebuild()
        self._render_association()

    def _render_association(self) -> None:
        chosen = self.state.config.association_type
        self.association_radios[chosen].setChecked(True)
        note = self.state.association_note()
        self.association_note.setText(("⚠ " + note) if note else "")
        self.association_note.setVisible(bool(note))
        set_state(self.association_note, "severity", "warning" if note else "")

    def show_problems(self, problems: Sequence[Problem]) -> None:
        for obj, tab in self.tab_widgets.items():
            tab.show_problems(problems)
            errors = [p for p in self.state.blocking(problems)
                      if p.location.tab == obj.tab]  # fmt: skip
            n = len(self.state.config.mappings(obj))
            label = f"{obj.tab} ({n})"
            if errors:
                label += f" · {len(errors)} to fix"
            index = self.tabs.indexOf(tab)
            self.tabs.setTabText(index, label)
            self.tabs.setTabToolTip(index, "\n".join(p.message for p in errors))

    def go_to_problem(self, problem: Problem) -> None:
        for obj, tab in self.tab_widgets.items():
            if problem.location.tab == obj.tab:
                self.tabs.setCurrentWidget(tab)
                if problem.location.row is not None and 0 < problem.location.row <= len(tab.rows):
                    tab._focus(problem.location.row - 1, "first")

    # -- association -------------------------------------------------------------------------------------------
    def _on_association(self, index: int) -> None:
        kind = list(AssociationType)[index]
        if kind is self.state.config.association_type:
            return
        if kind is AssociationType.PRIMARY_REMOVE_PREVIOUS:
            self._render_association()  # stays as it was until confirmed
            self.confirm_remove_previous()
            return
        self.state.config.association_type = kind
        self._render_association()
        self.edited()

    def confirm_remove_previous(self) -> QMessageBox:
        box = MessageBox(self)
        box.setObjectName("confirmRemoveAssociations")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Remove previous associations?")
        box.setText(PRIMARY_REMOVE_WARNING)
        box.setInformativeText(FAQ_PRIMARY_REMOVE)
        use = box.addButton("Use it: remove previous associations", QMessageBox.ButtonRole.DestructiveRole)
        use.setObjectName("confirmRemoveYes")
        keep = box.addButton("Keep the current option", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("confirmRemoveNo")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def chosen(button: object) -> None:
            if button is use:
                self.state.config.association_type = AssociationType.PRIMARY_REMOVE_PREVIOUS
            self._render_association()
            self.edited()

        box.buttonClicked.connect(chosen)
        self.dialog = box
        box.open()
        return box

    # -- suggestions -------------------------------------------------------------------------------------------
    def open_suggestions(self, object_type: ObjectType) -> SuggestionsDialog:
        dialog = SuggestionsDialog(self.state.export_suggestions(object_type), object_type, self.state.crm_name, self)

        def add(chosen: list[Suggestion]) -> None:
            if self.state.apply_suggestions(object_type, chosen):
                self.tab_widgets[object_type].rebuild()
                self.edited()

        dialog.chosen.connect(add)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog
