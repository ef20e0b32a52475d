"""The Enginy fields of contacts and companies: name, label, type, and how a typed-in value is cleaned.

This registry is what the CSV importer maps columns to, what the list pages show as columns, what a cell edit
validates against, and what the CRM wizard offers as "Enginy fields" (a contact field belongs to the Contacts
tab, a company field to the Companies tab).

:func:`clean` is the one place a raw value becomes a stored value. It returns ``None`` for an empty value and
raises :class:`FieldValueError` (a sentence the user can read) for a value that is not acceptable; the importer
turns that into a warning and drops the value, a cell edit shows it and keeps the old value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn


class FieldType(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    LINKEDIN_URL = "linkedin_url"
    DOMAIN = "domain"
    INTEGER = "integer"


class RecordKind(StrEnum):
    CONTACT = "contact"
    COMPANY = "company"

    @property
    def list_kind(self) -> str:
        """The ``lists.kind`` value of lists holding this kind of record."""
        return "contacts" if self is RecordKind.CONTACT else "companies"

    @classmethod
    def from_list_kind(cls, kind: str) -> RecordKind:
        return cls.CONTACT if kind == "contacts" else cls.COMPANY


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # column of the contacts / companies table
    label: str  # what the user reads
    type: FieldType
    object: RecordKind

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label, "type": self.type.value, "object": self.object.value}


class FieldValueError(ValueError):
    """A value that a field cannot hold; ``str()`` is the sentence to show."""


class UnknownFieldError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


_C, _O = RecordKind.CONTACT, RecordKind.COMPANY

CONTACT_FIELDS: tuple[Field, ...] = (
    Field("first_name", "First name", FieldType.TEXT, _C),
    Field("last_name", "Last name", FieldType.TEXT, _C),
    Field("full_name", "Full name", FieldType.TEXT, _C),
    Field("email", "Email", FieldType.EMAIL, _C),
    Field("email_status", "Email status", FieldType.TEXT, _C),
    Field("phone", "Phone", FieldType.PHONE, _C),
    Field("mobile", "Mobile phone", FieldType.PHONE, _C),
    Field("job_title", "Job title", FieldType.TEXT, _C),
    Field("seniority", "Seniority", FieldType.TEXT, _C),
    Field("department", "Department", FieldType.TEXT, _C),
    Field("linkedin_url", "LinkedIn URL", FieldType.LINKEDIN_URL, _C),
    Field("company_name", "Company name", FieldType.TEXT, _C),
    Field("company_domain", "Company domain", FieldType.DOMAIN, _C),
    Field("company_linkedin_url", "Company LinkedIn URL", FieldType.LINKEDIN_URL, _C),
    Field("company_industry", "Company industry", FieldType.TEXT, _C),
    Field("company_size", "Company size", FieldType.TEXT, _C),
    Field("company_revenue", "Company revenue", FieldType.TEXT, _C),
    Field("location", "Location", FieldType.TEXT, _C),
    Field("city", "City", FieldType.TEXT, _C),
    Field("country", "Country", FieldType.TEXT, _C),
    Field("website", "Website", FieldType.URL, _C),
    Field("notes", "Notes", FieldType.LONG_TEXT, _C),
    Field("source", "Source", FieldType.TEXT, _C),
)

COMPANY_FIELDS: tuple[Field, ...] = (
    Field("name", "Company name", FieldType.TEXT, _O),
    Field("domain", "Domain", FieldType.DOMAIN, _O),
    Field("website", "Website", FieldType.URL, _O),
    Field("linkedin_url", "LinkedIn URL", FieldType.LINKEDIN_URL, _O),
    Field("industry", "Industry", FieldType.TEXT, _O),
    Field("size", "Company size", FieldType.TEXT, _O),
    Field("employee_count", "Employees", FieldType.INTEGER, _O),
    Field("country", "Country", FieldType.TEXT, _O),
    Field("city", "City", FieldType.TEXT, _O),
    Field("phone", "Phone", FieldType.PHONE, _O),
    Field("revenue", "Revenue", FieldType.TEXT, _O),
    Field("description", "Description", FieldType.LONG_TEXT, _O),
    Field("source", "Source", FieldType.TEXT, _O),
)

_BY_KIND = {
    RecordKind.CONTACT: {f.name: f for f in CONTACT_FIELDS},
    RecordKind.COMPANY: {f.name: f for f in COMPANY_FIELDS},
}


CUSTOM_PREFIX = "custom:"


def workspace_fields(store: object) -> list[Field]:
    """Every Enginy field the CRM wizard can map: the fields of contacts and companies, then the workspace's AI
    columns as ``custom:<name>`` fields (their values are kept as custom fields of the records)."""
    from enginy_desktop.core.ai.columns import ai_fields

    return [*CONTACT_FIELDS, *COMPANY_FIELDS, *ai_fields(store)]  # type: ignore[arg-type]


def fields_for(kind: RecordKind | str) -> tuple[Field, ...]:
    kind = RecordKind(kind)
    return CONTACT_FIELDS if kind is RecordKind.CONTACT else COMPANY_FIELDS


def get_field(kind: RecordKind | str, name: str) -> Field:
    kind = RecordKind(kind)
    try:
        return _BY_KIND[kind][name]
    except KeyError:
        known = ", ".join(_BY_KIND[kind])
        raise UnknownFieldError(f"'{name}' is not a {kind.value} field. Known {kind.value} fields: {known}.") from None


# -- cleaning ---------------------------------------------------------------------------------------------------
# Deliberately simple and fast (the importer calls these a million times): a plausible address, not RFC 5322.
_EMAIL_RE = re.compile(
    r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_HOST_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]")
_LINKEDIN_RE = re.compile(
    r"(?:https?://)?(?:[a-z]{2,3}\.|www\.|m\.|mobile\.)?linkedin\.com(/[^?#\s]*)(?:[?#]\S*)?", re.IGNORECASE
)
_INT_RE = re.compile(r"[+-]?\d{1,3}(?:[,. ]\d{3})+|[+-]?\d+")


def clean_email(value: str) -> str:
    v = value.strip().lower()
    if v.startswith("mailto:"):
        v = v[7:]
    if _EMAIL_RE.fullmatch(v) is None:
        raise FieldValueError(f"'{value.strip()}' is not a valid email address.")
    return v


_CANONICAL_PROFILE = "https://www.linkedin.com/in/"
_NOT_IN_CANONICAL = re.compile(r"[?#\s]")


def clean_linkedin_url(value: str) -> str:
    """Canonical ``https://www.linkedin.com/<path>``; profile and company slugs lowercased, query dropped."""
    if value.startswith(_CANONICAL_PROFILE) and len(value) > 28 and _NOT_IN_CANONICAL.search(value) is None:
        # Already canonical but for case or a trailing slash (what most exports hold): the fast path.
        slug = value[28:].rstrip("/")
        if slug and "/" not in slug:
            return _CANONICAL_PROFILE + slug.lower()
    m = _LINKEDIN_RE.fullmatch(value.strip())
    if m is None:
        return _bad_linkedin(value)
    path = m.group(1).rstrip("/")
    parts = path.split("/")  # ["", head, slug, ...]
    head = parts[1].lower() if len(parts) > 1 else ""
    if not head:
        return _bad_linkedin(value)
    # Profile (/in/) and company (/company/, /school/) slugs are case-insensitive; other paths (Sales Navigator
    # lead ids) are not, and are kept as written.
    if head in ("in", "company", "school", "showcase", "pub"):
        if len(parts) < 3 or not parts[2]:
            return _bad_linkedin(value)
        path = path.lower()
    return "https://www.linkedin.com" + path


def _bad_linkedin(value: str) -> NoReturn:
    raise FieldValueError(f"'{value.strip()}' is not a LinkedIn address (https://www.linkedin.com/...).")


# scheme, host, port, rest: enough to check a web address without urllib (this runs once per imported row).
_URL_RE = re.compile(r"(?:(https?)://)?([^/?#:@\s]+)(:\d{1,5})?([/?#]\S*)?", re.IGNORECASE)


def _split_url(value: str) -> tuple[str, str] | None:
    """(host lowercased without a trailing dot, scheme or '') of a web address, or None if it is not one."""
    m = _URL_RE.fullmatch(value)
    if m is None:
        return None
    host = m.group(2).lower().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if _HOST_RE.fullmatch(host) is None:
        return None
    return host, (m.group(1) or "")


def clean_url(value: str) -> str:
    v = value.strip()
    if " " in v or "\t" in v:
        raise FieldValueError(f"'{v}' is not a web address (it contains spaces).")
    if "://" in v and not v[:8].lower().startswith(("http://", "https://")):
        raise FieldValueError(f"'{v}' is not a web address (it must start with http:// or https://).")
    if _split_url(v) is None:
        raise FieldValueError(f"'{v}' is not a web address.")
    return v if "://" in v else "https://" + v


def clean_domain(value: str) -> str:
    """A bare lowercase host name without ``www.``, from a domain, a web address or an email address."""
    v = value.strip()
    if "@" in v and "://" not in v:
        v = v.rsplit("@", 1)[1]
    parts = _split_url(v)
    if parts is None:
        raise FieldValueError(f"'{value.strip()}' is not a domain name.")
    host = parts[0]
    if host.startswith("www."):
        host = host[4:]
    if "." not in host:
        raise FieldValueError(f"'{value.strip()}' is not a domain name.")
    return host


def clean_integer(value: str) -> int:
    v = value.strip()
    if _INT_RE.fullmatch(v) is None:
        raise FieldValueError(f"'{v}' is not a whole number.")
    n = int(v.replace(",", "").replace(".", "").replace(" ", ""))
    if abs(n) >= 2**63:
        raise FieldValueError(f"'{v}' is too large.")
    return n


def clean_text(value: str) -> str:
    return value.strip()


def clean_phone(value: str) -> str:
    v = value.strip()
    if not any(ch.isdigit() for ch in v):
        raise FieldValueError(f"'{v}' is not a phone number (it has no digits).")
    return v


CLEANERS: dict[FieldType, Callable[[str], str | int]] = {
    FieldType.TEXT: clean_text,
    FieldType.LONG_TEXT: clean_text,
    FieldType.EMAIL: clean_email,
    FieldType.PHONE: clean_phone,
    FieldType.URL: clean_url,
    FieldType.LINKEDIN_URL: clean_linkedin_url,
    FieldType.DOMAIN: clean_domain,
    FieldType.INTEGER: clean_integer,
}


def clean(field: Field, raw: object) -> str | int | None:
    """The value to store for ``raw`` typed into ``field``; ``None`` when empty; :class:`FieldValueError` if bad."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and field.type is FieldType.INTEGER:
        return raw
    text = str(raw).strip()
    if not text:
        return None
    try:
        return CLEANERS[field.type](text)
    except FieldValueError as exc:
        raise FieldValueError(f"{field.label}: {exc}") from None


def name_key(name: str | None) -> str | None:
    """How a company name is compared when linking contacts to companies: casefolded, spaces collapsed."""
    if not name:
        return None
    key = " ".join(name.casefold().split())
    return key or None
