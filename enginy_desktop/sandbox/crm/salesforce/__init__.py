"""Local emulator of Salesforce's REST API (v62.0), on the emulator kit.

``create_app(config)`` returns the ASGI app; its state is a :class:`SalesforceSandbox` (``app.state.sandbox``)::

    from enginy_desktop.sandbox.crm.salesforce import DEFAULT_TOKEN, SalesforceSandboxConfig, create_app

    app = create_app(SalesforceSandboxConfig(seed_contacts=100))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://x.my.salesforce.com",
                                 headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
        await client.get("/services/data/v62.0/query", params={"q": "SELECT Id FROM Contact"})

``enginy-desktop sandbox --crm salesforce`` serves it on loopback (options: ``daily-requests``,
``duplicate-rules``, ``account-contact-relations``).
What it emulates and what differs from the real service: ``docs/sandbox.md``.
"""

from __future__ import annotations

from ...kit import EmulatorApp, build_app
from ...kit.launch import EmulatorSpec, Started, StartOptions, count_option, secret_started, switch_option, take_options
from .api import build_routes
from .state import DEFAULT_CLIENT_ID, DEFAULT_TOKEN, SalesforceError, SalesforceSandbox, SalesforceSandboxConfig

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_TOKEN", "SPEC", "SalesforceError", "SalesforceSandbox",
           "SalesforceSandboxConfig", "create_app"]


def create_app(config: SalesforceSandboxConfig | None = None, *, sandbox: SalesforceSandbox | None = None
               ) -> EmulatorApp:
    sb = sandbox or SalesforceSandbox(config)
    return build_app(sb, build_routes(sb))


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    daily = count_option(opts, "daily-requests", "100000")
    dup = switch_option(opts, "duplicate-rules")
    acr = switch_option(opts, "account-contact-relations")
    config = SalesforceSandboxConfig(daily_requests=daily, duplicate_rules=dup, account_contact_relations=acr,
                                     seed_contacts=options.seed, **options.common())
    app = create_app(config)
    sb: SalesforceSandbox = app.state.sandbox
    counts = sb.counts()
    summary = [
        f"Contacts: {counts['contacts']}, accounts: {counts['accounts']}, users: {counts['users']}",
        f"Daily API requests: {daily or 'no limit'}; duplicate rules: {'on' if dup else 'off'}; contacts to multiple "
        f"accounts (AccountContactRelation): {'on' if acr else 'off'}",
        f"Connected app: consumer key {config.client_id} (any key is accepted; PKCE checked)",
    ]
    return secret_started(app, "salesforce", summary, label="Access token (session ID)", field="access_token",
                          secret=DEFAULT_TOKEN,
                          settings=lambda base_url: {"base_url": base_url, "login_url": base_url})


SPEC = EmulatorSpec(
    key="salesforce",
    title="Salesforce",
    kind="crm",
    summary="Salesforce REST API v62.0: describe, SOQL, sObject Collections, Contacts, Accounts, Users, Tasks, "
    "account-contact relations; "
    "the daily API request allocation, duplicate rules and OAuth with PKCE",
    start=_start,
    options={
        "daily-requests": "the org's daily API request allocation (default 100000, or 'off')",
        "duplicate-rules": "'on' makes the standard contact duplicate rule (same e-mail) block creates",
        "account-contact-relations": "'on' turns on Contacts to Multiple Accounts (AccountContactRelation: a contact "
        "related to accounts besides its primary one)",
    },
)
