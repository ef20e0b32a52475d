"""Small HTTP helpers every emulator uses: JSON responses, JSON parsing with a nesting limit, body limits."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any

from starlette.responses import JSONResponse, Response

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # 10 MiB: far above any vendor's batch, far below a runaway upload
DEFAULT_MAX_JSON_DEPTH = 512  # deeper objects and arrays are refused before parsing (Python's parser stops near 1,000)


class JSONBody(JSONResponse):
    media_type = "application/json;charset=utf-8"


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONBody(data, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


def json_too_deep(raw: bytes, limit: int = DEFAULT_MAX_JSON_DEPTH) -> bool:
    """True when the JSON text nests objects/arrays more than ``limit`` levels deep (checked without parsing,
    at C speed: strings are cut out, the brackets kept, and their running depth summed, so a 200,000-deep body
    costs milliseconds and never reaches the parser)."""
    openers = raw.count(b"[") + raw.count(b"{")
    if openers <= limit:
        return False
    brackets = _strip_strings(raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0) > limit


_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_DELTA = [0] * 256
_DELTA[ord("[")] = _DELTA[ord("{")] = 1
_DELTA[ord("]")] = _DELTA[ord("}")] = -1
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def _strip_strings(raw: bytes) -> bytes:
    """``raw`` without its JSON strings (brackets inside strings do not nest). An unterminated string is left
    as it is, for the parser to reject."""
    return _STRING.sub(b"", raw) if b'"' in raw else raw


def parse_json(raw: bytes | str, limit: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that raises ``ValueError`` (never ``RecursionError``) for bodies nested too deeply."""
    data = raw.encode() if isinstance(raw, str) else raw
    if json_too_deep(data, limit):
        raise ValueError(f"JSON nested more than {limit} levels deep")
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError(f"JSON nested more than {limit} levels deep") from None
