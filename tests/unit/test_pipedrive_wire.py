"""Pipedrive's wire format: token costs as the published descriptions give them, value conversions both ways, and
errors read from Pipedrive's answers (429 for the 2-second window vs the daily token budget)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from enginy_desktop.adapters import pipedrive_wire as wire
from enginy_desktop.adapters.base import (
    AuthError,
    CrmField,
    CrmObject,
    FieldOption,
    FieldType,
    QuotaExhaustedError,
    RateLimitedError,
    ValidationError,
)
from enginy_desktop.adapters.http import Reply
from enginy_desktop.adapters.pipedrive import recommended_concurrency
from enginy_desktop.sandbox.crm.pipedrive import state as emulator
from tests.support.openapi_contract import ContractValidator


def _spec_costs(shared_dir: Path) -> dict[tuple[str, str], int]:
    root = shared_dir / "specs" / "pipedrive"
    if not (root / "v1.yaml").exists() or not (root / "v2.yaml").exists():
        pytest.skip("specs/pipedrive is not beside this checkout")
    # The contract tests' cached copy of the two descriptions (parsing their 2.8 MB of YAML once per session).
    docs = ContractValidator.load(root).docs
    costs: dict[tuple[str, str], int] = {}
    for name, prefix in (("v1.yaml", "/v1"), ("v2.yaml", "/api/v2")):
        for template, item in docs[name]["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "x-token-cost" in op:
                    costs[(method.upper(), prefix + template)] = int(op["x-token-cost"])
    return costs


def test_token_costs_are_the_published_ones(shared_dir: Path) -> None:
    costs = _spec_costs(shared_dir)
    for table in (wire.TOKEN_COSTS, emulator.TOKEN_COSTS):
        for key, cost in table.items():
            assert costs.get(key) == cost, f"{key}: {cost} here, {costs.get(key)} in the spec"
    assert wire.token_cost("PATCH", "/api/v2/persons/123") == 5
    assert wire.token_cost("GET", "/api/v2/persons/search?term=x") == 20


def test_operation_costs_match_the_requests_behind_them() -> None:
    assert wire.OPERATION_COSTS[wire.Operation.CREATE] == wire.TOKEN_COSTS[("POST", "/api/v2/persons")]
    assert wire.OPERATION_COSTS[wire.Operation.READ] == wire.TOKEN_COSTS[("GET", "/api/v2/persons")]
    assert wire.OPERATION_COSTS[wire.Operation.ACTIVITY] == max(wire.TOKEN_COSTS[("POST", "/api/v2/activities")],
                                                                wire.TOKEN_COSTS[("POST", "/v1/notes")])


def test_plans_set_bursts_and_budgets() -> None:
    assert wire.burst_limit("Essential", oauth=False).requests == 20
    assert wire.burst_limit("Enterprise", oauth=True).requests == 480
    assert wire.burst_limit("Unknown", oauth=False).requests == 80  # Professional
    assert wire.daily_budget("Professional", 3) == 30_000 * 4 * 3
    assert [recommended_concurrency(wire.burst_limit(p, False)) for p in wire.PLANS] == [3, 6, 12, 15, 16]


ENUM = CrmField("k", "Lead source", FieldType.PICKLIST, CrmObject.CONTACTS,
                options=(FieldOption("101", "Enginy"), FieldOption("102", "Website")))
SET = CrmField("s", "Interests", FieldType.MULTI_PICKLIST, CrmObject.CONTACTS,
               options=(FieldOption("201", "Product"), FieldOption("202", "Pricing")))


@pytest.mark.parametrize(("kind", "field", "value", "wired"), [
    (FieldType.PICKLIST, ENUM, "102", 102),
    (FieldType.PICKLIST, ENUM, "website", 102),  # a label becomes its option id
    (FieldType.MULTI_PICKLIST, SET, ("201", "Pricing"), [201, 202]),
    (FieldType.MULTI_PICKLIST, SET, (), None),  # Pipedrive refuses [], null clears
    (FieldType.NUMBER, None, "12", 12),
    (FieldType.NUMBER, None, "4.50", 4.5),
    (FieldType.BOOLEAN, None, "true", True),
    (FieldType.OWNER, None, "7", 7),
    (FieldType.REFERENCE, None, "12", 12),
    (FieldType.DATE, None, "2025-01-31", "2025-01-31"),
    (FieldType.TEXT, None, " hi ", "hi"),
    (FieldType.TEXT, None, "", None),
])
def test_canonical_values_become_pipedrive_json(kind: FieldType, field: Any, value: Any, wired: Any) -> None:
    assert wire.to_wire(kind, value, field) == wired


@pytest.mark.parametrize(("kind", "field", "value", "reason"), [
    (FieldType.PICKLIST, ENUM, "Print", "no option"),
    (FieldType.NUMBER, None, "twelve", "not a number"),
    (FieldType.OWNER, None, "Sandra", "not a Pipedrive id"),
    (FieldType.BOOLEAN, None, "maybe", "not yes or no"),
])
def test_values_pipedrive_cannot_take_say_why(kind: FieldType, field: Any, value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        wire.to_wire(kind, value, field)


@pytest.mark.parametrize(("kind", "value", "canonical"), [
    (FieldType.MULTI_PICKLIST, [201, 203], ("201", "203")),
    (FieldType.MULTI_PICKLIST, [{"id": 5, "label": "x"}], ("5",)),
    (FieldType.PICKLIST, 102, "102"),
    (FieldType.NUMBER, 4.5, "4.5"),
    (FieldType.NUMBER, 3.0, "3"),
    (FieldType.NUMBER, {"value": 10, "currency": "EUR"}, "10"),
    (FieldType.BOOLEAN, False, "false"),
    (FieldType.TEXT, {"value": "Main St 1"}, "Main St 1"),
    (FieldType.TEXT, None, None),
])
def test_pipedrive_json_becomes_canonical(kind: FieldType, value: Any, canonical: Any) -> None:
    assert wire.from_wire(kind, value) == canonical


def test_a_new_primary_email_keeps_the_previous_ones() -> None:
    previous = [{"value": "old@x.org", "primary": True, "label": "work"}, {"value": "home@x.org", "label": "home"}]
    assert wire.with_primary(previous, "new@x.org", "work") == [
        {"value": "new@x.org", "primary": True, "label": "work"},
        {"value": "old@x.org", "primary": False, "label": "work"},
        {"value": "home@x.org", "primary": False, "label": "home"},
    ]
    assert wire.primary_of(previous) == "old@x.org"


def test_fields_are_read_with_labels_types_and_options() -> None:
    item = {"field_name": "Lead source", "field_code": "a" * 40, "field_type": "enum", "is_custom_field": True,
            "is_optional_response_field": False, "options": [{"id": 1, "label": "Web"}]}
    f = wire.to_field(item, CrmObject.CONTACTS)
    assert f is not None
    assert (f.label, f.type, f.options[0].value, f.group, f.read_only) == (
        "Lead source", FieldType.PICKLIST, "1", "Custom fields", False)
    deal = {**item, "field_type": "deal", "field_code": "b" * 40}
    assert wire.to_field(deal, CrmObject.CONTACTS).read_only  # type: ignore[union-attr]
    optional = {"field_name": "Doi", "field_code": "doi_status", "field_type": "enum", "is_custom_field": False,
                "is_optional_response_field": True}
    assert wire.to_field(optional, CrmObject.CONTACTS) is None


def _reply(status: int, body: dict[str, Any], **headers: str) -> Reply:
    return Reply(status, headers, json.dumps(body).encode(), "GET", "https://api.pipedrive.com/api/v2/persons")


def test_a_429_of_the_window_waits_and_one_of_the_budget_stops() -> None:
    default = ValidationError("x")
    burst = wire.pipedrive_error(_reply(429, {"success": False, "error": "Request over limit"},
                                        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}), default)
    assert isinstance(burst, RateLimitedError)
    assert burst.retry_after == 2
    daily = wire.pipedrive_error(_reply(429, {"success": False, "error": "Daily API token budget exceeded"}),
                                 default)
    assert isinstance(daily, QuotaExhaustedError)
    assert "midnight" in str(daily)
    auth = wire.pipedrive_error(_reply(401, {"success": False, "error": "unauthorized access"}), default)
    assert isinstance(auth, AuthError)
    bad = wire.pipedrive_error(_reply(400, {"success": False, "error": "Name must be given"}), default)
    assert isinstance(bad, ValidationError)
    assert bad.details[0].reason == "Name must be given"


def test_search_answers_do_not_lower_the_general_window() -> None:
    headers = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9"}
    search = Reply(200, headers, b"{}", "GET", "https://api.pipedrive.com/api/v2/persons/search?term=x")
    assert wire.rate_info(search).maximum is None
    other = Reply(200, headers, b"{}", "GET", "https://api.pipedrive.com/api/v2/persons")
    assert (wire.rate_info(other).maximum, wire.rate_info(other).interval_seconds) == (10, 2.0)
