"""The Slack adapter against the Slack emulator: webhook and bot token, Test connection and Slack's error codes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from enginy_desktop.adapters.base import AdapterError, AuthError, Connection, MissingScopeError, TransientError
from enginy_desktop.adapters.http import RetryPolicy, asgi_transport
from enginy_desktop.adapters.slack import SlackAdapter, SlackMessage, escape
from enginy_desktop.core.services import connection_test
from enginy_desktop.sandbox.kit import server
from enginy_desktop.sandbox.kit.limits import RateLimit as SandboxRate
from enginy_desktop.sandbox.notify.slack import (
    DEFAULT_BOT_TOKEN,
    DEFAULT_WEBHOOK_PATH,
    SlackSandbox,
    SlackSandboxConfig,
    create_app,
)

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)
MSG = SlackMessage("Export finished", ({"type": "section", "text": {"type": "mrkdwn", "text": "*Done*"}},))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def slack() -> tuple[Any, SlackSandbox]:
    app = create_app(SlackSandboxConfig())
    return app, app.state.sandbox


def adapter(app: Any, **secrets: str) -> SlackAdapter:
    settings = {k: v for k, v in secrets.items() if k in ("channel", "base_url")}
    secret = {k: v for k, v in secrets.items() if k not in settings}
    conn = Connection("slack", settings, lambda name: secret.get(name))
    return SlackAdapter.from_connection(conn, transport=asgi_transport(app), retry=FAST)


def bot(app: Any, channel: str = "#sales-ops", token: str = DEFAULT_BOT_TOKEN) -> SlackAdapter:
    return adapter(app, bot_token=token, channel=channel, base_url="https://slack.test/api")


def hook(app: Any, path: str = DEFAULT_WEBHOOK_PATH) -> SlackAdapter:
    return adapter(app, webhook_url=f"https://hooks.slack.test{path}")


async def post(a: SlackAdapter, message: SlackMessage = MSG) -> str:
    async with a:
        return await a.post(message)


def test_webhook_posts(slack: tuple[Any, SlackSandbox]) -> None:
    app, sb = slack
    assert run(post(hook(app))) == ""
    assert [(m.via, m.text, m.blocks[0]["text"]["text"]) for m in sb.messages] == [("webhook", "Export finished",
                                                                                     "*Done*")]


def test_bot_posts_to_the_channel(slack: tuple[Any, SlackSandbox]) -> None:
    app, sb = slack
    assert run(post(bot(app)))
    assert sb.messages[0].via == "bot"
    assert sb.messages[0].channel == "sales-ops"


@pytest.mark.parametrize(
    ("make", "code", "error", "words"),
    [
        (lambda app: bot(app, token="xoxb-wrong-token"), "invalid_auth", AuthError, "did not accept the bot token"),
        (lambda app: bot(app, channel="#nowhere"), "channel_not_found", AdapterError, "no channel #nowhere"),
        (lambda app: bot(app, channel="general"), "not_in_channel", AdapterError, "/invite"),
        (lambda app: bot(app, channel="old-news"), "is_archived", AdapterError, "archived"),
        (lambda app: hook(app, "/services/T0/B0/unknown"), "no_service", AuthError, "Create a new webhook"),
    ],
)
def test_error_codes_are_explained(slack: tuple[Any, SlackSandbox], make: Any, code: str, error: type,
                                   words: str) -> None:
    app, _ = slack
    with pytest.raises(error) as info:
        run(post(make(app)))
    assert getattr(info.value, "code", None) == code
    assert words in str(info.value)


def test_revoked_and_archived_webhooks(slack: tuple[Any, SlackSandbox]) -> None:
    app, sb = slack
    sb.config.webhooks["/services/T1/B1/revoked"] = "revoked"
    sb.config.webhooks["/services/T1/B1/archived"] = "archived"
    with pytest.raises(AuthError, match="invalid_token"):
        run(post(hook(app, "/services/T1/B1/revoked")))
    with pytest.raises(AdapterError, match="channel_is_archived"):
        run(post(hook(app, "/services/T1/B1/archived")))


def test_missing_scope(slack: tuple[Any, SlackSandbox]) -> None:
    app, sb = slack
    sb.config.scopes = ("channels:read",)
    with pytest.raises(MissingScopeError, match="chat:write"):
        run(post(bot(app)))


def test_bad_payload_and_server_errors(slack: tuple[Any, SlackSandbox]) -> None:
    app, sb = slack
    with pytest.raises(AdapterError) as info:
        run(post(hook(app), SlackMessage("")))
    assert info.value.code == "no_text"  # type: ignore[attr-defined]
    sb.set_faults({"error_rate": 1, "error_status": 500})  # the kit's faults, as on every emulator
    with pytest.raises(TransientError):
        run(post(bot(app)))
    sb.set_faults({"error_rate": 0})
    sb.set_rate_limit(SandboxRate(1, 60.0))
    sb.config.retry_after_s = 0
    run(post(bot(app)))  # the one post the window allows
    before = len(sb.requests)
    with pytest.raises(AdapterError, match="limiting"):
        run(post(bot(app)))
    assert len(sb.requests) - before >= 2  # 429s are retried
    assert {r.limited_by for r in sb.requests[before:]} == {"posting"}


def test_incomplete_connections() -> None:
    none = Connection("slack", {}, lambda name: None)
    with pytest.raises(AuthError, match="not connected"):
        SlackAdapter.from_connection(none)
    token_only = Connection("slack", {}, lambda name: DEFAULT_BOT_TOKEN if name == "bot_token" else None)
    with pytest.raises(AuthError, match="channel"):
        SlackAdapter.from_connection(token_only)
    bad_url = Connection("slack", {}, lambda name: "hooks.slack.com" if name == "webhook_url" else None)
    with pytest.raises(AuthError, match="not a web address"):
        SlackAdapter.from_connection(bad_url)


def test_secrets_never_logged(slack: tuple[Any, SlackSandbox], caplog: pytest.LogCaptureFixture) -> None:
    app, sb = slack
    sb.config.webhooks[DEFAULT_WEBHOOK_PATH] = "revoked"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        run(post(hook(app)))
    text = caplog.text + str(info.value)
    assert "sandboxwebhooksecret00" not in text
    with pytest.raises(AuthError):
        run(post(bot(app, token="xoxb-wrong-token")))
    assert "xoxb-wrong-token" not in caplog.text


def test_escape() -> None:
    assert escape("A & <B> list") == "A &amp; &lt;B&gt; list"


# -- Test connection through the saved connection, over loopback --------------------------------------------------


def test_connection_test_registered_and_explains(ctx: Any) -> None:
    assert connection_test.supports("slack")
    app = create_app(SlackSandboxConfig())
    sb: SlackSandbox = app.state.sandbox
    with server.serve(app) as url:
        ctx.integrations.save_connection("slack", {"webhook_url": url + DEFAULT_WEBHOOK_PATH})
        result = run(connection_test.run_connection_test(ctx, "slack"))
        assert result.ok, result.message
        assert "test message" in result.message
        assert len(sb.messages) == 1

        ctx.integrations.save_connection("slack", {"bot_token": DEFAULT_BOT_TOKEN, "channel": "general",
                                                   "base_url": url + "/api"})
        result = run(connection_test.run_connection_test(ctx, "slack"))
        assert not result.ok
        assert "not_in_channel" in result.message
        assert DEFAULT_BOT_TOKEN not in result.message

        ctx.integrations.save_connection("slack", {"channel": "#sales-ops"})
        result = run(connection_test.run_connection_test(ctx, "slack"))
        assert result.ok, result.message
        assert "Enginy Sandbox" in result.message
        assert "#sales-ops" in result.message
