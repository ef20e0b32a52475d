"""The httpx side of the network seam: explicit time-outs, one verifying TLS context, the client factory with an
injectable transport, and :class:`Reply`, a vendor's answer detached from httpx."""

from __future__ import annotations

import json as jsonlib
import logging
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from enginy_desktop import __version__
from enginy_desktop.redact import RedactingFilter, redact

from ..base import FatalError

# httpx and httpcore log every request line (with its query string) on their own loggers; mask secrets there
# too, whichever handler ends up writing those records (a test's caplog, a user's debug console...).
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, RedactingFilter) for f in _logger.filters):
        _logger.addFilter(RedactingFilter())

USER_AGENT = f"EnginyDesktop/{__version__}"


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


def _why(exc: BaseException) -> str:
    text = redact(str(exc)).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

