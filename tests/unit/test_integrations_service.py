"""Enabling, the one-CRM rule (service, store, two processes), connections and where secrets go."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.models import IntegrationState
from enginy_desktop.core.services.integrations import ConnectionInvalidError, CrmConflictError

SECRET = "pat-na1-11111111-2222-3333-4444-555555555555"


def test_all_start_disabled_and_not_connected(ctx: AppContext) -> None:
    infos = ctx.integrations.list()
    assert len(infos) == 18
    assert not any(i.enabled or i.connected for i in infos)


def test_enable_and_disable_persist_across_restart(data_dir: Path) -> None:
    ctx = AppContext.open(data_dir)
    ctx.integrations.enable("apollo")
    ctx.integrations.enable("hubspot")
    ctx.integrations.disable("apollo")
    ctx.close()
    again = AppContext.open(data_dir)
    enabled = {i.key for i in again.integrations.list() if i.enabled}
    again.close()
    assert enabled == {"hubspot"}


def test_second_crm_is_refused_naming_the_active_one(ctx: AppContext) -> None:
    ctx.integrations.enable("hubspot")
    with pytest.raises(CrmConflictError) as err:
        ctx.integrations.enable("zoho")
    assert str(err.value).startswith("HubSpot is your active CRM. Only one CRM can be active at a time.")
    assert err.value.active.key == "hubspot"
    assert {i.key for i in ctx.integrations.list() if i.enabled} == {"hubspot"}
    # Non-CRMs are not limited.
    ctx.integrations.enable("apollo")
    ctx.integrations.enable("hunter")


def test_store_itself_refuses_two_crms(ctx: AppContext) -> None:
    ctx.integrations.enable("hubspot")
    with pytest.raises(IntegrityError), ctx.store.write() as s:
        s.execute(text("UPDATE integrations SET enabled = 1 WHERE key = 'pipedrive'"))
    with pytest.raises(IntegrityError), ctx.store.write() as s:
        s.execute(text("UPDATE integrations SET enabled = 1 WHERE category = 'crm'"))


def test_switch_crm_keeps_the_old_configuration(ctx: AppContext) -> None:
    ctx.integrations.save_connection("hubspot", {"token": SECRET, "tier": "Enterprise"})
    ctx.integrations.enable("hubspot")
    ctx.integrations.switch_crm("pipedrive")
    assert ctx.integrations.active_crm().key == "pipedrive"  # type: ignore[union-attr]
    hubspot = ctx.integrations.get("hubspot")
    assert not hubspot.enabled
    assert hubspot.connected
    assert hubspot.settings["tier"] == "Enterprise"
    ctx.integrations.switch_crm("hubspot")
    assert ctx.integrations.get("hubspot").connected


_RACER = """
import sys, time
from pathlib import Path
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.models import IntegrationState
from enginy_desktop.core.services.integrations import CrmConflictError
data, key, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
ctx = AppContext.open(data)
while time.time() < start:
    time.sleep(0.001)
try:
    ctx.integrations.enable(key)
    print("enabled")
except CrmConflictError as exc:
    print("refused:", exc)
"""


@pytest.mark.subprocess
def test_two_processes_cannot_enable_two_crms(data_dir: Path) -> None:
    AppContext.open(data_dir).close()
    for _ in range(3):
        start = time.time() + 1.5
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, str(data_dir), key, str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for key in ("hubspot", "salesforce")
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        results = sorted(o[0].strip().split(":")[0] for o in outs)
        assert results == ["enabled", "refused"], outs
        ctx = AppContext.open(data_dir)
        crms = [i.key for i in ctx.integrations.list() if i.enabled and i.category.value == "crm"]
        assert len(crms) == 1
        ctx.integrations.disable(crms[0])
        ctx.close()


def test_connection_validation_lists_every_problem(ctx: AppContext) -> None:
    problems = ctx.integrations.validate_connection("hubspot", {"base_url": "ftp://x", "tier": "Gold"})
    assert "base_url" in problems
    assert "tier" in problems
    assert "Fill in" in problems[""]
    assert ctx.integrations.validate_connection("apollo", {})["api_key"] == "API key is required."
    problem = ctx.integrations.validate_connection("apollo", {"api_key": "k", "base_url": "http://example.com"})
    assert "https://" in problem["base_url"]
    assert ctx.integrations.validate_connection("apollo", {"api_key": "k", "base_url": "http://127.0.0.1:9"}) == {}
    dynamics = {"org_url": "https://org.crm.dynamics.com", "client_id": "app"}
    problem = ctx.integrations.validate_connection("dynamics", {**dynamics, "service_protection_limit": "6000 per 5m"})
    assert "e.g. 6000/300" in problem["service_protection_limit"]
    assert ctx.integrations.validate_connection("dynamics", {**dynamics, "service_protection_limit": "200/10"}) == {}
    with pytest.raises(ConnectionInvalidError):
        ctx.integrations.save_connection("slack", {"channel": "#x"})
    assert not ctx.integrations.get("slack").connected


def test_either_alternative_connects(ctx: AppContext) -> None:
    ctx.integrations.save_connection("slack", {"bot_token": "xoxb-123456789", "channel": "#sales"})
    assert ctx.integrations.get("slack").connected
    ctx.integrations.save_connection("hubspot", {"client_id": "my-app-client-id"})
    assert ctx.integrations.get("hubspot").connected


def test_empty_secret_input_keeps_the_saved_secret(ctx: AppContext) -> None:
    ctx.integrations.save_connection("apollo", {"api_key": "first-key-123", "base_url": "https://proxy.example.com/v1"})
    ctx.integrations.save_connection("apollo", {"api_key": "", "base_url": "https://proxy.example.com/v1/"})
    assert ctx.integrations.secret("apollo", "api_key") == "first-key-123"
    assert ctx.integrations.get("apollo").settings == {"base_url": "https://proxy.example.com/v1/"}


def test_a_saved_secret_is_never_sent_to_a_new_base_url(ctx: AppContext) -> None:
    ctx.integrations.save_connection("apollo", {"api_key": "first-key-123"})
    with pytest.raises(ConnectionInvalidError, match="saved one is kept for the previous API base URL"):
        ctx.integrations.save_connection("apollo", {"api_key": "", "base_url": "https://proxy.example.com/v1"})
    assert ctx.integrations.secret("apollo", "api_key") == "first-key-123"
    # Changed behind the service's back (another version, a hand edit): the secret is not found for the new URL.
    with ctx.store.write() as s:
        s.get(IntegrationState, "apollo").settings = {"base_url": "https://proxy.example.com/v1"}
    assert ctx.integrations.secret("apollo", "api_key") is None
    assert not ctx.integrations.get("apollo").connected


def test_secrets_go_to_the_keyring_never_the_database_or_log(ctx: AppContext, memory_keyring, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core.logsetup import configure_logging

    configure_logging(data_dir)
    ctx.integrations.save_connection("hubspot", {"token": SECRET, "base_url": "http://127.0.0.1:8765"})
    ctx.integrations.enable("hubspot")
    import logging

    logging.getLogger("test").warning("sending Authorization: Bearer %s to HubSpot", SECRET)
    assert memory_keyring.saved("hubspot", "token") == [SECRET]
    ctx.store.engine.dispose()
    for f in data_dir.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    log_text = (data_dir / "logs" / "enginy-desktop.log").read_text("utf-8")
    assert "[REDACTED]" in log_text
    ctx.integrations.disconnect("hubspot")
    assert not memory_keyring.saved("hubspot", "token")
    info = ctx.integrations.get("hubspot")
    assert info.enabled
    assert not info.connected
