"""OAuth 2.0 authorization-code (with PKCE), refresh and client-credentials endpoints over a
:class:`~.tokens.TokenStore`, for a vendor to mount at its own paths with its own response and error shapes.

    oauth = OAuthEndpoints(emulator.tokens, error=my_error, token_body=my_token_json)
    routes += oauth.routes(authorize="/oauth/authorize", token="/oauth/token", revoke="/oauth/revoke")

and list the paths in the emulator's ``public_paths`` (the token endpoint checks its own client credentials).
The consent step is approved at once: ``GET authorize`` redirects to ``redirect_uri`` with ``code`` and ``state``.
The token endpoint takes ``application/x-www-form-urlencoded`` (RFC 6749) or JSON bodies, and the client's
credentials in the body or as HTTP Basic (RFC 6749 §2.3.1).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .emulator import Emulator
from .errors import VendorError
from .http import no_content, ok
from .tokens import OAuthProblem, TokenInfo, TokenStore


class OAuthError(VendorError):
    """RFC 6749 §5.2: ``{"error": "invalid_grant", "error_description": …}`` (401 for ``invalid_client``)."""

    def __init__(self, problem: OAuthProblem) -> None:
        super().__init__(401 if problem.rfc_code == "invalid_client" else 400, problem.message)
        self.code = problem.rfc_code

    def payload(self, emulator: Emulator) -> Any:
        return {"error": self.code, "error_description": self.message}


def rfc_token_body(tokens: TokenStore, info: TokenInfo) -> dict[str, Any]:
    """RFC 6749 §5.1 (no ``refresh_token`` for a token that has none, as client credentials' §4.4.3)."""
    body: dict[str, Any] = {"access_token": info.token, "token_type": "bearer",
                            "expires_in": tokens.lifetime_left(info)}
    if info.refresh_token:
        body["refresh_token"] = info.refresh_token
    return {**body, "scope": " ".join(info.scopes)}


async def read_form(request: Request) -> dict[str, str]:
    """The token request's parameters: a form or JSON body, plus HTTP Basic client credentials."""
    raw = await request.body()
    form: dict[str, str]
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        form = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    else:
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id, secret = "", ""
        form.setdefault("client_id", client_id)
        form.setdefault("client_secret", secret)
    return form


class OAuthEndpoints:
    """``authorize`` (GET, approved at once), ``token`` (POST) and ``revoke`` (POST) handlers.

    ``error(problem)`` shapes a refusal (default: RFC 6749's); ``token_body(info)`` the token answer (default:
    RFC 6749's); ``rotate_refresh``: each refresh answers a new refresh token and retires the old one.
    """

    def __init__(self, tokens: TokenStore, *, error: Callable[[OAuthProblem], VendorError] | None = None,
                 token_body: Callable[[TokenInfo], dict[str, Any]] | None = None,
                 rotate_refresh: bool = False) -> None:
        self.tokens = tokens
        self.error = error or OAuthError
        self.token_body = token_body or (lambda info: rfc_token_body(tokens, info))
        self.rotate_refresh = rotate_refresh

    def redirect_with_code(self, request: Request) -> Response:
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        clients = self.tokens.clients
        if not client_id or (clients is not None and client_id not in clients) or not redirect_uri:
            raise self.error(OAuthProblem("bad_client_id", "missing or unknown client id, or no redirect_uri"))
        scopes = [s for s in (q.get("scope", "") + " " + q.get("optional_scope", "")).replace(",", " ").split() if s]
        code = self.tokens.issue_code(client_id, redirect_uri, scopes, q.get("code_challenge") or None,
                                      q.get("code_challenge_method", "S256"))
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        parts = urlsplit(redirect_uri)
        query = "&".join(p for p in (parts.query, urlencode(params)) if p)
        return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)), 302)

    async def authorize(self, request: Request) -> Response:
        return self.redirect_with_code(request)

    def grant(self, form: dict[str, str]) -> TokenInfo:
        try:
            return self.tokens.grant(form, rotate_refresh=self.rotate_refresh)
        except OAuthProblem as problem:
            raise self.error(problem) from None

    async def token(self, request: Request) -> Response:
        return ok(self.token_body(self.grant(await read_form(request))))

    async def revoke(self, request: Request) -> Response:
        form = await read_form(request)
        self.tokens.revoke(form.get("token", ""))
        return no_content()

    def routes(self, *, authorize: str | None = None, token: str | None = None, revoke: str | None = None
               ) -> list[BaseRoute]:
        out: list[BaseRoute] = []
        if authorize:
            out.append(Route(authorize, self.authorize, methods=["GET"]))
        if token:
            out.append(Route(token, self.token, methods=["POST"]))
        if revoke:
            out.append(Route(revoke, self.revoke, methods=["POST"]))
        return out
