"""Planning the CRM side of a sync: per AND-group of the identifier a batch read by a unique property, ``IN``
searches, or a scan of the whole CRM, whichever costs the fewest (weighted) calls; with the cached links of
earlier syncs when that is cheaper still."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from enginy_desktop.adapters.base import Capabilities, CrmAdapter, Operation
from enginy_desktop.core import catalog
from enginy_desktop.core.matching.normalize import Kind, normalize_column
from enginy_desktop.core.matching.rules import AndGroup, Condition, Rule
from enginy_desktop.core.runs import CancelToken

from .cache import _cache_supported, _cached_positions
from .local import LocalColumns
from .results import CRM_OBJECTS, OBJECT_LABELS

log = logging.getLogger(__name__)

# How faithfully a search finds the CRM records a condition would match (1 = exactly; inf = cannot search):
# the planner multiplies a search's calls by it before comparing with a scan.
SEARCH_WEIGHT: dict[Kind, float] = {
    Kind.EMAIL: 1.0,
    Kind.LINKEDIN_URL: 1.5,
    Kind.DOMAIN: 1.5,
    Kind.PERSON_NAME: 2.0,
    Kind.TEXT: 2.0,
    Kind.COMPANY_NAME: 4.0,
    Kind.PHONE: math.inf,
}
MAX_FILTER_WEIGHT = 2.0  # conditions searched together in one filter group (the others are checked locally)


def search_is_exact(kind: Kind, caps: Capabilities) -> bool:
    """Whether a search by the values :func:`_search_forms` sends finds *every* CRM record whose value normalizes
    to the local record's — the condition for a search to give the same outcome as listing every record.

    Only e-mails qualify, and only where the CRM's search folds case: their normalized form is the trimmed,
    lowercased address. A name's normalized form drops accents, apostrophes, periods and legal forms, which a
    search comparing the stored text cannot undo (``Ines`` never finds ``Inés``, ``ONeill`` never finds
    ``O'Neill``, whatever forms are asked for); LinkedIn URLs and domains have unbounded stored variants
    (country subdomains, query strings, paths, sub-domains). Such conditions are never sent as search filters:
    a filter group ANDs its filters, so one that misses a form loses the match. A group with no exact condition
    is read by listing the CRM's identifier fields, and the normalized comparison decides locally."""
    return kind is Kind.EMAIL and caps.search_folds_case


_INEXACT = {  # what a search comparing stored text cannot see through, by kind
    Kind.PERSON_NAME: ("names", "accents, apostrophes, periods"),
    Kind.COMPANY_NAME: ("company names", "accents, punctuation, legal forms"),
    Kind.LINKEDIN_URL: ("LinkedIn URLs", "URL variants"),
    Kind.DOMAIN: ("domains", "URL variants, sub-domains"),
    Kind.PHONE: ("phone numbers", "number formats"),
    Kind.TEXT: ("text", "spacing"),
}


def _inexact_reason(groups: Iterable[AndGroup]) -> str:
    kinds = {c.kind for g in groups for c in g.conditions}
    found = [_INEXACT[k] for k in _INEXACT if k in kinds]
    if not found:
        return ""
    details = ", ".join(dict.fromkeys(part for _, d in found for part in d.split(", ")))
    return f"{', '.join(w for w, _ in found)} as stored ({details})"


def _search_forms(kind: Kind, raw: Any, normalized: str, folds_case: bool = True) -> list[str]:
    """The values a CRM may hold for one local value: the typed value, its normalized form and, for URLs, the
    usual URL forms. A CRM whose search folds case gets them lowercased (one form per spelling); one that does
    not gets the typed value as typed too. Accents: the normalized form has none, the typed one keeps them."""
    spaced = " ".join(str(raw).split()) if raw is not None else ""
    typed = spaced.lower()
    if kind is Kind.EMAIL:
        forms = [normalized]
    elif kind is Kind.LINKEDIN_URL:
        forms = [f"https://www.{normalized}", f"https://www.{normalized}/", typed]
    elif kind is Kind.DOMAIN:
        forms = [normalized, f"www.{normalized}", typed]
    else:
        forms = [typed, normalized]
    if not folds_case:
        forms.insert(0, spaced)
    return list(dict.fromkeys(f for f in forms if f))


@dataclass
class _GroupPlan:
    index: int
    how: str  # "read" | "search" | "scan"
    conditions: list[Condition]
    weight: float
    positions: list[int]  # local records to look up for this group
    chunks: list[dict[str, list[str]]] = field(default_factory=list)  # search: property -> values
    shares: list[float] = field(default_factory=list)  # search: expected share of the CRM each chunk finds
    values: list[str] = field(default_factory=list)  # read: distinct unique values
    read_batch: int = 100
    page: int = 200
    unique: bool = False  # search by a unique field: each value finds at most one record

    def calls(self, crm_total: int | None) -> int:
        """Estimated calls. A search's results are estimated from how common its values are in the list (a
        chunk of common last names finds much of the CRM); without the CRM's size, one page per chunk. A search by
        a unique field counts the pages it would need if every value were found (an upper bound)."""
        if not self.positions:
            return 0
        if self.how == "read":
            return math.ceil(len(self.values) / self.read_batch)
        if self.how == "search" and self.unique:
            return sum(max(1, math.ceil(sum(len(v) for v in c.values()) / self.page)) for c in self.chunks)
        if self.how == "search":
            if crm_total is None:
                return len(self.chunks)
            return sum(max(1, math.ceil(crm_total * share / self.page)) for share in self.shares)
        return 0


@dataclass
class _Plan:
    mode: str  # "scan" | "lookups"
    groups: list[_GroupPlan]
    estimate: float
    calls: int
    reverify: list[str] = field(default_factory=list)  # cached mode: CRM ids to read again
    since: datetime | None = None  # cached mode: changes since
    why_scan: str = ""  # the fields no search of this CRM finds exactly, when that forced the scan

    def describe(self, crm_name: str, crm_total: int | None) -> str:
        if self.mode == "scan":
            total = f" ({crm_total:,} records)" if crm_total is not None else ""
            why = (f": {catalog.possessive(crm_name)} search compares {self.why_scan}, so only a full listing "
                   "finds every match"
                   if self.why_scan else "")
            return f"listed every {crm_name} record's identifier fields{total}{why}"
        parts = []
        if self.since is not None:
            parts.append(f"re-read {len(self.reverify):,} linked records by id and the records changed since "
                         "the last sync")
        reads = sum(len(g.values) for g in self.groups if g.how == "read" and g.positions)
        if reads:
            field_ = next(g.conditions[0].crm_field for g in self.groups if g.how == "read")
            parts.append(f"read {reads:,} records by {field_}")
        searched = [g for g in self.groups if g.how == "search" and g.positions]
        if searched:
            fields = sorted({c.crm_field for g in searched for c in g.conditions})
            parts.append(f"searched by {', '.join(fields)} ({sum(len(g.chunks) for g in searched):,} searches)")
        return "; ".join(parts) or "nothing to look up"


def _normalized(rule: Rule, local: LocalColumns) -> dict[tuple[str, Kind], list[str | None]]:
    out: dict[tuple[str, Kind], list[str | None]] = {}
    for group in rule.groups:
        for cond in group.conditions:
            key = (cond.local_field, cond.kind)
            if key not in out:
                out[key] = normalize_column(local.columns[cond.local_field], cond.kind,
                                            any_extension=rule.include_any_extension)
    return out


def _complete(group: AndGroup, norm: Mapping[tuple[str, Kind], list[str | None]], pos: int) -> bool:
    return all(norm[(c.local_field, c.kind)][pos] is not None for c in group.conditions)


def _plan_group(
    gi: int,
    group: AndGroup,
    rule: Rule,
    local: LocalColumns,
    norm: Mapping[tuple[str, Kind], list[str | None]],
    positions: list[int],
    unique: frozenset[str],
    caps: Capabilities,
) -> _GroupPlan:
    todo = [p for p in positions if _complete(group, norm, p)]
    read_batch = caps.batch(Operation.READ)
    per_in = caps.batch(Operation.SEARCH_IN_VALUES)
    page = caps.batch(Operation.SEARCH_PAGE)
    for cond in group.conditions:
        if cond.kind is Kind.EMAIL and cond.crm_field in unique:
            values = [v for v in dict.fromkeys(norm[(cond.local_field, cond.kind)][p] for p in todo) if v]
            read = _GroupPlan(gi, "read", [cond], 1.0, todo, values=values, read_batch=read_batch)
            # A search that ORs several IN filters asks for more addresses per call than a batch read: taken when,
            # even if every address were found (one result each), it needs fewer calls.
            wide = per_in * max(1, caps.search_in_groups)
            if caps.search_in and search_is_exact(cond.kind, caps) and wide > read_batch and values:
                wide_chunks = [{cond.crm_field: values[i:i + wide]} for i in range(0, len(values), wide)]
                search = _GroupPlan(gi, "search", [cond], 1.0, todo, chunks=wide_chunks, page=page, unique=True)
                if search.calls(None) < read.calls(None):
                    return search
            return read
    weights = {c: SEARCH_WEIGHT.get(c.kind, math.inf) for c in group.conditions}
    if rule.include_any_extension:
        weights = {c: (math.inf if c.kind is Kind.DOMAIN else w) for c, w in weights.items()}
    # Only conditions a search finds exactly may filter: the others are compared locally after the read.
    weights = {c: (w if search_is_exact(c.kind, caps) else math.inf) for c, w in weights.items()}
    finite = [c for c in group.conditions if weights[c] < math.inf]
    if not finite or not caps.search_in:
        return _GroupPlan(gi, "scan", list(group.conditions), math.inf, todo)
    # As many conditions in one filter group as the CRM takes (the others are checked locally).
    per_group = min(caps.search_filters_per_group or len(finite), caps.search_filters_per_request or len(finite))
    used = [c for c in finite if weights[c] <= MAX_FILTER_WEIGHT][:max(1, per_group)] or [
        min(finite, key=lambda c: weights[c])]
    weight = max(weights[c] for c in used)
    # How common each value is in the list: a stand-in for how common it is in the CRM.
    n = max(1, len(local.ids))
    frequency: dict[Condition, dict[str, int]] = {}
    for c in used:
        counts: dict[str, int] = {}
        for value in norm[(c.local_field, c.kind)]:
            if value is not None:
                counts[value] = counts.get(value, 0) + 1
        frequency[c] = counts
    chunks: list[dict[str, list[str]]] = []
    shares: list[float] = []
    current: dict[str, dict[str, None]] = {}
    keys: dict[Condition, set[str]] = {c: set() for c in used}
    records = 0
    seen: set[tuple[str, ...]] = set()

    def close() -> None:
        nonlocal current, keys, records
        chunks.append({f: list(v) for f, v in current.items()})
        share = 1.0
        for c in used:
            share *= min(1.0, sum(frequency[c][k] for k in keys[c]) / n)
        shares.append(share)
        current, keys, records = {}, {c: set() for c in used}, 0

    for p in todo:
        key = tuple(norm[(c.local_field, c.kind)][p] or "" for c in used)
        if key in seen:
            continue
        seen.add(key)
        forms = {c.crm_field: _search_forms(c.kind, local.columns[c.local_field][p], key[i], caps.search_folds_case)
                 for i, c in enumerate(used)}
        fits = records < per_in and all(len(current.get(f, {}).keys() | set(v)) <= per_in for f, v in forms.items())
        if current and not fits:
            close()
        for f, v in forms.items():
            current.setdefault(f, {}).update(dict.fromkeys(v))
        for i, c in enumerate(used):
            keys[c].add(key[i])
        records += 1
    if current:
        close()
    return _GroupPlan(gi, "search", used, weight, todo, chunks=chunks, shares=shares, page=page)


def _plan_lookups(
    rule: Rule, local: LocalColumns, norm: Mapping[tuple[str, Kind], list[str | None]], positions: list[int],
    unique: frozenset[str], caps: Capabilities,
) -> list[_GroupPlan]:
    return [_plan_group(gi, g, rule, local, norm, positions, unique, caps) for gi, g in enumerate(rule.groups)]


def _lookup_cost(groups: list[_GroupPlan], crm_total: int | None) -> tuple[float, int]:
    """(weighted cost, calls) of looking up by reads and searches; inf when a group can only be scanned."""
    weighted = 0.0
    calls = 0
    for g in groups:
        if not g.positions:
            continue
        if g.how == "scan":
            return math.inf, 0
        n = g.calls(crm_total)
        weighted += n * g.weight
        calls += n
    return weighted, calls


@dataclass
class _Planned:
    """How the CRM side of one object will be read, before any record is."""

    plan: _Plan
    crm_total: int | None
    cached: set[int]
    changed: int | None = None  # records changed since the last sync, when the CRM said


def _changed_pages(changed: int | None, caps: Capabilities) -> int:
    """Pages of the records changed since the last sync: one when the CRM cannot say how many."""
    return max(1, math.ceil((changed or 0) / caps.batch(Operation.SEARCH_PAGE)))


async def _plan_crm_side(ctx: Any, adapter: CrmAdapter, crm: str, object_: str, rule: Rule, local: LocalColumns,
                         token: CancelToken, *, exclude_run: int | None = None, use_cache: bool = True) -> _Planned:
    """The cheapest way to read the CRM side of ``object_`` (a scan, lookups, or cached links + lookups), by
    estimated calls; may ask the CRM its size (one call)."""
    crm_object = CRM_OBJECTS[object_]
    noun = OBJECT_LABELS[object_][1]
    caps = adapter.capabilities
    unique = adapter.unique_fields(crm_object)
    cache_ok = use_cache and _cache_supported(adapter)

    def prepare() -> tuple[list[int], set[int], list[str], datetime | None, list[_GroupPlan], list[_GroupPlan]]:
        """Normalizing and planning walk every record: done in a worker thread, the event loop keeps turning."""
        norm = _normalized(rule, local)
        comparable = [p for p in range(len(local.ids)) if any(_complete(g, norm, p) for g in rule.groups)]
        # Cached links: records the same identifier matched in an earlier sync, unchanged since.
        cached: set[int] = set()
        reverify: list[str] = []
        since: datetime | None = None
        if cache_ok and comparable:
            cached, reverify, since = _cached_positions(ctx, crm, object_, rule, local, comparable, exclude_run)
        full = _plan_lookups(rule, local, norm, comparable, unique, caps) if comparable else []
        partial: list[_GroupPlan] = []
        if cached:
            partial = _plan_lookups(rule, local, norm, [p for p in comparable if p not in cached], unique, caps)
        return comparable, cached, reverify, since, full, partial

    comparable, cached, reverify, since, full, partial = await asyncio.to_thread(prepare)
    token.raise_if_cancelled()
    # The records changed since the last sync: as many pages as the CRM says (one cheap call), else one.
    changed: int | None = None
    if cached and since is not None:
        changed = await adapter.count_changed_since(crm_object, since)
    read_calls = math.ceil(len(reverify) / caps.batch(Operation.READ)) + _changed_pages(changed, caps)
    # The CRM's size decides between searching and listing everything; asking costs one call, worth it only
    # when a search or a scan is in play.
    crm_total: int | None = None
    in_play = [g for g in (*full, *partial) if g.positions and g.how != "read"]
    if in_play:
        token.raise_if_cancelled()
        crm_total = await adapter.count(crm_object)
    options: list[tuple[float, _Plan]] = []
    full_cost, full_calls = _lookup_cost(full, crm_total)
    if not comparable:
        options.append((0.0, _Plan("lookups", [], 0.0, 0)))
    else:
        if full_cost < math.inf:
            options.append((full_cost, _Plan("lookups", full, full_cost, full_calls)))
        scan_calls: int | None = None
        if crm_total is not None:  # a listing's pages: its records as the CRM counts them toward a page
            listed = await adapter.listed_records(crm_object, list(rule.crm_fields), crm_total)
            scan_calls = math.ceil(listed / caps.batch(Operation.SCAN_PAGE))
        if scan_calls is not None or full_cost == math.inf:
            cost = float(scan_calls) if scan_calls is not None else 1e12
            why = ""
            if full_cost == math.inf:
                why = _inexact_reason(rule.groups[g.index] for g in full if g.how == "scan" and g.positions)
            options.append((cost, _Plan("scan", [], cost, scan_calls or 0, why_scan=why)))
        if cached and since is not None:
            part_cost, part_calls = _lookup_cost(partial, crm_total)
            if part_cost < math.inf:
                cost = part_cost + read_calls
                options.append((cost, _Plan("lookups", partial, cost, part_calls + read_calls, reverify=reverify,
                                            since=since)))
    options.sort(key=lambda o: (o[0], o[1].mode != "scan"))
    plan = options[0][1]
    log.info("Sync %s %s: %s%s, about %s calls (CRM holds %s; options %s)", crm, noun, plan.mode,
             " with cached links" if plan.since else "", plan.calls, crm_total,
             [(round(c, 1), p.mode, p.since is not None) for c, p in options])
    return _Planned(plan, crm_total, cached, changed)
