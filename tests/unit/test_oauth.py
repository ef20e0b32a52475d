"""Desktop OAuth (adapters/oauth.py) end to end against a fake authorization server on loopback.

The fake server is a small Starlette app served by uvicorn on 127.0.0.1; the "browser" is a function that
follows the authorization URL with httpx, so the redirect really reaches the app's loopback listener.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from enginy_desktop.adapters import oauth
from enginy_desktop.adapters.base import AuthError, TokenSet
from enginy_desktop.adapters.http import ApiClient, RetryPolicy
from enginy_desktop.adapters.oauth import (
    OAuthCancelledError,
    OAuthProvider,
    OAuthStateError,
    OAuthTimeoutError,
    TokenStore,
    pkce_challenge,
)

CLIENT_ID = "enginy-test-client"
CLIENT_SECRET = "client-secret-0123456789"


@dataclass
class FakeAuthServer:
    """An authorization server that checks what RFC 6749/7636 say it must."""

    mode: str = "grant"  # grant | deny | wrong_state
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, int] = field(default_factory=dict)
    access_tokens: set[str] = field(default_factory=set)
    verified_pkce: int = 0
    token_calls: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/api/me", self.me),
        ])

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("response_type") != "code" or q.get("client_id") != CLIENT_ID:
            return JSONResponse({"error": "invalid_request"}, 400)
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, 400)
        redirect = q["redirect_uri"]
        if self.mode == "deny":
            return RedirectResponse(f"{redirect}?{urlencode({'error': 'access_denied', 'state': q['state']})}")
        state = "forged-state" if self.mode == "wrong_state" else q["state"]
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": redirect}
        return RedirectResponse(f"{redirect}?{urlencode({'code': code, 'state': state})}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.token_calls.append(form)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant"}, 400)
            if pkce_challenge(form.get("code_verifier", "")) != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE check failed"}, 400)
            self.verified_pkce += 1
            return JSONResponse(self._issue())
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return JSONResponse({"error": "invalid_grant", "error_description": "unknown refresh"}, 400)
            self.refresh_tokens[form["refresh_token"]] += 1
            issued = self._issue()
            issued.pop("refresh_token")  # the old refresh token stays valid
            return JSONResponse(issued)
        return JSONResponse({"error": "unsupported_grant_type"}, 400)

    def _issue(self) -> dict[str, object]:
        access, refresh = f"at-{secrets.token_hex(12)}", f"rt-{secrets.token_hex(12)}"
        self.access_tokens.add(access)
        self.refresh_tokens.setdefault(refresh, 0)
        return {"access_token": access, "refresh_token": refresh, "expires_in": 1800, "token_type": "bearer",
                "scopes": ["crm.objects.contacts.read"], "hub_id": 42}

    async def me(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return JSONResponse({"message": "expired"}, 401)
        return JSONResponse({"user": "jane@example.com"})


@asynccontextmanager
async def serve(server: FakeAuthServer) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(server.app(), log_level="warning", lifespan="off", ws="none", http="h11")
    userver = uvicorn.Server(config)
    task = asyncio.create_task(userver.serve(sockets=[sock]))
    while not userver.started:
        await asyncio.sleep(0.01)
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server.base_url
    finally:
        userver.should_exit = True
        await task
        sock.close()


def provider(base_url: str, **kw: object) -> OAuthProvider:
    return OAuthProvider(
        name="FakeCRM",
        authorize_url=f"{base_url}/authorize",
        token_url=f"{base_url}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=("crm.objects.contacts.read", "crm.objects.contacts.write"),
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class FakeBrowser:
    """Opens URLs by following them with httpx (so the redirect reaches the loopback listener)."""

    pages: list[httpx.Response] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stray_first: bool = False

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        self.tasks.append(asyncio.get_running_loop().create_task(self._visit(url)))
        return True

    async def _visit(self, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
            if self.stray_first:
                redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
                parts = urlsplit(redirect)
                stray = await client.get(f"{parts.scheme}://{parts.netloc}/favicon.ico")
                self.pages.append(stray)
                self.pages.append(await client.get(redirect))  # no code, no error: ignored
            response = await client.get(url)
            if response.is_redirect:
                response = await client.get(response.headers["location"])
            self.pages.append(response)


async def _sign_in(p: OAuthProvider, browser: Callable[[str], object], **kw: object) -> TokenSet:
    return await oauth.sign_in(p, open_browser=browser, timeout=kw.pop("timeout", 10), **kw)  # type: ignore[arg-type]


def test_sign_in_end_to_end_with_pkce() -> None:
    server, browser = FakeAuthServer(), FakeBrowser(stray_first=True)
    seen_urls: list[str] = []

    async def go() -> TokenSet:
        async with serve(server) as base:
            tokens = await _sign_in(provider(base), browser, on_url=seen_urls.append)
            await asyncio.gather(*browser.tasks)
            return tokens

    tokens = asyncio.run(go())
    assert tokens.access_token in server.access_tokens
    assert tokens.refresh_token in server.refresh_tokens
    assert tokens.expires_at is not None
    assert tokens.expires_at == pytest.approx(time.time() + 1800, abs=30)
    assert tokens.scope == "crm.objects.contacts.read"
    assert server.verified_pkce == 1
    exchange = server.token_calls[0]
    assert exchange["grant_type"] == "authorization_code"
    assert len(exchange["code_verifier"]) >= 43
    # The authorization request carried state, the S256 challenge and the loopback redirect.
    query = parse_qs(urlsplit(browser.urls[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["crm.objects.contacts.read crm.objects.contacts.write"]
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert len(query["state"][0]) >= 32
    assert seen_urls == browser.urls
    # The stray requests were answered without ending the sign-in; the browser got the friendly page.
    assert [p.status_code for p in browser.pages] == [404, 400, 200]
    assert "You can close this tab" in browser.pages[-1].text
    assert browser.pages[-1].headers["cache-control"] == "no-store"


def test_tokens_round_trip_through_the_keyring() -> None:
    from enginy_desktop.core.secrets import KeyringSecrets

    store = TokenStore(KeyringSecrets(), "hubspot")
    assert store.load() is None
    tokens = TokenSet("access-abcdef", "refresh-abcdef", expires_at=1_900_000_000.0, scope="a b")
    store.save(tokens)
    assert store.load() == tokens
    assert "access-abcdef" not in repr(tokens)
    store.clear()
    assert store.load() is None


def test_a_wrong_verifier_is_refused_by_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    real = oauth.make_pkce

    def tampered() -> oauth.Pkce:
        good = real()
        return oauth.Pkce(verifier=good.verifier[::-1], challenge=good.challenge)

    monkeypatch.setattr(oauth, "make_pkce", tampered)
    server, browser = FakeAuthServer(), FakeBrowser()

    async def go() -> None:
        async with serve(server) as base:
            try:
                await _sign_in(provider(base), browser)
            finally:
                await asyncio.gather(*browser.tasks)

    with pytest.raises(AuthError, match="PKCE check failed"):
        asyncio.run(go())
    assert server.verified_pkce == 0


def test_wrong_state_is_rejected() -> None:
    server, browser = FakeAuthServer(mode="wrong_state"), FakeBrowser()

    async def go() -> None:
        async with serve(server) as base:
            try:
                await _sign_in(provider(base), browser)
            finally:
                await asyncio.gather(*browser.tasks)

    with pytest.raises(OAuthStateError, match="wrong state"):
        asyncio.run(go())
    assert server.token_calls == []  # the code was never exchanged
    assert browser.pages[-1].status_code == 400
    assert "Sign-in not accepted" in browser.pages[-1].text


def test_denied_authorization_is_reported() -> None:
    server, browser = FakeAuthServer(mode="deny"), FakeBrowser()

    async def go() -> None:
        async with serve(server) as base:
            try:
                await _sign_in(provider(base), browser)
            finally:
                await asyncio.gather(*browser.tasks)

    with pytest.raises(OAuthCancelledError, match="access_denied"):
        asyncio.run(go())
    assert "Sign-in cancelled" in browser.pages[-1].text


def test_time_out_closes_the_listener() -> None:
    urls: list[str] = []

    async def go() -> None:
        await _sign_in(provider("http://127.0.0.1:9"), lambda url: urls.append(url) or False, timeout=0.3)

    started = time.monotonic()
    with pytest.raises(OAuthTimeoutError, match="not completed within"):
        asyncio.run(go())
    assert time.monotonic() - started < 3
    redirect = urlsplit(parse_qs(urlsplit(urls[0]).query)["redirect_uri"][0])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", redirect.port), timeout=1):
        pass


def test_fixed_port_and_localhost_redirect() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, browser = FakeAuthServer(), FakeBrowser()

    async def go() -> TokenSet:
        async with serve(server) as base:
            p = provider(base, redirect_port=port, redirect_host="localhost", redirect_path="/oauth/callback")
            try:
                return await _sign_in(p, browser)
            finally:
                await asyncio.gather(*browser.tasks)

    tokens = asyncio.run(go())
    assert tokens.access_token
    redirect = parse_qs(urlsplit(browser.urls[0]).query)["redirect_uri"][0]
    assert redirect == f"http://localhost:{port}/oauth/callback"


def test_refresh_and_the_refreshing_auth_flow() -> None:
    from enginy_desktop.core.secrets import KeyringSecrets

    server, browser = FakeAuthServer(), FakeBrowser()
    store = TokenStore(KeyringSecrets(), "hubspot")

    async def go() -> tuple[TokenSet, TokenSet, dict[str, str]]:
        async with serve(server) as base:
            p = provider(base)
            first = await _sign_in(p, browser)
            await asyncio.gather(*browser.tasks)
            renewed = await oauth.refresh(p, first)
            # An expired saved token is renewed by the auth flow before the API call, and saved again.
            stale = TokenSet("at-expired", first.refresh_token, expires_at=time.time() - 1)
            api = ApiClient("fake", base, auth=oauth.refreshing_auth(p, stale, store.save),
                            retry=RetryPolicy(max_attempts=1))
            try:
                me = (await api.request("GET", "/api/me")).json()
            finally:
                await api.aclose()
            return first, renewed, me

    first, renewed, me = asyncio.run(go())
    assert renewed.access_token != first.access_token
    assert renewed.refresh_token == first.refresh_token
    assert me == {"user": "jane@example.com"}
    saved = store.load()
    assert saved is not None
    assert saved.access_token in server.access_tokens
    assert saved.access_token not in (first.access_token, renewed.access_token)
    assert server.refresh_tokens[first.refresh_token] == 2
