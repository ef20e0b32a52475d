"""``enginy-desktop connect KEY --oauth [--no-browser]``: the browser sign-in of every CRM that offers one, from the
command line, against each emulator's authorization and token endpoints (the test plays the browser: it opens the
address the command prints, and the emulator's authorization page sends it back to the command's loopback
listener). The client secret is read from standard input; no secret reaches the arguments or the output."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from enginy_desktop.cli import run as cli_run
from enginy_desktop.sandbox.kit import server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _world(crm: str) -> tuple[Any, Callable[[str], dict[str, str]], str]:
    """(emulator app, settings for its base URL, client secret or "")."""
    if crm == "hubspot":
        from enginy_desktop.sandbox.hubspot import HubSpotSandboxConfig, create_app

        return (create_app(HubSpotSandboxConfig(oauth_clients={"my-app": "my-app-secret-123"})),
                lambda url: {"base_url": url, "client_id": "my-app"}, "my-app-secret-123")
    if crm == "pipedrive":
        from enginy_desktop.sandbox.crm.pipedrive import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app

        return create_app(), lambda url: {"base_url": url, "client_id": DEFAULT_CLIENT_ID}, DEFAULT_CLIENT_SECRET
    if crm == "zoho":
        from enginy_desktop.sandbox.crm.zoho import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app

        return create_app(), lambda url: {"base_url": url, "client_id": DEFAULT_CLIENT_ID}, DEFAULT_CLIENT_SECRET
    if crm == "salesforce":
        from enginy_desktop.sandbox.crm.salesforce import DEFAULT_CLIENT_ID, create_app

        return create_app(), lambda url: {"login_url": url, "client_id": DEFAULT_CLIENT_ID}, ""
    if crm == "tribecrm":
        from enginy_desktop.sandbox.crm.tribecrm import DEFAULT_CLIENT_ID, create_app

        return (create_app(), lambda url: {"base_url": url, "auth_url": url, "client_id": DEFAULT_CLIENT_ID},
                "sandbox-tribe-secret")
    from enginy_desktop.sandbox.crm.dynamics import DEFAULT_CLIENT_ID, create_app

    return create_app(), lambda url: {"org_url": url, "login_url": url, "client_id": DEFAULT_CLIENT_ID}, ""


class _Output(io.StringIO):
    """The command's stdout, read while the command waits for the browser."""

    def __init__(self) -> None:
        super().__init__()
        self.url = ""
        self.ready = threading.Event()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.startswith("  http"):
                self.url = line.strip()
                self.ready.set()
        return super().write(text)


def _play_browser(link: str) -> httpx.Response:
    """What the browser does: the authorization page redirects to the loopback address, which answers."""
    with httpx.Client(timeout=10) as client:
        hop = client.get(link)
        assert hop.status_code == 302, hop.text
        return client.get(hop.headers["location"])


@pytest.mark.parametrize("crm", ["hubspot", "pipedrive", "salesforce", "zoho", "dynamics", "tribecrm"])
def test_sign_in_from_the_command_line_with_no_browser(crm: str, data_dir: Path, cli: Any) -> None:
    app, settings, secret = _world(crm)
    with server.serve(app) as url:
        argv = ["connect", crm, "--oauth", "--no-browser", "--redirect-port", str(_free_port()), "--timeout", "20"]
        for name, value in settings(url).items():
            argv += ["--set", f"{name}={value}"]
        if secret:
            argv += ["--secret-stdin", "client_secret"]
        out, err, codes = _Output(), io.StringIO(), []
        command = threading.Thread(target=lambda: codes.append(cli_run(
            ["--data-dir", str(data_dir), *argv], stdin=io.StringIO(secret + "\n"), stdout=out, stderr=err)))
        command.start()
        try:
            assert out.ready.wait(20), err.getvalue()
            page = _play_browser(out.url)
        finally:
            command.join(30)
        assert codes == [0], err.getvalue()
        assert "You can close this tab" in page.text
        text = out.getvalue()
        assert "Open this address in a browser on this computer" in text
        assert "code_challenge=" in out.url
        assert "state=" in out.url
        assert "Signed in to" in text
        assert f"Next: turn it on with `enginy-desktop integrations enable {crm}`." in text
        code, checked, check_err = cli("check", crm)
        assert code == 0, check_err
    from enginy_desktop.adapters.oauth import TokenStore
    from enginy_desktop.core.context import AppContext

    ctx = AppContext.open(data_dir)
    try:
        tokens = TokenStore(ctx.secrets, crm).load()
    finally:
        ctx.close()
    assert tokens is not None
    assert tokens.access_token
    everything = text + err.getvalue() + checked
    for value in (secret, tokens.access_token, tokens.refresh_token):
        if value:
            assert value not in everything


def test_sign_in_opens_the_browser_and_waits_for_it(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                    cli: Any) -> None:
    import webbrowser

    from enginy_desktop.sandbox.crm.pipedrive import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app

    visited: list[httpx.Response] = []

    def browser(link: str) -> bool:  # the system browser, on another thread as a real one would be
        threading.Thread(target=lambda: visited.append(_play_browser(link))).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    with server.serve(create_app()) as url:
        code, out, err = cli("connect", "pipedrive", "--oauth", "--redirect-port", str(_free_port()),
                             "--timeout", "20", "--set", f"base_url={url}", "--set", f"client_id={DEFAULT_CLIENT_ID}",
                             "--secret-stdin", "client_secret", stdin=DEFAULT_CLIENT_SECRET + "\n")
        assert code == 0, err
        deadline = time.monotonic() + 10
        while not visited and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "Opening your browser to sign in to Pipedrive" in out
    assert "Signed in to Pipedrive" in out
    assert visited
    assert "You can close this tab" in visited[0].text


def test_what_cannot_sign_in_in_the_browser_says_how_to_connect(cli: Any) -> None:
    code, _out, err = cli("connect", "hunter", "--oauth")
    assert code == 2
    assert "connects with its credentials, not a browser sign-in" in err
    assert "enginy-desktop connect hunter --secret-stdin api_key" in err
    code, _out, err = cli("connect", "pipedrive", "--oauth", "--no-browser")
    assert code == 2
    assert "needs the client ID of your own Pipedrive app: add --set client_id=" in err
    code, _out, err = cli("connect", "pipedrive", "--no-browser")
    assert code == 2
    assert "go with --oauth" in err
