"""OAuth 2.0 of the HubSpot sandbox (v1, v3 and 2026-03 token endpoints)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from ...kit.oauth import OAuthEndpoints
from .http import (
    no_content,
    ok,
)
from .state import (
    HubSpotError,
    HubSpotSandbox,
    TokenInfo,
    hubspot_oauth_error,
    not_found,
    oauth_error,
)


class OAuthApi:
    """OAuth endpoints: token (authorization code with PKCE, refresh), introspection, revocation, token info,
    and the consent step, approved at once."""

    def __init__(self, sandbox: HubSpotSandbox) -> None:
        self.sb = sandbox
        self.endpoints = OAuthEndpoints(sandbox.tokens, error=hubspot_oauth_error)

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
        """Authorization code (with PKCE) and refresh grants, by the kit's rules, in HubSpot's shapes."""
        return self._token_response(self.endpoints.grant(await self._form(request)))

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
        self.sb.tokens.revoke(form.get("token", ""))
        return no_content()

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
        if not self.sb.tokens.revoke(request.path_params["token"]):
            raise not_found("Token not found")
        return no_content()

    async def authorize(self, request: Request) -> Response:
        """The browser step (app.hubspot.com/oauth/authorize), approved at once: redirects with a code."""
        return self.endpoints.redirect_with_code(request)
