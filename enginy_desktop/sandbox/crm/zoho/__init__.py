"""Local emulator of Zoho CRM's API v8 (DESIGN §9), on the emulator kit.

``create_app(config)`` returns the ASGI app; its state is a :class:`ZohoSandbox` (``app.state.sandbox``).
``enginy-desktop sandbox --crm zoho`` serves it on loopback (options: ``edition``, ``users``, ``credits``,
``concurrency``). What it emulates and what differs from the real service: ``docs/sandbox.md``.
"""

from __future__ import annotations

from ...kit import EmulatorApp, build_app
from ...kit.launch import EmulatorSpec, OptionError, Started, StartOptions, connect_commands, take_options
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


def _number(opts: dict[str, str], name: str, default: str) -> int | str | None:
    raw = opts.get(name, default).strip().lower()
    if raw in ("off", "none"):
        return None
    if raw == "edition":
        return "edition"
    if not raw.isdigit() or int(raw) < 1:
        raise OptionError(f"{name} must be a positive number, 'edition' or 'off'")
    return int(raw)


def _start(options: StartOptions) -> Started:
    opts = dict(take_options(SPEC, options.options))
    edition = opts.get("edition", "Enterprise")
    if edition not in EDITIONS:
        raise OptionError(f"edition must be one of {', '.join(EDITIONS)}, not '{edition}'")
    users = opts.get("users", "5")
    if not users.isdigit() or int(users) < 1:
        raise OptionError("users must be a positive whole number")
    config = ZohoSandboxConfig(
        edition=edition, user_licences=int(users), daily_credits=_number(opts, "credits", "edition"),
        concurrency=_number(opts, "concurrency", "edition"), seed_contacts=options.seed,
        random_seed=options.random_seed, faults=options.faults, control_token=options.control_token)
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

    def settings(base_url: str) -> dict[str, str]:
        return {"base_url": base_url, "edition": edition, "user_licences": users}

    return Started(app, {"Access token": DEFAULT_TOKEN}, summary,
                   lambda url: connect_commands("zoho", settings(url), "access_token", DEFAULT_TOKEN),
                   settings=lambda url: {**settings(url), "access_token": DEFAULT_TOKEN})


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
