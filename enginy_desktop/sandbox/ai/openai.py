"""A local emulator of OpenAI's API for AI columns (DESIGN §9, ``apis/enrichment_apis.md`` §10).

Routes (shapes from the official ``specs/openai/openapi.yaml``; the contract tests validate them):

- ``GET /v1/models`` — a few chat models.
- ``POST /v1/chat/completions`` with ``response_format: json_schema`` (strict) and ``POST /v1/responses`` with
  ``text.format: json_schema`` — the answer is deterministic made-up JSON that honours the schema (same model and
  messages, same answer): booleans, enum labels, numbers, text within the length the schema's description asks
  ("At most N characters"), nested objects and arrays. A schema that strict mode would refuse (an object without
  ``additionalProperties: false`` or with properties missing from ``required``) gets OpenAI's 400.
- ``usage`` counts tokens the way OpenAI's tokenizers roughly do (words and punctuation pieces, long words split,
  a few tokens of overhead per message, the schema included in the prompt), so an estimate can be checked
  against it.
- Rate limits per key: requests and tokens per minute as token buckets refilled continuously, announced on every
  answer in ``x-ratelimit-limit-*`` / ``-remaining-*`` / ``-reset-*``; over a limit, 429 ``rate_limit_exceeded``
  with ``retry-after``. A credit allowance in tokens: once spent, 429 ``insufficient_quota``.
- Faults: a share of 500/503 answers (``fail_every``: every Nth completion fails), added latency.
- Built on the sandbox kit: the gateway's faults (latency, 5xx, hangs, drops, ``credits=exhausted``), request log and
  control API (``/__sandbox__/state`` counts requests, completions, tokens and 429s; ``/__sandbox__/rate-limit``
  changes ``rpm``, ``tpm``, ``credit_tokens``); ``enginy-desktop sandbox --integration openai``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..kit import Emulator, EmulatorApp, EmulatorConfig, ErrorKind, GatewayRequest, VendorError, build_app
from ..kit.launch import EmulatorSpec, Started, StartOptions, connect_commands, take_options

__all__ = ["SANDBOX_KEY", "SPEC", "OpenAIError", "OpenAISandbox", "OpenAISandboxConfig", "count_tokens",
           "create_app"]

SANDBOX_KEY = "sk-sandbox-enginy-local-0000"
MODELS = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4.1")

_PIECES = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+", re.UNICODE)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` as GPT tokenizers roughly count them: a short word (with its leading space) is one
    token, a long one a token per ~4 characters, digits in groups of three, punctuation runs one or two."""
    n = 0
    for piece in _PIECES.findall(text):
        core = piece.strip()
        if not core:
            n += 1 if len(piece) > 1 else 0  # runs of whitespace; a single space joins the next word
            continue
        if core[0].isalpha():
            n += 1 if len(core) <= 7 else math.ceil(len(core) / 4)
        else:
            n += max(1, math.ceil(len(core) / 2)) if not core.isdigit() else 1
    return n


class OpenAIError(VendorError):
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, type_: str, code: str | None = None, param: str | None = None,
                 *, headers: dict[str, str] | None = None, limited_by: str | None = None) -> None:
        super().__init__(status, message, headers=headers, limited_by=limited_by)
        self.type, self.code, self.param = type_, code, param

    def payload(self, emulator: Any) -> Any:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class OpenAISandboxConfig(EmulatorConfig):
    api_key: str = SANDBOX_KEY
    require_key: bool = True  # False: a local server that ignores keys
    rpm: int = 500
    tpm: int = 200_000
    credit_tokens: int | None = None  # tokens the account can still pay for (None: unlimited)
    fail_every: int = 0  # every Nth completion answers 500 (0: never)
    latency_ms: float = 0.0
    rate_headers: bool = True  # False: like Ollama / vLLM, no x-ratelimit-* headers
    initial_fraction: float = 1.0  # how full the allowance is at the start (0: as right after a busy minute)


@dataclass
class _Stats:
    requests: int = 0
    completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rate_limited: int = 0
    insufficient_quota: int = 0
    server_errors: int = 0
    bad_requests: int = 0
    by_path: dict[str, int] = field(default_factory=dict)


class _Bucket:
    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit, self.level, self._clock = float(limit), float(limit), clock
        self._at = clock()

    def refill(self) -> None:
        now = self._clock()
        self.level = min(self.limit, self.level + (now - self._at) * self.limit / 60.0)
        self._at = now

    def reset_in(self) -> float:
        return max(0.0, (self.limit - self.level) * 60.0 / self.limit)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{max(0, int(seconds * 1000))}ms"
    m, s = divmod(seconds, 60)
    return f"{int(m)}m{s:.0f}s" if m else f"{s:.3g}s"


# -- deterministic answers ------------------------------------------------------------------------------------

_WORDS = (
    "growth", "team", "pipeline", "scale", "data", "revenue", "platform", "hiring", "focus", "customers",
    "market", "software", "clear", "strong", "signal", "outbound", "leads", "product", "fit", "teams",
    "value", "modern", "cloud", "sales", "region", "partner", "expanding",
)


class _Rng:
    def __init__(self, seed: str) -> None:
        self._state = hashlib.sha256(seed.encode()).digest()
        self._i = 0

    def next(self) -> int:
        if self._i + 4 > len(self._state):
            self._state, self._i = hashlib.sha256(self._state).digest(), 0
        v = int.from_bytes(self._state[self._i:self._i + 4], "big")
        self._i += 4
        return v

    def below(self, n: int) -> int:
        return self.next() % max(1, n)


_LIMIT = re.compile(r"at most (\d+) characters", re.IGNORECASE)


def _sentence(rng: _Rng, limit: int) -> str:
    target = max(8, int(limit * (0.55 + rng.below(40) / 100)))  # 55–94 % of the limit
    words: list[str] = []
    while len(" ".join(words)) < target - 8:
        words.append(_WORDS[rng.below(len(_WORDS))])
    text = " ".join(words).capitalize() + "."
    return text[:limit]


def _make(schema: dict[str, Any], rng: _Rng) -> Any:
    if "enum" in schema:
        return schema["enum"][rng.below(len(schema["enum"]))]
    if "anyOf" in schema:
        return _make(schema["anyOf"][rng.below(len(schema["anyOf"]))], rng)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object":
        return {k: _make(v, rng) for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        lo = int(schema.get("minItems", 1))
        hi = int(schema.get("maxItems", max(lo, 3)))
        return [_make(schema.get("items") or {"type": "string"}, rng) for _ in range(lo + rng.below(hi - lo + 1))]
    if t == "boolean":
        return rng.below(2) == 1
    if t == "integer":
        return rng.below(1000)
    if t == "number":
        return rng.below(100000) / 100 if rng.below(2) else rng.below(1000)
    if t == "null":
        return None
    m = _LIMIT.search(str(schema.get("description") or ""))
    return _sentence(rng, int(m.group(1)) if m else 60)


def _strict_problem(schema: Any, path: str = "()") -> str:
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            if schema.get("additionalProperties") is not False:
                return (f"In context={path}, 'additionalProperties' is required to be supplied and to be false.")
            props = list((schema.get("properties") or {}).keys())
            req = schema.get("required") or []
            missing = [p for p in props if p not in req]
            if missing:
                return (f"In context={path}, 'required' is required to be supplied and to be an array including "
                        f"every key in properties. Missing '{missing[0]}'.")
        for k, v in schema.items():
            problem = _strict_problem(v, f"{path[:-1]}, '{k}')" if path != "()" else f"('{k}')")
            if problem:
                return problem
    elif isinstance(schema, list):
        for v in schema:
            problem = _strict_problem(v, path)
            if problem:
                return problem
    return ""


class OpenAISandbox(Emulator):
    """The emulator, on the sandbox kit (gateway, faults, request log, control API). ``app`` is its ASGI app."""

    vendor = "OpenAI"
    config: OpenAISandboxConfig

    def __init__(self, config: OpenAISandboxConfig | None = None) -> None:
        super().__init__(config or OpenAISandboxConfig())
        self.clock: Callable[[], float] = self.config.clock
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[_Bucket, _Bucket]] = {}
        self._serial = 0
        self.app: EmulatorApp = build_app(self, [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/responses", self.responses, methods=["POST"]),
        ])

    # -- the kit's hooks ------------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> Any:
        key = request.bearer() or ""
        if not self.config.require_key:
            return key or "local"
        if not key:
            raise OpenAIError(401, "You didn't provide an API key. You need to provide your API key in an "
                                   "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                              "invalid_request_error")
        if key != self.config.api_key:
            raise OpenAIError(401, f"Incorrect API key provided: {key[:3]}***{key[-4:]}.", "invalid_request_error",
                              "invalid_api_key")
        return key

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        if kind == "credits_exhausted":
            return OpenAIError(429, "You exceeded your current quota, please check your plan and billing details.",
                               "insufficient_quota", "insufficient_quota")
        if kind in ("rate_limited", "budget_exhausted"):
            return OpenAIError(429, message, "requests", "rate_limit_exceeded")
        if kind in ("unauthorized", "expired_token"):
            return OpenAIError(401, message, "invalid_request_error", "invalid_api_key")
        if kind == "server_error":
            return OpenAIError(status or 500, "The server had an error while processing your request. Sorry about "
                                              "that!", "server_error")
        if kind == "gateway_timeout":
            return OpenAIError(504, "The server timed out.", "server_error")
        if kind == "not_found":
            return OpenAIError(404, f"Invalid URL ({message}).", "invalid_request_error")
        default = {"too_large": 413, "bad_request": 400, "method_not_allowed": 405}.get(kind, 400)
        return OpenAIError(status or default, message, "invalid_request_error")

    def counts(self) -> dict[str, int]:
        return {**super().counts(), **{k: v for k, v in asdict(self.stats).items() if isinstance(v, int)}}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.stats = _Stats()
        self._buckets.clear()
        self._serial = 0

    def limits_json(self) -> dict[str, Any]:
        c = self.config
        return {"rpm": c.rpm, "tpm": c.tpm, "credit_tokens": c.credit_tokens, "rate_headers": c.rate_headers}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        for name in values:
            if name not in ("rpm", "tpm", "credit_tokens", "rate_headers", "fail_every", "initial_fraction"):
                raise ValueError(f"The OpenAI sandbox has no limit '{name}'.")
        for name, value in values.items():
            setattr(self.config, name, value)
        self._buckets.clear()
        return self.limits_json()

    # -- helpers --------------------------------------------------------------------------------------------------
    def _error(self, status: int, message: str, type_: str, code: str | None = None, param: str | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": type_, "param": param, "code": code}},
                            status_code=status, headers=headers)

    def _key(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        return key or "local"

    def _buckets_for(self, key: str) -> tuple[_Bucket, _Bucket]:
        b = self._buckets.get(key)
        if b is None:
            b = (_Bucket(self.config.rpm, self.clock), _Bucket(self.config.tpm, self.clock))
            for bucket in b:
                bucket.level = bucket.limit * max(0.0, min(1.0, self.config.initial_fraction))
            self._buckets[key] = b
        return b

    def _rate_headers(self, key: str) -> dict[str, str]:
        if not self.config.rate_headers:
            return {}
        req, tok = self._buckets_for(key)
        return {
            "x-ratelimit-limit-requests": str(int(req.limit)),
            "x-ratelimit-limit-tokens": str(int(tok.limit)),
            "x-ratelimit-remaining-requests": str(max(0, int(req.level))),
            "x-ratelimit-remaining-tokens": str(max(0, int(tok.level))),
            "x-ratelimit-reset-requests": _duration(req.reset_in()),
            "x-ratelimit-reset-tokens": _duration(tok.reset_in()),
        }

    async def _pause(self) -> None:
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000.0)

    # -- routes ---------------------------------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        key = self._key(request)
        self.stats.requests += 1
        data = [{"id": m, "object": "model", "created": 1715367049, "owned_by": "system"} for m in MODELS]
        return JSONResponse({"object": "list", "data": data}, headers=self._rate_headers(key))

    async def _complete(self, request: Request, style: str) -> Response:
        key = self._key(request)
        path = request.url.path
        with self._lock:
            self.stats.requests += 1
            self.stats.by_path[path] = self.stats.by_path.get(path, 0) + 1
        try:
            body = await request.json()
        except ValueError:
            self.stats.bad_requests += 1
            return self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            self.stats.bad_requests += 1
            return self._error(400, "you must provide a model parameter", "invalid_request_error", param="model")
        model = body["model"]
        if model not in MODELS:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.",
                               "invalid_request_error", "model_not_found")
        if style == "chat":
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                self.stats.bad_requests += 1
                return self._error(400, "[] is too short - 'messages'", "invalid_request_error", param="messages")
            texts = [str(m.get("content") or "") for m in messages if isinstance(m, dict)]
            fmt = (body.get("response_format") or {})
            schema_box = fmt.get("json_schema") if fmt.get("type") == "json_schema" else None
            n_messages = len(texts)
        else:
            texts = [str(body.get("instructions") or ""), str(body.get("input") or "")]
            fmt = ((body.get("text") or {}).get("format") or {})
            schema_box = fmt if fmt.get("type") == "json_schema" else None
            n_messages = 2 if body.get("instructions") else 1
        schema = (schema_box or {}).get("schema") if schema_box else None
        if schema_box is not None and schema_box.get("strict"):
            problem = _strict_problem(schema)
            if problem:
                self.stats.bad_requests += 1
                name = schema_box.get("name", "")
                return self._error(400, f"Invalid schema for response_format '{name}': {problem}",
                                   "invalid_request_error", "invalid_json_schema",
                                   param="response_format" if style == "chat" else "text.format.schema")
        prompt_tokens = sum(count_tokens(t) for t in texts) + 3 * n_messages + 3
        if schema is not None:
            prompt_tokens += count_tokens(json.dumps(schema)) + 8
        seed = f"{model}|{json.dumps(texts, ensure_ascii=False)}"
        rng = _Rng(seed)
        if schema is not None:
            content = json.dumps(_make(schema, rng), ensure_ascii=False, separators=(",", ":"))
        else:
            content = _sentence(rng, 120)
        completion_tokens = count_tokens(content) + 1
        total = prompt_tokens + completion_tokens
        await self._pause()
        with self._lock:
            req_b, tok_b = self._buckets_for(key)
            req_b.refill()
            tok_b.refill()
            if self.config.faults.credits_exhausted or (self.config.credit_tokens is not None
                                                        and self.config.credit_tokens < total):
                self.stats.insufficient_quota += 1
                return self._error(429, "You exceeded your current quota, please check your plan and billing "
                                        "details. For more information on this error, read the docs: "
                                        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                                   "insufficient_quota", "insufficient_quota", headers=self._rate_headers(key))
            if req_b.level < 1 or tok_b.level < total:
                self.stats.rate_limited += 1
                if req_b.level < 1:
                    what, limit, used, asked = "requests per min (RPM)", req_b.limit, req_b.limit - req_b.level, 1
                    wait = (1 - req_b.level) * 60.0 / req_b.limit
                else:
                    what, limit, used, asked = "tokens per min (TPM)", tok_b.limit, tok_b.limit - tok_b.level, total
                    wait = (total - tok_b.level) * 60.0 / tok_b.limit
                headers = {**self._rate_headers(key), "retry-after": f"{max(1, math.ceil(wait))}",
                           "retry-after-ms": f"{int(wait * 1000) + 1}"}
                return self._error(
                    429, f"Rate limit reached for {model} in organization org-sandbox on {what}: Limit {int(limit)}, "
                         f"Used {int(used)}, Requested {asked}. Please try again in {_duration(wait)}.",
                    "requests" if req_b.level < 1 else "tokens", "rate_limit_exceeded", headers=headers)
            self._serial += 1
            serial = self._serial
            if self.config.fail_every and serial % self.config.fail_every == 0:
                self.stats.server_errors += 1
                return self._error(500, "The server had an error while processing your request. Sorry about that!",
                                   "server_error")
            req_b.level -= 1
            tok_b.level -= total
            if self.config.credit_tokens is not None:
                self.config.credit_tokens -= total
            self.stats.completions += 1
            self.stats.prompt_tokens += prompt_tokens
            self.stats.completion_tokens += completion_tokens
            headers = self._rate_headers(key)
        headers["x-request-id"] = f"req_{serial:08d}"
        created = int(time.time())
        ident = hashlib.sha256(f"{seed}|{serial}".encode()).hexdigest()[:24]
        if style == "chat":
            return JSONResponse({
                "id": f"chatcmpl-{ident}", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                     "annotations": []},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": total,
                          "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                        "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0}},
                "service_tier": "default", "system_fingerprint": "fp_sandbox",
            }, headers=headers)
        return JSONResponse({
            "id": f"resp_{ident}", "object": "response", "created_at": created, "status": "completed",
            "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "model": model,
            "output": [{"type": "message", "id": f"msg_{ident}", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": content, "annotations": [], "logprobs": []}]}],
            "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "store": bool(body.get("store", True)),
            "temperature": body.get("temperature", 1.0), "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled",
            "usage": {"input_tokens": prompt_tokens, "input_tokens_details": {"cached_tokens": 0,
                                                                      "cache_write_tokens": 0},
                      "output_tokens": completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": total},
            "metadata": {},
        }, headers=headers)

    async def chat(self, request: Request) -> Response:
        return await self._complete(request, "chat")

    async def responses(self, request: Request) -> Response:
        return await self._complete(request, "responses")

def create_app(config: OpenAISandboxConfig | None = None) -> EmulatorApp:
    """The ASGI app (``app.state.sandbox`` is the :class:`OpenAISandbox`, for tests and benchmarks)."""
    return OpenAISandbox(config).app


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = OpenAISandboxConfig(random_seed=options.random_seed, faults=options.faults,
                                 control_token=options.control_token, api_key=opts.get("key", SANDBOX_KEY))
    for name in ("rpm", "tpm"):
        if name in opts:
            setattr(config, name, int(opts[name]))
    if "credit-tokens" in opts:
        config.credit_tokens = int(opts["credit-tokens"])
    if options.rate_limit is None:  # --rate-limit off
        config.rpm, config.tpm = 10_000_000, 10_000_000_000
    sandbox = OpenAISandbox(config)
    return Started(app=sandbox.app, credentials={"API key": config.api_key},
                   summary=[f"Models: {', '.join(MODELS)}",
                            f"Limits: {config.rpm:,} requests and {config.tpm:,} tokens per minute"
                            + (f"; {config.credit_tokens:,} tokens of credit" if config.credit_tokens else "")],
                   connect=lambda url: connect_commands("openai", {"base_url": url + "/v1"}, "api_key",
                                                        config.api_key))


SPEC = EmulatorSpec(key="openai", title="OpenAI", kind="ai",
                    summary="OpenAI chat completions and responses with structured outputs, models, usage, "
                            "x-ratelimit headers, 429 rate_limit_exceeded / insufficient_quota",
                    start=_start,
                    options={"key": "the API key it accepts", "rpm": "requests per minute (default 500)",
                             "tpm": "tokens per minute (default 200000)",
                             "credit-tokens": "tokens the account can pay for before insufficient_quota"})
