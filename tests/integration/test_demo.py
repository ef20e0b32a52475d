"""Demo mode: a sample workspace and HubSpot on a local sandbox, in a folder that disappears afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from enginy_desktop.core.campaigns import CampaignService
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.services import crm
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.demo import DEMO_CAMPAIGN, DEMO_LIST, start_demo


def test_demo_has_data_a_connected_sandbox_and_cleans_up(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    env = start_demo()
    try:
        ctx = AppContext.open(env.data_dir, passphrase=env.passphrase)
        try:
            assert memory_keyring.store == {}  # the user's keyring is never touched
            hubspot = ctx.integrations.get("hubspot")
            assert hubspot.enabled
            assert hubspot.connected
            lists = WorkspaceService(ctx.store).lists()
            assert [(item.name, item.count) for item in lists] == [(DEMO_LIST, 80)]
            campaign = CampaignService(ctx.store).get(DEMO_CAMPAIGN)
            assert campaign.lead_count > 20
            assert (
                campaign.sequence_details
                == "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn, 3rd Email"
            )
            assert ctx.crm_configs.load("hubspot").contact_mappings
            identity = asyncio.run(crm.check(ctx, "hubspot"))
            assert identity.account_id
        finally:
            ctx.close()
    finally:
        env.close()
    assert not env.data_dir.exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{env.sandbox_url}/__sandbox__/state", timeout=2)


@pytest.mark.parametrize("key", ["hubspot", "pipedrive", "salesforce", "zoho", "dynamics", "tribecrm"])
def test_every_crm_with_an_adapter_and_a_sandbox_has_a_demo(key: str, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    """``--demo --crm KEY``: connected, configured from the CRM's own fields, seeded so that a sync matches."""
    from enginy_desktop.core import sync
    from enginy_desktop.demo import demo_crms

    assert key in demo_crms()
    env = start_demo(key)
    try:
        assert env.crm_name in ("HubSpot", "Pipedrive", "Salesforce", "Zoho", "Dynamics", "TribeCRM")
        ctx = AppContext.open(env.data_dir, passphrase=env.passphrase)
        try:
            assert ctx.integrations.active_crm().key == key
            assert ctx.crm_configs.load(key).contact_mappings
            result = asyncio.run(sync.sync_list(ctx, DEMO_LIST))
            assert result.objects["contact"].matched > 0  # the sample people put in the CRM are found
        finally:
            ctx.close()
    finally:
        env.close()
    assert not env.data_dir.exists()


def test_demo_refuses_what_is_not_a_crm_with_a_sandbox(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.demo import DemoUnavailableError, demo_crms

    assert {"hubspot", "tribecrm"} <= set(demo_crms())
    base = tmp_path / "demo"
    base.mkdir()
    with pytest.raises(DemoUnavailableError, match=r"The demo cannot use Apollo.*Choose one of: .*hubspot"):
        start_demo("apollo", base)
    assert list(base.iterdir()) == []  # nothing started, nothing left behind


@pytest.mark.subprocess
def test_demo_window_starts_and_removes_its_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TMPDIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "enginy_desktop", "--demo", "--self-check"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "self-check: ok" in result.stdout
    assert not list(tmp_path.glob("enginy-demo-*"))
