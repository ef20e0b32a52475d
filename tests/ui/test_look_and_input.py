"""App-wide look and input rules: readable contrast in both themes (computed from the style tokens and the
style sheet), the wheel never edits an unfocused dropdown, one primary button that stays put, our message dialog."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from enginy_desktop.views import theme


def _luminance(hex_color: str) -> float:
    h = hex_color.lstrip("#")
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Text colours on the backgrounds they are drawn on, beyond the pairs the style sheet states in one rule.
TEXT_ON = [
    ("text", "surface"), ("text", "window"), ("text", "nav"), ("text_secondary", "surface"),
    ("text_secondary", "window"), ("text_secondary", "nav"), ("on_accent", "accent"), ("on_accent", "accent_hover"),
    ("accent", "surface"), ("accent", "window"), ("accent", "nav_selected"), ("accent", "accent_tint"),
    ("success", "surface"), ("warning", "surface"), ("danger", "surface"), ("success", "success_tint"),
    ("warning", "warning_tint"), ("danger", "danger_tint"), ("text", "warning_tint"), ("text", "danger_tint"),
    ("text", "success_tint"), ("text", "accent_tint"),
]


def _sheet_pairs() -> list[tuple[str, str, str]]:
    """(selector, colour token, background token) of every rule that sets both, except disabled states."""
    sheet = (resources.files("enginy_desktop.resources") / "style.qss").read_text("utf-8")
    sheet = re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)
    pairs = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", sheet):
        fg = re.search(r"(?<![-\w])color:\s*@(\w+)", body)
        bg = re.search(r"background(?:-color)?:\s*@(\w+)", body)
        if fg and bg and ":disabled" not in selector and fg.group(1) != "text_disabled":
            pairs.append((" ".join(selector.split()), fg.group(1), bg.group(1)))
    return pairs


@pytest.mark.parametrize("name", ["light", "dark"])
def test_text_contrast_meets_wcag_aa_in_both_themes(name: str) -> None:
    tokens = theme.LIGHT if name == "light" else theme.DARK
    pairs = [(f"{fg} on {bg}", fg, bg) for fg, bg in TEXT_ON] + _sheet_pairs()
    assert len(pairs) > len(TEXT_ON)  # the style sheet's own pairs are checked too
    weak = [f"{where}: {contrast(tokens[fg], tokens[bg]):.2f}" for where, fg, bg in pairs
            if contrast(tokens[fg], tokens[bg]) < 4.5]
    assert not weak, f"{name} theme below 4.5:1 — " + "; ".join(weak)


def test_the_style_sheet_names_no_colour_outside_the_tokens() -> None:
    sheet = (resources.files("enginy_desktop.resources") / "style.qss").read_text("utf-8")
    sheet = re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)
    assert not re.findall(r"#[0-9A-Fa-f]{3,8}\b|\bwhite\b|\bblack\b", sheet)
    assert ":default" not in sheet  # the primary look follows a property, not the focus-following default


def _wheel(widget: QWidget, delta: int = -120) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_page_not_an_unfocused_dropdown_or_spin_box(qtbot) -> None:  # type: ignore[no-untyped-def]
    area = QScrollArea()
    qtbot.addWidget(area)
    body = QWidget()
    lay = QVBoxLayout(body)
    first = QLineEdit()
    combo = QComboBox()
    combo.addItems(["Email", "First Name", "Last Name"])
    spin = QSpinBox()
    spin.setValue(5)
    lay.addWidget(first)
    lay.addWidget(combo)
    lay.addWidget(spin)
    for _ in range(30):
        lay.addWidget(QLineEdit())
    area.setWidget(body)
    area.resize(300, 200)
    area.show()
    area.activateWindow()
    qtbot.waitActive(area)
    first.setFocus()
    _wheel(combo)
    _wheel(spin)
    assert combo.currentText() == "Email"
    assert spin.value() == 5
    assert area.verticalScrollBar().value() > 0  # the page scrolled instead
    combo.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(combo.hasFocus, timeout=2000)
    _wheel(combo)  # a focused dropdown still answers the wheel
    assert combo.currentText() == "First Name"


def test_one_primary_button_stays_primary_when_focus_moves(qtbot) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.views.widgets import make_primary

    dialog = QDialog()
    qtbot.addWidget(dialog)
    lay = QVBoxLayout(dialog)
    edit = QLineEdit()
    lay.addWidget(edit)
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
    save = make_primary(box.button(QDialogButtonBox.StandardButton.Save))
    cancel = box.button(QDialogButtonBox.StandardButton.Cancel)
    lay.addWidget(box)
    saved = []
    box.accepted.connect(lambda: saved.append(True))
    dialog.show()
    qtbot.waitExposed(dialog)
    cancel.setFocus()  # Tab onto Cancel: it must not become the default, nor look primary
    assert not cancel.autoDefault()
    assert not cancel.isDefault()
    assert save.isDefault()
    assert [b for b in box.buttons() if b.property("primary")] == [save]
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # Enter presses the primary button
    assert saved == [True]
    save.setEnabled(False)
    assert save.palette() is not None


def test_message_dialog_has_a_heading_and_our_icon(qtbot) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.views.message import MessageBox

    box = MessageBox(None, "Delete the list?", "Its contacts stay in your workspace.", QMessageBox.Icon.Warning)
    qtbot.addWidget(box)
    assert box.text() == "Delete the list?"
    assert box.informativeText() == "Its contacts stay in your workspace."
    assert box.icon() == QMessageBox.Icon.NoIcon  # never the platform's own icon…
    assert not box.iconPixmap().isNull()  # …ours instead
    assert box.tone() == QMessageBox.Icon.Warning


def test_an_error_message_keeps_its_technical_detail_behind_details(qtbot) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.views.message import show_message

    box = show_message(None, "Could not read the fields", "Could not reach HubSpot. Check the connection.",
                       details="GET /crm/v3/properties: ConnectError: All connection attempts failed")
    qtbot.addWidget(box)
    assert "ConnectError" not in box.text() + box.informativeText()
    assert "ConnectError" in box.detailedText()  # behind the dialog's "Show Details…" button
    assert any("Details" in b.text() for b in box.buttons())
    box.close()


def test_dialog_buttons_carry_no_icons(qtbot) -> None:  # type: ignore[no-untyped-def]
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    assert all(b.icon().isNull() for b in box.buttons())


def test_a_cut_table_cell_shows_its_whole_text_as_a_tooltip(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem, QToolTip

    long = "The placeholder {{job_title}} is empty for this row, so it was skipped and not sent"
    table = QTableWidget(2, 2)
    qtbot.addWidget(table)
    table.setItem(0, 0, QTableWidgetItem(long))
    table.setItem(1, 0, QTableWidgetItem("Yes"))
    table.setColumnWidth(0, 120)
    table.show()
    qtbot.waitExposed(table)

    from enginy_desktop.views.guards import show_cut_cell_text

    def help_at(row: int) -> QHelpEvent:
        pos = table.visualRect(table.model().index(row, 0)).center()
        return QHelpEvent(QEvent.Type.ToolTip, pos, table.viewport().mapToGlobal(pos))

    assert not show_cut_cell_text(table, help_at(1))  # shown whole: no tooltip
    QApplication.sendEvent(table.viewport(), help_at(0))  # as the mouse resting on the cell
    assert QToolTip.isVisible()
    assert QToolTip.text() == long  # cut by its column: the whole text
    QToolTip.hideText()


@pytest.mark.parametrize(
    ("engine", "window"),
    [
        ("No CRM is enabled. Enable one on the Integrations page (or run `enginy-desktop integrations enable "
         "hubspot`) and connect it.", "No CRM is enabled. Enable one on the Integrations page and connect it."),
        ("HubSpot is not connected. Add its credentials on the Integrations page (Configure) or with "
         "`enginy-desktop connect hubspot`.", "HubSpot is not connected. Add its credentials on the Integrations page "
         "(Configure)."),
        ("Disk full: stopped. Free some space, then resume with: enginy-desktop resume 12",
         "Disk full: stopped. Free some space, then resume it from the Runs page."),
        ("A plain message.", "A plain message."),
    ],
)
def test_window_messages_never_quote_commands(engine: str, window: str) -> None:
    from enginy_desktop.views.formatting import window_text

    assert window_text(engine) == window


def test_counts_and_report_texts_read_naturally() -> None:
    from enginy_desktop.core.export.interactive import CrmLabels
    from enginy_desktop.views.export_report import readable
    from enginy_desktop.views.formatting import count_text, decimal

    assert count_text(1, "warning") == "1 warning"
    assert count_text(1240, "company", "companies") == "1,240 companies"
    assert (decimal(0.5), decimal(2.0), decimal(1234.5)) == ("0.5", "2", "1,234.5")  # credits: 0.5 is not 0
    labels = CrmLabels(fields={("contact", "enginy_ref"): "Enginy ref"})
    assert readable("A contact with enginy_ref taken already exists.", labels, "contact") == (
        "A contact with “Enginy ref” taken already exists.")
