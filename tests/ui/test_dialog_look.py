"""The dialogs of the integrations added last hold the main screens' bar, in light and dark, at the size they open
and at their minimum size: no text cut, one primary button (by property, never auto-default), no icons on buttons;
and the Runs page shows enrichment, AI-column and TheirStack runs without cutting anything.

``ENGINY_SHOTS=DIR`` saves every state as PNG for review."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.views import theme
from tests.support.ai_world import contacts_list
from tests.ui.test_clipping import cut_texts

SHOTS = os.environ.get("ENGINY_SHOTS", "")
CONNECT = ("salesforce", "zoho", "dynamics", "tribecrm", "kaspr", "proxycurl", "cognism", "datagma", "zoominfo")


def _connect(key: str) -> Callable[[AppContext, int], QDialog]:
    def make(ctx: AppContext, _list_id: int) -> QDialog:
        from enginy_desktop.views.connect_dialog import ConnectDialog

        return ConnectDialog(ctx, catalog.get(key))

    return make


def _enrich(ctx: AppContext, list_id: int) -> QDialog:
    from enginy_desktop.views.enrich_dialog import EnrichDialog

    dialog = EnrichDialog(ctx, list_id)
    dialog._timer.stop()  # the estimate is not part of the look
    return dialog


def _enrich_settings(ctx: AppContext, _list_id: int) -> QDialog:
    from enginy_desktop.views.enrich_dialog import EnrichSettingsDialog

    return EnrichSettingsDialog(ctx)


def _ai_column(ctx: AppContext, list_id: int) -> QDialog:
    from enginy_desktop.views.ai_column_dialog import AiColumnDialog

    return AiColumnDialog(ctx, list_id)


def _theirstack(ctx: AppContext, _list_id: int) -> QDialog:
    from enginy_desktop.views.theirstack_dialog import TheirStackDialog

    return TheirStackDialog(ctx, list_name="Leads")


def _sync(ctx: AppContext, list_id: int) -> QDialog:
    from enginy_desktop.views.sync_dialog import SyncDialog

    return SyncDialog(ctx, list_id=list_id)


def _export(ctx: AppContext, list_id: int) -> QDialog:
    from enginy_desktop.views.export_dialog import ExportDialog

    return ExportDialog(ctx, list_id)


def _import(ctx: AppContext, _list_id: int) -> QDialog:
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.views.import_dialog import ImportDialog

    return ImportDialog(WorkspaceService(ctx.store), reports_dir=ctx.data_dir / "reports")


DIALOGS: dict[str, Callable[[AppContext, int], QDialog]] = {
    **{f"connect-{key}": _connect(key) for key in CONNECT if key in catalog.integration_keys()},
    "enrich": _enrich,
    "enrich-settings": _enrich_settings,
    "ai-column": _ai_column,
    "theirstack": _theirstack,
    "sync": _sync,
    "export": _export,
    "import-csv": _import,
}


def _settle() -> None:
    for _ in range(4):
        QApplication.processEvents()


def _shot(widget: QWidget, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", list(DIALOGS))
def test_a_dialog_cuts_nothing_and_has_one_primary_button(name: str, dark: bool, qtbot: Any, qapp: Any,
                                                          ctx: AppContext) -> None:
    theme.apply_theme(qapp, dark=dark)
    list_id, _ = contacts_list(ctx, 3)
    dialog = DIALOGS[name](ctx, list_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    problems = []
    for size, tag in ((dialog.size(), "as opened"), (dialog.minimumSize(), "at its minimum size")):
        dialog.resize(size)
        _settle()
        _shot(dialog, f"{name}{'-min' if tag != 'as opened' else ''}{'-dark' if dark else ''}")
        problems += [f"{tag} ({dialog.width()}×{dialog.height()}): {p}" for p in cut_texts(dialog)]
        for field in dialog.findChildren(QLineEdit):
            inner = isinstance(field.parentWidget(), QAbstractSpinBox | QComboBox)  # a spin box's own text
            if field.isVisible() and not inner and field.height() < field.sizeHint().height() - 1:
                problems.append(f"{tag}: field {field.objectName() or field.placeholderText()!r} squashed to "
                                f"{field.height()} px of {field.sizeHint().height()}")
    assert not problems, "\n".join(problems)
    buttons = [b for b in dialog.findChildren(QPushButton) if b.isVisible()]
    assert len([b for b in buttons if b.property("primary")]) == 1, [b.text() for b in buttons]
    assert not [b.text() for b in buttons if b.autoDefault()]
    assert not [b.text() for b in buttons if not b.icon().isNull()]  # no stock icons on dialog buttons


def test_a_dialog_with_wrapped_text_never_squashes_its_fields(qtbot: Any) -> None:
    dialog = QDialog()
    qtbot.addWidget(dialog)
    dialog.setMinimumWidth(300)
    lay = QVBoxLayout(dialog)
    text = QLabel("A long explanation that wraps onto several lines at the dialog's narrowest width. " * 4)
    text.setWordWrap(True)
    lay.addWidget(text)
    fields = [QLineEdit() for _ in range(4)]
    for f in fields:
        lay.addWidget(f)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.resize(300, 0)  # as small as the user can make it
    _settle()
    assert all(f.height() >= f.sizeHint().height() for f in fields)
    assert text.height() >= text.heightForWidth(text.width())


def test_a_dialog_with_a_scroll_area_can_be_made_shorter_than_it_opens(qtbot: Any) -> None:
    """The minimum counts the wrapped text and the fields, not the list's full height: a tall dialog still fits a
    small screen, the list scrolls, and nothing else is squashed."""
    dialog = QDialog()
    qtbot.addWidget(dialog)
    dialog.setMinimumWidth(300)
    lay = QVBoxLayout(dialog)
    text = QLabel("A long explanation that wraps onto several lines at the dialog's narrowest width. " * 4)
    text.setWordWrap(True)
    lay.addWidget(text)
    rows = QListWidget()
    rows.addItems([f"Row {n}" for n in range(40)])
    rows.setMinimumHeight(80)
    rows.sizeHint = lambda: QSize(200, 600)  # type: ignore[method-assign] # a list that likes to be tall
    lay.addWidget(rows)
    field = QLineEdit()
    lay.addWidget(field)
    lay.addStretch(1)
    dialog.show()
    qtbot.waitExposed(dialog)
    preferred = lay.totalHeightForWidth(dialog.minimumWidth())
    assert dialog.minimumHeight() < preferred - 400  # the list gives way, not only a few pixels
    dialog.resize(300, 0)
    _settle()
    assert dialog.height() == dialog.minimumHeight()
    assert text.height() >= text.heightForWidth(text.width())  # the text stays whole
    assert field.height() >= field.sizeHint().height()  # the field is not squashed
    assert rows.height() >= 80


@pytest.mark.parametrize("name", ["enrich", "export"])
def test_a_tall_dialog_with_scrolling_parts_has_a_minimum_below_its_preferred_height(name: str, qtbot: Any,
                                                                                      ctx: AppContext) -> None:
    list_id, _ = contacts_list(ctx, 3)
    dialog = DIALOGS[name](ctx, list_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    lay = dialog.layout()
    assert lay is not None
    preferred = lay.totalHeightForWidth(dialog.minimumWidth())
    assert dialog.minimumHeight() < preferred, (dialog.minimumHeight(), preferred)
    assert dialog.minimumHeight() <= 700  # fits a 768-pixel screen with its title bar and task bar


RUNS = {
    "enrichment": ({"found": 212, "cached": 40, "requests": 260, "reasked": 3, "total": 300, "credits": 420},
                   "finished", None),
    "ai": ({"written": 29, "cached": 4, "skipped_empty": 1, "failed": 0, "total": 30}, "finished", None),
    "import": ({"added": 20, "linked": 3, "duplicates": 1, "credits": 60}, "failed",
               "TheirStack refused the request: your API credits are used up (402). What was imported is kept."),
}


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_runs_page_shows_enrichment_ai_and_import_runs_without_cutting(window: Any, qtbot: Any, qapp: Any,
                                                                           ctx: AppContext, dark: bool) -> None:
    theme.apply_theme(qapp, dark=dark)
    list_id, _ = contacts_list(ctx, 3)
    ids = {}
    for kind, (counters, state, error) in RUNS.items():
        run = ctx.runs.create(kind, crm={"ai": "openai", "import": "theirstack"}.get(kind), list_id=list_id,
                              list_name="Leads", start=True)
        ctx.runs.set_counters(run.id, counters)
        ctx.runs.finish(run.id, state, error=error)
        ids[kind] = run.id
    page = window.show_page("runs")
    problems = []
    for size in ((1280, 800), (window.minimumWidth(), window.minimumHeight())):
        window.resize(*size)
        for kind, run_id in ids.items():
            page.select_run(run_id)
            _settle()
            shown = page.selected_run()
            assert shown is not None
            assert shown.id == run_id
            _shot(window, f"runs-{kind}-{size[0]}{'-dark' if dark else ''}")
            problems += [f"{kind} run at {size[0]}×{size[1]}: {p}" for p in cut_texts(window)]
    assert not problems, "\n".join(problems)
