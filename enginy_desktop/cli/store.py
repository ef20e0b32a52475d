"""``enginy-desktop restore-backup``: put a backup of the database in place of a damaged one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import EXIT_OK, CliError, Runtime


def register(sub: Any) -> None:
    p = sub.add_parser(
        "restore-backup",
        help="replace a damaged database with its latest backup (the damaged file is kept)",
        description="Replace enginy.db with its latest backup (enginy.db.backup-… in the data folder), after "
        "checking the backup. The file it replaces is renamed enginy.db.damaged-<date>, never deleted.",
    )
    p.add_argument("--backup", metavar="FILE", help="restore this backup instead of the latest one")
    p.add_argument("--list", action="store_true", help="list the backups, newest first, and change nothing")
    p.set_defaults(handler=cmd_restore_backup)


def cmd_restore_backup(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.store import backups, restore_latest_backup

    data_dir = rt.data_dir  # never opens the store: it may be the damaged file
    found = backups(data_dir)
    if args.list:
        if not found:
            rt.print(f"No backups in {data_dir}.")
        for path in found:
            rt.print(f"{path.name}  {path.stat().st_size:,} bytes")
        return EXIT_OK
    chosen = Path(args.backup).expanduser().resolve() if args.backup else None
    if chosen is not None and not chosen.is_file():
        raise CliError(f"The backup {chosen} does not exist.")
    if chosen is None and not found:
        raise CliError(f"There is no backup of the database in {data_dir}.")
    used, kept = restore_latest_backup(data_dir, chosen)
    kept_note = f" The file it replaced is kept as {kept.name}." if kept else ""
    rt.print(f"Restored {data_dir / 'enginy.db'} from {used.name}.{kept_note}")
    return EXIT_OK
