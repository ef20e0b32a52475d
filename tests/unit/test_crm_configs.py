"""Saved CRM configurations: load/save per CRM, kept across disable, JSON export/import refusing bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_config import (
    AssociationType,
    CampaignProperty,
    CrmConfig,
    FieldMapping,
    MappingKind,
    ObjectType,
)
from enginy_desktop.core.services.crm_configs import CrmConfigInvalidError


def _config() -> CrmConfig:
    config = CrmConfig(crm="hubspot")
    config.add_mapping(
        ObjectType.CONTACT, FieldMapping(MappingKind.ENGINY, "jobtitle", source="job_title", overwrite=True)
    )
    config.add_mapping(ObjectType.CONTACT, FieldMapping(MappingKind.FIXED, "lead_source", value="Enginy"))
    config.association_type = AssociationType.PRIMARY
    config.set_campaign_mapping(CampaignProperty.SEQUENCE_STATUS, "enginy_sequence_status")
    return config


def test_new_crm_has_the_default_configuration(ctx: AppContext) -> None:
    assert not ctx.crm_configs.has_saved("hubspot")
    assert ctx.crm_configs.load("hubspot").to_dict() == CrmConfig(crm="hubspot").to_dict()


def test_save_then_load_is_equal_and_survives_disable(ctx: AppContext, data_dir: Path) -> None:
    ctx.integrations.enable("hubspot")
    ctx.crm_configs.save(_config())
    ctx.integrations.switch_crm("pipedrive")
    ctx.integrations.switch_crm("hubspot")
    again = AppContext.open(data_dir)
    try:
        assert again.crm_configs.load("hubspot").to_dict() == _config().to_dict()
    finally:
        again.close()


def test_invalid_configuration_is_not_saved(ctx: AppContext) -> None:
    ctx.crm_configs.save(_config())
    bad = _config()
    bad.add_mapping(ObjectType.CONTACT, FieldMapping(MappingKind.ENGINY, "name", source="industry"))  # a company field
    with pytest.raises(CrmConfigInvalidError) as err:
        ctx.crm_configs.save(bad)
    assert "Step 2" in str(err.value)
    assert ctx.crm_configs.load("hubspot").to_dict() == _config().to_dict()


def test_cli_export_and_import_round_trip(ctx: AppContext, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("crm-config", "export", str(tmp_path / "x.json"))
    assert code == 1
    assert "No CRM is enabled: enable one first (`enginy-desktop integrations enable KEY`, e.g. hubspot;" in err
    ctx.integrations.enable("hubspot")
    code, _, err = cli("crm-config", "export", str(tmp_path / "x.json"))
    assert code == 1
    assert "HubSpot has no saved configuration yet: run `enginy-desktop crm-config init`" in err
    ctx.crm_configs.save(_config())
    target = tmp_path / "hubspot-config.json"
    code, out, err = cli("crm-config", "export", str(target))
    assert out.strip() == f"The HubSpot configuration was written to {target}."  # its name, not its key
    assert code == 0, err
    document = json.loads(target.read_text("utf-8"))
    assert document["format"] == "enginy-crm-config"
    assert document["association_type"] == "primary"
    ctx.crm_configs.save(CrmConfig(crm="hubspot"))
    code, out, err = cli("crm-config", "import", str(target))
    assert code == 0, err
    assert out.strip() == f"The HubSpot configuration was imported from {target}."
    assert ctx.crm_configs.load("hubspot").to_dict() == _config().to_dict()


def test_cli_import_refuses_invalid_file_listing_problems(ctx: AppContext, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx.integrations.enable("hubspot")
    ctx.crm_configs.save(_config())
    before = ctx.crm_configs.load("hubspot").to_dict()
    bad = dict(_config().to_dict())
    bad["association_type"] = "sometimes"
    bad["version"] = 1
    bad["unexpected"] = True
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), "utf-8")
    code, _, err = cli("crm-config", "import", str(path))
    assert code == 1
    assert "was not imported (2 problems); nothing changed" in err
    assert err.count("\n  - ") == 2
    assert ctx.crm_configs.load("hubspot").to_dict() == before
    path.write_text("{not json", "utf-8")
    code, _, err = cli("crm-config", "import", str(path))
    assert code == 1
    assert "not valid JSON" in err
    other = dict(_config().to_dict(), crm="pipedrive")
    path.write_text(json.dumps(other), "utf-8")
    code, _, err = cli("crm-config", "import", str(path))
    assert code == 1
    assert ctx.crm_configs.load("hubspot").to_dict() == before
