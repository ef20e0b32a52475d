"""``sandbox --crm hubspot``: serve a local emulator of a CRM's API on 127.0.0.1 until Ctrl+C (DESIGN §9)."""

from __future__ import annotations

import argparse
import errno
from typing import Any

from . import EXIT_OK, EXIT_USAGE, CliError, Runtime

DEFAULT_PORT = 8765


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sandbox",
        help="run a local emulator of a CRM's API (for trying Enginy Desktop without a real account)",
        description="Serve a stateful local emulator of a CRM's API on 127.0.0.1, with the vendor's limits, "
        "error bodies and optional faults. It prints the base URL, the token to use and the `connect` line, "
        "and runs until Ctrl+C. See docs/sandbox.md.",
    )
    p.add_argument("--crm", required=True, metavar="KEY", help="which CRM to emulate (available: hubspot)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; "
                   "0 picks a free one)")
    p.add_argument("--rate-limit", default="190/10s", metavar="N/INTERVAL",
                   help="requests allowed per token in a rolling window, e.g. 190/10s or 100/10s; 'off' for none")
    p.add_argument("--search-rate-limit", default="4/1s", metavar="N/INTERVAL",
                   help="the search endpoints' own limit (default 4/1s); 'off' for none")
    p.add_argument("--daily-limit", default="625000", metavar="N", help="requests per day per private-app "
                   "token (default 625000); 'off' for none")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="start with N sample contacts")
    p.add_argument("--seed-companies", type=int, default=None, metavar="N",
                   help="and N sample companies (default: a tenth of the contacts)")
    p.add_argument("--random-seed", type=int, default=7, metavar="N",
                   help="seed of the sample data and of the faults (same seed, same run)")
    p.add_argument("--fault", action="append", default=[], metavar="NAME=VALUE",
                   help="inject a fault (repeatable): latency=50ms, jitter=20ms, error-rate=0.05, "
                   "error-status=503, timeout-rate=0.01, hang=60s, drop-rate=0.01, token-ttl=100 or token-ttl=30s, "
                   "path=/crm/objects")
    p.add_argument("--batch-errors", choices=("partial", "all"), default="partial",
                   help="a batch with invalid inputs answers 207 with the valid ones written (partial, default) "
                   "or fails whole (all)")
    p.add_argument("--token", default=None, metavar="TOKEN",
                   help="the access token the sandbox accepts (a made-up value; default: a fixed sandbox token)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"),
                   help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_sandbox)


def _limit(text: str, option: str) -> Any:
    from enginy_desktop.sandbox.ratelimit import RateLimit

    if text.strip().lower() in ("off", "none", "0"):
        return None
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise CliError(f"{option}: {exc}", EXIT_USAGE) from None


def cmd_sandbox(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.sandbox import EMULATORS

    crm = args.crm.strip().lower()
    if crm not in EMULATORS:
        raise CliError(f"There is no sandbox for '{args.crm}'. Available: {', '.join(EMULATORS)}.", EXIT_USAGE)
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, got {args.port}.", EXIT_USAGE)
    if args.seed < 0 or (args.seed_companies is not None and args.seed_companies < 0):
        raise CliError("--seed and --seed-companies cannot be negative.", EXIT_USAGE)

    from enginy_desktop.sandbox.faults import FaultConfig
    from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
    from enginy_desktop.sandbox.server import LOOPBACK, run_forever

    try:
        faults = FaultConfig.from_cli(args.fault)
    except ValueError as exc:
        raise CliError(f"--fault: {exc}", EXIT_USAGE) from None
    daily = args.daily_limit.strip().lower()
    if daily in ("off", "none"):
        daily_limit = None
    elif daily.isdigit() and int(daily) > 0:
        daily_limit = int(daily)
    else:
        raise CliError(f"--daily-limit must be a positive number or 'off', got '{args.daily_limit}'.", EXIT_USAGE)
    token = (args.token or DEFAULT_TOKEN).strip()
    if not token or any(ch.isspace() for ch in token):
        raise CliError("--token cannot be empty or contain spaces.", EXIT_USAGE)
    config = HubSpotSandboxConfig(
        tokens=(token,),
        rate_limit=_limit(args.rate_limit, "--rate-limit"),
        search_rate_limit=_limit(args.search_rate_limit, "--search-rate-limit"),
        daily_limit=daily_limit,
        seed_contacts=args.seed,
        seed_companies=args.seed_companies,
        random_seed=args.random_seed,
        faults=faults,
        batch_errors=args.batch_errors,
    )
    app = create_app(config)
    counts = app.state.sandbox.counts()

    def ready(base_url: str) -> None:
        rt.print(f"HubSpot sandbox listening on {base_url}")
        rt.print(f"Token: {token}")
        rt.print(f"Contacts: {counts['contacts']}, companies: {counts['companies']}, owners: {counts['owners']}")
        rt.print(f"Rate limit: {config.rate_limit or 'off'}; search: {config.search_rate_limit or 'off'}"
                 + (f"; faults: {', '.join(args.fault)}" if args.fault else ""))
        rt.print("Connect Enginy Desktop to it with:")
        rt.print(f"  echo {token} | enginy-desktop connect hubspot --set base_url={base_url} --secret-stdin token")
        rt.print(f"Sandbox state and controls: {base_url}/__sandbox__/state")
        rt.print("Press Ctrl+C to stop.")
        rt.stdout.flush()

    try:
        run_forever(app, args.port, LOOPBACK, on_ready=ready, log_level=args.log_level)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise CliError(f"Port {args.port} on {LOOPBACK} is not available ({exc.strerror}); choose another "
                           "with --port.") from None
        raise
    rt.print("Sandbox stopped.")
    return EXIT_OK
