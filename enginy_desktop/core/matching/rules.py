"""Identifiers as rule trees (DESIGN §5): an OR of AND-groups of conditions.

A :class:`Condition` compares one local field with one CRM field after normalizing both by its :class:`Kind`.
An :class:`AndGroup` matches when every condition matches; a :class:`Rule` matches when any group does. The
presets of Step 1 are rule trees too; they name *roles* (first name, LinkedIn URL…) that resolve to the local
workspace's field names and to the CRM's field names, which differ per CRM (HubSpot ``firstname``,
Salesforce ``FirstName``…) and are given by the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .normalize import Kind

__all__ = [
    "ROLE_LABELS",
    "AndGroup",
    "CompanyPreset",
    "Condition",
    "ContactPreset",
    "Role",
    "Rule",
    "RuleFormatError",
    "company_rule",
    "contact_rule",
    "field_label",
]


class Role(StrEnum):
    """Standard identifier fields the presets use; each CRM adapter says which of its fields plays which."""

    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    COMPANY_NAME = "company_name"
    LINKEDIN_URL = "linkedin_url"
    EMAIL = "email"
    DOMAIN = "domain"
    NAME = "name"  # a company's name


ROLE_LABELS: dict[str, str] = {
    Role.FIRST_NAME: "First name",
    Role.LAST_NAME: "Last name",
    Role.COMPANY_NAME: "Company name",
    Role.LINKEDIN_URL: "LinkedIn URL",
    Role.EMAIL: "Email",
    Role.DOMAIN: "Domain",
    Role.NAME: "Company name",
}

# Local (workspace) field names of the roles: the columns of ``contacts`` and ``companies``.
LOCAL_CONTACT_FIELDS: dict[Role, str] = {
    Role.FIRST_NAME: "first_name",
    Role.LAST_NAME: "last_name",
    Role.COMPANY_NAME: "company_name",
    Role.LINKEDIN_URL: "linkedin_url",
    Role.EMAIL: "email",
}
LOCAL_COMPANY_FIELDS: dict[Role, str] = {
    Role.DOMAIN: "domain",
    Role.NAME: "name",
    Role.LINKEDIN_URL: "linkedin_url",
}

_ROLE_KINDS: dict[Role, Kind] = {
    Role.FIRST_NAME: Kind.PERSON_NAME,
    Role.LAST_NAME: Kind.PERSON_NAME,
    Role.COMPANY_NAME: Kind.COMPANY_NAME,
    Role.LINKEDIN_URL: Kind.LINKEDIN_URL,
    Role.EMAIL: Kind.EMAIL,
    Role.DOMAIN: Kind.DOMAIN,
    Role.NAME: Kind.COMPANY_NAME,
}


_WORD_CASES = {"linkedin": "LinkedIn", "url": "URL", "id": "ID", "crm": "CRM", "vat": "VAT"}


def field_label(name: str) -> str:
    """A readable label for a field name: ``"first_name"`` -> ``"First name"``, ``"linkedin_url"`` ->
    ``"LinkedIn URL"``."""
    words = name.replace("_", " ").replace("-", " ").split()
    if not words:
        return name
    words = [_WORD_CASES.get(w.lower(), w.lower()) for w in words]
    words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words)


class RuleFormatError(ValueError):
    """A rule read from a file or the wizard is malformed; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Condition:
    """Local field = CRM field, both normalized by ``kind``."""

    local_field: str
    crm_field: str
    kind: Kind = Kind.TEXT
    label: str = ""  # how "why it matched" names it; defaults to the local field's label

    @property
    def display(self) -> str:
        return self.label or field_label(self.local_field)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "local_field": self.local_field,
            "crm_field": self.crm_field,
            "kind": str(self.kind),
        }
        if self.label:
            data["label"] = self.label
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "condition") -> Condition:
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise RuleFormatError([f"{where} must be an object with local_field, crm_field and kind."])
        values: dict[str, str] = {}
        for key in ("local_field", "crm_field"):
            value = data.get(key, "")
            if not isinstance(value, str):
                problems.append(f"{where}: {key} must be text.")
                value = ""
            values[key] = value.strip()
        kind_text = data.get("kind", Kind.TEXT.value)
        try:
            kind = Kind(kind_text)
        except ValueError:
            choices = ", ".join(k.value for k in Kind)
            problems.append(f"{where}: kind {kind_text!r} is not one of {choices}.")
            kind = Kind.TEXT
        label = data.get("label", "")
        if not isinstance(label, str):
            problems.append(f"{where}: label must be text.")
            label = ""
        if problems:
            raise RuleFormatError(problems)
        return cls(values["local_field"], values["crm_field"], kind, label)


@dataclass(frozen=True, slots=True)
class AndGroup:
    """Matches when every condition matches; a record with an empty value in any condition cannot use it."""

    conditions: tuple[Condition, ...] = ()

    @property
    def display(self) -> str:
        return " + ".join(c.display for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {"all_of": [c.to_dict() for c in self.conditions]}


@dataclass(frozen=True, slots=True)
class Rule:
    """An identifier: OR of AND-groups. ``include_any_extension`` makes domain conditions ignore the suffix."""

    groups: tuple[AndGroup, ...] = ()
    include_any_extension: bool = False

    @classmethod
    def of(
        cls, *groups: tuple[Condition, ...] | list[Condition] | Condition, include_any_extension: bool = False
    ) -> Rule:
        """``Rule.of((c1,), (c2, c3, c4))``: each argument is one AND-group (a bare condition is a group of one)."""
        built = tuple(AndGroup((g,) if isinstance(g, Condition) else tuple(g)) for g in groups)
        return cls(built, include_any_extension)

    @property
    def display(self) -> str:
        return " OR ".join(g.display for g in self.groups)

    @property
    def local_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.local_field for g in self.groups for c in g.conditions))

    @property
    def crm_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.crm_field for g in self.groups for c in g.conditions))

    def problems(self) -> list[str]:
        """Why this rule cannot be used (empty when it can), in words for the user."""
        problems = []
        if not self.groups:
            problems.append("Add at least one group of conditions.")
        for gi, group in enumerate(self.groups, 1):
            if not group.conditions:
                problems.append(f"Group {gi} has no condition: add one or remove the group.")
            for ci, cond in enumerate(group.conditions, 1):
                if not cond.local_field:
                    problems.append(f"Group {gi}, condition {ci}: choose the Enginy field.")
                if not cond.crm_field:
                    problems.append(f"Group {gi}, condition {ci}: choose the CRM field.")
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "any_of": [g.to_dict() for g in self.groups],
            "include_any_extension": self.include_any_extension,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "rule") -> Rule:
        """Read a rule written by :meth:`to_dict`; raises :class:`RuleFormatError` listing every problem."""
        if not isinstance(data, Mapping):
            raise RuleFormatError([f"{where} must be an object with an any_of list of groups."])
        problems: list[str] = []
        raw_groups = data.get("any_of", [])
        if not isinstance(raw_groups, list):
            raise RuleFormatError([f"{where}: any_of must be a list of groups."])
        groups = []
        for gi, raw_group in enumerate(raw_groups, 1):
            if not isinstance(raw_group, Mapping) or not isinstance(raw_group.get("all_of", []), list):
                problems.append(f"{where}, group {gi}: must be an object with an all_of list of conditions.")
                continue
            conditions = []
            for ci, raw in enumerate(raw_group.get("all_of", []), 1):
                try:
                    conditions.append(Condition.from_dict(raw, f"{where}, group {gi}, condition {ci}"))
                except RuleFormatError as exc:
                    problems.extend(exc.problems)
            groups.append(AndGroup(tuple(conditions)))
        any_ext = data.get("include_any_extension", False)
        if not isinstance(any_ext, bool):
            problems.append(f"{where}: include_any_extension must be true or false.")
            any_ext = False
        if problems:
            raise RuleFormatError(problems)
        return cls(tuple(groups), any_ext)


class ContactPreset(StrEnum):
    FIRST_LAST_COMPANY = "first_last_company"
    LINKEDIN_OR_FIRST_LAST_COMPANY = "linkedin_or_first_last_company"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        return {
            ContactPreset.FIRST_LAST_COMPANY: "First name + Last name + Company name",
            ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY: "LinkedIn profile URL OR First name + Last name + "
            "Company name",
            ContactPreset.CUSTOM: "Custom Mapping",
        }[self]


class CompanyPreset(StrEnum):
    DOMAIN = "domain"
    DOMAIN_OR_NAME = "domain_or_name"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        return {
            CompanyPreset.DOMAIN: "Domain",
            CompanyPreset.DOMAIN_OR_NAME: "Domain or Company Name",
            CompanyPreset.CUSTOM: "Custom Mapping",
        }[self]


def _cond(role: Role, local: Mapping[Role, str], crm: Mapping[str, str] | None) -> Condition:
    crm_field = (crm or {}).get(role, role.value)
    return Condition(local[role], crm_field, _ROLE_KINDS[role], ROLE_LABELS[role])


def role_condition(
    role: Role | str, crm_fields: Mapping[str, str] | None = None, *, company: bool = False
) -> Condition:
    """The condition comparing the local field of ``role`` with the CRM field playing it (``crm_fields``)."""
    role = Role(role)
    return _cond(role, LOCAL_COMPANY_FIELDS if company else LOCAL_CONTACT_FIELDS, crm_fields)


def contact_rule(
    preset: ContactPreset | str,
    crm_fields: Mapping[str, str] | None = None,
    *,
    custom: Rule | None = None,
    local_fields: Mapping[Role, str] | None = None,
) -> Rule:
    """The rule of a contact preset. ``crm_fields`` maps a :class:`Role` to the CRM's field name (the role's
    own name when absent); ``custom`` is returned for :attr:`ContactPreset.CUSTOM`."""
    preset = ContactPreset(preset)
    local = {**LOCAL_CONTACT_FIELDS, **(local_fields or {})}
    names = (
        _cond(Role.FIRST_NAME, local, crm_fields),
        _cond(Role.LAST_NAME, local, crm_fields),
        _cond(Role.COMPANY_NAME, local, crm_fields),
    )
    if preset is ContactPreset.FIRST_LAST_COMPANY:
        return Rule.of(names)
    if preset is ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY:
        return Rule.of((_cond(Role.LINKEDIN_URL, local, crm_fields),), names)
    if custom is None:
        raise ValueError("A custom contact identifier needs its rule.")
    return custom


def company_rule(
    preset: CompanyPreset | str,
    crm_fields: Mapping[str, str] | None = None,
    *,
    include_any_extension: bool = False,
    custom: Rule | None = None,
    local_fields: Mapping[Role, str] | None = None,
) -> Rule:
    """The rule of a company preset; see :func:`contact_rule`. The domain option applies to custom rules too."""
    preset = CompanyPreset(preset)
    local = {**LOCAL_COMPANY_FIELDS, **(local_fields or {})}
    domain = _cond(Role.DOMAIN, local, crm_fields)
    if preset is CompanyPreset.DOMAIN:
        return Rule.of((domain,), include_any_extension=include_any_extension)
    if preset is CompanyPreset.DOMAIN_OR_NAME:
        name = _cond(Role.NAME, local, crm_fields)
        return Rule.of((domain,), (name,), include_any_extension=include_any_extension)
    if custom is None:
        raise ValueError("A custom company identifier needs its rule.")
    return Rule(custom.groups, include_any_extension)
