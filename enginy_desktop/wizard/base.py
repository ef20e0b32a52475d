"""What every step page shares: its header, the CRM data strip, a scrolling body and the step's problem banner.

A page renders the :class:`~enginy_desktop.core.crm_wizard.WizardState` (:meth:`StepPage.render_state`), applies the
user's edits to it and calls :meth:`StepPage.edited`, which re-validates, marks what is wrong
(:meth:`StepPage.show_problems`) and tells the wizard whether Next / Update may be pressed (``completeChanged``).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from enginy_desktop.core.crm_config import Problem, Severity, Step
from enginy_desktop.core.crm_wizard import WizardState
from enginy_desktop.views.message import DetailsDisclosure

from . import loader as L
from .widgets import Spinner, button, caption, set_state


class CrmDataStrip(QFrame):
    """Where the CRM's fields come from, with a spinner while loading, Retry after a failure and Refresh.

    Signals: ``refreshRequested()``, ``connectionRequested()``.
    """

    refreshRequested = Signal()
    connectionRequested = Signal()

    def __init__(self, data: L.CrmDataLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data = data
        self.setObjectName("crmDataStrip")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.setSpacing(8)
        self.spinner = Spinner(self)
        lay.addWidget(self.spinner, 0, Qt.AlignmentFlag.AlignVCenter)
        self.label = QLabel()
        self.label.setObjectName("crmDataText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.details = DetailsDisclosure()  # why the CRM could not be read, technically
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(2)
        text.addWidget(self.label)
        text.addWidget(self.details)
        lay.addLayout(text, 1)
        self.connection_button = button("Connection…")
        self.connection_button.setObjectName("stripConnection")
        self.connection_button.setProperty("flat", "true")
        self.connection_button.setToolTip("Open the connection settings of this CRM")
        self.connection_button.clicked.connect(self.connectionRequested)
        lay.addWidget(self.connection_button)
        self.refresh_button = button("Refresh")
        self.refresh_button.setObjectName("refreshCrmData")
        self.refresh_button.setProperty("flat", "true")
        self.refresh_button.setToolTip("Read the CRM's fields and users again")
        self.refresh_button.clicked.connect(self.refreshRequested)
        lay.addWidget(self.refresh_button)
        data.changed.connect(self.render_state)
        self.render_state()

    def render_state(self) -> None:
        status = self.data.status
        set_state(self, "state", status)
        self.label.setText(self.data.status_text())
        if status == L.LOADING:
            self.spinner.start()
        else:
            self.spinner.stop()
        failed = status in (L.OFFLINE, L.FAILED)
        self.details.set_detail(self.data.detail if failed else "")
        self.refresh_button.setText("Retry" if failed else "Refresh")
        self.refresh_button.setAccessibleName("Retry loading the CRM fields" if failed else "Refresh the CRM fields")
        self.refresh_button.setEnabled(status != L.LOADING)
        self.connection_button.setVisible(failed)


STEP_NAMES = {
    Step.SYNC: "Input / Sync Mapping",
    Step.EXPORT: "Export Mapping",
    Step.CAMPAIGN: "Campaign Mapping (optional)",
    Step.USERS: "User Mapping",
}


class Stepper(QFrame):
    """The four steps across the top of a page: which one this is, which are done, which have problems.

    (Not a QWizard side widget: a side widget crashes Qt 6 when the application style is replaced.)
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepper")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.labels: dict[Step, QLabel] = {}
        self.separators: list[QLabel] = []
        self._current, self._blocked = 0, set[Step]()
        for i, (step, name) in enumerate(STEP_NAMES.items()):
            if i:
                sep = QLabel("›")
                sep.setObjectName("stepperSeparator")
                self.separators.append(sep)
                lay.addWidget(sep)
            label = QLabel(f"{int(step)}  {name}")
            label.setObjectName("stepperItem")
            # A narrow window never widens the page for the stepper: the other steps show their numbers only
            # (:meth:`_fit`), their names in the tooltips.
            label.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(24)
            self.labels[step] = label
            lay.addWidget(label)
        lay.addStretch(1)

    def render_state(self, current: int, blocked: set[Step]) -> None:
        self._current, self._blocked = current, set(blocked)
        for step, label in self.labels.items():
            name = STEP_NAMES[step]
            label.setToolTip(f"Step {int(step)}: {name}" + (" — has problems to fix" if step in blocked else ""))
            state = "current" if int(step) == current else ("done" if int(step) < current else "")
            set_state(label, "state", state)
        self._fit()

    def _fit(self) -> None:
        """Every step's name when they all fit; in a narrower window the current step's name and the others'
        numbers (a cut name reads as a different word)."""
        warn = {step: "  ⚠" if step in self._blocked else "" for step in self.labels}
        for step, label in self.labels.items():
            label.setText(f"{int(step)}  {STEP_NAMES[step]}{warn[step]}")
        lay = self.layout()
        spacing = lay.spacing() if lay is not None else 0
        parts = [*self.labels.values(), *self.separators]
        need = sum(w.sizeHint().width() for w in parts) + spacing * (len(parts) - 1)
        if need > self.width():
            for step, label in self.labels.items():
                if int(step) != self._current:
                    label.setText(f"{int(step)}{warn[step]}")

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()


class StepPage(QWizardPage):
    """Base of the four steps. Subclasses build ``self.body`` and implement :meth:`render` and
    :meth:`show_problems`."""

    step: Step

    def __init__(self, state: WizardState, data: L.CrmDataLoader, title: str, intro: str) -> None:
        super().__init__()
        self.state = state
        self.data = data
        self._problems: list[Problem] = []
        self.setObjectName(f"step{int(self.step)}")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        self.stepper = Stepper()
        outer.addWidget(self.stepper)
        self.heading = QLabel(title)
        self.heading.setObjectName("stepTitle")
        self.heading.setAccessibleName(title)
        outer.addWidget(self.heading)
        self.strip = CrmDataStrip(data)
        outer.addWidget(self.strip)
        # The problems banner sits under the scrolling body: when it appears, the rows stay where they are (above
        # them it pushed every row down, under the mouse).
        self.banner = caption("", "stepProblems")
        self.banner.setVisible(False)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("stepScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        content = QWidget()
        content.setObjectName("stepBody")
        self.body = QVBoxLayout(content)
        self.body.setContentsMargins(0, 4, 12, 12)
        self.body.setSpacing(16)
        self.intro = caption(intro, "stepIntro")  # scrolls with the page: small windows keep room for the work
        self.body.addWidget(self.intro)
        self.scroll_area.setWidget(content)
        outer.addWidget(self.scroll_area, 1)
        outer.addWidget(self.banner)
        data.changed.connect(self._on_data)

    # -- QWizardPage -------------------------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt API
        self.render_state()
        self.edited()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt API
        """Back keeps every edit: the state is the source of truth, nothing to reset."""

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return not self.state.blocking(self._problems, self.step)

    # -- rendering ---------------------------------------------------------------------------------------------
    def render_state(self) -> None:
        raise NotImplementedError

    def show_problems(self, problems: Sequence[Problem]) -> None:
        raise NotImplementedError

    def _on_data(self) -> None:
        self.render_state()
        self.edited()

    def edited(self) -> None:
        """Re-validate after an edit, mark the problems of this step and update Next / Update."""
        problems = self.state.problems()
        self._problems = self.state.in_step(problems, self.step)
        self.show_problems(self._problems)
        blocking = self.state.blocking(self._problems)
        # A misplaced or wrong field says more than a row still being filled in: name it first.
        blocking.sort(key=lambda p: p.code.startswith("missing_"))
        if blocking:
            n = len(blocking)
            action = "Update" if self.step is Step.USERS else "Next"
            self.banner.setText(
                f"{n} problem{'s' if n > 1 else ''} on this step to fix before {action} (marked below). "
                + blocking[0].message
            )
        self.banner.setVisible(bool(blocking))
        self.completeChanged.emit()
        wizard = self.wizard()
        if wizard is not None and hasattr(wizard, "on_edited"):
            wizard.on_edited()

    def scroll_to(self, widget: QWidget) -> None:
        self.scroll_area.ensureWidgetVisible(widget, 16, 16)


def message_label(name: str = "rowMessage") -> QLabel:
    label = caption("", name)
    label.setVisible(False)
    return label


def show_messages(label: QLabel, problems: Sequence[Problem], *, hint_codes: Sequence[str] = ()) -> str:
    """Put ``problems`` into ``label`` (hidden when none); returns the severity shown: error, warning, hint, ""."""
    if not problems:
        label.setVisible(False)
        label.setText("")
        set_state(label, "severity", "")
        return ""
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors and all(p.code in hint_codes for p in errors):
        severity = "hint"  # a row still being filled in: said softly
    elif errors:
        severity = "error"
    else:
        severity = "warning"
    shown = errors or list(problems)
    label.setText("\n".join(("⚠ " if severity != "hint" else "") + p.message for p in shown))
    label.setVisible(True)
    set_state(label, "severity", severity)
    return severity
