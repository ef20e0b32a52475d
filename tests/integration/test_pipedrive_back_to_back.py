"""Two commands right after each other on one Pipedrive token: the second starts from the window the first left
(kept in the data folder's store), so Pipedrive never answers 429 to either — the burst window is per token, not
per process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.adapters import http
from enginy_desktop.adapters.base import CrmObject, RecordInput
from enginy_desktop.adapters.pipedrive import TokenLedger
from tests.support.crm_world import crm_world


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Any:
    TokenLedger.forget()
    http.forget_limiters()
    yield
    TokenLedger.forget()
    http.forget_limiters()


def _next_process(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """What a new ``enginy-desktop`` process starts with: no limiter, no ledger in memory, another process id."""
    http.forget_limiters()
    TokenLedger.forget()
    monkeypatch.setattr(http.windows, "_PROCESS_ID", f"process-{n}")


def test_a_command_that_starts_with_a_burst_waits_for_the_window_the_previous_one_left(
        ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second command's first requests go out together (updates at the plan's concurrency) while the first
    command's calls still fill Pipedrive's window (before, 2 of them met a 429)."""
    with crm_world(ctx, "pipedrive", plan="Essential", rate_limit="plan") as w:
        ctx.integrations.save_connection("pipedrive", {"plan": "Essential"})
        pid = str(w.sb.create("persons", {"name": "P"})["id"])

        async def command(tag: str, n: int) -> int:
            async with ctx.adapters.crm("pipedrive") as a:
                await a.update(CrmObject.CONTACTS, [RecordInput({"job_title": f"{tag}{i}"}, key=str(i), id=pid)
                                                    for i in range(n)])
                return int(a.traffic.throttled)

        _next_process(monkeypatch, 1)
        assert asyncio.run(command("A", 17)) == 0  # 18 requests: the window is nearly full
        _next_process(monkeypatch, 2)
        assert asyncio.run(command("B", 6)) == 0
        assert [r.status for r in w.sb.requests if r.status == 429] == []
        assert w.sb.records["persons"][int(pid)]["job_title"].startswith("B")
