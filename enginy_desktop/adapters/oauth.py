"""OAuth sign-in for a desktop app (RFC 8252) with PKCE (RFC 7636), for every vendor that offers it.

The flow: :func:`sign_in` starts a one-shot HTTP listener on the loopback interface (``127.0.0.1``, a free port
or the fixed one a vendor's app registration needs), opens the system browser on the vendor's authorization page
with a ``state`` and a PKCE ``code_challenge``, waits (with a time-out) for the browser to come back to the
listener, checks ``state``, shows a friendly page ("You can close this tab"), and exchanges the code (with the
``code_verifier``) for tokens. :class:`TokenStore` keeps them in the keyring as JSON under the field
``oauth_token``; :func:`refreshing_auth` returns the ``httpx.Auth`` flow that renews them when they expire.

Pure asyncio (no Qt): the window awaits :func:`sign_in` from a slot, the command line through ``asyncio.run``.
The browser opener is injectable; tests pass a fake browser that follows the redirect itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import logging
import secrets
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from enginy_desktop.redact import redact, register_secret

from .base import AuthError, TokenSet
from .http import OAuthRefreshAuth, request_token

log = logging.getLogger(__name__)

TOKEN_FIELD = "oauth_token"
DEFAULT_TIMEOUT = 300.0


class OAuthError(AuthError):
    """The sign-in did not complete; the message says why and what to do."""


class OAuthCancelledError(OAuthError):
    """The user (or the vendor) refused or cancelled the authorization."""


class OAuthStateError(OAuthError):
    """The browser came back with a ``state`` we did not send: possibly a forged request; nothing was kept."""


class OAuthTimeoutError(OAuthError):
    pass


@dataclass(frozen=True)
class OAuthProvider:
    """One vendor's OAuth endpoints and the user's own app registration."""

    name: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = ()
    optional_scopes: tuple[str, ...] = ()
    redirect_host: str = "127.0.0.1"  # the host written in redirect_uri ("localhost" where a vendor needs it)
    redirect_port: int = 0  # 0: any free port (RFC 8252 §7.3); else the port registered with the vendor
    redirect_path: str = "/callback"
    scope_separator: str = " "
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    client_auth: str = "body"  # "body" (client_id/secret in the form) or "basic" (HTTP Basic)
    # The token endpoint named by the authorization redirect (Zoho's ``accounts-server`` of the user's data
    # centre), or None to keep ``token_url``; the function must accept only the vendor's own servers.
    token_url_from_callback: Callable[[Mapping[str, str]], str | None] | None = None

    def __post_init__(self) -> None:
        register_secret(self.client_secret)


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str
    challenge: str
    method: str = "S256"


def make_pkce() -> Pkce:
    """A 64-character verifier from the unreserved set and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return Pkce(verifier, challenge)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(provider: OAuthProvider, redirect_uri: str, state: str, pkce: Pkce) -> str:
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    }
    if provider.scopes:
        params["scope"] = provider.scope_separator.join(provider.scopes)
    if provider.optional_scopes:
        params["optional_scope"] = provider.scope_separator.join(provider.optional_scopes)
    params.update(provider.extra_authorize_params)
    separator = "&" if urlsplit(provider.authorize_url).query else "?"
    return f"{provider.authorize_url}{separator}{urlencode(params)}"


# -- the loopback listener --------------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f6f7f9; color: #1d2433;
        display: flex; align-items: center; justify-content: center; min-height: 100vh; margin: 0; }}
 main {{ background: #fff; border-radius: 12px; padding: 40px 48px; max-width: 460px; text-align: center;
        box-shadow: 0 2px 16px rgba(0,0,0,.08); }}
 .mark {{ font-size: 40px; line-height: 1; color: {color}; }}
 h1 {{ font-size: 20px; margin: 16px 0 8px; }}
 p {{ color: #4a5468; line-height: 1.5; margin: 0; }}
</style></head>
<body><main><div class="mark" aria-hidden="true">{mark}</div><h1>{title}</h1><p>{text}</p></main></body></html>
"""


def result_page(ok: bool, title: str, text: str) -> bytes:
    return _PAGE.format(
        title=html.escape(title),
        text=html.escape(text),
        mark="&#10003;" if ok else "!",
        color="#1a7f37" if ok else "#b42318",
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class CallbackResult:
    code: str = ""
    error: str = ""
    error_description: str = ""
    params: Mapping[str, str] = field(default_factory=dict)  # every parameter of the redirect


class LoopbackListener:
    """A one-shot HTTP listener on 127.0.0.1 that waits for the authorization redirect (asyncio streams)."""

    def __init__(self, provider_name: str, path: str, state: str) -> None:
        self.provider_name = provider_name
        self.path = path
        self.state = state
        self.port = 0
        self._servers: list[asyncio.Server] = []
        self._result: asyncio.Future[CallbackResult] | None = None

    async def start(self, port: int = 0, also_ipv6: bool = False) -> int:
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        try:
            server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        except OSError as exc:
            raise OAuthError(
                f"Could not listen on 127.0.0.1:{port} for the sign-in ({exc.strerror or exc}). Close the "
                "program that uses this port, or change the redirect port in your app registration."
            ) from None
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]
        if also_ipv6:  # browsers may resolve "localhost" to ::1 first
            with contextlib.suppress(OSError):
                self._servers.append(await asyncio.start_server(self._handle, "::1", self.port))
        return self.port

    async def wait(self, timeout: float) -> CallbackResult:
        assert self._result is not None, "start() first"
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), timeout)
        except TimeoutError:
            raise OAuthTimeoutError(
                f"The {self.provider_name} sign-in was not completed within {timeout:.0f} seconds. "
                "Start it again and finish it in the browser window that opens."
            ) from None

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        if self._result is not None and not self._result.done():
            self._result.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        try:
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target, _version = request_line.split(" ", 2)
        except ValueError:
            await self._respond(writer, 400, result_page(False, "Bad request", "This address is for sign-in."))
            return
        parts = urlsplit(target)
        if method != "GET" or parts.path != self.path:
            await self._respond(writer, 404, result_page(False, "Not found", "Nothing to see here."))
            return
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        outcome = self._judge(query)
        if outcome is None:  # neither a code nor an error: a stray request (e.g. a prefetch); keep waiting
            await self._respond(writer, 400, result_page(False, "Waiting for sign-in",
                                                         "This page is only used when you sign in."))
            return
        ok, title, text, result = outcome
        await self._respond(writer, 200 if ok else 400, result_page(ok, title, text))
        if self._result is not None and not self._result.done():
            if isinstance(result, BaseException):
                self._result.set_exception(result)
            else:
                self._result.set_result(result)

    def _judge(self, query: Mapping[str, str]) -> tuple[bool, str, str, CallbackResult | OAuthError] | None:
        name = self.provider_name
        code, error = query.get("code", ""), query.get("error", "")
        if not code and not error:
            return None
        register_secret(code)
        if not secrets.compare_digest(query.get("state", ""), self.state):
            return (
                False,
                "Sign-in not accepted",
                "This sign-in response does not belong to the sign-in Enginy Desktop started, so it was "
                "ignored. Go back to Enginy Desktop and start again.",
                OAuthStateError(
                    f"The {name} sign-in answer did not match the sign-in Enginy Desktop started (wrong "
                    "state), so it was refused. Start the sign-in again."
                ),
            )
        if error:
            description = query.get("error_description", "")
            reason = f"{error}: {description}" if description else error
            return (
                False,
                "Sign-in cancelled",
                f"{name} did not grant access ({reason}). You can close this tab and try again from "
                "Enginy Desktop.",
                OAuthCancelledError(f"{name} did not grant access ({reason})."),
            )
        return (
            True,
            "You're signed in",
            f"Enginy Desktop is now connected to {name}. You can close this tab and go back to the app.",
            CallbackResult(code=code, params=dict(query)),
        )

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        try:
            writer.write(head + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


# -- the flow -----------------------------------------------------------------------------------------------------


BrowserOpener = Callable[[str], Any]


async def sign_in(
    provider: OAuthProvider,
    *,
    open_browser: BrowserOpener = webbrowser.open,
    timeout: float = DEFAULT_TIMEOUT,
    transport: Any = None,
    on_url: Callable[[str], None] | None = None,
) -> TokenSet:
    """Run the whole browser sign-in and return the tokens (not yet saved: see :class:`TokenStore`).

    ``on_url`` receives the authorization URL too, so a window can offer "copy link" when no browser opens.
    Raises :class:`OAuthError` subclasses (time-out, cancelled, wrong state) or adapter errors of the code
    exchange (network, refused).
    """
    pkce = make_pkce()
    state = secrets.token_urlsafe(32)
    register_secret(pkce.verifier)
    listener = LoopbackListener(provider.name, provider.redirect_path, state)
    try:
        port = await listener.start(provider.redirect_port, also_ipv6=provider.redirect_host == "localhost")
        redirect_uri = f"http://{provider.redirect_host}:{port}{provider.redirect_path}"
        url = authorization_url(provider, redirect_uri, state, pkce)
        log.info("Opening the browser for the %s sign-in (waiting on %s)", provider.name, redirect_uri)
        if on_url is not None:
            on_url(url)
        opened = open_browser(url)
        if opened is False:
            log.warning("No browser could be opened for the %s sign-in", provider.name)
        result = await listener.wait(timeout)
    finally:
        await listener.close()
    form = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": redirect_uri,
        "code_verifier": pkce.verifier,
    }
    basic = None
    if provider.client_auth == "basic":
        basic = (provider.client_id, provider.client_secret)
    else:
        form["client_id"] = provider.client_id
        if provider.client_secret:
            form["client_secret"] = provider.client_secret
    token_url = provider.token_url
    if provider.token_url_from_callback is not None:
        token_url = provider.token_url_from_callback(result.params) or token_url
    tokens = await request_token(token_url, form, transport=transport, basic_auth=basic,
                                 what=f"the {provider.name} sign-in")
    log.info("Signed in to %s (scopes: %s)", provider.name, redact(tokens.scope) or "not stated")
    return tokens


async def refresh(provider: OAuthProvider, tokens: TokenSet, *, transport: Any = None) -> TokenSet:
    """Renew ``tokens`` now with their refresh token."""
    if not tokens.refresh_token:
        raise OAuthError(f"The {provider.name} sign-in cannot be renewed. Sign in again.")
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    basic = None
    if provider.client_auth == "basic":
        basic = (provider.client_id, provider.client_secret)
    else:
        form["client_id"] = provider.client_id
        if provider.client_secret:
            form["client_secret"] = provider.client_secret
    return await request_token(provider.token_url, form, transport=transport, basic_auth=basic,
                               previous=tokens, what=f"renewing the {provider.name} sign-in")


class TokenStore:
    """OAuth tokens of one integration in the secret store (the keyring), as JSON under ``oauth_token``."""

    def __init__(self, secret_store: Any, integration: str, field_name: str = TOKEN_FIELD) -> None:
        self._secrets = secret_store
        self.integration = integration
        self.field = field_name

    def load(self) -> TokenSet | None:
        raw = self._secrets.get(self.integration, self.field)
        if not raw:
            return None
        try:
            tokens = TokenSet.from_json(raw)
        except ValueError:
            log.warning("The saved %s sign-in is unreadable; a new sign-in is needed", self.integration)
            return None
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)
        return tokens

    def save(self, tokens: TokenSet) -> None:
        self._secrets.set(self.integration, self.field, tokens.to_json())

    def clear(self) -> None:
        self._secrets.delete(self.integration, self.field)


def refreshing_auth(
    provider: OAuthProvider, tokens: TokenSet, on_refresh: Callable[[TokenSet], None] | None = None
) -> OAuthRefreshAuth:
    """The ``httpx.Auth`` flow for API calls: Bearer, renewed through ``provider.token_url`` when expired."""
    return OAuthRefreshAuth(
        tokens,
        token_url=provider.token_url,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        on_refresh=on_refresh,
        basic_client_auth=provider.client_auth == "basic",
    )
