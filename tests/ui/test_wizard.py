"""The CRM configuration wizard as a user drives it, against the HubSpot sandbox on loopback.

Coroutines (loading the CRM's fields, the duplicate-risk check) are awaited directly with ``asyncio.run``; dialogs
the wizard opens with ``open()`` are answered by clicking their buttons.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QToolButton,
    QWizard,
)

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import (
    PRIMARY_REMOVE_WARNING,
    TROUBLESHOOTING_CROSS_OBJECT,
    AssociationType,
    CampaignProperty,
    MappingKind,
    ObjectType,
    Step,
)
from enginy_desktop.core.matching.rules import CompanyPreset, ContactPreset
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.server import serve
from enginy_desktop.views.connect_dialog import ConnectDialog
from enginy_desktop.wizard import CrmWizard
from enginy_desktop.wizard import loader as L
from enginy_desktop.wizard.custom_mapping import CustomMappingDialog
from enginy_desktop.wizard.page_export import ExportPage, MappingRow, SuggestionsDialog
from enginy_desktop.wizard.widgets import ValueEditor

B = QWizard.WizardButton
CUSTOM_PROPERTIES = [
    ("enginy_opens", "Enginy Campaign Opens", "number", "number"),
    ("enginy_sequence_status", "Enginy Sequence Status", "string", "text"),
    ("enginy_last_touch", "Enginy last touch", "date", "date"),
    ("enginy_vip", "Enginy VIP", "bool", "booleancheckbox"),
]


@pytest.fixture(autouse=True)
def _delete_closed_windows(qapp: Any) -> Iterator[None]:
    """Delete the windows pytest-qt closed (``deleteLater``) before the next test replaces the application style:
    Qt 6 crashes when the style changes under a QWizard that was shown and is still alive."""
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    app = create_app(HubSpotSandboxConfig(seed_contacts=0, seed_companies=0, owners=3))
    sb = app.state.sandbox
    for name, label, ptype, field_type in CUSTOM_PROPERTIES:
        sb.create_property("contacts", {"name": name, "label": label, "type": ptype, "fieldType": field_type,
                                        "groupName": "contactinformation"})  # fmt: skip
    sb.create_property("contacts", {
        "name": "enginy_channels", "label": "Enginy channels", "type": "enumeration", "fieldType": "checkbox",
        "groupName": "contactinformation",
        "options": [{"label": "Email", "value": "email"}, {"label": "LinkedIn", "value": "linkedin"}],
    })  # fmt: skip
    sb.create("contacts", {"firstname": "Ana", "lastname": "Ruiz", "company": "ACME Inc.",
                           "hs_linkedin_url": "https://www.linkedin.com/in/ana-ruiz"})  # fmt: skip
    sb.create("contacts", {"firstname": "Leo", "lastname": "Díaz", "company": "Gamma",
                           "hs_linkedin_url": "https://www.linkedin.com/in/leo-diaz"})  # fmt: skip
    with serve(app) as url:
        yield type("Sandbox", (), {"url": url, "state": sb, "app": app})()


@pytest.fixture
def hubspot(ctx: AppContext, sandbox: Any) -> AppContext:
    ctx.integrations.save_connection("hubspot", {"token": DEFAULT_TOKEN, "base_url": sandbox.url})
    ctx.integrations.enable("hubspot")
    ws = WorkspaceService(ctx.store)
    ws.create_identity("linkedin", "Jane on LinkedIn", "https://www.linkedin.com/in/jane-sales")
    ws.create_identity("email", "Jane's mailbox", sandbox.state.owners[0]["email"])
    ws.create_user("Jane Sales", sandbox.state.owners[0]["email"], make_current=True)
    ws.create_user("Bob Ops", "bob@elsewhere.example")
    return ctx


def open_wizard(qtbot: Any, ctx: AppContext, *, load: bool = True) -> CrmWizard:
    wizard = CrmWizard(ctx, "hubspot", connect_dialog=ConnectDialog)
    qtbot.addWidget(wizard)
    wizard.resize(1280, 800)
    wizard.show()
    if load:
        result = asyncio.run(wizard.data.load())
        assert not result.error, result.error
    return wizard


@pytest.fixture
def wizard(qtbot: Any, hubspot: AppContext) -> CrmWizard:
    return open_wizard(qtbot, hubspot)


def click(qtbot: Any, widget: Any) -> None:
    """Click a button; a radio button or check box on its indicator (a wide one has empty space at its centre)."""
    if isinstance(widget, QRadioButton | QCheckBox):
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(8, widget.height() // 2))
    else:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def has_focus(widget: Any) -> bool:
    """Whether ``widget`` (or its editor) is where the keyboard goes in its window (offscreen windows are never
    active, so ``hasFocus()`` cannot tell)."""
    focused = widget.window().focusWidget()
    return focused is not None and (focused is widget or widget.isAncestorOf(focused))


def to_step(wizard: CrmWizard, step: Step) -> Any:
    page = wizard.go_to(step)
    assert wizard.currentId() == int(step)
    return page


def export_page(wizard: CrmWizard) -> ExportPage:
    page = to_step(wizard, Step.EXPORT)
    assert isinstance(page, ExportPage)
    return page


def add_row(qtbot: Any, page: ExportPage, obj: ObjectType, kind: MappingKind) -> MappingRow:
    tab = page.tab_widgets[obj]
    page.tabs.setCurrentWidget(tab)
    click(qtbot, tab.sections[kind].add)
    return tab.rows[-1] if tab.rows[-1].mapping.kind is kind else next(r for r in tab.rows[::-1]
                                                                       if r.mapping.kind is kind)


def enginy_row(qtbot: Any, page: ExportPage, obj: ObjectType, source: str, crm_field: str) -> MappingRow:
    row = add_row(qtbot, page, obj, MappingKind.ENGINY)
    assert row.enginy is not None
    row.enginy.set_value(source)
    page.tab_widgets[obj].rows[row.index].crm.set_value(crm_field)
    return page.tab_widgets[obj].rows[row.index]


# -- opening, loading --------------------------------------------------------------------------------------------


def test_opens_as_four_steps_ending_with_update(wizard: CrmWizard) -> None:
    assert wizard.windowTitle() == "Configure HubSpot"
    assert wizard.pageIds() == [1, 2, 3, 4]
    assert wizard.currentId() == int(Step.SYNC)
    assert wizard.buttonText(B.FinishButton) == "Update"
    assert [p.heading.text() for p in wizard.pages.values()] == [
        "Step 1: Input / Sync Mapping", "Step 2: Export Mapping", "Step 3: Campaign Mapping (Optional)",
        "Step 4: User Mapping",
    ]  # fmt: skip
    strip = wizard.page_of(Step.SYNC).strip
    assert wizard.data.status == L.READY
    assert strip.label.text() == "HubSpot fields and users loaded just now."
    assert not strip.spinner.running
    assert wizard.state.snapshot is not None
    assert wizard.state.snapshot.crm_field("contact", "enginy_opens") is not None
    assert not wizard.button(B.CustomButton1).isVisible()  # Skip: only on the optional step


def test_loading_shows_a_spinner_and_retry_runs_in_the_background(qtbot: Any, hubspot: AppContext) -> None:
    wizard = open_wizard(qtbot, hubspot, load=False)
    strip = wizard.page_of(Step.SYNC).strip
    assert wizard.data.status == L.IDLE
    assert "have not been loaded yet" in strip.label.text()

    async def go() -> None:
        task = asyncio.ensure_future(wizard.data.load())
        await asyncio.sleep(0)
        assert strip.spinner.running  # the loop keeps running: the window is not frozen
        assert strip.label.text() == "Loading the HubSpot fields and users…"
        assert not strip.refresh_button.isEnabled()
        await task
        assert not strip.spinner.running
        click(qtbot, strip.refresh_button)  # Refresh: a task on the running loop, referenced until done
        tasks = list(wizard.data.tasks.running())  # the refresh (and the risk check the first load started)
        assert any(t.get_coro().__name__ == "load" for t in tasks)
        await asyncio.gather(*tasks)
        await asyncio.sleep(0)

    asyncio.run(go())
    assert wizard.data.status == L.READY
    assert not wizard.data.tasks.running()


# -- Step 1 ---------------------------------------------------------------------------------------------------------


def test_step1_contact_and_company_options(qtbot: Any, wizard: CrmWizard) -> None:
    page = wizard.page_of(Step.SYNC)
    contact, company = page.sections[ObjectType.CONTACT], page.sections[ObjectType.COMPANY]
    assert contact.radios[ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY].isChecked()  # the product's default
    assert contact.matches.text() == "Matches on: LinkedIn URL, OR First name AND Last name AND Company name"
    click(qtbot, contact.radios[ContactPreset.FIRST_LAST_COMPANY])
    assert wizard.state.config.contact_identifier.preset is ContactPreset.FIRST_LAST_COMPANY
    assert contact.matches.text() == "Matches on: First name AND Last name AND Company name"
    explanations = [w.text() for w in contact.findChildren(type(contact.matches)) if w.objectName() == "optionHelp"]
    assert "A contact matches when all three fields are the same in both Enginy and the CRM." in explanations
    assert any("LinkedIn profile URL is the same or all three name/company fields match" in t for t in explanations)
    assert any("AND/OR logic" in t for t in explanations)

    assert company.radios[CompanyPreset.DOMAIN].isChecked()
    click(qtbot, company.extension)
    assert wizard.state.config.company_identifier.include_any_extension
    assert company.matches.text() == "Matches on: Domain (any domain extension)"
    click(qtbot, company.radios[CompanyPreset.DOMAIN_OR_NAME])
    assert wizard.state.config.company_identifier.preset is CompanyPreset.DOMAIN_OR_NAME
    assert company.matches.text().startswith("Matches on: Domain, OR Company name")
    assert page.isComplete()
    assert "unsaved changes" in wizard.windowTitle()


def test_choosing_custom_opens_the_popup_and_cancel_goes_back(qtbot: Any, wizard: CrmWizard) -> None:
    page = wizard.page_of(Step.SYNC)
    company = page.sections[ObjectType.COMPANY]
    click(qtbot, company.radios[CompanyPreset.CUSTOM])
    dialog = page.dialog
    assert isinstance(dialog, CustomMappingDialog)
    assert dialog.isVisible()
    assert dialog.windowTitle() == "Custom Mapping — Company Identifier"
    assert dialog.summary.text() == "Matches when: Domain"  # starts from the option chosen now
    click(qtbot, dialog.cancel_button)
    assert not dialog.isVisible()
    assert company.radios[CompanyPreset.DOMAIN].isChecked()
    assert wizard.state.config.company_identifier.preset is CompanyPreset.DOMAIN


def test_custom_mapping_popup_builds_and_or_groups(qtbot: Any, wizard: CrmWizard) -> None:
    page = wizard.page_of(Step.SYNC)
    contact = page.sections[ObjectType.CONTACT]
    click(qtbot, contact.edit_custom)
    dialog = page.dialog
    assert isinstance(dialog, CustomMappingDialog)
    assert [len(g) for g in dialog.draft.groups] == [1, 3]
    # Keep "First name AND Last name" of group 2, drop the rest, and add "OR Email".
    click(qtbot, dialog.frames[1].rows[2].remove)
    click(qtbot, dialog.frames[0].remove)
    assert dialog.summary.text() == "Matches when: First name AND Last name"
    click(qtbot, dialog.add_group_button)
    assert len(dialog.frames) == 2
    new = dialog.frames[1].rows[0]
    assert has_focus(new.enginy)
    assert not dialog.ok_button.isEnabled()  # an incomplete condition is explained, not accepted
    assert "choose the Enginy field" in dialog.frames[1].message.text()
    assert "to complete before using this mapping" in dialog.problems_label.text()
    new.enginy.set_value("email")
    assert has_focus(new.crm)  # the Enginy field first, then the CRM field
    dialog.frames[1].rows[0].crm.set_value("email")
    assert dialog.ok_button.isEnabled()
    assert dialog.summary.text() == "Matches when: First name AND Last name, OR Email"
    # An empty group is explained too.
    click(qtbot, dialog.add_group_button)
    click(qtbot, dialog.frames[2].rows[0].remove)
    assert "Group 3 has no condition" in dialog.frames[2].message.text()
    assert not dialog.ok_button.isEnabled()
    click(qtbot, dialog.frames[2].remove)
    click(qtbot, dialog.ok_button)
    assert not dialog.isVisible()
    ident = wizard.state.config.contact_identifier
    assert ident.preset is ContactPreset.CUSTOM
    assert contact.radios[ContactPreset.CUSTOM].isChecked()
    assert contact.custom_summary.text() == "Custom mapping: First name AND Last name, OR Email"
    assert ident.custom is not None
    assert [[c.crm_field for c in g.conditions] for g in ident.custom.groups] == [["firstname", "lastname"], ["email"]]
    assert page.isComplete()


@pytest.mark.qt_log_ignore("This plugin does not support")  # the offscreen platform, when the popup shows
def test_searchable_pickers_show_label_name_and_type(qtbot: Any, wizard: CrmWizard) -> None:
    page = wizard.page_of(Step.SYNC)
    dialog = page.open_custom(ObjectType.CONTACT)
    picker = dialog.frames[0].rows[0].crm
    line = picker.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "jobt")  # type to search, arrows and Enter to pick
    popup = picker.completer().popup()
    assert popup.isVisible()
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert picker.value() == "jobtitle"
    assert dialog.draft.groups[0][0].crm_field == "jobtitle"
    qtbot.keyClicks(line, "zz")  # text that is no field is search text only: the choice stays
    line.editingFinished.emit()
    assert picker.currentText() == "Job Title"  # the label, never cut mid-word; the rest in the tooltip
    assert picker.toolTip() == "Job Title  ·  jobtitle  ·  text"
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert "Lifecycle Stage  ·  lifecyclestage  ·  picklist, 8 options" in texts
    completer = picker.completer()
    for search in ("jobtit", "JOB TITLE", "lifecycle"):  # by internal name, by label, any case
        completer.setCompletionPrefix(search)
        assert completer.completionCount() == 1, search
    completer.setCompletionPrefix("picklist")  # by type
    assert completer.completionCount() >= 2
    dialog.reject()


def test_duplicate_risk_check_on_the_current_data(qtbot: Any, wizard: CrmWizard, hubspot: AppContext,
                                                  tmp_path: Path) -> None:  # fmt: skip
    page = wizard.page_of(Step.SYNC)
    contact = page.sections[ObjectType.CONTACT]
    page.refresh_lists()
    assert contact.risk_text.text().startswith("Your workspace has no contacts yet")
    assert not contact.risk_button.isVisible()
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "First name,Last name,Company name,LinkedIn URL\n"
        "Ana,Ruiz,Acme,https://www.linkedin.com/in/ana-ruiz\n"
        "Leo,Diaz,Beta,https://es.linkedin.com/in/leo-diaz/\n", "utf-8")  # fmt: skip
    WorkspaceService(hubspot.store).import_csv(csv, "contact", "Prospects")
    page.refresh_lists()
    assert contact.risk_list.currentText() == "Prospects (2 contacts)"
    assert contact.risk_text.text().startswith("Press Check to compare “Prospects” with HubSpot")

    async def check() -> None:  # as the Check button does: a background task on the running loop
        click(qtbot, contact.risk_button)
        await asyncio.sleep(0)
        assert contact.risk_spinner.running
        assert "Comparing “Prospects” with HubSpot" in contact.risk_text.text()
        await asyncio.gather(*wizard.data.tasks.running())

    asyncio.run(check())
    assert contact.risk_box.property("state") == "ok"
    assert contact.risk_text.text() == (
        "On “Prospects” (2 contacts): no duplicate risk found — 2 match one HubSpot record, 0 would be new.")
    click(qtbot, contact.radios[ContactPreset.FIRST_LAST_COMPANY])
    assert "The identifier changed since the last check" in contact.risk_text.text()
    asyncio.run(wizard.data.check_risk([ObjectType.CONTACT]))  # what choosing the option starts in the app
    assert contact.risk_box.property("state") == "risk"
    text = contact.risk_text.text()
    assert "1 contact would be created again although it is in the CRM" in text
    assert "Review and tighten the Contact Identifier in Step 1." in text
    assert "Consider using the LinkedIn profile URL option." in text
    company = page.sections[ObjectType.COMPANY]
    assert company.risk_list.currentText() == "Prospects (2 contacts)"  # the contacts' companies


# -- Step 2 ---------------------------------------------------------------------------------------------------------


def test_step2_tabs_field_types_and_plus(qtbot: Any, wizard: CrmWizard) -> None:
    page = export_page(wizard)
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == ["Contacts (0)", "Companies (0)"]
    tab = page.tab_widgets[ObjectType.CONTACT]
    titles = [s.findChild(type(page.heading), "kindTitle").text() for s in tab.sections.values()]
    assert titles == ["Enginy Fields", "Fixed Fields", "Export Fields", "Engagement Fields"]
    helps = " ".join(lbl.text() for lbl in tab.findChildren(type(page.heading), "sectionHelp"))
    for words in ("Standard fields from your contact or company lists", "always export with the same static value",
                  "configure specifically at the time of export", "populated when an Activity is created"):  # fmt: skip
        assert words in helps
    row = add_row(qtbot, page, ObjectType.CONTACT, MappingKind.ENGINY)
    assert row.enginy is not None
    assert has_focus(row.enginy)
    assert not row.crm.isEnabled()  # the Enginy field first
    assert "Choose the Enginy field." in row.message.text()
    assert row.message.property("severity") == "hint"  # being filled in: said softly
    assert not page.isComplete()
    row.enginy.set_value("job_title")
    assert row.crm.isEnabled()
    assert has_focus(row.crm)
    row.crm.set_value("jobtitle")
    click(qtbot, row.overwrite)
    m = wizard.state.config.contact_mappings[0]
    assert (m.kind, m.source, m.crm_field, m.overwrite) == (MappingKind.ENGINY, "job_title", "jobtitle", True)
    assert page.isComplete()
    assert page.tabs.tabText(0) == "Contacts (1)"
    assert row.overwrite.toolTip().startswith("When checked, the value in Enginy replaces")


def test_fixed_values_have_typed_editors(qtbot: Any, wizard: CrmWizard) -> None:
    page = export_page(wizard)

    def fixed(crm_field: str, obj: ObjectType = ObjectType.CONTACT) -> tuple[MappingRow, ValueEditor]:
        row = add_row(qtbot, page, obj, MappingKind.FIXED)
        row.crm.set_value(crm_field)
        row = page.tab_widgets[obj].rows[row.index]
        assert row.value is not None
        return row, row.value

    row, editor = fixed("jobtitle")
    assert isinstance(editor.editor, QLineEdit)
    qtbot.keyClicks(editor.editor, "Enginy")
    assert row.mapping.value == "Enginy"

    row, editor = fixed("lifecyclestage")
    assert isinstance(editor.editor, QComboBox)
    combo = editor.editor
    assert [combo.itemText(i) for i in range(1, 4)] == ["Subscriber", "Lead", "Marketing Qualified Lead"]
    combo.setCurrentIndex(combo.findText("Customer"))
    assert row.mapping.value == "customer"

    row, editor = fixed("enginy_opens")
    assert isinstance(editor.editor, QLineEdit)
    qtbot.keyClicks(editor.editor, "12x")  # a number editor refuses letters
    assert row.mapping.value == "12"

    row, editor = fixed("enginy_last_touch")
    assert isinstance(editor.editor, QDateEdit)
    assert editor.editor.text() == "Choose a date"
    editor.editor.setDate(editor.editor.date().fromString("2025-03-31", "yyyy-MM-dd"))
    assert row.mapping.value == "2025-03-31"

    row, editor = fixed("enginy_vip")
    assert isinstance(editor.editor, QComboBox)
    editor.editor.setCurrentIndex(editor.editor.findText("Yes"))
    assert row.mapping.value == "true"

    row, editor = fixed("enginy_channels")
    assert isinstance(editor.editor, QToolButton)
    actions = editor.editor.menu().actions()
    actions[0].setChecked(True)
    actions[1].setChecked(True)
    assert row.mapping.value == "email;linkedin"
    assert editor.editor.text() == "Email, LinkedIn"

    row, editor = fixed("hubspot_owner_id")
    assert isinstance(editor.editor, QComboBox)
    owner = wizard.state.snapshot.users[1]
    editor.editor.setCurrentIndex(editor.editor.findData(owner.id))
    assert row.mapping.value == owner.id

    row, editor = fixed("numberofemployees", ObjectType.COMPANY)
    qtbot.keyClicks(editor.editor, "250")
    assert wizard.state.config.company_mappings[0].value == "250"
    assert page.isComplete(), [p.message for p in page._problems]


def test_export_and_engagement_rows_reorder_and_remove(qtbot: Any, wizard: CrmWizard) -> None:
    page = export_page(wizard)
    tab = page.tab_widgets[ObjectType.CONTACT]
    row = add_row(qtbot, page, ObjectType.CONTACT, MappingKind.EXPORT)
    row.crm.set_value("hs_lead_status")
    assert tab.rows[0].findChild(type(page.heading), "askedAtExport").text() == "Value asked when you export"
    row = add_row(qtbot, page, ObjectType.CONTACT, MappingKind.ENGAGEMENT)
    assert row.engagement is not None
    assert row.mapping.source == "last_activity_date"
    row.engagement.setCurrentIndex(row.engagement.findData("last_activity_channel"))
    row.crm.set_value("enginy_sequence_status")
    row = add_row(qtbot, page, ObjectType.CONTACT, MappingKind.ENGAGEMENT)
    row.crm.set_value("enginy_last_touch")
    rows = wizard.state.config.contact_mappings
    assert [(m.kind, m.source, m.crm_field) for m in rows] == [
        (MappingKind.EXPORT, "", "hs_lead_status"),
        (MappingKind.ENGAGEMENT, "last_activity_channel", "enginy_sequence_status"),
        (MappingKind.ENGAGEMENT, "last_activity_date", "enginy_last_touch"),
    ]
    assert page.isComplete(), [p.message for p in page._problems]
    click(qtbot, tab.rows[2].up)
    assert [m.crm_field for m in rows] == ["hs_lead_status", "enginy_last_touch", "enginy_sequence_status"]
    assert has_focus(tab.rows[1].up)  # the keyboard stays on the moved row
    click(qtbot, tab.rows[0].up)  # the first of its kind: nothing to swap with
    assert rows[0].crm_field == "hs_lead_status"
    click(qtbot, tab.rows[1].remove)
    assert [m.crm_field for m in rows] == ["hs_lead_status", "enginy_sequence_status"]
    assert len(tab.rows) == 2


def test_suggestions_by_name_are_confirmed_by_the_user(qtbot: Any, wizard: CrmWizard) -> None:
    page = export_page(wizard)
    tab = page.tab_widgets[ObjectType.CONTACT]
    click(qtbot, tab.suggest)
    dialog = page.dialog
    assert isinstance(dialog, SuggestionsDialog)
    pairs = {(s.source, s.target) for s in dialog.suggestions}
    assert {("first_name", "firstname"), ("job_title", "jobtitle"), ("linkedin_url", "hs_linkedin_url")} <= pairs
    assert not wizard.state.config.contact_mappings  # nothing added before the user says so
    dialog.findChild(QCheckBox, "suggestion-phone").setChecked(False)
    assert dialog.add_button.text() == f"Add {len(pairs) - 1} mappings"
    click(qtbot, dialog.add_button)
    mapped = {(m.source, m.crm_field) for m in wizard.state.config.contact_mappings}
    assert mapped == pairs - {("phone", "phone")}
    assert len(tab.rows) == len(mapped)
    assert page.isComplete(), [p.message for p in page._problems]


def test_a_misplaced_field_is_marked_and_cannot_be_saved(qtbot: Any, wizard: CrmWizard, hubspot: AppContext) -> None:
    page = export_page(wizard)
    row = enginy_row(qtbot, page, ObjectType.CONTACT, "first_name", "domain")  # a company field, Contacts tab
    assert row.crm.is_foreign()
    assert row.property("invalid") == "true"
    assert row.message.property("severity") == "error"
    assert TROUBLESHOOTING_CROSS_OBJECT in row.message.text()
    assert "is a company field of the CRM, mapped in the Contacts tab" in row.message.text()
    assert not page.isComplete()
    assert not wizard.button(B.NextButton).isEnabled()
    assert page.banner.isVisible()
    assert page.tabs.tabText(0) == "Contacts (1) · 1 to fix"
    company_row = enginy_row(qtbot, page, ObjectType.COMPANY, "name", "jobtitle")  # a contact field, Companies tab
    assert company_row.property("invalid") == "true"
    assert "is a contact field of the CRM, mapped in the Companies tab" in company_row.message.text()
    # Even if Update is pressed, nothing is saved and the page stays on the problem.
    wizard.accept()
    assert wizard.isVisible()
    assert wizard.currentId() == int(Step.EXPORT)
    assert page.banner.text().startswith("Not saved yet.")
    assert not hubspot.crm_configs.has_saved("hubspot")
    click(qtbot, page.tab_widgets[ObjectType.CONTACT].rows[0].remove)
    page.tabs.setCurrentIndex(1)
    click(qtbot, page.tab_widgets[ObjectType.COMPANY].rows[0].remove)
    assert page.isComplete()


def test_destructive_association_type_asks_first(qtbot: Any, wizard: CrmWizard) -> None:
    page = export_page(wizard)
    radios = page.association_radios
    assert radios[AssociationType.ADDITIONAL].isChecked()
    assert [r.text() for r in radios.values()] == [
        "Add as additional association", "Add association as Primary",
        "Associate as Primary and remove previous associations",
    ]  # fmt: skip
    click(qtbot, radios[AssociationType.PRIMARY])
    assert wizard.state.config.association_type is AssociationType.PRIMARY
    assert not page.association_note.isVisible()
    click(qtbot, radios[AssociationType.PRIMARY_REMOVE_PREVIOUS])
    box = page.dialog
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert box.text() == PRIMARY_REMOVE_WARNING
    assert "can result in data loss" in box.informativeText()
    assert box.defaultButton().objectName() == "confirmRemoveNo"  # the safe choice is the default
    assert wizard.state.config.association_type is AssociationType.PRIMARY  # not before it is confirmed
    assert radios[AssociationType.PRIMARY].isChecked()
    click(qtbot, box.findChild(type(box.defaultButton()), "confirmRemoveNo"))
    assert wizard.state.config.association_type is AssociationType.PRIMARY
    click(qtbot, radios[AssociationType.PRIMARY_REMOVE_PREVIOUS])
    box = page.dialog
    click(qtbot, box.findChild(type(box.defaultButton()), "confirmRemoveYes"))
    assert wizard.state.config.association_type is AssociationType.PRIMARY_REMOVE_PREVIOUS
    assert radios[AssociationType.PRIMARY_REMOVE_PREVIOUS].isChecked()
    assert page.association_note.isVisible()
    assert PRIMARY_REMOVE_WARNING in page.association_note.text()


def test_association_note_for_a_crm_without_primary_companies(wizard: CrmWizard) -> None:
    import dataclasses

    page = export_page(wizard)
    wizard.state.snapshot = dataclasses.replace(wizard.state.snapshot, multiple_companies=False)
    wizard.state.config.association_type = AssociationType.ADDITIONAL
    page.render_state()
    assert "links a contact to one company only" in page.association_note.text()


def test_back_and_next_keep_edits(qtbot: Any, wizard: CrmWizard) -> None:
    page = export_page(wizard)
    enginy_row(qtbot, page, ObjectType.CONTACT, "email", "email")
    click(qtbot, wizard.button(B.NextButton))
    assert wizard.currentId() == int(Step.CAMPAIGN)
    click(qtbot, wizard.button(B.BackButton))
    click(qtbot, wizard.button(B.BackButton))
    assert wizard.currentId() == int(Step.SYNC)
    click(qtbot, wizard.button(B.NextButton))
    tab = page.tab_widgets[ObjectType.CONTACT]
    assert len(tab.rows) == 1
    assert tab.rows[0].crm.value() == "email"


# -- Step 3 ---------------------------------------------------------------------------------------------------------


def test_step3_eight_properties_optional_and_skippable(qtbot: Any, wizard: CrmWizard) -> None:
    page = to_step(wizard, Step.CAMPAIGN)
    assert [r.prop.label for r in page.rows.values()] == [
        "Campaign Sequence Details", "Campaign Engagement Status", "Campaign Opens", "Campaign Clicks",
        "Campaign Open Analysis", "Campaign Click Analysis", "Campaign Reply Analysis", "Sequence Status",
    ]  # fmt: skip
    hints = {r.prop: r.findChild(type(page.heading), "exampleHint").text() for r in page.rows.values()}
    assert hints[CampaignProperty.SEQUENCE_DETAILS] == (
        "Example: 1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn")
    assert hints[CampaignProperty.SEQUENCE_STATUS] == "Example: Not Started · Ongoing · Replied · Finished"
    assert "Message Replied (3/3) - LinkedIn" in hints[CampaignProperty.ENGAGEMENT_STATUS]
    assert all(r.picker.currentText() == "Not mapped" for r in page.rows.values())
    assert page.isComplete()  # nothing mapped is fine
    assert wizard.button(B.CustomButton1).isVisible()
    assert wizard.buttonText(B.CustomButton1) == "Skip this step"

    opens = page.rows[CampaignProperty.OPENS].picker
    opens.set_value("enginy_opens")
    page.rows[CampaignProperty.SEQUENCE_STATUS].picker.set_value("enginy_sequence_status")
    assert wizard.state.config.campaign_mappings == {
        CampaignProperty.OPENS: "enginy_opens", CampaignProperty.SEQUENCE_STATUS: "enginy_sequence_status",
    }  # fmt: skip
    page.rows[CampaignProperty.CLICKS].picker.set_value("enginy_last_touch")  # a date: cannot hold a number
    row = page.rows[CampaignProperty.CLICKS]
    assert row.property("invalid") == "true"
    assert "Campaign Clicks is a number" in row.message.text()
    assert not page.isComplete()
    row.picker.set_value("")  # back to "Not mapped"
    assert CampaignProperty.CLICKS not in wizard.state.config.campaign_mappings
    assert page.isComplete()
    click(qtbot, wizard.button(B.CustomButton1))
    assert wizard.currentId() == int(Step.USERS)
    assert not wizard.button(B.CustomButton1).isVisible()


def test_step3_suggests_fields_by_name(wizard: CrmWizard) -> None:
    page = to_step(wizard, Step.CAMPAIGN)
    assert page.apply_suggestions() == 2
    assert wizard.state.config.campaign_mappings == {
        CampaignProperty.OPENS: "enginy_opens", CampaignProperty.SEQUENCE_STATUS: "enginy_sequence_status",
    }  # fmt: skip
    assert page.rows[CampaignProperty.OPENS].picker.value() == "enginy_opens"


# -- Step 4 ---------------------------------------------------------------------------------------------------------


def test_step4_without_users_or_identities_says_where_to_add_them(qtbot: Any, ctx: AppContext, sandbox: Any) -> None:
    ctx.integrations.save_connection("hubspot", {"token": DEFAULT_TOKEN, "base_url": sandbox.url})
    ctx.integrations.enable("hubspot")
    wizard = open_wizard(qtbot, ctx, load=False)
    page = to_step(wizard, Step.USERS)
    empty = [label.text() for label in page.findChildren(QLabel, "emptyRows")]
    assert empty == ["No identities in this workspace yet: add them on the Team & identities page (importing a "
                     "campaign adds its identity too).",
                     "No Enginy users in this workspace yet: add them on the Team & identities page."]


def test_step4_identities_users_and_default_owner(qtbot: Any, wizard: CrmWizard, sandbox: Any) -> None:
    page = to_step(wizard, Step.USERS)
    owners = wizard.state.snapshot.users
    identities, users = page.identities.rows, page.users.rows
    assert [r.findChild(type(page.heading), "personName").text() for r in identities] == [
        "Jane on LinkedIn", "Jane's mailbox"]
    assert [r.findChild(type(page.heading), "personName").text() for r in users] == ["Bob Ops", "Jane Sales"]
    assert all(r.property("unmapped") == "true" for r in [*identities, *users])
    assert "not mapped to a CRM user" in identities[0].message.text()
    assert page.identities.summary.text() == "⚠ 2 of 2 not mapped to a CRM user."
    assert page.isComplete()  # unmapped ones are flagged, not blocking
    identities[0].picker.set_value(owners[1].id)
    assert wizard.state.config.identity_mappings == {identities[0].person_id: owners[1].id}
    assert identities[0].property("unmapped") == "false"
    assert page.identities.summary.text() == "⚠ 1 of 2 not mapped to a CRM user."
    assert page.apply_suggestions() == 2  # Jane's mailbox and Jane Sales share the first owner's email
    assert wizard.state.config.identity_mappings[identities[1].person_id] == str(sandbox.state.owners[0]["id"])
    assert wizard.state.config.user_mappings == {users[1].person_id: str(sandbox.state.owners[0]["id"])}
    assert users[0].property("unmapped") == "true"  # Bob has no CRM user
    page.owner.set_value(owners[2].id)
    assert wizard.state.config.default_owner == owners[2].id
    assert "the default owner" in users[0].message.text()


# -- Update, reopen, Cancel ------------------------------------------------------------------------------------------


def test_update_saves_and_reopening_shows_exactly_what_was_saved(qtbot: Any, wizard: CrmWizard,
                                                                 hubspot: AppContext) -> None:  # fmt: skip
    sync = wizard.page_of(Step.SYNC)
    click(qtbot, sync.sections[ObjectType.COMPANY].extension)
    click(qtbot, sync.sections[ObjectType.COMPANY].radios[CompanyPreset.DOMAIN_OR_NAME])
    page = export_page(wizard)
    row = enginy_row(qtbot, page, ObjectType.CONTACT, "job_title", "jobtitle")
    click(qtbot, row.overwrite)
    fixed = add_row(qtbot, page, ObjectType.CONTACT, MappingKind.FIXED)
    fixed.crm.set_value("lifecyclestage")
    value = page.tab_widgets[ObjectType.CONTACT].rows[fixed.index].value
    value.editor.setCurrentIndex(value.editor.findData("lead"))
    enginy_row(qtbot, page, ObjectType.COMPANY, "industry", "industry")
    click(qtbot, page.association_radios[AssociationType.PRIMARY])
    campaign = to_step(wizard, Step.CAMPAIGN)
    campaign.rows[CampaignProperty.OPENS].picker.set_value("enginy_opens")
    users = to_step(wizard, Step.USERS)
    users.apply_suggestions()
    users.owner.set_value(wizard.state.snapshot.users[0].id)
    expected = wizard.state.config.to_dict()
    with qtbot.waitSignal(wizard.saved, timeout=1000):
        click(qtbot, wizard.button(B.FinishButton))
    assert not wizard.isVisible()
    assert wizard.result() == QWizard.DialogCode.Accepted
    assert hubspot.crm_configs.load("hubspot").to_dict() == expected

    again = open_wizard(qtbot, hubspot, load=False)  # from the cache: no request needed
    assert again.data.status == L.CACHED
    assert again.state.config.to_dict() == expected
    assert not again.state.dirty
    sync = again.page_of(Step.SYNC)
    assert sync.sections[ObjectType.COMPANY].radios[CompanyPreset.DOMAIN_OR_NAME].isChecked()
    assert sync.sections[ObjectType.COMPANY].extension.isChecked()
    page = export_page(again)
    rows = page.tab_widgets[ObjectType.CONTACT].rows
    assert [(r.crm.value(), r.overwrite.isChecked()) for r in rows] == [("jobtitle", True), ("lifecyclestage", False)]
    assert rows[1].value.value() == "lead"
    assert rows[1].value.editor.currentText() == "Lead"
    assert page.association_radios[AssociationType.PRIMARY].isChecked()
    campaign = to_step(again, Step.CAMPAIGN)
    assert campaign.rows[CampaignProperty.OPENS].picker.value() == "enginy_opens"
    users = to_step(again, Step.USERS)
    assert users.owner.value() == again.state.snapshot.users[0].id
    assert [r.picker.value() for r in users.users.rows] == [
        again.state.config.user_mappings.get(r.person_id, "") for r in users.users.rows]
    assert not again.state.dirty  # rendering changed nothing
    again.reject()
    assert not again.isVisible()  # no edits: closes without asking


def test_update_jumps_to_the_page_of_a_problem(qtbot: Any, wizard: CrmWizard, hubspot: AppContext) -> None:
    to_step(wizard, Step.USERS)
    # Something that only shows later, e.g. a field turned read-only in the CRM since the row was made.
    wizard.state.add_row(ObjectType.CONTACT, MappingKind.ENGINY, source="first_name", crm_field="createdate")
    click(qtbot, wizard.button(B.FinishButton))
    assert wizard.isVisible()
    assert wizard.currentId() == int(Step.EXPORT)
    page = wizard.page_of(Step.EXPORT)
    row = page.tab_widgets[ObjectType.CONTACT].rows[0]
    assert row.property("invalid") == "true"
    assert "read-only in the CRM" in row.message.text()
    assert not hubspot.crm_configs.has_saved("hubspot")


def test_cancel_with_edits_asks_before_discarding(qtbot: Any, wizard: CrmWizard, hubspot: AppContext) -> None:
    click(qtbot, wizard.page_of(Step.SYNC).sections[ObjectType.CONTACT].radios[ContactPreset.FIRST_LAST_COMPANY])
    click(qtbot, wizard.button(B.CancelButton))
    box = wizard.dialog
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert box.text() == "Discard your changes to the HubSpot configuration?"
    assert box.defaultButton().objectName() == "confirmDiscardNo"
    click(qtbot, box.defaultButton())
    assert wizard.isVisible()
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)  # Escape asks too
    box = wizard.dialog
    assert box.isVisible()
    click(qtbot, box.findChild(type(box.defaultButton()), "confirmDiscardYes"))
    assert not wizard.isVisible()
    assert wizard.result() == QWizard.DialogCode.Rejected
    assert not hubspot.crm_configs.has_saved("hubspot")
    again = open_wizard(qtbot, hubspot, load=False)
    assert again.state.config.contact_identifier.preset is ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY


# -- offline -------------------------------------------------------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_offline_works_from_the_cache_and_says_so(qtbot: Any, wizard: CrmWizard, hubspot: AppContext) -> None:
    fetched = wizard.state.snapshot.fetched_at
    wizard.close()
    # The CRM is out of reach:
    hubspot.integrations.save_connection("hubspot", {"token": DEFAULT_TOKEN, "base_url": _dead_url()})
    again = open_wizard(qtbot, hubspot, load=False)
    result = asyncio.run(again.data.load(refresh=True))
    assert result.offline
    assert again.data.status == L.OFFLINE
    strip = again.page_of(Step.SYNC).strip
    from enginy_desktop.views.formatting import when

    assert strip.label.text().startswith(f"Working from the CRM fields saved on {when(fetched)}")
    assert "Could not reach HubSpot at" in strip.label.text()
    assert "could not be reached" not in strip.label.text()  # said once
    assert "ConnectError" not in strip.label.text()  # the technical part is folded under "Details"
    assert strip.details.isVisible()
    assert "ConnectError" in strip.details.detail()
    assert DEFAULT_TOKEN not in strip.label.text() + strip.details.detail()
    assert strip.refresh_button.text() == "Retry"
    assert strip.connection_button.isVisible()
    assert strip.property("state") == "offline"
    page = export_page(again)
    row = enginy_row(qtbot, page, ObjectType.CONTACT, "job_title", "jobtitle")  # the cached fields still work
    assert row.property("invalid") == "false"
    again.go_to(Step.USERS)
    with qtbot.waitSignal(again.saved, timeout=1000):
        click(qtbot, again.button(B.FinishButton))
    assert hubspot.crm_configs.load("hubspot").contact_mappings[0].crm_field == "jobtitle"


def test_no_cache_and_no_crm_asks_before_saving_unchecked(qtbot: Any, hubspot: AppContext) -> None:
    hubspot.integrations.save_connection("hubspot", {"token": DEFAULT_TOKEN, "base_url": _dead_url()})
    wizard = open_wizard(qtbot, hubspot, load=False)
    asyncio.run(wizard.data.load())
    assert wizard.data.status == L.FAILED
    strip = wizard.page_of(Step.SYNC).strip
    assert "could not be loaded, so the field lists are empty" in strip.label.text()
    click(qtbot, strip.connection_button)  # the connection settings are reachable from here
    assert isinstance(wizard.dialog, ConnectDialog)
    wizard.dialog.reject()
    wizard.go_to(Step.USERS)
    click(qtbot, wizard.button(B.FinishButton))
    box = wizard.dialog
    assert box.objectName() == "confirmUncheckedSave"
    click(qtbot, box.defaultButton())  # Keep editing
    assert wizard.isVisible()
    click(qtbot, wizard.button(B.FinishButton))
    click(qtbot, next(b for b in wizard.dialog.buttons() if b.text() == "Save anyway"))
    assert not wizard.isVisible()
    assert hubspot.crm_configs.has_saved("hubspot")


# -- keyboard and the Integrations page ------------------------------------------------------------------------------


def test_keyboard_only(qtbot: Any, wizard: CrmWizard) -> None:
    page = wizard.page_of(Step.SYNC)
    contact = page.sections[ObjectType.CONTACT]
    radio = contact.radios[ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY]
    radio.setFocus()
    qtbot.keyClick(radio, Qt.Key.Key_Up)  # arrows move between the options
    assert wizard.state.config.contact_identifier.preset is ContactPreset.FIRST_LAST_COMPANY
    order = []
    widget = radio

    for _ in range(12):
        widget = widget.nextInFocusChain()
        while not (widget.focusPolicy() & Qt.FocusPolicy.TabFocus) or not widget.isVisible():
            widget = widget.nextInFocusChain()
        order.append(widget.objectName() or type(widget).__name__)
    # Tab goes down the page in reading order; in a group of options only the chosen one takes Tab (the arrows
    # move between them).
    assert order.index("contactEditCustom") < order.index("companyPreset-domain") < order.index("includeAnyExtension")
    assert "contactPreset-custom" not in order
    qtbot.keyClick(radio, Qt.Key.Key_Return)  # Enter: the default button, Next
    assert wizard.currentId() == int(Step.EXPORT)
    export = wizard.page_of(Step.EXPORT)
    add = export.tab_widgets[ObjectType.CONTACT].sections[MappingKind.ENGINY].add
    add.setFocus()
    qtbot.keyClick(add, Qt.Key.Key_Space)
    row = export.tab_widgets[ObjectType.CONTACT].rows[0]
    assert has_focus(row.enginy)
    assert not add.autoDefault()  # only Next / Update answer Enter


def test_configure_on_the_crm_card_opens_the_wizard(qtbot: Any, window: Any, hubspot: AppContext) -> None:
    page = window.integrations_page
    page.refresh()
    click(qtbot, window.findChild(object, "configure-hubspot"))
    wizard = page.current_dialog
    assert isinstance(wizard, CrmWizard)
    assert wizard.isVisible()
    assert wizard.windowTitle() == "Configure HubSpot"
    click(qtbot, wizard.button(B.CustomButton2))  # Connection…
    assert isinstance(wizard.dialog, ConnectDialog)
    wizard.dialog.reject()
    wizard.reject()
    assert page.current_dialog is None


def test_the_problems_banner_does_not_move_the_rows(qtbot: Any, wizard: CrmWizard) -> None:
    """The banner appears under the rows: the row under the mouse stays where it was."""
    from PySide6.QtCore import QPoint

    page = export_page(wizard)
    top = page.scroll_area.mapTo(wizard, QPoint(0, 0)).y()
    enginy_row(qtbot, page, ObjectType.CONTACT, "first_name", "domain")  # a problem: the banner shows
    qtbot.wait(10)
    assert page.banner.isVisible()
    assert page.scroll_area.mapTo(wizard, QPoint(0, 0)).y() == top


def test_no_step_cuts_a_word_at_1280_or_at_the_minimum_size(qtbot: Any, wizard: CrmWizard) -> None:
    """At the wizard's minimum width the stepper shows the current step's name and the others' numbers (their
    names in tooltips) instead of cutting all four names mid-word."""
    from tests.ui.test_clipping import cut_texts

    problems = []
    for step in Step:
        to_step(wizard, step)
        for size in ((1280, 800), (wizard.minimumWidth(), wizard.minimumHeight())):
            wizard.resize(*size)
            for _ in range(3):
                QCoreApplication.processEvents()
            problems += [f"step {int(step)} at {size[0]}×{size[1]}: {p}" for p in cut_texts(wizard)]
            stepper = wizard.currentPage().stepper
            current = stepper.labels[step].text()
            assert current.startswith(f"{int(step)}  "), current  # the current step is always named
    assert not problems, "\n".join(problems)
    stepper = wizard.currentPage().stepper
    assert [label.text() for label in stepper.labels.values()][:3] == ["1", "2", "3"]  # narrow: numbers
    assert stepper.labels[Step.EXPORT].toolTip() == "Step 2: Export Mapping"
