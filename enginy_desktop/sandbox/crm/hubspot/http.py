"""Small HTTP helpers of the HubSpot sandbox: JSON responses and request parsing with HubSpot's errors."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ...kit.http import JSONBody, no_content, ok
from .data import resolve_object_type
from .state import validation_error

__all__ = ["JSONBody", "after_param", "batch_inputs", "bool_param", "int_param", "json_body", "list_param",
           "no_content", "object_type", "ok", "trace_context"]


# --- request helpers ----------------------------------------------------------------------------------------------


async def json_body(request: Request, *, required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise validation_error("Invalid input JSON: the request body is empty.")
        return None
    # The kit's gateway has already refused bodies nested too deeply; RecursionError is the last line of defence.
    try:
        return json.loads(raw)
    except RecursionError:
        raise validation_error("Invalid input JSON: objects and arrays are nested too deeply.") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        col = getattr(exc, "colno", 1)
        raise validation_error(f"Invalid input JSON on line {line}, column {col}: {exc}") from None


def object_type(value: str) -> str:
    otype = resolve_object_type(value)
    if otype is None:
        raise validation_error(f"Unable to infer object type from: {value}")
    return otype


def list_param(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def int_param(request: Request, name: str, default: int, *, lo: int = 1, hi: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer, got '{raw}'.") from None
    if value < lo:
        raise validation_error(f"{name} must be at least {lo}.")
    return min(value, hi) if hi is not None else value


def bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() == "true"


def after_param(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    try:
        value = int(str(raw))
    except ValueError:
        raise validation_error(f"after must be a paging cursor from a previous response, got '{raw}'.") from None
    return max(value, 0)


def batch_inputs(body: Any, limit: int) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input: 'inputs' is required and must be a list.")
    inputs = body["inputs"]
    if len(inputs) > limit:
        raise validation_error(
            f"Batch input too large: {len(inputs)} inputs were sent and at most {limit} are allowed per request.",
            context={"inputs": [str(len(inputs))], "limit": [str(limit)]})
    return inputs


def trace_context(item: Any) -> dict[str, list[str]]:
    if isinstance(item, dict) and item.get("objectWriteTraceId"):
        return {"objectWriteTraceId": [str(item["objectWriteTraceId"])]}
    return {}
