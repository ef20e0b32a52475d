"""The start-up dialog for a database that cannot be opened: the message and its ways out."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from enginy_desktop.core.store import CorruptDatabaseError, EmptyDatabaseError, Store
from enginy_desktop.views.store_problem import Choice, StoreProblemDialog


def _damaged_with_backup(data_dir: Path) -> CorruptDatabaseError:
    store = Store.open(data_dir)
    store.backup(reason="manual")
    store.close()
    (data_dir / "enginy.db").write_bytes(b"")
    with pytest.raises(EmptyDatabaseError) as err:
        Store.open(data_dir)
    return err.value


def test_damaged_database_offers_its_backup_another_folder_or_quit(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    exc = _damaged_with_backup(data_dir)
    assert "restore-backup" in str(exc)
    assert "restore-backup" not in exc.summary
    assert exc.summary.endswith("It has not been changed.")
    box = StoreProblemDialog(exc.summary, data_dir, damaged=True)
    qtbot.addWidget(box)
    assert box.restore_button is not None
    assert box.backup is not None
    assert box.defaultButton() is box.restore_button
    assert "0 bytes" in box.informativeText()
    box.show()
    box.grab().save(str(data_dir.parent / "store-problem.png"))
    QTimer.singleShot(0, box.restore_button.click)
    box.exec()
    assert box.choice() is Choice.RESTORE


def test_without_a_backup_there_is_no_restore_button(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    box = StoreProblemDialog("The folder is read-only.", data_dir, damaged=False)
    qtbot.addWidget(box)
    assert box.restore_button is None
    QTimer.singleShot(0, box.quit_button.click)
    box.exec()
    assert box.choice() is Choice.QUIT
