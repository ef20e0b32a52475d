"""ZoomInfo in the window: its connection dialog offers its two APIs as two options (the GTM Data API first, said to
be the one to pick), saves either and refuses an empty form naming both; Enrich… asks it and the list says which
values it found. ``ENGINY_SHOTS=DIR`` saves a screenshot of the enrichment dialog."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit

from enginy_desktop.core import catalog
from enginy_desktop.views.connect_dialog import ConnectDialog
from enginy_desktop.views.enrich_dialog import EnrichDialog
from tests.support.enrich_world import EnrichWorld
from tests.ui.workspace_helpers import aloop  # noqa: F401

SHOTS = os.environ.get("ENGINY_SHOTS", "")


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


def test_enrich_from_the_window_with_zoominfo(qtbot: Any, aloop: Any, window: Any, ctx: Any,  # noqa: F811
                                             tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=30, providers=("hunter", "zoominfo"))
    page = window.show_page("lists")
    page.refresh_lists()
    page.select_list("Leads")
    aloop.run_until_complete(page.tasks.wait())
    dialog = aloop.run_until_complete(page.open_enrich(factory=world.factory))
    assert isinstance(dialog, EnrichDialog)
    qtbot.addWidget(dialog)
    assert "zoominfo" in dialog.order.keys()  # noqa: SIM118 - a method of the order widget
    dialog._timer.stop()
    aloop.run_until_complete(dialog.refresh_estimate())
    names = [item.text() for r in range(dialog.table.rowCount()) if (item := dialog.table.item(r, 0)) is not None]
    assert "ZoomInfo" in names  # in the estimate
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(Path(SHOTS) / "enrich-dialog-zoominfo.png"))
    result = aloop.run_until_complete(dialog.start())
    assert result is not None
    assert result.state == "finished"
    assert world.credits_spent("zoominfo") > 0
    aloop.run_until_complete(page.tasks.wait())
    tips = [page.model.data(page.model.index(r, c), Qt.ItemDataRole.ToolTipRole)
            for r in range(page.model.rowCount()) for c in range(page.model.columnCount())]
    assert any(t and t.startswith("Found by ZoomInfo") for t in tips)
