"""Answers in a vendor's own shape, and the kinds of error the kit asks each emulator to shape.

The kit never writes an error body itself for the vendor's API: it asks the emulator
(:meth:`~enginy_desktop.sandbox.kit.emulator.Emulator.error`) for the :class:`VendorError` of a *kind*, and the
emulator answers with its vendor's status, body and headers (HubSpot's 429 JSON with its policy name, Salesforce's
403 ``REQUEST_LIMIT_EXCEEDED``, Hunter's 403 for rate and 429 for credits, Slack's ``200 {"ok": false}``…).
Only the control API (``/__sandbox__/*``, which is the sandbox's own) answers in the kit's shape,
:class:`ControlError`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .emulator import Emulator

# What went wrong, as the kit sees it; each emulator maps a kind to its vendor's answer.
ErrorKind = Literal[
    "unauthorized",  # no or unknown credentials
    "expired_token",  # a token past its lifetime (or a token-ttl fault)
    "rate_limited",  # a rolling window or burst limit is full
    "budget_exhausted",  # a daily (or monthly) allocation is spent
    "credits_exhausted",  # credits are spent (or the credits fault is on)
    "server_error",  # an injected 5xx; ``status`` says which
    "gateway_timeout",  # an injected hang ended without an answer
    "too_large",  # the request body is over the limit
    "bad_request",  # malformed or too deeply nested JSON
    "not_found",  # no route
    "method_not_allowed",
]

DEFAULT_STATUS: dict[str, int] = {
    "unauthorized": 401, "expired_token": 401, "rate_limited": 429, "budget_exhausted": 429,
    "credits_exhausted": 402, "server_error": 503, "gateway_timeout": 504, "too_large": 413, "bad_request": 400,
    "not_found": 404, "method_not_allowed": 405,
}


class VendorError(Exception):
    """An error answered in a vendor's shape. Subclass it per vendor and override :meth:`payload`.

    ``limited_by`` names the limit that refused the request (it goes into the request log);
    ``media_type`` is the body's content type (``payload`` returns a ``str`` for text bodies).
    """

    media_type = "application/json;charset=utf-8"

    def __init__(self, status: int, message: str = "", *, headers: dict[str, str] | None = None,
                 limited_by: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: dict[str, str] = headers or {}
        self.limited_by = limited_by

    def payload(self, emulator: Emulator) -> Any:
        """The body: a JSON-able value, or a ``str`` when ``media_type`` is not JSON."""
        return {"status": self.status, "message": self.message}

    def render(self, emulator: Emulator) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """``(status, raw headers, body)`` ready for ASGI."""
        data = self.payload(emulator)
        body = data.encode() if isinstance(data, str) else json.dumps(data, separators=(",", ":")).encode()
        headers = [(b"content-type", self.media_type.encode("latin-1")),
                   (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        return self.status, headers, body


class KitError(VendorError):
    """The generic shape, for emulators whose vendor publishes none: ``{"error": code, "message": …}``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 limited_by: str | None = None) -> None:
        super().__init__(status, message, headers=headers, limited_by=limited_by)
        self.code = code

    def payload(self, emulator: Emulator) -> Any:
        return {"error": self.code, "message": self.message}


class ODataError(KitError):
    """OData's error body, ``{"error": {"code": …, "message": …}}`` (OData JSON Format v4.01 §21), for emulators of
    OData services (Dataverse, TribeCRM)."""

    def payload(self, emulator: Emulator) -> Any:
        return {"error": {"code": self.code, "message": self.message}}


class ControlError(KitError):
    """An error of the control API (``/__sandbox__/*``): always the kit's shape, whatever the vendor."""
