"""What validation reads from the CRM and from Enginy: the shapes of their fields and users, how a CRM names
its field types, and which values each type takes.

The CRM's fields and users come from the adapter as plain objects; any object with the attributes of
:class:`CrmFieldLike` / :class:`CrmUserLike` fits (the adapters' ``CrmField`` and ``CrmUser`` do). The helpers
with a leading underscore are the package's own; :func:`crm_type_of` is also read by the wizard state and the
export, so that the editor, validation and export agree on a CRM field's type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CrmFieldLike(Protocol):
    """A CRM field as an adapter describes it (``adapters.base.CrmField`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> Any: ...  # text, long_text, number, boolean, date, datetime, picklist, multi_picklist…
    @property
    def options(self) -> Sequence[Any]: ...  # strings, or objects with .value and .label
    @property
    def read_only(self) -> bool: ...
    @property
    def object(self) -> Any: ...  # contact(s) / company / companies


@runtime_checkable
class CrmUserLike(Protocol):
    """A CRM user who can own records (``adapters.base.CrmUser`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...


@runtime_checkable
class EnginyFieldLike(Protocol):
    """An Enginy field of contacts or companies (``core.fields.Field`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> Any: ...  # text, long_text, email, phone, url, linkedin_url, domain, integer
    @property
    def object(self) -> Any: ...


# Canonical CRM field types, and the names vendors and adapters use for them.
_TYPE_SYNONYMS = {
    "string": "text", "str": "text", "varchar": "text", "textarea": "long_text", "memo": "long_text",
    "long_text": "long_text", "text": "text", "html": "long_text", "rich_text": "long_text",
    "number": "number", "int": "number", "integer": "number", "double": "number", "decimal": "number",
    "float": "number", "currency": "number", "percent": "number", "bigint": "number",
    "boolean": "boolean", "bool": "boolean", "booleancheckbox": "boolean", "checkbox": "boolean",
    "date": "date", "datetime": "datetime", "date_time": "datetime", "timestamp": "datetime",
    "picklist": "picklist", "enumeration": "picklist", "enum": "picklist", "select": "picklist",
    "radio": "picklist", "multi_picklist": "multi_picklist", "multipicklist": "multi_picklist",
    "multiselect": "multi_picklist", "set": "multi_picklist", "email": "email", "phone": "phone",
    "phonenumber": "phone", "url": "url", "website": "url", "owner": "owner", "user": "owner",
    "reference": "reference", "lookup": "reference", "id": "reference",
}  # fmt: skip


def crm_type_of(field_: CrmFieldLike) -> str:
    """The kind of a CRM field (text, number, date, picklist…) that validation and the export both compare by."""
    raw = str(getattr(field_.type, "value", field_.type) or "").strip().lower()
    return _TYPE_SYNONYMS.get(raw, "other")


def _enginy_type(field_: EnginyFieldLike) -> str:
    return str(getattr(field_.type, "value", field_.type) or "text").strip().lower()


def _options(field_: CrmFieldLike) -> list[tuple[str, str]]:
    """(value, label) of each option."""
    result = []
    for opt in field_.options or ():
        if isinstance(opt, str):
            result.append((opt, opt))
        else:
            value = str(getattr(opt, "value", opt))
            result.append((value, str(getattr(opt, "label", value) or value)))
    return result


def _option_value(field_: CrmFieldLike, text: str) -> str | None:
    wanted = text.strip().casefold()
    for value, label in _options(field_):
        if value.casefold() == wanted or label.strip().casefold() == wanted:
            return value
    return None


_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_BOOLEANS = {"true", "false", "yes", "no", "1", "0"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)

# Which Enginy field types a CRM field type takes as they are (ok), may fail to convert record by record (maybe,
# a warning), or never takes (anything else, an error).
_ENGINY_OK = {
    "text": None,  # None: every type
    "long_text": None,
    "number": {"integer"},
    "email": {"email"},
    "phone": {"phone"},
    "url": {"url", "linkedin_url", "domain"},
}
_ENGINY_MAYBE = {
    "number": {"text"},
    "boolean": {"text", "integer"},
    "date": {"text"},
    "datetime": {"text"},
    "picklist": {"text", "long_text", "integer", "email", "phone", "url", "linkedin_url", "domain"},
    "multi_picklist": {"text", "long_text"},
    "email": {"text"},
    "phone": {"text", "integer"},
    "url": {"text"},
    "other": None,
}
_EXPORTABLE_TYPES = {
    "text", "long_text", "number", "boolean", "date", "datetime", "picklist", "multi_picklist", "email", "phone",
    "url", "owner",
}  # fmt: skip


def _fixed_value_problem(field_: CrmFieldLike, value: str, crm_users: Sequence[CrmUserLike] | None) -> str | None:
    """Why a fixed value does not fit a CRM field, or None."""
    ftype = crm_type_of(field_)
    label = f"“{field_.label or field_.name}”"
    text = value.strip()
    if ftype == "number" and not _NUMBER.fullmatch(text):
        return f"{label} is a number field; “{value}” is not a number."
    if ftype == "boolean" and text.lower() not in _BOOLEANS:
        return f"{label} is a yes/no field; use true or false (not “{value}”)."
    if ftype in ("date", "datetime"):
        try:
            (date if ftype == "date" else datetime).fromisoformat(text)
        except ValueError:
            example = "2025-01-31" if ftype == "date" else "2025-01-31T09:00:00"
            return f"{label} is a date field; “{value}” is not a date like {example}."
    if ftype == "picklist" and _options(field_) and _option_value(field_, text) is None:
        return f"“{value}” is not one of the options of {label}: {_option_list(field_)}."
    if ftype == "multi_picklist" and _options(field_):
        missing = [part.strip() for part in text.split(";") if part.strip() and _option_value(field_, part) is None]
        if missing:
            return f"{', '.join(f'“{m}”' for m in missing)} not among the options of {label}: {_option_list(field_)}."
    if ftype == "email" and not _EMAIL.fullmatch(text):
        return f"{label} is an email field; “{value}” is not an email address."
    if ftype == "url" and not _URL.fullmatch(text):
        return f"{label} is a web address field; “{value}” must start with https://."
    if ftype == "owner" and crm_users is not None and text not in {str(u.id) for u in crm_users}:
        return f"{label} holds a CRM user; “{value}” is not the id of a user of the CRM."
    return None


def _option_list(field_: CrmFieldLike, limit: int = 8) -> str:
    labels = [label for _, label in _options(field_)]
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")
