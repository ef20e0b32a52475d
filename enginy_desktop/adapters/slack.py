"""Slack notifications (``apis/enrichment_apis.md`` §11): an incoming webhook, or a bot token with a channel.

- **Incoming webhook**: the user pastes ``https://hooks.slack.com/services/T…/B…/…`` (a secret: whoever has it can
  post to the channel). ``POST`` JSON ``{text, blocks}``; Slack answers ``ok``, or an HTTP error whose body is a
  plain code (``invalid_payload``, ``channel_not_found``, ``channel_is_archived``, ``invalid_token``…).
- **Bot token** (``xoxb-…``, scope ``chat:write``) and a channel: ``POST {base}/chat.postMessage``. Slack answers
  HTTP 200 with ``{"ok": false, "error": "not_in_channel"}`` for most failures, and 429 with ``Retry-After``.

Both go through :class:`~enginy_desktop.adapters.http.ApiClient` (time-outs, retries of 429, redaction) with a
limiter of one message per second, Slack's posting rate. Every failure is an
:class:`~enginy_desktop.adapters.base.AdapterError` whose ``code`` is Slack's own error code and whose message says
what to do. **Test connection** for the ``slack`` key is in ``core.services.connection_test``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from enginy_desktop.redact import register_secret

from .base import (
    AdapterError,
    AuthError,
    Connection,
    FatalError,
    MissingScopeError,
    RateLimit,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from .http import ApiClient, Reply, RetryPolicy, SlidingWindowLimiter, bearer_auth, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api"
POST_RATE = RateLimit(1, 1.0)  # "Posting messages: 1 per second per channel; short bursts allowed"
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000

__all__ = [
    "DEFAULT_BASE_URL",
    "SlackAdapter",
    "SlackIdentity",
    "SlackMessage",
    "describe_code",
]


# What each Slack error code means for the user. ``{channel}`` is the configured channel.
_CODE_TEXT: dict[str, str] = {
    "invalid_auth": "Slack did not accept the bot token (invalid_auth). Paste the Bot User OAuth Token "
    "(xoxb-…) from your Slack app's OAuth & Permissions page.",
    "not_authed": "Slack received no token (not_authed). Paste the bot token in the Slack connection.",
    "token_revoked": "The Slack bot token was revoked (token_revoked). Reinstall the app to your workspace and "
    "paste the new token.",
    "token_expired": "The Slack bot token has expired (token_expired). Paste a new token.",
    "account_inactive": "The Slack app's bot user is deactivated (account_inactive). Reinstall the app.",
    "invalid_token": "Slack no longer accepts this incoming webhook (invalid_token): it was revoked or its app "
    "was removed. Create a new webhook and paste its URL.",
    "no_service": "Slack does not know this incoming webhook (no_service): it was deleted or the URL is "
    "incomplete. Create a new webhook and paste its URL.",
    "no_team": "Slack does not know the workspace of this webhook (no_team). Create a new webhook.",
    "team_disabled": "The Slack workspace of this webhook is disabled (team_disabled).",
    "channel_not_found": "Slack has no channel {channel} that the app can see (channel_not_found). Check the "
    "channel's name; for a private channel, invite the app to it first.",
    "not_in_channel": "The Slack app is not a member of {channel} (not_in_channel). In Slack, open the channel and "
    "type /invite @your-app, or give the app the chat:write.public scope.",
    "is_archived": "The Slack channel {channel} is archived (is_archived). Choose another channel.",
    "channel_is_archived": "The Slack channel of this webhook is archived (channel_is_archived). Create a "
    "webhook for another channel.",
    "missing_scope": "The Slack bot token lacks the chat:write scope (missing_scope). Add it under OAuth & "
    "Permissions, reinstall the app and paste the new token.",
    "action_prohibited": "A Slack administrator has restricted posting to this channel (action_prohibited).",
    "restricted_action": "A Slack workspace preference prevents the app from posting there (restricted_action).",
    "posting_to_general_channel_denied": "Only admins may post to {channel} (posting_to_general_channel_denied). "
    "Choose another channel.",
    "ekm_access_denied": "Slack's Enterprise Key Management denied the post (ekm_access_denied).",
    "user_not_found": "The user this webhook posts to no longer exists (user_not_found).",
    "invalid_payload": "Slack refused the message's format (invalid_payload).",
    "no_text": "Slack refused a message without text (no_text).",
    "msg_too_long": "Slack refused the message as too long (msg_too_long).",
    "msg_blocks_too_long": "Slack refused the message's blocks as too long (msg_blocks_too_long).",
    "invalid_blocks": "Slack refused the message's blocks (invalid_blocks).",
    "too_many_attachments": "Slack refused the message (too_many_attachments).",
    "rollup_error": "Slack had a problem delivering the webhook message (rollup_error); try again later.",
    "ratelimited": "Slack is limiting the number of messages (ratelimited); try again in a minute.",
    "fatal_error": "Slack had an internal problem (fatal_error); try again later.",
    "internal_error": "Slack had an internal problem (internal_error); try again later.",
    "service_unavailable": "Slack is unavailable right now (service_unavailable); try again later.",
    "request_timeout": "Slack timed out receiving the message (request_timeout); try again.",
}
_AUTH_CODES = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "invalid_token",
     "no_service", "no_team", "team_disabled"}
)  # fmt: skip
_TRANSIENT_CODES = frozenset(
    {"rollup_error", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)
_REQUEST_CODES = frozenset(
    {"invalid_payload", "no_text", "msg_too_long", "msg_blocks_too_long", "invalid_blocks", "too_many_attachments"}
)


def describe_code(code: str, channel: str = "") -> str:
    """A sentence for a Slack error code (unknown codes are named as they are)."""
    where = channel or "the channel"
    text = _CODE_TEXT.get(code)
    if text is None:
        return f"Slack refused the message ({code or 'no reason given'})."
    return text.format(channel=where)


def _with_code(error: AdapterError, code: str) -> AdapterError:
    """Slack's own error code on the error (``error.code``), for callers that branch on it."""
    error.__dict__["code"] = code
    return error


def slack_error(code: str, *, channel: str = "", status: int | None = None) -> AdapterError:
    """The :class:`AdapterError` for a Slack error code, with ``code`` set to it."""
    message = describe_code(code, channel)
    kw: dict[str, Any] = {"vendor": "slack", "status": status}
    error: AdapterError
    if code == "missing_scope":
        error = MissingScopeError(message, scopes=("chat:write",), **kw)
    elif code in _AUTH_CODES:
        error = AuthError(message, **kw)
    elif code == "ratelimited":
        error = RateLimitedError(message, **kw)
    elif code in _TRANSIENT_CODES:
        error = TransientError(message, **kw)
    elif code in _REQUEST_CODES:
        error = ValidationError(message, **kw)
    else:
        error = FatalError(message, **kw)
    return _with_code(error, code)


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    """Webhooks answer errors as a plain code; the Web API as JSON ``{ok: false, error}``."""
    code = ""
    body = reply.json_or_none()
    if isinstance(body, dict):
        code = str(body.get("error") or "")
    elif reply.content and len(reply.content) < 200:
        code = reply.text.strip()
    if reply.status == 429:
        limited = RateLimitedError(
            describe_code("ratelimited"), retry_after=parse_retry_after(reply.header("retry-after")),
            vendor="slack", status=429,
        )
        return _with_code(limited, "ratelimited")
    if code and code.replace("_", "").isalnum():
        error = slack_error(code, status=reply.status)
        if reply.status >= 500 and not isinstance(error, TransientError):
            error = _with_code(TransientError(error.message, vendor="slack", status=reply.status), code)
        return error
    return _with_code(default, "")


# -- messages ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """``text`` is the notification's fallback (always sent); ``blocks`` the Block Kit layout."""

    text: str
    blocks: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text[:3900]}
        if self.blocks:
            data["blocks"] = [dict(b) for b in list(self.blocks)[:MAX_BLOCKS]]
        return data


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True, slots=True)
class SlackIdentity:
    """What Test connection found."""

    mode: str  # "webhook" or "bot"
    team: str = ""
    user: str = ""
    channel: str = ""

    @property
    def details(self) -> str:
        if self.mode == "webhook":
            return "Posted a test message through the incoming webhook. Run summaries will be posted there."
        team = f" in the {self.team} workspace" if self.team else ""
        who = f" as {self.user}" if self.user else ""
        return f"Connected to Slack{team}{who} and posted a test message to {self.channel}. Run summaries will be " \
               "posted there."


# -- the adapter ---------------------------------------------------------------------------------------------


class SlackAdapter:
    """Posts messages to one Slack channel, through a webhook or with a bot token."""

    key: ClassVar[str] = "slack"
    name: ClassVar[str] = "Slack"

    def __init__(self, api: ApiClient, *, mode: str, path: str, channel: str = "") -> None:
        self.api = api
        self.mode = mode
        self.path = path
        self.channel = channel

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None,
                        retry: RetryPolicy | None = None) -> SlackAdapter:
        """The bot token with its channel when both are saved, else the incoming webhook."""
        token = (connection.get_secret("bot_token") or "").strip()
        channel = connection.setting("channel")
        webhook = (connection.get_secret("webhook_url") or "").strip()
        limiter = SlidingWindowLimiter(POST_RATE, name="Slack posting")
        common: dict[str, Any] = {
            "vendor_name": "Slack", "limiter": limiter, "retry": retry, "transport": transport,
            "error_hook": _error_hook,
        }
        if token and channel:
            base = connection.setting("base_url", DEFAULT_BASE_URL).rstrip("/")
            api = ApiClient("slack", base, auth=bearer_auth(token), secrets=[token], **common)
            return cls(api, mode="bot", path="/chat.postMessage", channel=channel)
        if webhook:
            parts = urlsplit(webhook)
            if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.strip("/"):
                raise AuthError(
                    "The Slack incoming webhook URL is not a web address like https://hooks.slack.com/services/…. "
                    "Paste it again from your Slack app's Incoming Webhooks page.", vendor="slack")
            register_secret(webhook)
            register_secret(parts.path)
            api = ApiClient("slack", f"{parts.scheme}://{parts.netloc}", secrets=[webhook, parts.path], **common)
            return cls(api, mode="webhook", path=parts.path, channel=channel)
        if token and not channel:
            raise AuthError("Enter the Slack channel to post to (e.g. #sales-ops) next to the bot token.",
                            vendor="slack")
        raise AuthError("Slack is not connected: paste an incoming webhook URL, or a bot token and a channel, in "
                        "the Slack connection.", vendor="slack")

    async def aclose(self) -> None:
        await self.api.aclose()

    async def __aenter__(self) -> SlackAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def post(self, message: SlackMessage) -> str:
        """Post ``message``; returns the message's timestamp id (bot) or ``""`` (webhook). Raises AdapterError."""
        if self.mode == "webhook":
            reply = await self.api.request("POST", self.path, json=message.payload())
            return ""
        body = {"channel": self.channel, **message.payload()}
        reply = await self.api.request("POST", self.path, json=body)
        return self._web_api_result(reply).get("ts", "")

    def _web_api_result(self, reply: Reply) -> dict[str, Any]:
        data = reply.json_or_none()
        if not isinstance(data, dict):
            raise FatalError("Slack answered something that is not a Web API response.", vendor="slack",
                             status=reply.status)
        if not data.get("ok"):
            raise slack_error(str(data.get("error") or ""), channel=self.channel, status=reply.status)
        return data

    async def check(self) -> SlackIdentity:
        """Verify the connection: with a bot token ``auth.test`` then a test message to the channel; with a
        webhook a test message (a webhook offers no other way to check it)."""
        test = SlackMessage(
            "Enginy Desktop is connected: export summaries will be posted here.",
            ({"type": "section", "text": {"type": "mrkdwn",
                                          "text": ":white_check_mark: *Enginy Desktop is connected.* Export "
                                                  "summaries will be posted here."}},),
        )
        if self.mode == "webhook":
            await self.post(test)
            return SlackIdentity("webhook")
        info = self._web_api_result(await self.api.request("POST", "/auth.test", idempotent=True))
        await self.post(test)
        return SlackIdentity("bot", team=str(info.get("team") or ""), user=str(info.get("user") or ""),
                             channel=self.channel)
