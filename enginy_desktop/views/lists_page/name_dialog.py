"""Name a new list (contacts or companies), or rename one; the service validates the name."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QWidget

from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.services.workspace import ListInfo, WorkspaceError, WorkspaceService

from ..widgets import make_primary, note_label, titled_layout
from ..workspace_widgets import fit_height


class ListNameDialog(QDialog):
    """Name a new list (and choose contacts or companies), or rename one. The service validates the name.

    Signals: ``saved(ListInfo)`` once the list is created or renamed.
    """

    saved = Signal(object)

    def __init__(self, service: WorkspaceService, parent: QWidget | None = None, info: ListInfo | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.info = info
        self.setObjectName("listNameDialog")
        self.setWindowTitle("Rename list" if info else "New list")
        self.setModal(True)
        self.setMinimumWidth(420)
        root = titled_layout(self)
        form = QFormLayout()
        form.setVerticalSpacing(10)
        self.name = QLineEdit(info.name if info else "")
        self.name.setObjectName("listNameEdit")
        self.name.setPlaceholderText("For example: Q3 leads")
        self.name.setAccessibleName("List name")
        form.addRow("Name", self.name)
        self.kind = QComboBox()
        self.kind.setObjectName("listKindCombo")
        self.kind.addItem("Contacts", RecordKind.CONTACT.value)
        self.kind.addItem("Companies", RecordKind.COMPANY.value)
        self.kind.setAccessibleName("The list holds")
        if info is None:
            form.addRow("Holds", self.kind)
        else:
            self.kind.setVisible(False)
        root.addLayout(form)
        self.error = note_label("fieldError")
        root.addWidget(self.error)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        save = box.button(QDialogButtonBox.StandardButton.Save)
        save.setText("Rename" if info else "Create list")
        save.setObjectName("saveListButton")
        make_primary(save)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        root.addWidget(box)
        self.name.selectAll()

    def save(self) -> None:
        try:
            if self.info is None:
                info = self.service.create_list(self.name.text(), RecordKind(self.kind.currentData()))
            else:
                info = self.service.rename_list(self.info.id, self.name.text())
        except WorkspaceError as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            fit_height(self)
            self.name.setFocus()
            return
        self.saved.emit(info)
        self.accept()
