"""OpenAI, or any OpenAI-compatible server, for AI columns (``apis/enrichment_apis.md`` §10).

Endpoints (official spec ``specs/openai/openapi.yaml``):

- ``POST {base}/chat/completions`` — the default, because every OpenAI-compatible server (Ollama, LM Studio,
  vLLM…) implements it. Structured output: ``response_format: {"type": "json_schema", "json_schema": {"name",
  "schema", "strict": true}}``; the answer is ``choices[0].message.content`` (or ``message.refusal``).
- ``POST {base}/responses`` — chosen with the connection's *API style* setting. Structured output:
  ``text: {"format": {"type": "json_schema", "name", "schema", "strict": true}}``; the answer is the
  ``output_text`` part of ``output[].content[]``.
- ``GET {base}/models`` — the models the key (or the local server) offers.

Rate limits: OpenAI sends ``x-ratelimit-limit-requests`` / ``-tokens``, ``x-ratelimit-remaining-*`` and
``x-ratelimit-reset-*`` (durations such as ``1s``, ``6m0s``, ``12ms``) on every answer. :class:`RateBudget` turns
them into two token buckets (requests and tokens per minute) that every request draws from before it is sent, so a
run goes as fast as the account allows without a storm of 429s; a local server that sends no such headers is
limited only by the number of requests in flight. A 429 comes in two kinds (OpenAI's error ``code``):
``rate_limit_exceeded`` (wait and retry: :class:`RateLimitedError`) and ``insufficient_quota`` (the account has no
credit left; retrying is pointless: :class:`QuotaExhaustedError`). 5xx answers are retried with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from enginy_desktop.adapters.base import (
    AdapterError,
    AuthError,
    Connection,
    FatalError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    ValidationError,
)
from enginy_desktop.adapters.http import ApiClient, RateInfo, Reply, RetryPolicy, bearer_auth, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CHAT = "chat"
RESPONSES = "responses"
API_STYLES = {"Chat Completions": CHAT, "Responses": RESPONSES}

__all__ = [
    "API_STYLES",
    "CHAT",
    "DEFAULT_BASE_URL",
    "RESPONSES",
    "AiCompletion",
    "AiRequest",
    "OpenAIAdapter",
    "RateBudget",
    "parse_duration",
]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float | None:
    """Seconds in an OpenAI reset header: ``1s``, ``6m0s``, ``12ms``, ``1h2m3.5s``; None if unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    total, pos = 0.0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        n, unit = float(m.group(1)), m.group(2)
        total += n * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
        pos = m.end()
    if pos != len(text):
        try:
            return float(text)
        except ValueError:
            return None
    return total


@dataclass(frozen=True, slots=True)
class AiRequest:
    model: str
    system: str
    user: str
    schema: Mapping[str, Any]
    schema_name: str = "ai_column"
    temperature: float = 0.0
    max_output_tokens: int | None = None
    estimated_tokens: int = 0  # what the request will cost against the tokens-per-minute limit


@dataclass(frozen=True, slots=True)
class AiCompletion:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    refusal: str = ""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class _Bucket:
    """Continuous refill of ``limit`` per minute; ``level`` may go negative after a correction."""

    def __init__(self, limit: float, clock: Callable[[], float]) -> None:
        self.limit = float(limit)
        self.level = float(limit)
        self._clock = clock
        self._at = clock()

    def refill(self) -> None:
        now = self._clock()
        self.level = min(self.limit, self.level + (now - self._at) * self.limit / 60.0)
        self._at = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 when it is now)."""
        need = min(amount, self.limit) - self.level
        return 0.0 if need <= 0 else need * 60.0 / self.limit


class RateBudget:
    """Requests and tokens per minute for one connection, fed by ``x-ratelimit-*`` headers.

    Until the first answer says what the account allows, one request at a time goes out (it discovers the limits);
    then each request waits until both buckets hold what it costs (1 request, its estimated tokens). Each answer
    corrects the buckets with what the server says remains (other programs may use the same key), and the actual
    usage replaces the estimate. ``rpm`` / ``tpm`` set limits up front (tests, servers without headers).
    """

    def __init__(self, rpm: int | None = None, tpm: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.requests: _Bucket | None = _Bucket(rpm, clock) if rpm else None
        self.tokens: _Bucket | None = _Bucket(tpm, clock) if tpm else None
        self.discovered = bool(rpm or tpm)
        self.headerless = False  # the server answered without rate-limit headers
        self._lock: asyncio.Lock | None = None
        self._probe: asyncio.Lock | None = None
        self.waited = 0.0

    @property
    def limits(self) -> tuple[int | None, int | None]:
        return (int(self.requests.limit) if self.requests else None, int(self.tokens.limit) if self.tokens else None)

    def probe_lock(self) -> asyncio.Lock:
        """Held by the one request that discovers the limits; the others wait for its answer."""
        if self._probe is None:
            self._probe = asyncio.Lock()
        return self._probe

    async def acquire(self, tokens: int) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            started = self._clock()
            while True:
                wait = 0.0
                for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
                    if bucket is not None:
                        bucket.refill()
                        wait = max(wait, bucket.wait_for(amount))
                if wait <= 0:
                    if self.requests is not None:
                        self.requests.level -= 1
                    if self.tokens is not None:
                        self.tokens.level -= tokens
                    self.waited += self._clock() - started
                    return
                await asyncio.sleep(min(wait, 5.0))

    def settle(self, estimated: int, actual: int) -> None:
        """The request used ``actual`` tokens where ``estimated`` were drawn."""
        if self.tokens is not None and actual:
            self.tokens.level -= actual - estimated

    def observe(self, info: Mapping[str, str]) -> None:
        def num(name: str) -> float | None:
            raw = info.get(name, "")
            try:
                return float(raw) if raw != "" else None
            except ValueError:
                return None

        lim_r, lim_t = num("x-ratelimit-limit-requests"), num("x-ratelimit-limit-tokens")
        rem_r, rem_t = num("x-ratelimit-remaining-requests"), num("x-ratelimit-remaining-tokens")
        if lim_r is None and lim_t is None:
            if not self.discovered:
                self.headerless = True
                self.discovered = True
            return
        for attr, limit, remaining in (("requests", lim_r, rem_r), ("tokens", lim_t, rem_t)):
            if limit is None or limit <= 0:
                continue
            bucket: _Bucket | None = getattr(self, attr)
            if bucket is None:
                bucket = _Bucket(limit, self._clock)
                bucket.level = remaining if remaining is not None else limit
                setattr(self, attr, bucket)
                continue
            bucket.refill()
            bucket.limit = limit
            if remaining is not None and remaining < bucket.level:
                bucket.level = remaining
        self.discovered = True

    def pause(self, seconds: float) -> None:
        """After a 429: empty the buckets so nothing goes out for about ``seconds``."""
        for bucket in (self.requests, self.tokens):
            if bucket is not None:
                bucket.refill()
                bucket.level = min(bucket.level, -seconds * bucket.limit / 60.0)


def _error_hook(vendor_name: str) -> Callable[[Reply, AdapterError], AdapterError]:
    def hook(reply: Reply, error: AdapterError) -> AdapterError:
        body = reply.json_or_none()
        err = body.get("error") if isinstance(body, dict) else None
        code = typ = message = ""
        if isinstance(err, dict):
            code, typ, message = str(err.get("code") or ""), str(err.get("type") or ""), str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
        kw: dict[str, Any] = {"vendor": "openai", "status": reply.status,
                              "request_id": reply.header("x-request-id")}
        detail = f" ({message})" if message else ""
        if reply.status == 429 and "insufficient_quota" in (code, typ):
            return QuotaExhaustedError(
                f"{vendor_name} says the account has no credit left (insufficient_quota). Add credit or raise the "
                "budget on platform.openai.com → Billing, then run the column again: the rows already done are kept.",
                **kw)
        if reply.status == 429:
            retry = parse_retry_after(reply.header("retry-after"))
            ms = reply.header("retry-after-ms")
            if ms:
                with contextlib.suppress(ValueError):
                    retry = float(ms) / 1000.0
            if retry is None:
                retry = parse_duration(reply.header("x-ratelimit-reset-requests")) or 1.0
            return RateLimitedError(f"{vendor_name} is limiting requests (rate_limit_exceeded){detail}.",
                                    retry_after=retry, **kw)
        if reply.status == 401:
            return AuthError(f"{vendor_name} did not accept the API key (HTTP 401){detail}. Paste a valid key in the "
                             "OpenAI connection.", **kw)
        if reply.status == 404 and code == "model_not_found":
            return NotFoundError(f"{vendor_name} has no model by that name{detail}. Choose another model.", **kw)
        if reply.status in (400, 422):
            return ValidationError(f"{vendor_name} refused the request (HTTP {reply.status}){detail}.", **kw)
        return error

    return hook


def _rate_info(reply: Reply) -> RateInfo:
    return RateInfo(maximum=None, remaining=None)


class OpenAIAdapter:
    """One OpenAI (or compatible) connection: ``models()``, ``complete()``, ``check()``; ``budget`` paces calls."""

    key: ClassVar[str] = "openai"
    name: ClassVar[str] = "OpenAI"

    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str = "", *, style: str = CHAT,
                 organization: str = "", transport: Any = None, retry: RetryPolicy | None = None,
                 budget: RateBudget | None = None, max_in_flight: int = 64) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.style = style if style in (CHAT, RESPONSES) else CHAT
        self.compatible = self.base_url != DEFAULT_BASE_URL
        self.vendor_name = "OpenAI" if not self.compatible else "The OpenAI-compatible server"
        headers = {"OpenAI-Organization": organization} if organization else None
        self.client = ApiClient(
            "openai", self.base_url, vendor_name=self.vendor_name,
            auth=bearer_auth(api_key) if api_key else None, transport=transport, headers=headers,
            retry=retry or RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=20.0, max_wait=90.0),
            error_hook=_error_hook(self.vendor_name), rate_info=_rate_info, secrets=[api_key] if api_key else [],
        )
        self.budget = budget or RateBudget()
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self.requests_sent = 0
        self.rate_limited = 0

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> OpenAIAdapter:
        style = API_STYLES.get(connection.setting("api_style"), connection.setting("api_style") or CHAT)
        return cls(connection.setting("base_url", DEFAULT_BASE_URL), connection.get_secret("api_key") or "",
                   style=style, organization=connection.setting("organization"), transport=transport, **options)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> OpenAIAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- models ---------------------------------------------------------------------------------------------------
    async def models(self) -> list[str]:
        reply = await self.client.request("GET", "/models")
        body = reply.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise FatalError(f"{self.vendor_name} answered GET /models without a list of models.", vendor="openai")
        return sorted(str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id"))

    async def check(self) -> str:
        models = await self.models()
        where = "OpenAI" if not self.compatible else self.base_url
        return f"Connected to {where}: {len(models)} model{'s' if len(models) != 1 else ''} available."

    # -- completions ----------------------------------------------------------------------------------------------
    def body(self, req: AiRequest) -> dict[str, Any]:
        if self.style == RESPONSES:
            body: dict[str, Any] = {
                "model": req.model,
                "instructions": req.system,
                "input": req.user,
                "temperature": req.temperature,
                "store": False,
                "text": {"format": {"type": "json_schema", "name": req.schema_name, "schema": dict(req.schema),
                                    "strict": True}},
            }
            if req.max_output_tokens:
                body["max_output_tokens"] = req.max_output_tokens
            return body
        body = {
            "model": req.model,
            "messages": [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}],
            "temperature": req.temperature,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": req.schema_name, "schema": dict(req.schema), "strict": True}},
        }
        if req.max_output_tokens:
            body["max_completion_tokens"] = req.max_output_tokens
        return body

    async def complete(self, req: AiRequest) -> AiCompletion:
        """One answer, paced by :attr:`budget`; raises the error tree (quota, auth, validation…) on failure."""
        estimate = max(1, req.estimated_tokens)
        async with self._in_flight:
            if not self.budget.discovered:
                async with self.budget.probe_lock():  # one request at a time until the limits are known
                    if not self.budget.discovered:
                        return self._settled(await self._send(req), req, estimate, drawn=0)
            await self.budget.acquire(estimate)
            reply = await self._send(req)
        return self._settled(reply, req, estimate, drawn=estimate)

    async def _send(self, req: AiRequest) -> Reply:
        path = "/responses" if self.style == RESPONSES else "/chat/completions"
        before = self.client.requests_sent
        try:
            reply = await self.client.request("POST", path, json=self.body(req), idempotent=True)
        except RateLimitedError as exc:
            self.budget.pause(exc.retry_after or 1.0)
            raise
        finally:
            sent = self.client.requests_sent - before
            self.requests_sent += sent
            self.rate_limited += max(0, sent - 1)
        self.budget.observe(reply.headers)
        return reply

    def _settled(self, reply: Reply, req: AiRequest, estimate: int, drawn: int) -> AiCompletion:
        completion = self._parse(reply, req)
        if drawn:
            self.budget.settle(estimate, completion.total_tokens)
        return completion

    def _parse(self, reply: Reply, req: AiRequest) -> AiCompletion:
        body = reply.json()
        if not isinstance(body, dict):
            raise FatalError(f"{self.vendor_name} answered without a JSON object.", vendor="openai")
        usage = body.get("usage") or {}
        if self.style == RESPONSES:
            prompt = int(usage.get("input_tokens") or 0)
            completion = int(usage.get("output_tokens") or 0)
            text, refusal = "", ""
            for item in body.get("output") or []:
                for part in (item.get("content") or []) if isinstance(item, dict) else []:
                    if part.get("type") == "output_text":
                        text += str(part.get("text") or "")
                    elif part.get("type") == "refusal":
                        refusal += str(part.get("refusal") or "")
        else:
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
            choices = body.get("choices") or []
            message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
            if not isinstance(message, dict):
                raise FatalError(f"{self.vendor_name} answered without a message.", vendor="openai")
            text = str(message.get("content") or "")
            refusal = str(message.get("refusal") or "")
        return AiCompletion(text, str(body.get("model") or req.model), prompt, completion, refusal)
