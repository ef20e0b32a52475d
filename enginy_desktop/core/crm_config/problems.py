"""What validation reports: each :class:`Problem` with where it is (step, tab, row), a sentence the user can act
on, a stable code and a :class:`Severity`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from .model import Step


class Severity(StrEnum):
    ERROR = "error"  # the wizard cannot save; an export is refused
    WARNING = "warning"  # said before saving or exporting; the user may go on


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a step, the tab in it (Contacts, Companies, Identities, Users…) and a 1-based row."""

    step: Step
    tab: str = ""
    row: int | None = None

    def __str__(self) -> str:
        parts = [self.step.title]
        if self.tab:
            parts.append(self.tab)
        if self.row is not None:
            parts.append(f"row {self.row}")
        return " › ".join(parts)


@dataclass(frozen=True, slots=True)
class Problem:
    location: Location
    message: str
    code: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that block saving (and exporting)."""
    return [p for p in problems if p.severity is Severity.ERROR]
