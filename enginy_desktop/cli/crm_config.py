"""``crm-config init``, ``crm-config export FILE.json`` and ``crm-config import FILE.json`` (docs/crm-config.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import EXIT_OK, CliError, Runtime


def register(sub: Any) -> None:
    p = sub.add_parser("crm-config", help="start, export or import the CRM configuration (the wizard's four steps)")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = csub.add_parser(
        "init", help="write a starting configuration from the CRM's own fields (identifiers, obvious mappings)")
    init.add_argument("--crm", metavar="KEY", help="which CRM (default: the enabled one)")
    init.add_argument("--force", action="store_true", help="replace a configuration that is already saved")
    init.add_argument("--people", metavar="OBJECT",
                      help="where people go, for a CRM that offers a choice (Salesforce: Contacts or Leads; "
                      "the wizard's Step 2 choice; default Contacts)")
    init.add_argument("--file", type=Path, metavar="FILE.json",
                      help="also write it to this JSON file (to review or edit, then `crm-config import`)")
    init.set_defaults(handler=cmd_init)
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
        raise CliError("No CRM is enabled: enable one first (`enginy-desktop integrations enable KEY`, e.g. hubspot; "
                       "`enginy-desktop integrations list` names them), or name it with --crm KEY.")
    return str(active.key)


def _name(key: str) -> str:
    """The CRM as people call it ("HubSpot", not "hubspot")."""
    from enginy_desktop.core import catalog

    return catalog.get(key).name


def cmd_export(args: argparse.Namespace, rt: Runtime) -> int:
    ctx = rt.context()
    key = _crm(ctx, args.crm)
    if not ctx.crm_configs.has_saved(key):
        raise CliError(f"{_name(key)} has no saved configuration yet: run `enginy-desktop crm-config init` for a "
                       "starting one from its fields, or open Configure on its card and press Update.")
    try:
        path = ctx.crm_configs.export_file(key, args.file)
    except OSError as exc:
        raise CliError(f"Cannot write {args.file}: {exc.strerror or exc}.") from None
    rt.print(f"The {_name(key)} configuration was written to {path}.")
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
    rt.print(f"The {_name(key)} configuration was imported from {args.file}.")
    return EXIT_OK


def cmd_init(args: argparse.Namespace, rt: Runtime) -> int:
    import asyncio

    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core import catalog
    from enginy_desktop.core.crm_config import CrmConfigFileError
    from enginy_desktop.core.services.crm import require_connected
    from enginy_desktop.core.services.crm_starter import starter_config
    from enginy_desktop.core.services.integrations import IntegrationError

    ctx = rt.context()
    key = _crm(ctx, args.crm)
    name = catalog.get(key).name
    if ctx.crm_configs.has_saved(key) and not args.force:
        raise CliError(f"{name} is already configured; nothing changed. Use --force to replace its configuration "
                       f"(keep a copy first with `enginy-desktop crm-config export FILE.json --crm {key}`).")
    people = None
    if args.people:
        choices = {value.casefold(): value for value, *_rest in catalog.get(key).people_objects}
        if not choices:
            raise CliError(f"{name} keeps people in one place: --people applies to CRMs that offer a choice "
                           "(Salesforce). Nothing was saved.")
        people = choices.get(args.people.strip().casefold())
        if people is None:
            raise CliError(f"--people must be one of {', '.join(choices.values())} for {name}. Nothing was saved.")
    try:
        require_connected(ctx, key)
        starter = asyncio.run(starter_config(ctx, key, people=people))
    except (IntegrationError, AdapterError) as exc:
        raise CliError(f"{exc} Nothing was saved.") from None
    try:
        ctx.crm_configs.save(starter.config, **starter.validation)
    except CrmConfigFileError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise CliError(f"The starting configuration did not pass validation; nothing was saved:\n{lines}") from None
    if args.file is not None:
        try:
            path = ctx.crm_configs.export_file(key, args.file)
        except OSError as exc:
            raise CliError(f"The configuration was saved, but {args.file} could not be written: "
                           f"{exc.strerror or exc}.") from None
        rt.print(f"A copy is in {path}.")
    rt.print(f"Saved a starting {name} configuration from its fields:")
    for line in starter.summary:
        rt.print(f"  {line}")
    for problem in starter.warnings:
        rt.print(f"  Note: {problem}")
    rt.print(f"Review it in the window (Configure on the {name} card) or with `enginy-desktop crm-config export`; "
             "you can now sync and export.")
    return EXIT_OK
