"""The main window: quitting from the keyboard and the menu; the demo's badge."""

from __future__ import annotations


def test_ctrl_q_and_the_file_menu_quit(window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QKeySequence

    action = window.quit_action
    assert QKeySequence("Ctrl+Q") in action.shortcuts()
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    assert any(action in m.actions() for m in menus)
    action.trigger()
    assert not window.isVisible()


def test_the_demo_badge_stays_visible(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert not window.demo_badge.isVisible()
    window.set_demo(True)
    assert window.demo_badge.isVisible()
    assert "Demo" in window.windowTitle()
    window.statusBar().showMessage("Something else", 0)  # a status message does not hide it
    window.resize(600, 500)  # nor the compact navigation
    qtbot.wait(10)
    assert window.demo_badge.isVisible()
    assert window.findChild(type(window.demo_badge), "demoStatus").isVisible()


def test_the_demo_badge_names_the_demos_crm(window) -> None:  # type: ignore[no-untyped-def]
    window.ctx.integrations.enable("pipedrive")
    window.set_demo(True)
    assert "Pipedrive is a local sandbox" in window.demo_badge.toolTip()
