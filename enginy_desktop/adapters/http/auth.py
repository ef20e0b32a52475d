"""Authentication as ``httpx.Auth`` flows: a bearer token or a secret header, OAuth tokens that refresh themselves,
a token the adapter fetches by a request of its own, and one OAuth token-endpoint call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from enginy_desktop.redact import redact, register_secret

from ..base import AdapterError, AuthError, NetworkError, TokenSet, TransientError
from .transport import Reply, Timeouts, _reply, _why, make_client

log = logging.getLogger(__name__)

class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        register_secret(token)
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def bearer_auth(token: str) -> Any:
    """``Authorization: Bearer <token>`` on every request (private app tokens, service keys, API tokens)."""
    return _BearerAuth(token)


def header_auth(name: str, value: str) -> Any:
    """A secret in a custom header (Pipedrive's ``x-api-token``)."""
    register_secret(value)

    class _HeaderAuth(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers[name] = value
            yield request

    return _HeaderAuth()


def token_set_from_json(
    payload: Any, *, now: float | None = None, previous: TokenSet | None = None
) -> TokenSet:
    """A :class:`TokenSet` from a token endpoint's JSON (RFC 6749 §5.1; HubSpot's ``scopes`` list too)."""
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise AuthError("The sign-in server did not return an access token.")
    current = time.time() if now is None else now
    expires_in = payload.get("expires_in")
    scope = payload.get("scope")
    if not scope and isinstance(payload.get("scopes"), list):
        scope = " ".join(str(s) for s in payload["scopes"])
    tokens = TokenSet(
        access_token=str(payload["access_token"]),
        # A refresh answer may omit the refresh token, meaning "keep using the old one".
        refresh_token=str(payload.get("refresh_token") or (previous.refresh_token if previous else "")),
        expires_at=current + float(expires_in) if expires_in is not None else None,
        token_type=str(payload.get("token_type") or "Bearer"),
        scope=str(scope or (previous.scope if previous else "")),
        # Salesforce names the org's API host in every token answer (``instance_url``), Zoho its data centre's
        # (``api_domain``).
        api_url=str(payload.get("instance_url") or payload.get("api_domain")
                    or (previous.api_url if previous else "")),
    )
    register_secret(tokens.access_token)
    register_secret(tokens.refresh_token)
    return tokens


def _token_error(status: int, payload: Any, what: str) -> AdapterError:
    code = desc = ""
    if isinstance(payload, dict):
        code = str(payload.get("error") or payload.get("category") or "")
        desc = str(payload.get("error_description") or payload.get("message") or "")
    reason = f"{code}: {desc}" if code and desc else (code or desc or f"HTTP {status}")
    if status >= 500:
        return TransientError(
            f"The sign-in server had a temporary problem during {what} ({reason}).", status=status
        )
    return AuthError(f"The sign-in server refused {what} ({reason}). Sign in again.", status=status)


def refresh_form(tokens: TokenSet, client_id: str, client_secret: str = "") -> dict[str, str]:
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": client_id}
    if client_secret:
        form["client_secret"] = client_secret
    return form


async def request_token(
    token_url: str,
    form: Mapping[str, str],
    *,
    transport: Any = None,
    timeouts: Timeouts | None = None,
    basic_auth: tuple[str, str] | None = None,
    previous: TokenSet | None = None,
    what: str = "the sign-in",
) -> TokenSet:
    """POST ``form`` to an OAuth token endpoint and return the tokens (code exchange or refresh)."""
    for name in ("code", "code_verifier", "client_secret", "refresh_token", "client_assertion"):
        register_secret(form.get(name))
    auth = httpx.BasicAuth(*basic_auth) if basic_auth else None
    async with make_client(timeouts=timeouts, transport=transport, auth=auth) as client:
        try:
            response = await client.post(token_url, data=dict(form))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NetworkError("Could not reach the sign-in server. Check the internet connection, a proxy or "
                               "firewall, and the sign-in address.",
                               detail=f"POST {token_url}: {_why(exc)}") from None
        except httpx.HTTPError as exc:
            raise TransientError("The sign-in server did not answer properly; try again in a moment.",
                                 detail=f"POST {token_url}: {_why(exc)}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    log.debug("POST %s -> %d", redact(token_url), response.status_code)
    if response.status_code != 200:
        raise _token_error(response.status_code, payload, what)
    return token_set_from_json(payload, previous=previous)


class OAuthRefreshAuth(httpx.Auth):
    """Bearer auth with OAuth tokens that refreshes itself (before expiry, and once after a 401).

    The refresh request goes through the same client (and transport) as the API calls. New tokens are handed
    to ``on_refresh`` (which saves them in the keyring); a refused refresh raises :class:`AuthError` ("sign in
    again"). Concurrent requests share one refresh (an asyncio lock).
    """

    def __init__(
        self,
        tokens: TokenSet,
        *,
        token_url: str,
        client_id: str,
        client_secret: str = "",
        on_refresh: Callable[[TokenSet], None] | None = None,
        clock: Callable[[], float] = time.time,
        leeway: float = 60.0,
        basic_client_auth: bool = False,
        scheme: str = "Bearer",
    ) -> None:
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)
        register_secret(client_secret)
        self.tokens = tokens
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.on_refresh = on_refresh
        self.clock = clock
        self.leeway = leeway
        self.basic_client_auth = basic_client_auth
        self.scheme = scheme  # the Authorization scheme (Zoho sends ``Zoho-oauthtoken``)
        self.refreshes = 0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"OAuthRefreshAuth(token_url={self.token_url!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("OAuthRefreshAuth works with httpx.AsyncClient only")

    def _refresh_request(self) -> httpx.Request:
        if not self.tokens.refresh_token:
            raise AuthError("The sign-in has expired and cannot be renewed. Sign in again.")
        if self.basic_client_auth:
            form = {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}
            request = httpx.Request("POST", self.token_url, data=form)
            basic = httpx.BasicAuth(self.client_id, self.client_secret)
            return next(basic.auth_flow(request))
        form = refresh_form(self.tokens, self.client_id, self.client_secret)
        return httpx.Request("POST", self.token_url, data=form)

    def _apply_refresh(self, response: httpx.Response) -> None:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200:
            raise _token_error(response.status_code, payload, "renewing the sign-in")
        self.tokens = token_set_from_json(payload, now=self.clock(), previous=self.tokens)
        self.refreshes += 1
        log.info("Renewed the OAuth access token (expires in %.0f s)",
                 (self.tokens.expires_at or self.clock()) - self.clock())
        if self.on_refresh is not None:
            self.on_refresh(self.tokens)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        refreshed = False
        if self.tokens.expired(self.clock(), self.leeway):
            async with self._lock:
                if self.tokens.expired(self.clock(), self.leeway):
                    response = yield self._refresh_request()
                    await response.aread()
                    self._apply_refresh(response)
                    refreshed = True
        used = self.tokens.access_token
        request.headers["Authorization"] = f"{self.scheme} {used}"
        response = yield request
        if response.status_code == 401 and not refreshed and self.tokens.refresh_token:
            async with self._lock:
                if self.tokens.access_token == used:  # nobody refreshed meanwhile
                    refresh = yield self._refresh_request()
                    await refresh.aread()
                    self._apply_refresh(refresh)
            request.headers["Authorization"] = f"{self.scheme} {self.tokens.access_token}"
            yield request


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """How to ask for an access token: a form (OAuth's token endpoint) or a JSON body (a vendor's login endpoint),
    with the client's credentials as HTTP Basic when ``basic`` is given."""

    url: str
    form: Mapping[str, str] | None = None
    json: Any = None
    basic: tuple[str, str] | None = None


class FetchedTokenAuth(httpx.Auth):
    """Bearer auth with a token the adapter obtains by one request of its own (OAuth client credentials, a vendor's
    ``/authenticate``): fetched on first use, fetched again before it expires (``leeway`` seconds early) and once
    after a 401, through the same client and transport as the API calls. Concurrent requests share one fetch.

    ``parse(reply)`` turns the answer into ``(token, expires_at)`` (a UNIX time, or None when it does not expire)
    or raises the vendor's :class:`AdapterError`; ``on_token(token, expires_at)`` may keep it (in the keyring) so the
    next process reuses it; ``token``/``expires_at`` start from such a kept one.
    """

    def __init__(
        self,
        make_request: Callable[[], TokenRequest],
        parse: Callable[[Reply], tuple[str, float | None]],
        *,
        token: str = "",
        expires_at: float | None = None,
        on_token: Callable[[str, float | None], None] | None = None,
        clock: Callable[[], float] = time.time,
        leeway: float = 60.0,
        scheme: str = "Bearer",
    ) -> None:
        register_secret(token)
        self.make_request = make_request
        self.parse = parse
        self.token = token
        self.expires_at = expires_at
        self.on_token = on_token
        self.clock = clock
        self.leeway = leeway
        self.scheme = scheme
        self.fetches = 0  # tokens asked for by this auth
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return "FetchedTokenAuth(***)"

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("FetchedTokenAuth works with httpx.AsyncClient only")

    def _stale(self) -> bool:
        return not self.token or (self.expires_at is not None and self.clock() >= self.expires_at - self.leeway)

    def _token_request(self) -> httpx.Request:
        spec = self.make_request()
        for value in (spec.form or {}).values():
            register_secret(value)
        if isinstance(spec.json, Mapping):
            for value in spec.json.values():
                register_secret(str(value))
        headers = {"Accept": "application/json"}
        if spec.form is not None:
            request = httpx.Request("POST", spec.url, data=dict(spec.form), headers=headers)
        else:
            request = httpx.Request("POST", spec.url, json=spec.json, headers=headers)
        if spec.basic is not None:
            register_secret(spec.basic[1])
            request = next(httpx.BasicAuth(*spec.basic).auth_flow(request))
        return request

    def _apply(self, response: httpx.Response) -> None:
        token, expires_at = self.parse(_reply(response, 0.0))
        register_secret(token)
        self.token, self.expires_at = token, expires_at
        self.fetches += 1
        if self.on_token is not None:
            self.on_token(token, expires_at)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        fetched = False
        if self._stale():
            async with self._lock:
                if self._stale():
                    response = yield self._token_request()
                    await response.aread()
                    self._apply(response)
                    fetched = True
        used = self.token
        request.headers["Authorization"] = f"{self.scheme} {used}"
        response = yield request
        if response.status_code == 401 and not fetched:
            async with self._lock:
                if self.token == used:  # nobody fetched a new one meanwhile
                    self.token = ""
                    fresh = yield self._token_request()
                    await fresh.aread()
                    self._apply(fresh)
            request.headers["Authorization"] = f"{self.scheme} {self.token}"
            yield request
