"""Two commands right after each other on one connection: the second starts from the rate-limit window the first
left in the data folder's store, so the CRM never answers 429 to either — its window counts per token, user or
application, not per process — and the second waits for the window instead.

Every CRM with a rolling window the vendor enforces carries it: HubSpot (per ten seconds), Pipedrive (per two
seconds), Dynamics 365 (service protection, per five minutes) and TribeCRM (per minute); here on windows of two
seconds. Salesforce (a daily allocation, read back from every answer) and Zoho (concurrent requests and daily
credits) have no window to carry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.adapters import dynamics, hubspot, tribecrm
from enginy_desktop.adapters.base import RateLimit
from enginy_desktop.adapters.http import forget_limiters, windows
from enginy_desktop.adapters.pipedrive import TokenLedger
from enginy_desktop.sandbox.kit.limits import RateLimit as ServerLimit
from tests.support.crm_world import crm_world

WINDOW_S = 2.0
LIMIT = 8


def _hubspot(mp: pytest.MonkeyPatch) -> tuple[int, dict[str, Any], dict[str, str]]:
    mp.setitem(hubspot.TIER_LIMITS, hubspot.DEFAULT_TIER, RateLimit(LIMIT, WINDOW_S))
    return LIMIT, {"rate_limit": ServerLimit(LIMIT, WINDOW_S)}, {}


def _pipedrive(mp: pytest.MonkeyPatch) -> tuple[int, dict[str, Any], dict[str, str]]:
    return 20, {"plan": "Essential", "rate_limit": "plan"}, {"plan": "Essential"}  # 20 calls per 2 s


def _dynamics(mp: pytest.MonkeyPatch) -> tuple[int, dict[str, Any], dict[str, str]]:
    assert dynamics.RATE_LIMIT.per_seconds > WINDOW_S  # the real window is set by the connection here
    return LIMIT, {"requests_per_window": LIMIT, "window_s": WINDOW_S}, \
        {"service_protection_limit": f"{LIMIT}/{WINDOW_S:g}"}


def _tribecrm(mp: pytest.MonkeyPatch) -> tuple[int, dict[str, Any], dict[str, str]]:
    mp.setattr(tribecrm, "RATE_LIMIT", RateLimit(LIMIT, WINDOW_S))
    return LIMIT, {"calls_per_minute": LIMIT, "window_s": WINDOW_S}, {}


WINDOWED = {"hubspot": _hubspot, "pipedrive": _pipedrive, "dynamics": _dynamics, "tribecrm": _tribecrm}


def _next_process(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """What a new ``enginy-desktop`` process starts with: no limiter, no ledger in memory, another process id."""
    forget_limiters()
    TokenLedger.forget()
    monkeypatch.setattr(windows, "_PROCESS_ID", f"process-{n}")


@pytest.mark.parametrize("crm", sorted(WINDOWED))
def test_a_command_right_after_another_waits_for_the_window_the_first_left(
        ctx: Any, monkeypatch: pytest.MonkeyPatch, crm: str) -> None:
    """The first command fills the window; the second one's requests go out together (a burst) while the first
    one's calls still count on the CRM's side: it waits for them to leave the window rather than meeting 429s."""
    limit, server, settings = WINDOWED[crm](monkeypatch)
    with crm_world(ctx, crm, **server) as w:
        if settings:
            ctx.integrations.save_connection(crm, settings)

        async def command(calls: int) -> tuple[int, float]:
            async with ctx.adapters.crm(crm) as a:
                await asyncio.gather(*(a.users() for _ in range(calls)))
                return a.traffic.throttled, a.traffic.waited

        _next_process(monkeypatch, 1)
        first = asyncio.run(command(limit))
        _next_process(monkeypatch, 2)
        throttled, waited = asyncio.run(command(limit // 2))
        assert [r.status for r in w.sb.requests if r.status == 429] == []
        assert (first[0], throttled) == (0, 0)
        assert waited > 0  # for the first command's calls, which no limiter of this process had seen
