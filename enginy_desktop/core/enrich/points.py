"""Where each data point lands in a record: the Enginy field (``core.fields``) it fills, whether a record misses it,
and how a provider's value is cleaned before it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enginy_desktop.adapters.enrichment.base import COMPANY_POINTS, DATA_POINT_LABELS, DataPoint, Found, LookupInput
from enginy_desktop.core.fields import FieldValueError, RecordKind, clean_domain, clean_email, clean_linkedin_url

__all__ = [
    "COMPANY_COLUMNS",
    "CONTACT_COLUMNS",
    "is_missing",
    "lookup_input",
    "parse_points",
    "points_for",
    "stored_values",
    "targets",
]

# The fields of a record a lookup reads (its inputs) and the enrichment writes (its targets).
CONTACT_COLUMNS = ("id", "first_name", "last_name", "full_name", "email", "email_status", "phone", "mobile",
                   "job_title", "linkedin_url", "company_name", "company_domain", "company_industry", "company_size",
                   "company_revenue", "location")
COMPANY_COLUMNS = ("id", "name", "domain", "industry", "size", "employee_count", "revenue", "city", "country")

_CONTACT: dict[DataPoint, tuple[str, ...]] = {
    DataPoint.EMAIL: ("email",),
    DataPoint.EMAIL_STATUS: ("email_status",),
    DataPoint.PHONE: ("mobile", "phone"),
    DataPoint.JOB_TITLE: ("job_title",),
    DataPoint.LINKEDIN_URL: ("linkedin_url",),
    DataPoint.COMPANY_DOMAIN: ("company_domain",),
    DataPoint.INDUSTRY: ("company_industry",),
    DataPoint.SIZE: ("company_size",),
    DataPoint.REVENUE: ("company_revenue",),
    DataPoint.LOCATION: ("location",),
}
_COMPANY: dict[DataPoint, tuple[str, ...]] = {
    DataPoint.COMPANY_DOMAIN: ("domain",),
    DataPoint.INDUSTRY: ("industry",),
    DataPoint.SIZE: ("size",),
    DataPoint.REVENUE: ("revenue",),
    DataPoint.LOCATION: ("country", "city"),
}

_ALIASES = {"work_email": DataPoint.EMAIL, "verification": DataPoint.EMAIL_STATUS, "email_verification":
            DataPoint.EMAIL_STATUS, "mobile": DataPoint.PHONE, "direct_phone": DataPoint.PHONE, "title":
            DataPoint.JOB_TITLE, "linkedin": DataPoint.LINKEDIN_URL, "domain": DataPoint.COMPANY_DOMAIN,
            "company_size": DataPoint.SIZE, "employees": DataPoint.SIZE}


def parse_points(text: str) -> list[DataPoint]:
    """``"email,phone,job_title"`` -> data points; ValueError names what is not one."""
    out: list[DataPoint] = []
    for raw in (t.strip().lower().replace("-", "_") for t in text.split(",")):
        if not raw:
            continue
        point = _ALIASES.get(raw) or (DataPoint(raw) if raw in DataPoint._value2member_map_ else None)
        if point is None:
            known = ", ".join(p.value for p in DataPoint)
            raise ValueError(f"'{raw}' is not something enrichment can find. Choose among: {known}.")
        if point not in out:
            out.append(point)
    if not out:
        raise ValueError("Say what to find, e.g. --find email,phone,job_title.")
    return out


def points_for(kind: RecordKind) -> tuple[DataPoint, ...]:
    """The data points a record of ``kind`` can be enriched with, in the product's order."""
    return tuple(DataPoint) if kind is RecordKind.CONTACT else tuple(p for p in DataPoint if p in COMPANY_POINTS)


def targets(kind: RecordKind, point: DataPoint) -> tuple[str, ...]:
    table = _CONTACT if kind is RecordKind.CONTACT else _COMPANY
    return table.get(point, ())


def label(point: DataPoint) -> str:
    return DATA_POINT_LABELS[point]


def is_missing(kind: RecordKind, point: DataPoint, row: Mapping[str, Any]) -> bool:
    fields = targets(kind, point)
    if not fields:
        return False
    if kind is RecordKind.CONTACT and point is DataPoint.EMAIL_STATUS and not row.get("email"):
        return True  # it can only be filled once an e-mail is known (entered or found in this run)
    return all(row.get(f) in (None, "") for f in fields)


def lookup_input(kind: RecordKind, row: Mapping[str, Any], key: str, *, only: frozenset[str] | None = None
                 ) -> LookupInput:
    """What a provider is told about the record; with ``only``, the fields outside it count as empty (the
    identity of the cache uses the values the user entered, so a re-run asks the same question)."""

    def v(name: str) -> str:
        if only is not None and name not in only:
            return ""
        value = row.get(name)
        return "" if value is None else str(value).strip()

    if kind is RecordKind.COMPANY:
        return LookupInput(key, company_name=v("name"), domain=v("domain"))
    return LookupInput(key, first_name=v("first_name"), last_name=v("last_name"), full_name=v("full_name"),
                       company_name=v("company_name"), domain=v("company_domain"),
                       linkedin_url=v("linkedin_url"), email=v("email"))


def stored_values(kind: RecordKind, point: DataPoint, found: Found) -> dict[str, str]:
    """The field -> value pairs to store for one found value (empty when the value cannot be stored)."""
    value = found.value.strip()
    if not value:
        return {}
    try:
        if point is DataPoint.EMAIL:
            value = clean_email(value)
        elif point is DataPoint.LINKEDIN_URL:
            value = clean_linkedin_url(value)
        elif point is DataPoint.COMPANY_DOMAIN:
            value = clean_domain(value)
    except FieldValueError:
        return {}
    if kind is RecordKind.CONTACT and point is DataPoint.PHONE:
        return {"mobile" if found.detail == "mobile" else "phone": value}
    if kind is RecordKind.COMPANY and point is DataPoint.LOCATION:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        out = {"country": parts[-1]}
        if len(parts) > 1:
            out["city"] = parts[0]
        return out
    fields = targets(kind, point)
    return {fields[0]: value[:300]} if fields else {}
