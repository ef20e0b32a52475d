"""Team & identities: add, edit and remove Enginy users and identities, validation messages, confirmations, and
choosing the current user."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from enginy_desktop.core.campaigns import CampaignService
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.views.people_page import PersonDialog, TeamPage


def team_page(window) -> TeamPage:  # type: ignore[no-untyped-def]
    window.show_page("team")
    page = window.pages["team"]
    assert isinstance(page, TeamPage)
    return page


def cells(table, column: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [table.item(r, column).text() for r in range(table.rowCount())]


def test_empty_sections_say_what_to_do(window) -> None:  # type: ignore[no-untyped-def]
    page = team_page(window)
    assert page.users.stack.currentWidget() is page.users.empty
    assert page.users.empty.text().startswith("No users yet.")
    assert page.identities.stack.currentWidget() is page.identities.empty
    assert page.current_user.currentText() == "Nobody (imports have no owner)"
    assert not page.edit_user_button.isEnabled()


def test_add_users_with_validation_and_choose_the_current_one(window, ctx: AppContext, qtbot) -> None:  # type: ignore[no-untyped-def]
    page = team_page(window)
    page.add_user_button.click()
    dialog = page.current_dialog
    assert isinstance(dialog, PersonDialog)
    dialog.name.setText("Ana García")  # QTest types ASCII only
    qtbot.keyClicks(dialog.address, "ana-at-enginy")
    qtbot.keyClick(dialog.address, Qt.Key.Key_Return)  # Enter saves
    assert dialog.isVisible()
    assert dialog.error.text() == "'ana-at-enginy' is not a valid email address."
    dialog.address.setText("Ana@Enginy.ai")
    dialog.make_current.setChecked(True)
    dialog.save_button.click()
    assert not dialog.isVisible()
    assert cells(page.users_table, 0) == ["Ana García"]
    assert cells(page.users_table, 1) == ["ana@enginy.ai"]
    assert cells(page.users_table, 2) == ["✓ You"]
    assert page.current_user.currentText() == "Ana García <ana@enginy.ai>"

    bo = page.add_user()
    bo.name.setText("Bo")
    bo.address.setText("ana@enginy.ai")
    bo.save()
    assert bo.error.text() == "A user with the email ana@enginy.ai already exists."
    bo.address.setText("bo@enginy.ai")
    bo.save()
    assert cells(page.users_table, 0) == ["Ana García", "Bo"]

    page.choose_current_user(WorkspaceService(ctx.store).users()[1].id)
    current = WorkspaceService(ctx.store).current_user()
    assert current is not None
    assert current.name == "Bo"
    assert cells(page.users_table, 2) == ["", "✓ You"]
    page.choose_current_user(None)
    assert WorkspaceService(ctx.store).current_user() is None


def test_edit_and_remove_a_user_after_confirmation(window, ctx: AppContext, qtbot) -> None:  # type: ignore[no-untyped-def]
    WorkspaceService(ctx.store).create_user("Ana", "ana@enginy.ai", make_current=True)
    page = team_page(window)
    page.select("user", 0)
    assert page.edit_user_button.isEnabled()
    dialog = page.edit_user()
    assert dialog is not None
    assert dialog.address.text() == "ana@enginy.ai"
    dialog.name.setText("")
    dialog.save()
    assert dialog.error.text() == "A user needs a name."
    dialog.name.setText("Ana G.")
    dialog.save()
    assert cells(page.users_table, 0) == ["Ana G."]

    page.users_table.setFocus()
    page.select("user", 0)
    qtbot.keyClick(page.users_table, Qt.Key.Key_Delete)
    box = page.current_dialog
    assert isinstance(box, QMessageBox)
    assert box.text() == "Remove the user Ana G.?"
    assert "You will have no current user." in box.informativeText()
    assert box.defaultButton().objectName() == "cancelButton"
    box.findChild(QPushButton, "cancelButton").click()
    assert cells(page.users_table, 0) == ["Ana G."]
    page.confirm_remove_user().findChild(QPushButton, "confirmRemoveButton").click()  # type: ignore[union-attr]
    assert page.users_table.rowCount() == 0
    assert WorkspaceService(ctx.store).users() == []


def test_identities_crud(window, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    page = team_page(window)
    dialog = page.add_identity()
    dialog.kind.setCurrentIndex(dialog.kind.findData("linkedin"))
    assert dialog.address.placeholderText() == "https://www.linkedin.com/in/your-profile"
    dialog.name.setText("Ana on LinkedIn")
    dialog.address.setText("https://example.com/ana")
    dialog.save()
    assert "is not a LinkedIn address" in dialog.error.text()
    dialog.address.setText("es.linkedin.com/in/Ana-G/")
    dialog.save()
    assert not dialog.isVisible()
    mail = page.add_identity()
    mail.kind.setCurrentIndex(mail.kind.findData("email"))
    mail.address.setText("ana@enginy.ai")
    mail.save()
    assert cells(page.identities_table, 0) == ["Ana on LinkedIn", "ana@enginy.ai"]  # no name: the address
    assert cells(page.identities_table, 1) == ["LinkedIn profile", "Email sender"]
    addresses = cells(page.identities_table, 2)
    assert sorted(addresses) == ["ana@enginy.ai", "https://www.linkedin.com/in/ana-g"]

    row = addresses.index("https://www.linkedin.com/in/ana-g")
    page.select("identity", row)
    edit = page.edit_identity()
    assert edit is not None
    assert not edit.kind.isEnabled()
    edit.name.setText("Ana (LinkedIn)")
    edit.save()
    assert "Ana (LinkedIn)" in cells(page.identities_table, 0)

    # An identity that runs a campaign cannot be removed: the service says why.
    service = WorkspaceService(ctx.store)
    sender = next(i for i in service.identities() if i.kind == "email")
    CampaignService(ctx.store).create("Q3 Outreach", sender.id, ["email"])
    page.refresh()
    page.select("identity", [i.id for i in page._identities].index(sender.id))
    box = page.confirm_remove_identity()
    assert box is not None
    assert box.defaultButton().objectName() == "cancelButton"
    box.findChild(QPushButton, "confirmRemoveButton").click()
    refused = page.current_dialog
    assert isinstance(refused, QMessageBox)
    assert refused.text() == "Cannot remove this identity"  # the heading; the reason under it
    assert "runs the campaign(s) Q3 Outreach" in refused.informativeText()
    refused.accept()
    assert len(service.identities()) == 2

    linked = next(i for i in service.identities() if i.kind == "linkedin")
    page.select("identity", [i.id for i in page._identities].index(linked.id))
    page.confirm_remove_identity().findChild(QPushButton, "confirmRemoveButton").click()  # type: ignore[union-attr]
    assert [i.kind for i in service.identities()] == ["email"]
    assert page.identities_table.rowCount() == 1
