"""Local emulator of HubSpot's CRM API (DESIGN §9).

``create_app(config)`` returns a Starlette app that answers the date-based API version ``2026-03`` and the
legacy ``v3``/``v4`` paths with HubSpot's shapes, status codes, error bodies, rate limits and rate-limit
headers. Its state is a :class:`HubSpotSandbox`, reachable as ``app.state.sandbox``::

    from enginy_desktop.sandbox.hubspot import HubSpotSandboxConfig, create_app

    app = create_app(HubSpotSandboxConfig(seed_contacts=1000))
    sandbox = app.state.sandbox          # records, associations, tokens, request log
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://api.hubapi.com",
                                 headers={"Authorization": f"Bearer {sandbox.config.tokens[0]}"}) as client:
        await client.get("/crm/objects/2026-03/contacts")

See ``docs/sandbox.md`` for the endpoints, faults, limits and what differs from the real service.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from .faults import FaultConfig
from .hubspot_api import build_routes, exception_handlers
from .hubspot_gateway import Gateway
from .hubspot_state import (
    DEFAULT_TOKEN,
    HubSpotError,
    HubSpotSandbox,
    HubSpotSandboxConfig,
    Record,
    RequestLogEntry,
    TokenInfo,
)
from .ratelimit import RateLimit

__all__ = [
    "DEFAULT_TOKEN",
    "FaultConfig",
    "HubSpotError",
    "HubSpotSandbox",
    "HubSpotSandboxConfig",
    "RateLimit",
    "Record",
    "RequestLogEntry",
    "TokenInfo",
    "create_app",
]


class _SandboxApp(Starlette):
    """Starlette with the sandbox gateway outside every middleware, so it sees the server's own ``send``."""

    gateway: Gateway

    def build_middleware_stack(self) -> Any:
        self.gateway = Gateway(super().build_middleware_stack(), self.state.sandbox)
        return self.gateway


def create_app(config: HubSpotSandboxConfig | None = None, *, sandbox: HubSpotSandbox | None = None) -> Starlette:
    """A new HubSpot emulator. Pass ``sandbox`` to serve existing state (e.g. after a restart of the server)."""
    sb = sandbox or HubSpotSandbox(config)
    app = _SandboxApp(routes=build_routes(sb), exception_handlers=exception_handlers(sb))
    app.state.sandbox = sb
    return app
