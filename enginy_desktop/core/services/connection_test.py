"""Test connection: ask the integration's adapter who we are, and say what is wrong in one sentence.

A test never raises for expected failures (bad credentials, missing scope, network, rate limit): it returns
``ok=False`` with a readable ``message``. Views show a **Test connection** button only where :func:`supports` says
so: every integration with an adapter (CRMs, Slack, OpenAI, TheirStack).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from enginy_desktop.adapters import registry
from enginy_desktop.adapters.base import (
    AdapterError,
    AuthError,
    MissingScopeError,
    NetworkError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
    error_detail,
)
from enginy_desktop.core import catalog

from .adapters import AdapterFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionTestResult:
    ok: bool
    message: str
    account: str = ""
    user: str = ""
    detail: str = ""  # the technical part of a failure (for "Details" / --verbose), never a secret


def supports(key: str) -> bool:
    return AdapterFactory.has_adapter(key)


def _quick_retry() -> Any:
    from enginy_desktop.adapters.http import RetryPolicy

    return RetryPolicy(max_attempts=2, base_delay=0.5, max_wait=5)


def describe_failure(name: str, exc: AdapterError) -> str:
    """One sentence for the user: what went wrong and what to do."""
    if isinstance(exc, MissingScopeError | AuthError | QuotaExhaustedError):
        return str(exc)
    if isinstance(exc, NetworkError):  # it names the vendor and says what to check: not "could not be reached" again
        return str(exc) if name in str(exc) else f"{name} could not be reached. {exc}"
    if isinstance(exc, RateLimitedError):
        wait = f" Try again in {exc.retry_after:.0f} seconds." if exc.retry_after else " Try again in a minute."
        return f"{name} is limiting requests right now (rate limit).{wait}"
    if isinstance(exc, TransientError):
        if name in str(exc):  # "HubSpot did not answer in time."
            return f"{exc} Try again in a moment."
        return f"{name} had a temporary problem; try again in a moment. ({exc})"
    return f"The {name} connection test failed: {exc}"


def _failed(name: str, exc: AdapterError) -> ConnectionTestResult:
    return ConnectionTestResult(False, describe_failure(name, exc), detail=error_detail(exc))


async def check_crm_connection(ctx: Any, key: str) -> ConnectionTestResult:
    """Run ``check()`` on the saved connection of CRM ``key``."""
    name = catalog.get(key).name
    try:
        adapter = ctx.adapters.crm(key, retry=_quick_retry())
    except AdapterError as exc:
        return _failed(name, exc)
    try:
        identity = await adapter.check()
    except AdapterError as exc:
        log.info("%s connection test failed: %s [%s]", name, exc, error_detail(exc))
        return _failed(name, exc)
    finally:
        await adapter.aclose()
    message = identity.details or f"Connected to {name}."
    return ConnectionTestResult(True, message, account=identity.account, user=identity.user)


async def check_slack_connection(ctx: Any) -> ConnectionTestResult:
    """Post a test message with the saved Slack connection."""
    try:
        adapter = ctx.adapters.slack(retry=_quick_retry())
    except AdapterError as exc:
        return ConnectionTestResult(False, str(exc), detail=error_detail(exc))
    try:
        identity = await adapter.check()
    except AdapterError as exc:
        log.info("Slack connection test failed: %s [%s]", exc, error_detail(exc))
        return ConnectionTestResult(False, str(exc), detail=error_detail(exc))
    finally:
        await adapter.aclose()
    return ConnectionTestResult(True, identity.details, account=identity.team, user=identity.user)


def _enrichment_message(account: Any) -> ConnectionTestResult:
    credits = (f" Credits left: {account.credits_left:,.1f}".rstrip("0").rstrip(".") + "."
               if account.credits_left is not None else "")
    return ConnectionTestResult(True, f"{account.details}{credits}", account=account.account)


async def check_other_connection(ctx: Any, key: str) -> ConnectionTestResult:
    """An adapter whose ``check()`` answers one sentence (OpenAI, TheirStack) or a data-enrichment provider's
    account (``ProviderAccount``: the account and the credits left where the API tells them)."""
    name = catalog.get(key).name
    try:
        adapter = ctx.adapters.open(key, retry=_quick_retry())
    except AdapterError as exc:
        return _failed(name, exc)
    try:
        message = await adapter.check()
    except AdapterError as exc:
        log.info("%s connection test failed: %s [%s]", name, exc, error_detail(exc))
        return _failed(name, exc)
    finally:
        await adapter.aclose()
    if key in registry.enrichment_adapters():
        return _enrichment_message(message)
    return ConnectionTestResult(True, str(message))


async def run_connection_test(ctx: Any, key: str) -> ConnectionTestResult:
    if key == "slack":
        return await check_slack_connection(ctx)
    if AdapterFactory.has_crm(key):
        return await check_crm_connection(ctx, key)
    if AdapterFactory.has_adapter(key):
        return await check_other_connection(ctx, key)
    return ConnectionTestResult(False, "This integration cannot be tested from Enginy Desktop yet.")


__all__ = ["ConnectionTestResult", "describe_failure", "run_connection_test", "supports"]
