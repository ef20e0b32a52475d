"""The local side of a sync: the list, its records' identifier fields read as columns from the workspace
tables, and the saved identifiers as rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from enginy_desktop.adapters.base import CrmAdapter, CrmObject
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.models import Company, Contact, ListMembership
from enginy_desktop.core.models import ContactList as ListRow

from .results import OBJECT_LABELS, SyncError

MODELS: dict[str, Any] = {"contact": Contact, "company": Company}


@dataclass
class LocalColumns:
    """A list's records of one object as columns: their ids, each identifier field's values in the same order,
    and when each was last changed (what a sync and an export compare with the CRM)."""

    object: str
    ids: list[int]
    columns: dict[str, list[Any]]
    updated: list[datetime | None]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _column_expr(model: Any, name: str, object_: str) -> Any:
    if name.startswith("custom:"):
        key = name.split(":", 1)[1].replace('"', "")
        return func.json_extract(model.custom_fields, f'$."{key}"')
    columns = model.__table__.c
    if name not in columns or name in ("custom_fields", "owner_id", "company_id", "created_at", "updated_at"):
        noun = OBJECT_LABELS[object_][1]
        ident = "Contact" if object_ == "contact" else "Company"
        raise SyncError(f"The {ident} Identifier compares the Enginy field “{name}”, which {noun} do not have. "
                        f"Choose another field in Step 1 of the CRM configuration.")
    return columns[name]


def _member_ids(list_id: int) -> Any:
    return select(ListMembership.record_id).where(ListMembership.list_id == list_id)


def _company_ids_of(list_id: int) -> Any:
    return (select(Contact.company_id)
            .join(ListMembership, ListMembership.record_id == Contact.id)
            .where(ListMembership.list_id == list_id, Contact.company_id.is_not(None)))


def _load_local(store: Any, list_id: int, object_: str, fields: Sequence[str], via_contacts: bool) -> LocalColumns:
    model = MODELS[object_]
    exprs = [_column_expr(model, f, object_) for f in fields]
    query = select(model.id, model.updated_at, *exprs)
    if via_contacts:  # the companies of a contact list's contacts
        query = query.where(model.id.in_(_company_ids_of(list_id))).order_by(model.id)
    else:
        query = (query.join(ListMembership, ListMembership.record_id == model.id)
                 .where(ListMembership.list_id == list_id).order_by(ListMembership.position))
    with store.session() as s:
        rows = s.execute(query).all()
    ids = [r[0] for r in rows]
    updated = [_aware(r[1]) for r in rows]
    columns = {f: [r[2 + i] for r in rows] for i, f in enumerate(fields)}
    return LocalColumns(object_, ids, columns, updated)


def _find_list(ctx: Any, list_ref: str | int) -> tuple[int, str, str]:
    """(id, name, kind) of a list given by id or name (names ignore case)."""
    with ctx.store.session() as s:
        if isinstance(list_ref, int) or (isinstance(list_ref, str) and list_ref.isdigit()
                                         and s.get(ListRow, int(list_ref)) is not None):
            row = s.get(ListRow, int(list_ref))
        else:
            row = s.scalars(select(ListRow).where(ListRow.name == str(list_ref).strip())).first()
        if row is None:
            names = [n for (n,) in s.execute(select(ListRow.name).order_by(ListRow.name).limit(10))]
            known = f" Lists: {', '.join(names)}." if names else " There are no lists yet: import a CSV file first."
            raise SyncError(f"There is no list named “{list_ref}”.{known}")
        return row.id, row.name, row.kind


def identifier_rules(ctx: Any, crm: str, adapter: CrmAdapter) -> dict[str, Rule]:
    """The saved Step 1 identifiers of ``crm`` as rules on the adapter's field names."""
    config = ctx.crm_configs.load(crm)
    rules = {
        "contact": config.contact_identifier.rule(adapter.identifier_fields(CrmObject.CONTACTS)),
        "company": config.company_identifier.rule(adapter.identifier_fields(CrmObject.COMPANIES)),
    }
    for object_, rule in rules.items():
        problems = rule.problems()
        if problems:
            ident = "Contact" if object_ == "contact" else "Company"
            raise SyncError(f"The {ident} Identifier cannot be used yet: {' '.join(problems)} Fix it in Step 1 of "
                            "the CRM configuration.")
    return rules
