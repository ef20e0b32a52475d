"""Pipedrive in the window, against its emulator on loopback: the connection dialog (plan, seats, Test connection
with the company and the daily token budget), the four-step wizard on Pipedrive's fields (custom fields by label,
options by id, one company per person), and the wizard saving the same configuration on HubSpot and Pipedrive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import AssociationType, MappingKind, ObjectType, Step
from enginy_desktop.sandbox.crm.pipedrive import DEFAULT_TOKEN, PipedriveSandboxConfig, create_app, custom_key
from enginy_desktop.sandbox.kit.server import serve
from enginy_desktop.views.connect_dialog import ConnectDialog
from enginy_desktop.wizard import CrmWizard
from tests.support.crm_world import CRMS


@pytest.fixture(autouse=True)
def _delete_closed_windows(qapp: Any) -> Iterator[None]:
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with serve(create_app(PipedriveSandboxConfig(seed_persons=5))) as url:
        yield url


def test_connection_dialog_asks_for_plan_and_seats_and_tests_the_connection(
        qtbot: Any, ctx: AppContext, sandbox_url: str) -> None:
    dialog = ConnectDialog(ctx, catalog.get("pipedrive"))
    qtbot.addWidget(dialog)
    dialog.show()
    assert {"api_token", "client_id", "plan", "seats", "daily_token_budget"} <= set(dialog.rows)
    dialog.rows["api_token"].editor.setText(DEFAULT_TOKEN)
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog.rows["seats"].editor.setText("2")
    dialog._save_values()
    result = asyncio.run(dialog.run_test())
    assert result.ok, result.message
    assert "Sandbox Company" in dialog.test_result.text()
    assert "daily budget is 240,000 tokens" in result.message  # Professional (x4), 2 seats
    assert DEFAULT_TOKEN not in dialog.test_result.text()
    assert ctx.integrations.settings("pipedrive")["seats"] == "2"


def test_the_wizard_works_on_pipedrives_fields(qtbot: Any, ctx: AppContext, sandbox_url: str) -> None:
    ctx.integrations.save_connection("pipedrive", {"api_token": DEFAULT_TOKEN, "base_url": sandbox_url})
    ctx.integrations.enable("pipedrive")
    wizard = CrmWizard(ctx, "pipedrive", connect_dialog=ConnectDialog)
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
    tab.rows[row.index].crm.set_value(custom_key("Lead source"))
    row = tab.rows[row.index]
    assert row.crm.value() == custom_key("Lead source")  # the hashed key...
    assert row.crm.currentText().startswith("Lead source")  # ...shown by its label
    assert row.mapping.crm_field == custom_key("Lead source")
    page.render_state()
    assert "one company only" in page.association_note.text()
    wizard.state.config.association_type = AssociationType.PRIMARY
    page.render_state()
    assert wizard.state.config.crm == "pipedrive"


@pytest.mark.parametrize("crm", CRMS)
def test_the_wizard_saves_the_same_configuration_on_either_crm(qtbot: Any, ctx: AppContext, crm: str) -> None:
    from PySide6.QtWidgets import QWizard

    from tests.support.crm_world import FIELDS, emulator, token_of

    field, secret = token_of(crm)
    with serve(emulator(crm)) as url:
        ctx.integrations.save_connection(crm, {field: secret, "base_url": url})
        ctx.integrations.enable(crm)
        wizard = CrmWizard(ctx, crm, connect_dialog=ConnectDialog)
        qtbot.addWidget(wizard)
        wizard.show()
        result = asyncio.run(wizard.data.load())
        assert not result.error, result.error
        if any("LinkedIn" in str(p) for p in wizard.state.problems()):
            # This CRM has no LinkedIn field for contacts (Zoho, Dynamics): the name-and-company identifier.
            from enginy_desktop.core.matching.rules import ContactPreset

            wizard.go_to(Step.SYNC)
            wizard.state.set_contact_preset(ContactPreset.FIRST_LAST_COMPANY)
        page = wizard.go_to(Step.EXPORT)
        tab = page.tab_widgets[ObjectType.CONTACT]
        page.tabs.setCurrentWidget(tab)
        for source, role in (("first_name", "first_name"), ("email", "email"), ("job_title", "job_title")):
            tab.sections[MappingKind.ENGINY].add.click()
            row = tab.rows[-1]
            row.enginy.set_value(source)
            tab.rows[row.index].crm.set_value(FIELDS[crm][role])
        tab.rows[-1].overwrite.click()
        page.association_radios[AssociationType.PRIMARY].click()
        users = wizard.go_to(Step.USERS)
        users.owner.set_value(wizard.state.snapshot.users[0].id)
        expected = wizard.state.config.to_dict()
        with qtbot.waitSignal(wizard.saved, timeout=2000):
            wizard.button(QWizard.WizardButton.FinishButton).click()
        saved = ctx.crm_configs.load(crm)
    assert saved.to_dict() == expected
    assert [(m.source, m.crm_field, m.overwrite) for m in saved.contact_mappings] == [
        ("first_name", FIELDS[crm]["first_name"], False), ("email", FIELDS[crm]["email"], False),
        ("job_title", FIELDS[crm]["job_title"], True)]
    assert saved.association_type is AssociationType.PRIMARY
    assert saved.default_owner == wizard.state.snapshot.users[0].id
