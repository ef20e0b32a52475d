"""The outermost ASGI layer of every emulator.

For the vendor's API, in this order: request log, injected faults (latency, dropped connection, hang, 5xx),
body size (``Content-Length`` over the limit answers the vendor's 413 without reading a byte), credentials
(:meth:`Emulator.authenticate`), limits (:meth:`Emulator.limit`, whose headers are added to the answer), then the
body is read — at most ``max_body_bytes`` of it, so a chunked upload over the limit is cut off with the same 413 —
and JSON nested deeper than ``max_json_depth`` answers the vendor's 400 before any parser sees it.

For the control API (``/__sandbox__/*``): the ``Host`` header must name the loopback host (a web page on another
origin cannot reach it through DNS rebinding), the control token is required (``Authorization: Bearer …`` or
``X-Sandbox-Token``), bodies must be ``application/json`` (so a cross-site form or ``text/plain`` POST is refused)
and at most 1 MiB. It is not logged, limited or faulted.

It must wrap the whole Starlette stack (not be a Starlette middleware) so that it receives the server's own
``send``, which the dropped-connection fault needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Mapping
from typing import Any

from .emulator import Emulator, GatewayRequest, RequestLogEntry
from .errors import ControlError, VendorError
from .faults import drop_connection, hang
from .http import ASGIApp, Scope, json_too_deep

CONTROL_PREFIX = "/__sandbox__"
CONTROL_MAX_BODY_BYTES = 1024 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    pass


class Gateway:
    """See the module docstring. ``release()`` wakes requests held by the timeout fault (server shutdown)."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator
        self.stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def release(self) -> None:
        """Wake every request the timeout fault holds (thread-safe; used when the server stops)."""
        if self.stopping is not None and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.stopping.set)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(CONTROL_PREFIX):
            await self._control(scope, receive, send)
            return
        em = self.emulator
        entry = em.log_request(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"))
        try:
            await self._handle(scope, receive, send, entry)
        finally:
            entry.duration_s = em.config.clock() - entry.t

    # -- the vendor's API ---------------------------------------------------------------------------------

    async def _handle(self, scope: Scope, receive: Any, send: Any, entry: RequestLogEntry) -> None:
        em = self.emulator
        path = scope["path"]
        if em.faults.applies_to(path):
            delay = em.faults.latency_s()
            if delay:
                entry.fault = "latency"
                await asyncio.sleep(delay)
            fault = em.faults.draw()
            if fault == "drop":
                entry.fault = "drop"
                await drop_connection(send)
                return
            if fault == "timeout":
                entry.fault = "timeout"
                if self.stopping is None:
                    self.stopping = asyncio.Event()
                    self._loop = asyncio.get_running_loop()
                if await hang(send, receive, em.config.faults.hang_s, self.stopping):
                    return
                await self._error(send, entry, em.error("gateway_timeout", "The request timed out."))
                return
            if fault == "error":
                entry.fault = "error"
                status = em.config.faults.error_status
                await self._error(send, entry, em.error(
                    "server_error",
                    "internal error" if status == 500 else "The service is temporarily unavailable; try again.",
                    status=status))
                return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = em.config.max_body_bytes
        if _declared_length(headers) > limit:
            await self._error(send, entry, em.error("too_large", _too_large(limit)))
            return
        extra: Mapping[str, str] = {}
        if not em.is_public(path):
            request = GatewayRequest(scope["method"], path, scope.get("query_string", b"").decode("latin-1"),
                                     headers)
            try:
                principal = em.authenticate(request)
                entry.token_kind = getattr(principal, "kind", None)
                extra = em.limit(principal, request)
            except VendorError as exc:
                await self._error(send, entry, exc)
                return
            scope["sandbox.token"] = principal
        if _has_body(scope["method"], headers):
            try:
                body = await _read_body(receive, limit)
            except BodyTooLarge:
                await self._error(send, entry, em.error("too_large", _too_large(limit)))
                return
            if body is None:  # the client went away
                return
            if json_too_deep(body, em.config.max_json_depth):
                await self._error(send, entry, em.error(
                    "bad_request", f"Invalid input JSON: objects and arrays are nested more than "
                    f"{em.config.max_json_depth} levels deep."))
                return
            receive = _replay(body, receive)
        await self._forward(scope, receive, send, entry, extra)

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

    async def _error(self, send: Any, entry: RequestLogEntry | None, exc: VendorError) -> None:
        status, headers, body = exc.render(self.emulator)
        if entry is not None:
            entry.status = status
            if exc.limited_by is not None:
                entry.limited_by = exc.limited_by
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- the control API ----------------------------------------------------------------------------------

    async def _control(self, scope: Scope, receive: Any, send: Any) -> None:
        em = self.emulator
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _host_name(headers.get("host", ""))
        if host not in em.config.control_hosts:
            await self._error(send, None, ControlError(
                403, "host_not_allowed", f"The control API answers only on the loopback host "
                f"({', '.join(em.config.control_hosts[:2])}), not on '{host}'."))
            return
        scheme, _, token = headers.get("authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else headers.get("x-sandbox-token", "").strip()
        if not given or not hmac.compare_digest(given.encode(), em.control_token.encode()):
            await self._error(send, None, ControlError(
                401, "control_token_required", "The control API needs the control token the sandbox printed at "
                "start: send 'Authorization: Bearer <control token>'."))
            return
        if _has_body(scope["method"], headers) or "content-type" in headers:
            ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                await self._error(send, None, ControlError(
                    415, "json_required", "The control API accepts only 'Content-Type: application/json' bodies."))
                return
        if _declared_length(headers) > CONTROL_MAX_BODY_BYTES:
            await self._error(send, None, ControlError(413, "too_large", _too_large(CONTROL_MAX_BODY_BYTES)))
            return
        if _has_body(scope["method"], headers):
            try:
                body = await _read_body(receive, CONTROL_MAX_BODY_BYTES)
            except BodyTooLarge:
                await self._error(send, None, ControlError(413, "too_large", _too_large(CONTROL_MAX_BODY_BYTES)))
                return
            if body is None:
                return
            if json_too_deep(body, em.config.max_json_depth):
                await self._error(send, None, ControlError(
                    400, "bad_json", f"JSON nested more than {em.config.max_json_depth} levels deep."))
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _declared_length(headers: Mapping[str, str]) -> int:
    raw = headers.get("content-length")
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        return 0


def _has_body(method: str, headers: Mapping[str, str]) -> bool:
    if "transfer-encoding" in headers:
        return True
    return _declared_length(headers) > 0 or (method in _BODY_METHODS and "content-length" not in headers
                                              and "content-type" in headers)


def _too_large(limit: int) -> str:
    return f"The request body is larger than the {limit:,} bytes the sandbox accepts."


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole body, or :class:`BodyTooLarge` as soon as it passes ``limit`` (the rest is never read);
    None when the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
