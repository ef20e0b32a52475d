"""``check KEY``, ``crm-fields --object contacts|companies`` and ``crm-users``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import EXIT_ERROR, EXIT_OK, CliError, Runtime

T = TypeVar("T")


def register(sub: Any) -> None:
    c = sub.add_parser(
        "check",
        help="test an integration's saved connection",
        description="Test the saved connection of an integration (credentials, permissions, network) and say "
        "which account it reaches. Exit code 0 when it works.",
    )
    c.add_argument("key", help="integration key, e.g. hubspot (`enginy-desktop integrations list` names them)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(handler=cmd_check)

    f = sub.add_parser("crm-fields", help="list the fields of the enabled CRM")
    f.add_argument("--object", required=True, choices=["contacts", "companies"], help="which object's fields")
    f.add_argument("--json", action="store_true", help="print a JSON array")
    f.set_defaults(handler=cmd_fields)

    u = sub.add_parser("crm-users", help="list the users (owners) of the enabled CRM")
    u.add_argument("--json", action="store_true", help="print a JSON array")
    u.set_defaults(handler=cmd_users)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    from enginy_desktop.adapters.base import AdapterError

    try:
        return asyncio.run(coro)
    except AdapterError as exc:
        raise CliError(str(exc)) from None


def cmd_check(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core import catalog
    from enginy_desktop.core.services.connection_test import run_connection_test, supports

    try:
        spec = catalog.get(args.key)
    except catalog.UnknownIntegrationError as exc:
        raise CliError(str(exc)) from None
    ctx = rt.context()
    if not supports(spec.key):
        raise CliError(f"{spec.name} cannot be tested from Enginy Desktop yet.")
    if not ctx.integrations.get(spec.key).connected:
        raise CliError(f"{spec.name} is not connected. Run `enginy-desktop connect {spec.key}` first.")
    result = _run(run_connection_test(ctx, spec.key))
    if args.json:
        rt.print_json({"key": spec.key, "ok": result.ok, "message": result.message, "account": result.account,
                       "user": result.user})
        return EXIT_OK if result.ok else EXIT_ERROR
    if not result.ok:
        raise CliError(f"{spec.name}: {result.message}", detail=result.detail)
    rt.print(f"{spec.name}: OK. {result.message}")
    return EXIT_OK


def cmd_fields(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.services import crm

    fields = _run(crm.crm_fields(rt.context(), args.object))
    if args.json:
        rt.print_json([
            {
                "name": f.name,
                "label": f.label,
                "type": f.type.value,
                "object": f.object.value,
                "read_only": f.read_only,
                "unique": f.unique,
                "group": f.group,
                "options": [{"value": o.value, "label": o.label} for o in f.options],
            }
            for f in fields
        ])
        return EXIT_OK
    width = max((len(f.name) for f in fields), default=4)
    for f in fields:
        flags = ", ".join(x for x, on in (("read-only", f.read_only), ("unique", f.unique)) if on)
        options = f" ({len(f.options)} options)" if f.options else ""
        extra = f"  [{flags}]" if flags else ""
        rt.print(f"{f.name:<{width}}  {f.type.value:<14} {f.label}{options}{extra}")
    rt.print(f"{len(fields)} {args.object} fields")
    return EXIT_OK


def cmd_users(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.services import crm

    users = _run(crm.crm_users(rt.context()))
    if args.json:
        rt.print_json([
            {"id": u.id, "name": u.name, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
             "active": u.active, "kind": u.kind}
            for u in users
        ])
        return EXIT_OK
    width = max((len(u.id) for u in users), default=2)
    for u in users:
        rt.print(f"{u.id:<{width}}  {u.name:<28} {u.email}")
    rt.print(f"{len(users)} users")
    return EXIT_OK
