"""The Integrations page as a user drives it: tabs, search, toggles, dialogs, the one-CRM question."""

from __future__ import annotations

from pathlib import Path

import keyring
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton

from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.views.connect_dialog import ConnectDialog, CrmConflictDialog, SecretsSetupDialog
from enginy_desktop.views.integrations_page import TAB_DISABLED, TAB_ENABLED
from enginy_desktop.views.main_window import MainWindow


def _tab_texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [page.tabs.tabText(i) for i in range(page.tabs.count())]


def test_all_tab_shows_eighteen_cards_in_five_sections(window) -> None:  # type: ignore[no-untyped-def]
    page = window.integrations_page
    assert _tab_texts(page) == ["All (18)", "Enabled (0)", "Disabled (18)"]
    assert len(page.visible_keys()) == 18
    assert page.visible_keys()[:6] == ["hubspot", "dynamics", "pipedrive", "salesforce", "tribecrm", "zoho"]
    for key in ("hubspot", "slack", "proxycurl"):
        assert window.findChild(QPushButton, f"configure-{key}") is not None
        assert window.findChild(object, f"toggle-{key}") is not None
        assert window.findChild(object, f"card-{key}") is not None
    assert page.empty.isHidden()


def test_enabled_tab_empty_state_then_toggle_moves_card(window, ctx: AppContext, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = window.integrations_page
    ctx.integrations.save_connection("hunter", {"api_key": "hunter-key-1"})
    page.refresh()
    page.tabs.setCurrentIndex(TAB_ENABLED)
    assert page.visible_keys() == []
    assert not page.empty.isHidden()
    assert "No integrations enabled yet" in page.empty.title.text()
    page.tabs.setCurrentIndex(TAB_DISABLED)
    assert "hunter" in page.visible_keys()
    toggle = window.findChild(object, "toggle-hunter")
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert "hunter" not in page.visible_keys()
    assert _tab_texts(page) == ["All (18)", "Enabled (1)", "Disabled (17)"]
    page.tabs.setCurrentIndex(TAB_ENABLED)
    assert page.visible_keys() == ["hunter"]
    assert toggle.isChecked()


def test_keyboard_toggles_the_switch(window, ctx: AppContext, qtbot) -> None:  # type: ignore[no-untyped-def]
    ctx.integrations.save_connection("lusha", {"api_key": "lusha-key-1"})
    window.integrations_page.refresh()
    toggle = window.findChild(object, "toggle-lusha")
    toggle.setFocus()
    qtbot.keyClick(toggle, Qt.Key.Key_Space)
    assert ctx.integrations.get("lusha").enabled
    qtbot.keyClick(toggle, Qt.Key.Key_Space)
    assert not ctx.integrations.get("lusha").enabled


def test_search_filters_by_name_category_and_description(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = window.integrations_page
    qtbot.keyClicks(page.search, "hub")
    assert page.visible_keys() == ["hubspot"]
    page.search.setText("communication")
    assert page.visible_keys() == ["slack"]
    page.search.setText("email addresses")
    assert page.visible_keys() == ["hunter"]
    page.search.setText("no such tool")
    assert page.visible_keys() == []
    assert "No integrations match" in page.empty.title.text()
    page.search.clear()
    assert len(page.visible_keys()) == 18


def test_turning_on_without_credentials_opens_dialog_and_cancel_leaves_it_off(window, ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = window.integrations_page
    qtbot.mouseClick(window.findChild(object, "toggle-apollo"), Qt.MouseButton.LeftButton)
    dialog = page.current_dialog
    assert isinstance(dialog, ConnectDialog)
    assert dialog.isVisible()
    assert not window.findChild(object, "toggle-apollo").isChecked()
    dialog.reject()
    assert not ctx.integrations.get("apollo").enabled
    assert not window.findChild(object, "toggle-apollo").isChecked()


def test_saving_the_dialog_connects_and_enables(window, ctx, qtbot, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    page = window.integrations_page
    qtbot.mouseClick(window.findChild(object, "toggle-apollo"), Qt.MouseButton.LeftButton)
    dialog = page.current_dialog
    dialog.save()  # empty: refused inline
    assert dialog.isVisible()
    assert dialog.rows["api_key"].error.text() == "API key is required."
    key_edit = dialog.findChild(QLineEdit, "field-api_key")
    assert key_edit.echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(key_edit, "apollo-secret-key")
    qtbot.keyClick(key_edit, Qt.Key.Key_Return)  # Enter triggers Save
    assert not dialog.isVisible()
    info = ctx.integrations.get("apollo")
    assert info.enabled
    assert info.connected
    assert memory_keyring.saved("apollo", "api_key") == ["apollo-secret-key"]
    card = window.findChild(object, "card-apollo")
    assert card.status.text() == "Connected"


def _connect_hubspot(ctx: AppContext) -> None:
    ctx.integrations.save_connection("hubspot", {"token": "pat-na1-x"})
    ctx.integrations.save_connection("zoho", {"client_id": "zoho-client", "client_secret": "zoho-secret"})
    ctx.integrations.enable("hubspot")


def test_second_crm_asks_and_switches(window, ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    _connect_hubspot(ctx)
    page = window.integrations_page
    page.refresh()
    qtbot.mouseClick(window.findChild(object, "toggle-zoho"), Qt.MouseButton.LeftButton)
    dialog = page.current_dialog
    assert isinstance(dialog, CrmConflictDialog)
    assert dialog.text() == "HubSpot is your active CRM. Only one CRM can be active at a time."
    assert dialog.switch_button.text() == "Disable HubSpot and enable Zoho"
    qtbot.mouseClick(dialog.switch_button, Qt.MouseButton.LeftButton)
    assert ctx.integrations.active_crm().key == "zoho"
    assert window.findChild(object, "toggle-zoho").isChecked()
    assert not window.findChild(object, "toggle-hubspot").isChecked()
    assert ctx.integrations.get("hubspot").connected  # configuration kept


def test_second_crm_cancel_changes_nothing(window, ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    _connect_hubspot(ctx)
    page = window.integrations_page
    page.refresh()
    qtbot.mouseClick(window.findChild(object, "toggle-zoho"), Qt.MouseButton.LeftButton)
    dialog = page.current_dialog
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert ctx.integrations.active_crm().key == "hubspot"
    assert not window.findChild(object, "toggle-zoho").isChecked()
    assert window.findChild(object, "toggle-hubspot").isChecked()


def test_configure_opens_connection_and_disconnect_removes_secrets(window, ctx, qtbot, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    ctx.integrations.save_connection("openai", {"api_key": "sk-abcdefghijklmnop"})
    page = window.integrations_page
    page.refresh()
    qtbot.mouseClick(window.findChild(QPushButton, "configure-openai"), Qt.MouseButton.LeftButton)
    dialog = page.current_dialog
    assert isinstance(dialog, ConnectDialog)
    edit = dialog.findChild(QLineEdit, "field-api_key")
    assert edit.text() == ""
    assert "Saved" in edit.placeholderText()
    dialog._disconnect()
    assert not memory_keyring.saved("openai", "api_key")
    assert not ctx.integrations.get("openai").connected
    assert window.findChild(object, "card-openai").status.text() == "Not connected"


def test_state_survives_a_restart(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = AppContext.open(data_dir)
    ctx.integrations.save_connection("slack", {"webhook_url": "https://hooks.slack.com/services/A/B/C"})
    ctx.integrations.enable("slack")
    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.resize(760, 560)
    first.close()
    ctx.close()
    ctx2 = AppContext.open(data_dir)
    second = MainWindow(ctx2)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (760, 560)
    page = second.integrations_page
    assert page.tabs.tabText(TAB_ENABLED) == "Enabled (1)"
    assert second.findChild(object, "toggle-slack").isChecked()
    assert second.findChild(object, "card-slack").status.text() == "Connected"
    second.close()
    ctx2.close()


def test_no_keyring_banner_offers_an_encrypted_file(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        ctx = AppContext.open(data_dir)
        win = MainWindow(ctx)
        qtbot.addWidget(win)
        win.show()
        page = win.integrations_page
        assert page.banner.isVisible()
        assert "No system keyring" in page.banner.label.text()
        page.banner.button.click()
        dialog = win.findChild(SecretsSetupDialog)
        dialog.passphrase.setText("short")
        dialog.confirm.setText("short")
        dialog.submit()
        assert "at least 8" in dialog.error.text()
        dialog.passphrase.setText("a long passphrase")
        dialog.confirm.setText("a long passphrase")
        dialog.submit()
        assert not page.banner.isVisible()
        ctx.integrations.save_connection("apollo", {"api_key": "apollo-in-file"})
        assert b"apollo-in-file" not in (data_dir / "secrets.enc").read_bytes()
        win.close()
        ctx.close()
    finally:
        keyring.set_keyring(previous)


def test_disconnect_with_the_credentials_file_locked_says_so_and_removes_nothing(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core.secrets import EncryptedFileSecrets, secrets_file

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        ctx = AppContext.open(data_dir, passphrase="a long passphrase")
        ctx.integrations.save_connection("apollo", {"api_key": "apollo-in-file"})
        ctx.close()
        ctx = AppContext.open(data_dir)  # no passphrase this time: the file is locked
        win = MainWindow(ctx)
        qtbot.addWidget(win)
        dialog = ConnectDialog(ctx, catalog.get("apollo"), win)
        qtbot.addWidget(dialog)
        dialog.show()
        with qtbot.waitSignal(dialog.needsSecrets, timeout=1000):  # the window offers to unlock it
            dialog._disconnect()
        assert dialog.isVisible()
        assert "which is locked: unlock it first" in dialog.form_error.text()
        assert ctx.integrations.get("apollo").connected
        assert EncryptedFileSecrets(secrets_file(data_dir), "a long passphrase")._data  # still there, as said
        dialog.close()
        win.close()
        ctx.close()
    finally:
        keyring.set_keyring(previous)


def test_cards_reflow_with_window_width(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = window.integrations_page
    assert page._columns == 3
    window.resize(900, 700)
    qtbot.waitUntil(lambda: page._columns == 2)
    window.resize(560, 600)
    qtbot.waitUntil(lambda: page._columns == 1)


def test_every_card_is_as_wide_as_the_others_in_every_section_and_width(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core import catalog

    page = window.integrations_page

    def widths() -> set[int]:
        return {window.findChild(object, f"card-{i.key}").width() for i in catalog.INTEGRATIONS}

    # OpenAI, TheirStack and Slack sit alone in their sections; their cards line up with the full rows above.
    qtbot.waitUntil(lambda: len(widths()) == 1, timeout=2000)
    window.resize(900, 700)
    qtbot.waitUntil(lambda: page._columns == 2)
    qtbot.waitUntil(lambda: len(widths()) == 1)
    page.tabs.setCurrentIndex(TAB_ENABLED)  # no card: nothing left over from the fillers
    page.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(widths()) == 1, timeout=2000)


def test_every_card_can_do_its_job(window) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core import catalog

    assert all(i.ready for i in catalog.INTEGRATIONS)  # each of the 18 cards has its connector
    for spec in catalog.INTEGRATIONS:  # a notice says something else (Proxycurl's closure), never "not yet"
        assert not window.findChild(object, f"card-{spec.key}").notice.text().startswith("Not available yet")


def test_a_card_that_cannot_work_yet_says_so_before_anything_is_entered(  # type: ignore[no-untyped-def]
        not_ready_integration, window) -> None:
    from enginy_desktop.core import catalog

    not_ready = [i for i in catalog.INTEGRATIONS if not i.ready]
    ready = [i for i in catalog.INTEGRATIONS if i.ready]
    assert not_ready == [not_ready_integration]
    assert {"hubspot", "slack"} <= {i.key for i in ready}
    for spec in not_ready:
        card = window.findChild(object, f"card-{spec.key}")
        assert card.notice.text().startswith("Not available yet")
        assert not card.notice.isHidden()
    hubspot = window.findChild(object, "card-hubspot")
    assert hubspot.notice.isHidden()
    from enginy_desktop.views.connect_dialog import ConnectDialog

    dialog = ConnectDialog(window.ctx, catalog.get(not_ready[0].key), window)
    texts = [label.text() for label in dialog.findChildren(type(hubspot.notice), "notice")]
    assert any(t.startswith("Not available yet") for t in texts)
    dialog.close()


def test_on_a_short_screen_the_connection_fields_scroll_and_save_stays_in_view(qtbot, ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    from enginy_desktop.core import catalog

    # A 768-pixel laptop less its task bar; Zoho's dialog with Advanced settings open is taller than that.
    monkeypatch.setattr(QScreen, "availableGeometry", lambda _self: QRect(0, 0, 1366, 728))
    dialog = ConnectDialog(ctx, catalog.get("zoho"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.advanced_toggle.setChecked(True)
    assert dialog.height() <= 688
    save = dialog.save_button
    assert dialog.rect().contains(save.mapTo(dialog, save.rect().bottomRight()))  # Save can be clicked
    assert dialog.body_scroll.verticalScrollBar().maximum() > 0  # the fields scroll instead
    # Where the screen has room, the dialog is exactly as tall as its fields: nothing to scroll.
    monkeypatch.setattr(QScreen, "availableGeometry", lambda _self: QRect(0, 0, 1920, 1400))
    dialog.advanced_toggle.setChecked(False)
    dialog.advanced_toggle.setChecked(True)
    assert dialog.height() > 688
    assert dialog.body_scroll.verticalScrollBar().maximum() == 0
