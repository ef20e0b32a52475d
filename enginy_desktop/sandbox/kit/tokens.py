"""Credentials of an emulator: long-lived tokens from its configuration (API keys, private-app tokens), OAuth 2.0
access and refresh tokens, and authorization codes with PKCE (RFC 7636), with the token-lifetime faults.

:class:`TokenStore` holds them and applies the rules; :mod:`.oauth` puts the authorization-code and refresh
grants behind HTTP endpoints each vendor mounts with its own paths and shapes.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .faults import FaultConfig

CODE_LIFETIME_S = 300.0


@dataclass
class TokenInfo:
    """One access credential. ``kind`` goes into the request log ("private_app", "api_key", "oauth"…)."""

    token: str
    kind: str
    issued_at: float
    expires_at: float | None = None
    client_id: str = ""
    refresh_token: str = ""
    scopes: tuple[str, ...] = ()
    user_id: int = 0
    first_used: float | None = None
    uses: int = 0
    used_up_at: float | None = None  # when a request-count TTL fault ran out
    revoked: bool = False


@dataclass
class RefreshInfo:
    token: str
    client_id: str
    scopes: tuple[str, ...]
    user_id: int
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str
    expires_at: float
    used: bool = False


# Why an OAuth request was refused. Each maps to an RFC 6749 error code (``OAuthProblem.rfc_code``); a vendor
# may map the reasons to its own codes (HubSpot: BAD_AUTH_CODE, BAD_CLIENT_ID…).
Reason = Literal["bad_code", "bad_client_id", "bad_client_secret", "bad_redirect_uri", "bad_verifier",
                 "bad_refresh_token", "bad_grant_type"]

_RFC_CODES: dict[str, str] = {
    "bad_code": "invalid_grant", "bad_verifier": "invalid_grant", "bad_redirect_uri": "invalid_grant",
    "bad_refresh_token": "invalid_grant", "bad_client_id": "invalid_client", "bad_client_secret": "invalid_client",
    "bad_grant_type": "unsupported_grant_type",
}


class OAuthProblem(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def rfc_code(self) -> str:
        return _RFC_CODES[self.reason]


class TokenProblem(Exception):
    """A credential was refused: ``kind`` is "unknown" (missing, wrong or revoked) or "expired"."""

    def __init__(self, kind: Literal["unknown", "expired"], expired_for: float = 0.0,
                 info: TokenInfo | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.expired_for = expired_for
        self.info = info


def pkce_ok(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636: ``S256`` (BASE64URL(SHA256(verifier)) without padding) or ``plain``."""
    if method.upper() == "PLAIN":
        return secrets.compare_digest(verifier, challenge)
    digest = hashlib.sha256(verifier.encode()).digest()
    return secrets.compare_digest(base64.urlsafe_b64encode(digest).decode().rstrip("="), challenge)


def _default_maker(prefix: str, nbytes: int) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


class TokenStore:
    """Static tokens (valid until a TTL fault), issued OAuth tokens, refresh tokens and authorization codes.

    ``make_token(prefix, nbytes)`` makes new token strings (pass a seeded one for reproducible runs);
    ``clients`` maps OAuth client ids to secrets (None accepts any client id); ``credential_clients`` maps the
    ids of the applications that may use the client-credentials grant to their secrets (None: the grant is
    refused); ``faults`` (or a function that returns the current ones) supplies the token-lifetime faults.
    """

    def __init__(
        self,
        *,
        static: Iterable[str] = (),
        static_kind: str = "api_key",
        clock: Callable[[], float],
        faults: FaultConfig | Callable[[], FaultConfig] | None = None,
        access_lifetime_s: float = 3600.0,
        default_scopes: Iterable[str] = (),
        user_id: Callable[[], int] | int = 0,
        clients: Mapping[str, str] | None = None,
        credential_clients: Mapping[str, str] | None = None,
        make_token: Callable[[str, int], str] = _default_maker,
        prefixes: tuple[str, str, str] = ("sbx-oauth-", "sbx-refresh-", "sbx-code-"),
    ) -> None:
        self.static = tuple(static)
        self.static_kind = static_kind
        self.clock = clock
        self._faults = faults or FaultConfig()
        self.access_lifetime_s = access_lifetime_s
        self.default_scopes = tuple(default_scopes)
        self._user_id = user_id
        self.clients = clients
        self.credential_clients = credential_clients
        self.make_token = make_token
        self.prefixes = prefixes
        self.reset()

    def reset(self) -> None:
        self.static_tokens: dict[str, TokenInfo] = {}
        self.access_tokens: dict[str, TokenInfo] = {}
        self.refresh_tokens: dict[str, RefreshInfo] = {}
        self.auth_codes: dict[str, AuthCode] = {}

    @property
    def faults(self) -> FaultConfig:
        return self._faults() if callable(self._faults) else self._faults

    @property
    def user_id(self) -> int:
        return self._user_id() if callable(self._user_id) else self._user_id

    # -- access ---------------------------------------------------------------------------------------------------

    def lookup(self, token: str) -> TokenInfo | None:
        """The credential ``token`` names, or None (no checks, no counting)."""
        info = self.access_tokens.get(token)
        if info is not None:
            return info
        if token in self.static:
            info = self.static_tokens.get(token)
            if info is None:
                info = self.static_tokens[token] = TokenInfo(token, self.static_kind, issued_at=self.clock(),
                                                             scopes=self.default_scopes, user_id=self.user_id)
            return info
        return None

    def use(self, token: str | None) -> TokenInfo:
        """Check ``token`` and count one use; :class:`TokenProblem` when it is unknown, revoked or expired
        (by its lifetime or a ``token_ttl_*`` fault)."""
        info = self.lookup(token) if token else None
        if info is None or info.revoked:
            raise TokenProblem("unknown")
        now = self.clock()
        expired_for = self.expired_for(info, now)
        if expired_for is not None:
            raise TokenProblem("expired", expired_for, info)
        if info.first_used is None:
            info.first_used = now
        info.uses += 1
        ttl = self.faults.token_ttl_requests
        if ttl is not None and info.uses >= ttl and info.used_up_at is None:
            info.used_up_at = now
        return info

    def expired_for(self, info: TokenInfo, now: float) -> float | None:
        """Seconds since the token expired, or None while it is valid."""
        faults = self.faults
        ends: list[float] = []
        if info.expires_at is not None:
            ends.append(info.expires_at)
        if faults.token_ttl_s is not None:
            ends.append((info.first_used if info.first_used is not None else now) + faults.token_ttl_s)
        if faults.token_ttl_requests is not None and info.uses >= faults.token_ttl_requests:
            ends.append(info.used_up_at if info.used_up_at is not None else now)
        past = [now - end for end in ends if end <= now]
        return max(past) if past else None

    def lifetime_left(self, info: TokenInfo) -> int:
        if info.expires_at is None:
            return 0
        return max(0, math.ceil(info.expires_at - self.clock()))

    def expire_all(self) -> int:
        """Make every OAuth access token expire now (refresh tokens keep working); how many."""
        now = self.clock()
        for info in self.access_tokens.values():
            info.expires_at = min(info.expires_at or now, now)
        return len(self.access_tokens)

    # -- OAuth ----------------------------------------------------------------------------------------------------

    def issue_code(self, client_id: str, redirect_uri: str, scopes: Iterable[str] = (),
                   code_challenge: str | None = None, method: str = "S256") -> str:
        code = self.make_token(self.prefixes[2], 12)
        self.auth_codes[code] = AuthCode(code, client_id, redirect_uri, tuple(scopes) or self.default_scopes,
                                         code_challenge, method, self.clock() + CODE_LIFETIME_S)
        return code

    def issue(self, client_id: str, scopes: Iterable[str] = (), refresh_token: str | None = None, *,
              refreshable: bool = True) -> TokenInfo:
        """A new access token (and a new refresh token unless ``refresh_token`` is carried over, or the token is
        not ``refreshable``: a client-credentials token comes alone, RFC 6749 §4.4.3)."""
        scopes = tuple(scopes) or self.default_scopes
        user_id = self.user_id
        if not refreshable:
            refresh_token = ""
        elif refresh_token is None:
            refresh_token = self.make_token(self.prefixes[1], 18)
            self.refresh_tokens[refresh_token] = RefreshInfo(refresh_token, client_id, scopes, user_id)
        now = self.clock()
        info = TokenInfo(self.make_token(self.prefixes[0], 24), "oauth", issued_at=now,
                         expires_at=now + self.access_lifetime_s, client_id=client_id,
                         refresh_token=refresh_token, scopes=scopes, user_id=user_id)
        self.access_tokens[info.token] = info
        return info

    def check_client(self, client_id: str, client_secret: str | None, *, secret_required: bool) -> None:
        clients = self.clients
        if clients is None:
            if not client_id:
                raise OAuthProblem("bad_client_id", "missing or unknown client id")
            return
        if client_id not in clients:
            raise OAuthProblem("bad_client_id", "missing or unknown client id")
        if (secret_required or client_secret) and client_secret != clients[client_id]:
            raise OAuthProblem("bad_client_secret", "missing or invalid client secret")

    def grant(self, form: Mapping[str, str], *, rotate_refresh: bool = False) -> TokenInfo:
        """The token endpoint's logic (RFC 6749 §4.1.3, §4.4 and §6, RFC 7636 §4.6): ``authorization_code`` (with
        ``code_verifier`` when the code was issued with a challenge; the client secret is optional then),
        ``refresh_token``, or ``client_credentials`` for the ``credential_clients``. ``rotate_refresh``: a refresh
        answers a new refresh token and retires the old one."""
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        secret = form.get("client_secret") or None
        if grant == "authorization_code":
            code = self.auth_codes.get(form.get("code", ""))
            if code is None or code.used or code.expires_at < self.clock():
                raise OAuthProblem("bad_code", "missing or unknown auth code")
            if client_id != code.client_id:
                raise OAuthProblem("bad_client_id", "missing or unknown client id")
            if form.get("redirect_uri", "") != code.redirect_uri:
                raise OAuthProblem("bad_redirect_uri", "redirect_uri does not match the one used to authorize")
            if code.code_challenge is not None:
                verifier = form.get("code_verifier", "")
                if not verifier or not pkce_ok(verifier, code.code_challenge, code.code_challenge_method):
                    raise OAuthProblem("bad_verifier", "code_verifier does not match the code_challenge")
            self.check_client(client_id, secret, secret_required=code.code_challenge is None)
            code.used = True
            return self.issue(client_id, code.scopes)
        if grant == "refresh_token":
            refresh = self.refresh_tokens.get(form.get("refresh_token", ""))
            if refresh is None or refresh.revoked or refresh.client_id != client_id:
                raise OAuthProblem("bad_refresh_token", "missing or unknown refresh token")
            self.check_client(client_id, secret, secret_required=False)
            if rotate_refresh:
                refresh.revoked = True
                return self.issue(client_id, refresh.scopes)
            return self.issue(client_id, refresh.scopes, refresh.token)
        if grant == "client_credentials" and self.credential_clients is not None:
            # RFC 6749 §4.4: the application's own token, for its client id and secret; no refresh token.
            if client_id not in self.credential_clients:
                raise OAuthProblem("bad_client_id", "missing or unknown client id")
            if not secret or not secrets.compare_digest(secret, self.credential_clients[client_id]):
                raise OAuthProblem("bad_client_secret", "missing or invalid client secret")
            scopes = form.get("scope", "").replace(",", " ").split()
            return self.issue(client_id, scopes, refreshable=False)
        grants = "authorization_code, refresh_token or client_credentials" if self.credential_clients is not None \
            else "authorization_code or refresh_token"
        raise OAuthProblem("bad_grant_type", f"grant_type must be {grants}, got '{grant}'")

    def revoke(self, token: str) -> bool:
        """Revoke an access token, or a refresh token and every access token issued from it."""
        if token in self.access_tokens:
            self.access_tokens[token].revoked = True
            return True
        refresh = self.refresh_tokens.get(token)
        if refresh is None:
            return False
        refresh.revoked = True
        for info in self.access_tokens.values():
            if info.refresh_token == token:
                info.revoked = True
        return True
