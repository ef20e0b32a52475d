"""OAuth 2.0 of the HubSpot sandbox (v1, v3 and 2026-03 token endpoints)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .hubspot_http import (
    no_content,
    ok,
)
from .hubspot_state import (
    HubSpotError,
    HubSpotSandbox,
    TokenInfo,
    not_found,
    oauth_error,
)


class OAuthApi:
    """OAuth endpoints: token (authorization code with PKCE, refresh), introspection, revocation, token info,
    and the consent step, approved at once."""

    def __init__(self, sandbox: HubSpotSandbox) -> None:
        self.sb = sandbox

    async def _form(self, request: Request) -> dict[str, str]:
        raw = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        for key in ("client_secret", "refresh_token"):  # v1 also takes these as query parameters
            if key not in form and key in request.query_params:
                form[key] = request.query_params[key]
        return form

    def _token_response(self, info: TokenInfo) -> Response:
        return ok({
            "token_type": "bearer",
            "access_token": info.token,
            "refresh_token": info.refresh_token,
            "expires_in": self.sb.token_lifetime_left(info),
            "token_use": "access_token",
            "hub_id": self.sb.config.portal_id,
            "user_id": info.user_id,
            "scopes": list(info.scopes),
        })

    async def token(self, request: Request) -> Response:
        sb = self.sb
        form = await self._form(request)
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        secret = form.get("client_secret") or None
        if grant == "authorization_code":
            code = sb.auth_codes.get(form.get("code", ""))
            if code is None or code.used or code.expires_at < sb.config.clock():
                raise oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if client_id != code.client_id:
                raise oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
            if form.get("redirect_uri", "") != code.redirect_uri:
                raise oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize")
            if code.code_challenge is not None:
                verifier = form.get("code_verifier", "")
                if not verifier or not sb.pkce_ok(verifier, code.code_challenge, code.code_challenge_method):
                    raise oauth_error("BAD_AUTH_CODE", "code_verifier does not match the code_challenge")
            sb.check_client(client_id, secret, secret_required=code.code_challenge is None)
            code.used = True
            return self._token_response(sb.issue_tokens(client_id, code.scopes))
        if grant == "refresh_token":
            refresh = sb.refresh_tokens.get(form.get("refresh_token", ""))
            if refresh is None or refresh.revoked or refresh.client_id != client_id:
                raise oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            sb.check_client(client_id, secret, secret_required=False)
            return self._token_response(sb.issue_tokens(client_id, refresh.scopes, refresh.token))
        raise oauth_error("BAD_GRANT_TYPE", f"grant_type must be authorization_code or refresh_token, got '{grant}'")

    def _signed(self, info: TokenInfo) -> dict[str, Any]:
        cfg = self.sb.config
        expires_at = int((cfg.wall_clock() + self.sb.token_lifetime_left(info)) * 1000)
        return {"appId": 4242, "appInstallId": f"{cfg.portal_id}-4242", "audience": "api", "expiresAt": expires_at,
                "hubId": cfg.portal_id, "hublet": cfg.data_hosting_location, "installingUserId": info.user_id,
                "isPrivateDistribution": True, "isServiceAccount": False, "isUserLevel": False,
                "newSignature": "", "scopeToScopeGroupPks": "", "scopes": " ".join(info.scopes),
                "signature": "", "trialScopeToScopeGroupPks": "", "trialScopes": "", "userId": info.user_id}

    def _owner_email(self) -> str:
        return self.sb.owners[0]["email"] if self.sb.owners else "owner@enginy-sandbox.example"

    def _hub_domain(self) -> str:
        return f"enginy-sandbox-{self.sb.config.portal_id}.example"

    async def introspect(self, request: Request) -> Response:
        sb = self.sb
        form = await self._form(request)
        token = form.get("token", "")
        access = sb.access_tokens.get(token)
        if access is not None:
            left = sb.token_lifetime_left(access)
            return ok({"active": left > 0 and not access.revoked, "app_id": 4242, "client_id": access.client_id,
                       "expires_in": left, "hub_id": sb.config.portal_id, "hub_domain": self._hub_domain(),
                       "is_private_distribution": True, "scopes": list(access.scopes),
                       "signed_access_token": self._signed(access), "token": token, "token_type": "bearer",
                       "token_use": "access_token", "user": self._owner_email(), "user_id": access.user_id})
        refresh = sb.refresh_tokens.get(token)
        if refresh is not None:
            return ok({"active": not refresh.revoked, "app_id": 4242, "client_id": refresh.client_id,
                       "hub_id": sb.config.portal_id, "hub_domain": self._hub_domain(), "scopes": list(refresh.scopes),
                       "token": token, "token_type": "refresh", "token_use": "refresh_token",
                       "user": self._owner_email(), "user_id": refresh.user_id})
        raise oauth_error("BAD_TOKEN", "missing or unknown token", 404)

    async def revoke(self, request: Request) -> Response:
        form = await self._form(request)
        self._revoke(form.get("token", ""))
        return no_content()

    def _revoke(self, token: str) -> bool:
        sb = self.sb
        if token in sb.access_tokens:
            sb.access_tokens[token].revoked = True
            return True
        refresh = sb.refresh_tokens.get(token)
        if refresh is None:
            return False
        refresh.revoked = True
        for info in sb.access_tokens.values():
            if info.refresh_token == token:
                info.revoked = True
        return True

    async def access_token_info(self, request: Request) -> Response:
        sb = self.sb
        info = sb.access_tokens.get(request.path_params["token"])
        if info is None or info.revoked:
            raise not_found("Token not found")
        left = sb.token_lifetime_left(info)
        if left <= 0:
            raise HubSpotError(401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired.")
        return ok({"token": info.token, "user": self._owner_email(), "hub_domain": self._hub_domain(),
                   "scopes": list(info.scopes), "hub_id": sb.config.portal_id, "app_id": 4242, "expires_in": left,
                   "user_id": info.user_id, "token_type": "access", "is_private_distribution": True})

    async def refresh_token_info(self, request: Request) -> Response:
        refresh = self.sb.refresh_tokens.get(request.path_params["token"])
        if refresh is None or refresh.revoked:
            raise not_found("Token not found")
        return ok({"token": refresh.token, "user": self._owner_email(), "hub_domain": self._hub_domain(),
                   "scopes": list(refresh.scopes), "hub_id": self.sb.config.portal_id, "client_id": refresh.client_id,
                   "user_id": refresh.user_id, "token_type": "refresh"})

    async def delete_refresh_token(self, request: Request) -> Response:
        if not self._revoke(request.path_params["token"]):
            raise not_found("Token not found")
        return no_content()

    async def authorize(self, request: Request) -> Response:
        """The browser step (app.hubspot.com/oauth/authorize), approved at once: redirects with a code."""
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        clients = self.sb.config.oauth_clients
        if not client_id or (clients is not None and client_id not in clients) or not redirect_uri:
            raise oauth_error("BAD_CLIENT_ID", "missing or unknown client id, or no redirect_uri")
        scopes = [s for s in (q.get("scope", "") + " " + q.get("optional_scope", "")).split() if s]
        code = self.sb.issue_code(client_id, redirect_uri, scopes, q.get("code_challenge") or None,
                                  q.get("code_challenge_method", "S256"))
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        parts = urlsplit(redirect_uri)
        query = "&".join(p for p in (parts.query, urlencode(params)) if p)
        return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)), 302)
