"""A tiny local emulator of Slack's posting APIs, for tests and the demo mode.

- ``POST /services/{team}/{bot}/{secret}``: an incoming webhook. ``200 ok`` for a JSON body with ``text`` or
  ``blocks``; otherwise Slack's plain-text error codes with their statuses (``400 invalid_payload`` /
  ``no_text``, ``403 invalid_token``, ``404 no_service``, ``404 channel_not_found``, ``410 channel_is_archived``).
- ``POST /api/auth.test`` and ``POST /api/chat.postMessage`` with ``Authorization: Bearer xoxb-…``: HTTP 200 with
  ``{"ok": true, …}`` or ``{"ok": false, "error": "invalid_auth" | "channel_not_found" | "not_in_channel" |
  "is_archived" | "missing_scope" | "no_text" | "invalid_blocks" | …}``.
- Faults: ``fail_status`` answers every posting request with that HTTP status (e.g. 500, or 429 with
  ``Retry-After``) until cleared; set from code or with ``POST /__sandbox__/faults {"fail_status": 500}``.

What was posted is kept in :attr:`SlackSandbox.messages` (and ``GET /__sandbox__/messages``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DEFAULT_BOT_TOKEN = "xoxb-sandbox-0000-enginy-local"
DEFAULT_WEBHOOK_PATH = "/services/T0SANDBOX/B0SANDBOX/sandboxwebhooksecret00"

__all__ = ["DEFAULT_BOT_TOKEN", "DEFAULT_WEBHOOK_PATH", "SlackSandbox", "SlackSandboxConfig", "create_app"]


@dataclass
class SlackSandboxConfig:
    bot_tokens: tuple[str, ...] = (DEFAULT_BOT_TOKEN,)
    scopes: tuple[str, ...] = ("chat:write",)
    team: str = "Enginy Sandbox"
    bot_user: str = "enginy"
    # channel name (without #) -> "member", "not_member" or "archived"
    channels: dict[str, str] = field(default_factory=lambda: {"sales-ops": "member", "general": "not_member",
                                                               "old-news": "archived"})
    # webhook path -> "ok", "revoked", "deleted" or "archived"
    webhooks: dict[str, str] = field(default_factory=lambda: {DEFAULT_WEBHOOK_PATH: "ok"})
    fail_status: int | None = None
    retry_after_s: int = 1


@dataclass(frozen=True)
class PostedMessage:
    via: str  # "webhook" or "bot"
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    at: float


class SlackSandbox:
    def __init__(self, config: SlackSandboxConfig | None = None) -> None:
        self.config = config or SlackSandboxConfig()
        self.messages: list[PostedMessage] = []
        self.requests = 0

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

    def _fault(self) -> Response | None:
        status = self.config.fail_status
        if status is None:
            return None
        if status == 429:
            return PlainTextResponse("ratelimited", status_code=429,
                                     headers={"Retry-After": str(self.config.retry_after_s)})
        return PlainTextResponse("service_unavailable" if status >= 500 else "invalid_payload", status_code=status)

    async def webhook(self, request: Request) -> Response:
        self.requests += 1
        fault = self._fault()
        if fault is not None:
            return fault
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

    def _auth(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:
            return "not_authed"
        if token not in self.config.bot_tokens:
            return "invalid_auth"
        return None

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
        self.requests += 1
        problem = self._auth(request)
        if problem:
            return JSONResponse({"ok": False, "error": problem})
        return JSONResponse({"ok": True, "url": "https://enginy-sandbox.slack.com/", "team": self.config.team,
                             "user": self.config.bot_user, "team_id": "T0SANDBOX", "user_id": "U0SANDBOX",
                             "bot_id": "B0SANDBOX"})

    async def post_message(self, request: Request) -> Response:
        self.requests += 1
        fault = self._fault()
        if fault is not None:
            return fault
        problem = self._auth(request)
        if problem:
            return JSONResponse({"ok": False, "error": problem})
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

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = json.loads(await request.body() or b"{}")
            status = body.get("fail_status")
            self.config.fail_status = None if status is None else int(status)
        return JSONResponse({"fail_status": self.config.fail_status})


def create_app(config: SlackSandboxConfig | None = None) -> Starlette:
    sb = SlackSandbox(config)
    app = Starlette(routes=[
        Route("/services/{team}/{bot}/{secret}", sb.webhook, methods=["POST"]),
        Route("/api/auth.test", sb.auth_test, methods=["POST", "GET"]),
        Route("/api/chat.postMessage", sb.post_message, methods=["POST"]),
        Route("/__sandbox__/messages", sb.admin_messages, methods=["GET"]),
        Route("/__sandbox__/faults", sb.admin_faults, methods=["GET", "POST"]),
    ])
    app.state.sandbox = sb
    return app
