"""``sandbox --integration KEY`` (``--crm KEY``): serve a local emulator of a vendor's API on 127.0.0.1 until
Ctrl+C; ``sandbox --list`` names every emulator (DESIGN §9)."""

from __future__ import annotations

import argparse
import errno
import os
from typing import Any

from . import EXIT_OK, EXIT_USAGE, CliError, Runtime

DEFAULT_PORT = 8765
CONTROL_TOKEN_ENV = "ENGINY_SANDBOX_CONTROL_TOKEN"

# Options kept from when the command served HubSpot only; each is the HubSpot option of the same name.
_VENDOR_FLAGS = ("search_rate_limit", "daily_limit", "seed_companies", "batch_errors", "token")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sandbox",
        help="run a local emulator of an integration's API (for trying Enginy Desktop without a real account)",
        description="Serve a stateful local emulator of an integration's API on 127.0.0.1, with the vendor's "
        "limits, error bodies and optional faults. It prints the base URL, the credentials to use, the commands "
        "that connect Enginy Desktop to it and the control API's token, and runs until Ctrl+C. "
        "See docs/sandbox.md.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--list", action="store_true", help="name every emulator and exit")
    which.add_argument("--integration", metavar="KEY", help="which integration to emulate (see --list)")
    which.add_argument("--crm", metavar="KEY", help="the same as --integration, for CRMs")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; "
                   "0 picks a free one)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="start with N sample records (contacts)")
    p.add_argument("--random-seed", type=int, default=7, metavar="N",
                   help="seed of the sample data and of the faults (same seed, same run)")
    p.add_argument("--rate-limit", default=None, metavar="N/INTERVAL",
                   help="requests allowed per credential in a rolling window, e.g. 190/10s; 'off' for none "
                   "(default: the vendor's usual limit)")
    p.add_argument("--fault", action="append", default=[], metavar="NAME=VALUE",
                   help="inject a fault (repeatable): latency=50ms, jitter=20ms, error-rate=0.05, "
                   "error-status=503, timeout-rate=0.01, hang=60s, drop-rate=0.01, token-ttl=100 or token-ttl=30s, "
                   "credits=exhausted, path=/crm/objects, seed=42")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of this emulator (repeatable; --list shows each emulator's)")
    # HubSpot's options, also accepted as --option NAME=VALUE.
    p.add_argument("--search-rate-limit", default=None, metavar="N/INTERVAL", help="HubSpot: the search "
                   "endpoints' own limit (default 4/1s); 'off' for none")
    p.add_argument("--daily-limit", default=None, metavar="N", help="HubSpot: requests per day per private-app "
                   "token (default 625000); 'off' for none")
    p.add_argument("--seed-companies", default=None, metavar="N",
                   help="HubSpot: N sample companies (default: a tenth of the contacts)")
    p.add_argument("--batch-errors", choices=("partial", "all"), default=None,
                   help="HubSpot: a batch with invalid inputs answers 207 with the valid ones written (partial, "
                   "default) or fails whole (all)")
    p.add_argument("--token", default=None, metavar="TOKEN",
                   help="HubSpot: the access token the sandbox accepts (a made-up value; default: a fixed one)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"),
                   help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_sandbox)


def _list(rt: Runtime) -> int:
    from enginy_desktop.sandbox.registry import all_specs

    for spec in all_specs():
        rt.print(f"{spec.key:<14} {spec.kind:<11} {spec.summary}")
        for name, text in spec.options.items():
            rt.print(f"{'':<27}--option {name}=…  {text}")
    rt.print("Start one with: enginy-desktop sandbox --integration KEY [--port 8765] [--seed N]")
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace, rt: Runtime) -> int:
    if args.list:
        return _list(rt)
    from enginy_desktop.sandbox.kit.faults import FaultConfig
    from enginy_desktop.sandbox.kit.launch import OptionError, StartOptions
    from enginy_desktop.sandbox.kit.limits import RateLimit
    from enginy_desktop.sandbox.kit.server import LOOPBACK, run_forever
    from enginy_desktop.sandbox.registry import EMULATORS, emulator_spec

    key = (args.integration or args.crm).strip().lower()
    if key not in EMULATORS:
        raise CliError(f"There is no sandbox for '{key}'. Available: {', '.join(sorted(EMULATORS))} "
                       "(enginy-desktop sandbox --list).", EXIT_USAGE)
    spec = emulator_spec(key)
    if args.crm and spec.kind != "crm":
        raise CliError(f"'{key}' is not a CRM; start it with --integration {key}.", EXIT_USAGE)
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, got {args.port}.", EXIT_USAGE)
    if args.seed < 0:
        raise CliError("--seed cannot be negative.", EXIT_USAGE)
    try:
        faults = FaultConfig.from_cli(args.fault)
    except ValueError as exc:
        raise CliError(f"--fault: {exc}", EXIT_USAGE) from None
    rate: Any = "default"
    if args.rate_limit is not None:
        if args.rate_limit.strip().lower() in ("off", "none", "0"):
            rate = None
        else:
            try:
                rate = RateLimit.parse(args.rate_limit)
            except ValueError as exc:
                raise CliError(f"--rate-limit: {exc}", EXIT_USAGE) from None
    options: dict[str, str] = {}
    for flag in _VENDOR_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            options[flag.replace("_", "-")] = str(value)
    for item in args.option:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--option expects NAME=VALUE, got '{item}'.", EXIT_USAGE)
        options[name.strip().lower().replace("_", "-")] = value.strip()
    control_token = os.environ.get(CONTROL_TOKEN_ENV, "").strip() or None
    try:
        started = spec.start(StartOptions(seed=args.seed, random_seed=args.random_seed, faults=faults,
                                          rate_limit=rate, options=options, control_token=control_token))
    except OptionError as exc:
        raise CliError(f"{spec.title} sandbox: {exc}.", EXIT_USAGE) from None

    def ready(base_url: str) -> None:
        rt.print(f"{spec.title} sandbox listening on {base_url}")
        for label, value in started.credentials.items():
            rt.print(f"{label}: {value}")
        for line in started.summary:
            rt.print(line)
        if args.fault:
            rt.print(f"Faults: {', '.join(args.fault)}")
        rt.print("Connect Enginy Desktop to it with:")
        for line in started.connect(base_url):
            rt.print(f"  {line}")
        rt.print(f"Control API: {base_url}/__sandbox__/state with 'Authorization: Bearer <control token>'")
        rt.print(f"Control token: {started.app.control_token}")
        rt.print("Press Ctrl+C to stop.")
        rt.stdout.flush()

    try:
        run_forever(started.app, args.port, LOOPBACK, on_ready=ready, log_level=args.log_level)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise CliError(f"Port {args.port} on {LOOPBACK} is not available ({exc.strerror}); choose another "
                           "with --port.") from None
        raise
    rt.print("Sandbox stopped.")
    return EXIT_OK
