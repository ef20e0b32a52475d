"""The dialog shown when the data folder's database cannot be opened: what is wrong, and the ways out.

It renders a :class:`~enginy_desktop.core.store.StoreError` (or a data-folder error) and returns the user's choice;
the window's start-up carries it out (``app.py``), through the store's own functions.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from enginy_desktop.core.store import CorruptDatabaseError, latest_backup

from .formatting import when
from .message import MessageBox
from .widgets import make_primary


class Choice(enum.Enum):
    RESTORE = "restore"
    OTHER_FOLDER = "other-folder"
    QUIT = "quit"


class StoreProblemDialog(MessageBox):
    """"Cannot open your data" with Restore the latest backup (for a damaged file that has one), Open another
    folder…, and Quit."""

    def __init__(self, message: str, data_dir: Path, damaged: bool, parent: QWidget | None = None) -> None:
        if str(data_dir) not in message:
            message = f"The data folder {data_dir}: {message}"
        super().__init__(parent, "Enginy Desktop cannot open your data", message, QMessageBox.Icon.Critical,
                         title="Cannot open your data")
        self.setObjectName("storeProblemDialog")
        self.backup = latest_backup(data_dir) if damaged else None
        self.restore_button = None
        if self.backup is not None:
            saved = when(datetime.fromtimestamp(self.backup.stat().st_mtime, UTC))
            self.setInformativeText(
                f"{message}\n\nRestore the latest backup puts {self.backup.name} "
                f"(saved {saved}) in its place; the damaged file is kept beside it, never deleted."
            )
            self.restore_button = self.addButton("Restore the latest backup", QMessageBox.ButtonRole.AcceptRole)
            self.restore_button.setObjectName("restoreBackup")
            self.restore_button.setToolTip(
                f"Put {self.backup.name} in place of the damaged file; the damaged file is kept beside it."
            )
        self.folder_button = self.addButton("Open another folder…", QMessageBox.ButtonRole.ActionRole)
        self.folder_button.setObjectName("otherFolder")
        self.quit_button = self.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        self.quit_button.setObjectName("quit")
        make_primary(self.restore_button or self.folder_button)
        self.setDefaultButton(self.restore_button or self.folder_button)
        self.setEscapeButton(self.quit_button)

    def choice(self) -> Choice:
        clicked = self.clickedButton()
        if clicked is not None and clicked is self.restore_button:
            return Choice.RESTORE
        if clicked is self.folder_button:
            return Choice.OTHER_FOLDER
        return Choice.QUIT


def ask(exc: Exception, data_dir: Path) -> tuple[Choice, Path | None]:
    """Show the dialog (modal; before the event loop runs) and return the choice, with the folder picked."""
    box = StoreProblemDialog(getattr(exc, "summary", str(exc)), data_dir, isinstance(exc, CorruptDatabaseError))
    box.exec()
    choice = box.choice()
    if choice is Choice.OTHER_FOLDER:
        folder = QFileDialog.getExistingDirectory(None, "Choose a data folder", str(data_dir.parent))
        if not folder:
            return Choice.QUIT, None
        return choice, Path(folder)
    return choice, None
