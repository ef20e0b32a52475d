"""The Custom Mapping pop-up of Step 1: AND/OR condition groups comparing Enginy fields with CRM fields.

It edits a :class:`~enginy_desktop.core.crm_wizard.RuleDraft` and is opened with ``open()`` (never ``exec()``).

Signals: ``ruleAccepted(Rule)`` — the user pressed "Use this mapping" with a complete rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.crm_wizard import FieldChoice, RuleDraft

from .widgets import FieldPicker, button, caption, make_primary, set_state

EXPLANATION = (
    "A record matches when every condition of a group is the same in Enginy and in the CRM (AND). Add more "
    "groups to match when any one of them matches (OR). Values are compared ignoring case, accents and "
    "punctuation; an empty value never matches."
)


class ConditionRow(QWidget):
    def __init__(self, dialog: CustomMappingDialog, group: int, index: int) -> None:
        super().__init__()
        self.setObjectName(f"condition-{group}-{index}")
        self.dialog = dialog
        self.group = group
        self.index = index
        cond = dialog.draft.groups[group][index]
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.enginy = FieldPicker("Enginy field…")
        self.enginy.setObjectName("conditionEnginy")
        self.enginy.setAccessibleName(f"Group {group + 1}, condition {index + 1}: Enginy field")
        self.enginy.set_choices(dialog.enginy_choices, cond.local_field)
        self.enginy.valueChanged.connect(self._on_enginy)
        equals = QLabel("=")
        equals.setObjectName("conditionEquals")
        self.crm = FieldPicker(f"{dialog.crm_name} field…")
        self.crm.setObjectName("conditionCrm")
        self.crm.setAccessibleName(f"Group {group + 1}, condition {index + 1}: {dialog.crm_name} field")
        self.crm.set_choices(dialog.crm_choices, cond.crm_field)
        self.crm.valueChanged.connect(self._on_crm)
        self.remove = button("✕")
        self.remove.setObjectName("removeCondition")
        self.remove.setProperty("flat", "true")
        self.remove.setAccessibleName(f"Remove condition {index + 1} of group {group + 1}")
        self.remove.setToolTip("Remove this condition")
        self.remove.clicked.connect(lambda: dialog.remove_condition(group, index))
        lay.addWidget(self.enginy, 1)
        lay.addWidget(equals)
        lay.addWidget(self.crm, 1)
        lay.addWidget(self.remove)

    def _on_enginy(self, name: str) -> None:
        self.dialog.draft.set_condition(self.group, self.index, local_field=name)
        self.dialog.changed()
        if name and not self.crm.value():
            self.crm.setFocus()

    def _on_crm(self, name: str) -> None:
        self.dialog.draft.set_condition(self.group, self.index, crm_field=name)
        self.dialog.changed()


class GroupFrame(QFrame):
    def __init__(self, dialog: CustomMappingDialog, group: int) -> None:
        super().__init__()
        self.setObjectName("ruleGroup")
        self.group = group
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(8)
        head = QHBoxLayout()
        title = QLabel(f"Group {group + 1} · all of these must match (AND)")
        title.setObjectName("ruleGroupTitle")
        head.addWidget(title, 1)
        self.remove = button("Remove group")
        self.remove.setObjectName("removeGroup")
        self.remove.setProperty("flat", "true")
        self.remove.setAccessibleName(f"Remove group {group + 1}")
        self.remove.clicked.connect(lambda: dialog.remove_group(group))
        head.addWidget(self.remove)
        lay.addLayout(head)
        self.rows = [ConditionRow(dialog, group, i) for i in range(len(dialog.draft.groups[group]))]
        for row in self.rows:
            lay.addWidget(row)
        if not self.rows:
            empty = caption("This group has no condition yet: add one, or remove the group.", "rowMessage")
            set_state(empty, "severity", "error")
            lay.addWidget(empty)
        bottom = QHBoxLayout()
        self.add = button("+ Add condition (AND)")
        self.add.setObjectName("addCondition")
        self.add.setProperty("flat", "true")
        self.add.setAccessibleName(f"Add a condition to group {group + 1}")
        self.add.clicked.connect(lambda: dialog.add_condition(group))
        bottom.addWidget(self.add)
        bottom.addStretch(1)
        lay.addLayout(bottom)
        self.message = caption("", "rowMessage")
        self.message.setVisible(False)
        lay.addWidget(self.message)

    def show_problems(self, problems: Sequence[str]) -> None:
        self.message.setText("\n".join(problems))
        self.message.setVisible(bool(problems))
        set_state(self.message, "severity", "hint" if problems else "")
        set_state(self, "invalid", "true" if problems else "false")


class CustomMappingDialog(QDialog):
    """Signals: ``ruleAccepted(object)`` — the :class:`~enginy_desktop.core.matching.rules.Rule` built."""

    ruleAccepted = Signal(object)

    def __init__(
        self,
        draft: RuleDraft,
        enginy_choices: Sequence[FieldChoice],
        crm_choices: Sequence[FieldChoice],
        crm_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.draft = draft
        self.enginy_choices = list(enginy_choices)
        self.crm_choices = list(crm_choices)
        self.crm_name = crm_name
        what = "Contact" if draft.object_type is ObjectType.CONTACT else "Company"
        self.setObjectName("customMappingDialog")
        self.setWindowTitle(f"Custom Mapping — {what} Identifier")
        self.setModal(True)
        self.resize(760, 560)
        self.setMinimumSize(520, 380)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.setSpacing(10)
        title = QLabel(f"Custom Mapping — {what} Identifier")
        title.setObjectName("dialogTitle")
        lay.addWidget(title)
        lay.addWidget(caption(EXPLANATION, "dialogSubtitle"))
        if not self.crm_choices:
            note = caption(f"The {crm_name} fields are not loaded yet, so the {crm_name} lists are empty. Close "
                           "this window, wait for them (or press Retry) and open it again.", "notice")  # fmt: skip
            lay.addWidget(note)

        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        holder = QWidget()
        holder.setObjectName("ruleGroups")
        self.groups_layout = QVBoxLayout(holder)
        self.groups_layout.setContentsMargins(0, 0, 8, 0)
        self.groups_layout.setSpacing(6)
        self.scroll_area.setWidget(holder)
        lay.addWidget(self.scroll_area, 1)

        self.add_group_button = button("+ Add group (OR)")
        self.add_group_button.setObjectName("addGroup")
        self.add_group_button.setAccessibleName("Add a group of conditions (OR)")
        self.add_group_button.clicked.connect(self.add_group)
        row = QHBoxLayout()
        row.addWidget(self.add_group_button)
        row.addStretch(1)
        lay.addLayout(row)

        self.summary = caption("", "ruleSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.summary)
        self.problems_label = caption("", "rowMessage")
        lay.addWidget(self.problems_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = button("Cancel")
        self.cancel_button.setObjectName("cancelCustomMapping")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.ok_button = button("Use this mapping")
        self.ok_button.setObjectName("useCustomMapping")
        make_primary(self.ok_button)
        self.ok_button.clicked.connect(self.use)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.ok_button)
        lay.addLayout(buttons)

        self.frames: list[GroupFrame] = []
        self.rebuild()

    # -- structure ---------------------------------------------------------------------------------------------
    def rebuild(self, focus: tuple[int, int] | None = None) -> None:
        while self.groups_layout.count():
            item = self.groups_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.frames = []
        for gi in range(len(self.draft.groups)):
            if gi:
                sep = QLabel("OR")
                sep.setObjectName("orSeparator")
                sep.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.groups_layout.addWidget(sep)
            frame = GroupFrame(self, gi)
            self.frames.append(frame)
            self.groups_layout.addWidget(frame)
        if not self.draft.groups:
            empty = caption("No group yet: press “+ Add group (OR)” to add the first one.", "sectionHelp")
            self.groups_layout.addWidget(empty)
        self.groups_layout.addStretch(1)
        self._fix_tab_order()
        self.changed()
        if focus is not None:
            g, c = focus
            if 0 <= g < len(self.frames):
                frame = self.frames[g]
                target: QWidget = frame.rows[c].enginy if 0 <= c < len(frame.rows) else frame.add
                target.setFocus()
                QTimer.singleShot(0, target, lambda: self.scroll_area.ensureWidgetVisible(target))

    def _fix_tab_order(self) -> None:
        chain: list[QWidget] = []
        for frame in self.frames:
            chain.append(frame.remove)
            for row in frame.rows:
                chain += [row.enginy, row.crm, row.remove]
            chain.append(frame.add)
        chain += [self.add_group_button, self.cancel_button, self.ok_button]
        for a, b in pairwise(chain):
            QWidget.setTabOrder(a, b)

    def add_group(self) -> None:
        g = self.draft.add_group()
        self.rebuild(focus=(g, 0))

    def remove_group(self, group: int) -> None:
        self.draft.remove_group(group)
        self.rebuild(focus=(max(0, group - 1), 0) if self.draft.groups else None)
        if not self.draft.groups:
            self.add_group_button.setFocus()

    def add_condition(self, group: int) -> None:
        c = self.draft.add_condition(group)
        self.rebuild(focus=(group, c))

    def remove_condition(self, group: int, index: int) -> None:
        self.draft.remove_condition(group, index)
        self.rebuild(focus=(group, max(0, index - 1)))

    # -- state -------------------------------------------------------------------------------------------------
    def changed(self) -> None:
        problems = self.draft.problems()
        summary = self.draft.summary
        self.summary.setText(f"Matches when: {summary}" if summary else "Matches when: (no complete condition yet)")
        for gi, frame in enumerate(self.frames):
            frame.show_problems(self.draft.group_problems(gi))
        general = [p for p in problems if not p.startswith("Group ")]
        if problems and not general:
            n = len(problems)
            general = [f"{n} thing{'s' if n > 1 else ''} to complete before using this mapping: {problems[0]}"]
        self.problems_label.setText("\n".join(general))
        self.problems_label.setVisible(bool(general))
        set_state(self.problems_label, "severity", "hint" if general else "")
        self.ok_button.setEnabled(not problems)
        self.ok_button.setToolTip("" if not problems else "Complete or remove the marked conditions first.")

    def use(self) -> None:
        if self.draft.problems():
            return
        self.ruleAccepted.emit(self.draft.to_rule())
        self.accept()
