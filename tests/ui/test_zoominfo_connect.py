"""ZoomInfo's connection dialog offers its two APIs as two options (the GTM Data API first, said to be the one to
pick), saves either, and refuses an empty form with a message naming both."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QLineEdit

from enginy_desktop.core import catalog
from enginy_desktop.views.connect_dialog import ConnectDialog


def _fill(dialog: ConnectDialog, **values: str) -> None:
    for name, value in values.items():
        edit = dialog.findChild(QLineEdit, f"field-{name}")
        assert edit is not None, name
        edit.setText(value)


def test_two_options_either_one_saves(ctx: Any, qtbot: Any, memory_keyring: Any) -> None:
    dialog = ConnectDialog(ctx, catalog.get("zoominfo"))
    qtbot.addWidget(dialog)
    titles = [label.text() for label in dialog.findChildren(QLabel) if label.objectName() == "sectionTitle"]
    assert titles[:2] == ["Option 1 · Client ID and secret (GTM Data API — pick this one)",
                          "Option 2 · Username and password (legacy Enterprise API)"]
    assert catalog.get("zoominfo").ready  # its card and dialog no longer say "Not available yet"
    dialog.save()  # empty: refused, naming both options
    assert "Client ID + Client secret or Username + Password" in dialog.form_error.text()
    assert not ctx.integrations.get("zoominfo").connected
    _fill(dialog, username="api.user@example.com", password="s3cret-password")
    dialog.save()
    assert ctx.integrations.get("zoominfo").connected
    assert memory_keyring.saved("zoominfo", "password") == ["s3cret-password"]
    assert ctx.integrations.settings("zoominfo")["username"] == "api.user@example.com"
