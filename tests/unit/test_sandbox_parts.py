"""Building blocks of the sandboxes: rate parsing and rolling windows, fault settings, value rules, token matching,
and the spec matcher of the contract checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from enginy_desktop.sandbox.crm.hubspot.search import contains_token
from enginy_desktop.sandbox.crm.hubspot.state import HubSpotError, HubSpotSandbox, iso, parse_timestamp
from enginy_desktop.sandbox.kit.faults import FaultConfig, FaultInjector, parse_duration
from enginy_desktop.sandbox.kit.limits import RateLimit, RollingWindow
from tests.support.openapi_contract import ContractValidator, hubspot_specs_dir


@pytest.mark.parametrize(("text", "count", "seconds"), [
    ("190/10s", 190, 10.0), ("100/10", 100, 10.0), ("4/1s", 4, 1.0), ("4/s", 4, 1.0),
    ("600/1m", 600, 60.0), ("50/500ms", 50, 0.5), (" 250 / 10 s ", 250, 10.0),
])
def test_rates_parse(text: str, count: int, seconds: float) -> None:
    limit = RateLimit.parse(text)
    assert (limit.max_requests, limit.interval_s) == (count, seconds)


@pytest.mark.parametrize("text", ["", "lots", "0/10s", "10/0s", "-1/10s", "10/10h"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate|at least one"):
        RateLimit.parse(text)


def test_rolling_window_counts_accepted_hits_per_key() -> None:
    window = RollingWindow(RateLimit(3, 10.0))
    assert [window.try_hit("a", t) for t in (0, 1, 2)] == [(True, 2), (True, 1), (True, 0)]
    assert window.try_hit("a", 9.9) == (False, 0)
    assert window.try_hit("b", 9.9) == (True, 2)  # another token has its own window
    assert window.try_hit("a", 10.0) == (True, 0)  # the hit at t=0 left the window exactly at t=10
    assert window.remaining("a", 12.0) == 2  # only the hit at t=10 is within (2, 12]
    window.reset()
    assert window.remaining("a", 12.0) == 3


def test_fault_settings_from_the_command_line() -> None:
    config = FaultConfig.from_cli(["latency=50ms", "jitter=0.01s", "error-rate=0.05", "error-status=502",
                                   "timeout-rate=0.01", "hang=30", "drop-rate=0.02", "token-ttl=30s",
                                   "path=/crm/objects"])
    assert config.latency_ms == 50
    assert config.jitter_ms == 10
    assert (config.error_rate, config.error_status, config.timeout_rate, config.drop_rate) == (0.05, 502, 0.01, 0.02)
    assert config.hang_s == 30
    assert config.token_ttl_s == 30
    assert config.token_ttl_requests is None
    assert config.path_prefix == "/crm/objects"
    assert FaultConfig.from_cli(["token-ttl=100"]).token_ttl_requests == 100


@pytest.mark.parametrize(("items", "message"), [
    (["gremlins=1"], "unknown fault"),
    (["error-rate=2"], "between 0 and 1"),
    (["error-rate=0.6", "drop-rate=0.6"], "must not exceed 1"),
    (["latency"], "NAME=VALUE"),
    (["latency=fast"], "not a duration"),
    (["error-status=404"], "5xx"),
])
def test_bad_fault_settings_are_refused(items: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultConfig.from_cli(items)


def test_a_refused_update_leaves_the_faults_as_they_were() -> None:
    config = FaultConfig(error_rate=0.1)
    with pytest.raises(ValueError, match="must not exceed 1"):
        config.update({"error_rate": 0.5, "drop_rate": 0.9})
    assert (config.error_rate, config.drop_rate) == (0.1, 0.0)
    with pytest.raises(ValueError, match="unknown fault setting"):
        config.update({"colour": "red"})


def test_fault_draws_follow_the_seed() -> None:
    config = FaultConfig(error_rate=0.3, drop_rate=0.1, timeout_rate=0.1)
    first = [FaultInjector(config, 5).draw() for _ in range(1)]
    a, b = FaultInjector(config, 5), FaultInjector(config, 5)
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]
    assert first[0] in (None, "drop", "timeout", "error")
    assert parse_duration("2s") == 2.0
    assert parse_duration("1m") == 60.0
    assert parse_duration("15") == 0.015


@pytest.mark.parametrize(("value", "wanted", "found"), [
    ("Jane Doe-Smith", "doe", True),
    ("Jane Doe-Smith", "smith", True),
    ("Jane Doe-Smith", "do", False),
    ("jane.doe@enginy.ai", "enginy.ai", True),
    ("jane.doe@enginy.ai", "enginy", True),
    ("jane.doe@enginy.ai", "*@enginy.ai", True),
    ("jane.doe@enginy.ai", "eng*", True),
    ("Acme Robotics", "robotics acme", False),
    ("Acme Robotics", "", False),
])
def test_contains_token(value: str, wanted: str, found: bool) -> None:
    assert contains_token(value, wanted) is found


def test_timestamps_round_trip() -> None:
    ms = parse_timestamp("2026-03-01T10:00:00Z")
    assert ms is not None
    assert iso(ms) == "2026-03-01T10:00:00.000Z"
    assert parse_timestamp(str(ms)) == ms
    assert parse_timestamp("2026-03-01") == parse_timestamp("2026-03-01T00:00:00+00:00")
    assert parse_timestamp("yesterday") is None


def test_values_are_cleaned_by_property_type() -> None:
    sb = HubSpotSandbox()
    sb.create_property("contacts", {"name": "birthday", "label": "Birthday", "type": "date", "fieldType": "date",
                                    "groupName": "contactinformation"})
    sb.create_property("contacts", {"name": "vip", "label": "VIP", "type": "bool", "fieldType": "booleancheckbox",
                                    "groupName": "contactinformation"})
    sb.create_property("contacts", {"name": "channels", "label": "Channels", "type": "enumeration",
                                    "fieldType": "checkbox", "groupName": "contactinformation",
                                    "options": [{"label": "Email", "value": "email"},
                                                {"label": "LinkedIn", "value": "linkedin"}]})
    clean = sb.clean_properties("contacts", {"email": " Ada@Enginy.AI ", "birthday": "1815-12-10", "vip": True,
                                             "channels": "email;linkedin", "associatedcompanyid": 12,
                                             "jobtitle": ""}, creating=False)
    assert clean == {"email": "ada@enginy.ai", "birthday": "1815-12-10", "vip": "true",
                     "channels": "email;linkedin", "associatedcompanyid": "12", "jobtitle": None}
    with pytest.raises(HubSpotError) as caught:
        sb.clean_properties("contacts", {"birthday": "2026-03-01T10:00:00Z", "vip": "maybe",
                                         "channels": "email;fax", "associatedcompanyid": "twelve"}, creating=False)
    codes = [e["code"] for e in caught.value.errors or []]
    assert codes == ["INVALID_DATE", "INVALID_BOOLEAN", "INVALID_OPTION", "INVALID_DOUBLE"]


def test_an_empty_value_clears_a_property() -> None:
    sb = HubSpotSandbox()
    rec = sb.create("contacts", {"email": "a@b.co", "jobtitle": "CTO"})
    sb.update(rec, {"jobtitle": ""})
    assert "jobtitle" not in rec.props
    assert rec.props["email"] == "a@b.co"


def test_the_most_specific_spec_operation_wins(shared_dir: Path) -> None:
    root = hubspot_specs_dir(shared_dir)
    if root is None:
        pytest.skip("HubSpot OpenAPI files are not beside this checkout")
    validator = ContractValidator.load(root)
    op, params = validator.match("POST", "/crm/objects/2026-03/contacts/search") or (None, None)
    assert op is not None
    assert op.spec_file == "CRM/Contacts/2026-03/contacts.json"
    assert params == {}
    op, params = validator.match("POST", "/crm/objects/2026-03/deals/search") or (None, None)
    assert op is not None
    assert op.template == "/crm/objects/2026-03/{objectType}/search"
    assert params == {"objectType": "deals"}
    op, _ = validator.match("GET", "/crm/v3/owners/") or (None, None)
    assert op is not None
    assert op.template == "/crm/v3/owners"
    assert validator.match("GET", "/crm/objects/2026-03/contacts/1/nowhere") is None
    assert validator.exempt_reason("/account-info/v3/details")
    assert validator.exempt_reason("/__sandbox__/state")
    assert validator.exempt_reason("/crm/v3/owners") is None
