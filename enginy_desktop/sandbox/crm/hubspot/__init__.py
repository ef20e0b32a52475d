"""Local emulator of HubSpot's CRM API (DESIGN §9).

``create_app(config)`` returns a Starlette app that answers the date-based API version ``2026-03`` and the
legacy ``v3``/``v4`` paths with HubSpot's shapes, status codes, error bodies, rate limits and rate-limit
headers. Its state is a :class:`HubSpotSandbox`, reachable as ``app.state.sandbox``::

    from enginy_desktop.sandbox.hubspot import HubSpotSandboxConfig, create_app

    app = create_app(HubSpotSandboxConfig(seed_contacts=1000))
    sandbox = app.state.sandbox          # records, associations, tokens, request log
    app.control_token                    # the token of the control API under /__sandbox__/
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://api.hubapi.com",
                                 headers={"Authorization": f"Bearer {sandbox.config.tokens[0]}"}) as client:
        await client.get("/crm/objects/2026-03/contacts")

See ``docs/sandbox.md`` for the endpoints, faults, limits and what differs from the real service.
"""

from __future__ import annotations

from ...kit.app import EmulatorApp, build_app
from ...kit.emulator import RequestLogEntry
from ...kit.faults import FaultConfig
from ...kit.launch import EmulatorSpec, OptionError, Started, StartOptions, secret_started, take_options
from ...kit.limits import RateLimit
from .api import build_routes
from .state import (
    DEFAULT_TOKEN,
    HubSpotError,
    HubSpotSandbox,
    HubSpotSandboxConfig,
    Record,
    TokenInfo,
)

__all__ = [
    "DEFAULT_TOKEN",
    "SPEC",
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


def create_app(config: HubSpotSandboxConfig | None = None, *, sandbox: HubSpotSandbox | None = None) -> EmulatorApp:
    """A new HubSpot emulator. Pass ``sandbox`` to serve existing state (e.g. after a restart of the server)."""
    sb = sandbox or HubSpotSandbox(config)
    return build_app(sb, build_routes(sb))


# --- the `sandbox` command ----------------------------------------------------------------------------------------


def _rate_option(options: dict[str, str], name: str, default: RateLimit | None) -> RateLimit | None:
    text = options.get(name)
    if text is None:
        return default
    if text.strip().lower() in ("off", "none", "0"):
        return None
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise OptionError(f"{name}: {exc}") from None


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    defaults = HubSpotSandboxConfig()
    daily_text = opts.get("daily-limit")
    daily_limit = defaults.daily_limit
    if daily_text is not None:
        daily = daily_text.strip().lower()
        if daily in ("off", "none"):
            daily_limit = None
        elif daily.isdigit() and int(daily) > 0:
            daily_limit = int(daily)
        else:
            raise OptionError(f"daily-limit must be a positive number or 'off', got '{daily_text}'")
    companies_text = opts.get("seed-companies")
    seed_companies: int | None = None
    if companies_text is not None:
        if not companies_text.strip().isdigit():
            raise OptionError(f"seed-companies must be a whole number, got '{companies_text}'")
        seed_companies = int(companies_text)
    batch_errors = opts.get("batch-errors", "partial")
    if batch_errors not in ("partial", "all"):
        raise OptionError(f"batch-errors must be 'partial' or 'all', got '{batch_errors}'")
    token = opts.get("token", DEFAULT_TOKEN).strip()
    if not token or any(ch.isspace() for ch in token):
        raise OptionError("token cannot be empty or contain spaces")
    config = HubSpotSandboxConfig(
        tokens=(token,),
        rate_limit=defaults.rate_limit if options.rate_limit == "default" else options.rate_limit,
        search_rate_limit=_rate_option(opts, "search-rate-limit", defaults.search_rate_limit),
        daily_limit=daily_limit,
        seed_contacts=options.seed,
        seed_companies=seed_companies,
        batch_errors=batch_errors,  # type: ignore[arg-type]
        **options.common(),
    )
    app = create_app(config)
    counts = app.state.sandbox.counts()
    summary = [f"Contacts: {counts['contacts']}, companies: {counts['companies']}, owners: {counts['owners']}",
               f"Rate limit: {config.rate_limit or 'off'}; search: {config.search_rate_limit or 'off'}; "
               f"daily: {config.daily_limit or 'off'}"]
    return secret_started(app, "hubspot", summary, label="Token", field="token", secret=token)


SPEC = EmulatorSpec(
    key="hubspot",
    title="HubSpot",
    kind="crm",
    summary="HubSpot CRM API (2026-03 and v3/v4): contacts, companies, engagements, properties, owners, "
    "associations, search, OAuth; 190 requests / 10 s",
    start=_start,
    options={
        "search-rate-limit": "the search endpoints' own limit (default 4/1s; 'off' for none)",
        "daily-limit": "requests per day per private-app token (default 625000; 'off' for none)",
        "seed-companies": "sample companies (default: a tenth of the contacts)",
        "batch-errors": "'partial' (207 with the valid inputs written, default) or 'all' (the batch fails whole)",
        "token": "the access token the sandbox accepts (a made-up value)",
    },
)
