"""A list's records with their links to the CRM, as the result view's table shows them: outcome labels, the
filters, why a record matched, and :class:`LinksModel` (a page at a time as the table scrolls)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from enginy_desktop.core import catalog, sync

from ..table_model import PagedTableModel

OUTCOME_LABELS = {
    "matched": "Matched",
    "new": "New",
    "ambiguous": "Ambiguous",
    "unmatchable": "Unmatchable",
    "chosen": "Chosen by you",
    "create_new": "Create new",
    "": "Not synced yet",
}
FILTERS: list[tuple[str, list[str] | None]] = [
    ("All records", None),
    ("Ambiguous — your choice needed", ["ambiguous"]),
    ("Matched", ["matched", "chosen"]),
    ("New", ["new", "create_new"]),
    ("Unmatchable", ["unmatchable"]),
]


def crm_display(key: str) -> str:
    """The CRM's name as the user knows it ("HubSpot"), or its key when the catalog does not know it."""
    try:
        return catalog.get(key).name
    except Exception:
        return key


def why_text(row: sync.LinkRow, crm_name: str) -> str:
    if row.why:
        return row.why
    if row.outcome == "new":
        return f"No {crm_name} record has the same identifier"
    if row.outcome == "unmatchable":
        return "An identifier field is empty, so it cannot be compared"
    if row.outcome == "ambiguous":
        return f"{len(row.candidates)} {crm_name} records match: choose one"
    return ""


class LinksModel(PagedTableModel[sync.LinkRow]):
    """A list's records with their links, fetched a page at a time as the table scrolls."""

    COLUMNS = ("Record", "Outcome", "CRM ID", "Why it matched")

    def __init__(self, fetch: Callable[[int, int], list[sync.LinkRow]], total: int, crm_name: str,
                 parent: Any = None) -> None:
        super().__init__(fetch, total, parent)
        self.crm_name = crm_name

    def text(self, row: sync.LinkRow, column: int) -> Any:
        if column == 0:
            return row.name
        if column == 1:
            label = OUTCOME_LABELS.get(row.outcome, row.outcome)
            return f"{label} · {len(row.candidates)}" if row.outcome == "ambiguous" else label
        if column == 2:
            if row.crm_id:
                return row.crm_id
            return ", ".join(row.candidates) if row.candidates else "—"
        return why_text(row, self.crm_name)

    def tooltip(self, row: sync.LinkRow, column: int) -> str | None:
        if column == 0 and row.detail:
            return f"{row.name}\n{row.detail}"
        return str(self.text(row, column))

    def key(self, row: sync.LinkRow) -> Any:
        return row.local_id

    def row_of(self, local_id: int) -> int:
        return next((i for i, r in enumerate(self.rows) if r.local_id == local_id), -1)
