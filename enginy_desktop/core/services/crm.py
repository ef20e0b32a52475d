"""CRM calls shared by the window and the command line (Qt-free): who am I, fields, users of the enabled CRM.

Every function opens the adapter on the saved connection, does its work and closes it. Refusals that the user
can fix (no CRM enabled, not connected) are :class:`CrmServiceError` with a sentence saying what to do; failures
of the CRM itself are the adapters' :class:`~enginy_desktop.adapters.base.AdapterError` (also readable).
"""

from __future__ import annotations

import dataclasses
import logging
import webbrowser
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from enginy_desktop.adapters.base import (
    AuthError,
    CrmAdapter,
    CrmField,
    CrmIdentity,
    CrmObject,
    CrmUser,
    TokenSet,
)
from enginy_desktop.core import catalog
from enginy_desktop.core.services.adapters import AdapterFactory, AdapterUnavailableError
from enginy_desktop.core.services.integrations import IntegrationError

log = logging.getLogger(__name__)


class CrmServiceError(IntegrationError):
    """A readable refusal (no CRM enabled, not connected, not a CRM)."""


class NoActiveCrmError(CrmServiceError):
    pass


class CrmNotConnectedError(CrmServiceError):
    pass


def active_crm_key(ctx: Any) -> str:
    spec = ctx.integrations.active_crm()
    if spec is None:
        raise NoActiveCrmError(
            "No CRM is enabled. Enable one on the Integrations page (or run `enginy-desktop integrations enable "
            "KEY`) and connect it."
        )
    return str(spec.key)


def require_connected(ctx: Any, key: str) -> None:
    spec = catalog.get(key)
    if not spec.is_crm:
        raise CrmServiceError(f"{spec.name} is not a CRM.")
    if not ctx.integrations.get(key).connected:
        raise CrmNotConnectedError(
            f"{spec.name} is not connected. Add its credentials on the Integrations page (Configure) or with "
            f"`enginy-desktop connect {key}`."
        )


@asynccontextmanager
async def open_crm(ctx: Any, key: str | None = None, *, people_object: str | None = None
                   ) -> AsyncIterator[CrmAdapter]:
    """The adapter of ``key`` (default: the enabled CRM) on its saved connection, closed on exit
    (``people_object``: see ``AdapterFactory.crm``)."""
    key = key or active_crm_key(ctx)
    require_connected(ctx, key)
    adapter = ctx.adapters.crm(key) if people_object is None else ctx.adapters.crm(key, people_object=people_object)
    try:
        yield adapter
    finally:
        await adapter.aclose()


async def check(ctx: Any, key: str) -> CrmIdentity:
    """Verify the saved connection of CRM ``key`` (enabled or not); raises AdapterError saying what is wrong."""
    async with open_crm(ctx, key) as adapter:
        return await adapter.check()


async def crm_fields(ctx: Any, object: CrmObject | str) -> list[CrmField]:
    """The fields of ``contacts`` or ``companies`` in the enabled CRM."""
    async with open_crm(ctx, None) as adapter:
        return await adapter.fields(CrmObject(object))


async def crm_users(ctx: Any) -> list[CrmUser]:
    """The users (owners) of the enabled CRM."""
    async with open_crm(ctx, None) as adapter:
        return await adapter.users()


async def sign_in_with_browser(
    ctx: Any,
    key: str,
    *,
    open_browser: Callable[[str], Any] | None = None,
    on_url: Callable[[str], None] | None = None,
    timeout: float = 300.0,
    redirect_port: int | None = None,
) -> TokenSet:
    """OAuth sign-in (RFC 8252 loopback + PKCE) in the system browser for CRM ``key`` with the client id saved
    in its settings; the tokens go to the keyring (``oauth_token``) and the connection is marked as saved.
    Raises ``OAuthError`` (time-out, cancelled, wrong state) or other AdapterErrors."""
    from enginy_desktop.adapters import oauth

    spec = catalog.get(key)
    if not spec.is_crm:
        raise CrmServiceError(f"{spec.name} is not a CRM.")
    factory = ctx.adapters
    provider = factory.crm_class(key).oauth_provider(factory.connection(key))
    if provider is None:
        raise AdapterUnavailableError(f"{spec.name} has no browser sign-in in Enginy Desktop.", vendor=key)
    if redirect_port is not None:
        provider = dataclasses.replace(provider, redirect_port=redirect_port)
    if ctx.secrets is None:
        raise AuthError("No secure place to keep the sign-in is available: set up the system keyring or the "
                        "encrypted credentials file first.", vendor=key)
    tokens = await oauth.sign_in(provider, open_browser=open_browser or webbrowser.open, on_url=on_url,
                                 timeout=timeout, transport=factory.transport)
    oauth.TokenStore(ctx.secrets, key).save(tokens)
    ctx.integrations.save_connection(key, {"client_id": provider.client_id})
    log.info("Signed in to %s; the tokens are in %s", spec.name, ctx.secrets.description)
    return tokens


def supports_browser_sign_in(key: str) -> bool:
    """Whether Enginy Desktop can sign in to ``key`` in the browser (OAuth with the user's own app)."""
    spec = catalog.get(key)
    return AdapterFactory.has_crm(key) and spec.auth in (catalog.AuthKind.TOKEN_OR_OAUTH, catalog.AuthKind.OAUTH)
