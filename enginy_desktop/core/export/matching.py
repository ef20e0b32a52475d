"""Which CRM record each local record is, for an export: the sync's links when they can be trusted, else the
identifier (Step 1) matched against the CRM.

- A link the sync (or an earlier export) stored as **matched** / **chosen** is used as it is; the export reads
  that CRM record's current values anyway, which also shows when it no longer exists (it is then matched again).
- A link saying **new**, **create new**, **ambiguous** or **unmatchable** is trusted only while it is fresh
  (:data:`LINK_MAX_AGE`) and the local record has not changed since: the CRM may have gained the record since.
- Everything else goes through the sync module's reading of the CRM side (fewest calls: batch reads by e-mail,
  ``IN`` searches or a scan, and its cached links) and the matcher; the matched records' current values are then
  read by id in batches.

The result is a :class:`Resolution`: per local record its outcome, CRM id, why it matched and candidates, plus the
current values of the CRM records that were read while matching.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select

from enginy_desktop.adapters.base import CrmAdapter, CrmObject, Value
from enginy_desktop.core.matching.matcher import Columns, Outcome, match
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.models import CrmLink
from enginy_desktop.core.runs import CancelToken, ProgressTracker

log = logging.getLogger(__name__)

LINK_MAX_AGE = timedelta(minutes=30)

__all__ = ["LINK_MAX_AGE", "Match", "Resolution", "forget", "identifier_fields", "resolve"]


@dataclass(frozen=True, slots=True)
class Match:
    outcome: str  # matched, new, ambiguous, unmatchable (chosen -> matched, create_new -> new)
    crm_id: str | None = None
    why: str = ""
    candidates: tuple[str, ...] = ()
    duplicates: tuple[int, ...] = ()  # other new local records that are the same record
    from_link: bool = False


_NEW = Match("new")  # a record no CRM record matches (and no other local record): immutable, shared


@dataclass
class Resolution:
    matches: dict[int, Match] = field(default_factory=dict)
    values: dict[str, dict[str, Value | None]] = field(default_factory=dict)  # CRM id -> field -> value


def drain(container: Any) -> None:
    """Empty a big dict or list an item at a time, so that freeing it never holds the interpreter lock long (the
    window's event loop keeps turning while a worker thread plans)."""
    if isinstance(container, dict):
        pop = container.popitem
        while container:
            pop()
    elif isinstance(container, list):
        while container:
            del container[-64:]


def identifier_fields(adapter: CrmAdapter) -> dict[str, dict[str, str]]:
    """Per object (``contact``/``company``), the CRM field playing each Step 1 role, as the adapter declares."""
    return {obj: {str(k): str(v) for k, v in adapter.identifier_fields(crm_object).items()}
            for obj, crm_object in (("contact", CrmObject.CONTACTS), ("company", CrmObject.COMPANIES))}


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _links(ctx: Any, crm: str, obj: str, ids: Sequence[int]) -> dict[int, CrmLink]:
    found: dict[int, CrmLink] = {}
    with ctx.store.session() as s:
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            rows = s.scalars(
                select(CrmLink).where(CrmLink.crm == crm, CrmLink.object == obj, CrmLink.local_id.in_(chunk))
            )
            for row in rows:
                s.expunge(row)
                found[row.local_id] = row
    return found


def _trusted(link: CrmLink, changed_at: datetime | None, now: datetime, max_age: timedelta) -> Match | None:
    """The link's match, when it may be used without asking the CRM again."""
    if link.outcome in ("matched", "chosen") and link.crm_id:
        return Match("matched", str(link.crm_id), link.why or "linked by sync", from_link=True)
    linked = _aware(link.linked_at)
    if linked is None or now - linked > max_age:
        return None
    changed = _aware(changed_at)
    if changed is not None and changed > linked:
        return None
    outcome = {"create_new": "new"}.get(link.outcome, link.outcome)
    if outcome not in ("new", "ambiguous", "unmatchable"):
        return None
    return Match(outcome, None, link.why or "", tuple(str(c) for c in (link.candidates or ())), from_link=True)


async def resolve(
    ctx: Any,
    adapter: CrmAdapter,
    crm: str,
    obj: str,
    rule: Rule,
    records: Mapping[int, Mapping[str, Any]],
    properties: Sequence[str],
    *,
    use_links: bool = True,
    max_age: timedelta = LINK_MAX_AGE,
    now: datetime | None = None,
    tracker: ProgressTracker | None = None,
    token: CancelToken | None = None,
    reading: asyncio.Event | None = None,
) -> Resolution:
    """Match ``records`` (local id -> its fields, including ``updated_at``) of ``obj`` (``contact``/``company``).
    ``reading`` is set when the local work is done and the CRM is being read (or there is nothing to read)."""
    now = now or datetime.now(UTC)
    resolution = Resolution()
    links = _links(ctx, crm, obj, list(records)) if use_links else {}
    for local_id, link in links.items():
        row = records.get(local_id)
        trusted = _trusted(link, row.get("updated_at"), now, max_age) if row is not None else None
        if trusted is not None:
            resolution.matches[local_id] = trusted
    drain(links)  # the stored links (whole rows) are not needed while the CRM is read: the plan's highest point
    pending = [local_id for local_id in records if local_id not in resolution.matches]
    try:
        if pending:
            await _fetch_and_match(ctx, adapter, crm, obj, rule, records, pending, properties, resolution, tracker,
                                   token, reading)
    finally:
        if reading is not None:
            reading.set()
    _group_new_records(rule, records, resolution)
    return resolution


def forget(resolution: Resolution, rule: Rule, records: Mapping[int, Mapping[str, Any]], ids: Sequence[int]) -> None:
    """Take the local records of ``ids`` out of ``resolution`` (looked up, then found not to be exported): their
    matches go, no record counts them among its duplicates any more, and the new records among ``records`` (the
    ones still exported) are grouped again without them: the answer :func:`resolve` gives for ``records`` alone."""
    gone = set(ids)
    for local_id in gone:
        resolution.matches.pop(local_id, None)
    for local_id, m in list(resolution.matches.items()):
        if m.duplicates and not gone.isdisjoint(m.duplicates):
            resolution.matches[local_id] = replace(m, duplicates=tuple(d for d in m.duplicates if d not in gone))
    _group_new_records(rule, records, resolution)


def _group_new_records(rule: Rule, records: Mapping[int, Mapping[str, Any]], resolution: Resolution) -> None:
    """Local records that match no CRM record but match each other become one CRM record (DESIGN §5).

    The groups are found again over every new record, whichever way it was resolved: a sync's stored "new" links
    carry no groups, and a record linked by an earlier sync may be the duplicate of one resolved just now. The
    comparison is local (the matcher against an empty CRM side), so it costs no API call."""
    new_ids = [local_id for local_id, m in resolution.matches.items() if m.outcome == "new"]
    if len(new_ids) < 2:
        return
    columns = {f: [records[i].get(f) for i in new_ids] for f in rule.local_fields}
    grouped = match(rule, Columns(new_ids, columns), {})
    for m in grouped:
        if m.outcome is not Outcome.NEW:
            continue
        local_id = int(m.local_id)  # type: ignore[call-overload]
        duplicates = tuple(int(d) for d in m.duplicates)  # type: ignore[call-overload]
        current = resolution.matches[local_id]
        if duplicates != current.duplicates:
            resolution.matches[local_id] = replace(current, duplicates=duplicates)


async def _fetch_and_match(
    ctx: Any,
    adapter: CrmAdapter,
    crm: str,
    obj: str,
    rule: Rule,
    records: Mapping[int, Mapping[str, Any]],
    ids: list[int],
    properties: Sequence[str],
    resolution: Resolution,
    tracker: ProgressTracker | None,
    token: CancelToken | None,
    reading: asyncio.Event | None = None,
) -> None:
    """Read the CRM side of the ``records`` of ``ids`` the way a sync does (:mod:`enginy_desktop.core.sync`: batch
    reads by a unique field, ``IN`` searches, or a scan — whichever costs fewest calls — plus its cached links) and
    match.

    The same read carries the current values of ``properties`` (one read, not two): a matched record's values
    are taken from it."""
    from enginy_desktop.core import sync

    fields = list(rule.local_fields)
    local = sync.LocalColumns(obj, ids, {f: [records[i].get(f) for i in ids] for f in fields},
                        [_aware(records[i].get("updated_at")) for i in ids])
    side = await sync.read_crm_side(ctx, adapter, crm, obj, rule, local, token or CancelToken(),
                                     tracker or ProgressTracker(None), properties=properties, reading=reading)
    complete = set(properties) <= side.properties
    result = match(rule, Columns(local.ids, local.columns), cast(Mapping[Hashable, Any], side.records))
    for m in result:
        local_id = int(m.local_id)  # type: ignore[call-overload]
        crm_id = str(m.crm_id) if m.crm_id is not None else None
        if m.outcome is Outcome.NEW and not (m.why or m.candidates or m.duplicates):
            resolution.matches[local_id] = _NEW  # most of a big list: one shared answer, not one object each
            continue
        resolution.matches[local_id] = Match(
            m.outcome.value, crm_id, m.why, tuple(str(c) for c in m.candidates),
            tuple(int(d) for d in m.duplicates),  # type: ignore[call-overload]
        )
        if m.outcome is Outcome.MATCHED and crm_id is not None and properties:
            rec = side.records.get(crm_id)
            if rec is not None and (complete or all(p in rec.properties for p in properties)):
                # The record's own values (it holds the identifier's fields too): no copy per matched record.
                props = rec.properties
                resolution.values[crm_id] = props if isinstance(props, dict) else {p: rec.get(p) for p in properties}
    # What was read and compared is freed an item at a time (one C call freeing 100,000 results would hold the
    # interpreter lock long enough to pause the window's event loop).
    drain(side.records)
    for column in local.columns.values():
        drain(column)


async def read_values(adapter: CrmAdapter, obj: str, ids: Sequence[str], properties: Sequence[str],
                      resolution: Resolution) -> None:
    """Read the current ``properties`` of CRM records ``ids`` (batches of the adapter's read size)."""
    crm_object = CrmObject.CONTACTS if obj == "contact" else CrmObject.COMPANIES
    for rec in await adapter.read(crm_object, list(dict.fromkeys(ids)), list(properties)):
        resolution.values[rec.id] = {p: rec.get(p) for p in properties}
