"""What a sync says: its result per object and in all, its refusals, and the names of the objects it syncs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enginy_desktop.adapters.base import CrmObject

if TYPE_CHECKING:
    from .budget import SyncBudget

OBJECT_LABELS = {"contact": ("contact", "contacts"), "company": ("company", "companies")}
CRM_OBJECTS = {"contact": CrmObject.CONTACTS, "company": CrmObject.COMPANIES}


class SyncError(Exception):
    """A readable refusal (no such list, an identifier that cannot be used…)."""


class SyncRefused(SyncError):
    """The sync was refused before anything was read or stored (``budget``: not enough of the CRM's daily budget
    left today; :class:`SyncBudget` has the numbers)."""

    def __init__(self, message: str, budget: SyncBudget | None = None) -> None:
        super().__init__(message)
        self.budget = budget


# -- results -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectSync:
    """What the sync did for one object (contacts, or companies)."""

    object: str  # "contact" | "company"
    total: int
    counts: Mapping[str, int]  # matched, new, ambiguous, unmatchable, chosen, create_new
    strategy: str  # how the CRM side was read, in words
    api_calls: int
    crm_records: int  # CRM records read
    stored: int  # links stored
    rule: str  # the identifier, in words

    @property
    def matched(self) -> int:
        return self.counts.get("matched", 0) + self.counts.get("chosen", 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "total": self.total,
            "counts": dict(self.counts),
            "strategy": self.strategy,
            "api_calls": self.api_calls,
            "crm_records_read": self.crm_records,
            "links_stored": self.stored,
            "identifier": self.rule,
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    run_id: int
    crm: str
    list_id: int
    list_name: str
    objects: Mapping[str, ObjectSync]
    api_calls: int
    seconds: float
    cancelled: bool = False
    message: str = ""

    @property
    def primary(self) -> ObjectSync | None:
        """The list's own records (contacts of a contact list, companies of a company list)."""
        return next(iter(self.objects.values()), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "crm": self.crm,
            "list": self.list_name,
            "cancelled": self.cancelled,
            "api_calls": self.api_calls,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "objects": {k: v.as_json() for k, v in self.objects.items()},
        }
