"""``crm-config export FILE.json`` and ``crm-config import FILE.json`` (docs/crm-config.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import EXIT_OK, CliError, Runtime


def register(sub: Any) -> None:
    p = sub.add_parser("crm-config", help="export or import the CRM configuration (the wizard's four steps)")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ex = csub.add_parser("export", help="write the saved configuration to a JSON file")
    ex.add_argument("file", type=Path)
    ex.add_argument("--crm", metavar="KEY", help="which CRM (default: the enabled one)")
    ex.set_defaults(handler=cmd_export)
    im = csub.add_parser("import", help="replace the saved configuration with a JSON file (validated first)")
    im.add_argument("file", type=Path)
    im.add_argument("--crm", metavar="KEY", help="which CRM (default: the enabled one)")
    im.set_defaults(handler=cmd_import)


def _crm(ctx: Any, key: str | None) -> str:
    from enginy_desktop.core import catalog

    if key:
        try:
            spec = catalog.get(key)
        except catalog.UnknownIntegrationError as exc:
            raise CliError(str(exc)) from None
        if not spec.is_crm:
            raise CliError(f"{spec.name} is not a CRM.")
        return spec.key
    active = ctx.integrations.active_crm()
    if active is None:
        raise CliError("No CRM is enabled: enable one first, or name it with --crm KEY.")
    return str(active.key)


def cmd_export(args: argparse.Namespace, rt: Runtime) -> int:
    ctx = rt.context()
    key = _crm(ctx, args.crm)
    if not ctx.crm_configs.has_saved(key):
        raise CliError(f"{key} has no saved configuration yet: open Configure on its card and press Update.")
    try:
        path = ctx.crm_configs.export_file(key, args.file)
    except OSError as exc:
        raise CliError(f"Cannot write {args.file}: {exc.strerror or exc}.") from None
    rt.print(f"The {key} configuration was written to {path}.")
    return EXIT_OK


def cmd_import(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.crm_config import CrmConfigFileError

    ctx = rt.context()
    key = _crm(ctx, args.crm)
    try:
        ctx.crm_configs.import_file(key, args.file)
    except CrmConfigFileError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        count = len(exc.problems)
        raise CliError(
            f"{args.file} was not imported ({count} problem{'s' if count != 1 else ''}); nothing changed:\n{lines}"
        ) from None
    rt.print(f"The {key} configuration was imported from {args.file}.")
    return EXIT_OK
