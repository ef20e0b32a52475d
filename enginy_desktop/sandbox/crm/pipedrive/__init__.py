"""Local emulator of Pipedrive's API (DESIGN §9), on the emulator kit.

``create_app(config)`` returns the ASGI app; its state is a :class:`PipedriveSandbox` (``app.state.sandbox``)::

    from enginy_desktop.sandbox.crm.pipedrive import PipedriveSandboxConfig, create_app

    app = create_app(PipedriveSandboxConfig(seed_persons=100, plan="Essential"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://api.pipedrive.com",
                                 headers={"x-api-token": DEFAULT_TOKEN}) as client:
        await client.get("/api/v2/persons")

``enginy-desktop sandbox --crm pipedrive`` serves it on loopback (options: ``plan``, ``seats``,
``daily-tokens``). What it emulates and what differs from the real service: ``docs/sandbox.md``.
"""

from __future__ import annotations

from ...kit import EmulatorApp, build_app
from ...kit.launch import EmulatorSpec, OptionError, Started, StartOptions, count_option, secret_started, take_options
from .api import build_routes
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN,
    PLANS,
    PipedriveError,
    PipedriveSandbox,
    PipedriveSandboxConfig,
    custom_key,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TOKEN",
    "SPEC",
    "PipedriveError",
    "PipedriveSandbox",
    "PipedriveSandboxConfig",
    "create_app",
    "custom_key",
]


def create_app(config: PipedriveSandboxConfig | None = None, *, sandbox: PipedriveSandbox | None = None
               ) -> EmulatorApp:
    """A new Pipedrive emulator. Pass ``sandbox`` to serve existing state (e.g. after a restart of the server)."""
    sb = sandbox or PipedriveSandbox(config)
    return build_app(sb, build_routes(sb))


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    plan = opts.get("plan", "Professional")
    if plan not in PLANS:
        raise OptionError(f"plan must be one of {', '.join(PLANS)}, not '{plan}'")
    try:
        seats = int(opts.get("seats", "3"))
    except ValueError:
        raise OptionError("seats must be a whole number") from None
    if seats < 1:
        raise OptionError("seats must be at least 1")
    daily = count_option(opts, "daily-tokens", "plan", "plan")
    rate = "plan" if options.rate_limit == "default" else options.rate_limit
    config = PipedriveSandboxConfig(
        plan=plan, seats=seats, daily_tokens=daily, rate_limit=rate, seed_persons=options.seed,
        **options.common())
    app = create_app(config)
    sb: PipedriveSandbox = app.state.sandbox
    counts = sb.counts()
    limits = sb.limits_json()
    summary = [
        f"Persons: {counts['persons']}, organizations: {counts['organizations']}, users: {counts['users']}",
        f"Plan {plan}, {seats} seats: {limits['burst_api_token'] or 'no limit'} per API token "
        f"({limits['burst_oauth'] or 'no limit'} with OAuth), search {limits['search']}; daily budget "
        f"{limits['daily_tokens'] or 'off'} tokens",
        f"OAuth app: client id {config.client_id}, client secret {config.client_secret}",
    ]
    return secret_started(app, "pipedrive", summary, label="API token", field="api_token", secret=DEFAULT_TOKEN,
                          settings=lambda base_url: {"base_url": base_url, "plan": plan, "seats": str(seats)})


SPEC = EmulatorSpec(
    key="pipedrive",
    title="Pipedrive",
    kind="crm",
    summary="Pipedrive API v2/v1: persons, organizations, fields, search, activities, notes; burst limits and "
    "the daily token budget",
    start=_start,
    options={
        "plan": f"the Pipedrive plan whose limits apply ({', '.join(PLANS)}; default Professional)",
        "seats": "seats of the company (the daily token budget grows with them; default 3)",
        "daily-tokens": "the daily token budget: a number, 'plan' (30,000 x plan multiplier x seats) or 'off'",
    },
)
