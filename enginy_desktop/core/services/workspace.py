"""The local workspace for the Lists, Campaigns and Settings pages: lists, their records, identities and users.

Everything here is Qt-free and returns plain dataclasses or tuples. The list table is built for a model/view
with lazy fetching over lists of a million rows:

* ``count(list_id, filter_text)`` and ``page(list_id, offset, limit, sort_column, descending, filter_text,
  columns)`` are the two calls a table model needs (``rowCount`` and ``data`` for a visible window).
* In the list's own order, with no filter, a page is read straight from the covering index
  ``(list_id, position, record_id)``: counting and paging never touch the records that are not shown.
* Sorted or filtered, the service computes the ordered record ids once (one SQLite pass over the list) and keeps
  them (8 bytes per row) for as long as the list is unchanged; every page after that is an indexed read of
  ``limit`` records. The cache is keyed by the list's ``updated_at`` and by a counter of this service's writes,
  so an edit, a delete or an import made through this service is seen at once.

Errors the user must read are :class:`WorkspaceError` (or its subclasses), with the whole message in ``str()``.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from enginy_desktop.core import fields as F
from enginy_desktop.core.fields import Field, FieldType, FieldValueError, RecordKind
from enginy_desktop.core.models import AppUser, Campaign, Company, Contact, Identity, ListMembership, utcnow
from enginy_desktop.core.models import ContactList as ListRow
from enginy_desktop.core.store import Store

# Columns whose text a filter searches (those a user recognises a record by).
FILTER_COLUMNS = {
    RecordKind.CONTACT: ("full_name", "email", "company_name", "job_title", "linkedin_url", "city", "country"),
    RecordKind.COMPANY: ("name", "domain", "website", "industry", "city", "country"),
}
DEFAULT_COLUMNS = {
    RecordKind.CONTACT: ("full_name", "email", "job_title", "company_name", "linkedin_url", "city", "country"),
    RecordKind.COMPANY: ("name", "domain", "industry", "size", "employee_count", "city", "country"),
}
CUSTOM_PREFIX = "custom:"
ORDER_CACHE_SIZE = 4
MAX_PAGE = 5000


class WorkspaceError(Exception):
    """A user-readable refusal."""


class ListNotFoundError(WorkspaceError):
    pass


class RecordValidationError(WorkspaceError):
    """A value a field cannot hold; the record is unchanged."""

    def __init__(self, field: Field, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ListInfo:
    id: int
    name: str
    kind: RecordKind
    count: int
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.list_kind,
            "count": self.count,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Column:
    """A column the list table can show: an Enginy field, or a custom field (``custom:NAME``)."""

    name: str
    label: str
    type: FieldType

    @property
    def is_custom(self) -> bool:
        return self.name.startswith(CUSTOM_PREFIX)


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    id: int
    kind: str
    name: str
    address: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "address": self.address}


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    email: str
    is_current: bool

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "is_current": self.is_current}


def _table(kind: RecordKind) -> str:
    return "contacts" if kind is RecordKind.CONTACT else "companies"


def _fold_table() -> dict[int, str]:
    """Latin letters with accents -> without (``Á`` -> ``a``, ``ñ`` -> ``n``, ``ß`` -> ``ss``), for sorting."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFKD", ch.casefold()) if not unicodedata.combining(c))
        if base != ch:
            table[code] = base
    return table


_FOLD = _fold_table()


def sort_key(value: object) -> object:
    """How the list table orders text: case and accents ignored (``Álvarez`` sorts with ``alvarez``)."""
    if isinstance(value, str):
        return value.casefold().translate(_FOLD)
    return value


def _like_escape(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class WorkspaceService:
    """Lists and records, identities and users of the local workspace."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._generation = 0
        self._orders: OrderedDict[tuple[Any, ...], array[int]] = OrderedDict()
        self._lock = threading.Lock()

    # -- fields ----------------------------------------------------------------------------------------------
    @staticmethod
    def fields(kind: RecordKind | str) -> tuple[Field, ...]:
        """The Enginy fields of contacts or companies (what the CRM wizard maps and the table can show)."""
        return F.fields_for(kind)

    def columns(self, list_id: int) -> list[Column]:
        """Every column the list table can show: its fields, then the custom fields found in the list."""
        info = self.get_list(list_id)
        cols = [Column(f.name, f.label, f.type) for f in F.fields_for(info.kind)]
        cols += [Column(CUSTOM_PREFIX + n, n, FieldType.TEXT) for n in self.custom_field_names(list_id)]
        return cols

    @staticmethod
    def default_columns(kind: RecordKind | str) -> tuple[str, ...]:
        return DEFAULT_COLUMNS[RecordKind(kind)]

    def custom_field_names(self, list_id: int, sample: int = 2000) -> list[str]:
        """Custom field names used by the first ``sample`` records of the list (fast on any list size)."""
        info = self.get_list(list_id)
        sql = text(
            f"SELECT DISTINCT j.key FROM (SELECT record_id FROM list_memberships WHERE list_id = :l "  # noqa: S608
            f"ORDER BY position LIMIT :n) m JOIN {_table(info.kind)} t ON t.id = m.record_id, "
            "json_each(t.custom_fields) j ORDER BY j.key"
        )
        with self.store.session() as s:
            return [r[0] for r in s.execute(sql, {"l": list_id, "n": sample})]

    # -- lists -----------------------------------------------------------------------------------------------
    def lists(self, kind: RecordKind | str | None = None) -> list[ListInfo]:
        """Every list (or every list of one kind) with its record count, by name."""
        count = select(func.count()).where(ListMembership.list_id == ListRow.id).scalar_subquery()
        q = select(ListRow, count).order_by(ListRow.name)
        if kind is not None:
            q = q.where(ListRow.kind == RecordKind(kind).list_kind)
        with self.store.session() as s:
            return [self._list_info(row, count) for row, count in s.execute(q)]

    @staticmethod
    def _list_info(row: ListRow, count: int) -> ListInfo:
        return ListInfo(row.id, row.name, RecordKind.from_list_kind(row.kind), count, row.created_at, row.updated_at)

    def get_list(self, name_or_id: str | int) -> ListInfo:
        with self.store.session() as s:
            row = self._find_list(s, name_or_id)
            count = s.scalar(text("SELECT count(*) FROM list_memberships WHERE list_id = :l"), {"l": row.id})
            return self._list_info(row, int(count or 0))

    def free_list_name(self, stem: str) -> str:
        """A name no list has yet for a list made from a file named ``stem``: "q3_leads" -> "q3 leads", then
        "q3 leads (2)", "q3 leads (3)"… (names compared without case)."""
        base = re.sub(r"[_]+", " ", stem).strip() or "Imported"
        taken = {i.name.casefold() for i in self.lists()}
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base} ({n})"
        return name

    def find_list(self, name: str) -> ListInfo | None:
        try:
            return self.get_list(name)
        except ListNotFoundError:
            return None

    def _find_list(self, session: Any, name_or_id: str | int) -> ListRow:
        if isinstance(name_or_id, int):
            row = session.get(ListRow, name_or_id)
        else:
            row = session.scalar(select(ListRow).where(ListRow.name == name_or_id.strip()))
        if row is None:
            names = ", ".join(session.scalars(select(ListRow.name).order_by(ListRow.name))) or "none yet"
            raise ListNotFoundError(f"There is no list named '{name_or_id}'. Lists: {names}.")
        return row

    def create_list(self, name: str, kind: RecordKind | str) -> ListInfo:
        name = name.strip()
        kind = RecordKind(kind)
        if not name:
            raise WorkspaceError("A list needs a name.")
        try:
            with self.store.write() as s:
                row = ListRow(name=name, kind=kind.list_kind)
                s.add(row)
                s.flush()
                return self._list_info(row, 0)
        except IntegrityError:
            raise WorkspaceError(f"A list named '{name}' already exists.") from None

    def rename_list(self, list_id: int, name: str) -> ListInfo:
        name = name.strip()
        if not name:
            raise WorkspaceError("A list needs a name.")
        try:
            with self.store.write() as s:
                row = self._find_list(s, list_id)
                row.name = name
        except IntegrityError:
            raise WorkspaceError(f"A list named '{name}' already exists.") from None
        return self.get_list(list_id)

    def delete_list(self, list_id: int, *, delete_records: bool = False) -> None:
        """Delete a list; its records are kept (they may be in other lists) unless ``delete_records``."""
        if delete_records:
            info = self.get_list(list_id)
            with self.store.write() as s:
                ids = [r[0] for r in s.execute(
                    text("SELECT record_id FROM list_memberships WHERE list_id = :l"), {"l": list_id}
                )]
                self._delete_records(s, info.kind, ids)
        with self.store.write() as s:
            s.execute(text("DELETE FROM list_memberships WHERE list_id = :l"), {"l": list_id})
            s.execute(text("DELETE FROM lists WHERE id = :l"), {"l": list_id})
        self._changed()

    # -- records: count and pages -----------------------------------------------------------------------------
    def _resolve_column(self, kind: RecordKind, name: str) -> str:
        """SQL for a column of the records table ``t`` (a field, or a custom field); refuses anything else."""
        if name.startswith(CUSTOM_PREFIX):
            key = name[len(CUSTOM_PREFIX) :].replace('"', '""').replace("'", "''")
            return f"json_extract(t.custom_fields, '$.\"{key}\"')"
        if name in ("id", "custom_fields", "created_at", "updated_at"):
            return f"t.{name}"
        try:
            return f"t.{F.get_field(kind, name).name}"
        except F.UnknownFieldError as exc:
            raise WorkspaceError(str(exc)) from None

    def _list_state(self, session: Any, list_id: int) -> tuple[RecordKind, Any]:
        row = session.execute(text("SELECT kind, updated_at FROM lists WHERE id = :l"), {"l": list_id}).first()
        if row is None:
            raise ListNotFoundError(f"The list {list_id} no longer exists.")
        return RecordKind.from_list_kind(row[0]), row[1]

    def count(self, list_id: int, filter_text: str = "") -> int:
        """How many records the list holds (matching ``filter_text`` when given)."""
        if filter_text.strip():
            return len(self._order(list_id, None, False, filter_text))
        with self.store.session() as s:
            self._list_state(s, list_id)
            n = s.scalar(text("SELECT count(*) FROM list_memberships WHERE list_id = :l"), {"l": list_id})
            return int(n or 0)

    def page(
        self,
        list_id: int,
        offset: int,
        limit: int,
        sort_column: str | None = None,
        descending: bool = False,
        filter_text: str = "",
        columns: Sequence[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Rows ``offset`` .. ``offset + limit`` of the list as tuples ``(record id, *columns)``.

        ``columns`` defaults to :func:`default_columns`; a column is a field name or ``custom:NAME``. Sorting
        puts empty values last, compares text ignoring case, and keeps the list's order among equal values.
        """
        offset, limit = max(0, int(offset)), max(0, min(int(limit), MAX_PAGE))
        with self.store.session() as s:
            kind, _updated = self._list_state(s, list_id)
        cols = list(columns) if columns is not None else list(DEFAULT_COLUMNS[kind])
        select_sql = ", ".join(["t.id", *(self._resolve_column(kind, c) for c in cols)])
        table = _table(kind)
        if limit == 0:
            return []
        if not sort_column and not filter_text.strip():
            sql = text(
                f"SELECT {select_sql} FROM (SELECT record_id, position FROM list_memberships "  # noqa: S608
                "WHERE list_id = :l ORDER BY position LIMIT :n OFFSET :o) m "
                f"CROSS JOIN {table} t ON t.id = m.record_id ORDER BY m.position"
            )
            with self.store.session() as s:
                return [tuple(r) for r in s.execute(sql, {"l": list_id, "n": limit, "o": offset})]
        order = self._order(list_id, sort_column, descending, filter_text)
        ids = order[offset : offset + limit].tolist()
        if not ids:
            return []
        sql = text(f"SELECT {select_sql} FROM {table} t WHERE t.id IN ({','.join(map(str, ids))})")  # noqa: S608
        with self.store.session() as s:
            by_id = {r[0]: tuple(r) for r in s.execute(sql)}
        return [by_id[i] for i in ids if i in by_id]

    def records(self, list_id: int, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Whole records in the list's order: ``id``, every field, ``custom_fields`` (a dict)."""
        info = self.get_list(list_id)
        names = [f.name for f in F.fields_for(info.kind)]
        rows = self.page(list_id, offset, limit, columns=[*names, "custom_fields"])
        out = []
        for row in rows:
            record: dict[str, Any] = {"id": row[0], **dict(zip(names, row[1:-1], strict=True))}
            custom = row[-1]
            record["custom_fields"] = json.loads(custom) if isinstance(custom, str) else (custom or {})
            out.append(record)
        return out

    def row_of(self, list_id: int, record_id: int, sort_column: str | None = None, descending: bool = False,
               filter_text: str = "") -> int | None:
        """The row number of a record in a view (to keep it selected after a sort), or None."""
        if not sort_column and not filter_text.strip():
            with self.store.session() as s:
                n = s.scalar(
                    text(
                        "SELECT count(*) FROM list_memberships WHERE list_id = :l AND position < "
                        "(SELECT position FROM list_memberships WHERE list_id = :l AND record_id = :r)"
                    ),
                    {"l": list_id, "r": record_id},
                )
                member = s.scalar(
                    text("SELECT 1 FROM list_memberships WHERE list_id = :l AND record_id = :r"),
                    {"l": list_id, "r": record_id},
                )
            return int(n) if member else None
        order = self._order(list_id, sort_column, descending, filter_text)
        try:
            return order.index(record_id)
        except ValueError:
            return None

    def prepare(self, list_id: int, sort_column: str | None = None, descending: bool = False,
                filter_text: str = "") -> int:
        """Compute (and cache) a view's order; returns its row count.

        Sorting or filtering a list of a million records takes a second or two, once: call this from a worker
        thread when the user clicks a column header or types a filter, then page from the UI thread.
        """
        if not sort_column and not filter_text.strip():
            return self.count(list_id)
        return len(self._order(list_id, sort_column, descending, filter_text))

    def _order(self, list_id: int, sort_column: str | None, descending: bool, filter_text: str) -> array[int]:
        needle = filter_text.strip().casefold()
        with self.store.session() as s:
            kind, updated = self._list_state(s, list_id)
            key = (list_id, sort_column or "", bool(descending), needle, str(updated), self._generation)
            with self._lock:
                cached = self._orders.get(key)
                if cached is not None:
                    self._orders.move_to_end(key)
                    return cached
            table = _table(kind)
            where = ""
            params: dict[str, Any] = {"l": list_id}
            if needle:
                like = "%" + _like_escape(needle) + "%"
                where = " AND (" + " OR ".join(
                    f"lower(t.{c}) LIKE :q ESCAPE '\\'" for c in FILTER_COLUMNS[kind]
                ) + ")"
                params["q"] = like
            if sort_column:
                expr = self._resolve_column(kind, sort_column)
                direction = "DESC" if descending else "ASC"
                order_by = f"({expr}) IS NULL OR ({expr}) = '', enginy_sort_key({expr}) {direction}, m.position"
                # A deterministic function SQLite calls once per row; the sort itself stays in C.
                dbapi = s.connection().connection.driver_connection
                dbapi.create_function("enginy_sort_key", 1, sort_key, deterministic=True)  # type: ignore[union-attr]
            else:
                order_by = "m.position"
            sql = text(
                f"SELECT t.id FROM list_memberships m CROSS JOIN {table} t ON t.id = m.record_id "  # noqa: S608
                f"WHERE m.list_id = :l{where} ORDER BY {order_by}"
            )
            ids = array("q", (r[0] for r in s.execute(sql, params)))
        with self._lock:
            self._orders[key] = ids
            while len(self._orders) > ORDER_CACHE_SIZE:
                self._orders.popitem(last=False)
        return ids

    def _changed(self, list_ids: Sequence[int] = ()) -> None:
        """Forget cached orders after a write (and bump the lists' ``updated_at``)."""
        with self._lock:
            self._generation += 1
            self._orders.clear()
        if list_ids:
            with self.store.write() as s:
                s.execute(update(ListRow).where(ListRow.id.in_(list(list_ids))).values(updated_at=utcnow()))

    def invalidate(self) -> None:
        """Forget cached sort orders (call after writing records outside this service)."""
        self._changed()

    # -- records: read, edit, delete --------------------------------------------------------------------------
    def record(self, kind: RecordKind | str, record_id: int) -> dict[str, Any]:
        """Every field of one record, its custom fields, owner and company link."""
        kind = RecordKind(kind)
        with self.store.session() as s:
            model: Any = Contact if kind is RecordKind.CONTACT else Company
            row = s.get(model, record_id)
            if row is None:
                raise WorkspaceError("That record no longer exists.")
            return {c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs}

    def edit_cell(self, kind: RecordKind | str, record_id: int, column: str, value: object) -> Any:
        """Set one field (or ``custom:NAME``) of a record; returns the stored value.

        An invalid value raises :class:`RecordValidationError` with a readable message and changes nothing.
        """
        kind = RecordKind(kind)
        model: Any = Contact if kind is RecordKind.CONTACT else Company
        values: dict[str, Any]
        if column.startswith(CUSTOM_PREFIX):
            path = '$."' + column[len(CUSTOM_PREFIX) :].replace('"', '\\"') + '"'
            stored: Any = str(value).strip() if value is not None else ""
            custom = func.json_set(model.custom_fields, path, stored) if stored else func.json_remove(
                model.custom_fields, path
            )
            values = {"custom_fields": custom}
            stored = stored or None
        else:
            try:
                field = F.get_field(kind, column)
            except F.UnknownFieldError as exc:
                raise WorkspaceError(str(exc)) from None
            try:
                stored = F.clean(field, value)
            except FieldValueError as exc:
                raise RecordValidationError(field, f"{exc} The value was not changed.") from None
            values = {field.name: stored}
        with self.store.write() as s:
            current = s.get(model, record_id)
            if current is None:
                raise WorkspaceError("That record no longer exists (it may have been deleted).")
            if kind is RecordKind.CONTACT and column in ("first_name", "last_name"):
                first = stored if column == "first_name" else current.first_name
                last = stored if column == "last_name" else current.last_name
                values["full_name"] = f"{first or ''} {last or ''}".strip() or current.full_name
            if kind is RecordKind.COMPANY and column == "name":
                values["name_key"] = F.name_key(stored)
            values["updated_at"] = utcnow()
            s.execute(update(model).where(model.id == record_id).values(**values))
            lists = self._lists_of(s, kind, record_id)
        self._changed(lists)
        return stored

    @staticmethod
    def _lists_of(session: Any, kind: RecordKind, record_id: int) -> list[int]:
        return [r[0] for r in session.execute(
            text("SELECT m.list_id FROM list_memberships m JOIN lists l ON l.id = m.list_id "
                 "WHERE m.record_id = :r AND l.kind = :k"),
            {"r": record_id, "k": kind.list_kind},
        )]

    def delete_records(self, kind: RecordKind | str, record_ids: Sequence[int]) -> int:
        """Delete records everywhere (every list, campaigns); returns how many were deleted."""
        kind = RecordKind(kind)
        ids = sorted({int(i) for i in record_ids})
        with self.store.write() as s:
            lists: set[int] = set()
            for i in range(0, len(ids), 900):
                part = ",".join(map(str, ids[i : i + 900]))
                lists.update(r[0] for r in s.execute(text(
                    f"SELECT DISTINCT m.list_id FROM list_memberships m JOIN lists l ON l.id = m.list_id "  # noqa: S608
                    f"WHERE m.record_id IN ({part}) AND l.kind = :k"
                ), {"k": kind.list_kind}))
            n = self._delete_records(s, kind, ids)
        self._changed(sorted(lists))
        return n

    def _delete_records(self, session: Any, kind: RecordKind, ids: Sequence[int]) -> int:
        table = _table(kind)
        n = 0
        for i in range(0, len(ids), 900):
            part = ",".join(str(int(x)) for x in ids[i : i + 900])
            session.execute(text(
                f"DELETE FROM list_memberships WHERE record_id IN ({part}) "  # noqa: S608
                f"AND list_id IN (SELECT id FROM lists WHERE kind = '{kind.list_kind}')"
            ))
            n += session.execute(text(f"DELETE FROM {table} WHERE id IN ({part})")).rowcount  # noqa: S608
        return n

    def remove_from_list(self, list_id: int, record_ids: Sequence[int]) -> int:
        """Take records out of one list (they stay in the workspace and in other lists)."""
        ids = sorted({int(i) for i in record_ids})
        n = 0
        with self.store.write() as s:
            for i in range(0, len(ids), 900):
                part = ",".join(map(str, ids[i : i + 900]))
                result: Any = s.execute(
                    text(f"DELETE FROM list_memberships WHERE list_id = :l AND record_id IN ({part})"),  # noqa: S608
                    {"l": list_id},
                )
                n += result.rowcount
        self._changed([list_id])
        return n

    # -- importing ---------------------------------------------------------------------------------------------
    def preview_csv(self, path: Path, kind: RecordKind | str, **kwargs: Any) -> Any:
        from enginy_desktop.core.importers.csv_import import preview

        return preview(path, kind, **kwargs)

    def import_csv(self, path: Path, kind: RecordKind | str, list_name: str, **kwargs: Any) -> Any:
        """:func:`enginy_desktop.core.importers.csv_import.import_csv` on this store; sort caches refreshed."""
        from enginy_desktop.core.importers.csv_import import import_csv

        try:
            return import_csv(self.store, path, kind=kind, list_name=list_name, **kwargs)
        finally:
            self._changed()

    # -- identities ----------------------------------------------------------------------------------------
    def identities(self) -> list[IdentityInfo]:
        with self.store.session() as s:
            return [
                IdentityInfo(i.id, i.kind, i.name, i.address)
                for i in s.scalars(select(Identity).order_by(Identity.name, Identity.id))
            ]

    @staticmethod
    def _identity_address(kind: str, address: str) -> str:
        try:
            if kind == "linkedin":
                return F.clean_linkedin_url(address)
            if kind == "email":
                return F.clean_email(address)
        except FieldValueError as exc:
            raise WorkspaceError(str(exc)) from None
        raise WorkspaceError("An identity is a LinkedIn profile ('linkedin') or an email sender ('email').")

    def create_identity(self, kind: str, name: str, address: str) -> IdentityInfo:
        address = self._identity_address(kind, address)
        name = name.strip() or address
        try:
            with self.store.write() as s:
                row = Identity(kind=kind, name=name, address=address)
                s.add(row)
                s.flush()
                return IdentityInfo(row.id, row.kind, row.name, row.address)
        except IntegrityError:
            raise WorkspaceError(f"The identity {address} already exists.") from None

    def update_identity(self, identity_id: int, *, name: str | None = None, address: str | None = None) -> IdentityInfo:
        try:
            with self.store.write() as s:
                row = s.get(Identity, identity_id)
                if row is None:
                    raise WorkspaceError("That identity no longer exists.")
                if name is not None:
                    row.name = name.strip() or row.address
                if address is not None:
                    row.address = self._identity_address(row.kind, address)
                s.flush()
                return IdentityInfo(row.id, row.kind, row.name, row.address)
        except IntegrityError:
            raise WorkspaceError(f"The identity {address} already exists.") from None

    def delete_identity(self, identity_id: int) -> None:
        with self.store.write() as s:
            used = list(s.scalars(select(Campaign.name).where(Campaign.identity_id == identity_id)))
            if used:
                raise WorkspaceError(
                    f"This identity runs the campaign(s) {', '.join(used)}. Delete those campaigns first."
                )
            row = s.get(Identity, identity_id)
            if row is not None:
                s.delete(row)

    # -- users ---------------------------------------------------------------------------------------------
    def users(self) -> list[UserInfo]:
        with self.store.session() as s:
            return [
                UserInfo(u.id, u.name, u.email, bool(u.is_current))
                for u in s.scalars(select(AppUser).order_by(AppUser.name, AppUser.id))
            ]

    def current_user(self) -> UserInfo | None:
        with self.store.session() as s:
            u = s.scalar(select(AppUser).where(AppUser.is_current.is_(True)))
            return UserInfo(u.id, u.name, u.email, True) if u else None

    def create_user(self, name: str, email: str, *, make_current: bool = False) -> UserInfo:
        name = name.strip()
        if not name:
            raise WorkspaceError("A user needs a name.")
        try:
            email = F.clean_email(email)
        except FieldValueError as exc:
            raise WorkspaceError(str(exc)) from None
        try:
            with self.store.write() as s:
                if make_current:
                    s.execute(update(AppUser).where(AppUser.is_current.is_(True)).values(is_current=False))
                    s.flush()
                row = AppUser(name=name, email=email, is_current=make_current)
                s.add(row)
                s.flush()
                return UserInfo(row.id, row.name, row.email, bool(row.is_current))
        except IntegrityError:
            raise WorkspaceError(f"A user with the email {email} already exists.") from None

    def update_user(self, user_id: int, *, name: str | None = None, email: str | None = None) -> UserInfo:
        try:
            with self.store.write() as s:
                row = s.get(AppUser, user_id)
                if row is None:
                    raise WorkspaceError("That user no longer exists.")
                if name is not None:
                    if not name.strip():
                        raise WorkspaceError("A user needs a name.")
                    row.name = name.strip()
                if email is not None:
                    try:
                        row.email = F.clean_email(email)
                    except FieldValueError as exc:
                        raise WorkspaceError(str(exc)) from None
                s.flush()
                return UserInfo(row.id, row.name, row.email, bool(row.is_current))
        except IntegrityError:
            raise WorkspaceError(f"A user with the email {email} already exists.") from None

    def set_current_user(self, user_id: int | None) -> UserInfo | None:
        """Make ``user_id`` the current user (the owner of new imports); None: no current user."""
        with self.store.write() as s:
            if user_id is not None and s.get(AppUser, user_id) is None:
                raise WorkspaceError("That user no longer exists.")
            s.execute(update(AppUser).where(AppUser.is_current.is_(True)).values(is_current=False))
            s.flush()
            if user_id is not None:
                s.execute(update(AppUser).where(AppUser.id == user_id).values(is_current=True))
        return self.current_user()

    def delete_user(self, user_id: int) -> None:
        """Delete a user; the records they owned are kept, without an owner."""
        with self.store.write() as s:
            row = s.get(AppUser, user_id)
            if row is not None:
                s.delete(row)
        self._changed()

