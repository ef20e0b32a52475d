"""The window's file choosers: a CSV file to read, a CSV report to save.

Each opens window-modal with ``open()`` and calls back with the chosen path instead of returning it, so no chooser
runs a nested event loop; dialogs keep them in an attribute that tests replace with a callable of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

#: ``pick(parent, done)``: ask for a file to read, then ``done(path)``.
PickOpen = Callable[[QWidget, Callable[[Path], object]], None]
#: ``pick(parent, suggested_name, done)``: ask where to save, then ``done(path)``.
PickSave = Callable[[QWidget, str, Callable[[Path], object]], None]


def csv_opener(title: str, object_name: str = "") -> PickOpen:
    """A chooser of one existing CSV (or TSV, or text) file, titled ``title``."""

    def pick(parent: QWidget, done: Callable[[Path], object]) -> None:
        dialog = QFileDialog(parent, title, str(Path.home()))
        if object_name:
            dialog.setObjectName(object_name)
        dialog.setNameFilters(["CSV files (*.csv *.tsv *.txt)", "All files (*)"])
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        _open(dialog, done)

    return pick


def csv_saver(title: str, object_name: str) -> PickSave:
    """A chooser of where to save a CSV file, starting at the suggested name in the home folder."""

    def pick(parent: QWidget, suggested: str, done: Callable[[Path], object]) -> None:
        dialog = QFileDialog(parent, title, str(Path.home() / suggested))
        dialog.setObjectName(object_name)
        dialog.setNameFilters(["CSV files (*.csv)"])
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        _open(dialog, done)

    return pick


def _open(dialog: QFileDialog, done: Callable[[Path], object]) -> None:
    dialog.fileSelected.connect(lambda name: done(Path(name)))
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
