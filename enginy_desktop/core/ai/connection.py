"""Where AI columns run: the user's OpenAI key or an OpenAI-compatible server (DESIGN §14).

Enginy's built-in AI credits belong to Enginy's online service; the desktop app has no access to them and never
pretends to. Without a connection, :func:`ai_status` says so in words the AI column dialog and the OpenAI card show,
and :func:`open_ai_adapter` refuses with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enginy_desktop.adapters.ai.openai import DEFAULT_BASE_URL, OpenAIAdapter

__all__ = ["NO_CONNECTION", "AiNotConnectedError", "AiStatus", "ai_status", "open_ai_adapter"]

NO_CONNECTION = (
    "Enginy's built-in AI credits belong to Enginy's online service, so this desktop app cannot use them. To run AI "
    "columns here, connect your own OpenAI API key — or the address of an OpenAI-compatible server, such as a local "
    "model (Ollama: http://localhost:11434/v1) — in Integrations → OpenAI → Configure."
)


class AiNotConnectedError(Exception):
    """No OpenAI key and no compatible server: ``str()`` says how to connect one."""


@dataclass(frozen=True)
class AiStatus:
    ready: bool
    message: str
    own_server: bool = False
    where: str = ""


def ai_status(ctx: Any) -> AiStatus:
    info = ctx.integrations.get("openai")
    settings = info.settings or {}
    base = str(settings.get("base_url") or "").strip().rstrip("/")
    own_server = bool(base) and base != DEFAULT_BASE_URL
    try:
        has_key = ctx.integrations.has_secret("openai", "api_key")
    except Exception:
        has_key = False
    if not (info.connected and (has_key or own_server)):
        return AiStatus(False, NO_CONNECTION)
    if not info.enabled:
        return AiStatus(False, "OpenAI is connected but turned off: turn it on in Integrations to run AI columns.")
    where = _server(base) if own_server else "OpenAI"
    return AiStatus(True, f"AI columns run on {where}.", own_server, where)


def _server(base_url: str) -> str:
    """How the user names their own server: "your OpenAI-compatible server at 127.0.0.1:8771"."""
    from urllib.parse import urlsplit

    host = urlsplit(base_url).netloc or base_url
    return f"your OpenAI-compatible server at {host}"


def open_ai_adapter(ctx: Any, **options: Any) -> OpenAIAdapter:
    """The OpenAI (or compatible) adapter of ``ctx``, opened through its adapter factory (tests replace it)."""
    status = ai_status(ctx)
    if not status.ready:
        raise AiNotConnectedError(status.message)

    return OpenAIAdapter.from_connection(ctx.adapters.connection("openai"),
                                         transport=ctx.adapters.transport, **options)
