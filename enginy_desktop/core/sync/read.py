"""Reading the CRM side of a sync as planned: scans, batch reads by id or by a unique property, searches and
the records changed since the last sync, into one dict by id, counting the calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from enginy_desktop.adapters.base import CrmAdapter, CrmObject, CrmRecord, Operation
from enginy_desktop.core import catalog
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.runs import CancelToken, ProgressTracker

from .cache import _remember_size
from .local import LocalColumns
from .plan import _Plan, _plan_crm_side, _Planned
from .results import CRM_OBJECTS, OBJECT_LABELS

# -- reading the CRM side ------------------------------------------------------------------------------------------


class _Reader:
    """Reads CRM records into one dict by id, checking the cancel token between calls and reporting progress."""

    def __init__(self, adapter: CrmAdapter, object_: CrmObject, properties: Sequence[str],
                 token: CancelToken, tracker: ProgressTracker) -> None:
        self.adapter = adapter
        self.object = object_
        self.properties = list(properties)
        self.token = token
        self.tracker = tracker
        self.records: dict[str, CrmRecord] = {}
        self.pages = 0

    def _take(self, page: Iterable[CrmRecord]) -> int:
        n = 0
        for rec in page:
            self.records[rec.id] = rec
            n += 1
        self.pages += 1
        return n

    async def _pages(self, pages: AsyncIterator[list[CrmRecord]], advance_by_records: bool) -> None:
        self.token.raise_if_cancelled()
        async for page in pages:
            n = self._take(page)
            self.tracker.advance(n if advance_by_records else 0)
            self.token.raise_if_cancelled()

    async def scan(self) -> None:
        await self._pages(self.adapter.scan(self.object, self.properties), True)

    async def read_ids(self, ids: Sequence[str]) -> None:

        size = self.adapter.capabilities.batch(Operation.READ)
        for start in range(0, len(ids), size):
            self.token.raise_if_cancelled()
            chunk = list(ids[start:start + size])
            self._take(await self.adapter.read(self.object, chunk, self.properties))
            self.tracker.advance(len(chunk))

    async def read_unique(self, prop: str, values: Sequence[str]) -> None:

        size = self.adapter.capabilities.batch(Operation.READ)
        for start in range(0, len(values), size):
            self.token.raise_if_cancelled()
            chunk = list(values[start:start + size])
            self._take(await self.adapter.read_by_unique(self.object, prop, chunk, self.properties))
            self.tracker.advance(len(chunk))

    async def search(self, chunks: Sequence[Mapping[str, list[str]]], records: int) -> None:
        """``records``: the local records the chunks look up, spread over the chunks (the last reaches it)."""
        for i, chunk in enumerate(chunks):
            self.token.raise_if_cancelled()
            async for page in self.adapter.search_all(self.object, chunk, self.properties):
                self._take(page)
                self.token.raise_if_cancelled()
            n = len(chunks)
            self.tracker.advance(records * (i + 1) // n - records * i // n)

    async def changed_since(self, since: datetime) -> None:
        await self._pages(self.adapter.changed_since(self.object, since, self.properties), False)


def _crm_properties(rule: Rule) -> list[str]:
    return list(rule.crm_fields)


@dataclass
class _Side:
    """What was read of the CRM for one object."""

    records: dict[str, CrmRecord]
    strategy: str
    calls: int
    cached_positions: set[int]
    properties: frozenset[str] = frozenset()  # the properties every record read carries (absent: empty)


async def read_crm_side(
    ctx: Any,
    adapter: CrmAdapter,
    crm: str,
    object_: str,
    rule: Rule,
    local: LocalColumns,
    token: CancelToken,
    tracker: ProgressTracker,
    *,
    exclude_run: int | None = None,
    use_cache: bool = True,
    properties: Sequence[str] = (),
    planned: _Planned | None = None,
    reading: asyncio.Event | None = None,
) -> _Side:
    """Plan (a scan, lookups, or cached links + lookups) by estimated calls, then read. ``properties`` are read
    along with the identifier fields (an export's mapped fields: their current values come with the match read,
    at no extra call). ``planned``: the plan made already (a sync that showed its budget first). ``reading`` is
    set once the local work is done and the CRM is being read (work waiting for it then runs in the waits)."""
    calls_before = adapter.calls_made
    if planned is None:
        planned = await _plan_crm_side(ctx, adapter, crm, object_, rule, local, token, exclude_run=exclude_run,
                                       use_cache=use_cache)
    if reading is not None:
        reading.set()
    return await _read_planned(adapter, ctx, crm, object_, rule, token, tracker, properties, planned.plan,
                               planned.crm_total, planned.cached, calls_before)


async def _read_planned(adapter: CrmAdapter, ctx: Any, crm: str, object_: str, rule: Rule, token: CancelToken,
                        tracker: ProgressTracker, properties: Sequence[str], plan: _Plan, crm_total: int | None,
                        cached: set[int], calls_before: int | None) -> _Side:
    crm_object = CRM_OBJECTS[object_]
    crm_name = catalog.get(crm).name
    noun = OBJECT_LABELS[object_][1]
    wanted = list(dict.fromkeys([*_crm_properties(rule), *properties]))
    reader = _Reader(adapter, crm_object, wanted, token, tracker)
    if plan.mode == "scan":
        tracker.phase(f"Reading {crm_name} {noun}", crm_total, message="Listing every record's identifier fields")
        await reader.scan()
        tracker.set_total(tracker.done)  # what the listing found: the CRM's size may have moved since the count
        _remember_size(ctx, crm, object_, len(reader.records))
    else:
        # What advances the phase: ids re-read, unique values read, local records searched for.
        total = len(plan.reverify) + sum(len(g.values) if g.how == "read" else len(g.positions)
                                         for g in plan.groups if g.how != "scan" and g.positions)
        tracker.phase(f"Looking up {noun} in {crm_name}", total or None)
        if plan.since is not None:
            await reader.read_ids(plan.reverify)
            tracker.advance(0, message=f"Listing the {crm_name} {noun} changed since the last sync")
            await reader.changed_since(plan.since)
            tracker.advance(0, message="")
        for g in plan.groups:
            if not g.positions:
                continue
            if g.how == "read":
                await reader.read_unique(g.conditions[0].crm_field, g.values)
            elif g.how == "search":
                await reader.search(g.chunks, len(g.positions))
    made = adapter.calls_made
    calls = made - calls_before if made is not None and calls_before is not None else reader.pages
    used_cache = plan.mode != "scan" and plan.since is not None
    return _Side(reader.records, plan.describe(crm_name, crm_total), calls, cached if used_cache else set(),
                 frozenset(wanted))
