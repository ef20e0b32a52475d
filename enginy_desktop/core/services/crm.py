"""CRM calls shared by the window and the command line (Qt-free): who am I, fields, users of the enabled CRM.

Every function opens the adapter on the saved connection, does its work and closes it. Refusals that the user
can fix (no CRM enabled, not connected) are :class:`CrmServiceError` with a sentence saying what to do; failures
of the CRM itself are the adapters' :class:`~enginy_desktop.adapters.base.AdapterError` (also readable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from enginy_desktop.adapters.base import CrmAdapter, CrmField, CrmIdentity, CrmObject, CrmUser
from enginy_desktop.core import catalog
from enginy_desktop.core.services.integrations import IntegrationError


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
            "hubspot`) and connect it."
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
async def open_crm(ctx: Any, key: str | None = None, transport: Any = None) -> AsyncIterator[CrmAdapter]:
    """The adapter of ``key`` (default: the enabled CRM) on its saved connection, closed on exit."""
    from enginy_desktop.adapters.registry import open_crm_adapter

    key = key or active_crm_key(ctx)
    require_connected(ctx, key)
    adapter = open_crm_adapter(ctx, key, transport=transport)
    try:
        yield adapter
    finally:
        await adapter.aclose()


async def check(ctx: Any, key: str, transport: Any = None) -> CrmIdentity:
    """Verify the saved connection of CRM ``key`` (enabled or not); raises AdapterError saying what is wrong."""
    async with open_crm(ctx, key, transport) as adapter:
        return await adapter.check()


async def crm_fields(ctx: Any, object: CrmObject | str, transport: Any = None) -> list[CrmField]:
    """The fields of ``contacts`` or ``companies`` in the enabled CRM."""
    async with open_crm(ctx, None, transport) as adapter:
        return await adapter.fields(CrmObject(object))


async def crm_users(ctx: Any, transport: Any = None) -> list[CrmUser]:
    """The users (owners) of the enabled CRM."""
    async with open_crm(ctx, None, transport) as adapter:
        return await adapter.users()


async def sign_in_with_browser(
    ctx: Any,
    key: str,
    *,
    open_browser: Callable[[str], Any] | None = None,
    on_url: Callable[[str], None] | None = None,
    transport: Any = None,
    timeout: float = 300.0,
    redirect_port: int | None = None,
) -> None:
    """OAuth sign-in in the system browser for CRM ``key`` (its client id must be saved first); the tokens are
    kept in the keyring. Raises ``OAuthError`` (time-out, cancelled, wrong state) or other AdapterErrors."""
    from enginy_desktop.adapters.registry import sign_in

    spec = catalog.get(key)
    if not spec.is_crm:
        raise CrmServiceError(f"{spec.name} is not a CRM.")
    await sign_in(ctx, key, open_browser=open_browser, on_url=on_url, transport=transport, timeout=timeout,
                  redirect_port=redirect_port)


def supports_browser_sign_in(key: str) -> bool:
    """Whether Enginy Desktop can sign in to ``key`` in the browser (OAuth with the user's own app)."""
    from enginy_desktop.adapters.registry import CRM_ADAPTERS

    spec = catalog.get(key)
    return key in CRM_ADAPTERS and spec.auth in (catalog.AuthKind.TOKEN_OR_OAUTH, catalog.AuthKind.OAUTH)
