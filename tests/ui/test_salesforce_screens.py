"""Salesforce in the window, against its emulator on loopback: the connection dialog (consumer key, login URL, a
session token as the alternative; Test connection with the org, its edition and the daily API requests left) and
the wizard on Salesforce's fields (picklists with their values, the contact's one account)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import MappingKind, ObjectType, Step
from enginy_desktop.sandbox.crm.salesforce import DEFAULT_TOKEN, SalesforceSandboxConfig, create_app
from enginy_desktop.sandbox.kit.server import serve
from enginy_desktop.views.connect_dialog import ConnectDialog
from enginy_desktop.wizard import CrmWizard


@pytest.fixture(autouse=True)
def _delete_closed_windows(qapp: Any) -> Iterator[None]:
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with serve(create_app(SalesforceSandboxConfig(seed_contacts=5, daily_requests=15000))) as url:
        yield url


def _grab(widget: Any, name: str) -> None:
    folder = os.environ.get("ENGINY_GRAB_DIR")
    if folder:
        widget.grab().save(os.path.join(folder, name))


def test_connection_dialog_signs_in_or_takes_a_session_and_shows_the_org(
        qtbot: Any, ctx: AppContext, sandbox_url: str) -> None:
    dialog = ConnectDialog(ctx, catalog.get("salesforce"))
    qtbot.addWidget(dialog)
    dialog.resize(640, 720)
    dialog.show()
    assert {"client_id", "client_secret", "login_url", "access_token",
            "daily_api_requests"} <= set(dialog.rows)
    _grab(dialog, "salesforce_connect.png")
    dialog.rows["access_token"].editor.setText(DEFAULT_TOKEN)
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog._save_values()
    result = asyncio.run(dialog.run_test())
    assert result.ok, result.message
    assert "Sandbox Org (Developer Edition)" in result.message
    assert "Daily API requests:" in result.message
    assert "of 15,000 left" in result.message
    assert DEFAULT_TOKEN not in dialog.test_result.text()
    _grab(dialog, "salesforce_connect_tested.png")


def test_the_wizard_works_on_salesforces_fields(qtbot: Any, ctx: AppContext, sandbox_url: str) -> None:
    ctx.integrations.save_connection("salesforce", {"access_token": DEFAULT_TOKEN, "base_url": sandbox_url})
    ctx.integrations.enable("salesforce")
    wizard = CrmWizard(ctx, "salesforce", connect_dialog=ConnectDialog)
    qtbot.addWidget(wizard)
    wizard.resize(1280, 800)
    wizard.show()
    result = asyncio.run(wizard.data.load())
    assert not result.error, result.error
    page = wizard.go_to(Step.EXPORT)
    tab = page.tab_widgets[ObjectType.CONTACT]
    page.tabs.setCurrentWidget(tab)
    tab.sections[MappingKind.ENGINY].add.click()
    row = tab.rows[-1]
    row.enginy.set_value("job_title")
    tab.rows[row.index].crm.set_value("Title")
    row = tab.rows[row.index]
    assert row.crm.value() == "Title"
    assert row.crm.currentText().startswith("Title")
    page.render_state()
    assert "one company only" in page.association_note.text()
    _grab(wizard, "salesforce_wizard_export.png")
    assert wizard.state.config.crm == "salesforce"


def test_step_2_chooses_contacts_or_leads_and_the_field_lists_follow(
        qtbot: Any, ctx: AppContext, sandbox_url: str) -> None:
    ctx.integrations.save_connection("salesforce", {"access_token": DEFAULT_TOKEN, "base_url": sandbox_url})
    ctx.integrations.enable("salesforce")
    assert "contact_object" not in {f.name for f in catalog.get("salesforce").fields}  # no longer a connection field
    wizard = CrmWizard(ctx, "salesforce", connect_dialog=ConnectDialog)
    qtbot.addWidget(wizard)
    wizard.resize(1280, 860)
    wizard.show()
    assert not asyncio.run(wizard.data.load()).error
    page = wizard.go_to(Step.EXPORT)
    assert list(page.people_radios) == ["Contacts", "Leads"]
    assert page.people_radios["Contacts"].isChecked()  # the default
    assert page.people_note is not None
    assert not page.people_note.isVisible()

    def contact_fields() -> set[str]:
        snapshot = wizard.state.snapshot
        assert snapshot is not None
        return {f.name for f in snapshot.fields_of(ObjectType.CONTACT)}

    assert "AccountId" in contact_fields()
    assert "Company" not in contact_fields()

    page.people_radios["Leads"].setChecked(True)
    assert wizard.state.config.people_object == "Leads"
    assert wizard.data.needs_fetch()  # the fields shown are the Contact object's until read again
    assert not asyncio.run(wizard.data.load()).error
    assert "Company" in contact_fields()  # a Lead's company is its Company text…
    assert "AccountId" not in contact_fields()  # …it has no account
    assert wizard.state.snapshot is not None
    assert wizard.state.snapshot.identifier_fields_of(ObjectType.CONTACT)["company_name"] == "Company"
    assert page.people_note.isVisible()
    assert "Leads have no account" in page.people_note.text()
    tab = page.tab_widgets[ObjectType.CONTACT]
    tab.sections[MappingKind.ENGINY].add.click()
    row = tab.rows[-1]
    row.enginy.set_value("company_name")
    tab.rows[row.index].crm.set_value("Company")
    QCoreApplication.processEvents()
    _grab(wizard, "salesforce_wizard_leads.png")
    assert wizard.save()
    assert ctx.crm_configs.load("salesforce").people_object == "Leads"
    adapter = ctx.adapters.crm("salesforce")  # every later sync, export and check works on Leads
    assert getattr(adapter, "leads", False)
    asyncio.run(adapter.aclose())
