"""``enginy-desktop crm-config init``: a starting configuration from the CRM's own fields, so a command-line user
syncs and exports without opening the window (against the HubSpot sandbox)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from enginy_desktop.core.crm_config import AssociationType, MappingKind, errors, validate
from enginy_desktop.core.matching.rules import CompanyPreset, ContactPreset
from tests.support.export_world import World, world

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def w(ctx: Any) -> Iterator[World]:
    with world(ctx) as value:
        yield value


def test_init_then_sync_and_export_from_the_command_line(w: World, cli: Cli, tmp_path: Path) -> None:
    w.contacts("Leads", [{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.test",
                          "company_name": "Engines", "job_title": "CTO"},
                         {"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.test",
                          "company_name": "Bletchley", "job_title": "Researcher"}])
    existing = w.add_crm_contact(firstname="Ada", lastname="Lovelace", company="Engines", jobtitle="Analyst")

    code, _, err = cli("export", "--list", "Leads", "--yes")  # not configured yet: the command that does it
    assert code == 1
    assert "run 'enginy-desktop crm-config init'" in err
    assert "Configure on its card" not in err

    copy = tmp_path / "hubspot.json"
    code, out, err = cli("crm-config", "init", "--file", str(copy))
    assert code == 0, err
    assert "Saved a starting HubSpot configuration" in out
    assert "LinkedIn profile URL OR First name + Last name + Company name" in out

    config = w.ctx.crm_configs.load("hubspot")
    assert config.contact_identifier.preset is ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY
    assert config.company_identifier.preset is CompanyPreset.DOMAIN
    assert config.association_type is AssociationType.ADDITIONAL  # HubSpot: several companies per contact
    mapped = {m.source: m.crm_field for m in config.contact_mappings if m.kind is MappingKind.ENGINY}
    assert {"first_name": "firstname", "last_name": "lastname", "email": "email", "job_title": "jobtitle"}.items() \
        <= mapped.items()
    assert {m.crm_field for m in config.company_mappings} >= {"name", "domain"}
    assert errors(validate(config)) == []
    assert json.loads(copy.read_text("utf-8"))["crm"] == "hubspot"

    code, out, err = cli("sync", "--list", "Leads")
    assert code == 0, err
    assert "Next: enginy-desktop export --list Leads (the plan first" in out  # the step after a sync
    code, out, err = cli("export", "--list", "Leads", "--yes")
    assert code == 0, err
    assert "created 1" in out
    assert "updated 1" in out
    ada = next(c for c in w.crm_contacts() if c["id"] == existing)
    assert ada["email"] == "ada@engines.test"  # filled: the CRM had none
    assert ada["jobtitle"] == "Analyst"  # kept: a starting mapping never overwrites
    assert {c["email"] for c in w.crm_contacts()} == {"ada@engines.test", "alan@bletchley.test"}


def test_init_keeps_a_saved_configuration_unless_forced(w: World, cli: Cli) -> None:
    w.configure([])
    before = w.ctx.crm_configs.load("hubspot").to_dict()
    code, _, err = cli("crm-config", "init")
    assert code == 1
    assert "already configured; nothing changed" in err
    assert "--force" in err
    assert w.ctx.crm_configs.load("hubspot").to_dict() == before
    code, _, err = cli("crm-config", "init", "--force")
    assert code == 0, err
    assert w.ctx.crm_configs.load("hubspot").contact_mappings


def test_init_refuses_a_crm_that_is_not_connected(ctx: Any, cli: Cli) -> None:
    code, _, err = cli("crm-config", "init", "--crm", "hubspot")
    assert code == 1
    assert "HubSpot is not connected" in err
    assert "Nothing was saved" in err
    assert not ctx.crm_configs.has_saved("hubspot")


def test_init_on_a_crm_whose_contacts_hold_their_company_as_a_reference(ctx: Any, cli: Cli) -> None:
    """Pipedrive: the presets' fields it has, its own field names, one company per contact."""
    from tests.support.crm_world import crm_world

    with crm_world(ctx, "pipedrive") as w:
        w.contacts("Leads", [{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.test",
                              "company_name": "Engines", "job_title": "CTO"}])
        code, out, err = cli("crm-config", "init", "--crm", "pipedrive")
        assert code == 0, err
        assert "Saved a starting Pipedrive configuration" in out
        assert "Pipedrive links a contact to one company only" in out  # its note names the CRM
        assert "This CRM" not in out
        config = ctx.crm_configs.load("pipedrive")
        assert config.association_type is AssociationType.PRIMARY  # a person has one organization
        mapped = {m.source: m.crm_field for m in config.contact_mappings if m.kind is MappingKind.ENGINY}
        assert {"first_name": "first_name", "last_name": "last_name", "email": "email"}.items() <= mapped.items()
        code, out, err = cli("export", "--list", "Leads", "--yes")
        assert code == 0, err
        assert "created 1" in out
        assert w.crm_contact("ada@engines.test")["first_name"] == "Ada"
