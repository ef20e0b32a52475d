"""Local emulator of TribeCRM's OData v4 API (``/v1/odata``), on the emulator kit.

``create_app(config)`` returns the ASGI app; its state is a :class:`TribeSandbox` (``app.state.sandbox``)::

    from enginy_desktop.sandbox.crm.tribecrm import DEFAULT_TOKEN, TribeSandboxConfig, create_app

    app = create_app(TribeSandboxConfig(seed_contacts=100))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://api.tribecrm.nl",
                                 headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
        await client.get("/v1/odata/Relation_Person", params={"$select": "FirstName,LastName"})

``enginy-desktop sandbox --crm tribecrm`` serves it on loopback (option ``calls-per-minute``). It serves a
``$metadata`` document written from TribeCRM's entity reference (:mod:`.metadata`). What it emulates and what
differs from the real service: ``docs/sandbox.md``.
"""

from __future__ import annotations

from ...kit import EmulatorApp, build_app
from ...kit.launch import EmulatorSpec, Started, StartOptions, count_option, secret_started, take_options
from .api import build_routes
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_TOKEN,
    INTEGRATION_CLIENT_ID,
    INTEGRATION_CLIENT_SECRET,
    TribeError,
    TribeSandbox,
    TribeSandboxConfig,
)

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_TOKEN", "INTEGRATION_CLIENT_ID", "INTEGRATION_CLIENT_SECRET", "SPEC",
           "TribeError", "TribeSandbox", "TribeSandboxConfig", "create_app"]


def create_app(config: TribeSandboxConfig | None = None, *, sandbox: TribeSandbox | None = None) -> EmulatorApp:
    sb = sandbox or TribeSandbox(config)
    return build_app(sb, build_routes(sb))


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    per_minute = count_option(opts, "calls-per-minute", "1000")
    config = TribeSandboxConfig(calls_per_minute=per_minute, seed_contacts=options.seed, **options.common())
    app = create_app(config)
    sb: TribeSandbox = app.state.sandbox
    counts = sb.counts()
    summary = [
        f"Persons: {counts['persons'] - counts['employees']}, organisations: {counts['organizations']}, "
        f"employees: {counts['employees']}",
        f"Rate limit: {per_minute or 'no limit'} calls per minute (429, no headers); at most 100 records per read",
        f"Client credentials: client ID {INTEGRATION_CLIENT_ID}, secret {INTEGRATION_CLIENT_SECRET} "
        "(connect tribecrm --client-credentials --set client_id=…, the secret on standard input)",
    ]
    return secret_started(app, "tribecrm", summary, label="Access token", field="access_token", secret=DEFAULT_TOKEN,
                          settings=lambda base_url: {"base_url": base_url, "auth_url": base_url})


SPEC = EmulatorSpec(
    key="tribecrm",
    title="TribeCRM",
    kind="crm",
    summary="OData v4 at /v1/odata: $metadata, persons, organisations, contact relationships, employees, tasks and "
    "notes; $filter without 'in', 100 records per read, 1,000 calls per minute (429) and OAuth 2.0 "
    "(/oauth2/auth, /oauth2/token: authorization code, refresh, client credentials)",
    start=_start,
    options={"calls-per-minute": "calls per minute per application (default 1000, or 'off')"},
)
