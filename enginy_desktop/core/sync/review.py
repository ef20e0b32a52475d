"""Reading and deciding links (the result view, the command line): a list's records with their links, counts
by outcome, the user's choice for an ambiguous record (``chosen`` / ``create_new``), and its candidates as a
person recognises them."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from enginy_desktop.adapters.base import CrmRecord
from enginy_desktop.core.models import Company, Contact, CrmLink, ListMembership, utcnow
from enginy_desktop.core.services import crm as crm_service

from .links import CREATE_NEW_WHY, _chosen_why
from .local import MODELS, _aware, _company_ids_of, _find_list, _member_ids
from .results import CRM_OBJECTS, SyncError

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class LinkRow:
    """One record of a list with what the sync learnt about it."""

    object: str
    local_id: int
    name: str  # how the user recognises the record: "Jane Doe · Acme" / "Acme (acme.com)"
    detail: str  # e-mail / domain / LinkedIn, whatever identifies it
    outcome: str  # matched, new, ambiguous, unmatchable, chosen, create_new; "" when never synced
    crm_id: str | None
    why: str
    candidates: tuple[str, ...]
    linked_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "local_id": self.local_id,
            "name": self.name,
            "outcome": self.outcome or None,
            "crm_id": self.crm_id,
            "why": self.why,
            "candidates": list(self.candidates),
        }


def _display_columns(object_: str) -> list[Any]:
    if object_ == "contact":
        return [Contact.full_name, Contact.first_name, Contact.last_name, Contact.company_name, Contact.email,
                Contact.linkedin_url]
    return [Company.name, Company.domain, Company.linkedin_url]


def _row_text(object_: str, values: Sequence[Any]) -> tuple[str, str]:
    if object_ == "contact":
        full, first, last, company, email, linkedin = values
        name = full or " ".join(x for x in (first, last) if x) or email or linkedin or "(no name)"
        if company:
            name = f"{name} · {company}"
        return name, email or linkedin or ""
    name, domain, linkedin = values
    return name or domain or "(no name)", domain or linkedin or ""


def _list_records_query(list_id: int, list_kind: str, object_: str) -> Any:
    model = MODELS[object_]
    if object_ == "company" and list_kind == "contacts":
        return model.id.in_(_company_ids_of(list_id))
    return model.id.in_(_member_ids(list_id))


def link_rows(
    ctx: Any,
    list_ref: str | int,
    *,
    object: str = "contact",
    crm: str | None = None,
    outcome: str | Iterable[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[LinkRow]:
    """The list's records (or its contacts' companies) with their links in ``crm`` (default: the enabled CRM).
    ``outcome`` filters ("" for records never synced)."""
    key = crm or crm_service.active_crm_key(ctx)
    list_id, _, list_kind = _find_list(ctx, list_ref)
    model = MODELS[object]
    join_on = (CrmLink.local_id == model.id) & (CrmLink.crm == key) & (CrmLink.object == object)
    query = (select(model.id, CrmLink.outcome, CrmLink.crm_id, CrmLink.why, CrmLink.candidates, CrmLink.linked_at,
                    *_display_columns(object))
             .outerjoin(CrmLink, join_on)
             .where(_list_records_query(list_id, list_kind, object)))
    if outcome is not None:
        wanted = [outcome] if isinstance(outcome, str) else list(outcome)
        cond: Any = CrmLink.outcome.in_([w for w in wanted if w])
        if "" in wanted:
            cond = cond | CrmLink.outcome.is_(None)
        query = query.where(cond)
    if object == "contact" and list_kind == "contacts":
        query = query.join(ListMembership, (ListMembership.record_id == model.id)
                           & (ListMembership.list_id == list_id)).order_by(ListMembership.position)
    else:
        query = query.order_by(model.id)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    with ctx.store.session() as s:
        for r in s.execute(query):
            name, detail = _row_text(object, r[6:])
            rows.append(LinkRow(object, r[0], name, detail, r[1] or "", r[2], r[3] or "",
                                tuple(str(c) for c in r[4] or ()), _aware(r[5])))
    return rows


def link_counts(ctx: Any, list_ref: str | int, *, object: str = "contact", crm: str | None = None) -> dict[str, int]:
    """How many of the list's records have each outcome ("" = never synced)."""
    key = crm or crm_service.active_crm_key(ctx)
    list_id, _, list_kind = _find_list(ctx, list_ref)
    model = MODELS[object]
    join_on = (CrmLink.local_id == model.id) & (CrmLink.crm == key) & (CrmLink.object == object)
    query = (select(CrmLink.outcome, func.count()).select_from(model).outerjoin(CrmLink, join_on)
             .where(_list_records_query(list_id, list_kind, object)).group_by(CrmLink.outcome))
    with ctx.store.session() as s:
        return {(o or ""): int(n) for o, n in s.execute(query)}


def _get_link(s: Any, crm: str, object_: str, local_id: int) -> CrmLink:
    link = s.scalars(select(CrmLink).where(CrmLink.crm == crm, CrmLink.object == object_,
                                           CrmLink.local_id == local_id)).first()
    if link is None:
        raise SyncError("This record has not been synced yet: run a sync first.")
    return link


def choose(ctx: Any, object: str, local_id: int, crm_id: str, *, crm: str | None = None) -> LinkRow | None:
    """The user picked ``crm_id`` among an ambiguous record's candidates (outcome ``chosen``)."""
    key = crm or crm_service.active_crm_key(ctx)
    with ctx.store.write() as s:
        link = _get_link(s, key, object, local_id)
        candidates = [str(c) for c in link.candidates or ()]
        if link.outcome not in ("ambiguous", "chosen", "create_new") or str(crm_id) not in candidates:
            raise SyncError("Only one of the CRM records this record matched can be chosen.")
        link.outcome = "chosen"
        link.crm_id = str(crm_id)
        link.why = _chosen_why(len(candidates))
        link.linked_at = utcnow()
    log.info("Chose %s record %s for %s %s", key, crm_id, object, local_id)
    return None


def create_new(ctx: Any, object: str, local_id: int, *, crm: str | None = None) -> None:
    """The user decided that an ambiguous record is none of its candidates: an export creates it (outcome
    ``create_new``)."""
    key = crm or crm_service.active_crm_key(ctx)
    with ctx.store.write() as s:
        link = _get_link(s, key, object, local_id)
        if link.outcome not in ("ambiguous", "chosen", "create_new"):
            raise SyncError("Only a record that matched several CRM records can be marked “Create new”.")
        link.outcome = "create_new"
        link.crm_id = None
        link.why = CREATE_NEW_WHY
        link.linked_at = utcnow()
    log.info("Create new chosen for %s %s in %s", object, local_id, key)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A CRM record as a person recognises it (an ambiguous record's candidate): a title (the name) and the
    other display fields' values, in the CRM's order; ``properties`` as text, for lookups."""

    id: str
    title: str
    details: tuple[str, ...]
    properties: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.properties.get(name)


def _text_of(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def describe_record(record: CrmRecord, roles: Mapping[str, str], display: Sequence[str]) -> Candidate:
    """The title (first + last name, or the name) and details of ``record``, from the adapter's declarations."""
    props = {k: _text_of(v) for k, v in record.properties.items()}
    title_fields = [roles[r] for r in ("first_name", "last_name") if r in roles] or (
        [roles["name"]] if "name" in roles else [])
    title = " ".join(props[f] for f in title_fields if props.get(f))
    details = tuple(props[f] for f in display if f not in title_fields and props.get(f))
    return Candidate(record.id, title, details, props)


async def candidate_details(
    ctx: Any, object: str, crm_ids: Sequence[str], *, crm: str | None = None,
) -> list[Candidate]:
    """The display fields of CRM records (an ambiguous record's candidates), read in one call."""
    key = crm or crm_service.active_crm_key(ctx)
    crm_object = CRM_OBJECTS[object]
    async with crm_service.open_crm(ctx, key) as adapter:
        roles = adapter.identifier_fields(crm_object)
        display = adapter.display_fields(crm_object)
        props = list(dict.fromkeys([*display, *roles.values()]))
        found = {r.id: r for r in await adapter.read(crm_object, list(crm_ids), props)}
    return [describe_record(found[i], roles, display) for i in crm_ids if i in found]
