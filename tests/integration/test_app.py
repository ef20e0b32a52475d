"""The real command starts the window and stops cleanly; bad databases are explained, not tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=120, env=env,
    )


def test_window_starts_paints_and_exits_cleanly(data_dir: Path) -> None:
    result = _run(data_dir, "--self-check")
    assert result.returncode == 0, result.stderr
    assert "self-check: ok cards=18" in result.stdout
    assert result.stderr == ""
    log = (data_dir / "logs" / "enginy-desktop.log").read_text("utf-8")
    assert "First paint after" in log
    assert "Stopped cleanly" in log
    assert (data_dir / "window.ini").is_file()  # geometry remembered


def test_data_dir_from_environment(tmp_path: Path) -> None:
    target = tmp_path / "from-env"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ENGINY_DATA_DIR=str(target))
    result = subprocess.run(
        [sys.executable, "-m", "enginy_desktop", "integrations", "list"], capture_output=True, text=True,
        timeout=120, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "enginy.db").is_file()


def test_corrupt_database_is_named_not_a_traceback(data_dir: Path) -> None:
    (data_dir / "enginy.db").write_bytes(b"\x00garbage" * 500)
    result = _run(data_dir, "--self-check")
    assert result.returncode == 1
    assert str(data_dir / "enginy.db") in result.stderr
    assert "Traceback" not in result.stderr
    cli = _run(data_dir, "integrations", "list")
    assert cli.returncode == 1
    assert cli.stderr.startswith("enginy-desktop: The database ")
    assert cli.stderr.count("\n") == 1


def test_unhandled_error_is_logged_redacted_and_shown(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication, QMessageBox

    from enginy_desktop import app as app_module
    from enginy_desktop.core.logsetup import configure_logging
    from enginy_desktop.core.redact import register_secret

    configure_logging(data_dir)
    register_secret("super-secret-token-value")
    try:
        raise RuntimeError("HubSpot said no to super-secret-token-value")
    except RuntimeError as exc:
        app_module.report_exception(type(exc), exc, exc.__traceback__)
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog"]
    assert boxes
    assert isinstance(boxes[0], QMessageBox)
    box = boxes[0]
    shown = box.text() + box.informativeText() + box.detailedText()
    assert "super-secret" not in shown
    assert "[REDACTED]" in box.informativeText()
    box.done(0)
    assert app_module._error_dialog is None
    box.deleteLater()
    log = (data_dir / "logs" / "enginy-desktop.log").read_text("utf-8")
    assert "Unhandled error" in log
    assert "super-secret-token-value" not in log
