"""Import reports as CSV: every rejected row and every warning, with its line number and reason.

Cells are made safe for spreadsheets: a cell that starts with ``=`` ``+`` ``-`` ``@``, a tab or a carriage
return gets a leading apostrophe, so Excel or LibreOffice shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from enginy_desktop.core.paths import FOLDER_MODE, open_private

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REPORT_COLUMNS = ("line", "status", "column", "value", "reason")


def new_report_path(folder: Path, what: str, name: str, fallback: str = "import") -> Path:
    """A path for a new report in ``folder`` that no other report has: ``{what}-{name as a slug}-{time}.csv``
    (``-2``, ``-3``… when two reports start in the same second)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:40] or fallback
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{what}-{slug}-{stamp}.csv"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{what}-{slug}-{stamp}-{n}.csv"
    return path


def safe_cell(value: object) -> str:
    """``value`` as text a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A rejected row (``status="rejected"``) or a value dropped from an imported row (``"warning"``).

    ``line`` is the line of the file where the row starts (the header is line 1 when it is the first line).
    """

    line: int
    status: str
    reason: str
    column: str = ""
    value: str = ""

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "status": self.status, "column": self.column, "value": self.value,
                "reason": self.reason}


class ReportWriter:
    """Streams issues to a CSV file as they are found (an import of a million bad rows never holds them all)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        # Private to the user (it names contacts): 0600 whatever the process's umask.
        self._file: IO[Any] = open_private(path, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(REPORT_COLUMNS)

    def write(self, issues: Iterable[RowIssue]) -> None:
        self._writer.writerows(
            (issue.line, issue.status, safe_cell(issue.column), safe_cell(issue.value), safe_cell(issue.reason))
            for issue in issues
        )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_report(issues: Iterable[RowIssue], path: Path) -> Path:
    with ReportWriter(path) as writer:
        writer.write(issues)
    return path
