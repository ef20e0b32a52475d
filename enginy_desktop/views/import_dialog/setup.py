"""The import's first stage: the file, how it is read, the target list, the column mapping and a preview.

The view renders what the dialog gives it (a :class:`Preview`, a :class:`ColumnMapping`, the lists) and says what
the user did; the dialog reads files and keeps the mapping.

Signals: ``chooseRequested()`` — Choose file…; ``importRequested()`` — Import; ``cancelRequested()`` — Cancel;
``kindChanged()`` — contacts or companies changed; ``mappingEdited(int, str)`` — a column (its row) is now to be
imported as a field name, ``CUSTOM`` or ``IGNORE``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core.fields import RecordKind, fields_for
from enginy_desktop.core.importers.csv_import import ColumnMapping, Preview
from enginy_desktop.core.importers.mapping import Action
from enginy_desktop.core.services.workspace import ListInfo

from .. import theme
from ..formatting import count_text, file_size, number
from ..widgets import dialog_heading, make_primary, note_label
from ..workspace_widgets import set_state

KIND_NOUN = {RecordKind.CONTACT: "contacts", RecordKind.COMPANY: "companies"}
CUSTOM, IGNORE = "custom", "ignore"


class ImportSetupView(QWidget):
    """Signals: ``chooseRequested()``, ``importRequested()``, ``cancelRequested()``, ``kindChanged()``,
    ``mappingEdited(int, str)`` (see the module)."""

    chooseRequested = Signal()
    importRequested = Signal()
    cancelRequested = Signal()
    kindChanged = Signal()
    mappingEdited = Signal(int, str)

    def __init__(self, kind: RecordKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._combos: list[QComboBox] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        dialog_heading(
            lay, "Import a CSV file",
            "Contacts or companies exported from Sales Navigator, Apollo, HubSpot, Salesforce, Excel or Google "
            "Sheets. You check how each column is imported before anything is written.",
        )
        lay.addWidget(self._build_file_box())
        self.file_error = note_label("fieldError")
        lay.addWidget(self.file_error)
        lay.addWidget(self._build_target(kind))
        lay.addWidget(self._build_tabs(), 1)
        self.problem = note_label("importProblem")
        lay.addWidget(self.problem)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("startImportButton")
        make_primary(self.import_button)
        self.import_button.clicked.connect(self.importRequested)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.import_button)
        lay.addLayout(buttons)

    # -- building ------------------------------------------------------------------------------------------
    def _build_file_box(self) -> QFrame:
        file_box = QFrame()
        file_box.setObjectName("fileBox")
        file_lay = QHBoxLayout(file_box)
        file_lay.setContentsMargins(12, 10, 12, 10)
        file_lay.setSpacing(12)
        names = QVBoxLayout()
        names.setSpacing(2)
        self.file_name = QLabel("No file chosen")
        self.file_name.setObjectName("importFileName")
        self.file_format = QLabel("Choose a file, or drop it here.")
        self.file_format.setObjectName("importFormat")
        self.file_format.setWordWrap(True)
        names.addWidget(self.file_name)
        names.addWidget(self.file_format)
        file_lay.addLayout(names, 1)
        self.choose_button = QPushButton("Choose file…")
        self.choose_button.setObjectName("chooseFileButton")
        self.choose_button.setAutoDefault(False)
        self.choose_button.clicked.connect(self.chooseRequested)
        file_lay.addWidget(self.choose_button, 0, Qt.AlignmentFlag.AlignVCenter)
        return file_box

    def _build_target(self, kind: RecordKind) -> QWidget:
        self.target_box = QWidget()
        grid = QGridLayout(self.target_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        grid.setColumnStretch(2, 1)
        grid.addWidget(QLabel("Records"), 0, 0)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("importKind")
        self.kind_combo.setAccessibleName("The file holds")
        self.kind_combo.addItem("Contacts", RecordKind.CONTACT.value)
        self.kind_combo.addItem("Companies", RecordKind.COMPANY.value)
        self.kind_combo.setCurrentIndex(0 if kind is RecordKind.CONTACT else 1)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self.kindChanged.emit())
        grid.addWidget(self.kind_combo, 0, 1)
        grid.addWidget(QLabel("Import into"), 1, 0)
        self.new_list_radio = QRadioButton("A new list")
        self.new_list_radio.setObjectName("importNewList")
        self.existing_list_radio = QRadioButton("An existing list")
        self.existing_list_radio.setObjectName("importExistingList")
        group = QButtonGroup(self)
        group.addButton(self.new_list_radio)
        group.addButton(self.existing_list_radio)
        self.new_list_radio.setChecked(True)
        self.list_name = QLineEdit()
        self.list_name.setObjectName("importListName")
        self.list_name.setAccessibleName("New list name")
        self.list_name.setPlaceholderText("Name of the new list")
        self.list_name.textEdited.connect(lambda _t: self.new_list_radio.setChecked(True))
        self.list_combo = QComboBox()
        self.list_combo.setObjectName("importListCombo")
        self.list_combo.setAccessibleName("Existing list")
        self.list_combo.activated.connect(lambda _i: self.existing_list_radio.setChecked(True))
        grid.addWidget(self.new_list_radio, 1, 1)
        grid.addWidget(self.list_name, 1, 2)
        grid.addWidget(self.existing_list_radio, 2, 1)
        grid.addWidget(self.list_combo, 2, 2)
        return self.target_box

    def _build_tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.tabs.setObjectName("importTabs")
        self.mapping_table = QTableWidget(0, 3)
        self.mapping_table.setObjectName("mappingTable")
        self.mapping_table.setAccessibleName("Column mapping")
        self.mapping_table.setHorizontalHeaderLabels(["Column in your file", "Example values", "Import as"])
        self.mapping_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.mapping_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.mapping_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mapping_table.setTabKeyNavigation(False)
        self.mapping_table.setShowGrid(False)
        self.mapping_table.setWordWrap(False)
        self.mapping_table.verticalHeader().setVisible(False)
        self.mapping_table.verticalHeader().setDefaultSectionSize(40)
        mh = self.mapping_table.horizontalHeader()
        mh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        mh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        mh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        mh.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        mh.resizeSection(0, 190)
        mh.resizeSection(2, 240)
        self.tabs.addTab(self.mapping_table, "Columns")
        self.preview_table = QTableWidget(0, 0)
        self.preview_table.setObjectName("previewTable")
        self.preview_table.setAccessibleName("First rows of the file")
        self.preview_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_table.setWordWrap(False)
        self.preview_table.setAlternatingRowColors(True)
        self.preview_table.setShowGrid(False)
        self.preview_table.verticalHeader().setDefaultSectionSize(30)
        self.preview_table.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        self.preview_table.horizontalHeader().setDefaultSectionSize(150)
        self.tabs.addTab(self.preview_table, "Preview")
        return self.tabs

    # -- the file ------------------------------------------------------------------------------------------
    @property
    def kind(self) -> RecordKind:
        return RecordKind(self.kind_combo.currentData())

    def show_file(self, preview: Preview) -> None:
        """The file was read: its name, format, size and columns; the mapping and preview come next."""
        self.file_error.setVisible(False)
        self.file_name.setText(preview.path.name)
        self.file_name.setToolTip(str(preview.path))
        self.file_format.setText(
            f"Read as {preview.format.encoding_label} · {preview.format.delimiter_label}-separated · "
            f"{file_size(preview.total_bytes)} · {count_text(len(preview.headers), 'column', 'columns')}"
        )

    def show_file_error(self, name: str, path: str, message: str) -> None:
        self.file_name.setText(name)
        self.file_name.setToolTip(path)
        self.file_format.setText("This file cannot be imported.")
        self.file_error.setText(f"{message} Choose another file.")
        self.file_error.setVisible(True)
        self.set_file_state(False)

    def clear_file(self) -> None:
        self.file_name.setText("No file chosen")
        self.file_name.setToolTip("")
        self.file_format.setText("Choose a file, or drop it here.")
        self.list_name.clear()
        self.set_file_state(False)

    def set_file_state(self, loaded: bool) -> None:
        for w in (self.target_box, self.tabs, self.import_button):
            w.setEnabled(loaded)
        self.choose_button.setText("Choose another file…" if loaded else "Choose file…")
        # The one primary button is the next thing to do: choose a file, then import it.
        make_primary(self.import_button if loaded else self.choose_button)
        if not loaded:
            self.mapping_table.setRowCount(0)
            self.preview_table.setRowCount(0)
            self.preview_table.setColumnCount(0)
            self.problem.setVisible(False)
            self.tabs.setTabText(0, "Columns")
            self.tabs.setTabText(1, "Preview")

    # -- the target list -----------------------------------------------------------------------------------
    def suggest_list_name(self, name: str) -> None:
        """Name the new list after the file, unless the user typed a name of their own."""
        if not self.list_name.text().strip() or not self.list_name.isModified():
            self.list_name.setText(name)

    def fill_lists(self, lists: list[ListInfo]) -> None:
        """The existing lists of the chosen kind (keeping the one chosen, if it is still there)."""
        current = self.list_combo.currentText()
        self.list_combo.clear()
        for info in lists:
            self.list_combo.addItem(f"{info.name} ({number(info.count)})", info.name)
        index = self.list_combo.findData(current)
        if index >= 0:
            self.list_combo.setCurrentIndex(index)
        has_lists = self.list_combo.count() > 0
        self.existing_list_radio.setEnabled(has_lists)
        self.list_combo.setEnabled(has_lists)
        if not has_lists:
            self.list_combo.addItem(f"No {KIND_NOUN[self.kind]} lists yet")
            self.new_list_radio.setChecked(True)

    def select_existing_list(self, name: str) -> None:
        index = self.list_combo.findData(name)
        if index < 0:
            raise KeyError(name)
        self.list_combo.setCurrentIndex(index)
        self.existing_list_radio.setChecked(True)

    def into_existing(self) -> bool:
        return self.existing_list_radio.isChecked()

    def target_list_name(self) -> str:
        if self.into_existing():
            return str(self.list_combo.currentData() or "")
        return self.list_name.text().strip()

    # -- the mapping ---------------------------------------------------------------------------------------
    def show_mapping(self, preview: Preview, mapping: ColumnMapping) -> None:
        """One row a column: its header, example values and a combo of what it is imported as."""
        table = self.mapping_table
        table.setRowCount(len(mapping.rules))
        self._combos = []
        fields = fields_for(mapping.kind)
        for row, rule in enumerate(mapping.rules):
            header = QTableWidgetItem(rule.header or f"(column {row + 1}, no header)")
            header.setToolTip(rule.header)
            table.setItem(row, 0, header)
            samples = ", ".join(preview.column_samples(row))
            example = QTableWidgetItem(samples or "(empty in the first rows)")
            example.setToolTip(samples)
            table.setItem(row, 1, example)
            combo = QComboBox()
            combo.setObjectName(f"mapping-{row}")
            combo.setAccessibleName(f"Import the column {rule.header} as")
            for f in fields:
                combo.addItem(f.label, f.name)
            combo.insertSeparator(combo.count())
            combo.addItem("Keep as custom field", CUSTOM)
            combo.addItem("Ignore", IGNORE)
            combo.setMaxVisibleItems(len(fields) + 3)
            spec = CUSTOM if rule.action is Action.CUSTOM else (IGNORE if rule.action is Action.IGNORE else rule.target)
            combo.setCurrentIndex(combo.findData(spec))
            combo.currentIndexChanged.connect(
                lambda _i, r=row, c=combo: self.mappingEdited.emit(r, str(c.currentData()))
            )
            self._combos.append(combo)
            holder = QWidget()
            holder_lay = QHBoxLayout(holder)
            holder_lay.setContentsMargins(4, 2, 8, 2)
            holder_lay.addWidget(combo)
            table.setCellWidget(row, 2, holder)
            self.paint_row(row, rule.action is Action.IGNORE)
        self.show_mapping_state(mapping)

    def mapping_combo(self, row: int) -> QComboBox:
        return self._combos[row]

    def paint_row(self, row: int, ignored: bool) -> None:
        """An ignored column is shown greyed out, so what will not be imported stands out."""
        header, example = self.mapping_table.item(row, 0), self.mapping_table.item(row, 1)
        assert header is not None
        assert example is not None
        header.setForeground(theme.color("text_disabled" if ignored else "text"))
        font = header.font()
        font.setStrikeOut(ignored)
        header.setFont(font)
        example.setForeground(theme.color("text_disabled" if ignored or not example.toolTip() else "text_secondary"))

    def show_mapping_state(self, mapping: ColumnMapping) -> None:
        """How many columns go where (on the tab), and the mapping's first problem or its notes."""
        rules = mapping.rules
        fields = sum(1 for r in rules if r.action is Action.FIELD)
        custom = sum(1 for r in rules if r.action is Action.CUSTOM)
        ignored = len(rules) - fields - custom
        parts = [f"{fields} to fields"]
        if custom:
            parts.append(f"{custom} custom")
        if ignored:
            parts.append(f"{ignored} ignored")
        self.tabs.setTabText(0, f"Columns ({', '.join(parts)})")
        problems = mapping.problems()
        notes = []
        labels = {f.name: f.label for f in fields_for(mapping.kind)}
        for field, columns in mapping.field_columns().items():
            if len(columns) > 1:
                names = " and ".join(f"“{rules[i].header}”" for i in columns)
                notes.append(f"{names} both fill {labels[field]}: the first non-empty value of a row is used.")
        if problems:
            self.set_problem("error", problems[0])
        elif notes:
            self.set_problem("note", " ".join(notes))
        else:
            self.problem.setVisible(False)

    def set_problem(self, state: str, text: str) -> None:
        self.problem.setText(text)
        set_state(self.problem, "state", state)
        self.problem.setVisible(True)

    def fill_preview(self, preview: Preview) -> None:
        table = self.preview_table
        table.clear()
        table.setColumnCount(len(preview.headers))
        table.setRowCount(len(preview.rows))
        table.setHorizontalHeaderLabels([h or "(no header)" for h in preview.headers])
        for r, values in enumerate(preview.rows):
            for c, value in enumerate(values):
                item = QTableWidgetItem(" ".join(value.split()))
                if len(value) > 30:
                    item.setToolTip(value)
                table.setItem(r, c, item)
        self.tabs.setTabText(1, f"Preview (first {count_text(len(preview.rows), 'row', 'rows')})")
