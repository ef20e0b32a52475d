"""Local emulator of Zoho CRM's API v8 (DESIGN §9), on the emulator kit.

``create_app(config)`` returns the ASGI app; its state is a :class:`ZohoSandbox` (``app.state.sandbox``).
``enginy-desktop sandbox --crm zoho`` serves it on loopback (options: ``edition``, ``users``, ``credits``,
``concurrency``). What it emulates and what differs from the real service: ``docs/sandbox.md``.
"""

from __future__ import annotations

from ...kit import EmulatorApp, build_app
from ...kit.launch import EmulatorSpec, OptionError, Started, StartOptions, count_option, secret_started, take_options
from .api import build_routes
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN,
    EDITIONS,
    ZohoError,
    ZohoSandbox,
    ZohoSandboxConfig,
)

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_TOKEN", "SPEC", "ZohoError", "ZohoSandbox",
           "ZohoSandboxConfig", "create_app"]


def create_app(config: ZohoSandboxConfig | None = None, *, sandbox: ZohoSandbox | None = None) -> EmulatorApp:
    sb = sandbox or ZohoSandbox(config)
    return build_app(sb, build_routes(sb))


def _start(options: StartOptions) -> Started:
    opts = dict(take_options(SPEC, options.options))
    edition = opts.get("edition", "Enterprise")
    if edition not in EDITIONS:
        raise OptionError(f"edition must be one of {', '.join(EDITIONS)}, not '{edition}'")
    users = opts.get("users", "5")
    if not users.isdigit() or int(users) < 1:
        raise OptionError("users must be a positive whole number")
    config = ZohoSandboxConfig(
        edition=edition, user_licences=int(users), daily_credits=count_option(opts, "credits", "edition", "edition"),
        concurrency=count_option(opts, "concurrency", "edition", "edition"), seed_contacts=options.seed,
        **options.common())
    app = create_app(config)
    sb: ZohoSandbox = app.state.sandbox
    limits = sb.limits_json()
    summary = [
        f"Contacts: {len(sb.records['Contacts'])}, accounts: {len(sb.records['Accounts'])}, "
        f"active users: {len(sb.active_user_ids())}",
        f"{edition} edition, {users} user licences: {limits['daily_credits'] or 'unlimited'} API credits per 24 h, "
        f"{limits['concurrency'] or 'unlimited'} concurrent requests",
        f"OAuth client: client id {config.client_id}, client secret {config.client_secret} "
        "(accounts endpoints /oauth/v2/auth and /oauth/v2/token on the same address)",
    ]
    return secret_started(app, "zoho", summary, label="Access token", field="access_token", secret=DEFAULT_TOKEN,
                          settings=lambda url: {"base_url": url, "edition": edition, "user_licences": users})


SPEC = EmulatorSpec(
    key="zoho",
    title="Zoho CRM",
    kind="crm",
    summary="Zoho CRM API v8: Contacts, Accounts, fields, users, COQL, upsert, notes/calls/tasks; API credits per "
    "24 h and concurrency by edition",
    start=_start,
    options={
        "edition": f"the Zoho CRM edition whose limits apply ({', '.join(EDITIONS)}; default Enterprise)",
        "users": "user licences (the credits grow with them; default 5)",
        "credits": "API credits per 24 h: a number, 'edition' or 'off'",
        "concurrency": "concurrent requests allowed: a number, 'edition' or 'off'",
    },
)
