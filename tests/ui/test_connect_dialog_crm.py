"""Test connection and browser sign-in in the HubSpot connection dialog, against the sandbox on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from enginy_desktop.core import catalog
from enginy_desktop.core.context import AppContext
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.server import serve
from enginy_desktop.views.connect_dialog import ConnectDialog


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    app = create_app(HubSpotSandboxConfig(seed_contacts=3, oauth_clients={"my-app": "my-app-secret"}))
    with serve(app) as url:
        yield url


def _dialog(qtbot, ctx: AppContext) -> ConnectDialog:  # type: ignore[no-untyped-def]
    dialog = ConnectDialog(ctx, catalog.get("hubspot"))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_test_connection_shows_account_and_user(qtbot, ctx: AppContext, sandbox_url: str) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, ctx)
    assert dialog.test_button.isVisible()
    dialog.rows["token"].editor.setText(DEFAULT_TOKEN)
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog._save_values()
    result = asyncio.run(dialog.run_test())
    assert result.ok, result.message
    assert dialog.test_result.text().startswith("✓ Connected")
    assert result.account
    assert result.account in dialog.test_result.text()
    assert DEFAULT_TOKEN not in dialog.test_result.text()


def test_test_connection_explains_a_bad_token(qtbot, ctx: AppContext, sandbox_url: str) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, ctx)
    dialog.rows["token"].editor.setText("pat-na1-wrong-token-value")
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog._save_values()
    result = asyncio.run(dialog.run_test())
    assert not result.ok
    text = dialog.test_result.text()
    assert text.startswith("✗")
    assert "token" in text.lower()
    assert "pat-na1-wrong-token-value" not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_browser_sign_in_keeps_tokens_in_the_keyring(qtbot, ctx: AppContext, sandbox_url: str, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, ctx)
    assert dialog.sign_in_button is not None
    dialog.rows["base_url"].editor.setText(sandbox_url)
    dialog.rows["client_id"].editor.setText("my-app")
    dialog.rows["client_secret"].editor.setText("my-app-secret")
    dialog._save_values()
    visits: list[asyncio.Task[None]] = []

    async def visit(link: str) -> None:  # what the user's browser does: sign in, come back to the app
        async with httpx.AsyncClient(timeout=10, follow_redirects=True) as client:
            page = await client.get(link)
            assert "close this tab" in page.text.lower()

    dialog.open_browser = lambda link: visits.append(asyncio.get_running_loop().create_task(visit(link)))
    dialog.redirect_port = _free_port()

    async def go() -> bool:
        ok = await dialog.run_sign_in()
        await asyncio.gather(*visits)
        return ok

    assert asyncio.run(go()), dialog.test_result.text()
    assert "Signed in to HubSpot" in dialog.test_result.text()
    assert memory_keyring.saved("hubspot", "oauth_token")
    assert ctx.integrations.get("hubspot").connected
    result = asyncio.run(dialog.run_test())
    assert result.ok, result.message


def test_unreachable_crm_says_what_to_do_and_keeps_the_detail_behind_details(  # type: ignore[no-untyped-def]
    qtbot, ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    dialog = _dialog(qtbot, ctx)
    token = "pat-na1-secret-secret-secret"
    dialog.rows["token"].editor.setText(token)
    dialog.rows["base_url"].editor.setText(f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    dialog._save_values()
    with caplog.at_level("INFO"):
        result = asyncio.run(dialog.run_test())
    assert not result.ok
    text = dialog.test_result.text()
    assert text.startswith("✗ Could not reach HubSpot")
    assert "Check the internet connection" in text
    assert "The settings are saved." in text
    assert "ConnectError" not in text  # the exception's class is technical detail...
    details = dialog.test_details
    assert details.isVisible()
    assert not details.text.isVisible()
    details.toggle.click()
    assert details.text.isVisible()
    assert "ConnectError" in details.detail()
    assert "ConnectError" in caplog.text  # the log keeps it
    assert token not in text + details.detail() + caplog.text
    dialog._set_test_state("busy", "Testing the connection…")  # a new test folds the old detail away
    assert not details.isVisible()
