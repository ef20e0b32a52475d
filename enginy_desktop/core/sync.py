"""Sync: match a list's records with the CRM's and remember the links (DESIGN §5, issue 5). Writes nothing to
the CRM. Qt-free.

A sync of a contact list matches its contacts by the Contact Identifier and their companies (the companies the
contacts belong to) by the Company Identifier; a sync of a company list matches its companies. For each object:

1. **Local side**: the identifier fields of the records, read as columns from the workspace tables.
2. **CRM side**, with the fewest API calls the CRM allows, chosen per AND-group of the identifier and counted:

   * a group with an e-mail condition on a field the CRM keys records by (its ``unique_fields``) is read in
     batches by that property (the CRM's read batch size per call);
   * another group is searched with ``IN`` filters (one filter per condition, as many conditions per group and
     values per filter as the CRM's capabilities say, within its search rate limit) on the forms the CRM may hold
     for each value (the typed value and its normalized form, as typed too when its search does not fold case;
     LinkedIn and domain URL forms);
   * or the CRM is listed page by page with the identifier properties only (a *scan*), when that costs fewer
     calls than the searches — a big list against a small CRM — or when a condition cannot be searched
     exactly (a domain with *Include any domain extension*, a phone number). Search is exact for e-mails and as
     good as the CRM's data for names (``ACME, Inc.`` in the CRM is not found by searching ``Acme``), so
     searches of company names are weighed as costlier than they are and a scan wins unless the CRM is much
     bigger than the list.

   **Cached links**: a record this identifier already matched in an earlier sync (its journal says so, and the
   record has not changed since) is not searched again. The CRM records it was linked to are read again by id
   (100 per call: still there? still matching?) and the CRM records created or changed since that sync are
   listed once; since the other CRM records did not change, they still do not match. So a second sync of an
   unchanged list costs about one call per hundred matched records plus one.

3. **Matching** (:func:`core.matching.matcher.match`) in a worker thread, so the event loop keeps turning.
4. **Links** (:class:`CrmLink`: outcome, CRM id, why it matched, candidates) stored in batches, with the run's
   journal. An ambiguous record is never resolved silently: :func:`choose` / :func:`create_new` record the
   user's decision (outcomes ``chosen`` / ``create_new``), which later syncs keep while it still applies.

Everything runs as a ``runs`` row of kind ``sync`` with progress and cooperative cancellation: a cancelled sync
keeps the links it stored and says how many.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enginy_desktop.adapters.base import AdapterError, Capabilities, CrmAdapter, CrmObject, CrmRecord, Operation
from enginy_desktop.core import catalog
from enginy_desktop.core.matching.matcher import Columns, DuplicateRisk, MatchResult, Outcome, duplicate_risk, match
from enginy_desktop.core.matching.normalize import Kind, normalize_column
from enginy_desktop.core.matching.rules import AndGroup, Condition, Rule
from enginy_desktop.core.models import Company, Contact, CrmLink, ListMembership, RunItem, utcnow
from enginy_desktop.core.models import ContactList as ListRow
from enginy_desktop.core.runs import CancelToken, ProgressCallback, ProgressTracker, RunCancelled, RunInfo
from enginy_desktop.core.services import crm as crm_service
from enginy_desktop.core.services.budget import BudgetCheck

log = logging.getLogger(__name__)

__all__ = [
    "OBJECT_LABELS",
    "Candidate",
    "LinkRow",
    "ObjectSync",
    "RiskReport",
    "SyncBudget",
    "SyncError",
    "SyncRefused",
    "SyncResult",
    "candidate_details",
    "check_duplicate_risk",
    "choose",
    "create_new",
    "estimate_sync",
    "link_counts",
    "link_rows",
    "sync_list",
]

OBJECT_LABELS = {"contact": ("contact", "contacts"), "company": ("company", "companies")}
CRM_OBJECTS = {"contact": CrmObject.CONTACTS, "company": CrmObject.COMPANIES}
MODELS: dict[str, Any] = {"contact": Contact, "company": Company}

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
CHANGE_MARGIN = timedelta(minutes=10)  # search indexes lag behind writes, clocks differ: look back further
SAVE_BATCH = 1000
CHAIN_RUNS = 20  # how many earlier syncs with the same identifier may provide cached links



class SyncError(Exception):
    """A readable refusal (no such list, an identifier that cannot be used…)."""


class SyncRefused(SyncError):
    """The sync was refused before anything was read or stored (``budget``: not enough of the CRM's daily budget
    left today; :class:`SyncBudget` has the numbers)."""

    def __init__(self, message: str, budget: SyncBudget | None = None) -> None:
        super().__init__(message)
        self.budget = budget


# -- results -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectSync:
    """What the sync did for one object (contacts, or companies)."""

    object: str  # "contact" | "company"
    total: int
    counts: Mapping[str, int]  # matched, new, ambiguous, unmatchable, chosen, create_new
    strategy: str  # how the CRM side was read, in words
    api_calls: int
    crm_records: int  # CRM records read
    stored: int  # links stored
    rule: str  # the identifier, in words

    @property
    def matched(self) -> int:
        return self.counts.get("matched", 0) + self.counts.get("chosen", 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "total": self.total,
            "counts": dict(self.counts),
            "strategy": self.strategy,
            "api_calls": self.api_calls,
            "crm_records_read": self.crm_records,
            "links_stored": self.stored,
            "identifier": self.rule,
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    run_id: int
    crm: str
    list_id: int
    list_name: str
    objects: Mapping[str, ObjectSync]
    api_calls: int
    seconds: float
    cancelled: bool = False
    message: str = ""

    @property
    def primary(self) -> ObjectSync | None:
        """The list's own records (contacts of a contact list, companies of a company list)."""
        return next(iter(self.objects.values()), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "crm": self.crm,
            "list": self.list_name,
            "cancelled": self.cancelled,
            "api_calls": self.api_calls,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "objects": {k: v.as_json() for k, v in self.objects.items()},
        }


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


@dataclass(frozen=True, slots=True)
class RiskReport:
    """The duplicate-risk check of one identifier on a list's data."""

    object: str
    rule: str
    risk: DuplicateRisk
    suggestion: str  # the tighter identifier, in the product's words ("" when there is none)
    api_calls: int
    strategy: str

    @property
    def message(self) -> str:
        if not self.risk.risky:
            plural = OBJECT_LABELS[self.object][1]
            return f"No duplicate risk found: every one of these {plural} either matches one CRM record or is new."
        return self.risk.message

    def as_json(self) -> dict[str, Any]:
        cur = self.risk.current
        return {
            "object": self.object,
            "identifier": self.rule,
            "total": cur.total,
            "ambiguous": cur.ambiguous,
            "unmatchable": cur.unmatchable,
            "created_again": self.risk.rescued,
            "at_risk": self.risk.at_risk,
            "suggestion": self.suggestion,
            "message": self.message,
            "api_calls": self.api_calls,
        }


# -- local records -------------------------------------------------------------------------------------------------


@dataclass
class _Local:
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


def _load_local(store: Any, list_id: int, object_: str, fields: Sequence[str], via_contacts: bool) -> _Local:
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
    return _Local(object_, ids, columns, updated)


@dataclass(frozen=True, slots=True)
class _Link:
    crm_id: str | None
    outcome: str
    candidates: tuple[str, ...]
    linked_at: datetime


def _load_links(store: Any, crm: str, object_: str, ids: Sequence[int]) -> dict[int, _Link]:
    out: dict[int, _Link] = {}
    with store.session() as s:
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            rows = s.execute(
                select(CrmLink.local_id, CrmLink.crm_id, CrmLink.outcome, CrmLink.candidates, CrmLink.linked_at)
                .where(CrmLink.crm == crm, CrmLink.object == object_, CrmLink.local_id.in_(chunk))
            )
            for local_id, crm_id, outcome, candidates, linked_at in rows:
                out[local_id] = _Link(crm_id, outcome, tuple(str(c) for c in candidates or ()),
                                      _aware(linked_at) or utcnow())
    return out


# -- planning the CRM side -------------------------------------------------------------------------------------------


def rule_signature(rule: Rule) -> str:
    text_ = json.dumps(rule.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text_.encode()).hexdigest()[:16]


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


def _normalized(rule: Rule, local: _Local) -> dict[tuple[str, Kind], list[str | None]]:
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
    local: _Local,
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
    rule: Rule, local: _Local, norm: Mapping[tuple[str, Kind], list[str | None]], positions: list[int],
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

    async def search(self, chunks: Sequence[Mapping[str, list[str]]], records_per_chunk: float) -> None:
        for chunk in chunks:
            self.token.raise_if_cancelled()
            async for page in self.adapter.search_all(self.object, chunk, self.properties):
                self._take(page)
                self.token.raise_if_cancelled()
            self.tracker.advance(max(1, round(records_per_chunk)))

    async def changed_since(self, since: datetime) -> None:
        await self._pages(self.adapter.changed_since(self.object, since, self.properties), False)


def _crm_properties(rule: Rule) -> list[str]:
    return list(rule.crm_fields)


def _cache_supported(adapter: CrmAdapter) -> bool:
    return type(adapter).changed_since is not CrmAdapter.changed_since


@dataclass
class _Side:
    """What was read of the CRM for one object."""

    records: dict[str, CrmRecord]
    strategy: str
    calls: int
    cached_positions: set[int]
    properties: frozenset[str] = frozenset()  # the properties every record read carries (absent: empty)


@dataclass
class _Planned:
    """How the CRM side of one object will be read, before any record is."""

    plan: _Plan
    crm_total: int | None
    cached: set[int]


async def _read_crm_side(
    ctx: Any,
    adapter: CrmAdapter,
    crm: str,
    object_: str,
    rule: Rule,
    local: _Local,
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


async def _plan_crm_side(ctx: Any, adapter: CrmAdapter, crm: str, object_: str, rule: Rule, local: _Local,
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
    read_calls = math.ceil(len(reverify) / caps.batch(Operation.READ)) + 1  # + the changes since
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
        scan_calls = math.ceil(crm_total / caps.batch(Operation.SCAN_PAGE)) if crm_total is not None else None
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
    return _Planned(plan, crm_total, cached)


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
        _remember_size(ctx, crm, object_, len(reader.records))
    else:
        total = len(plan.reverify) + sum(len(g.positions) for g in plan.groups if g.how != "scan")
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
                per_chunk = len(g.positions) / max(1, len(g.chunks))
                await reader.search(g.chunks, per_chunk)
    made = adapter.calls_made
    calls = made - calls_before if made is not None and calls_before is not None else reader.pages
    used_cache = plan.mode != "scan" and plan.since is not None
    return _Side(reader.records, plan.describe(crm_name, crm_total), calls, cached if used_cache else set(),
                 frozenset(wanted))


# -- the CRM's daily budget against a sync ----------------------------------------------------------------------------


def _size_key(crm: str, object_: str) -> str:
    return f"sync:crm-size:{crm}:{object_}"


def _remember_size(ctx: Any, crm: str, object_: str, n: int) -> None:
    """How many records the last full listing of the CRM found: what the next sync's budget estimate counts with
    when the CRM cannot say its size (Pipedrive)."""
    try:
        ctx.store.set_meta(_size_key(crm, object_), str(n))
    except Exception as exc:  # a read-only or full store: the estimate is only less precise
        log.warning("Could not keep the size of %s %s: %s", crm, object_, exc)


def _known_size(ctx: Any, crm: str, object_: str) -> int | None:
    raw = ctx.store.meta(_size_key(crm, object_))
    return int(raw) if raw and raw.isdigit() else None


def _plan_units(ctx: Any, crm: str, object_: str, planned: _Planned, caps: Capabilities) -> tuple[int, bool]:
    """Units of ``caps.budget`` reading the CRM side as ``planned`` costs, and whether that is only a lower bound
    (a listing of a CRM whose size is not known yet)."""
    budget = caps.budget
    assert budget is not None
    plan = planned.plan
    if plan.mode == "scan":
        size = planned.crm_total if planned.crm_total is not None else _known_size(ctx, crm, object_)
        pages = max(1, math.ceil((size or 0) / caps.batch(Operation.SCAN_PAGE)))
        return budget.cost_of(Operation.SCAN_PAGE, pages), size is None
    units = 0
    if plan.since is not None:
        units += budget.cost_of(Operation.READ, math.ceil(len(plan.reverify) / caps.batch(Operation.READ)))
        units += budget.cost_of(Operation.SCAN_PAGE, 1)  # the records changed since, usually one page
    for g in plan.groups:
        if g.positions and g.how == "read":
            units += budget.cost_of(Operation.READ, g.calls(planned.crm_total))
        elif g.positions and g.how == "search":
            units += budget.cost_of(Operation.SEARCH_PAGE, g.calls(planned.crm_total))
    return units, False


@dataclass(frozen=True)
class SyncBudget:
    """What a sync would spend of the CRM's daily budget and what is left today (``check``), and whether the
    figure is a lower bound (``at_least``: the CRM's size is not known before a first listing)."""

    check: BudgetCheck
    at_least: bool = False
    lists_everything: bool = False  # the sync lists every CRM record: its cost does not shrink with the list

    def line(self, crm_name: str) -> str:
        text = self.check.line(crm_name, "sync")
        if self.at_least:
            text = text.replace("needs about", "needs at least", 1)
        return text

    def refusal(self, crm_name: str) -> str:
        text = self.check.refusal(crm_name, "sync") + " Nothing was read or stored."
        if self.at_least:
            text = text.replace("needs about", "needs at least", 1)
        if self.lists_everything:
            return text + (f" The sync lists every {crm_name} record whatever the size of the list, so a smaller "
                           "list would cost the same: sync after the budget resets.")
        return text + " Sync a smaller list, or sync after the budget resets."

    def as_json(self) -> dict[str, Any]:
        c = self.check
        return {"unit": c.unit, "needed": c.needed, "at_least": self.at_least, "remaining": c.remaining,
                "per_day": c.per_day, "fits": c.fits}


async def _sync_budget(ctx: Any, adapter: CrmAdapter, crm: str, planned: Mapping[str, _Planned]) -> SyncBudget | None:
    caps = adapter.capabilities
    if caps.budget is None:
        return None
    needed, at_least = 0, False
    for object_, p in planned.items():
        units, lower = _plan_units(ctx, crm, object_, p, caps)
        needed += units
        at_least = at_least or lower
    check = BudgetCheck.of(caps, needed, await adapter.budget_left())
    assert check is not None
    return SyncBudget(check, at_least, any(p.plan.mode == "scan" for p in planned.values()))


async def _plan_all(ctx: Any, adapter: CrmAdapter, crm: str, list_id: int, list_kind: str, objects: Sequence[str],
                    rules: Mapping[str, Rule], token: CancelToken, tracker: ProgressTracker, *, use_cache: bool,
                    exclude_run: int | None = None) -> tuple[dict[str, _Local], dict[str, _Planned]]:
    locals_: dict[str, _Local] = {}
    planned: dict[str, _Planned] = {}
    for object_ in objects:
        many = OBJECT_LABELS[object_][1]
        tracker.phase(f"Reading the list's {many}")
        rule = rules[object_]
        locals_[object_] = await asyncio.to_thread(_load_local, ctx.store, list_id, object_, rule.local_fields,
                                                   object_ == "company" and list_kind == "contacts")
        token.raise_if_cancelled()
        planned[object_] = await _plan_crm_side(ctx, adapter, crm, object_, rule, locals_[object_], token,
                                                exclude_run=exclude_run, use_cache=use_cache)
    return locals_, planned


async def estimate_sync(ctx: Any, list_ref: str | int, *, crm: str | None = None,
                        use_cache: bool = True) -> SyncBudget | None:
    """What a sync of the list would spend of the CRM's daily budget, and what is left (None when the CRM has no
    daily budget). Plans as the sync would (it may ask the CRM its size: one call); reads no record."""
    key = crm or crm_service.active_crm_key(ctx)
    crm_service.require_connected(ctx, key)
    list_id, _name, list_kind = _find_list(ctx, list_ref)
    objects = ["contact", "company"] if list_kind == "contacts" else ["company"]
    async with crm_service.open_crm(ctx, key) as adapter:
        if adapter.capabilities.budget is None:
            return None
        rules = identifier_rules(ctx, key, adapter)
        _locals, planned = await _plan_all(ctx, adapter, key, list_id, list_kind, objects, rules, CancelToken(),
                                           ProgressTracker(None), use_cache=use_cache)
        return await _sync_budget(ctx, adapter, key, planned)


def _cached_positions(
    ctx: Any, crm: str, object_: str, rule: Rule, local: _Local, comparable: list[int], exclude_run: int | None,
) -> tuple[set[int], list[str], datetime | None]:
    """Positions of local records whose link the same identifier made in an earlier sync (journaled there, the
    record unchanged since), the CRM ids those links name, and the moment to list CRM changes from."""
    signature = rule_signature(rule)
    chain: list[RunInfo] = []
    for run in ctx.runs.history(kind="sync", crm=crm, limit=200):
        if run.id == exclude_run or run.started_at is None:
            continue
        sig = (run.options.get("signatures") or {}).get(object_)
        if sig is None:
            continue
        if sig != signature:
            break  # links written after this run may come from another identifier: stop here
        chain.append(run)
        if len(chain) >= CHAIN_RUNS:
            break
    if not chain:
        return set(), [], None
    position = {lid: p for p, lid in enumerate(local.ids)}
    wanted = {local.ids[p] for p in comparable}
    reference: dict[int, datetime] = {}  # local id -> start of the newest sync that matched it
    with ctx.store.session() as s:
        for run in chain:  # newest first
            rows = s.execute(select(RunItem.local_id).where(
                RunItem.run_id == run.id, RunItem.object == object_, RunItem.state == "done"))
            assert run.started_at is not None
            for (local_id,) in rows:
                if local_id in wanted and local_id not in reference:
                    reference[local_id] = run.started_at
    if not reference:
        return set(), [], None
    links = _load_links(ctx.store, crm, object_, list(reference))
    cached: set[int] = set()
    ids: dict[str, None] = {}
    oldest: datetime | None = None
    for local_id, started in reference.items():
        link = links.get(local_id)
        pos = position[local_id]
        changed = local.updated[pos]
        if link is None or link.linked_at < started or (changed is not None and changed >= started):
            continue
        cached.add(pos)
        if link.crm_id:
            ids[link.crm_id] = None
        ids.update(dict.fromkeys(link.candidates))
        oldest = started if oldest is None or started < oldest else oldest
    if oldest is None:
        return set(), [], None
    return cached, list(ids), oldest - CHANGE_MARGIN


# -- matching and storing ------------------------------------------------------------------------------------------

OUTCOME_KEYS = ("matched", "new", "ambiguous", "unmatchable", "chosen", "create_new")


def _decide(result: MatchResult, previous: Mapping[int, _Link]) -> list[tuple[int, str, str | None, str, list[str]]]:
    """(local id, outcome, CRM id, why, candidates) per record, keeping the user's decisions that still apply."""
    out = []
    for rec in result:
        local_id = int(rec.local_id)  # type: ignore[call-overload]
        outcome = rec.outcome.value
        crm_id = str(rec.crm_id) if rec.crm_id is not None else None
        candidates = [str(c) for c in rec.candidates]
        why = rec.why
        before = previous.get(local_id)
        if rec.outcome is Outcome.AMBIGUOUS and before is not None:
            if before.outcome == "chosen" and before.crm_id in candidates:
                outcome, crm_id, why = "chosen", before.crm_id, _chosen_why(len(candidates))
            elif before.outcome == "create_new" and set(candidates) <= set(before.candidates):
                outcome, why = "create_new", CREATE_NEW_WHY
        if rec.outcome is Outcome.MATCHED and before is not None and before.outcome == "chosen" \
                and before.crm_id == crm_id:
            outcome, why = "chosen", _chosen_why(len(before.candidates))
        out.append((local_id, outcome, crm_id, why, candidates))
    return out


CREATE_NEW_WHY = "You chose to create a new record"


def _chosen_why(n: int) -> str:
    return f"Chosen by you among {n} matching records" if n > 1 else "Chosen by you"


@dataclass
class _Stored:
    """Links stored so far for one object (kept up to date batch by batch, so a cancel can say what was kept)."""

    stored: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_KEYS, 0))


def _store_links(
    ctx: Any, crm: str, object_: str, run_id: int, decided: Sequence[tuple[int, str, str | None, str, list[str]]],
    token: CancelToken, tracker: ProgressTracker, prefix: str, state: _Stored,
) -> _Stored:
    """Upsert links and journal them, a batch per transaction; stops between batches when cancelled."""
    for start in range(0, len(decided), SAVE_BATCH):
        token.raise_if_cancelled()
        batch = decided[start:start + SAVE_BATCH]
        now = utcnow()
        rows = [{"crm": crm, "object": object_, "local_id": lid, "crm_id": cid, "outcome": outcome, "why": why,
                 "candidates": cands, "linked_at": now} for lid, outcome, cid, why, cands in batch]
        stmt = sqlite_insert(CrmLink).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["crm", "object", "local_id"],
            set_={k: stmt.excluded[k] for k in ("crm_id", "outcome", "why", "candidates", "linked_at")},
        )
        items = [{"run_id": run_id, "object": object_, "local_id": lid, "action": outcome, "state": "done",
                  "crm_id": cid, "attempt": 1, "updated_at": now} for lid, outcome, cid, _, _ in batch]
        item_stmt = sqlite_insert(RunItem).values(items)
        item_stmt = item_stmt.on_conflict_do_update(
            index_elements=["run_id", "object", "local_id"],
            set_={k: item_stmt.excluded[k] for k in ("action", "state", "crm_id", "updated_at")},
        )
        delta = dict.fromkeys(OUTCOME_KEYS, 0)
        for _, outcome, _, _, _ in batch:
            delta[outcome] += 1
        with ctx.store.write() as s:
            s.execute(stmt)
            s.execute(item_stmt)
        state.stored += len(batch)
        for k, v in delta.items():
            state.counts[k] += v
        folded = _fold(delta)
        folded.pop("resolved")
        tracker.advance(len(batch), counters={f"{prefix}{k}": v for k, v in folded.items() if v})
        if run_id:
            ctx.runs.add_counters(run_id, {f"{prefix}{k}": v for k, v in _fold(delta).items() if v})
    return state


def _fold(counts: Mapping[str, int]) -> dict[str, int]:
    """The tiles' view of outcomes: matched (incl. records the user chose), new (incl. create-new decisions),
    ambiguous (still to decide), unmatchable; ``resolved`` counts the decisions."""
    return {
        "matched": counts.get("matched", 0) + counts.get("chosen", 0),
        "new": counts.get("new", 0) + counts.get("create_new", 0),
        "ambiguous": counts.get("ambiguous", 0),
        "unmatchable": counts.get("unmatchable", 0),
        "resolved": counts.get("chosen", 0) + counts.get("create_new", 0),
    }


# -- the sync run ----------------------------------------------------------------------------------------------------


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


def _summary(result_objects: Mapping[str, ObjectSync], cancelled: bool, stage: str) -> str:
    parts = []
    for object_, res in result_objects.items():
        many = OBJECT_LABELS[object_][1]
        f = _fold(res.counts)
        bits = [f"{f['matched']:,} matched", f"{f['new']:,} new"]
        if f["ambiguous"]:
            bits.append(f"{f['ambiguous']:,} ambiguous")
        if f["unmatchable"]:
            bits.append(f"{f['unmatchable']:,} unmatchable")
        parts.append(f"{many.capitalize()}: " + ", ".join(bits))
    text_ = "; ".join(parts) + "." if parts else ""
    if cancelled:
        stored = sum(r.stored for r in result_objects.values())
        kept = f"{stored:,} link{'s' if stored != 1 else ''} stored before it stopped are kept" if stored else \
            "nothing had been stored yet"
        text_ = f"Sync cancelled while {stage}: {kept}. Run the sync again to finish. {text_}".strip()
    return text_


async def sync_list(
    ctx: Any,
    list_ref: str | int,
    *,
    crm: str | None = None,
    progress: ProgressCallback | None = None,
    token: CancelToken | None = None,
    use_cache: bool = True,
    on_run: Callable[[int], None] | None = None,
    on_budget: Callable[[SyncBudget], None] | None = None,
) -> SyncResult:
    """Sync a list with the enabled CRM (or ``crm``): match, store the links, and return what happened.

    Refusals the user can fix raise :class:`SyncError` or ``CrmServiceError`` (no CRM enabled or connected)
    before any run is recorded. A CRM failure during the run marks the run failed (links stored before stay)
    and raises the ``AdapterError``. Cancelling (``token``) stops between API calls or storage batches; the
    result then has ``cancelled`` set and says what was kept. ``on_run(run_id)`` is called once the run exists.

    On a CRM with a daily budget (``Capabilities.budget``) the sync is planned first and ``on_budget`` gets what
    it needs and what is left today; a sync that needs more is refused (:class:`SyncError`, with the numbers)
    before anything is read or stored.
    """
    token = token or CancelToken()
    key = crm or crm_service.active_crm_key(ctx)
    crm_service.require_connected(ctx, key)
    list_id, list_name, list_kind = _find_list(ctx, list_ref)
    objects = ["contact", "company"] if list_kind == "contacts" else ["company"]
    crm_name = catalog.get(key).name
    started = time.monotonic()

    async with crm_service.open_crm(ctx, key) as adapter:
        rules = identifier_rules(ctx, key, adapter)
        calls_start = adapter.calls_made or 0
        tracker = ProgressTracker(progress)
        locals_: dict[str, _Local] = {}
        planned: dict[str, _Planned] = {}
        budget: SyncBudget | None = None
        if adapter.capabilities.budget is not None:  # what it costs is known before anything is read
            # (A Cancel meanwhile is seen as the run starts, so the run says what it kept.)
            locals_, planned = await _plan_all(ctx, adapter, key, list_id, list_kind, objects, rules, CancelToken(),
                                               tracker, use_cache=use_cache)
            budget = await _sync_budget(ctx, adapter, key, planned)
            if budget is not None:
                if on_budget is not None:
                    on_budget(budget)
                if not budget.check.fits:
                    raise SyncRefused(budget.refusal(crm_name), budget)
        options = {
            "signatures": {o: rule_signature(rules[o]) for o in objects},
            "identifiers": {o: rules[o].display for o in objects},
            "include_any_extension": rules["company"].include_any_extension,
            "objects": objects,
        }
        if budget is not None:
            options["budget"] = budget.as_json()
        run = ctx.runs.create("sync", crm=key, list_id=list_id, list_name=list_name, options=options, start=True)
        if on_run is not None:
            on_run(run.id)
        tracker.run_id = run.id
        done: dict[str, ObjectSync] = {}
        stage = "starting"
        try:
            for object_ in objects:
                prefix = "" if object_ == objects[0] else "companies_"
                rule = rules[object_]
                one, many = OBJECT_LABELS[object_]
                stage = f"reading the {many}"
                local = locals_.get(object_)
                if local is None:
                    tracker.phase(f"Reading the list's {many}")
                    local = await asyncio.to_thread(_load_local, ctx.store, list_id, object_, rule.local_fields,
                                                    object_ == "company" and list_kind == "contacts")
                ctx.runs.add_counters(run.id, {f"{prefix}total": len(local.ids)})
                token.raise_if_cancelled()
                previous = await asyncio.to_thread(_load_links, ctx.store, key, object_, local.ids)
                stage = f"reading {crm_name}"
                side = await _read_crm_side(ctx, adapter, key, object_, rule, local, token, tracker,
                                            exclude_run=run.id, use_cache=use_cache, planned=planned.get(object_))
                stage = f"matching the {many}"
                tracker.phase(f"Matching {many}", len(local.ids))
                local_cols = Columns(local.ids, local.columns)
                crm_side = cast(Mapping[Hashable, Any], side.records)

                def match_and_decide(rule: Rule = rule, local_cols: Columns = local_cols, crm_side: Any = crm_side,
                                     previous: Mapping[int, _Link] = previous) -> list[Any]:
                    return _decide(match(rule, local_cols, crm_side), previous)

                decided = await asyncio.to_thread(match_and_decide)
                token.raise_if_cancelled()
                stage = f"storing the {many}' links"
                tracker.phase(f"Storing {one} links", len(decided))
                kept = _Stored()

                def record(state: _Stored = kept, local: _Local = local, side: _Side = side, rule: Rule = rule,
                           object_: str = object_) -> None:
                    done[object_] = ObjectSync(object_, len(local.ids), dict(state.counts), side.strategy,
                                               side.calls, len(side.records), state.stored, rule.display)

                try:
                    await asyncio.to_thread(_store_links, ctx, key, object_, run.id, decided, token, tracker, prefix,
                                            kept)
                finally:
                    record()
                log.info("Synced %s %s of list %s with %s: %s; %d calls (%s)", len(local.ids), many, list_name,
                         key, kept.counts, side.calls, side.strategy)
        except RunCancelled:
            calls = (adapter.calls_made or 0) - calls_start
            message = _summary(done, True, stage)
            ctx.runs.finish(run.id, "cancelled", counters={"api_calls": calls}, error=message)
            tracker.flush()
            return SyncResult(run.id, key, list_id, list_name, done, calls, time.monotonic() - started, True,
                              message)
        except (AdapterError, SyncError) as exc:
            calls = (adapter.calls_made or 0) - calls_start
            ctx.runs.finish(run.id, "failed", error=str(exc), counters={"api_calls": calls})
            raise
        except BaseException as exc:  # a bug, or the task was cancelled: the run must not stay "running"
            calls = (adapter.calls_made or 0) - calls_start
            state = "interrupted" if isinstance(exc, asyncio.CancelledError) else "failed"
            reason = "The sync was stopped." if state == "interrupted" else f"Unexpected error: {exc}"
            ctx.runs.finish(run.id, state, error=reason, counters={"api_calls": calls})
            raise
        calls = (adapter.calls_made or 0) - calls_start
        ctx.runs.finish(run.id, "finished", counters={"api_calls": calls})
        _prune_journals(ctx, key, list_id, run.id)
        message = _summary(done, False, "")
        tracker.flush()
        return SyncResult(run.id, key, list_id, list_name, done, calls, time.monotonic() - started, False, message)


def _prune_journals(ctx: Any, crm: str, list_id: int, keep_run: int) -> None:
    """Older syncs of the same list keep their history row but not their per-record journal (the links say the
    same, newer)."""
    older = [r.id for r in ctx.runs.history(kind="sync", crm=crm, list_id=list_id, limit=1000)
             if r.id != keep_run and not r.active and r.options.get("signatures")
             == ctx.runs.get(keep_run).options.get("signatures")]
    if older:
        with ctx.store.write() as s:
            s.execute(delete(RunItem).where(RunItem.run_id.in_(older)))


# -- reading and deciding links (the result view, the command line) --------------------------------------------------


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


# -- duplicate risk --------------------------------------------------------------------------------------------------


def _suggestion_text(object_: str, risk: DuplicateRisk) -> str:
    if risk.suggested_rule is None:
        return ""
    if object_ == "contact":
        return "LinkedIn profile URL OR First name + Last name + Company name"
    return "Include any domain extension"


async def check_duplicate_risk(
    ctx: Any,
    list_ref: str | int,
    *,
    object: str = "contact",
    rule: Rule | None = None,
    crm: str | None = None,
    token: CancelToken | None = None,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> RiskReport:
    """How many of the list's records the identifier (``rule``, default: the saved one) would leave ambiguous or
    unmatchable, or create again although the tighter identifier of the troubleshooting table finds them.

    The CRM side is read as a sync reads it (for the identifier and the suggested one together), re-using the
    links of earlier syncs when it can. Nothing is stored."""
    from enginy_desktop.core.matching.matcher import _suggest

    token = token or CancelToken()
    key = crm or crm_service.active_crm_key(ctx)
    crm_service.require_connected(ctx, key)
    list_id, _, list_kind = _find_list(ctx, list_ref)
    if list_kind == "companies" and object == "contact":
        raise SyncError("This is a list of companies: check the Company Identifier instead.")
    crm_object = CRM_OBJECTS[object]
    tracker = ProgressTracker(progress)
    async with crm_service.open_crm(ctx, key) as adapter:
        rule = rule or identifier_rules(ctx, key, adapter)[object]
        role_fields = adapter.identifier_fields(crm_object)
        suggested = _suggest(rule, object, role_fields)
        combined = rule if suggested is None else Rule(
            tuple(dict.fromkeys((*rule.groups, *suggested.groups))), suggested.include_any_extension)
        fields = list(dict.fromkeys((*rule.local_fields, *combined.local_fields)))
        local = await asyncio.to_thread(_load_local, ctx.store, list_id, object, fields,
                                        object == "company" and list_kind == "contacts")
        side = await _read_crm_side(ctx, adapter, key, object, combined, local, token, tracker,
                                    use_cache=use_cache and suggested is None)
        tracker.phase("Checking the identifier", len(local.ids))
        risk = await asyncio.to_thread(duplicate_risk, rule, Columns(local.ids, local.columns),
                                       cast(Mapping[Hashable, Any], side.records),
                                       object_type=object, crm_fields=role_fields)
    return RiskReport(object, rule.display, risk, _suggestion_text(object, risk), side.calls, side.strategy)

