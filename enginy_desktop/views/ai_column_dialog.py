"""The "Add AI column" dialog of the Lists page, and the AI-column run's details on the Runs page (DESIGN §14).

The dialog renders :mod:`enginy_desktop.core.ai` state and calls its services; it holds no business logic:

* name, prompt (with an *Insert field* menu; placeholders are checked as you type and unknown ones refused with a
  suggestion), output type with its options, model (the server's list read from ``/v1/models`` on demand) and
  temperature;
* **Preview** asks for 5 rows (the selected rows of the list, else the first five) and shows prompt and answer;
* the **estimate** (offline) of rows, tokens and cost for the whole list;
* **Run** saves the column and starts the background run with the shared progress dialog;
* without an OpenAI key or an OpenAI-compatible server, a notice says plainly that Enginy's built-in credits belong
  to Enginy's online service and how to connect one; Preview and Run stay off — never a fake result.

Signals: ``columnSaved(int)`` (column id), ``runStarted(int)`` (the run's id, once it ended), ``statusMessage(str)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.ai.columns import DEFAULT_MODEL, AiColumnError, AiColumnInfo, AiColumnService
from enginy_desktop.core.ai.connection import AiNotConnectedError, ai_status
from enginy_desktop.core.ai.outputs import OutputType
from enginy_desktop.core.ai.template import Vocabulary
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.export import interactive as ui  # imported with the dialog, not first when a run starts
from enginy_desktop.core.redact import redact
from enginy_desktop.core.runs import RunError, RunHandle, RunInfo

from .run_progress import ProgressDialog, main_window_of, show_progress
from .tasks import TaskKeeper

log = logging.getLogger(__name__)

__all__ = ["AI_RUN_COUNTERS", "AiColumnDialog", "ai_run_detail", "follow_run", "resume_button"]

AI_RUN_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("written", "Values written", "good"),
    ("cached", "From the cache", ""),
    ("skipped_empty", "Empty placeholders", "warning"),
    ("failed", "Failed", "danger"),
)
SUGGESTED_MODELS = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4.1")
PREPARE_AFTER_MS = 100  # after the dialog's first paint and its estimate's start
EXAMPLES = {
    OutputType.YES_NO: "Is {{company_name}} a B2B company? Its industry: {{company.industry}}.",
    OutputType.TEXT: "Write a one-line opener for {{first_name}}, {{job_title}} at {{company_name}}.",
}


async def follow_run(ctx: AppContext, engine: Callable[[Any, Any], Awaitable[Any]], *, kind: str, title: str,
                     verb: str, target: str, unit: str, counters: Sequence[tuple[str, str, str]],
                     parent: QWidget | None, summarize: Callable[[Any], str],
                     dialog: ProgressDialog | None = None) -> Any:
    """Run ``engine(progress, token)`` in a worker thread as a :class:`RunHandle` with the progress dialog open
    (``dialog`` when one was built ahead; closing it leaves the run going, followed in the status bar). Returns the
    engine's result."""
    handle = RunHandle(kind, title, verb=verb, target=target, unit=unit)
    window = main_window_of(parent)
    show_progress(handle, parent=window or parent, counters=counters, dialog=dialog)
    relay = ui.ProgressRelay(handle.publish)
    token = handle.token

    def work() -> Any:
        return engine(relay, token)

    # The garbage collector stays off while the run goes (the window's heap frozen too): a full collection of what
    # a long run allocates holds the GIL for 50–150 ms, a pause of the window. Reference counting still frees
    # nearly everything; the collector catches up when the run ends.
    gc_hold = ui.GcPause()
    gc_hold.hold(pause=True)
    try:
        return await handle.run(ui.in_worker_thread(work, token=token, relay=relay, name=f"{kind}-run"), summarize)
    finally:
        gc_hold.release()


def resume_button(owner: QWidget, name: str, tip: str, follow: Callable[[], Coroutine[Any, Any, Any]]) -> QPushButton:
    """**Resume** under a run's details: starts ``follow()`` (the resumed run with its progress dialog) once."""
    button = QPushButton("Resume", owner)
    button.setObjectName(name)
    button.setToolTip(tip)
    tasks = TaskKeeper()
    owner._resume_tasks = tasks  # type: ignore[attr-defined]  # kept as long as the details are shown

    def go() -> None:
        button.setEnabled(False)
        tasks.start(follow())

    button.clicked.connect(go)
    return button


class AiColumnDialog(QDialog):
    columnSaved = Signal(int)
    runStarted = Signal(int)
    statusMessage = Signal(str)

    def __init__(self, ctx: AppContext, list_id: int, *, record_ids: Sequence[int] | None = None,
                 column_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aiColumnDialog")
        self.setWindowTitle("AI column")
        self.setMinimumWidth(720)
        self.ctx = ctx
        self.list_id = list_id
        self.record_ids = list(record_ids or [])[:5]
        self.service = AiColumnService(ctx.store)
        self.tasks = TaskKeeper()
        self.column: AiColumnInfo | None = self.service.get(column_id) if column_id is not None else None
        self.status = ai_status(ctx)
        self.last_result: Any = None
        # Built once the dialog is on screen, in a later turn of the event loop, so that Run opens them at once:
        # the run's progress dialog (its widgets and their style cost the window 10-25 ms) and the list's name.
        self._progress: ProgressDialog | None = None
        self._list_name = ""
        self.finished.connect(self._drop_progress)
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(150)
        self._check_timer.timeout.connect(self.check_prompt)

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 20)
        root.setSpacing(12)
        title = QLabel("Add an AI column" if self.column is None else f"AI column “{self.column.name}”")
        title.setObjectName("dialogTitle")
        root.addWidget(title)
        sub = QLabel("Each row gets a value from the model, from its own fields. The values become an Enginy field "
                     "you can map in Step 2 of the CRM wizard and export.")
        sub.setObjectName("dialogSubtitle")
        sub.setWordWrap(True)
        root.addWidget(sub)

        self.notice = QLabel(self.status.message)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(not self.status.ready)
        root.addWidget(self.notice)

        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        self.name = QLineEdit()
        self.name.setObjectName("aiName")
        self.name.setPlaceholderText("e.g. B2B, Opener")
        self.name.setAccessibleName("Column name")
        form.addRow("Name", self.name)

        prompt_box = QVBoxLayout()
        prompt_box.setSpacing(4)
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("aiPrompt")
        self.prompt.setAccessibleName("Prompt")
        self.prompt.setPlaceholderText(EXAMPLES[OutputType.YES_NO])
        self.prompt.setFixedHeight(88)
        self.prompt.setTabChangesFocus(True)
        self.prompt.textChanged.connect(self._check_timer.start)
        prompt_box.addWidget(self.prompt)
        prompt_row = QHBoxLayout()
        self.prompt_check = QLabel("")
        self.prompt_check.setObjectName("fieldHelp")
        self.prompt_check.setWordWrap(True)
        prompt_row.addWidget(self.prompt_check, 1)
        self.insert_button = QToolButton()
        self.insert_button.setObjectName("insertField")
        self.insert_button.setText("Insert field")
        self.insert_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.insert_menu = QMenu(self.insert_button)
        self.insert_button.setMenu(self.insert_menu)
        prompt_row.addWidget(self.insert_button, 0, Qt.AlignmentFlag.AlignTop)
        prompt_box.addLayout(prompt_row)
        form.addRow("Prompt", prompt_box)

        out_row = QHBoxLayout()
        self.output = QComboBox()
        self.output.setObjectName("aiOutput")
        for t in OutputType:
            self.output.addItem(t.label, t.value)
        self.output.setCurrentIndex(self.output.findData(OutputType.YES_NO.value))
        out_row.addWidget(self.output)
        self.options = QStackedWidget()
        self.max_length = QSpinBox()
        self.max_length.setObjectName("aiMaxLength")
        self.max_length.setRange(1, 4000)
        self.max_length.setValue(200)
        self.max_length.setSuffix(" characters at most")
        self.labels = QLineEdit()
        self.labels.setObjectName("aiLabels")
        self.labels.setPlaceholderText("SMB, Mid-market, Enterprise")
        self.schema = QPlainTextEdit()
        self.schema.setObjectName("aiSchema")
        self.schema.setPlaceholderText('{"type": "object", "properties": {"segment": {"type": "string"}}}')
        self.schema.setFixedHeight(64)
        self._option_pages = {OutputType.TEXT.value: self.max_length, OutputType.LABEL.value: self.labels,
                              OutputType.JSON.value: self.schema}
        self.no_options = QWidget()
        for w in (self.no_options, self.max_length, self.labels, self.schema):
            self.options.addWidget(w)
        out_row.addWidget(self.options, 1)
        self.output.currentIndexChanged.connect(self._output_changed)
        form.addRow("Output", out_row)

        model_row = QHBoxLayout()
        self.model = QComboBox()
        self.model.setObjectName("aiModel")
        self.model.setEditable(True)
        self.model.addItems(list(SUGGESTED_MODELS))
        self.model.setCurrentText(DEFAULT_MODEL)
        model_row.addWidget(self.model, 1)
        self.load_models = QPushButton("Load models")
        self.load_models.setObjectName("aiLoadModels")
        self.load_models.setToolTip("Read the models your key or server offers (/v1/models)")
        self.load_models.setEnabled(self.status.ready)
        self.load_models.clicked.connect(lambda: self.tasks.start(self.fetch_models()))
        model_row.addWidget(self.load_models)
        model_row.addSpacing(12)
        model_row.addWidget(QLabel("Temperature"))
        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("aiTemperature")
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.0)
        self.temperature.setMinimumWidth(80)
        model_row.addWidget(self.temperature)
        form.addRow("Model", model_row)
        root.addLayout(form)

        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        root.addWidget(self.error)

        box = QFrame()
        box.setProperty("exportSection", True)
        box_lay = QVBoxLayout(box)
        box_lay.setContentsMargins(12, 10, 12, 10)
        head = QHBoxLayout()
        section = QLabel("Preview and estimate")
        section.setObjectName("sectionTitle")
        head.addWidget(section, 1)
        self.preview_button = QPushButton("Preview 5 rows")
        self.preview_button.setObjectName("aiPreview")
        self.preview_button.setToolTip("Ask the model for 5 rows (the selected ones, else the first five); "
                                       "nothing is written to the list")
        self.preview_button.clicked.connect(lambda: self.tasks.start(self.run_preview()))
        head.addWidget(self.preview_button)
        box_lay.addLayout(head)
        self.estimate_label = QLabel("Save the column to see the estimate for the whole list.")
        self.estimate_label.setObjectName("aiEstimate")
        self.estimate_label.setWordWrap(True)
        box_lay.addWidget(self.estimate_label)
        self.preview_table = QTableWidget(0, 3)
        self.preview_table.setObjectName("aiPreviewTable")
        self.preview_table.setHorizontalHeaderLabels(["Row", "Answer", "Prompt sent"])
        self.preview_table.verticalHeader().setVisible(False)
        self.preview_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.preview_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.preview_table.horizontalHeader().setStretchLastSection(True)
        self.preview_table.setColumnWidth(1, 200)
        self.preview_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.preview_table.setFixedHeight(150)
        self.preview_table.setVisible(False)
        box_lay.addWidget(self.preview_table)
        root.addWidget(box)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("aiClose")
        self.cancel_button.clicked.connect(self.reject)
        self.cancel_button.setAutoDefault(False)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("aiSave")
        self.save_button.clicked.connect(self.save)
        self.save_button.setAutoDefault(False)
        self.run_button = QPushButton("Run on the list…")
        self.run_button.setObjectName("aiRun")
        self.run_button.setProperty("primary", True)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(lambda: self.tasks.start(self.run()))
        for b in (self.cancel_button, self.save_button, self.run_button):
            buttons.addWidget(b)
        root.addLayout(buttons)

        self._fill_fields()
        if self.column is not None:
            self._load(self.column)
            self.tasks.start(self.refresh_estimate())
        self._output_changed()
        self.check_prompt()
        hint = self.sizeHint()
        self.resize(max(720, hint.width()), hint.height())

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._progress is None:
            QTimer.singleShot(PREPARE_AFTER_MS, self._prepare_run)

    def _prepare_run(self) -> None:
        """What Run needs that costs the window's thread time, made ahead while the user reads the dialog."""
        if self._progress is not None or not self.isVisible():
            return
        if not self._list_name:
            self._list_name = _list_name(self.ctx, self.list_id)
        window = main_window_of(self.parentWidget())
        self._progress = ProgressDialog(None, counters=AI_RUN_COUNTERS, parent=window or self.parentWidget())
        self._progress.ensurePolished()  # the style sheet's rules resolved for it and its children now, not at Run
        layout = self._progress.layout()
        if layout is not None:
            layout.activate()

    def _drop_progress(self, *_args: Any) -> None:
        """The dialog closed without (or after) a run: a progress dialog built ahead and not used goes too."""
        if self._progress is not None:
            self._progress.deleteLater()
            self._progress = None

    # -- state ------------------------------------------------------------------------------------------------------
    def _vocabulary(self) -> Vocabulary:
        from enginy_desktop.core.ai.columns import vocabulary_for

        return vocabulary_for(self.ctx.store, self.list_id, exclude=self.name.text().strip())

    def _fill_fields(self) -> None:
        self.insert_menu.clear()
        for entry in self._vocabulary().entries():
            action = self.insert_menu.addAction(entry.label)
            action.triggered.connect(lambda _c=False, key=entry.key: self.insert_field(key))

    def insert_field(self, key: str) -> None:
        self.prompt.insertPlainText("{{" + key + "}}")
        self.prompt.setFocus()

    def _load(self, c: AiColumnInfo) -> None:
        self.name.setText(c.name)
        self.prompt.setPlainText(c.prompt)
        self.output.setCurrentIndex(self.output.findData(c.output.type.value))
        opts = c.output.options()
        self.max_length.setValue(int(opts.get("max_length", 200)))
        self.labels.setText(", ".join(opts.get("labels", [])))
        if "schema" in opts:
            import json

            self.schema.setPlainText(json.dumps(opts["schema"], indent=2))
        self.model.setCurrentText(c.model)
        self.temperature.setValue(c.temperature)

    def _output_changed(self, *_args: Any) -> None:
        key = str(self.output.currentData())
        page = self._option_pages.get(key, self.no_options)
        self.options.setCurrentWidget(page)
        # The stack is as tall as the page shown (a stack sizes to its largest page otherwise).
        self.options.setFixedHeight(64 if page is self.schema else self.output.sizeHint().height())
        if not self.prompt.toPlainText().strip():
            example = EXAMPLES.get(OutputType(key))
            if example:
                self.prompt.setPlaceholderText(example)

    def definition(self) -> dict[str, Any]:
        key = str(self.output.currentData())
        options: dict[str, Any] = {}
        if key == OutputType.TEXT.value:
            options["max_length"] = self.max_length.value()
        elif key == OutputType.LABEL.value:
            options["labels"] = self.labels.text()
        elif key == OutputType.JSON.value:
            options["schema"] = self.schema.toPlainText()
        return {"name": self.name.text().strip(), "prompt": self.prompt.toPlainText(), "output_type": key,
                "options": options, "model": self.model.currentText().strip(),
                "temperature": round(self.temperature.value(), 2)}

    def check_prompt(self) -> bool:
        """Checks the placeholders as the user types; unknown ones are refused (Save and Run turn off)."""
        text = self.prompt.toPlainText()
        result = self.service.check_prompt(self.list_id, text, name=self.name.text().strip())
        if result.unknown:
            self.prompt_check.setObjectName("fieldError")
            self.prompt_check.setText(result.message)
        elif result.known:
            self.prompt_check.setObjectName("fieldHelp")
            self.prompt_check.setText("Uses " + ", ".join("{{" + p.key + "}}" for p in result.known)
                                      + ". Rows where one of them is empty are skipped and counted, not sent.")
        else:
            self.prompt_check.setObjectName("fieldHelp")
            self.prompt_check.setText("Write the prompt with {{field}} placeholders (Insert field lists them).")
        self.prompt_check.style().unpolish(self.prompt_check)
        self.prompt_check.style().polish(self.prompt_check)
        ok = result.ok
        self.save_button.setEnabled(ok)
        self.run_button.setEnabled(ok and self.status.ready)
        self.preview_button.setEnabled(ok and self.status.ready)
        return ok

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    # -- actions ----------------------------------------------------------------------------------------------------
    def _unchanged(self, d: dict[str, Any]) -> bool:
        c = self.column
        if c is None:
            return False
        try:
            from enginy_desktop.core.ai.outputs import OutputSpec

            spec = OutputSpec.build(d["output_type"], d["options"])
        except ValueError:
            return False
        return (d["name"], d["prompt"], spec, d["model"], d["temperature"]) == (
            c.name, c.prompt, c.output, c.model, c.temperature)

    def save(self, *, estimate: bool = True) -> AiColumnInfo | None:
        d = self.definition()
        if self._unchanged(d):
            return self.column
        try:
            if self.column is None:
                self.column = self.service.create(self.list_id, d["name"], d["prompt"], d["output_type"],
                                                  d["options"], d["model"], d["temperature"])
            else:
                self.column = self.service.update(self.column.id, **d)
        except AiColumnError as exc:
            self._show_error(str(exc))
            return None
        self._show_error("")
        self.columnSaved.emit(self.column.id)
        if estimate:
            self.tasks.start(self.refresh_estimate())
        return self.column

    async def refresh_estimate(self) -> None:
        from enginy_desktop.core.ai.run import estimate

        if self.column is None:
            return
        self.estimate_label.setText("Counting the tokens…")
        guess = await ui.in_thread(estimate, self.ctx, self.column.id)
        self.estimate_label.setText("Estimate for the whole list: " + guess.text)

    async def fetch_models(self) -> None:
        from enginy_desktop.adapters.base import AdapterError
        from enginy_desktop.core.ai.connection import open_ai_adapter

        self.load_models.setEnabled(False)
        try:
            async with open_ai_adapter(self.ctx) as ai:
                models = await ai.models()
        except AdapterError as exc:
            self._show_error(f"Could not read the models: {redact(exc)}")
            return
        finally:
            self.load_models.setEnabled(self.status.ready)
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        self.model.setCurrentText(current if current in models or not models else models[0])

    async def run_preview(self) -> list[Any]:
        from enginy_desktop.core.ai.run import preview

        if self.save(estimate=False) is None or self.column is None:
            return []
        self.preview_button.setEnabled(False)
        self.preview_button.setText("Asking…")
        try:
            rows = await preview(self.ctx, self.column.id, self.record_ids)
        except Exception as exc:
            self._show_error(f"The preview failed: {redact(exc)}")
            return []
        finally:
            self.preview_button.setText("Preview 5 rows")
            self.check_prompt()
        self.preview_table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            answer = QTableWidgetItem((r.value or "") if not r.error else r.error)
            if r.error:
                answer.setForeground(self.palette().placeholderText())
            prompt = QTableWidgetItem(r.prompt)
            prompt.setToolTip(r.prompt)
            for col, item in enumerate((QTableWidgetItem(r.label), answer, prompt)):
                self.preview_table.setItem(i, col, item)
        self.preview_table.setVisible(True)
        await self.refresh_estimate()  # the previewed rows are in the cache now: the run will not pay for them
        return rows

    async def run(self) -> Any:
        from enginy_desktop.core.ai.run import run_column, summary_text

        column = self.save(estimate=False)  # no estimate beside the run: two busy worker threads slow the window
        if column is None:
            return None
        self.hide()
        ctx, column_id = self.ctx, column.id
        list_name = self._list_name or _list_name(ctx, self.list_id)
        ready, self._progress = self._progress, None  # the progress dialog built ahead, if it was

        async def engine_coro(progress: Any, token: Any) -> Any:
            return await run_column(ctx, column_id, progress=progress, token=token)

        try:
            result = await follow_run(
                ctx, engine_coro, kind="ai", title=f"AI column “{column.name}” on “{list_name}”", verb="Filling",
                target=f"“{column.name}”", unit="rows", counters=AI_RUN_COUNTERS,
                parent=self.parentWidget(), summarize=lambda r: f"“{column.name}”: {summary_text(r.counters)}",
                dialog=ready)
        except (RunError, AiNotConnectedError) as exc:  # another run holds the list; the connection went away
            self.show()
            self._show_error(str(redact(exc)))
            return None
        self.last_result = result
        self.runStarted.emit(result.run_id)
        self.statusMessage.emit(f"AI column “{column.name}”: {result.message}")
        self.accept()
        return result


def _list_name(ctx: AppContext, list_id: int) -> str:
    from enginy_desktop.core.services.workspace import WorkspaceService

    return WorkspaceService(ctx.store).get_list(list_id).name


def ai_run_detail(ctx: AppContext, run: RunInfo, parent: QWidget) -> QWidget:
    """Under an AI-column run on the Runs page: the column, its prompt version, the rows not written and why, and
    Resume for a run that can carry on."""
    w = QWidget(parent)
    w.setObjectName("aiRunDetail")
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    opts = run.options
    head = QLabel(f"Column “{opts.get('column', '')}” · prompt version {opts.get('version', '?')} · "
                  f"{opts.get('model', '')} on {opts.get('where', 'OpenAI')}")
    head.setObjectName("fieldHelp")
    head.setWordWrap(True)
    lay.addWidget(head)
    from enginy_desktop.core.ai.run import problem_rows

    problems = problem_rows(ctx, run.id)
    if problems:
        table = QTableWidget(len(problems), 2, w)
        table.setObjectName("aiRunProblems")
        table.setHorizontalHeaderLabels(["Record", "Why no value"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (label, why) in enumerate(problems):
            table.setItem(i, 0, QTableWidgetItem(label))
            table.setItem(i, 1, QTableWidgetItem(why))
        table.setColumnWidth(0, 220)
        table.setMinimumHeight(160)
        lay.addWidget(table)
    if run.resumable:
        from enginy_desktop.core.ai.run import run_column, summary_text

        async def engine_coro(progress: Any, token: Any) -> Any:
            return await run_column(ctx, run_id=run.id, progress=progress, token=token)

        lay.addWidget(resume_button(
            w, "aiResume", "Ask only the rows still missing; rows already written are never paid for again",
            lambda: follow_run(ctx, engine_coro, kind="ai", title=f"Resuming AI column run #{run.id}", verb="Filling",
                               target=f"“{opts.get('column', '')}”", unit="rows", counters=AI_RUN_COUNTERS,
                               parent=parent, summarize=lambda r: summary_text(r.counters))),
            0, Qt.AlignmentFlag.AlignLeft)
    if not problems:  # nothing below that grows: the page's room goes under the lines, not between them
        lay.addStretch(1)
    return w
