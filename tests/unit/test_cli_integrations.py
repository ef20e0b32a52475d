"""``integrations list|enable|disable``, ``connect`` and ``disconnect`` on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enginy_desktop.core.context import AppContext


def test_list_json_has_every_integration(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("integrations", "list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 18
    assert {"key", "name", "category", "enabled", "connected"} <= set(rows[0])
    assert rows[0]["key"] == "hubspot"
    assert rows[0]["category"] == "crm"


def test_list_text_groups_by_category(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("integrations", "list")
    assert code == 0
    for heading in ("CRM", "Data Enrichment", "AI Enrichment", "Import Sources", "Communication"):
        assert heading in out.splitlines()


def test_enable_disable_and_one_crm_error(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("integrations", "enable", "hubspot")[0] == 0
    code, out, err = cli("integrations", "enable", "zoho")
    assert code == 1
    assert out == ""
    assert err.strip() == (
        "enginy-desktop: HubSpot is your active CRM. Only one CRM can be active at a time. "
        "Disable HubSpot before enabling Zoho. Its configuration is kept: `enginy-desktop integrations disable "
        "hubspot`, then enable Zoho again."
    )
    assert cli("integrations", "disable", "hubspot")[0] == 0
    assert cli("integrations", "enable", "zoho")[0] == 0
    rows = json.loads(cli("integrations", "list", "--json")[1])
    assert [r["key"] for r in rows if r["enabled"]] == ["zoho"]


def test_unknown_key_lists_valid_keys(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("integrations", "enable", "hubspt")
    assert code == 1
    assert err.count("\n") == 1
    assert "Unknown integration 'hubspt'" in err
    assert "hubspot, dynamics" in err


def test_connect_reads_secret_from_stdin_and_the_window_sees_it(cli, data_dir: Path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "connect", "hubspot", "--set", "base_url=http://127.0.0.1:8765", "--secret-stdin", "token",
        stdin="pat-na1-from-stdin\n",
    )
    assert code == 0, err
    assert "pat-na1-from-stdin" not in out + err
    assert memory_keyring.saved("hubspot", "token") == ["pat-na1-from-stdin"]
    ctx = AppContext.open(data_dir)
    info = ctx.integrations.get("hubspot")
    ctx.close()
    assert info.connected
    assert info.settings["base_url"] == "http://127.0.0.1:8765"
    assert json.loads(cli("integrations", "list", "--json")[1])[0]["connected"] is True
    code, out, _ = cli("disconnect", "hubspot")
    assert code == 0
    assert "removed" in out
    assert not memory_keyring.saved("hubspot", "token")


def test_connect_refuses_secrets_as_arguments(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("connect", "apollo", "--set", "api_key=abc")
    assert code == 2
    assert "secret" in err
    assert "--secret-stdin api_key" in err
    assert "abc" not in err.replace("api_key", "")


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["connect", "apollo", "--set", "colour=blue"], "", "Apollo has no field 'colour'"),
        (["connect", "apollo", "--set", "nonsense"], "", "--set expects FIELD=VALUE"),
        (["connect", "apollo", "--secret-stdin", "api_key"], "", "No value for 'api_key'"),
        (["connect", "apollo", "--secret-stdin", "base_url"], "x\n", "not a secret field"),
        (["connect", "apollo"], "", "API key is required"),
        (["connect", "apollo", "--secret-stdin", "api_key", "--set", "base_url=http://evil.example"], "k\n", "https://"),
        (["connect", "apollo", "--secret-env", "api_key=ENGINY_TEST_UNSET_VAR"], "", "ENGINY_TEST_UNSET_VAR"),
    ],
)
def test_connect_errors_are_one_clear_line(cli, argv: list[str], stdin: str, message: str) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli(*argv, stdin=stdin)
    assert code != 0
    assert message in err
    assert err.count("\n") == 1


def test_secret_from_environment(cli, monkeypatch: pytest.MonkeyPatch, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MY_APOLLO_KEY", "apollo-env-key")
    code, _, err = cli("connect", "apollo", "--secret-env", "api_key=MY_APOLLO_KEY")
    assert code == 0, err
    assert memory_keyring.saved("apollo", "api_key") == ["apollo-env-key"]


@pytest.mark.subprocess
def test_real_command_version_and_errors(data_dir: Path) -> None:
    run = [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir)]
    version = subprocess.run([*run, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0
    assert version.stdout.startswith("Enginy Desktop ")
    bad = subprocess.run([*run, "integrations", "enable", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "Unknown integration 'nope'" in bad.stderr
    ok = subprocess.run(
        [*run, "connect", "slack", "--secret-stdin", "webhook_url"],
        input="https://hooks.slack.com/services/T1/B2/abcdef\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    listed = subprocess.run([*run, "integrations", "list", "--json"], capture_output=True, text=True, timeout=60)
    slack = next(r for r in json.loads(listed.stdout) if r["key"] == "slack")
    assert slack["connected"] is True


def test_connect_without_the_credentials_says_which_option_takes_each(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("connect", "hubspot")
    assert code == 1
    assert err.strip() == (
        "enginy-desktop: The HubSpot connection was not saved: Fill in Private app token or service key or OAuth "
        "client ID. On the command line, Private app token or service key: --secret-stdin token; OAuth client ID: "
        "--set client_id=VALUE.")


def test_enabling_a_connected_crm_without_a_configuration_names_the_next_step(cli, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    assert cli("connect", "hubspot", "--secret-stdin", "token", stdin="pat-na1-test-token\n")[0] == 0
    code, out, err = cli("integrations", "enable", "hubspot")
    assert code == 0, err
    assert out.splitlines() == [
        "HubSpot is enabled.",
        "Next: enginy-desktop crm-config init (a starting configuration from HubSpot's fields; review it in the "
        "window), then sync or export a list."]
