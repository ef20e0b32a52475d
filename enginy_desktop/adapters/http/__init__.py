"""The single seam to the network: the only package of the app that imports httpx (DESIGN §7).

Everything an adapter needs to talk to a vendor lives here, one module per seam:

- :mod:`.transport` — :func:`make_client`, an ``httpx.AsyncClient`` with explicit time-outs and an injectable
  transport (tests pass ``httpx.ASGITransport`` for the in-process sandbox, or ``httpx.MockTransport``), and
  :class:`Reply`, a vendor's answer detached from httpx;
- :mod:`.client` — :class:`ApiClient`: requests with retries, client-side rate limiting, vendor rate-limit headers
  fed back into the limiter, and every failure turned into one of the :mod:`~enginy_desktop.adapters.base` errors
  with a readable, redacted message; :class:`CallWatch`, what a caller's requests are doing;
- :mod:`.limiter` — :class:`SlidingWindowLimiter`, "at most N calls in any window of T seconds", counted
  conservatively, with ``acquire_many`` / ``acquire_up_to`` for batches the vendor counts as several calls;
- :mod:`.windows` — one limiter per connection for the whole process (:func:`shared_limiter`), and its window
  carried from one command to the next through the connection's kept state (:class:`KeptWindows`, given to
  :class:`ApiClient` as ``load_state``/``save_state``);
- :mod:`.rate_info` — what a vendor's rate-limit headers and ``Retry-After`` say (:class:`RateInfo`);
- :mod:`.retry` — :class:`RetryPolicy`, exponential backoff with jitter, ``Retry-After`` honoured;
- :mod:`.errors` — the first classification of a failed answer by status (:func:`default_error`);
- :mod:`.auth` — :class:`OAuthRefreshAuth`, :class:`FetchedTokenAuth`, bearer and header auth, and
  :func:`request_token`, one OAuth token-endpoint call (code exchange, refresh).

Adapters receive :class:`Reply` objects, never httpx types. Secrets never reach a log line or an error
message: they are registered with :mod:`enginy_desktop.core.redact` and every message passes through ``redact``.
"""

from __future__ import annotations

from ..base import (
    AdapterError,
    AuthError,
    FatalError,
    MissingScopeError,
    NetworkError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimit,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from .auth import (
    FetchedTokenAuth,
    OAuthRefreshAuth,
    TokenRequest,
    bearer_auth,
    header_auth,
    refresh_form,
    request_token,
    token_set_from_json,
)
from .client import CALL_WATCH, ApiClient, CallWatch
from .errors import ErrorHook, default_error
from .limiter import SlidingWindowLimiter
from .rate_info import RateInfo, RateInfoHook, generic_rate_info, parse_retry_after
from .retry import NO_RETRY, RetryPolicy, default_retry
from .transport import USER_AGENT, Reply, Timeouts, asgi_transport, make_client, shared_tls_context
from .windows import KeptWindows, WindowKeeper, connection_account, forget_limiters, shared_limiter

__all__ = [
    "CALL_WATCH",
    "NO_RETRY",
    "USER_AGENT",
    "AdapterError",
    "ApiClient",
    "AuthError",
    "CallWatch",
    "ErrorHook",
    "FatalError",
    "FetchedTokenAuth",
    "KeptWindows",
    "MissingScopeError",
    "NetworkError",
    "NotFoundError",
    "OAuthRefreshAuth",
    "QuotaExhaustedError",
    "RateInfo",
    "RateInfoHook",
    "RateLimit",
    "RateLimitedError",
    "Reply",
    "RetryPolicy",
    "SlidingWindowLimiter",
    "Timeouts",
    "TokenRequest",
    "TransientError",
    "ValidationError",
    "WindowKeeper",
    "asgi_transport",
    "bearer_auth",
    "connection_account",
    "default_error",
    "default_retry",
    "forget_limiters",
    "generic_rate_info",
    "header_auth",
    "make_client",
    "parse_retry_after",
    "refresh_form",
    "request_token",
    "shared_limiter",
    "shared_tls_context",
    "token_set_from_json",
]
