"""A column mapping: for each CSV column, the Enginy field it fills, a custom field to keep it in, or ignore.

Saved and loaded as JSON (the format is documented in ``docs/import.md``)::

    {
      "format": "enginy-csv-mapping",
      "version": 1,
      "object": "contacts",
      "columns": {
        "First Name": "first_name",
        "Lead score": "custom:Lead score",
        "Internal id": "ignore"
      }
    }

Headers are matched ignoring case and surrounding spaces. Columns of the file that the mapping does not name
are mapped as the preview suggests (a known header to its field, any other header to a custom field).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from enginy_desktop.core.fields import RecordKind, fields_for

from .headers import suggest_field

MAPPING_FORMAT = "enginy-csv-mapping"
MAPPING_VERSION = 1
CUSTOM_PREFIX = "custom:"
IGNORE = "ignore"


class MappingError(ValueError):
    """A mapping that cannot be used; ``str()`` is one line for the user."""


class Action(StrEnum):
    FIELD = "field"
    CUSTOM = "custom"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class ColumnRule:
    header: str
    action: Action
    target: str = ""  # the field name (FIELD) or the custom field's name (CUSTOM)

    @property
    def spec(self) -> str:
        """The rule as written in a mapping file."""
        if self.action is Action.FIELD:
            return self.target
        if self.action is Action.CUSTOM:
            return CUSTOM_PREFIX + self.target
        return IGNORE


def _norm(header: str) -> str:
    return header.strip().casefold()


def parse_spec(kind: RecordKind, header: str, spec: object) -> ColumnRule:
    """A rule from its written form: a field name, ``custom`` / ``custom:NAME``, or ``ignore`` (or null)."""
    if spec is None:
        return ColumnRule(header, Action.IGNORE)
    if not isinstance(spec, str):
        raise MappingError(f"The mapping for column '{header}' must be a field name, 'custom:NAME' or 'ignore'.")
    value = spec.strip()
    if value.casefold() == IGNORE:
        return ColumnRule(header, Action.IGNORE)
    if value.casefold() == "custom":
        return ColumnRule(header, Action.CUSTOM, header.strip() or header)
    if value.casefold().startswith(CUSTOM_PREFIX):
        name = value[len(CUSTOM_PREFIX) :].strip()
        return ColumnRule(header, Action.CUSTOM, name or header.strip())
    names = {f.name for f in fields_for(kind)}
    if value not in names:
        raise MappingError(
            f"Unknown {kind.value} field '{value}' for column '{header}'. "
            f"Use one of: {', '.join(sorted(names))}; or 'custom:NAME'; or 'ignore'."
        )
    return ColumnRule(header, Action.FIELD, value)


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """One rule per column of a file, in the file's column order."""

    kind: RecordKind
    rules: tuple[ColumnRule, ...]

    # -- building ------------------------------------------------------------------------------------------
    @classmethod
    def suggest(cls, kind: RecordKind | str, headers: Sequence[str]) -> ColumnMapping:
        """Known headers to their field (the first column wins a field), every other column to a custom field."""
        kind = RecordKind(kind)
        taken: set[str] = set()
        rules = []
        for header in headers:
            field = suggest_field(kind, header)
            if field is not None and field not in taken:
                taken.add(field)
                rules.append(ColumnRule(header, Action.FIELD, field))
            else:
                rules.append(ColumnRule(header, Action.CUSTOM, header.strip() or header))
        return cls(kind, tuple(rules))

    @classmethod
    def from_specs(
        cls, kind: RecordKind | str, headers: Sequence[str], specs: Mapping[str, object] | None = None
    ) -> ColumnMapping:
        """The suggestion for ``headers``, overridden by ``specs`` (header -> written rule)."""
        kind = RecordKind(kind)
        base = cls.suggest(kind, headers)
        if not specs:
            return base
        by_header = {_norm(h): parse_spec(kind, h, spec) for h, spec in specs.items()}
        rules = []
        for rule in base.rules:
            given = by_header.get(_norm(rule.header))
            rules.append(ColumnRule(rule.header, given.action, given.target) if given else rule)
        mapping = cls(kind, tuple(rules))
        # A field taken explicitly by one column is no longer auto-assigned to another.
        explicit = {r.target for r in mapping.rules if r.action is Action.FIELD and _norm(r.header) in by_header}
        fixed = []
        for rule in mapping.rules:
            if rule.action is Action.FIELD and _norm(rule.header) not in by_header and rule.target in explicit:
                fixed.append(ColumnRule(rule.header, Action.CUSTOM, rule.header.strip() or rule.header))
            else:
                fixed.append(rule)
        return cls(kind, tuple(fixed))

    def with_rule(self, index: int, action: Action | str, target: str = "") -> ColumnMapping:
        """This mapping with column ``index`` changed (what the import dialog does when the user picks)."""
        rule = self.rules[index]
        action = Action(action)
        spec = IGNORE if action is Action.IGNORE else (CUSTOM_PREFIX + target if action is Action.CUSTOM else target)
        new = parse_spec(self.kind, rule.header, spec)
        return ColumnMapping(self.kind, (*self.rules[:index], new, *self.rules[index + 1 :]))

    # -- reading -------------------------------------------------------------------------------------------
    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(r.header for r in self.rules)

    def field_columns(self) -> dict[str, list[int]]:
        """Field -> the column indexes that fill it, in order (the first non-empty value wins)."""
        out: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            if rule.action is Action.FIELD:
                out.setdefault(rule.target, []).append(i)
        return out

    def custom_columns(self) -> list[tuple[str, int]]:
        return [(r.target, i) for i, r in enumerate(self.rules) if r.action is Action.CUSTOM]

    def problems(self) -> list[str]:
        """What would make an import of this mapping pointless (shown before starting)."""
        fields = self.field_columns()
        if self.kind is RecordKind.CONTACT:
            needed = {"first_name", "last_name", "full_name", "email", "linkedin_url"}
            if not needed & fields.keys():
                return [
                    "No column is mapped to a name, an email or a LinkedIn URL, so every row would be rejected."
                ]
        else:
            needed = {"name", "domain", "website", "linkedin_url"}
            if not needed & fields.keys():
                return [
                    "No column is mapped to a company name, domain, website or LinkedIn URL, so every row would "
                    "be rejected."
                ]
        return []

    # -- files ---------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": MAPPING_FORMAT,
            "version": MAPPING_VERSION,
            "object": self.kind.list_kind,
            "columns": {r.header: r.spec for r in self.rules},
        }

    def save(self, path: Path) -> None:
        """Write the mapping as JSON, atomically (a temporary file renamed over the target)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)


def load_mapping_specs(path: Path, kind: RecordKind | str) -> dict[str, object]:
    """The ``columns`` of a mapping file, validated (unknown fields, wrong object, newer version)."""
    kind = RecordKind(kind)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise MappingError(f"The mapping file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"The mapping file {path} cannot be read: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise MappingError(f"The mapping file {path} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
    return mapping_specs_from_json(data, kind, str(path))


def mapping_specs_from_json(data: object, kind: RecordKind | str, source: str = "the mapping") -> dict[str, object]:
    kind = RecordKind(kind)
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise MappingError(f"{source} must be a JSON object with a \"columns\" object (see docs/import.md).")
    version = data.get("version", MAPPING_VERSION)
    if not isinstance(version, int) or version > MAPPING_VERSION:
        raise MappingError(f"{source} has version {version!r}; this Enginy Desktop reads version {MAPPING_VERSION}.")
    obj = data.get("object")
    if obj is not None and obj not in (kind.list_kind, kind.value):
        raise MappingError(f"{source} is a mapping for {obj}, not {kind.list_kind}.")
    columns: dict[str, object] = data["columns"]
    for header, spec in columns.items():
        parse_spec(kind, str(header), spec)  # raises MappingError naming the column and the unknown field
    return {str(h): s for h, s in columns.items()}


def iter_rules_json(rules: Iterable[ColumnRule]) -> list[dict[str, str]]:
    return [{"header": r.header, "action": r.action.value, "target": r.target} for r in rules]
