"""Test connection: each integration that can check its credentials registers a tester here.

A tester is an async function ``(ctx, key) -> ConnectionTestResult`` that never raises for expected failures
(bad credentials, missing scope, network, rate limit): it returns ``ok=False`` with a readable ``message``.
Views show a **Test connection** button only for keys in :data:`TESTERS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConnectionTestResult:
    ok: bool
    message: str
    account: str = ""
    user: str = ""


Tester = Callable[[Any, str], Awaitable[ConnectionTestResult]]

TESTERS: dict[str, Tester] = {}


def register(key: str, tester: Tester) -> None:
    TESTERS[key] = tester


def supports(key: str) -> bool:
    _load_testers()
    return key in TESTERS


async def run_connection_test(ctx: Any, key: str) -> ConnectionTestResult:
    _load_testers()
    tester = TESTERS.get(key)
    if tester is None:
        return ConnectionTestResult(False, "This integration cannot be tested from Enginy Desktop yet.")
    return await tester(ctx, key)


def _load_testers() -> None:
    """Import the adapter registry, whose modules register their testers (kept lazy for start-up time)."""
    try:
        import enginy_desktop.adapters.registry  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "enginy_desktop.adapters.registry":
            raise
