"""The single seam to the network: the only module of the app that imports httpx (DESIGN §7).

Everything an adapter needs to talk to a vendor lives here:

- :func:`make_client` — an ``httpx.AsyncClient`` with explicit time-outs and an injectable transport (tests
  pass ``httpx.ASGITransport`` for the in-process sandbox, or ``httpx.MockTransport``);
- :class:`ApiClient` — requests with retries (exponential backoff with jitter, ``Retry-After`` honoured),
  client-side rate limiting, vendor rate-limit headers fed back into the limiter, and every failure turned
  into one of the :mod:`~enginy_desktop.adapters.base` errors with a readable, redacted message;
- :class:`SlidingWindowLimiter` — "at most N calls in any window of T seconds", counted conservatively;
- :class:`OAuthRefreshAuth` — an ``httpx.Auth`` flow that refreshes an expired OAuth access token;
- :func:`request_token` — one OAuth token-endpoint call (code exchange, refresh).

Adapters receive :class:`Reply` objects, never httpx types. Secrets never reach a log line or an error
message: they are registered with :mod:`enginy_desktop.core.redact` and every message passes through ``redact``.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json as jsonlib
import logging
import math
import os
import random
import ssl
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from enginy_desktop import __version__
from enginy_desktop.redact import RedactingFilter, redact, register_secret

from .base import (
    AdapterError,
    AuthError,
    FatalError,
    MissingScopeError,
    NetworkError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimit,
    RateLimitedError,
    RecordError,
    TokenSet,
    Traffic,
    TransientError,
    ValidationError,
)

log = logging.getLogger(__name__)

# httpx and httpcore log every request line (with its query string) on their own loggers; mask secrets there
# too, whichever handler ends up writing those records (a test's caplog, a user's debug console...).
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, RedactingFilter) for f in _logger.filters):
        _logger.addFilter(RedactingFilter())

USER_AGENT = f"EnginyDesktop/{__version__}"

__all__ = [
    "CALL_WATCH",
    "AdapterError",
    "ApiClient",
    "AuthError",
    "CallWatch",
    "FatalError",
    "FetchedTokenAuth",
    "MissingScopeError",
    "NetworkError",
    "NotFoundError",
    "OAuthRefreshAuth",
    "QuotaExhaustedError",
    "RateInfo",
    "RateLimitedError",
    "Reply",
    "RetryPolicy",
    "SlidingWindowLimiter",
    "Timeouts",
    "TokenRequest",
    "TransientError",
    "ValidationError",
    "WindowKeeper",
    "bearer_auth",
    "make_client",
    "parse_retry_after",
    "request_token",
]


# -- time-outs and the client factory ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read`` is long because batch writes of 100 records can take a while on the vendor's side."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 30.0
    pool: float = 30.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


_TLS_CONTEXT: ssl.SSLContext | None = None
_TLS_LOCK = threading.Lock()


def shared_tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process (as httpx makes it by default: certifi, or
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``). Making one loads the CA bundle in a single C call that holds the GIL
    for some 50 ms — a pause of the window each time an export or sync opens a client in a worker thread."""
    global _TLS_CONTEXT
    with _TLS_LOCK:
        if _TLS_CONTEXT is None:
            _TLS_CONTEXT = httpx.create_ssl_context()
        return _TLS_CONTEXT


def make_client(
    base_url: str = "",
    *,
    timeouts: Timeouts | None = None,
    transport: Any = None,
    auth: Any = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``AsyncClient`` with explicit time-outs, no redirects followed, and our User-Agent.

    ``transport`` is any ``httpx.AsyncBaseTransport`` (tests: ``httpx.ASGITransport(app=sandbox)``).
    """
    all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    all_headers.update(headers or {})
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=(timeouts or Timeouts()).to_httpx(),
        transport=transport,
        auth=auth,
        headers=all_headers,
        follow_redirects=False,
        verify=shared_tls_context() if transport is None else True,
    )


def asgi_transport(app: Any) -> httpx.AsyncBaseTransport:
    """A transport that calls an ASGI app (the sandbox) in-process, for tests and the demo mode."""
    return httpx.ASGITransport(app=app)


# -- replies -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A vendor's answer, detached from httpx: status, lower-cased headers, body."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    method: str = ""
    url: str = ""  # redacted
    elapsed: float = 0.0

    def json(self) -> Any:
        if not self.content:
            return None
        try:
            return jsonlib.loads(self.content)
        except ValueError:
            raise FatalError(
                f"The answer to {self.method} {self.url} was not JSON (HTTP {self.status}).",
                status=self.status,
            ) from None

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except FatalError:
            return None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def _reply(response: httpx.Response, elapsed: float) -> Reply:
    return Reply(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        content=response.content,
        method=response.request.method,
        url=redact(str(response.request.url)),
        elapsed=elapsed,
    )


# -- rate limiting -------------------------------------------------------------------------------------------


_OBSERVE_SLACK = 1.0  # seconds


@dataclass(slots=True)
class _Slot:
    start: float
    end: float = math.inf  # in flight until released


class SlidingWindowLimiter:
    """At most ``limit.requests`` calls in any window of ``limit.per_seconds`` seconds, for one connection.

    Conservative by construction: a call occupies its slot from the moment it is sent until ``per_seconds``
    after its answer arrived. The vendor counts a call when it arrives, which is somewhere in between, so no
    window the vendor can observe ever holds more than the limit, whatever the network latency. Waiters are
    served in order (one lock), so a burst of tasks cannot starve one of them.

    The vendor's own rate-limit headers feed back through :meth:`observe`: a lower published maximum lowers
    ours, calls the vendor counts in its window that are not ours (another command of this data folder a moment
    ago, another app on the same token) take slots too, and "0 remaining" pauses us.

    Across processes: :meth:`recent` gives the window's calls as wall-clock times for the connection's kept
    state, and :meth:`seed` takes those of the command that ran just before (:class:`WindowKeeper`), so a
    command started right after another does not begin with an empty window while the vendor still counts the
    other's calls. With ``probe``, a fresh limiter sends one call and reads the vendor's headers before sending
    more (the window may hold calls nothing told us about).
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        probe: bool = False,
    ) -> None:
        self.limit = limit
        self.name = name or str(limit)
        self._clock = clock
        self._probing = probe
        self.seeded: set[str] = set()  # the kept windows of other commands already taken (WindowKeeper.load)
        self._slots: list[_Slot] = []
        self._paused_until = 0.0
        self._lock: asyncio.Lock | None = None
        self._released: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.waited = 0.0

    def _sync(self) -> tuple[asyncio.Lock, asyncio.Event]:
        # One limiter may outlive an event loop (shared by the plan and the run of an export, each in its own
        # asyncio.run): its lock and event belong to the loop that uses them.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._released is None or self._loop is not loop:
            self._lock, self._released, self._loop = asyncio.Lock(), asyncio.Event(), loop
        return self._lock, self._released

    def _prune(self, now: float) -> None:
        horizon = now - self.limit.per_seconds
        self._slots = [s for s in self._slots if s.end > horizon]

    async def acquire(self) -> _Slot:
        return (await self.acquire_many(1))[0]

    async def acquire_many(self, count: int) -> list[_Slot]:
        """``count`` slots taken together, for one request the vendor counts as several (each operation of a
        batch): all or none, so requests taking several slots at once never each hold part of the window while
        waiting for the rest. More than the window holds is taken as the whole window."""
        return await self.acquire_up_to(count, at_least=count)

    async def acquire_up_to(self, count: int, *, at_least: int = 1) -> list[_Slot]:
        """As many slots as are free, up to ``count``, once at least ``at_least`` are: for a batch whose size is
        free (it sends as many operations as it got slots), so the end of a window is used rather than waited
        out by a batch that does not fit whole."""
        count = max(1, min(count, self.limit.requests))
        at_least = max(1, min(at_least, count))
        lock, released = self._sync()
        async with lock:
            started = self._clock()
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._prune(now)
                probing = self._probing and any(s.end == math.inf for s in self._slots)
                free = self.limit.requests - len(self._slots)
                if free >= at_least and not probing:
                    slots = [_Slot(start=now) for _ in range(min(count, free))]
                    self._slots.extend(slots)
                    self.calls += len(slots)
                    self.waited += now - started
                    return slots
                finished = [s.end for s in self._slots if s.end != math.inf]
                timeout = (min(finished) + self.limit.per_seconds - now) if finished else None
                released.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(released.wait(), timeout=timeout)

    def release(self, slot: _Slot) -> None:
        slot.end = self._clock()
        # The first answer is in (its headers are observed before another task runs): stop probing.
        self._probing = False
        if self._released is not None:
            self._released.set()

    def recent(self, wall: Callable[[], float] = time.time) -> list[float]:
        """The calls still counting in the window, as the wall-clock moments their slots end (a call in flight
        ends now), for another process to :meth:`seed` from."""
        now = self._clock()
        offset = wall() - now
        self._prune(now)
        return sorted(round(min(s.end, now) + offset, 3) for s in self._slots)

    def seed(self, ends: Sequence[float], wall: Callable[[], float] = time.time) -> int:
        """Take slots for calls another process made (their ends as wall-clock moments, from :meth:`recent`):
        each holds its place until ``per_seconds`` after its end, as our own calls do. Returns how many count."""
        now = self._clock()
        offset = wall() - now
        horizon = now - self.limit.per_seconds
        taken = [t for t in (min(now, float(e) - offset) for e in ends) if t > horizon][-self.limit.requests:]
        self._slots.extend(_Slot(start=t, end=t) for t in taken)
        return len(taken)

    @asynccontextmanager
    async def slot(self, count: int = 1) -> AsyncIterator[None]:
        """Holds ``count`` slots (see :meth:`acquire_many`) while the block runs."""
        taken = await self.acquire_many(count)
        try:
            yield
        finally:
            for s in taken:
                self.release(s)

    def paused_for(self) -> float:
        """Seconds until calls may start again after a :meth:`pause` (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def pause(self, seconds: float) -> None:
        """Let no call start for ``seconds`` (after a 429, or when the vendor says 0 calls remain)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, info: RateInfo) -> None:
        same_window = bool(info.interval_seconds) and info.interval_seconds == self.limit.per_seconds
        if same_window and info.maximum and info.maximum < self.limit.requests:
            log.info(
                "%s: the vendor allows %d calls per %gs, fewer than the configured %d; using its figure",
                self.name, info.maximum, info.interval_seconds, self.limit.requests,
            )
            self.limit = RateLimit(info.maximum, self.limit.per_seconds)
        if same_window and info.maximum and info.remaining is not None:
            # The vendor counts more calls in its window than we hold slots for (ours are counted back a little
            # further, so our own calls are all among them): the others are someone else's. They take slots
            # from now on, freed a window later, as if they had just been answered.
            now = self._clock()
            horizon = now - self.limit.per_seconds - _OBSERVE_SLACK
            ours = sum(1 for s in self._slots if s.end > horizon)
            others = min(self.limit.requests, info.maximum - info.remaining) - ours
            if others > 0:
                log.info("%s: %d calls of others in the window; taking them into account", self.name, others)
                self._slots.extend(_Slot(start=now, end=now) for _ in range(others))
        if info.remaining == 0 and info.interval_seconds:
            # "0 remaining" while our own window is full is just us at the limit: the window frees slots one by
            # one, and pausing a whole interval would waste most of it. Pause only when others use the allowance.
            # (Our slots are counted back a little further than the vendor's window, which it measured when the
            # request arrived, a moment before we read its answer.)
            horizon = self._clock() - self.limit.per_seconds - _OBSERVE_SLACK
            ours = sum(1 for s in self._slots if s.end > horizon)
            if ours < self.limit.requests:
                self.pause(info.interval_seconds)


# -- one limiter per connection, for the whole process ------------------------------------------------------------

_SHARED: dict[tuple[str, str], tuple[RateLimit, SlidingWindowLimiter]] = {}
_SHARED_LOCK = threading.Lock()


def connection_account(base_url: str, credential: str) -> str:
    """Names one connection's allowance (the API base URL and a hash of its credential, never the credential)."""
    return f"{base_url.rstrip('/')}|{hashlib.sha256(credential.encode()).hexdigest()[:16]}"


def shared_limiter(account: str, limit: RateLimit, name: str, *, probe: bool = False) -> SlidingWindowLimiter:
    """The limiter of one connection's window, the same object for every adapter of the process: the plan of an
    export, its run, its retries, a resume and the wizard each open their own adapter, and together they never
    send more than the window allows (a fresh limiter per adapter would start with an empty window while the
    vendor still counts the previous adapter's calls: 429s at every hand-over). ``account`` comes from
    :func:`connection_account`. What the vendor's headers taught the limiter (a lower maximum, a pause) stays
    with it; a different configured ``limit`` (another plan or tier) starts a new one. ``probe``: a new limiter
    reads the vendor's headers on one call before sending more (see :class:`SlidingWindowLimiter`)."""
    with _SHARED_LOCK:
        key = (account, name)
        found = _SHARED.get(key)
        if found is None or found[0] != limit:
            found = _SHARED[key] = (limit, SlidingWindowLimiter(limit, name=name, probe=probe))
        return found[1]


# A process's name in kept state: its pid and start time (a pid alone may come back in a later command).
_PROCESS_ID = f"{os.getpid()}-{time.time():.3f}"


class WindowKeeper:
    """Carries one connection's recent window from a command to the next through the connection's kept state
    (``Connection.load_state``/``save_state``, the data folder's store): :meth:`load` seeds the limiter with the
    calls the previous command (another process) made in the last window, :meth:`save` keeps this process's.
    A process never seeds from its own figures (its limiter already holds them), nor twice from the same save."""

    def __init__(self, limiter: SlidingWindowLimiter, account: str,
                 load: Callable[[str], str | None] | None, save: Callable[[str, str], None] | None) -> None:
        self.limiter = limiter
        self._load, self._save = load, save
        self._name = "rate-window-" + hashlib.sha256(f"{account}|{limiter.name}".encode()).hexdigest()[:16]

    def load(self) -> int:
        """Seed the limiter from the window another command kept; returns the calls taken."""
        if self._load is None:
            return 0
        try:
            data = jsonlib.loads(self._load(self._name) or "{}")
        except (ValueError, OSError, RuntimeError):
            return 0
        if not isinstance(data, dict) or data.get("pid") == _PROCESS_ID:
            return 0
        stamp = f"{data.get('pid')}@{data.get('at')}"
        if stamp in self.limiter.seeded:
            return 0
        self.limiter.seeded.add(stamp)
        ends = [e for e in data.get("ends") or [] if isinstance(e, int | float)]
        return self.limiter.seed(ends)

    def save(self) -> None:
        if self._save is None:
            return
        try:
            self._save(self._name, jsonlib.dumps({"pid": _PROCESS_ID, "at": round(time.time(), 3),
                                                  "ends": self.limiter.recent()}))
        except (OSError, RuntimeError, ValueError) as exc:  # the store is busy or full: the next probe covers it
            log.warning("Could not keep the rate-limit window of %s: %s", self.limiter.name, exc)


def forget_limiters() -> None:
    """Drop every shared limiter (a test standing for a fresh process)."""
    with _SHARED_LOCK:
        _SHARED.clear()


@dataclass(frozen=True, slots=True)
class RateInfo:
    """What a vendor's rate-limit headers said about one reply."""

    maximum: int | None = None
    remaining: int | None = None
    interval_seconds: float | None = None
    daily_remaining: int | None = None


def _int_header(reply: Reply, name: str) -> int | None:
    raw = reply.header(name)
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def generic_rate_info(reply: Reply) -> RateInfo:
    """``X-RateLimit-*`` as Pipedrive and many others send them (reset in seconds)."""
    return RateInfo(
        maximum=_int_header(reply, "x-ratelimit-limit"),
        remaining=_int_header(reply, "x-ratelimit-remaining"),
        interval_seconds=None,
        daily_remaining=_int_header(reply, "x-daily-requests-left"),
    )


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


# -- retries -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits between half and all of
    ``min(max_delay, base_delay * 2**(n-1))``.

    A ``Retry-After`` (or the vendor's interval) replaces the computed delay when longer; a wait longer than
    ``max_wait`` is not worth holding a run for and the error is raised instead.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        computed = self.backoff(attempt)
        return max(computed, retry_after) if retry_after is not None else computed


NO_RETRY = RetryPolicy(max_attempts=1)


def default_retry() -> RetryPolicy:
    """The policy of a client opened without one (a function, so a test suite can shorten its back-off)."""
    return RetryPolicy()

ErrorHook = Callable[[Reply, AdapterError], AdapterError]
RateInfoHook = Callable[[Reply], RateInfo]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def default_error(reply: Reply, vendor_name: str) -> AdapterError:
    """A first classification by status; vendors refine it with an ``error_hook``."""
    body = reply.json_or_none()
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("message") or body.get("error_description") or body.get("error") or "")
    elif isinstance(body, list) and body and isinstance(body[0], dict):  # Salesforce: [{message, errorCode}]
        detail = str(body[0].get("message") or "")
    suffix = f": {detail}" if detail else "."
    kw: dict[str, Any] = {"vendor": vendor_name, "status": reply.status}
    status = reply.status
    if status == 401:
        return AuthError(f"{vendor_name} did not accept the credentials (HTTP 401){suffix}", **kw)
    if status == 403:
        return AuthError(f"{vendor_name} refused access (HTTP 403){suffix}", **kw)
    if status == 429:
        return RateLimitedError(
            f"{vendor_name} is limiting the number of requests (HTTP 429){suffix}",
            retry_after=parse_retry_after(reply.header("retry-after")),
            **kw,
        )
    if status == 404:
        return NotFoundError(f"{vendor_name} has no {reply.method} {reply.url} (HTTP 404){suffix}", **kw)
    if status in (400, 409, 422):
        return ValidationError(
            f"{vendor_name} refused the request (HTTP {status}){suffix}",
            details=[RecordError(reason=detail or f"HTTP {status}", code=str(status))],
            **kw,
        )
    if status in (408, 423, 425) or status >= 500:
        return TransientError(f"{vendor_name} had a temporary problem (HTTP {status}){suffix}", **kw)
    return FatalError(f"{vendor_name} answered HTTP {status} to {reply.method} {reply.url}{suffix}", **kw)


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
    ) -> None:
        for s in secrets:
            register_secret(s)
        self.vendor = vendor
        self.vendor_name = vendor_name or vendor
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        # Limiters every request also passes (e.g. a one-second window that spreads a per-minute allowance evenly).
        self.pacers = tuple(pacers)
        self.retry = retry or default_retry()
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

    def traffic(self) -> Traffic:
        """This connection's counters so far (the adapter contract's ``traffic``)."""
        return Traffic(self.requests_sent, self.retries, self.throttled, self.waited)

    async def aclose(self) -> None:
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
                    f"Could not reach {self.vendor_name} at {self.base_url} ({_why(exc)}). Check the "
                    "internet connection, a proxy or firewall, and the API base URL.",
                    vendor=self.vendor,
                )
                safe_to_retry = True
            except httpx.TimeoutException as exc:
                error = TransientError(
                    f"{self.vendor_name} did not answer in time ({_why(exc)}).",
                    vendor=self.vendor,
                    maybe_applied=not idempotent,
                )
                safe_to_retry = idempotent
            except httpx.TransportError as exc:  # dropped connection, protocol error
                error = TransientError(
                    f"The connection to {self.vendor_name} broke off ({_why(exc)}).",
                    vendor=self.vendor,
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
                log.warning("%s failed: %s", shown, error)
                raise error
            wait = policy.delay(attempt, getattr(error, "retry_after", None))
            if wait > policy.max_wait:
                log.warning("%s failed and the vendor asks to wait %.0f s: %s", shown, wait, error)
                raise error
            log.info("%s: %s; retry %d of %d in %.1f s", shown, error, attempt, policy.max_attempts - 1, wait)
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
        return error


def _why(exc: BaseException) -> str:
    text = redact(str(exc)).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- authentication ------------------------------------------------------------------------------------------


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        register_secret(token)
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def bearer_auth(token: str) -> Any:
    """``Authorization: Bearer <token>`` on every request (private app tokens, service keys, API tokens)."""
    return _BearerAuth(token)


def header_auth(name: str, value: str) -> Any:
    """A secret in a custom header (Pipedrive's ``x-api-token``)."""
    register_secret(value)

    class _HeaderAuth(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers[name] = value
            yield request

    return _HeaderAuth()


def token_set_from_json(
    payload: Any, *, now: float | None = None, previous: TokenSet | None = None
) -> TokenSet:
    """A :class:`TokenSet` from a token endpoint's JSON (RFC 6749 §5.1; HubSpot's ``scopes`` list too)."""
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise AuthError("The sign-in server did not return an access token.")
    current = time.time() if now is None else now
    expires_in = payload.get("expires_in")
    scope = payload.get("scope")
    if not scope and isinstance(payload.get("scopes"), list):
        scope = " ".join(str(s) for s in payload["scopes"])
    tokens = TokenSet(
        access_token=str(payload["access_token"]),
        # A refresh answer may omit the refresh token, meaning "keep using the old one".
        refresh_token=str(payload.get("refresh_token") or (previous.refresh_token if previous else "")),
        expires_at=current + float(expires_in) if expires_in is not None else None,
        token_type=str(payload.get("token_type") or "Bearer"),
        scope=str(scope or (previous.scope if previous else "")),
        # Salesforce names the org's API host in every token answer (``instance_url``), Zoho its data centre's
        # (``api_domain``).
        api_url=str(payload.get("instance_url") or payload.get("api_domain")
                    or (previous.api_url if previous else "")),
    )
    register_secret(tokens.access_token)
    register_secret(tokens.refresh_token)
    return tokens


def _token_error(status: int, payload: Any, what: str) -> AdapterError:
    code = desc = ""
    if isinstance(payload, dict):
        code = str(payload.get("error") or payload.get("category") or "")
        desc = str(payload.get("error_description") or payload.get("message") or "")
    reason = f"{code}: {desc}" if code and desc else (code or desc or f"HTTP {status}")
    if status >= 500:
        return TransientError(
            f"The sign-in server had a temporary problem during {what} ({reason}).", status=status
        )
    return AuthError(f"The sign-in server refused {what} ({reason}). Sign in again.", status=status)


def refresh_form(tokens: TokenSet, client_id: str, client_secret: str = "") -> dict[str, str]:
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": client_id}
    if client_secret:
        form["client_secret"] = client_secret
    return form


async def request_token(
    token_url: str,
    form: Mapping[str, str],
    *,
    transport: Any = None,
    timeouts: Timeouts | None = None,
    basic_auth: tuple[str, str] | None = None,
    previous: TokenSet | None = None,
    what: str = "the sign-in",
) -> TokenSet:
    """POST ``form`` to an OAuth token endpoint and return the tokens (code exchange or refresh)."""
    for name in ("code", "code_verifier", "client_secret", "refresh_token", "client_assertion"):
        register_secret(form.get(name))
    auth = httpx.BasicAuth(*basic_auth) if basic_auth else None
    async with make_client(timeouts=timeouts, transport=transport, auth=auth) as client:
        try:
            response = await client.post(token_url, data=dict(form))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NetworkError(f"Could not reach the sign-in server ({_why(exc)}).") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"The sign-in server did not answer properly ({_why(exc)}).") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    log.debug("POST %s -> %d", redact(token_url), response.status_code)
    if response.status_code != 200:
        raise _token_error(response.status_code, payload, what)
    return token_set_from_json(payload, previous=previous)


class OAuthRefreshAuth(httpx.Auth):
    """Bearer auth with OAuth tokens that refreshes itself (before expiry, and once after a 401).

    The refresh request goes through the same client (and transport) as the API calls. New tokens are handed
    to ``on_refresh`` (which saves them in the keyring); a refused refresh raises :class:`AuthError` ("sign in
    again"). Concurrent requests share one refresh (an asyncio lock).
    """

    def __init__(
        self,
        tokens: TokenSet,
        *,
        token_url: str,
        client_id: str,
        client_secret: str = "",
        on_refresh: Callable[[TokenSet], None] | None = None,
        clock: Callable[[], float] = time.time,
        leeway: float = 60.0,
        basic_client_auth: bool = False,
        scheme: str = "Bearer",
    ) -> None:
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)
        register_secret(client_secret)
        self.tokens = tokens
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.on_refresh = on_refresh
        self.clock = clock
        self.leeway = leeway
        self.basic_client_auth = basic_client_auth
        self.scheme = scheme  # the Authorization scheme (Zoho sends ``Zoho-oauthtoken``)
        self.refreshes = 0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"OAuthRefreshAuth(token_url={self.token_url!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("OAuthRefreshAuth works with httpx.AsyncClient only")

    def _refresh_request(self) -> httpx.Request:
        if not self.tokens.refresh_token:
            raise AuthError("The sign-in has expired and cannot be renewed. Sign in again.")
        if self.basic_client_auth:
            form = {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}
            request = httpx.Request("POST", self.token_url, data=form)
            basic = httpx.BasicAuth(self.client_id, self.client_secret)
            return next(basic.auth_flow(request))
        form = refresh_form(self.tokens, self.client_id, self.client_secret)
        return httpx.Request("POST", self.token_url, data=form)

    def _apply_refresh(self, response: httpx.Response) -> None:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200:
            raise _token_error(response.status_code, payload, "renewing the sign-in")
        self.tokens = token_set_from_json(payload, now=self.clock(), previous=self.tokens)
        self.refreshes += 1
        log.info("Renewed the OAuth access token (expires in %.0f s)",
                 (self.tokens.expires_at or self.clock()) - self.clock())
        if self.on_refresh is not None:
            self.on_refresh(self.tokens)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        refreshed = False
        if self.tokens.expired(self.clock(), self.leeway):
            async with self._lock:
                if self.tokens.expired(self.clock(), self.leeway):
                    response = yield self._refresh_request()
                    await response.aread()
                    self._apply_refresh(response)
                    refreshed = True
        used = self.tokens.access_token
        request.headers["Authorization"] = f"{self.scheme} {used}"
        response = yield request
        if response.status_code == 401 and not refreshed and self.tokens.refresh_token:
            async with self._lock:
                if self.tokens.access_token == used:  # nobody refreshed meanwhile
                    refresh = yield self._refresh_request()
                    await refresh.aread()
                    self._apply_refresh(refresh)
            request.headers["Authorization"] = f"{self.scheme} {self.tokens.access_token}"
            yield request


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """How to ask for an access token: a form (OAuth's token endpoint) or a JSON body (a vendor's login endpoint),
    with the client's credentials as HTTP Basic when ``basic`` is given."""

    url: str
    form: Mapping[str, str] | None = None
    json: Any = None
    basic: tuple[str, str] | None = None


class FetchedTokenAuth(httpx.Auth):
    """Bearer auth with a token the adapter obtains by one request of its own (OAuth client credentials, a vendor's
    ``/authenticate``): fetched on first use, fetched again before it expires (``leeway`` seconds early) and once
    after a 401, through the same client and transport as the API calls. Concurrent requests share one fetch.

    ``parse(reply)`` turns the answer into ``(token, expires_at)`` (a UNIX time, or None when it does not expire)
    or raises the vendor's :class:`AdapterError`; ``on_token(token, expires_at)`` may keep it (in the keyring) so the
    next process reuses it; ``token``/``expires_at`` start from such a kept one.
    """

    def __init__(
        self,
        make_request: Callable[[], TokenRequest],
        parse: Callable[[Reply], tuple[str, float | None]],
        *,
        token: str = "",
        expires_at: float | None = None,
        on_token: Callable[[str, float | None], None] | None = None,
        clock: Callable[[], float] = time.time,
        leeway: float = 60.0,
        scheme: str = "Bearer",
    ) -> None:
        register_secret(token)
        self.make_request = make_request
        self.parse = parse
        self.token = token
        self.expires_at = expires_at
        self.on_token = on_token
        self.clock = clock
        self.leeway = leeway
        self.scheme = scheme
        self.fetches = 0  # tokens asked for by this auth
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return "FetchedTokenAuth(***)"

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("FetchedTokenAuth works with httpx.AsyncClient only")

    def _stale(self) -> bool:
        return not self.token or (self.expires_at is not None and self.clock() >= self.expires_at - self.leeway)

    def _token_request(self) -> httpx.Request:
        spec = self.make_request()
        for value in (spec.form or {}).values():
            register_secret(value)
        if isinstance(spec.json, Mapping):
            for value in spec.json.values():
                register_secret(str(value))
        headers = {"Accept": "application/json"}
        if spec.form is not None:
            request = httpx.Request("POST", spec.url, data=dict(spec.form), headers=headers)
        else:
            request = httpx.Request("POST", spec.url, json=spec.json, headers=headers)
        if spec.basic is not None:
            register_secret(spec.basic[1])
            request = next(httpx.BasicAuth(*spec.basic).auth_flow(request))
        return request

    def _apply(self, response: httpx.Response) -> None:
        token, expires_at = self.parse(_reply(response, 0.0))
        register_secret(token)
        self.token, self.expires_at = token, expires_at
        self.fetches += 1
        if self.on_token is not None:
            self.on_token(token, expires_at)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        fetched = False
        if self._stale():
            async with self._lock:
                if self._stale():
                    response = yield self._token_request()
                    await response.aread()
                    self._apply(response)
                    fetched = True
        used = self.token
        request.headers["Authorization"] = f"{self.scheme} {used}"
        response = yield request
        if response.status_code == 401 and not fetched:
            async with self._lock:
                if self.token == used:  # nobody fetched a new one meanwhile
                    self.token = ""
                    fresh = yield self._token_request()
                    await fresh.aread()
                    self._apply(fresh)
            request.headers["Authorization"] = f"{self.scheme} {self.token}"
            yield request
