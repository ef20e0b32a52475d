"""A small local emulator of Slack's posting APIs, on the emulator kit, for tests and the demo mode.

- ``POST /services/{team}/{bot}/{secret}``: an incoming webhook. ``200 ok`` for a JSON body with ``text`` or
  ``blocks``; otherwise Slack's plain-text error codes with their statuses (``400 invalid_payload`` /
  ``no_text``, ``403 invalid_token``, ``404 no_service``, ``404 channel_not_found``, ``410 channel_is_archived``).
- ``POST /api/auth.test`` and ``POST /api/chat.postMessage`` with ``Authorization: Bearer xoxb-…``: HTTP 200 with
  ``{"ok": true, …}`` or ``{"ok": false, "error": "not_authed" | "invalid_auth" | "channel_not_found" |
  "not_in_channel" | "is_archived" | "missing_scope" | "no_text" | "invalid_blocks" | …}``.
- Faults, the request log and the control API come from the kit (``FaultConfig``: e.g. ``error_rate=1`` with
  ``error_status=500`` answers every request with Slack's ``500``); posting has an optional rolling-window
  ``rate_limit`` answered as Slack does (HTTP 429 with ``Retry-After``).

What was posted is kept in :attr:`SlackSandbox.messages` (and ``GET /__sandbox__/messages``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ..kit.app import EmulatorApp, build_app
from ..kit.emulator import Emulator, EmulatorConfig, GatewayRequest
from ..kit.errors import ErrorKind, VendorError
from ..kit.launch import EmulatorSpec, Started, StartOptions, connect_commands, take_options
from ..kit.limits import RateLimit, RollingWindow

DEFAULT_BOT_TOKEN = "xoxb-sandbox-0000-enginy-local"
DEFAULT_WEBHOOK_PATH = "/services/T0SANDBOX/B0SANDBOX/sandboxwebhooksecret00"

__all__ = ["DEFAULT_BOT_TOKEN", "DEFAULT_WEBHOOK_PATH", "SPEC", "SlackError", "SlackSandbox", "SlackSandboxConfig",
           "create_app"]


@dataclass
class SlackSandboxConfig(EmulatorConfig):
    bot_tokens: tuple[str, ...] = (DEFAULT_BOT_TOKEN,)
    scopes: tuple[str, ...] = ("chat:write",)
    team: str = "Enginy Sandbox"
    bot_user: str = "enginy"
    # channel name (without #) -> "member", "not_member" or "archived"
    channels: dict[str, str] = field(default_factory=lambda: {"sales-ops": "member", "general": "not_member",
                                                               "old-news": "archived"})
    # webhook path -> "ok", "revoked", "deleted" or "archived"
    webhooks: dict[str, str] = field(default_factory=lambda: {DEFAULT_WEBHOOK_PATH: "ok"})
    rate_limit: RateLimit | None = None  # posts per rolling window (Slack: about one per second per channel)
    retry_after_s: int | None = None  # the Retry-After of a 429; None: until the window has room


class SlackError(VendorError):
    """Slack's answers: the Web API says ``{"ok": false, "error": code}`` (mostly with HTTP 200), webhooks
    answer the bare code as text."""

    def __init__(self, status: int, code: str, *, text: bool = False, headers: dict[str, str] | None = None,
                 limited_by: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(status, code, headers=headers, limited_by=limited_by)
        self.code = code
        self.extra = extra or {}
        if text:
            self.media_type = "text/plain; charset=utf-8"

    def payload(self, emulator: Emulator) -> Any:
        if self.media_type.startswith("text/"):
            return self.code
        return {"ok": False, "error": self.code, **self.extra}


@dataclass(frozen=True)
class PostedMessage:
    via: str  # "webhook" or "bot"
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    at: float


class SlackSandbox(Emulator):
    vendor = "Slack"
    config: SlackSandboxConfig

    def __init__(self, config: SlackSandboxConfig | None = None) -> None:
        super().__init__(config or SlackSandboxConfig())
        self.messages: list[PostedMessage] = []
        self.window: RollingWindow | None = None
        self.reset()

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.messages.clear()
        self.set_rate_limit(self.config.rate_limit)

    def set_rate_limit(self, limit: RateLimit | None) -> None:
        self.config.rate_limit = limit
        self.window = RollingWindow(limit) if limit else None

    # -- the kit's hooks ------------------------------------------------------------------------------------------

    def authenticate(self, request: GatewayRequest) -> Any:
        """Webhooks carry their secret in the path (checked by the route); the Web API wants a bot token."""
        if not request.path.startswith("/api/"):
            return None
        token = request.bearer()
        if token is None:
            raise SlackError(200, "not_authed")
        if token not in self.config.bot_tokens:
            raise SlackError(200, "invalid_auth")
        return token

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        if self.window is None or request.path == "/api/auth.test":
            return {}
        now = self.config.clock()
        allowed, _ = self.window.try_hit(principal or request.path, now)
        if allowed:
            return {}
        retry = self.config.retry_after_s
        if retry is None:
            retry = math.ceil(self.window.limit.interval_s)
        raise SlackError(429, "ratelimited", text=not request.path.startswith("/api/"),
                         headers={"Retry-After": str(retry)}, limited_by="posting")

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        if kind == "server_error":
            return SlackError(status or 503, "service_unavailable", text=True)
        if kind == "gateway_timeout":
            return SlackError(504, "request_timeout", text=True)
        if kind == "too_large":
            return SlackError(413, "request_too_large")
        if kind == "not_found":
            return SlackError(404, "unknown_method")
        if kind == "method_not_allowed":
            return SlackError(405, "method_not_allowed")
        if kind in ("unauthorized", "expired_token"):
            return SlackError(200, "invalid_auth" if kind == "unauthorized" else "token_expired")
        if kind in ("rate_limited", "budget_exhausted"):
            return SlackError(429, "ratelimited", headers={"Retry-After": "1"})
        return SlackError(200 if kind == "bad_request" else status or 400, "invalid_json")

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "messages": len(self.messages)}

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limit": str(self.config.rate_limit) if self.config.rate_limit else None}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(values) - {"rate_limit"})
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(unknown)}; known: rate_limit")
        if "rate_limit" in values:
            self.set_rate_limit(RateLimit.parse(values["rate_limit"]) if values["rate_limit"] else None)
        return self.limits_json()

    def control_routes(self) -> Iterable[BaseRoute]:
        return [Route("/__sandbox__/messages", self.admin_messages, methods=["GET"])]

    # -- Slack's rules --------------------------------------------------------------------------------------------

    def _payload_problem(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "invalid_payload"
        blocks = body.get("blocks")
        if blocks is not None:
            if not isinstance(blocks, list) or len(blocks) > 50:
                return "invalid_blocks"
            for block in blocks:
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    return "invalid_blocks"
                text = block.get("text")
                if isinstance(text, dict) and len(str(text.get("text", ""))) > 3000:
                    return "invalid_blocks"
        if not str(body.get("text") or "").strip() and not blocks:
            return "no_text"
        if len(str(body.get("text") or "")) > 40_000:
            return "msg_too_long"
        return None

    async def webhook(self, request: Request) -> Response:
        path = request.url.path
        state = self.config.webhooks.get(path)
        if state is None or state == "deleted":
            return PlainTextResponse("no_service", status_code=404)
        if state == "revoked":
            return PlainTextResponse("invalid_token", status_code=403)
        if state == "archived":
            return PlainTextResponse("channel_is_archived", status_code=410)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        problem = self._payload_problem(body)
        if problem:
            return PlainTextResponse(problem, status_code=400)
        self.messages.append(PostedMessage("webhook", path.rsplit("/", 2)[-2], str(body.get("text") or ""),
                                           list(body.get("blocks") or []), time.time()))
        return PlainTextResponse("ok")

    @staticmethod
    async def _body(request: Request) -> Any:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            return dict(form)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    async def auth_test(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "url": "https://enginy-sandbox.slack.com/", "team": self.config.team,
                             "user": self.config.bot_user, "team_id": "T0SANDBOX", "user_id": "U0SANDBOX",
                             "bot_id": "B0SANDBOX"})

    async def post_message(self, request: Request) -> Response:
        if "chat:write" not in self.config.scopes:
            return JSONResponse({"ok": False, "error": "missing_scope", "needed": "chat:write",
                                 "provided": ",".join(self.config.scopes)})
        body = await self._body(request)
        if not isinstance(body, dict):
            return JSONResponse({"ok": False, "error": "invalid_json"})
        channel = str(body.get("channel") or "").strip().lstrip("#")
        if not channel:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        state = self.config.channels.get(channel)
        if state is None:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if state == "archived":
            return JSONResponse({"ok": False, "error": "is_archived"})
        if state == "not_member":
            return JSONResponse({"ok": False, "error": "not_in_channel"})
        if isinstance(body.get("blocks"), str):
            try:
                body["blocks"] = json.loads(body["blocks"])
            except ValueError:
                return JSONResponse({"ok": False, "error": "invalid_blocks"})
        problem = self._payload_problem(body)
        if problem:
            return JSONResponse({"ok": False, "error": problem})
        ts = f"{time.time():.6f}"
        self.messages.append(PostedMessage("bot", channel, str(body.get("text") or ""),
                                           list(body.get("blocks") or []), time.time()))
        return JSONResponse({"ok": True, "channel": f"C{abs(hash(channel)) % 10**8:08d}", "ts": ts,
                             "message": {"text": body.get("text") or "", "type": "message"}})

    async def admin_messages(self, request: Request) -> Response:
        return JSONResponse([{"via": m.via, "channel": m.channel, "text": m.text, "blocks": m.blocks}
                             for m in self.messages])


def create_app(config: SlackSandboxConfig | None = None) -> EmulatorApp:
    sb = SlackSandbox(config)
    return build_app(sb, [
        Route("/services/{team}/{bot}/{secret}", sb.webhook, methods=["POST"]),
        Route("/api/auth.test", sb.auth_test, methods=["POST", "GET"]),
        Route("/api/chat.postMessage", sb.post_message, methods=["POST"]),
    ])


def _start(options: StartOptions) -> Started:
    take_options(SPEC, options.options)
    config = SlackSandboxConfig(random_seed=options.random_seed, faults=options.faults,
                                rate_limit=None if options.rate_limit == "default" else options.rate_limit,
                                control_token=options.control_token)
    app = create_app(config)

    def connect(base_url: str) -> list[str]:
        webhook = connect_commands("slack", {}, "webhook_url", base_url + DEFAULT_WEBHOOK_PATH)
        bot = connect_commands("slack", {"base_url": base_url + "/api", "channel": "sales-ops"}, "bot_token",
                               DEFAULT_BOT_TOKEN)
        return [webhook[0], "or, as a bot:", bot[0], bot[1]]

    return Started(app=app, credentials={"Bot token": DEFAULT_BOT_TOKEN, "Webhook path": DEFAULT_WEBHOOK_PATH},
                   summary=["Channels: #sales-ops (the bot is a member), #general (not a member), "
                            "#old-news (archived)"],
                   connect=connect)


SPEC = EmulatorSpec(
    key="slack",
    title="Slack",
    kind="notify",
    summary="Slack incoming webhooks and chat.postMessage / auth.test with a bot token",
    start=_start,
)
