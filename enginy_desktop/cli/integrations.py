"""``integrations list|enable|disable``, ``connect`` and ``disconnect``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from . import EXIT_OK, CliError, Runtime


def register(sub: Any) -> None:
    p = sub.add_parser("integrations", help="list, enable or disable integrations")
    isub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = isub.add_parser("list", help="every integration with its state")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.set_defaults(handler=cmd_list)
    en = isub.add_parser("enable", help="turn an integration on (only one CRM at a time)")
    en.add_argument("key", help="integration key, e.g. hubspot (`enginy-desktop integrations list` names them)")
    en.set_defaults(handler=cmd_enable)
    dis = isub.add_parser("disable", help="turn an integration off (its configuration is kept)")
    dis.add_argument("key", help="integration key, e.g. hubspot (`enginy-desktop integrations list` names them)")
    dis.set_defaults(handler=cmd_disable)

    c = sub.add_parser(
        "connect",
        help="save an integration's connection settings and credentials",
        description="Save connection settings. Secret fields are read from standard input (--secret-stdin) or "
        "an environment variable (--secret-env), never from arguments. With --oauth, sign in with the "
        "integration in the browser (your own app's client ID, e.g. --set client_id=…): the browser comes back "
        "to this computer and the sign-in is kept in the keyring. With --client-credentials, connect with an "
        "application's own client ID (--set client_id=…) and secret (read from standard input), without a "
        "browser; the connection is checked at once.",
    )
    c.add_argument("key", help="integration key, e.g. hubspot (`enginy-desktop integrations list` names them)")
    c.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
                   help="a non-secret setting, e.g. base_url=http://127.0.0.1:8765")
    c.add_argument("--secret-stdin", action="append", default=[], metavar="FIELD",
                   help="read this secret field from standard input (one line per field, in order)")
    c.add_argument("--secret-env", action="append", default=[], metavar="FIELD=VARIABLE",
                   help="read this secret field from an environment variable")
    c.add_argument("--oauth", action="store_true",
                   help="sign in in the browser (OAuth with PKCE) after saving the settings given")
    c.add_argument("--client-credentials", action="store_true",
                   help="connect with an application's client ID and secret (OAuth client credentials, e.g. "
                   "TribeCRM's Client Credentials tab): the client ID with --set client_id=…, the secret read from "
                   "standard input (after any --secret-stdin fields)")
    c.add_argument("--no-browser", action="store_true",
                   help="with --oauth: print the sign-in address instead of opening a browser (open it on this "
                   "computer: the browser must come back to it)")
    c.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="with --oauth: how long to wait for the sign-in in the browser (default 300)")
    c.add_argument("--redirect-port", type=int, metavar="PORT",
                   help="with --oauth: the port of the redirect address registered in your app, when it is not "
                   "the one Enginy Desktop uses by default")
    c.set_defaults(handler=cmd_connect)

    d = sub.add_parser("disconnect", help="remove an integration's stored credentials")
    d.add_argument("key", help="integration key, e.g. hubspot (`enginy-desktop integrations list` names them)")
    d.set_defaults(handler=cmd_disconnect)


def _key(key: str) -> str:
    from enginy_desktop.core import catalog

    try:
        return catalog.get(key).key
    except catalog.UnknownIntegrationError as exc:
        raise CliError(str(exc)) from None


def cmd_list(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core import catalog

    infos = rt.context().integrations.list()
    if args.json:
        rt.print_json([i.as_json() for i in infos])
        return EXIT_OK
    current = None
    for info in infos:
        if info.category != current:
            if current is not None:
                rt.print("")  # a blank line between categories, none before the first
            rt.print(info.category.heading)
            current = info.category
        state = "enabled " if info.enabled else "disabled"
        conn = "connected" if info.connected else "not connected"
        later = "  (not available yet)" if not catalog.get(info.key).ready else ""
        rt.print(f"  {info.key:<12} {info.name:<12} {state}  {conn}{later}")
    return EXIT_OK


def cmd_enable(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core import catalog
    from enginy_desktop.core.services.integrations import CrmConflictError

    key = _key(args.key)
    try:
        info = rt.context().integrations.enable(key)
    except CrmConflictError as exc:  # the command that does it, as the Troubleshooting table says
        raise CliError(f"{exc} Its configuration is kept: `enginy-desktop integrations disable {exc.active.key}`, "
                       f"then enable {exc.wanted.name} again.") from None
    ctx = rt.context()
    note = "" if info.connected else f" It is not connected yet: run `enginy-desktop connect {key}`."
    spec = catalog.get(key)
    if info.connected and spec.is_crm and not ctx.crm_configs.has_saved(key):  # the step that comes next
        note = ("\nNext: enginy-desktop crm-config init (a starting configuration from "
                f"{catalog.possessive(spec.name)} fields; review it in the window), then sync or export a list.")
    not_ready = spec.not_ready_text  # a card without a connector behind it says so here too
    rt.print(f"{info.name} is enabled. {not_ready}" if not_ready else f"{info.name} is enabled.{note}")
    return EXIT_OK


def cmd_disable(args: argparse.Namespace, rt: Runtime) -> int:
    key = _key(args.key)
    info = rt.context().integrations.disable(key)
    rt.print(f"{info.name} is disabled. Its configuration is kept.")
    return EXIT_OK


def _parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"{what} expects FIELD=VALUE, got '{pair.split('=')[0]}'.", 2)
        out[name.strip()] = value
    return out


def cmd_connect(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core import catalog

    key = _key(args.key)
    spec = catalog.get(key)
    valid = {f.name: f for f in spec.fields}
    values: dict[str, str] = {}
    sets = _parse_pairs(args.sets, "--set")
    pair = spec.client_credentials
    if args.client_credentials:
        if pair is None:
            raise CliError(f"{spec.name} has no client-credentials sign-in.", 2)
        if args.oauth:
            raise CliError("--client-credentials and --oauth are two different sign-ins: pick one.", 2)
        if "client_id" in sets and pair[0].name != "client_id":
            sets[pair[0].name] = sets.pop("client_id")  # --set client_id=… names the application's client ID
    for name, value in sets.items():
        f = valid.get(name)
        if f is None:
            raise CliError(f"{spec.name} has no field '{name}'. Fields: {', '.join(valid)}.", 2)
        if f.secret:
            raise CliError(
                f"'{name}' is a secret; pass it with --secret-stdin {name} or --secret-env {name}=VARIABLE, "
                "never on the command line.",
                2,
            )
        values[name] = value
    for name in args.secret_stdin:
        f = valid.get(name)
        if f is None or not f.secret:
            secrets = ", ".join(x.name for x in spec.secret_fields) or "none"
            raise CliError(f"'{name}' is not a secret field of {spec.name}. Secret fields: {secrets}.", 2)
        line = rt.stdin.readline()
        if not line.strip():
            raise CliError(f"No value for '{name}' on standard input.", 2)
        values[name] = line.strip()
    for name, var in _parse_pairs(args.secret_env, "--secret-env").items():
        f = valid.get(name)
        if f is None or not f.secret:
            raise CliError(f"'{name}' is not a secret field of {spec.name}.", 2)
        if not os.environ.get(var):
            raise CliError(f"The environment variable {var} is empty or not set.", 2)
        values[name] = os.environ[var]
    if args.client_credentials and pair is not None and pair[1].name not in values:
        line = rt.stdin.readline()
        if not line.strip():
            raise CliError(f"No {pair[1].label.lower()} on standard input: pipe it in, e.g. `… | enginy-desktop "
                           f"connect {key} --client-credentials --set client_id=…`.", 2)
        values[pair[1].name] = line.strip()
    ctx = rt.context()
    if ctx.secrets is None and any(valid[n].secret for n in values):
        raise CliError(_no_secret_store(ctx, "Set ENGINY_SECRETS_PASSPHRASE to keep credentials in an encrypted "
                                             "file protected by that passphrase, or open Enginy Desktop to set it up."))
    if args.oauth:
        return _sign_in(args, rt, key, values)
    if args.no_browser or args.redirect_port is not None:
        raise CliError("--no-browser and --redirect-port go with --oauth (sign in in the browser).", 2)
    info = _save(ctx, spec, values)
    where = ctx.secrets.description if ctx.secrets else "the store"
    rt.print(f"{info.name} connection saved (credentials in the {where}).")
    if args.client_credentials:
        _check_client_credentials(rt, key)
    if not info.enabled:
        rt.print(f"Next: turn it on with `enginy-desktop integrations enable {key}`.")
    return EXIT_OK


def _sign_in(args: argparse.Namespace, rt: Runtime, key: str, values: dict[str, str]) -> int:
    """``connect KEY --oauth``: the browser sign-in of the window (loopback redirect, PKCE, state checked),
    through the same core service. Prints the address to open, never a token."""
    import asyncio
    import webbrowser

    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core import catalog
    from enginy_desktop.core.services import crm as crm_service

    spec = catalog.get(key)
    if spec.not_ready_text:
        raise CliError(spec.not_ready_text)
    if not crm_service.supports_browser_sign_in(key):
        secrets = " ".join(f"--secret-stdin {f.name}" for f in spec.secret_fields)
        how = (f"{spec.name} signs in with its app's credentials, without a browser" if spec.auth
               is catalog.AuthKind.OAUTH else f"{spec.name} connects with its credentials, not a browser sign-in")
        raise CliError(f"{how}: run `enginy-desktop connect {key} {secrets}`.".replace("  ", " "), 2)
    if args.timeout <= 0:
        raise CliError("--timeout must be a positive number of seconds.", 2)
    ctx = rt.context()
    if ctx.secrets is None:
        raise CliError(_no_secret_store(ctx, "The sign-in needs a safe place: set ENGINY_SECRETS_PASSPHRASE to keep "
                                             "it in an encrypted file protected by that passphrase, or open Enginy "
                                             "Desktop to set it up."))
    if values:
        _save(ctx, spec, values)
    if not ctx.integrations.settings(key).get("client_id"):
        raise CliError(f"Signing in to {spec.name} needs the client ID of your own {spec.name} app: add "
                       f"--set client_id=YOUR_CLIENT_ID (and --secret-stdin client_secret when the app has a "
                       "secret). docs/crm-adapters.md says which redirect address to register.", 2)

    def show(url: str) -> None:
        if args.no_browser:
            rt.print(f"Open this address in a browser on this computer to sign in to {spec.name}:")
        else:
            rt.print(f"Opening your browser to sign in to {spec.name}. If it does not open, open this address "
                     "on this computer:")
        rt.print(f"  {url}")
        rt.print(f"Waiting for the sign-in (up to {args.timeout:g} seconds; Ctrl+C to stop)…")
        rt.stdout.flush()

    def open_browser(url: str) -> bool:
        return False if args.no_browser else bool(webbrowser.open(url))

    try:
        asyncio.run(crm_service.sign_in_with_browser(ctx, key, open_browser=open_browser, on_url=show,
                                                     timeout=args.timeout, redirect_port=args.redirect_port))
    except AdapterError as exc:
        raise CliError(str(exc)) from None
    info = ctx.integrations.get(key)
    rt.print(f"Signed in to {spec.name}; the sign-in is kept in the {ctx.secrets.description}.")
    rt.print(f"Test it with `enginy-desktop check {key}`.")
    if not info.enabled:
        rt.print(f"Next: turn it on with `enginy-desktop integrations enable {key}`.")
    return EXIT_OK


def _check_client_credentials(rt: Runtime, key: str) -> None:
    """After ``connect KEY --client-credentials``: ask for a token and read who it is, as Test connection does."""
    import asyncio

    from enginy_desktop.core import catalog
    from enginy_desktop.core.services import connection_test

    result = asyncio.run(connection_test.run_connection_test(rt.context(), key))
    if not result.ok:
        raise CliError(f"{result.message} The client ID and secret are saved; run this command again with the right "
                       f"ones, or `enginy-desktop disconnect {key}` to remove them.", detail=result.detail)
    rt.print(f"Signed in to {catalog.get(key).name} with the client credentials: {result.message}")


def cmd_disconnect(args: argparse.Namespace, rt: Runtime) -> int:
    key = _key(args.key)
    had = rt.context().integrations.get(key).connected
    info = rt.context().integrations.disconnect(key)
    rt.print(f"{info.name} is disconnected; its stored credentials were removed." if had
             else f"{info.name} was not connected; any credentials stored for it are removed.")
    return EXIT_OK


def _no_secret_store(ctx: Any, how: str) -> str:
    """Why a credential cannot be kept, and ``how`` to set a store up: only when there is none yet (a locked
    credentials file's problem already says which passphrase it needs)."""
    from enginy_desktop.core.secrets import secrets_file

    if secrets_file(ctx.data_dir).exists():
        return str(ctx.secrets_problem)
    return f"{ctx.secrets_problem} {how}"


def _save(ctx: Any, spec: Any, values: dict[str, str]) -> Any:
    """Save the connection; a refusal says how to give the fields it names on the command line (the window's
    labels alone do not say which option takes them)."""
    from enginy_desktop.core.services.integrations import ConnectionInvalidError

    try:
        return ctx.integrations.save_connection(spec.key, values)
    except ConnectionInvalidError as exc:
        text = str(exc)
        how = [f"{f.label}: --secret-stdin {f.name}" if f.secret else f"{f.label}: --set {f.name}=VALUE"
               for f in spec.fields if f.label in text]
        raise CliError(text + (f" On the command line, {'; '.join(how)}." if how else "")) from None
