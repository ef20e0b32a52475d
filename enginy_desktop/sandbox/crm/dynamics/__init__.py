"""Local emulator of Dynamics 365 / Dataverse (Web API v9.2), on the emulator kit.

``create_app(config)`` returns the ASGI app; its state is a :class:`DynamicsSandbox` (``app.state.sandbox``)::

    from enginy_desktop.sandbox.crm.dynamics import DEFAULT_TOKEN, DynamicsSandboxConfig, create_app

    app = create_app(DynamicsSandboxConfig(seed_contacts=100))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://org.crm.dynamics.com",
                                 headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
        await client.get("/api/data/v9.2/contacts", params={"$select": "fullname"})

``enginy-desktop sandbox --crm dynamics`` serves it on loopback (options: ``requests-per-5min``,
``alternate-key``). It serves a ``$metadata`` document written from Microsoft's table reference
(:mod:`.metadata`). What it emulates and what differs from the real service: ``docs/sandbox.md``.
"""

from __future__ import annotations

from ...kit import EmulatorApp, build_app
from ...kit.launch import EmulatorSpec, OptionError, Started, StartOptions, count_option, secret_started, take_options
from .api import build_routes
from .state import DEFAULT_CLIENT_ID, DEFAULT_TOKEN, DynamicsError, DynamicsSandbox, DynamicsSandboxConfig

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_TOKEN", "SPEC", "DynamicsError", "DynamicsSandbox",
           "DynamicsSandboxConfig", "create_app"]


def create_app(config: DynamicsSandboxConfig | None = None, *, sandbox: DynamicsSandbox | None = None
               ) -> EmulatorApp:
    sb = sandbox or DynamicsSandbox(config)
    return build_app(sb, build_routes(sb))


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    per_window = count_option(opts, "requests-per-5min", "6000")
    key = opts.get("alternate-key", "off").strip().lower()
    if key not in ("off", "email"):
        raise OptionError("alternate-key must be 'email' or 'off'")
    config = DynamicsSandboxConfig(requests_per_window=per_window,
                                   alternate_keys={"contact": ("emailaddress1",)} if key == "email" else {},
                                   seed_contacts=options.seed, **options.common())
    app = create_app(config)
    sb: DynamicsSandbox = app.state.sandbox
    counts = sb.counts()
    summary = [
        f"Contacts: {counts['contacts']}, accounts: {counts['accounts']}, system users: {counts['users']}",
        f"Service protection: {per_window or 'no limit'} requests per user per 5 minutes (429 with Retry-After)",
        f"Alternate key on contacts: {'emailaddress1' if key == 'email' else 'none'}",
    ]
    return secret_started(app, "dynamics", summary, label="Access token", field="access_token", secret=DEFAULT_TOKEN,
                          settings=lambda base_url: {"org_url": base_url, "base_url": f"{base_url}/api/data/v9.2"})


SPEC = EmulatorSpec(
    key="dynamics",
    title="Dynamics 365",
    kind="crm",
    summary="Dataverse Web API v9.2: $metadata, table and choice definitions, contacts, accounts, system users, "
    "e-mails, phone calls and notes; $filter with Microsoft.Dynamics.CRM.In, @odata.nextLink paging, upsert by "
    "alternate key and the service protection limits (429 with Retry-After)",
    start=_start,
    options={
        "requests-per-5min": "service protection: requests per user in any 5-minute window (default 6000, or 'off')",
        "alternate-key": "'email' defines an alternate key on contacts' emailaddress1 (default 'off')",
    },
)
