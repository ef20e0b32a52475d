"""The Lists page's questions before it deletes: which records or which list will be lost, and how many, with
Cancel as the default. The page connects ``buttonClicked`` and opens them."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from enginy_desktop.core.services.workspace import ListInfo

from ..message import MessageBox
from .records import NOUNS, records_text


def _question(parent: QWidget, name: str, title: str, heading: str) -> MessageBox:
    box = MessageBox(parent, heading, icon=QMessageBox.Icon.Warning, title=title)
    box.setObjectName(name)
    return box


def delete_records_question(parent: QWidget, info: ListInfo, n: int) -> tuple[QMessageBox, QPushButton, QPushButton]:
    """Delete ``n`` records of the list everywhere, or only take them out of it: (box, delete, remove)."""
    what = records_text(info.kind, n)
    box = _question(parent, "confirmDeleteRecords", "Delete records", f"Delete {what}?")
    box.setInformativeText(
        f"They will be removed from every list and campaign of your workspace. This cannot be undone.\n\n"
        f"To only take them out of “{info.name}”, choose Remove from list."
    )
    delete = box.add_danger_button(f"Delete {what}", "confirmDeleteButton")
    remove = box.addButton("Remove from list", QMessageBox.ButtonRole.ActionRole)
    remove.setObjectName("removeFromListButton")
    box.add_safe_cancel()
    return box, delete, remove


def delete_list_question(parent: QWidget, info: ListInfo) -> tuple[QMessageBox, QPushButton, QPushButton | None]:
    """Delete the list (its records stay), or the list and its records: (box, delete, both — None when empty)."""
    what = records_text(info.kind, info.count)
    box = _question(parent, "confirmDeleteList", "Delete list", f"Delete the list “{info.name}”?")
    if info.count:
        box.setInformativeText(
            f"Its {what} stay in your workspace (they may be in other lists or campaigns). "
            f"To delete them too, choose Delete list and its {NOUNS[info.kind][1]}."
        )
    delete = box.add_danger_button("Delete list", "confirmDeleteListButton")
    both = None
    if info.count:
        both = box.add_danger_button(f"Delete list and its {what}", "confirmDeleteListAndRecordsButton")
    box.add_safe_cancel()
    return box, delete, both
