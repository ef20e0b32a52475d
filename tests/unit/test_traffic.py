"""The network seam counts what a run's report shows: retries, throttling answers (429) and time waited."""

from __future__ import annotations

import asyncio
import random

import httpx

from enginy_desktop.adapters.base import Traffic
from enginy_desktop.adapters.http import ApiClient, RetryPolicy

FAST = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.02, rng=random.Random(3))


def test_retries_throttling_and_waits_are_counted() -> None:
    answers = [429, 503, 200, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0)
        headers = {"Retry-After": "0.2"} if status == 429 else {}
        return httpx.Response(status, headers=headers, json={})

    async def go() -> Traffic:
        api = ApiClient("test", "https://api.example.test", vendor_name="Example", retry=FAST,
                        transport=httpx.MockTransport(handler))
        try:
            before = api.traffic()
            await api.request("GET", "/a")
            await api.request("GET", "/b")
            return api.traffic() - before
        finally:
            await api.aclose()

    t = asyncio.run(go())
    assert t.requests == 4
    assert t.retries == 2
    assert t.throttled == 1
    assert t.waited >= 0.2  # the Retry-After at least


def test_an_adapter_that_does_not_count_reports_nothing() -> None:
    assert Traffic() - Traffic() == Traffic()
