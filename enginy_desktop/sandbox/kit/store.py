"""The record store every emulator can keep its objects in: per-type tables of :class:`Record` with ids from one
sequence, creation/update timestamps (epoch milliseconds), unique indexes and lookup indexes (both
case-insensitive), paging by id, and archiving (soft delete).

It checks nothing about values — the vendor validates — except uniqueness when asked
(:meth:`RecordStore.conflict`). A ``stamp(record, now_ms, created)`` hook lets the vendor keep its
system properties (ids as text, ``createdate``, ``updated_at``…) current on every write.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice


class Record:
    """One stored object: ``props`` are the vendor's property values (text); ``created``/``updated`` epoch ms."""

    __slots__ = ("archived", "archived_at", "created", "id", "props", "type", "updated")

    def __init__(self, type_: str, id_: int, props: dict[str, str], created: int) -> None:
        self.type = type_
        self.id = id_
        self.props = props
        self.created = created
        self.updated = created
        self.archived = False
        self.archived_at: int | None = None


Stamp = Callable[[Record, int, bool], None]


class RecordStore:
    """Tables of records by type. ``unique`` and ``lookups`` name the indexed properties per type (unique
    indexes can also be added later, e.g. when a custom property is declared unique, and are built lazily)."""

    def __init__(self, types: Iterable[str], *, now_ms: Callable[[], int], first_id: int = 1,
                 stamp: Stamp | None = None, unique: Mapping[str, Iterable[str]] | None = None,
                 lookups: Mapping[str, Iterable[str]] | None = None) -> None:
        self.types = tuple(types)
        self.now_ms = now_ms
        self.first_id = first_id
        self.stamp = stamp
        self._unique_names = {t: tuple((unique or {}).get(t, ())) for t in self.types}
        self._lookup_names = {t: tuple((lookups or {}).get(t, ())) for t in self.types}
        self.clear()

    def clear(self) -> None:
        """Forget every record (ids start again at ``first_id``)."""
        self.next_id = self.first_id
        self.objects: dict[str, dict[int, Record]] = {t: {} for t in self.types}
        self.ids: dict[str, list[int]] = {t: [] for t in self.types}  # in insertion (= id) order
        self.unique: dict[str, dict[str, dict[str, int]]] = {
            t: {name: {} for name in self._unique_names[t]} for t in self.types}
        self.lookup: dict[str, dict[str, dict[str, set[int]]]] = {
            t: {name: {} for name in self._lookup_names[t]} for t in self.types}

    # -- writing ------------------------------------------------------------------------------------------------

    def new_id(self) -> int:
        rid = self.next_id
        self.next_id += 1
        return rid

    def insert(self, otype: str, props: Mapping[str, str | None], *, created: int | None = None,
               owned: bool = False) -> Record:
        """Store a new record (values already validated; None values are left out). ``owned``: ``props`` is a
        fresh dict without None values that the store may keep as it is (fast bulk seeding)."""
        now = self.now_ms() if created is None else created
        values = props if owned else {k: v for k, v in props.items() if v is not None}
        rec = Record(otype, self.new_id(), values, now)  # type: ignore[arg-type]
        if self.stamp is not None:
            self.stamp(rec, now, True)
        self.objects[otype][rec.id] = rec
        self.ids[otype].append(rec.id)
        self._index_add(rec)
        return rec

    def apply(self, rec: Record, changes: Mapping[str, str | None]) -> None:
        """Write values to a record (None clears one) and move ``updated`` forward."""
        self._index_remove(rec)
        for name, value in changes.items():
            if value is None:
                rec.props.pop(name, None)
            else:
                rec.props[name] = value
        rec.updated = max(self.now_ms(), rec.updated)
        if self.stamp is not None:
            self.stamp(rec, rec.updated, False)
        self._index_add(rec)

    def archive(self, rec: Record) -> bool:
        """Archive (soft-delete) a record; False when it already was."""
        if rec.archived:
            return False
        self._index_remove(rec)
        rec.archived = True
        rec.archived_at = self.now_ms()
        return True

    # -- reading ------------------------------------------------------------------------------------------------

    def get(self, otype: str, rid: int | str, *, archived: bool = False) -> Record | None:
        """The record with id ``rid`` if it is live (or archived, with ``archived=True``)."""
        try:
            rec = self.objects[otype].get(int(rid))
        except (TypeError, ValueError):
            return None
        if rec is None or rec.archived != archived:
            return None
        return rec

    def live(self, otype: str) -> Iterator[Record]:
        return (r for r in self.objects[otype].values() if not r.archived)

    def count(self, otype: str) -> int:
        return sum(1 for r in self.objects[otype].values() if not r.archived)

    def page(self, otype: str, after: int, limit: int, archived: bool = False) -> tuple[list[Record], int | None]:
        """Records with id > ``after`` in id order (one page of at most ``limit``), and the next page's cursor
        (the last id) or None when there is no more."""
        ids = self.ids[otype]
        recs = self.objects[otype]
        pos = bisect_right(ids, after)
        out: list[Record] = []
        while pos < len(ids) and len(out) < limit:
            rec = recs[ids[pos]]
            if rec.archived == archived:
                out.append(rec)
            pos += 1
        more = any(recs[i].archived == archived for i in islice(ids, pos, None))
        return out, (out[-1].id if out and more else None)

    # -- indexes ------------------------------------------------------------------------------------------------

    def unique_index(self, otype: str, name: str) -> dict[str, int]:
        """``value.lower() -> id`` of live records for property ``name`` (built on first use)."""
        index = self.unique[otype].get(name)
        if index is None:
            index = self.unique[otype][name] = {}
            for rec in self.objects[otype].values():
                if not rec.archived and rec.props.get(name) is not None:
                    index[rec.props[name].lower()] = rec.id
        return index

    def drop_unique(self, otype: str, name: str) -> None:
        self.unique[otype].pop(name, None)

    def find_unique(self, otype: str, name: str, value: str) -> Record | None:
        found = self.unique_index(otype, name).get(str(value).strip().lower())
        return self.get(otype, found) if found is not None else None

    def indexed_ids(self, otype: str, name: str, value: str) -> set[int] | None:
        """Ids of live records whose ``name`` equals ``value`` (case-insensitive), or None if ``name`` has no
        index (the caller then scans)."""
        if name in self.unique[otype]:
            found = self.unique_index(otype, name).get(value.lower())
            return {found} if found is not None else set()
        lookup = self.lookup[otype].get(name)
        if lookup is not None:
            return set(lookup.get(value.lower(), ()))
        return None

    def conflict(self, otype: str, changes: Mapping[str, str | None], own_id: int | None, names: Iterable[str],
                 pending: Mapping[tuple[str, str], int] | None = None) -> tuple[str, str, int] | None:
        """The first ``(property, value, existing id)`` among ``names`` whose new value another record (or an
        earlier input of the same batch, in ``pending``) already has; None when every value is free."""
        for name in names:
            value = changes.get(name)
            if value is None:
                continue
            existing = self.unique_index(otype, name).get(value.lower())
            if existing is None and pending is not None:
                existing = pending.get((name, value.lower()))
            if existing is not None and existing != own_id:
                return name, value, existing
        return None

    def _index_add(self, rec: Record) -> None:
        for name, index in self.unique[rec.type].items():
            v = rec.props.get(name)
            if v is not None:
                index[v.lower()] = rec.id
        for name, lookup in self.lookup[rec.type].items():
            v = rec.props.get(name)
            if v is not None:
                lookup.setdefault(v.lower(), set()).add(rec.id)

    def _index_remove(self, rec: Record) -> None:
        for name, index in self.unique[rec.type].items():
            v = rec.props.get(name)
            if v is not None and index.get(v.lower()) == rec.id:
                del index[v.lower()]
        for name, lookup in self.lookup[rec.type].items():
            v = rec.props.get(name)
            if v is not None:
                ids = lookup.get(v.lower())
                if ids:
                    ids.discard(rec.id)
