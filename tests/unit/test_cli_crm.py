"""``check``, ``crm-fields`` and ``crm-users`` against the HubSpot sandbox on loopback, and their errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enginy_desktop.sandbox import server
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandbox, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.ratelimit import RateLimit as SandboxRate

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sandbox() -> Iterator[tuple[str, HubSpotSandbox]]:
    app = create_app(HubSpotSandboxConfig(owners=5, seed_contacts=3))
    with server.serve(app) as url:
        yield url, app.state.sandbox


def connect(cli: Cli, url: str, token: str = DEFAULT_TOKEN, enable: bool = True) -> None:
    code, out, err = cli("connect", "hubspot", "--set", f"base_url={url}", "--secret-stdin", "token",
                         stdin=token + "\n")
    assert code == 0, err
    assert token not in out + err
    if enable:
        assert cli("integrations", "enable", "hubspot")[0] == 0


def test_check_fields_and_users(cli: Cli, sandbox: tuple[str, HubSpotSandbox]) -> None:
    url, sb = sandbox
    connect(cli, url)

    code, out, err = cli("check", "hubspot")
    assert code == 0, err
    assert out.startswith("HubSpot: OK.")
    assert str(sb.config.portal_id) in out

    code, out, _ = cli("check", "hubspot", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["ok"] is True
    assert result["account"] == f"HubSpot account ({sb.config.portal_id})"

    code, out, err = cli("crm-fields", "--object", "contacts", "--json")
    assert code == 0, err
    fields = {f["name"]: f for f in json.loads(out)}
    assert fields["email"]["type"] == "email"
    assert fields["email"]["unique"] is True
    assert fields["lifecyclestage"]["options"][0] == {"value": "subscriber", "label": "Subscriber"}
    assert {f["object"] for f in fields.values()} == {"contacts"}

    code, out, _ = cli("crm-fields", "--object", "companies")
    assert code == 0
    assert "domain" in out
    assert out.rstrip().endswith("companies fields")

    code, out, _ = cli("crm-users", "--json")
    assert code == 0
    users = json.loads(out)
    assert len(users) == 5
    assert users[0]["email"].endswith("@enginy-sandbox.example")

    code, out, _ = cli("crm-users")
    assert code == 0
    assert out.rstrip().endswith("5 users")
    assert DEFAULT_TOKEN not in out


def test_no_crm_enabled(cli: Cli, sandbox: tuple[str, HubSpotSandbox]) -> None:
    connect(cli, sandbox[0], enable=False)
    code, _, err = cli("crm-fields", "--object", "contacts")
    assert code == 1
    assert "No CRM is enabled" in err
    assert cli("crm-users")[0] == 1


def test_not_connected(cli: Cli) -> None:
    assert cli("integrations", "enable", "hubspot")[0] == 0
    code, _, err = cli("crm-users")
    assert code == 1
    assert "HubSpot is not connected" in err
    code, _, err = cli("check", "hubspot")
    assert code == 1
    assert "not connected" in err


def test_unknown_and_untestable_keys(cli: Cli) -> None:
    code, _, err = cli("check", "nosuchcrm")
    assert code == 1
    assert "nosuchcrm" in err
    with pytest.raises(SystemExit) as info:  # argparse refuses it before anything runs
        cli("crm-fields", "--object", "deals")
    assert info.value.code == 2


def test_bad_token(cli: Cli, sandbox: tuple[str, HubSpotSandbox]) -> None:
    connect(cli, sandbox[0], token="pat-na1-bad-bad-bad-bad")
    code, out, err = cli("check", "hubspot")
    assert code == 1
    assert "did not accept the credentials" in err
    assert "pat-na1-bad-bad-bad-bad" not in out + err
    code, _, err = cli("crm-users")
    assert code == 1
    assert "did not accept the credentials" in err
    assert err.count("\n") == 1  # one line


def test_network_unreachable(cli: Cli, data_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    token = "pat-na1-unreachable-secret"
    connect(cli, f"http://127.0.0.1:{port}", token=token)
    code, _, err = cli("check", "hubspot")
    assert code == 1
    assert err == (f"enginy-desktop: HubSpot: Could not reach HubSpot at http://127.0.0.1:{port}. Check the internet "
                   "connection, a proxy or firewall, and the API base URL.\n")  # one sentence, no technical detail
    assert "could not be reached" not in err  # said once, not "HubSpot could not be reached. Could not reach …"
    code, _, verbose = cli("check", "hubspot", "--verbose")
    assert code == 1
    assert verbose.startswith(err)  # the same sentence, then the detail
    assert "Details: GET " in verbose
    assert "ConnectError" in verbose
    code, _, err = cli("crm-fields", "--object", "contacts")
    assert code == 1
    assert "Could not reach HubSpot" in err
    assert "ConnectError" not in err
    code, _, verbose = cli("--verbose", "crm-fields", "--object", "contacts")  # before the command too
    assert code == 1
    assert "ConnectError" in verbose
    log = (data_dir / "logs" / "enginy-desktop.log").read_text("utf-8")
    assert "ConnectError" in log  # the log keeps the detail
    assert token not in err + verbose + log


def test_rate_limited(cli: Cli) -> None:
    app = create_app(HubSpotSandboxConfig(rate_limit=SandboxRate(1, 60.0)))
    with server.serve(app) as url:
        connect(cli, url)
        code, _, err = cli("check", "hubspot")
    assert code == 1
    assert "limiting requests" in err
    assert "Try again in 60 seconds" in err
