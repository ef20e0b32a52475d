"""Widgets the wizard's pages share: a spinner, searchable field pickers, typed value editors, user pickers.

They render values and report edits through signals; what the values mean is decided in
:mod:`enginy_desktop.core.crm_wizard`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QDate, QDateTime, QRegularExpression, Qt, Signal
from PySide6.QtGui import QAction, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from enginy_desktop.core.crm_cache import CrmUserInfo
from enginy_desktop.core.crm_wizard import EditorSpec, FieldChoice
from enginy_desktop.views.spinner import Spinner as _Spinner

NAME_ROLE = Qt.ItemDataRole.UserRole
FOREIGN_ROLE = Qt.ItemDataRole.UserRole + 1


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def set_state(widget: QWidget, name: str, value: str) -> None:
    if widget.property(name) != value:
        widget.setProperty(name, value)
        repolish(widget)


def make_primary(b: QPushButton) -> QPushButton:
    """The dialog's one filled button (the ``primary`` property, never ``:default``) and the one Enter presses."""
    b.setProperty("primary", True)
    b.setAutoDefault(False)
    b.setDefault(True)
    return b


def button(text: str, name: str = "", *, flat: bool = False, accessible: str = "", tip: str = "") -> QPushButton:
    """A secondary push button. Not auto-default: in a dialog (the wizard is one) only Next / Update / the
    dialog's own main button answer Enter and look primary."""
    b = QPushButton(text)
    if name:
        b.setObjectName(name)
    b.setAutoDefault(False)
    if flat:
        b.setProperty("flat", "true")
    if accessible:
        b.setAccessibleName(accessible)
    if tip:
        b.setToolTip(tip)
    return b


def compact_combo() -> QComboBox:
    """A drop-down that may be narrower than its longest entry (long option labels must not widen the page)."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return combo


def caption(text: str, name: str = "sectionHelp") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


LABEL_ROLE = Qt.ItemDataRole.UserRole + 7  # a field entry's label, what the closed picker shows


class FieldPicker(QComboBox):
    """A searchable field list: type any part of a label, internal name or type to filter it.

    Each entry of the list shows "Label · name · type" (:attr:`FieldChoice.text`); the closed picker shows the
    chosen field's label only (a narrow picker cut "Label · na" mid-word), the whole entry in its tooltip. The
    other object's fields come after a
    separator, tagged, so a misplaced mapping can be recognised. ``none_text`` adds a first entry meaning
    "no field" (value ``""``).

    Signals: ``valueChanged(str)`` — the user picked another field (its internal name, or "" for none).
    """

    valueChanged = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None, *, none_text: str = "") -> None:
        super().__init__(parent)
        self._none_text = none_text
        self._loading = False
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(14)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(6)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        completer = QCompleter(self.model(), self)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        line = self._line()
        line.setPlaceholderText(placeholder)
        line.editingFinished.connect(self._restore_text)
        self.currentIndexChanged.connect(self._on_index)

    def _line(self) -> QLineEdit:
        line = self.lineEdit()
        assert line is not None  # an editable combo box always has one
        return line

    def set_choices(self, choices: Sequence[FieldChoice], current: str = "") -> None:
        """Fill the list (keeping ``current`` shown, marked "not found" when it is not a choice)."""
        self._loading = True
        try:
            self.clear()
            if self._none_text:
                self.addItem(self._none_text, "")
            own = [c for c in choices if not c.foreign]
            foreign = [c for c in choices if c.foreign]
            for c in own:
                self._add(c)
            if foreign:
                self.insertSeparator(self.count())
                for c in foreign:
                    self._add(c)
            if current and self.findData(current) < 0:
                self.addItem(f"{current}  ·  not found in the CRM", current)
                self.setItemData(self.count() - 1, "This field is not in the list the CRM returned.",
                                 Qt.ItemDataRole.ToolTipRole)  # fmt: skip
            self._select(current)
        finally:
            self._loading = False

    def _add(self, choice: FieldChoice) -> None:
        self.addItem(choice.text, choice.name)
        i = self.count() - 1
        self.setItemData(i, choice.label, LABEL_ROLE)
        self.setItemData(i, choice.foreign, FOREIGN_ROLE)
        tip = f"{choice.label} ({choice.name}), {choice.type}"
        if choice.foreign:
            tip += f" — a {choice.object.value} field"
        self.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)

    def _shown_text(self, index: int) -> str:
        """What the closed picker shows for entry ``index``: the field's label (the entry itself otherwise)."""
        if index < 0:
            return ""
        label = self.itemData(index, LABEL_ROLE)
        return str(label) if label else self.itemText(index)

    def _show_choice(self) -> None:
        index = self.currentIndex()
        self.setEditText(self._shown_text(index))
        self.setToolTip(self.itemText(index) if index >= 0 else "")
        self._line().setCursorPosition(0)

    def _select(self, value: str) -> None:
        index = self.findData(value) if (value or self._none_text) else -1
        self.setCurrentIndex(index)
        self._show_choice()

    def value(self) -> str:
        data = self.currentData()
        return str(data) if data is not None and self.currentIndex() >= 0 else ""

    def set_value(self, value: str) -> None:
        """Select ``value`` as if the user had (signals ``valueChanged`` when it changes)."""
        index = self.findData(value)
        if index >= 0:
            self.setCurrentIndex(index)

    def is_foreign(self) -> bool:
        return bool(self.currentData(FOREIGN_ROLE))

    def _on_index(self, index: int) -> None:
        self._show_choice()
        if not self._loading and index >= 0:
            self.valueChanged.emit(self.value())

    def _restore_text(self) -> None:
        # Typed text that is not an entry is search text, not a value: show the chosen field again.
        self._show_choice()


class UserPicker(QComboBox):
    """A CRM user, or none (``none_text``). Signals: ``valueChanged(str)`` — the user id, or ""."""

    valueChanged = Signal(str)

    def __init__(self, none_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._none_text = none_text
        self._loading = False
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.currentIndexChanged.connect(self._on_index)

    def set_users(self, users: Sequence[CrmUserInfo], current: str = "", unknown_label: str = "") -> None:
        self._loading = True
        try:
            self.clear()
            self.addItem(self._none_text, "")
            for u in users:
                self.addItem(u.display, u.id)
            if current and self.findData(current) < 0:
                self.addItem(unknown_label or f"CRM user {current} (not found)", current)
            self.setCurrentIndex(max(0, self.findData(current)))
        finally:
            self._loading = False

    def value(self) -> str:
        return str(self.currentData() or "")

    def set_value(self, value: str) -> None:
        index = self.findData(value)
        if index >= 0:
            self.setCurrentIndex(index)

    def _on_index(self, _index: int) -> None:
        if not self._loading:
            self.valueChanged.emit(self.value())


_NO_DATE = QDate(1900, 1, 1)


class ValueEditor(QWidget):
    """A fixed value typed by its CRM field (:class:`EditorSpec`): text, number, date, date and time, yes/no,
    picklist, several choices, or a CRM user. Values are kept as text (ISO dates, ``true``/``false``, option
    values, ``a;b`` for several choices), as the configuration stores them.

    Signals: ``valueChanged(str)``.
    """

    valueChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.spec = EditorSpec()
        self.editor: QWidget | None = None
        self._value = ""
        self._loading = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def value(self) -> str:
        return self._value

    def set_spec(self, spec: EditorSpec, value: str) -> None:
        """Show the editor of ``spec`` holding ``value`` (a value the editor cannot show is kept as typed)."""
        same = spec == self.spec and self.editor is not None
        self.spec = spec
        self._value = value
        self._loading = True
        try:
            if not same:
                if self.editor is not None:
                    self._layout.removeWidget(self.editor)
                    self.editor.deleteLater()
                self.editor = self._build(spec)
                self.editor.setObjectName("fixedValue")
                self.editor.setAccessibleName("Fixed value")
                self._layout.addWidget(self.editor)
                self.setFocusProxy(self.editor)
            self._show(value)
        finally:
            self._loading = False

    def _emit(self, value: str) -> None:
        if self._loading or value == self._value:
            return
        self._value = value
        self.valueChanged.emit(value)

    def _build(self, spec: EditorSpec) -> QWidget:
        kind = spec.kind
        if kind in ("picklist", "owner", "boolean"):
            combo = compact_combo()
            combo.addItem("Choose a value…", "")
            options = spec.options if kind != "boolean" else (("true", "Yes"), ("false", "No"))
            for value, label in options:
                combo.addItem(label, value)
            combo.currentIndexChanged.connect(lambda _i: self._emit(str(combo.currentData() or "")))
            return combo
        if kind == "multi_picklist":
            button = QToolButton()
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(80)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            menu = QMenu(button)
            for value, label in spec.options:
                action = QAction(label, menu)
                action.setCheckable(True)
                action.setData(value)
                action.toggled.connect(lambda _on: self._on_menu_toggled(button, menu))
                menu.addAction(action)
            button.setMenu(menu)
            button.setText("Choose values…")
            return button
        if kind == "date":
            edit = QDateEdit()
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setMinimumDate(_NO_DATE)
            edit.setSpecialValueText("Choose a date")
            edit.dateChanged.connect(lambda d: self._emit("" if d == _NO_DATE else d.toString("yyyy-MM-dd")))
            return edit
        if kind == "datetime":
            dt = QDateTimeEdit()
            dt.setCalendarPopup(True)
            dt.setDisplayFormat("yyyy-MM-dd HH:mm")
            dt.setMinimumDate(_NO_DATE)
            dt.setSpecialValueText("Choose a date and time")
            dt.dateTimeChanged.connect(
                lambda v: self._emit("" if v.date() == _NO_DATE else v.toString("yyyy-MM-ddTHH:mm:ss"))
            )
            return dt
        line = QLineEdit()
        line.setPlaceholderText(spec.placeholder)
        if kind == "number":
            line.setValidator(QRegularExpressionValidator(QRegularExpression(r"[+-]?\d*([.,]\d*)?"), line))
        line.textChanged.connect(self._emit)
        return line

    def _on_menu_toggled(self, button: QToolButton, menu: QMenu) -> None:
        checked = [a for a in menu.actions() if a.isChecked()]
        button.setText(", ".join(a.text() for a in checked) or "Choose values…")
        self._emit(";".join(str(a.data()) for a in checked))

    def _show(self, value: str) -> None:
        editor = self.editor
        if isinstance(editor, QComboBox):
            index = editor.findData(value)
            if index < 0 and value:
                editor.addItem(f"{value} (not an option)", value)
                index = editor.count() - 1
            editor.setCurrentIndex(max(0, index))
        elif isinstance(editor, QToolButton):
            menu = editor.menu()
            chosen = {v.strip() for v in value.split(";") if v.strip()}
            for action in menu.actions():
                action.setChecked(str(action.data()) in chosen)
            self._on_menu_toggled(editor, menu)
        elif isinstance(editor, QDateEdit):
            parsed_d = QDate.fromString(value, "yyyy-MM-dd") if value else QDate()
            editor.setDate(parsed_d if parsed_d.isValid() else _NO_DATE)
        elif isinstance(editor, QDateTimeEdit):
            parsed = QDateTime.fromString(value, Qt.DateFormat.ISODate) if value else QDateTime()
            editor.setDateTime(parsed if parsed.isValid() else _NO_DATE.startOfDay())
        elif isinstance(editor, QLineEdit):
            editor.setText(value)


def Spinner(parent: QWidget | None = None, size: int = 16) -> _Spinner:  # noqa: N802 - reads as the class it makes
    """The shared spinner, hidden until :meth:`~enginy_desktop.views.spinner.Spinner.start` (the wizard's use)."""
    return _Spinner(parent, size, hidden=True)
