"""The sandbox's outermost ASGI layer: faults, authentication, rate limits and their headers, the request log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

from .faults import drop_connection, hang
from .hubspot_http import ASGIApp, Scope
from .hubspot_state import (
    HubSpotError,
    HubSpotSandbox,
    RequestLogEntry,
    TokenInfo,
)

SEARCH_PATH = re.compile(r"^/crm/(?:objects/2026-03|v3/objects)/[^/]+/search/?$")


# --- gateway -------------------------------------------------------------------------------------------------------


class Gateway:
    """Outermost ASGI layer: faults, authentication, rate limits, rate-limit headers and the request log.

    It must wrap the whole Starlette stack (not be a Starlette middleware) so that it receives the server's
    own ``send``, which the dropped-connection fault needs.
    """

    def __init__(self, app: ASGIApp, sandbox: HubSpotSandbox) -> None:
        self.app = app
        self.sandbox = sandbox
        self.stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def release(self) -> None:
        """Wake every request the timeout fault holds (thread-safe; used when the server stops)."""
        if self.stopping is not None and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.stopping.set)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox__"):
            await self.app(scope, receive, send)
            return
        sb = self.sandbox
        cfg = sb.config
        entry = RequestLogEntry(len(sb.requests) + 1, scope["method"], scope["path"],
                                scope.get("query_string", b"").decode("latin-1"), cfg.wall_clock(), cfg.clock())
        if len(sb.requests) >= cfg.max_logged_requests:
            del sb.requests[: len(sb.requests) // 2]
        sb.requests.append(entry)
        try:
            await self._handle(scope, receive, send, entry)
        finally:
            entry.duration_s = cfg.clock() - entry.t

    async def _handle(self, scope: Scope, receive: Any, send: Any, entry: RequestLogEntry) -> None:
        sb = self.sandbox
        path = scope["path"]
        if sb.faults.applies_to(path):
            delay = sb.faults.latency_s()
            if delay:
                entry.fault = "latency"
                await asyncio.sleep(delay)
            fault = sb.faults.draw()
            if fault == "drop":
                entry.fault = "drop"
                await drop_connection(send)
                return
            if fault == "timeout":
                entry.fault = "timeout"
                if self.stopping is None:
                    self.stopping = asyncio.Event()
                    self._loop = asyncio.get_running_loop()
                if await hang(send, receive, sb.config.faults.hang_s, self.stopping):
                    return
                await self._error(send, entry, HubSpotError(504, "GATEWAY_TIMEOUT", "The request timed out."))
                return
            if fault == "error":
                entry.fault = "error"
                status = sb.config.faults.error_status
                await self._error(send, entry, HubSpotError(
                    status, "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
                    "internal error" if status == 500 else "The service is temporarily unavailable; try again."))
                return
        if path.startswith("/oauth/"):
            await self._forward(scope, receive, send, entry, {})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            token = sb.authenticate(headers.get("authorization"))
        except HubSpotError as exc:
            await self._error(send, entry, exc)
            return
        entry.token_kind = token.kind
        limited = self._limit(token, path)
        if isinstance(limited, HubSpotError):
            await self._error(send, entry, limited)
            return
        scope["sandbox.token"] = token
        await self._forward(scope, receive, send, entry, limited)

    def _limit(self, token: TokenInfo, path: str) -> dict[str, str] | HubSpotError:
        """Count the request against the limits; the rate-limit headers to add, or the 429 to answer."""
        sb = self.sandbox
        cfg = sb.config
        now = cfg.clock()
        headers: dict[str, str] = {}
        is_search = bool(SEARCH_PATH.match(path))
        if is_search and sb.search_window is not None:
            allowed, _ = sb.search_window.try_hit(token.token, now)
            if not allowed:
                return rate_limited(sb, "SECONDLY", "You have reached your secondly limit.", "publicapi:crm-search")
        if (not is_search or cfg.search_counts_toward_interval) and sb.interval_window is not None:
            limit = sb.interval_window.limit
            allowed, remaining = sb.interval_window.try_hit(token.token, now)
            interval_headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(limit.interval_ms),
                "X-HubSpot-RateLimit-Max": str(limit.max_requests),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
            }
            if not allowed:
                err = rate_limited(sb, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                                   "publicapi:private-apps" if token.kind == "private_app" else "publicapi:oauth")
                err.headers.update(interval_headers)
                return err
            if not is_search:
                headers.update(interval_headers)
        if token.kind == "private_app" and cfg.daily_limit is not None:
            allowed, remaining = sb.daily_hit(token.token)
            daily = {"X-HubSpot-RateLimit-Daily": str(cfg.daily_limit),
                     "X-HubSpot-RateLimit-Daily-Remaining": str(remaining)}
            if not allowed:
                err = rate_limited(sb, "DAILY", "You have reached your daily limit.", "publicapi:private-apps")
                err.headers.update(daily)
                return err
            if not is_search:
                headers.update(daily)
        return headers

    async def _forward(self, scope: Scope, receive: Any, send: Any, entry: RequestLogEntry,
                       extra_headers: Mapping[str, str]) -> None:
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items()]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                if raw_headers:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), *raw_headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _error(self, send: Any, entry: RequestLogEntry, exc: HubSpotError) -> None:
        entry.status = exc.status
        if exc.status == 429:
            entry.limited_by = exc.extra.get("policyName")
        body = json.dumps(exc.body(self.sandbox.correlation_id()), separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json;charset=utf-8"),
                   (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
        await send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def rate_limited(sb: HubSpotSandbox, policy: str, message: str, group: str) -> HubSpotError:
    err = HubSpotError(429, "RATE_LIMITS", message)
    err.extra = {"errorType": "RATE_LIMIT", "policyName": policy, "groupName": group,
                 "requestId": sb.correlation_id()}
    return err
