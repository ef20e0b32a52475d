"""The client adapters use: requests with the connection's limiter, retries, error classification and redaction,
and what a caller's requests are doing (:class:`CallWatch`)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

import httpx

from enginy_desktop.redact import redact, register_secret

from ..base import AdapterError, NetworkError, RateLimitedError, Traffic, TransientError
from . import retry as retries
from .errors import ErrorHook, default_error, reply_detail
from .limiter import SlidingWindowLimiter, _Slot
from .rate_info import RateInfo, RateInfoHook
from .retry import RetryPolicy
from .transport import Reply, Timeouts, _reply, _why, make_client
from .windows import KeptWindows

log = logging.getLogger(__name__)

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


# -- what a caller's requests are doing ---------------------------------------------------------------------------


class CallWatch:
    """What the requests of one caller's call are doing, for a caller that times the CRM out (the export's
    per-request time-out): how many are waiting for a limiter slot or a back-off (not sent yet: the CRM is not
    being asked anything) and when one was last sent or answered. Set it in :data:`CALL_WATCH` around the call;
    :class:`ApiClient` reports to it."""

    __slots__ = ("last", "waiting")

    def __init__(self) -> None:
        self.waiting = 0
        self.last = time.monotonic()

    def queued(self) -> None:
        self.waiting += 1

    def sent(self) -> None:
        self.waiting -= 1
        self.last = time.monotonic()

    def answered(self) -> None:
        self.last = time.monotonic()


CALL_WATCH: ContextVar[CallWatch | None] = ContextVar("enginy_call_watch", default=None)


# -- the client adapters use ---------------------------------------------------------------------------------


class ApiClient:
    """One vendor connection: an ``AsyncClient`` plus limiter, retries, error classification and redaction.

    ``request`` returns a :class:`Reply` for 1xx-3xx answers and raises an :class:`AdapterError` otherwise
    (after retrying what may be retried). Writes that are not idempotent (``POST`` unless told otherwise) are retried
    only when the vendor certainly did not act on them: a 429, or a connection that never opened. Otherwise
    the error says ``maybe_applied`` so the caller can check before sending again.

    ``load_state``/``save_state`` (the connection's kept state, ``Connection.load_state``/``save_state``): the
    connection's windows the client's requests pass are carried from the previous command and to the next
    (:class:`~.windows.KeptWindows`), so a command started right after another does not meet a 429.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        vendor_name: str = "",
        auth: Any = None,
        limiter: SlidingWindowLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        transport: Any = None,
        headers: Mapping[str, str] | None = None,
        error_hook: ErrorHook | None = None,
        rate_info: RateInfoHook | None = None,
        secrets: Sequence[str] = (),
        pacers: Sequence[SlidingWindowLimiter] = (),
        load_state: Callable[[str], str | None] | None = None,
        save_state: Callable[[str, str], None] | None = None,
    ) -> None:
        for s in secrets:
            register_secret(s)
        self.vendor = vendor
        self.vendor_name = vendor_name or vendor
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        # Limiters every request also passes (e.g. a one-second window that spreads a per-minute allowance evenly).
        self.pacers = tuple(pacers)
        self.retry = retry or retries.default_retry()  # looked up at each opening (a test suite shortens it)
        self._error_hook = error_hook
        self._rate_info = rate_info
        self._client = make_client(
            self.base_url, timeouts=timeouts, transport=transport, auth=auth, headers=headers
        )
        self.requests_sent = 0
        self.retries = 0  # requests sent again (after a temporary failure or a 429)
        self.throttled = 0  # 429 answers
        self.waited = 0.0  # seconds waiting for a limiter slot, a back-off or a Retry-After
        self.last_rate_info: RateInfo | None = None
        self.windows = KeptWindows(load_state, save_state)
        self.windows.take((limiter, *self.pacers))

    def traffic(self) -> Traffic:
        """This connection's counters so far (the adapter contract's ``traffic``)."""
        return Traffic(self.requests_sent, self.retries, self.throttled, self.waited)

    async def aclose(self) -> None:
        try:
            self.windows.save()
        finally:
            await self._client.aclose()

    @asynccontextmanager
    async def _slots(self, limiters: Sequence[SlidingWindowLimiter], cost: int = 1, held: Sequence[_Slot] = ()
                     ) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if held and self.limiter is not None:
                for s in held:
                    stack.callback(self.limiter.release, s)
            for lim in limiters:
                if lim is self.limiter and held:
                    continue
                await stack.enter_async_context(lim.slot(cost if lim is self.limiter else 1))
            yield

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,  # a raw body (e.g. OData's multipart $batch), with its Content-Type header
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        extra_limiters: Sequence[SlidingWindowLimiter] = (),
        retry: RetryPolicy | None = None,
        accept: Collection[int] = (),
        cost: int = 1,
        held: Sequence[_Slot] = (),
    ) -> Reply:
        """``accept``: error statuses that are answers for this call (a vendor's 404 for "not found"), returned as
        replies instead of raised. ``cost``: the slots of the connection's limiter this request takes (the vendor
        counts each operation of a batch), all taken together before it is sent (pacers take one). ``held``: slots
        of the connection's limiter the caller already took for this request (``acquire_up_to``), used by its first
        attempt and released with it; a retry takes as many again."""
        if held:
            cost = len(held)
            try:
                return await self._request(method, path, params=params, json=json, data=data, content=content,
                                           headers=headers, idempotent=idempotent, extra_limiters=extra_limiters,
                                           retry=retry, accept=accept, cost=cost, held=held)
            finally:
                for s in held:  # not sent at all (a long pause): give them back
                    if s.end == math.inf and self.limiter is not None:
                        self.limiter.release(s)
        return await self._request(method, path, params=params, json=json, data=data, content=content,
                                   headers=headers, idempotent=idempotent, extra_limiters=extra_limiters,
                                   retry=retry, accept=accept, cost=cost)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any,
        json: Any,
        data: Mapping[str, str] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
        extra_limiters: Sequence[SlidingWindowLimiter],
        retry: RetryPolicy | None,
        accept: Collection[int],
        cost: int,
        held: Sequence[_Slot] = (),
    ) -> Reply:
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        policy = retry or self.retry
        limiters = [lim for lim in (self.limiter, *self.pacers, *extra_limiters) if lim is not None]
        self.windows.take(extra_limiters)
        shown = redact(f"{method} {self.base_url}{path}")
        attempt = 0
        while True:
            attempt += 1
            error: AdapterError
            safe_to_retry: bool
            paused = max((lim.paused_for() for lim in limiters), default=0.0)
            if paused > policy.max_wait:
                # The vendor said its allowance is used up for longer than this caller is willing to wait.
                raise RateLimitedError(
                    f"{self.vendor_name} asks to wait {paused:.0f} seconds before the next request (rate limit).",
                    vendor=self.vendor, retry_after=paused)
            watch = CALL_WATCH.get()
            queued = watch is not None
            if watch is not None:
                watch.queued()  # waiting for a slot is not the vendor being slow: nothing is sent yet
            try:
                asked = time.monotonic()
                async with self._slots(limiters, cost, held if attempt == 1 else ()):
                    started = time.monotonic()
                    if watch is not None:
                        queued = False
                        watch.sent()
                    self.waited += started - asked
                    self.requests_sent += 1
                    response = await self._client.request(
                        method, path, params=params, json=json, data=data, content=content, headers=headers
                    )
                    elapsed = time.monotonic() - started
                    if watch is not None:
                        watch.answered()
            except AdapterError:
                raise  # from an auth flow (e.g. a refresh that was refused)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = NetworkError(
                    f"Could not reach {self.vendor_name} at {self.base_url}. Check the internet connection, a "
                    "proxy or firewall, and the API base URL.",
                    vendor=self.vendor, detail=f"{shown}: {_why(exc)}",
                )
                safe_to_retry = True
            except httpx.TimeoutException as exc:
                error = TransientError(
                    f"{self.vendor_name} did not answer in time.",
                    vendor=self.vendor, detail=f"{shown}: {_why(exc)}",
                    maybe_applied=not idempotent,
                )
                safe_to_retry = idempotent
            except httpx.TransportError as exc:  # dropped connection, protocol error
                error = TransientError(
                    f"The connection to {self.vendor_name} broke off.",
                    vendor=self.vendor, detail=f"{shown}: {_why(exc)}",
                    maybe_applied=not idempotent,
                )
                safe_to_retry = idempotent
            except BaseException:  # cancelled (the caller's time-out) or a bug while waiting for a slot
                if queued and watch is not None:
                    watch.waiting -= 1
                raise
            else:
                reply = _reply(response, elapsed)
                self._observe(reply, limiters)
                log.debug("%s -> %d in %.0f ms", shown, reply.status, elapsed * 1000)
                if reply.status < 400 or reply.status in accept:
                    return reply
                error = self._classify(reply)
                if isinstance(error, TransientError) and not idempotent:
                    error.maybe_applied = True
                safe_to_retry = isinstance(error, RateLimitedError) or (error.retriable and idempotent)
                if isinstance(error, RateLimitedError):
                    self.throttled += 1
                    if self.limiter is not None:
                        self.limiter.pause(error.retry_after or self._interval_hint())
            if not (error.retriable and safe_to_retry) or attempt >= policy.max_attempts:
                log.warning("%s failed: %s%s", shown, error, _logged(error))
                raise error
            wait = policy.delay(attempt, getattr(error, "retry_after", None))
            if wait > policy.max_wait:
                log.warning("%s failed and the vendor asks to wait %.0f s: %s%s", shown, wait, error, _logged(error))
                raise error
            log.info("%s: %s%s; retry %d of %d in %.1f s", shown, error, _logged(error), attempt,
                     policy.max_attempts - 1, wait)
            self.retries += 1
            self.waited += wait
            if watch is not None:
                watch.queued()  # a back-off the vendor asked for is not the vendor being silent either
                try:
                    await asyncio.sleep(wait)
                finally:
                    watch.sent()
            else:
                await asyncio.sleep(wait)

    def _interval_hint(self) -> float:
        info = self.last_rate_info
        if info is not None and info.interval_seconds:
            return info.interval_seconds
        return self.retry.base_delay

    def _observe(self, reply: Reply, limiters: Sequence[SlidingWindowLimiter]) -> None:
        if self._rate_info is None:
            return
        info = self._rate_info(reply)
        self.last_rate_info = info
        if self.limiter is not None and (info.maximum is not None or info.remaining is not None):
            self.limiter.observe(info)

    def _classify(self, reply: Reply) -> AdapterError:
        error = default_error(reply, self.vendor_name)
        if self._error_hook is not None:
            error = self._error_hook(reply, error)
        if not error.detail:  # a vendor's own error keeps the answer's status and address for "Details"
            error.detail = reply_detail(reply)
        return error


def _logged(error: AdapterError) -> str:
    """The error's technical detail for a log line (the log keeps what the user's sentence leaves out)."""
    return f" [{error.detail}]" if error.detail else ""
