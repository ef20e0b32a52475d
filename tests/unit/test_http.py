"""The network seam (adapters/http/): retries, Retry-After, backoff bounds, error classes, redaction, limiter."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

from enginy_desktop.adapters import http as http_module
from enginy_desktop.adapters.base import (
    AdapterError,
    AuthError,
    FatalError,
    NetworkError,
    NotFoundError,
    RateLimit,
    RateLimitedError,
    TokenSet,
    TransientError,
    ValidationError,
)
from enginy_desktop.adapters.http import (
    ApiClient,
    OAuthRefreshAuth,
    RateInfo,
    Reply,
    RetryPolicy,
    SlidingWindowLimiter,
    WindowKeeper,
    bearer_auth,
    parse_retry_after,
)

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, rng=random.Random(7))


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> ApiClient:
    kw.setdefault("retry", FAST)
    return ApiClient("test", "https://api.example.test", vendor_name="Example",
                     transport=httpx.MockTransport(handler), **kw)  # type: ignore[arg-type]


def run(coro):
    return asyncio.run(coro)


async def _call(api: ApiClient, method: str = "GET", path: str = "/x", **kw: object) -> Reply:
    try:
        return await api.request(method, path, **kw)  # type: ignore[arg-type]
    finally:
        await api.aclose()


# -- retries -----------------------------------------------------------------------------------------------------


def test_transient_errors_are_retried_until_success() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503 if len(calls) < 3 else 200, json={"ok": len(calls)})

    reply = run(_call(client(handler)))
    assert reply.status == 200
    assert reply.json() == {"ok": 3}
    assert len(calls) == 3


def test_retries_stop_after_max_attempts() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, json={"message": "bad gateway"})

    with pytest.raises(TransientError, match="temporary problem"):
        run(_call(client(handler)))
    assert len(calls) == FAST.max_attempts


def test_retry_after_is_honoured() -> None:
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        if len(times) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.3"}, json={"message": "slow down"})
        return httpx.Response(200, json={})

    run(_call(client(handler)))
    assert len(times) == 2
    assert times[1] - times[0] >= 0.3


def test_retry_after_http_date() -> None:
    now = time.time()
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None


def test_a_retry_after_too_long_is_raised_not_waited() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "3600"}, json={"message": "daily"})

    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        run(_call(client(handler)))
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 3600
    assert len(calls) == 1


def test_429_pauses_the_whole_limiter() -> None:
    limiter = SlidingWindowLimiter(RateLimit(100, 10))
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        if len(times) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.25"}, json={})
        return httpx.Response(200, json={})

    async def go() -> None:
        api = client(handler, limiter=limiter)
        try:
            await asyncio.gather(api.request("GET", "/a"), api.request("GET", "/b"))
        finally:
            await api.aclose()

    run(go())
    # The second request was sent either before the 429 arrived or after the pause, never in between.
    assert len(times) == 3
    assert times[2] - times[0] >= 0.25


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10])
def test_backoff_bounds(attempt: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, rng=random.Random(attempt))
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    samples = [policy.backoff(attempt) for _ in range(500)]
    assert min(samples) >= ceiling / 2
    assert max(samples) <= ceiling
    assert max(samples) - min(samples) > ceiling / 10  # there is jitter
    assert policy.delay(attempt, retry_after=20.0) == 20.0


def test_post_is_not_retried_after_an_ambiguous_failure() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"message": "unavailable"})

    with pytest.raises(TransientError) as info:
        run(_call(client(handler), "POST", "/batch/create", json={"inputs": []}))
    assert len(calls) == 1
    assert info.value.maybe_applied is True


def test_post_is_retried_after_429_and_refused_connections() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, json={"message": "ten secondly"})
        if len(calls) == 2:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(201, json={"id": "1"})

    reply = run(_call(client(handler), "POST", "/batch/create", json={"inputs": []}))
    assert reply.status == 201
    assert len(calls) == 3


def test_timeouts_retry_reads_but_not_writes() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1 or request.method == "POST":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={})

    assert run(_call(client(handler), "GET")).status == 200
    assert calls == ["GET", "GET"]
    calls.clear()
    with pytest.raises(TransientError) as info:
        run(_call(client(handler), "POST", json={}))
    assert calls == ["POST"]
    assert info.value.maybe_applied


def test_unreachable_network_is_a_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(NetworkError) as info:
        run(_call(client(handler)))
    assert "Could not reach Example" in str(info.value)
    assert info.value.retriable


# -- classification -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, ValidationError),
        (418, FatalError),
        (429, RateLimitedError),
        (500, TransientError),
        (504, TransientError),
    ],
)
def test_error_classification(status: int, cls: type[AdapterError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": f"status {status}"}, headers={"Retry-After": "0"})

    with pytest.raises(cls) as info:
        run(_call(client(handler, retry=RetryPolicy(max_attempts=1))))
    assert isinstance(info.value, AdapterError)
    assert info.value.status == status
    assert f"status {status}" in str(info.value)


def test_error_hook_refines_the_classification() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json=[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "too many"}])

    def hook(reply: Reply, error: AdapterError) -> AdapterError:
        body = reply.json()
        if reply.status == 403 and body[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED":
            return RateLimitedError("Salesforce: request limit exceeded.", retry_after=None, status=403)
        return error

    with pytest.raises(RateLimitedError):
        run(_call(client(handler, error_hook=hook, retry=RetryPolicy(max_attempts=1))))


def test_non_json_answer_is_a_fatal_error() -> None:
    reply = Reply(status=200, headers={}, content=b"<html>", method="GET", url="https://x")
    with pytest.raises(FatalError, match="not JSON"):
        reply.json()


# -- redaction ---------------------------------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    seen_auth = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_auth.append(request.headers.get("authorization"))
        echo = f"Invalid token {TOKEN} for key {request.url.params.get('api_key')}"
        status = 401 if request.url.path == "/auth" else 500
        return httpx.Response(status, json={"message": echo}, headers={"X-Echo": TOKEN})

    caplog.set_level(logging.DEBUG)
    errors = []
    for path in ("/auth", "/boom"):
        api = client(handler, auth=bearer_auth(TOKEN), secrets=["query-secret-xyz"])
        with pytest.raises(AdapterError) as info:
            run(_call(api, "GET", path, params={"api_key": "query-secret-xyz"}))
        errors.append(info.value)
    assert seen_auth[0] == f"Bearer {TOKEN}"  # it was really sent
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [e.message for e in errors]
    texts.append(caplog.text)
    for text in texts:
        assert TOKEN not in text
        assert "query-secret-xyz" not in text
    assert "[REDACTED]" in str(errors[0])
    assert isinstance(errors[0], AuthError)
    assert "/boom" in caplog.text  # the log does say what failed


def test_adapter_error_message_is_always_redacted() -> None:
    err = AdapterError(f"Bearer {TOKEN} was refused")
    assert TOKEN not in str(err)


# -- the limiter ---------------------------------------------------------------------------------------------------


def _max_in_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    best = 0
    j = 0
    for i, t in enumerate(starts):
        while starts[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_limiter_never_exceeds_its_rate() -> None:
    limiter = SlidingWindowLimiter(RateLimit(5, 0.3))
    starts: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            starts.append(time.monotonic())
            await asyncio.sleep(random.uniform(0, 0.02))

    async def go() -> float:
        t0 = time.monotonic()
        await asyncio.gather(*(one() for _ in range(20)))
        return time.monotonic() - t0

    elapsed = run(go())
    assert len(starts) == 20
    assert _max_in_window(starts, 0.3) <= 5
    # 20 calls at 5 per 0.3 s need at least three full windows, and not much more.
    assert 0.9 <= elapsed < 4.0


def test_limiter_follows_vendor_headers() -> None:
    limiter = SlidingWindowLimiter(RateLimit(190, 10))
    limiter.observe(RateInfo(maximum=100, remaining=50, interval_seconds=10))
    assert limiter.limit == RateLimit(100, 10)
    limiter.observe(RateInfo(maximum=250, remaining=50, interval_seconds=10))
    assert limiter.limit == RateLimit(100, 10)  # never raised above the configured figure

    small = SlidingWindowLimiter(RateLimit(5, 0.2))
    small.observe(RateInfo(maximum=5, remaining=0, interval_seconds=0.2))

    async def go() -> float:
        t0 = time.monotonic()
        async with small.slot():
            pass
        return time.monotonic() - t0

    assert run(go()) >= 0.19


def test_a_window_kept_by_one_process_is_taken_by_the_next() -> None:
    """``WindowKeeper``: the calls of the last window, kept through the connection's state, seed the next
    process's limiter (as wall-clock moments); the process that saved them never takes them twice."""
    kept: dict[str, str] = {}
    first = SlidingWindowLimiter(RateLimit(5, 0.5), name="w")

    async def fill() -> None:
        for _ in range(5):
            async with first.slot():
                pass

    run(fill())
    WindowKeeper(first, "acct", kept.get, kept.__setitem__).save()
    assert WindowKeeper(first, "acct", kept.get, kept.__setitem__).load() == 0  # its own figures

    second = SlidingWindowLimiter(RateLimit(5, 0.5), name="w")
    keeper = WindowKeeper(second, "acct", kept.get, kept.__setitem__)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(http_module.windows, "_PROCESS_ID", "another-process")
        assert keeper.load() == 5
        assert keeper.load() == 0  # the same save is taken once

    async def one_more() -> float:
        t0 = time.monotonic()
        async with second.slot():
            pass
        return time.monotonic() - t0

    assert run(one_more()) >= 0.4  # it waits for the first process's calls to leave the window
    stale = SlidingWindowLimiter(RateLimit(5, 0.5), name="w")
    assert stale.seed([time.time() - 5.0] * 5) == 0  # calls older than the window no longer count


def test_a_client_carries_its_connections_windows_and_a_pause_to_the_next_process() -> None:
    """``ApiClient(load_state=…, save_state=…)``: the connection's windows its requests passed (its limiter, a
    request's extra limiter) and a pause the vendor asked for are kept when it closes and taken by the next
    process's client; a private limiter (a pace) names no connection and is not kept."""
    kept: dict[str, str] = {}

    def opened(limiter: SlidingWindowLimiter, **kw: object) -> ApiClient:
        return client(lambda r: httpx.Response(200, json={}), limiter=limiter, load_state=kept.get,
                      save_state=kept.__setitem__, **kw)

    api = opened(http_module.shared_limiter("acct", RateLimit(3, 30.0), "main"),
                 pacers=(SlidingWindowLimiter(RateLimit(9, 30.0), name="pace"),))
    search = http_module.shared_limiter("acct", RateLimit(2, 30.0), "search")

    async def first() -> None:
        await api.request("GET", "/x")
        await api.request("GET", "/search", extra_limiters=[search])
        assert api.limiter is not None
        api.limiter.pause(20.0)  # a 429 asked to wait
        await api.aclose()

    run(first())
    assert len(kept) == 2  # the connection's two windows, not the pace

    http_module.forget_limiters()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(http_module.windows, "_PROCESS_ID", "another-process")
        main = http_module.shared_limiter("acct", RateLimit(3, 30.0), "main")
        nxt = opened(main)
        assert len(main.recent()) == 2
        assert main.paused_for() > 15
        search = http_module.shared_limiter("acct", RateLimit(2, 30.0), "search")
        nxt.windows.take([search])  # met by its first search
        assert len(search.recent()) == 1
        run(nxt.aclose())


def test_a_fresh_limiter_probes_then_counts_the_calls_of_others() -> None:
    """With ``probe``, one call goes out first; its headers say how full the vendor's window is, and the calls
    that are not ours take slots before the rest go out together."""
    limiter = SlidingWindowLimiter(RateLimit(4, 0.4), probe=True)
    in_flight: list[int] = []
    current = [0]

    async def one(first: bool) -> None:
        async with limiter.slot():
            current[0] += 1
            in_flight.append(current[0])
            await asyncio.sleep(0.01)
            current[0] -= 1
        if first:  # the vendor counted 3 calls before ours: 4 - 0 remaining
            limiter.observe(RateInfo(maximum=4, remaining=0, interval_seconds=0.4))

    async def go() -> float:
        t0 = time.monotonic()
        await asyncio.gather(one(True), *(one(False) for _ in range(3)))
        return time.monotonic() - t0

    elapsed = run(go())
    assert in_flight[0] == 1
    assert elapsed >= 0.39  # the others' 3 calls held the window: the next 3 waited for it


# -- OAuth refresh flow ------------------------------------------------------------------------------------------------


def _token_server(calls: list[str], *, refuse: bool = False) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            calls.append(f"refresh:{form.get('refresh_token')}")
            if refuse:
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "revoked"})
            assert form["grant_type"] == "refresh_token"
            assert form["client_id"] == "cid"
            return httpx.Response(200, json={"access_token": "new-access-token", "expires_in": 1800,
                                             "token_type": "bearer"})
        calls.append(request.headers["authorization"])
        if request.headers["authorization"] != "Bearer new-access-token":
            return httpx.Response(401, json={"message": "expired"})
        return httpx.Response(200, json={"ok": True})

    return handler


def test_oauth_auth_refreshes_an_expired_token_before_the_call() -> None:
    calls: list[str] = []
    saved: list[TokenSet] = []
    tokens = TokenSet("old-access-token", "the-refresh-token", expires_at=time.time() - 5)
    auth = OAuthRefreshAuth(tokens, token_url="https://api.example.test/oauth/token", client_id="cid",
                            client_secret="csecret-123456", on_refresh=saved.append)
    reply = run(_call(client(_token_server(calls), auth=auth)))
    assert reply.status == 200
    assert calls == ["refresh:the-refresh-token", "Bearer new-access-token"]
    assert saved[0].access_token == "new-access-token"
    assert saved[0].refresh_token == "the-refresh-token"  # kept when the answer has none
    assert saved[0].expires_at is not None
    assert saved[0].expires_at > time.time() + 1700


def test_oauth_auth_refreshes_once_after_a_401() -> None:
    calls: list[str] = []
    tokens = TokenSet("old-access-token", "the-refresh-token", expires_at=time.time() + 900)
    auth = OAuthRefreshAuth(tokens, token_url="https://api.example.test/oauth/token", client_id="cid")
    reply = run(_call(client(_token_server(calls), auth=auth)))
    assert reply.status == 200
    assert calls == ["Bearer old-access-token", "refresh:the-refresh-token", "Bearer new-access-token"]
    assert auth.refreshes == 1


def test_oauth_auth_refused_refresh_is_an_auth_error() -> None:
    calls: list[str] = []
    tokens = TokenSet("old-access-token", "revoked-refresh-token", expires_at=time.time() - 5)
    auth = OAuthRefreshAuth(tokens, token_url="https://api.example.test/oauth/token", client_id="cid")
    with pytest.raises(AuthError, match="Sign in again") as info:
        run(_call(client(_token_server(calls, refuse=True), auth=auth)))
    assert "revoked-refresh-token" not in str(info.value)
    assert len(calls) == 1


def test_a_long_vendor_pause_is_raised_not_waited() -> None:
    limiter = SlidingWindowLimiter(RateLimit(100, 10))
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={}, headers={"X-Remaining": "0"})

    def info(reply: Reply) -> RateInfo:
        return RateInfo(maximum=100, remaining=0, interval_seconds=60)

    async def go() -> None:
        api = client(handler, limiter=limiter, rate_info=info, retry=RetryPolicy(max_attempts=2, max_wait=5))
        try:
            await api.request("GET", "/first")
            await api.request("GET", "/second")
        finally:
            await api.aclose()

    started = time.monotonic()
    with pytest.raises(RateLimitedError, match="wait 60 seconds") as err:
        run(go())
    assert time.monotonic() - started < 1
    assert len(calls) == 1
    assert err.value.retry_after == pytest.approx(60, abs=1)


def test_the_suites_quick_backoff_reaches_a_client_opened_without_a_policy() -> None:
    """``ApiClient`` looks ``default_retry`` up in :mod:`adapters.http.retry` at each opening, where the suite
    shortens it (conftest ``quick_backoff``): a test of a dead server backs off in milliseconds, not seconds."""
    api = ApiClient("test", "https://api.example.test", transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert (api.retry.base_delay, api.retry.max_delay) == (0.01, 0.05)
    run(api.aclose())


def test_a_busy_store_never_fails_a_command_for_its_window(caplog: pytest.LogCaptureFixture) -> None:
    """Keeping the window is best effort: a store that is locked by another process (or closed) when the client
    opens or closes costs the carried window, never the command."""
    import sqlite3

    def busy(*_args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    limiter = http_module.shared_limiter("acct", RateLimit(3, 30.0), "main")
    api = client(lambda r: httpx.Response(200, json={}), limiter=limiter, load_state=busy, save_state=busy)
    assert run(_call(api)).status == 200  # opened, used and closed
    assert "Could not read the kept rate-limit window" in caplog.text
    assert "Could not keep the rate-limit window" in caplog.text
