"""Catalog key -> adapter class, and opening an adapter from a saved connection.

Importing this module registers the connection testers of the adapters it knows with
:mod:`enginy_desktop.core.services.connection_test` (which imports it lazily).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import webbrowser
from collections.abc import Callable
from typing import Any

from enginy_desktop.core import catalog
from enginy_desktop.core.services import connection_test
from enginy_desktop.core.services.connection_test import ConnectionTestResult

from . import oauth
from .base import (
    AdapterError,
    AuthError,
    Connection,
    CrmAdapter,
    MissingScopeError,
    NetworkError,
    QuotaExhaustedError,
    RateLimitedError,
    TokenSet,
    TransientError,
)

log = logging.getLogger(__name__)

# catalog key -> "module:Class" (imported on first use, so start-up does not pay for every vendor)
CRM_ADAPTERS: dict[str, str] = {
    "hubspot": "enginy_desktop.adapters.hubspot:HubSpotAdapter",
    "pipedrive": "enginy_desktop.adapters.pipedrive:PipedriveAdapter",
}


class AdapterUnavailableError(AdapterError):
    """No adapter exists (yet) for this integration."""


def crm_adapter_class(key: str) -> type[CrmAdapter]:
    target = CRM_ADAPTERS.get(key)
    if target is None:
        name = catalog.get(key).name
        raise AdapterUnavailableError(f"Enginy Desktop cannot talk to {name} yet.", vendor=key)
    module_name, _, class_name = target.partition(":")
    cls: type[CrmAdapter] = getattr(importlib.import_module(module_name), class_name)
    return cls


def connection_for(ctx: Any, key: str) -> Connection:
    """Settings from the store and secrets from the keyring of one integration, as an adapter wants them."""
    service = ctx.integrations
    settings = service.settings(key)
    spec = catalog.get(key)
    secret_names = {f.name for f in spec.secret_fields}
    store = service.secrets

    def get_secret(name: str) -> str | None:
        if store is None:
            # No unlocked secret store (e.g. the encrypted credentials file without its passphrase): say that,
            # rather than "not connected".
            problem = getattr(ctx, "secrets_problem", "")
            if problem:
                raise AuthError(problem, vendor=key)
            return None
        if name in secret_names:
            return service.secret(key, name)
        return store.get(key, name)  # e.g. oauth_token, kept by the sign-in

    def set_secret(name: str, value: str) -> None:
        if store is not None:
            store.set(key, name, value)

    return Connection(key=key, settings=settings, get_secret=get_secret, set_secret=set_secret)


def open_crm_adapter(ctx: Any, key: str, transport: Any = None, **options: Any) -> CrmAdapter:
    """The adapter of CRM ``key`` on its saved connection (close it with ``aclose`` or ``async with``).

    ``transport`` replaces the network (tests: ``httpx.ASGITransport`` on the sandbox); ``options`` go to the
    adapter's ``from_connection`` (e.g. ``retry``).
    """
    spec = catalog.get(key)
    if not spec.is_crm:
        raise AdapterUnavailableError(f"{spec.name} is not a CRM.", vendor=key)
    cls = crm_adapter_class(key)
    return cls.from_connection(connection_for(ctx, key), transport=transport, **options)


async def sign_in(
    ctx: Any,
    key: str,
    *,
    open_browser: Callable[[str], Any] | None = None,
    on_url: Callable[[str], None] | None = None,
    timeout: float = oauth.DEFAULT_TIMEOUT,
    transport: Any = None,
    redirect_port: int | None = None,
) -> TokenSet:
    """Browser sign-in (OAuth + PKCE) for integration ``key`` with the client id saved in its settings; the
    tokens go to the keyring (``oauth_token``) and the connection is marked as saved."""
    spec = catalog.get(key)
    provider = crm_adapter_class(key).oauth_provider(connection_for(ctx, key))
    if provider is None:
        raise AdapterUnavailableError(f"{spec.name} has no browser sign-in in Enginy Desktop.", vendor=key)
    if redirect_port is not None:
        provider = dataclasses.replace(provider, redirect_port=redirect_port)
    if ctx.secrets is None:
        raise AuthError("No secure place to keep the sign-in is available: set up the system keyring or the "
                        "encrypted credentials file first.", vendor=key)
    tokens = await oauth.sign_in(provider, open_browser=open_browser or webbrowser.open, on_url=on_url,
                                 timeout=timeout, transport=transport)
    oauth.TokenStore(ctx.secrets, key).save(tokens)
    ctx.integrations.save_connection(key, {"client_id": provider.client_id})
    log.info("Signed in to %s; the tokens are in %s", spec.name, ctx.secrets.description)
    return tokens


# -- Test connection -----------------------------------------------------------------------------------------------


def describe_failure(name: str, exc: AdapterError) -> str:
    """One sentence for the user: what went wrong and what to do."""
    if isinstance(exc, MissingScopeError):
        return str(exc)
    if isinstance(exc, AuthError):
        return str(exc)
    if isinstance(exc, NetworkError):
        return f"{name} could not be reached. {exc}"
    if isinstance(exc, QuotaExhaustedError):
        return str(exc)
    if isinstance(exc, RateLimitedError):
        wait = f" Try again in {exc.retry_after:.0f} seconds." if exc.retry_after else " Try again in a minute."
        return f"{name} is limiting requests right now (rate limit).{wait}"
    if isinstance(exc, TransientError):
        return f"{name} had a temporary problem; try again in a moment. ({exc})"
    return f"The {name} connection test failed: {exc}"


async def check_crm_connection(ctx: Any, key: str, transport: Any = None) -> ConnectionTestResult:
    """Run ``check()`` on the saved connection; never raises for expected failures."""
    from .http import RetryPolicy

    name = catalog.get(key).name
    try:
        adapter = open_crm_adapter(ctx, key, transport=transport,
                                   retry=RetryPolicy(max_attempts=2, base_delay=0.5, max_wait=5))
    except AdapterError as exc:
        return ConnectionTestResult(False, describe_failure(name, exc))
    try:
        identity = await adapter.check()
    except AdapterError as exc:
        log.info("%s connection test failed: %s", name, exc)
        return ConnectionTestResult(False, describe_failure(name, exc))
    finally:
        await adapter.aclose()
    message = identity.details or f"Connected to {name}."
    return ConnectionTestResult(True, message, account=identity.account, user=identity.user)


for _key in CRM_ADAPTERS:
    connection_test.register(_key, check_crm_connection)

# Slack (a communication integration, not a CRM) registers its Test connection when its module is imported.
from . import slack as _slack  # noqa: E402, F401
from .ai.openai import check_openai_connection  # noqa: E402
from .sources.theirstack import check_theirstack_connection  # noqa: E402

connection_test.register("openai", check_openai_connection)
connection_test.register("theirstack", check_theirstack_connection)
from .enrichment.base import register_testers as _enrichment_testers  # noqa: E402

_enrichment_testers()
