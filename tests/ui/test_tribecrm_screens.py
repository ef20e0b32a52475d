"""TribeCRM in the window, against its emulator on loopback: the connection dialog (the application's client ID
and secret for signing in, an integration application's client credentials, or a pasted access token; Test
connection naming the employee and TribeCRM's limits)
and the wizard on TribeCRM's fields (a custom field by its label, the account manager as owner, contacts at
several organisations and no primary one)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QLabel

from enginy_desktop.adapters.http import forget_limiters
from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import AssociationType, MappingKind, ObjectType, Step
from enginy_desktop.sandbox.crm.tribecrm import (
    DEFAULT_TOKEN,
    INTEGRATION_CLIENT_ID,
    INTEGRATION_CLIENT_SECRET,
    TribeSandboxConfig,
    create_app,
)
from enginy_desktop.sandbox.crm.tribecrm.metadata import LINKEDIN_FIELD
from enginy_desktop.sandbox.kit.server import serve
from enginy_desktop.views.connect_dialog import ConnectDialog
from enginy_desktop.wizard import CrmWizard


@pytest.fixture(autouse=True)
def _delete_closed_windows(qapp: Any) -> Iterator[None]:
    forget_limiters()
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    forget_limiters()


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with serve(create_app(TribeSandboxConfig(seed_contacts=5, calls_per_minute=None))) as url:
        yield url


def test_the_card_is_ready_and_the_dialog_asks_what_tribecrm_needs(qtbot: Any, ctx: AppContext,
                                                                    sandbox_url: str) -> None:
    spec = catalog.get("tribecrm")
    assert spec.ready
    dialog = ConnectDialog(ctx, spec)
    qtbot.addWidget(dialog)
    dialog.show()
    assert {"client_id", "client_secret", "access_token", "auth_url", "base_url"} <= set(dialog.rows)
    assert "http://localhost:53682/oauth-callback" in spec.get_field("client_id").help
    assert "read, write and offline" in spec.get_field("client_id").help
    dialog.rows["access_token"].editor.setText(DEFAULT_TOKEN)
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog._save_values()
    result = asyncio.run(dialog.run_test())
    assert result.ok, result.message
    assert "sandra@sandbox.example" in dialog.test_result.text()
    assert "1,000 calls per minute" in result.message
    assert DEFAULT_TOKEN not in dialog.test_result.text()


def test_the_dialog_offers_client_credentials_as_a_third_sign_in(qtbot: Any, ctx: AppContext, sandbox_url: str,
                                                                   memory_keyring: Any) -> None:
    dialog = ConnectDialog(ctx, catalog.get("tribecrm"))
    qtbot.addWidget(dialog)
    dialog.show()
    titles = [label.text() for label in dialog.findChildren(QLabel) if label.objectName() == "sectionTitle"]
    assert titles == ["Option 1 · Sign in with your own OAuth app",
                      "Option 2 · Client credentials (an integration application, no browser)"]
    assert not dialog.rows["access_token"].isVisibleTo(dialog)  # the third, a pasted token, under Advanced settings
    dialog.save()  # nothing filled in: the three ways are named
    assert "Integration client ID + Integration client secret" in dialog.form_error.text()
    dialog.rows["integration_client_id"].editor.setText(INTEGRATION_CLIENT_ID)
    dialog.save()  # one way half filled in: its missing field is named
    assert dialog.rows["integration_client_secret"].error.text() == "Integration client secret is required."
    assert not ctx.integrations.get("tribecrm").connected
    dialog.rows["integration_client_secret"].editor.setText(INTEGRATION_CLIENT_SECRET)
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog.rows["auth_url"].editor.setText(sandbox_url)
    assert dialog._save_values() is not None
    result = asyncio.run(dialog.run_test())
    assert result.ok, result.message
    assert "the client credentials of an integration application" in result.message
    assert dialog.test_result.text().startswith("✓ Connected")
    assert INTEGRATION_CLIENT_SECRET not in dialog.test_result.text()
    assert memory_keyring.saved("tribecrm", "integration_client_secret") == [INTEGRATION_CLIENT_SECRET]
    settings = ctx.integrations.settings("tribecrm")
    assert settings["integration_client_id"] == INTEGRATION_CLIENT_ID
    assert INTEGRATION_CLIENT_SECRET not in str(settings)


def test_the_wizard_works_on_tribecrms_fields(qtbot: Any, ctx: AppContext, sandbox_url: str) -> None:
    ctx.integrations.save_connection("tribecrm", {"access_token": DEFAULT_TOKEN, "base_url": sandbox_url})
    ctx.integrations.enable("tribecrm")
    wizard = CrmWizard(ctx, "tribecrm", connect_dialog=ConnectDialog)
    qtbot.addWidget(wizard)
    wizard.resize(1280, 800)
    wizard.show()
    result = asyncio.run(wizard.data.load())
    assert not result.error, result.error
    assert not [p for p in wizard.state.problems() if "LinkedIn" in str(p)]  # the custom LinkedIn field is found
    page = wizard.go_to(Step.EXPORT)
    tab = page.tab_widgets[ObjectType.CONTACT]
    page.tabs.setCurrentWidget(tab)
    tab.sections[MappingKind.ENGINY].add.click()
    row = tab.rows[-1]
    row.enginy.set_value("linkedin_url")
    tab.rows[row.index].crm.set_value(LINKEDIN_FIELD)
    row = tab.rows[row.index]
    assert row.crm.currentText().startswith("LinkedIn profile")  # the custom field by its label
    wizard.state.config.association_type = AssociationType.PRIMARY_REMOVE_PREVIOUS
    page.render_state()
    assert "no primary company" in page.association_note.text()
