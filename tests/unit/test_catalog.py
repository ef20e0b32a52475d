"""The catalog is the product text's list: 18 integrations, five categories, in order, with their words."""

from __future__ import annotations

import re

import pytest

from enginy_desktop.core import catalog
from enginy_desktop.core.catalog import AuthKind, Category, FieldKind

EXPECTED = {
    Category.CRM: ["HubSpot", "Dynamics", "Pipedrive", "Salesforce", "TribeCRM", "Zoho"],
    Category.DATA_ENRICHMENT: [
        "Apollo", "Cognism", "Datagma", "Dropcontact", "Hunter", "Kaspr", "Lusha", "ZoomInfo", "Proxycurl",
    ],
    Category.AI_ENRICHMENT: ["OpenAI"],
    Category.IMPORT_SOURCES: ["TheirStack"],
    Category.COMMUNICATION: ["Slack"],
}


def test_eighteen_integrations_in_product_order() -> None:
    assert len(catalog.INTEGRATIONS) == 18
    assert list(catalog.CATEGORY_ORDER) == list(EXPECTED)
    for category, names in EXPECTED.items():
        assert [i.name for i in catalog.by_category(category)] == names
    assert [c.heading for c in catalog.CATEGORY_ORDER] == [
        "CRM", "Data Enrichment", "AI Enrichment", "Import Sources", "Communication",
    ]


def test_descriptions_are_the_product_text(shared_dir) -> None:  # type: ignore[no-untyped-def]
    text = (shared_dir / "spec" / "enginy-integrations.md").read_text("utf-8")
    rows = dict(re.findall(r"^\| (\w+) \| (.+?) \|$", text, flags=re.MULTILINE))
    for integration in catalog.INTEGRATIONS:
        assert rows[integration.name] == integration.description, integration.key


def test_every_api_integration_has_an_advanced_base_url() -> None:
    for integration in catalog.INTEGRATIONS:
        base = integration.get_field("base_url")
        assert base.kind is FieldKind.URL
        assert base.advanced or integration.key in ("proxycurl", "openai")


def test_every_integration_can_be_connected_and_flags_its_secrets() -> None:
    for integration in catalog.INTEGRATIONS:
        assert integration.required_groups, integration.key
        if integration.auth in (AuthKind.API_KEY,):
            assert integration.get_field("api_key").secret
    assert catalog.get("hubspot").get_field("token").secret
    assert not catalog.get("hubspot").get_field("client_id").secret
    assert catalog.get("slack").get_field("webhook_url").secret


def test_proxycurl_says_its_api_closed() -> None:
    proxycurl = catalog.get("proxycurl")
    assert "July 2025" in proxycurl.notice
    assert proxycurl.get_field("base_url").required


def test_unknown_key_lists_the_valid_ones() -> None:
    with pytest.raises(catalog.UnknownIntegrationError) as err:
        catalog.get("hubspto")
    assert "hubspot" in str(err.value)
    assert "slack" in str(err.value)
