"""TribeCRM's client-credentials sign-in (an application of the Client Credentials tab, for an integration account
without a person signing in), against the emulator's ``/oauth2/token``: the token endpoint's answers, the adapter
asking for the application's token and renewing it before it expires and after a 401, a refused secret said in
words, and ``enginy-desktop connect tribecrm --client-credentials`` reading the secret from standard input (the
secret in the keyring, never in the database, the arguments or the output)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from enginy_desktop.adapters.base import AuthError, Connection
from enginy_desktop.adapters.http import asgi_transport, forget_limiters
from enginy_desktop.adapters.tribecrm import TribeCrmAdapter
from enginy_desktop.sandbox.crm.tribecrm import (
    INTEGRATION_CLIENT_ID,
    INTEGRATION_CLIENT_SECRET,
    TribeSandbox,
    TribeSandboxConfig,
    create_app,
)
from enginy_desktop.sandbox.kit import server

API = "https://api.tribecrm.nl"


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Any:
    forget_limiters()
    yield
    forget_limiters()


def _token_request(app: Any, form: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://auth.tribecrm.nl") as c:
            return await c.post("/oauth2/token", data=form)

    return asyncio.run(go())


@pytest.mark.parametrize(("client_id", "secret", "clients", "status", "error"), [
    (INTEGRATION_CLIENT_ID, INTEGRATION_CLIENT_SECRET, None, 200, ""),
    (INTEGRATION_CLIENT_ID, "not-the-secret", None, 401, "invalid_client"),
    ("someone-else", INTEGRATION_CLIENT_SECRET, None, 401, "invalid_client"),
    (INTEGRATION_CLIENT_ID, INTEGRATION_CLIENT_SECRET, {}, 401, "invalid_client"),
])
def test_the_token_endpoint_answers_client_credentials(client_id: str, secret: str, clients: dict[str, str] | None,
                                                      status: int, error: str) -> None:
    config = TribeSandboxConfig() if clients is None else TribeSandboxConfig(integration_clients=clients)
    answer = _token_request(create_app(config), {"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": secret})
    assert answer.status_code == status, answer.text
    body = answer.json()
    if status == 200:  # TribeCRM's getting-started tutorial: access_token, token_type bearer, expires_in; no refresh
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["access_token"]
        assert "refresh_token" not in body
    else:
        assert body["error"] == error


def _connection(url: str, secret: str = INTEGRATION_CLIENT_SECRET) -> Connection:
    secrets = {"integration_client_secret": secret}
    return Connection("tribecrm", {"base_url": url, "auth_url": url, "integration_client_id": INTEGRATION_CLIENT_ID},
                      secrets.get)


def _token_posts(sb: TribeSandbox) -> int:
    return len([r for r in sb.requests if r.path == "/oauth2/token"])


def test_the_application_token_is_asked_for_and_renewed_before_it_expires_and_after_a_401() -> None:
    app = create_app(TribeSandboxConfig(seed_contacts=3, calls_per_minute=None))
    sb: TribeSandbox = app.state.sandbox

    async def go() -> Any:
        adapter = TribeCrmAdapter.from_connection(_connection(API), transport=asgi_transport(app))
        try:
            identity = await adapter.check()
            asked_once = _token_posts(sb)
            auth = adapter.api._client.auth
            now = time.time()
            auth.clock = lambda: now + 3600 - 30  # half a minute before it expires: a new one first, no 401
            users = await adapter.users()
            renewed = _token_posts(sb)
            auth.clock = time.time
            sb.expire_tokens()  # TribeCRM ended it early: the 401 asks for a new one and the call goes through
            users_again = await adapter.users()
            return identity, asked_once, renewed, users, users_again
        finally:
            await adapter.aclose()

    identity, asked_once, renewed, users, users_again = asyncio.run(go())
    assert asked_once == 1
    assert "the client credentials of an integration application" in identity.details
    assert renewed == 2
    assert [r.status for r in sb.requests if r.path.endswith("/Relationship_Person_Contact_Employee")].count(401) == 1
    assert len(users) == len(users_again) >= 2
    assert _token_posts(sb) == 3


def test_a_refused_secret_is_said_in_words() -> None:
    app = create_app(TribeSandboxConfig(calls_per_minute=None))

    async def go() -> None:
        adapter = TribeCrmAdapter.from_connection(_connection(API, "wrong-secret"), transport=asgi_transport(app))
        try:
            await adapter.check()
        finally:
            await adapter.aclose()

    with pytest.raises(AuthError, match="did not accept the integration client ID and secret") as caught:
        asyncio.run(go())
    assert "wrong-secret" not in str(caught.value)


def test_connect_with_client_credentials_from_the_command_line(cli: Any, data_dir: Path, memory_keyring: Any) -> None:
    with server.serve(create_app(TribeSandboxConfig(seed_contacts=2, calls_per_minute=None))) as url:
        code, out, err = cli("connect", "tribecrm", "--client-credentials", "--set",
                             f"client_id={INTEGRATION_CLIENT_ID}", "--set", f"base_url={url}", "--set",
                             f"auth_url={url}", stdin=INTEGRATION_CLIENT_SECRET + "\n")
        assert code == 0, err
        assert "Signed in to TribeCRM with the client credentials" in out
        assert "sandra@sandbox.example" in out
        assert memory_keyring.saved("tribecrm", "integration_client_secret") == [INTEGRATION_CLIENT_SECRET]
        bad_code, bad_out, bad_err = cli("connect", "tribecrm", "--client-credentials", stdin="wrong-secret\n")
        empty_code, _out, empty_err = cli("connect", "tribecrm", "--client-credentials", stdin="")
    assert INTEGRATION_CLIENT_SECRET not in out + err
    assert bad_code != 0
    assert "did not accept the integration client ID and secret" in bad_err
    assert "The client ID and secret are saved" in bad_err
    assert "wrong-secret" not in bad_out + bad_err
    assert empty_code == 2
    assert "No integration client secret on standard input" in empty_err
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert INTEGRATION_CLIENT_SECRET.encode() not in stored
    assert b"wrong-secret" not in stored
    code, _out, err = cli("connect", "hubspot", "--client-credentials", stdin="x\n")
    assert code == 2
    assert "HubSpot has no client-credentials sign-in" in err
