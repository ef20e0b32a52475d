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
    assert box.restore_button.property("primary")  # the one filled button
    assert box.property("appMessage")  # the app's message dialog: a heading and our icon, not a stock box
    assert box.text() == "Enginy Desktop cannot open your data"
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


def test_the_window_starts_on_the_restored_backup(qtbot, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Start-up on a damaged store: the dialog's Restore puts the backup in place and the window opens on it."""
    import argparse
    import gc
    import sys
    import time

    from PySide6.QtWidgets import QApplication

    from enginy_desktop import app as app_module
    from enginy_desktop.views import store_problem

    store = Store.open(data_dir)
    with store.write() as s:
        s.connection().exec_driver_sql(
            "INSERT INTO lists (name, kind, created_at, updated_at) VALUES ('Kept', 'contacts', "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')")
    store.backup(reason="manual")
    store.close()
    (data_dir / "enginy.db").write_bytes(b"")  # cut short
    asked: list[str] = []

    def ask(exc: Exception, folder: Path) -> tuple[Choice, Path | None]:
        asked.append(str(exc))
        QTimer.singleShot(1500, QApplication.quit)  # the window opens, then the test closes it
        return Choice.RESTORE, None

    monkeypatch.setattr(store_problem, "ask", ask)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    args = argparse.Namespace(self_check=False, data_dir=str(data_dir), demo=False)
    try:
        code = app_module._run_window(args, data_dir, time.monotonic(), None)
    finally:
        gc.unfreeze()
    assert code == 0
    assert len(asked) == 1
    assert "0 bytes" in asked[0]
    assert [p.stat().st_size for p in data_dir.glob("enginy.db.damaged-*")] == [0]  # kept, not deleted
    reopened = Store.open(data_dir)
    try:
        with reopened.session() as s:
            assert s.connection().exec_driver_sql("SELECT name FROM lists").scalars().all() == ["Kept"]
    finally:
        reopened.close()
