"""Files a command writes at its end (a report, the failed records), checked before it writes to a CRM or spends
credits: a mistyped folder must not leave the work done and its report lost."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import CliError

_OPTIONS = (("--report", "report"), ("--failed-csv", "failed_csv"))


def check_output_files(args: argparse.Namespace) -> None:
    """Refuse (exit 2, nothing done) a --report or --failed-csv whose folder is missing or not writable."""
    for option, attribute in _OPTIONS:
        value = getattr(args, attribute, None)
        if not value:
            continue
        path = Path(value).expanduser()
        folder = path.parent
        if path.is_dir():
            raise CliError(f"{option} {value} is a folder: give a file name. Nothing was done.", 2)
        if not folder.is_dir():
            raise CliError(f"{option} {value}: the folder {folder} does not exist. Nothing was done.", 2)
        if not os.access(folder, os.W_OK):
            raise CliError(f"{option} {value}: the folder {folder} cannot be written to. Nothing was done.", 2)
