"""The "Import from TheirStack" dialog of the Lists page, and an import run's details on the Runs page (DESIGN §15).

Filters (technologies, job titles, countries, industries, company size, posted within N days), the company list to
import into and the most companies to import. **Count matches (free)** asks TheirStack's free count (preview
mode: no credit spent) and shows what the import would cost against the account's balance; only then can the
import start, as a background run with the shared progress dialog. Without a TheirStack connection, a notice says
that Enginy's subscription credits belong to Enginy's online service and how to connect an own key.

Signals: ``imported(int, str)`` — (list id, list name) after an import; ``statusMessage(str)``.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.imports.theirstack import ImportError_, ImportPlan, TheirStackFilters
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunError, RunInfo

from .ai_column_dialog import follow_run, resume_button
from .formatting import number
from .tasks import TaskKeeper

log = logging.getLogger(__name__)

__all__ = ["IMPORT_RUN_COUNTERS", "TheirStackDialog", "import_run_detail"]

IMPORT_RUN_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("added", "Added", "good"),
    ("linked", "Already in workspace", ""),
    ("duplicates", "Duplicates skipped", "warning"),
    ("credits", "Credits spent", ""),
)


def _split(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.replace(";", ",").split(",") if x.strip())


class TheirStackDialog(QDialog):
    imported = Signal(int, str)
    statusMessage = Signal(str)

    def __init__(self, ctx: AppContext, *, list_name: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("theirstackDialog")
        self.setWindowTitle("Import from TheirStack")
        self.setMinimumWidth(660)
        self.ctx = ctx
        self.tasks = TaskKeeper()
        self.plan: ImportPlan | None = None
        self.last_result: Any = None
        info = ctx.integrations.get("theirstack")
        self.ready = info.connected and info.enabled

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 20)
        root.setSpacing(12)
        title = QLabel("Import companies from TheirStack")
        title.setObjectName("dialogTitle")
        root.addWidget(title)
        sub = QLabel("Find companies by the technologies they use and the jobs they post. The count is free; the "
                     "import costs 3 TheirStack API credits per company, and never a credit for a company the list "
                     "already has.")
        sub.setObjectName("dialogSubtitle")
        sub.setWordWrap(True)
        root.addWidget(sub)
        self.notice = QLabel("")
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        if not info.connected:
            self.notice.setText("TheirStack is not connected. Enginy's subscription credits belong to Enginy's online "
                                "service, so this desktop app cannot use them: connect your own TheirStack API key in "
                                "Integrations → TheirStack → Configure.")
        elif not info.enabled:
            self.notice.setText("TheirStack is connected but turned off: turn it on in Integrations to import.")
        self.notice.setVisible(not self.ready)
        root.addWidget(self.notice)

        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)

        def line(name: str, placeholder: str, help_text: str) -> QLineEdit:
            w = QLineEdit()
            w.setObjectName(name)
            w.setPlaceholderText(placeholder)
            w.setToolTip(help_text)
            w.setAccessibleName(help_text)
            w.textChanged.connect(self._changed)
            return w

        self.technologies = line("tsTechnologies", "python, snowflake", "Technologies used (any of them)")
        self.job_titles = line("tsJobTitles", "data engineer, account executive", "Job titles posted (any of them)")
        self.countries = line("tsCountries", "ES, US, GB", "Countries, as two-letter codes")
        self.industries = line("tsIndustries", "Software Development", "Industries (any of them)")
        form.addRow("Technologies", self.technologies)
        form.addRow("Hiring for", self.job_titles)
        posted = QHBoxLayout()
        self.posted = QSpinBox()
        self.posted.setObjectName("tsPosted")
        self.posted.setRange(0, 3650)
        self.posted.setSpecialValueText("any time")
        self.posted.setSuffix(" days")
        self.posted.valueChanged.connect(self._changed)
        posted.setSpacing(8)
        posted.addWidget(QLabel("jobs posted within"))
        posted.addWidget(self.posted)
        posted.addStretch(1)
        form.addRow("", posted)
        form.addRow("Countries", self.countries)
        form.addRow("Industries", self.industries)
        size = QHBoxLayout()
        self.min_employees = QSpinBox()
        self.min_employees.setObjectName("tsMinEmployees")
        self.max_employees = QSpinBox()
        self.max_employees.setObjectName("tsMaxEmployees")
        for w, special in ((self.min_employees, "any"), (self.max_employees, "any")):
            w.setRange(0, 10_000_000)
            w.setSpecialValueText(special)
            w.valueChanged.connect(self._changed)
        size.setSpacing(8)
        size.addWidget(self.min_employees)
        size.addWidget(QLabel("to"))
        size.addWidget(self.max_employees)
        size.addWidget(QLabel("employees"))
        size.addStretch(1)
        form.addRow("Size", size)
        target = QHBoxLayout()
        self.list_name = QComboBox()
        self.list_name.setObjectName("tsList")
        self.list_name.setEditable(True)
        from enginy_desktop.core.services.workspace import WorkspaceService

        self.list_name.addItems([x.name for x in WorkspaceService(ctx.store).lists("company")])
        self.list_name.setCurrentText(list_name or "TheirStack companies")
        self.list_name.setToolTip("A company list, or a new name to create one")
        self.list_name.currentTextChanged.connect(self._changed)
        target.setSpacing(8)
        target.addWidget(self.list_name, 1)
        target.addWidget(QLabel("at most"))
        self.max_companies = QSpinBox()
        self.max_companies.setObjectName("tsMax")
        self.max_companies.setRange(1, 100_000)
        self.max_companies.setValue(100)
        self.max_companies.setSuffix(" companies")
        self.max_companies.valueChanged.connect(self._changed)
        target.addWidget(self.max_companies)
        form.addRow("Into list", target)
        root.addLayout(form)

        self.plan_label = QLabel("Count the matches first: it is free.")
        self.plan_label.setObjectName("tsPlan")
        self.plan_label.setWordWrap(True)
        root.addWidget(self.plan_label)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        root.addWidget(self.error)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.setObjectName("tsClose")
        close.clicked.connect(self.reject)
        close.setAutoDefault(False)
        self.count_button = QPushButton("Count matches (free)")
        self.count_button.setObjectName("tsCount")
        self.count_button.setEnabled(self.ready)
        self.count_button.clicked.connect(lambda: self.tasks.start(self.count()))
        self.count_button.setAutoDefault(False)
        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("tsImport")
        self.import_button.setProperty("primary", True)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(lambda: self.tasks.start(self.run()))
        for b in (close, self.count_button, self.import_button):
            buttons.addWidget(b)
        root.addLayout(buttons)

    def filters(self) -> TheirStackFilters:
        return TheirStackFilters(
            _split(self.technologies.text()), _split(self.job_titles.text()), _split(self.countries.text()),
            _split(self.industries.text()), self.min_employees.value() or None, self.max_employees.value() or None,
            self.posted.value() or None)

    def _changed(self, *_args: Any) -> None:
        """Any change makes the count stale: count again before importing."""
        if self.plan is not None:
            self.plan = None
            self.plan_label.setText("The filters changed: count the matches again (free).")
        self.import_button.setEnabled(False)
        self.import_button.setText("Import…")

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    async def count(self) -> ImportPlan | None:
        from enginy_desktop.adapters.base import AdapterError
        from enginy_desktop.core.imports.theirstack import ImportError_, plan_import

        self._show_error("")
        self.count_button.setEnabled(False)
        self.plan_label.setText("Counting on TheirStack (free)…")
        try:
            plan = await plan_import(self.ctx, self.filters(), self.list_name.currentText(),
                                     self.max_companies.value())
        except (ImportError_, AdapterError) as exc:
            self.plan_label.setText("")
            self._show_error(str(redact(exc)))
            return None
        finally:
            self.count_button.setEnabled(self.ready)
        self.plan = plan
        self.plan_label.setText(plan.text)
        can = plan.matching > 0 and plan.enough_credits
        self.import_button.setEnabled(can)
        self.import_button.setText(f"Import {number(plan.to_import)} for ≤ {number(plan.credits)} credits…" if can
                                   else "Import…")
        return plan

    async def run(self) -> Any:
        from enginy_desktop.core.imports.theirstack import run_import, summary_text

        plan = self.plan
        if plan is None:
            return None
        self.hide()
        ctx, filters = self.ctx, plan.filters
        list_name, max_companies = plan.list_name, plan.max_companies

        async def engine_coro(progress: Any, token: Any) -> Any:
            return await run_import(ctx, filters, list_name, max_companies, progress=progress, token=token)

        try:
            result = await follow_run(
                ctx, engine_coro, kind="import", title=f"Importing from TheirStack into “{list_name}”",
                verb="Importing", target=f"into “{list_name}”", unit="companies", counters=IMPORT_RUN_COUNTERS,
                parent=self.parentWidget(), summarize=lambda r: summary_text(r.counters))
        except (RunError, ImportError_) as exc:  # another run holds the list; the connection went away
            self.show()
            self._show_error(str(redact(exc)))
            return None
        self.last_result = result
        if result.run.list_id is not None:
            self.imported.emit(result.run.list_id, list_name)
        self.statusMessage.emit(f"TheirStack import into “{list_name}”: {result.message}")
        self.accept()
        return result


def import_run_detail(ctx: AppContext, run: RunInfo, parent: QWidget) -> QWidget:
    """Under an import run on the Runs page: the filters, the pages asked and what each cost, and Resume."""
    from enginy_desktop.core.imports.theirstack import report_json

    w = QWidget(parent)
    w.setObjectName("importRunDetail")
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    filters = TheirStackFilters.from_json(run.options.get("filters") or {})
    head = QLabel(f"{filters.summary}; at most {number(int(run.options.get('max_companies', 0)))} companies.")
    head.setObjectName("fieldHelp")
    head.setWordWrap(True)
    lay.addWidget(head)
    pages = report_json(ctx, run.id)["pages"]
    table = QTableWidget(len(pages), 6, w)
    table.setObjectName("importPages")
    table.setHorizontalHeaderLabels(["From", "Returned", "Added", "Duplicates", "Credits", "Page"])
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    states = {"done": "Written", "in_flight": "Asked, not written (asked again on Resume)"}
    for i, p in enumerate(pages):
        for col, value in enumerate((p["offset"] + 1, p["returned"], p["added"], p["duplicates"], p["credits"])):
            item = QTableWidgetItem(f"{number(value)}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(i, col, item)
        state = states.get(p["state"], f"Not imported: {p['error'] or p['state']}")
        cell = QTableWidgetItem(state)
        cell.setToolTip(state)
        table.setItem(i, 5, cell)
    table.setMinimumHeight(140)
    lay.addWidget(table)
    if run.resumable:
        from enginy_desktop.core.imports.theirstack import run_import, summary_text

        async def engine_coro(progress: Any, token: Any) -> Any:
            return await run_import(ctx, run_id=run.id, progress=progress, token=token)

        lay.addWidget(resume_button(
            w, "importResume", "Carry on at the next page with the same exclusions; nothing already paid is bought "
            "again",
            lambda: follow_run(ctx, engine_coro, kind="import", title=f"Resuming import #{run.id}",
                               verb="Importing", target=f"into “{run.list_name}”", unit="companies",
                               counters=IMPORT_RUN_COUNTERS, parent=parent,
                               summarize=lambda r: summary_text(r.counters))),
            0, Qt.AlignmentFlag.AlignLeft)
    return w
