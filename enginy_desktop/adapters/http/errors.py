"""A vendor's failed answer as one of the adapter errors (:mod:`~enginy_desktop.adapters.base`), first by status;
vendors refine it with an ``error_hook``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..base import (
    AdapterError,
    AuthError,
    FatalError,
    NotFoundError,
    RateLimitedError,
    RecordError,
    TransientError,
    ValidationError,
)
from .rate_info import parse_retry_after
from .transport import Reply

ErrorHook = Callable[[Reply, AdapterError], AdapterError]


def reply_detail(reply: Reply) -> str:
    """The technical detail of a failed answer, for "Details", ``--verbose`` and the log."""
    where = f" to {reply.method} {reply.url}" if reply.method else ""
    return f"HTTP {reply.status}{where}"


def default_error(reply: Reply, vendor_name: str) -> AdapterError:
    """A first classification by status; vendors refine it with an ``error_hook``."""
    body = reply.json_or_none()
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("message") or body.get("error_description") or body.get("error") or "")
    elif isinstance(body, list) and body and isinstance(body[0], dict):  # Salesforce: [{message, errorCode}]
        detail = str(body[0].get("message") or "")
    suffix = f": {detail}" if detail else "."
    kw: dict[str, Any] = {"vendor": vendor_name, "status": reply.status, "detail": reply_detail(reply)}
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

