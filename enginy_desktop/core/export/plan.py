"""The export plan (DESIGN §6 "Runs": plan -> preview -> run -> report).

:func:`plan_export` works out, before anything is written, what an export of a list (or a selection of it) would
do in the enabled CRM:

- it refuses with the product's words when the export cannot be done (no enabled CRM, not connected or missing
  credentials, no export mapping — FAQ Q2 —, a field mapped in the wrong tab — the troubleshooting row —, an
  export field value the CRM field cannot hold);
- it converts every value to its CRM field's type (a value that cannot be converted blocks that record, with the
  reason, before any request);
- it finds each record in the CRM (:mod:`.matching`: the sync's links, else the Step 1 identifier), reading the
  current values of the mapped fields in the same requests, in batches;
- it applies the field rules (:mod:`.values`) to decide per record **create**, **update** (with every field's
  before -> after), **unchanged** or **blocked** (ambiguous, unmatchable, invalid value), and merges local
  duplicates into one record;
- with **Export associated companies**, the same for each contact's company, and the association changes of the
  Association Type, counting the associations "primary and remove previous" would remove;
- the campaign properties (Step 3), the activities to log from campaign events (with their owner from Identities
  Mapping) and the engagement fields they set; the owners from Users Mapping, with warnings for users and
  identities that are not mapped.

The :class:`Plan` is what the preview renders (counts, :meth:`Plan.summary_lines` such as "312 job titles would be
overwritten", :meth:`Plan.rows` for the table) and what :func:`enginy_desktop.core.export.run.start_export` writes.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from enginy_desktop.adapters.base import (
    AdapterError,
    CrmAdapter,
    CrmField,
    CrmObject,
    CrmUser,
    FieldType,
    Value,
)
from enginy_desktop.core import fields as enginy_fields
from enginy_desktop.core.campaigns import Event, EventType, Step, StepKind, derive_properties, ordinal
from enginy_desktop.core.catalog import possessive
from enginy_desktop.core.collector import collector_paused
from enginy_desktop.core.crm_config import (
    FAQ_NO_EXPORT_MAPPING,
    PRIMARY_REMOVE_WARNING,
    TROUBLESHOOTING_CROSS_OBJECT,
    AssociationType,
    CampaignProperty,
    CrmConfig,
    EngagementSource,
    MappingKind,
    ObjectType,
    Severity,
    validate,
)
from enginy_desktop.core.matching.normalize import normalizer_for
from enginy_desktop.core.models import (
    ActivityLink,
    AppUser,
    Campaign,
    CampaignEvent,
    CampaignLead,
    CampaignStep,
    Company,
    Contact,
    Identity,
    ListMembership,
)
from enginy_desktop.core.runs import CancelToken, ProgressTracker

from . import matching
from .values import ConversionError, Effect, Mode, decide, decide_owner, to_crm

log = logging.getLogger(__name__)

__all__ = [
    "ExportOptions",
    "ExportRefused",
    "FieldStat",
    "Plan",
    "PlanOp",
    "PlanRecord",
    "plan_export",
]

# Actions of a record. UPSERT: written by a unique key without reading the CRM first (a blind upsert plan); the
# CRM creates the record or updates the one holding that key, and says which when it answers.
CREATE, UPDATE, UNCHANGED, BLOCKED, MERGE, UPSERT = "create", "update", "unchanged", "blocked", "merge", "upsert"
ACTIONS = (CREATE, UPDATE, UPSERT, UNCHANGED, MERGE, BLOCKED)


class ExportRefused(Exception):
    """The export cannot be done; ``str()`` says why and what to do. ``code`` groups refusals:
    ``no_crm``, ``not_connected``, ``missing_credentials``, ``no_export_mapping``, ``cross_object``,
    ``invalid_config``, ``no_list``, ``empty``, ``export_value``, ``crm_error``."""

    def __init__(self, message: str, code: str, problems: Sequence[str] = (), *, split: Sequence[int] = (),
                 split_units: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.problems = list(problems)
        # ``budget``: the beginning of the list that fits in what is left today (ExportOptions.record_ids for
        # "export the first N now, the rest after the reset") and what it needs; empty when nothing fits.
        self.split = tuple(split)
        self.split_units = split_units


@dataclass(frozen=True)
class ExportOptions:
    """What the export dialog (or the command line) asks.

    ``export_values`` gives the Export fields' values: keys are a CRM field's name or label, optionally prefixed
    with ``contact.`` or ``company.``. ``record_ids`` restricts the export to a selection of the list.
    ``unmatchable_as_new`` is the user's confirmation that records the identifier cannot compare are created.
    ``read_current`` asks for the CRM's current values (before -> after in the preview) even where the
    configuration allows a blind upsert (:meth:`Plan.blind`), at the cost of the reads.
    """

    associated_companies: bool = False
    campaign_properties: bool = True
    activities: bool = True
    export_values: Mapping[str, str] = field(default_factory=dict)
    record_ids: tuple[int, ...] | None = None
    unmatchable_as_new: bool = False
    exporter_id: int | None = None  # the Enginy user exporting (default: the current user)
    read_current: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "associated_companies": self.associated_companies,
            "campaign_properties": self.campaign_properties,
            "activities": self.activities,
            "export_values": dict(self.export_values),
            "record_ids": list(self.record_ids) if self.record_ids is not None else None,
            "unmatchable_as_new": self.unmatchable_as_new,
            "exporter_id": self.exporter_id,
            "read_current": self.read_current,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportOptions:
        ids = data.get("record_ids")
        return cls(
            associated_companies=bool(data.get("associated_companies")),
            campaign_properties=bool(data.get("campaign_properties", True)),
            activities=bool(data.get("activities", True)),
            export_values=dict(data.get("export_values") or {}),
            record_ids=tuple(int(i) for i in ids) if ids is not None else None,
            unmatchable_as_new=bool(data.get("unmatchable_as_new")),
            exporter_id=data.get("exporter_id"),
            read_current=bool(data.get("read_current")),
        )


_NO_CHANGES: list[Any] = []  # shared by the records that have none; replaced, never appended to


@dataclass(slots=True)
class PlanRecord:
    """One contact or company and what the export does to it."""

    object: str  # contact | company
    local_id: int
    label: str
    action: str  # create | update | unchanged | merge | blocked
    crm_id: str | None = None
    payload: dict[str, Value] = field(default_factory=dict)  # CRM field -> canonical value to send
    # (CRM field, before, after, effect) for every mapped field with a value or a CRM value (update); on create
    # the payload is the change list.
    changes: list[tuple[str, Value | None, Value | None, str]] = field(default_factory=list)
    code: str = ""  # why blocked: ambiguous, unmatchable, invalid_value, not_found
    reason: str = ""
    leader: int | None = None  # merge: the local record it becomes one CRM record with
    company_id: int | None = None  # a contact's local company
    why: str = ""  # how it matched
    candidates: tuple[str, ...] = ()
    # How a create is re-checked (see ``lookup``): the payload's field named, not a dict of its own per record.
    lookup_field: str | None = None
    lookup_other: dict[str, str] | None = None  # a re-check value that is not the payload's

    @property
    def lookup(self) -> dict[str, str]:
        """The unique CRM field -> value a create is re-checked by (empty: none)."""
        if self.lookup_other is not None:
            return self.lookup_other
        value = self.payload.get(self.lookup_field) if self.lookup_field is not None else None
        return {self.lookup_field: str(value)} if value is not None else {}  # type: ignore[dict-item]

    @lookup.setter
    def lookup(self, lookup: Mapping[str, str]) -> None:
        self.lookup_field = self.lookup_other = None
        if len(lookup) == 1:
            ((name, value),) = lookup.items()
            held = self.payload.get(name)
            if held is not None and str(held) == value:
                self.lookup_field = name
                return
        if lookup:
            self.lookup_other = dict(lookup)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "object": self.object, "id": self.local_id, "label": self.label, "action": self.action,
            "crm_id": self.crm_id,
        }  # fmt: skip
        if self.action in (CREATE, UPSERT):
            data["values"] = dict(self.payload)
        elif self.changes:
            data["changes"] = [
                {"field": f, "before": b, "after": a, "effect": e} for f, b, a, e in self.changes
            ]
        if self.code:
            data["code"], data["reason"] = self.code, self.reason
        if self.leader is not None:
            data["merged_into"] = self.leader
        if self.why:
            data["why"] = self.why
        if self.candidates:
            data["candidates"] = list(self.candidates)
        return data


@dataclass(slots=True)
class PlanOp:
    """An association change or an activity: ``kind`` is associate, primary, remove or activity."""

    kind: str
    contact_id: int | None
    company_id: int | None = None
    event_id: int | None = None
    from_crm_id: str | None = None
    to_crm_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "contact": self.contact_id}
        for key in ("company_id", "event_id", "from_crm_id", "to_crm_id"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.payload:
            data["details"] = dict(self.payload)
        return data


@dataclass(frozen=True, slots=True)
class FieldStat:
    """How one CRM field fares across the plan."""

    object: str
    field: str
    label: str
    set: int = 0  # created records receiving it
    fill: int = 0  # updated records whose empty field is filled
    overwrite: int = 0  # updated records whose value is replaced
    keep: int = 0  # updated records keeping a different CRM value (Overwrite off)


def _plural(label: str) -> str:
    words = label.strip().split()
    if not words:
        return label
    last = words[-1].lower()
    if last.endswith("y") and not last.endswith(("ay", "ey", "oy", "uy")):
        plural = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh")):
        plural = last + "es"
    else:
        plural = last + "s"
    return " ".join([*(w.lower() if not w.isupper() else w for w in words[:-1]), plural])


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


@dataclass
class BudgetEstimate:
    """What a run would spend of the CRM's daily budget (``Capabilities.budget``) and what is left of it."""

    unit: str  # requests | tokens | credits
    needed: int
    remaining: int | None
    per_day: int | None

    def line(self, crm_name: str) -> str:
        unit = self.unit.removesuffix("s") if self.needed == 1 else self.unit
        text = f"{possessive(crm_name)} daily budget: this export needs about {self.needed:,} {unit}" if self.needed \
            else f"Nothing to write, so this export needs none of {possessive(crm_name)} daily budget"
        if self.remaining is not None:
            of = f" of {self.per_day:,}" if self.per_day else ""
            text += f"; {self.remaining:,}{of} are left today"
        return text + "."


@dataclass(frozen=True)
class BlindUpsert:
    """A plan that writes without reading (DESIGN §6 and §12): each object's records are upserted by a unique
    field the CRM creates-or-updates on (``keys``: object -> (CRM field, its label)).

    Allowed only when reading could not change what is written: the identifier is that one unique field, every
    mapped field has Overwrite on (an update writes exactly what a create would), no owner is set (an owner is
    written on update only where the CRM's is empty) and no association is changed (that needs the current
    associations). The price: no before -> after, and the previous values are never known, so nothing can put
    them back."""

    keys: Mapping[str, tuple[str, str]]

    def key_label(self, obj: str) -> str:
        name, label = self.keys[obj]
        return label or name


@dataclass
class Plan:
    """What an export would do; the preview renders it and :func:`.run.start_export` carries it out."""

    crm: str
    crm_name: str
    list_id: int
    list_name: str
    list_kind: str  # contacts | companies
    options: ExportOptions
    association_type: AssociationType
    records: list[PlanRecord]
    ops: list[PlanOp]
    warnings: list[str]
    labels: dict[tuple[str, str], str]  # (object, CRM field) -> label
    api_calls: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    budget: BudgetEstimate | None = None  # the CRM's daily budget (requests, tokens, credits) against this run
    blind: BlindUpsert | None = None  # written by upsert, without reading the CRM (see BlindUpsert)
    why_read: str = ""  # why a plan that reads could not be a blind upsert ("" when it is one, or not asked)

    # -- counts -------------------------------------------------------------------------------------------------
    def counts(self, obj: str | None = None) -> dict[str, int]:
        """Records per action (create, update, unchanged, merge, blocked — and upsert in a blind upsert plan),
        for one object or all."""
        c = Counter(r.action for r in self.records if obj is None or r.object == obj)
        return {a: c.get(a, 0) for a in ACTIONS if a != UPSERT or self.blind is not None}

    def op_counts(self) -> dict[str, int]:
        c = Counter(o.kind for o in self.ops)
        return {k: c.get(k, 0) for k in ("associate", "primary", "remove", "activity")}

    @property
    def removals(self) -> int:
        """Associations that "primary and remove previous" would remove."""
        return sum(1 for o in self.ops if o.kind == "remove")

    @property
    def needs_confirmation(self) -> bool:
        return self.removals > 0

    @property
    def confirmation_text(self) -> str:
        """The explicit confirmation "primary and remove previous" needs, naming how many are removed."""
        if not self.removals:
            return ""
        n = self.removals
        contacts = len({o.contact_id for o in self.ops if o.kind == "remove"})
        return (
            f"This export will remove {_count(n, 'company association')} from {_count(contacts, 'contact')} in "
            f"{self.crm_name} (Association Type: {self.association_type.label}). {PRIMARY_REMOVE_WARNING} "
            "Every removed association is journaled, and the run's report can restore them."
        )

    @property
    def blocked_reasons(self) -> dict[str, int]:
        return dict(Counter(r.reason or r.code for r in self.records if r.action == BLOCKED))

    def field_stats(self) -> list[FieldStat]:
        stats: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in self.records:
            if r.action == CREATE:
                for name in r.payload:
                    stats[(r.object, name)]["set"] += 1
            elif r.action in (UPDATE, UNCHANGED):
                for name, _before, _after, effect in r.changes:
                    if effect in ("fill", "overwrite", "keep"):
                        stats[(r.object, name)][effect] += 1
        return [
            FieldStat(obj, name, self.labels.get((obj, name), name), **counts)
            for (obj, name), counts in sorted(stats.items())
        ]

    def summary_lines(self) -> list[str]:
        """What the preview says before anything is written, most important first."""
        lines = []
        for obj in ("company", "contact"):
            c = self.counts(obj)
            if not any(c.values()):
                continue
            noun, plural = ("company", "companies") if obj == "company" else ("contact", "contacts")
            if self.blind is not None and obj in self.blind.keys:
                parts = [f"{c.get(UPSERT, 0):,} created or updated by {self.blind.key_label(obj)}"]
                if c[CREATE]:
                    parts.append(f"{c[CREATE]:,} created (no {self.blind.key_label(obj)})")
            else:
                parts = [f"{c[CREATE]:,} created", f"{c[UPDATE]:,} updated", f"{c[UNCHANGED]:,} unchanged"]
            if c[MERGE]:
                parts.append(f"{c[MERGE]:,} merged into another record (local duplicates)")
            if c[BLOCKED]:
                parts.append(f"{c[BLOCKED]:,} blocked")
            total = sum(c.values())
            lines.append(f"{_count(total, noun, plural).capitalize()}: " + ", ".join(parts) + ".")
        if self.blind is not None:
            lines.extend(self.blind_lines())
        stats = self.field_stats()
        for stat in stats:
            if stat.overwrite:
                lines.append(f"{stat.overwrite:,} {_plural(stat.label) if stat.overwrite != 1 else stat.label.lower()}"
                             f" would be overwritten.")
        for stat in stats:
            if stat.keep:
                lines.append(f"{stat.keep:,} {_plural(stat.label) if stat.keep != 1 else stat.label.lower()} differ "
                             "in the CRM and are kept (Overwrite is off).")
        ops = self.op_counts()
        if ops["associate"] or ops["primary"]:
            lines.append(f"{_count(ops['associate'] + ops['primary'], 'company association')} would be added "
                         f"({self.association_type.label}).")
        if ops["remove"]:
            lines.append(f"{_count(ops['remove'], 'company association')} would be removed.")
        if ops["activity"]:
            lines.append(f"{_count(ops['activity'], 'activity', 'activities')} would be logged.")
        if self.budget is not None:
            lines.append(self.budget.line(self.crm_name))
        for reason, n in sorted(self.blocked_reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"Blocked ({n:,}): {reason}")
        return lines

    def blind_lines(self) -> list[str]:
        """What a blind upsert cannot do, said before the user confirms (empty for a plan that reads)."""
        if self.blind is None:
            return []
        keys = " and ".join(sorted({self.blind.key_label(o) for o in self.blind.keys}))
        return [
            f"Written without reading {self.crm_name} first: every mapped field has Overwrite on and records are "
            f"identified by {keys}, a field {self.crm_name} can create or update by, so each batch is one "
            f"create-or-update request. {self.crm_name} says which records it created and which it updated; the "
            "report counts them.",
            f"Before → after cannot be shown: {possessive(self.crm_name)} current values are not read. Every "
            "non-empty mapped value replaces what is there; an empty Enginy value never blanks a field.",
            f"The values this export replaces are not kept: the report lists what was written, and nothing can put "
            f"the previous values back. To see and keep them, choose “Read {self.crm_name} first” (on the command "
            "line: --read-first), a slower export that reads every record before writing.",
        ]

    def rows(self, obj: str | None = None, action: str | None = None, offset: int = 0,
             limit: int | None = None) -> list[PlanRecord]:
        """Records for the preview table, optionally of one object or action, paged."""
        picked = (r for r in self.records
                  if (obj is None or r.object == obj) and (action is None or r.action == action))
        out: list[PlanRecord] = []
        for i, r in enumerate(picked):
            if i < offset:
                continue
            if limit is not None and len(out) >= limit:
                break
            out.append(r)
        return out

    def record(self, obj: str, local_id: int) -> PlanRecord | None:
        for r in self.records:
            if r.object == obj and r.local_id == local_id:
                return r
        return None

    def as_json(self, *, records: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "crm": self.crm,
            "list": self.list_name,
            "list_kind": self.list_kind,
            "association_type": self.association_type.value,
            "options": self.options.as_json(),
            "counts": {obj: self.counts(obj) for obj in ("contact", "company")},
            "operations": self.op_counts(),
            "removals": self.removals,
            "fields": [
                {"object": s.object, "field": s.field, "label": s.label, "set": s.set, "fill": s.fill,
                 "overwrite": s.overwrite, "keep": s.keep}
                for s in self.field_stats()
            ],
            "summary": self.summary_lines(),
            "warnings": list(self.warnings),
            "api_calls": self.api_calls,
            "blind_upsert": ({obj: name for obj, (name, _label) in self.blind.keys.items()}
                             if self.blind is not None else None),
        }
        if self.why_read:
            data["why_read"] = self.why_read
        if records:
            data["records"] = [r.as_json() for r in self.records]
            data["ops"] = [o.as_json() for o in self.ops]
        return data


# -- loading the workspace ---------------------------------------------------------------------------------------

_CONTACT_LABEL = ("first_name", "last_name", "full_name", "email", "linkedin_url")
_COMPANY_LABEL = ("name", "domain")


def _label(obj: str, row: Mapping[str, Any]) -> str:
    if obj == "contact":
        name = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p) or row.get("full_name") or ""
        contact = row.get("email") or row.get("linkedin_url") or ""
        text = f"{name} <{contact}>" if name and contact else (name or contact or f"contact {row.get('id')}")
    else:
        name, domain = row.get("name") or "", row.get("domain") or ""
        text = f"{name} ({domain})" if name and domain else (name or domain or f"company {row.get('id')}")
    return text[:400]


_ROWS_AT_ONCE = 900  # whole rows read at a time while the look-up runs (one query, about a megabyte)


def _row_type(cols: Sequence[str]) -> type[tuple[Any, ...]]:
    """A tuple with ``get(name)``: a 100,000-row list costs a third of what dicts would."""
    index = {c: i for i, c in enumerate(cols)}

    class Row(tuple[Any, ...]):
        __slots__ = ()

        def get(self, name: str, default: Any = None) -> Any:
            i = index.get(name)
            return self[i] if i is not None else default

    return Row


def _load_rows(ctx: Any, model: Any, ids: Sequence[int], columns: Iterable[str]) -> dict[int, Any]:
    """Rows of ``model`` with ``columns``; a ``custom:NAME`` column (an AI column, a CSV custom field) is read from
    the record's custom fields."""
    cols = ["id", "updated_at", *dict.fromkeys(c for c in columns if c not in ("id", "updated_at"))]
    prefix = enginy_fields.CUSTOM_PREFIX
    table_cols = [func.json_extract(model.custom_fields, '$."' + c[len(prefix):].replace('"', '\\"') + '"')
                  if c.startswith(prefix) else getattr(model, c) for c in cols]
    row_type = _row_type(cols)
    out: dict[int, Any] = {}
    with ctx.store.session() as s:
        for start in range(0, len(ids), 900):
            for row in s.execute(select(*table_cols).where(model.id.in_(ids[start:start + 900]))):
                out[row[0]] = row_type(row)
    return out


def _list_ids(ctx: Any, list_id: int) -> list[int]:
    with ctx.store.session() as s:
        return list(s.scalars(
            select(ListMembership.record_id).where(ListMembership.list_id == list_id).order_by(ListMembership.position)
        ))


# -- helpers -----------------------------------------------------------------------------------------------------

def owner_field(adapter: CrmAdapter, obj: str, fields: Iterable[CrmField]) -> CrmField | None:
    """The CRM field holding a record's owner, as the adapter declares it (None when the CRM has none)."""
    name = adapter.owner_field(_crm_object(obj))
    return next((f for f in fields if f.name == name), None) if name else None


def _crm_object(obj: str) -> CrmObject:
    return CrmObject.CONTACTS if obj == "contact" else CrmObject.COMPANIES


def _calls(adapter: CrmAdapter) -> int:
    return adapter.calls_made


_ACTIVITY_EVENTS: dict[tuple[StepKind, EventType], tuple[str, str, str, str]] = {
    # (step kind, event) -> (activity kind, direction, channel, "type" as the engagement fields say it)
    (StepKind.EMAIL, EventType.SENT): ("email", "outbound", "Email", "Email sent"),
    (StepKind.EMAIL, EventType.REPLIED): ("email", "inbound", "Email", "Email replied"),
    (StepKind.LINKEDIN_MESSAGE, EventType.SENT): ("note", "outbound", "LinkedIn", "LinkedIn message sent"),
    (StepKind.LINKEDIN_MESSAGE, EventType.REPLIED): ("note", "inbound", "LinkedIn", "LinkedIn message replied"),
    (StepKind.LINKEDIN_CONNECTION_REQUEST, EventType.SENT): ("note", "outbound", "LinkedIn",
                                                             "LinkedIn connection request sent"),
    (StepKind.CALL, EventType.SENT): ("call", "outbound", "Call", "Call made"),
}


@dataclass(slots=True)
class _ContactCampaigns:
    """One contact's campaign data: the latest campaign's properties and its activity events."""

    properties: dict[CampaignProperty, str | int] | None = None
    events: list[_ActivityEvent] = field(default_factory=list)


class _SameStrings:
    """One string object for the equal values of a field that repeats them — job titles, cities, companies, first
    names: a 100,000-record plan would otherwise hold 100,000 copies of "VP Sales". A field whose values are
    mostly distinct (e-mails, phone numbers) is let go after a trial, so its pool never holds them all."""

    TRIAL = 1000  # values of a field looked at before deciding
    DISTINCT = 0.5  # share of distinct values over which a field is let go

    def __init__(self) -> None:
        self._pools: dict[str, dict[str, str]] = {}
        self._seen: dict[str, int] = {}
        self._let_go: set[str] = set()

    def __call__(self, name: str, value: str) -> str:
        if name in self._let_go:
            return value
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = {}
        held = pool.setdefault(value, value)
        seen = self._seen.get(name, 0) + 1
        self._seen[name] = seen
        if seen == self.TRIAL and len(pool) > self.DISTINCT * seen:
            self._let_go.add(name)
            del self._pools[name]
        return held


@dataclass(frozen=True, slots=True)
class _ActivityEvent:
    event_id: int
    at: datetime
    kind: str  # email, note, call
    direction: str  # outbound, inbound
    channel: str  # Email, LinkedIn, Call
    type_label: str  # "Email sent"...
    subject: str
    campaign: str
    identity_id: int


def _step_name(steps: Sequence[Step], position: int) -> str:
    counters: Counter[StepKind] = Counter()
    for s in sorted(steps, key=lambda s: s.position):
        if s.kind is StepKind.LINKEDIN_CONNECTION_REQUEST:
            name = "LinkedIn Connection Request"
        else:
            counters[s.kind] += 1
            noun = {StepKind.EMAIL: "Email", StepKind.LINKEDIN_MESSAGE: "LinkedIn", StepKind.CALL: "Call"}[s.kind]
            name = f"{ordinal(counters[s.kind])} {noun}"
        if s.position == position:
            return name
    return f"step {position}"


def _campaign_data(ctx: Any, contact_ids: Sequence[int], want_properties: bool,
                   want_events: bool) -> tuple[dict[int, _ContactCampaigns], dict[int, tuple[str, int]]]:
    """Per contact its campaign data; and campaign id -> (name, identity id)."""
    data: dict[int, _ContactCampaigns] = {}
    campaigns: dict[int, tuple[str, int]] = {}
    if not contact_ids or not (want_properties or want_events):
        return data, campaigns
    with ctx.store.session() as s:
        leads: dict[int, tuple[int, int, datetime]] = {}  # lead id -> (contact, campaign, added_at)
        for start in range(0, len(contact_ids), 900):
            chunk = contact_ids[start:start + 900]
            for lead_id, contact_id, campaign_id, added_at in s.execute(
                select(CampaignLead.id, CampaignLead.contact_id, CampaignLead.campaign_id, CampaignLead.added_at)
                .where(CampaignLead.contact_id.in_(chunk))
            ):
                leads[lead_id] = (contact_id, campaign_id, added_at)
        if not leads:
            return data, campaigns
        used = {c for _, c, _ in leads.values()}
        for cid, name, identity_id in s.execute(
            select(Campaign.id, Campaign.name, Campaign.identity_id).where(Campaign.id.in_(used))
        ):
            campaigns[cid] = (name, identity_id)
        steps: dict[int, list[Step]] = defaultdict(list)
        step_of: dict[int, tuple[int, Step]] = {}
        for sid, cid, position, kind in s.execute(
            select(CampaignStep.id, CampaignStep.campaign_id, CampaignStep.position, CampaignStep.kind)
            .where(CampaignStep.campaign_id.in_(used))
        ):
            step = Step(position, StepKind(kind))
            steps[cid].append(step)
            step_of[sid] = (cid, step)
        events: dict[int, list[tuple[int, int | None, EventType, datetime]]] = defaultdict(list)
        lead_ids = list(leads)
        for start in range(0, len(lead_ids), 900):
            for eid, lead_id, step_id, etype, at in s.execute(
                select(CampaignEvent.id, CampaignEvent.lead_id, CampaignEvent.step_id, CampaignEvent.type,
                       CampaignEvent.occurred_at).where(CampaignEvent.lead_id.in_(lead_ids[start:start + 900]))
            ):
                events[lead_id].append((eid, step_id, EventType(etype), at))
    latest: dict[int, tuple[datetime, int, int]] = {}  # contact -> (added_at, lead id, campaign)
    for lead_id, (contact_id, campaign_id, added_at) in leads.items():
        key = (_aware(added_at), lead_id, campaign_id)
        if contact_id not in latest or key[:2] > latest[contact_id][:2]:
            latest[contact_id] = key
    for lead_id, (contact_id, campaign_id, _added) in leads.items():
        entry = data.setdefault(contact_id, _ContactCampaigns())
        lead_events = events.get(lead_id, [])
        campaign_steps = steps.get(campaign_id, [])
        if want_properties and latest[contact_id][1] == lead_id:
            props = derive_properties(
                campaign_steps,
                [Event(step_of[sid][1].position if sid in step_of else None, et, at) for _, sid, et, at in lead_events],
            ).as_dict()
            entry.properties = {p: props[p.label] for p in CampaignProperty}
        if want_events:
            name, identity_id = campaigns.get(campaign_id, ("", 0))
            for eid, sid, etype, at in lead_events:
                if sid not in step_of:
                    continue
                step = step_of[sid][1]
                kind = _ACTIVITY_EVENTS.get((step.kind, etype))
                if kind is None:
                    continue
                akind, direction, channel, type_label = kind
                subject = f"{name} · {_step_name(campaign_steps, step.position)}"
                if etype is EventType.REPLIED:
                    subject = f"Reply · {subject}"
                entry.events.append(_ActivityEvent(eid, _aware(at), akind, direction, channel, type_label, subject,
                                                   name, identity_id))
    return data, campaigns


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- the planner -------------------------------------------------------------------------------------------------


class _Planner:
    def __init__(self, ctx: Any, adapter: CrmAdapter, crm: str, crm_name: str, config: CrmConfig,
                 options: ExportOptions, tracker: ProgressTracker | None, cancel: CancelToken | None) -> None:
        self.ctx = ctx
        self.adapter = adapter
        self.crm = crm
        self.crm_name = crm_name
        self.config = config
        self.options = options
        self.tracker = tracker
        self.cancel = cancel
        self.warnings: list[str] = []
        self.fields: dict[str, dict[str, CrmField]] = {}
        self.users: list[CrmUser] = []
        self.labels: dict[tuple[str, str], str] = {}

    def phase(self, name: str, total: int | None = None) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        if self.tracker is not None:
            self.tracker.phase(name, total)

    async def load_crm(self, objects: Sequence[str]) -> None:
        self.phase(f"Reading {possessive(self.crm_name)} fields and users")
        try:
            for obj in ("contact", "company"):
                fields = await self.adapter.fields(_crm_object(obj))
                self.fields[obj] = {f.name: f for f in fields}
                for f in fields:
                    self.labels[(obj, f.name)] = f.label or f.name
            self.users = await self.adapter.users()
        except AdapterError as exc:
            raise ExportRefused(f"{self.crm_name} could not be read: {exc}", "crm_error") from exc

    def check_config(self, objects: Sequence[str], identities: Mapping[str, str], app_users: Mapping[str, str],
                     roles: Mapping[str, Mapping[str, str]]) -> None:
        problems = validate(
            self.config,
            crm_fields={"contact": list(self.fields["contact"].values()),
                        "company": list(self.fields["company"].values())},
            crm_users=self.users,
            capabilities=self.adapter.capabilities,
            identifier_fields=roles,
            export=[ObjectType(o) for o in objects],
            crm_name=self.crm_name,
            enginy_fields=enginy_fields.workspace_fields(self.ctx.store),
        )
        errors = [p for p in problems if p.severity is Severity.ERROR]
        # Problems of a tab this export does not use (the Companies tab of a contacts-only export) don't block it.
        used_tabs = {ObjectType(o).tab for o in objects}
        relevant = [p for p in errors if p.location.step.value != 2 or p.location.tab in used_tabs
                    or p.code == "cross_object"]
        for p in relevant:
            if p.code == "no_export_mapping":
                raise ExportRefused(p.message, "no_export_mapping", [str(p)])
        cross = [p for p in relevant if p.code == "cross_object"]
        if cross:
            raise ExportRefused(
                "Export refused: a field is mapped in the wrong tab of Step 2: Export Mapping. "
                + " ".join(str(p) for p in cross), "cross_object", [str(p) for p in cross])
        step3 = [p for p in relevant if p.location.step.value == 3 and self.options.campaign_properties]
        others = [p for p in relevant if p.location.step.value in (1, 2, 4)] + step3
        if others:
            raise ExportRefused(
                "Export refused: the CRM configuration has problems to fix first.\n"
                + "\n".join(f"- {p}" for p in others), "invalid_config", [str(p) for p in others])
        for p in problems:
            if p.severity is Severity.WARNING and p.location.step.value == 2 and (
                    p.location.tab in used_tabs or p.location.tab == "Association Type"):
                if p.location.tab == "Association Type" and not self.options.associated_companies:
                    continue
                self.warnings.append(str(p))

    def export_values(self, objects: Sequence[str]) -> dict[tuple[str, str], Value | None]:
        """(object, CRM field) -> converted value of each Export field used."""
        wanted: dict[tuple[str, str], CrmField] = {}
        for obj in objects:
            for m in self.config.mappings(obj):
                if m.kind is MappingKind.EXPORT and m.crm_field in self.fields[obj]:
                    wanted[(obj, m.crm_field)] = self.fields[obj][m.crm_field]
        values: dict[tuple[str, str], Value | None] = {}
        unknown = []
        for key, raw in self.options.export_values.items():
            prefix, dot, rest = key.partition(".")
            objs = [prefix] if dot and prefix in ("contact", "company") else list(objects)
            name = rest if dot and prefix in ("contact", "company") else key
            hits = [(o, f) for (o, fname), f in wanted.items() if o in objs
                    and (fname.casefold() == name.strip().casefold()
                         or (f.label or "").strip().casefold() == name.strip().casefold())]
            if not hits:
                unknown.append(key)
                continue
            for obj, f in hits:
                try:
                    values[(obj, f.name)] = to_crm(f, raw, users={u.id for u in self.users})
                except ConversionError as exc:
                    raise ExportRefused(f"The export field value for {exc}", "export_value") from None
        if unknown:
            known = ", ".join(sorted({f"{f.label} ({f.name})" for f in wanted.values()})) or "none"
            raise ExportRefused(
                f"There is no export field {', '.join(repr(u) for u in unknown)} in Step 2: Export Mapping. "
                f"Export fields: {known}.", "export_value")
        for (obj, name), f in wanted.items():
            if (obj, name) not in values:
                values[(obj, name)] = None
                self.warnings.append(
                    f"The export field “{f.label or name}” ({ObjectType(obj).tab}) has no value: it is not written.")
        return values


async def plan_export(
    ctx: Any,
    list_ref: str | int,
    options: ExportOptions | None = None,
    *,
    adapter: CrmAdapter | None = None,
    progress: Callable[[Any], None] | None = None,
    cancel: CancelToken | None = None,
    use_links: bool = True,
) -> Plan:
    """The plan of exporting list ``list_ref`` (name or id) to the enabled CRM with ``options``.

    Raises :class:`ExportRefused` with the product's explanation when the export cannot be done. ``adapter`` is
    used as given (and left open); otherwise one is opened on the saved connection (``ctx.adapters``) and closed
    at the end.
    """
    from enginy_desktop.core import catalog
    from enginy_desktop.core.services.crm import (
        CrmNotConnectedError,
        NoActiveCrmError,
        active_crm_key,
        require_connected,
    )
    from enginy_desktop.core.services.workspace import ListNotFoundError, WorkspaceService

    options = options or ExportOptions()
    try:
        crm = active_crm_key(ctx)
    except NoActiveCrmError as exc:
        raise ExportRefused(str(exc), "no_crm") from None
    crm_name = catalog.get(crm).name
    try:
        info = WorkspaceService(ctx.store).get_list(list_ref)
    except ListNotFoundError as exc:
        raise ExportRefused(str(exc), "no_list") from None
    if not ctx.crm_configs.has_saved(crm):
        raise ExportRefused(
            f"{crm_name} is not configured yet: open Configure on its card and set up Step 2: Export Mapping. "
            + FAQ_NO_EXPORT_MAPPING, "no_export_mapping")
    config = ctx.crm_configs.load(crm)
    list_kind = info.kind.list_kind
    objects = ["contact", "company"] if list_kind == "contacts" and options.associated_companies else (
        ["contact"] if list_kind == "contacts" else ["company"])
    for obj in objects:
        if not config.mappings(obj):
            raise ExportRefused(
                f"There is no export mapping for {ObjectType(obj).plural} in {crm_name}. " + FAQ_NO_EXPORT_MAPPING,
                "no_export_mapping")
    try:
        require_connected(ctx, crm)
    except CrmNotConnectedError as exc:
        raise ExportRefused(str(exc), "not_connected") from None
    own_adapter = adapter is None
    if adapter is None:
        try:
            adapter = ctx.adapters.crm(crm)
        except AdapterError as exc:
            raise ExportRefused(str(exc), "missing_credentials") from None
    tracker = ProgressTracker(progress) if progress is not None else None
    try:
        return await _plan(ctx, adapter, crm, crm_name, config, info, list_kind, objects, options, tracker, cancel,
                           use_links)
    finally:
        if own_adapter:
            await adapter.aclose()


async def _plan(ctx: Any, adapter: CrmAdapter, crm: str, crm_name: str, config: CrmConfig, info: Any,
                list_kind: str, objects: list[str], options: ExportOptions, tracker: ProgressTracker | None,
                cancel: CancelToken | None, use_links: bool) -> Plan:
    early: list[asyncio.Task[Any]] = []  # CRM look-ups started while the values are prepared
    try:
        return await _plan_records(ctx, adapter, crm, crm_name, config, info, list_kind, objects, options, tracker,
                                   cancel, use_links, early)
    finally:
        for task in early:  # a plan that stopped early (cancelled, refused) leaves no look-up running
            if not task.done():
                task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task


async def _plan_records(ctx: Any, adapter: CrmAdapter, crm: str, crm_name: str, config: CrmConfig, info: Any,
                        list_kind: str, objects: list[str], options: ExportOptions, tracker: ProgressTracker | None,
                        cancel: CancelToken | None, use_links: bool, early: list[asyncio.Task[Any]]) -> Plan:
    calls_before = _calls(adapter)
    p = _Planner(ctx, adapter, crm, crm_name, config, options, tracker, cancel)
    await p.load_crm(objects)
    roles = matching.identifier_fields(adapter)
    with ctx.store.session() as s:
        identities = {str(i): n for i, n in s.execute(select(Identity.id, Identity.name))}
        app_users = {str(i): n for i, n in s.execute(select(AppUser.id, AppUser.name))}
        current_user = s.scalar(select(AppUser.id).where(AppUser.is_current.is_(True)))
    p.check_config(objects, identities, app_users, roles)
    export_values = p.export_values(objects)

    # -- local records ---------------------------------------------------------------------------------------------
    p.phase("Reading the list")
    ids = _list_ids(ctx, info.id)
    if options.record_ids is not None:
        selected = set(options.record_ids)
        ids = [i for i in ids if i in selected]
    if not ids:
        raise ExportRefused(f"The list “{info.name}” has no records to export.", "empty")
    main_obj = objects[0]
    rules = {
        "contact": config.contact_identifier.rule(roles.get("contact")),
        "company": config.company_identifier.rule(roles.get("company")),
    }

    def columns(obj: str) -> list[str]:
        cols = [*rules[obj].local_fields, "owner_id", *(_CONTACT_LABEL if obj == "contact" else _COMPANY_LABEL)]
        cols += [m.source for m in config.mappings(obj) if m.kind is MappingKind.ENGINY and m.source]
        if obj == "contact":
            cols.append("company_id")
        known = {f.name for f in enginy_fields.fields_for(obj)} | {"owner_id", "company_id"}
        return [c for c in cols if c in known or c.startswith(enginy_fields.CUSTOM_PREFIX)]

    # -- the CRM look-up, started early -----------------------------------------------------------------------------
    want_props = options.campaign_properties and bool(config.campaign_mappings) and main_obj == "contact"
    owner_fields = {obj: owner_field(adapter, obj, p.fields[obj].values()) for obj in objects}
    overwrite: dict[str, dict[str, bool]] = {}
    for obj in objects:
        obj_fields = p.fields[obj]
        overwrite[obj] = {m.crm_field: m.overwrite for m in config.mappings(obj) if m.crm_field in obj_fields}
        if obj == "contact" and want_props:
            for crm_field in config.campaign_mappings.values():
                if crm_field in obj_fields:
                    overwrite[obj][crm_field] = True  # campaign properties always carry the latest state

    # When this export reads the CRM whatever the values turn out to be (the only thing they can decide is the
    # blind upsert's owner question, asked last), the first object's records are looked up from their identifier
    # fields alone while the rest is loaded and their values are prepared: the CRM's search window is used from
    # the plan's start, the local work fills the waits between searches. A record found blocked meanwhile is
    # dropped from the answer (matching.forget).
    first = objects[0]
    early_rows: dict[int, Any] | None = None
    reading = asyncio.Event()  # the look-up's local work is done: the rest is prepared in its waits
    if _blind_upsert(p, config, objects, rules, overwrite, {o: {} for o in objects}, options)[0] is None:
        known = {f.name for f in enginy_fields.fields_for(first)}
        early_rows = _load_rows(ctx, Contact if first == "contact" else Company, ids, [
            c for c in rules[first].local_fields if c in known or c.startswith(enginy_fields.CUSTOM_PREFIX)])
        p.phase(f"Finding the {ObjectType(first).plural} in {crm_name}")  # its reads count in phases of their own
        early.append(asyncio.create_task(matching.resolve(
            ctx, adapter, crm, first, rules[first], early_rows, _read_properties(p, config, first, want_props,
                                                                                 owner_fields[first]),
            use_links=use_links, tracker=p.tracker, token=p.cancel, reading=reading)))
        # The look-up's own preparation (normalizing every identifier, planning the searches) goes first: it
        # stands between the plan's start and its first search; nothing else is needed before its end.
        waiter = asyncio.ensure_future(reading.wait())
        try:
            await asyncio.wait({waiter, early[0]}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    main_model = Contact if main_obj == "contact" else Company
    rows: dict[str, dict[int, Any]] = {}
    if early_rows is not None:
        # The look-up holds the first object's identifiers: its whole rows are read a chunk at a time below, as
        # their values are prepared, instead of all at once beside the look-up (the plan's highest point).
        order: dict[str, list[int]] = {main_obj: [i for i in ids if i in early_rows]}
    else:
        rows[main_obj] = _load_rows(ctx, main_model, ids, columns(main_obj))
        order = {main_obj: [i for i in ids if i in rows[main_obj]]}
    if "company" in objects and main_obj == "contact":
        held = rows["contact"] if "contact" in rows else _load_rows(ctx, Contact, order["contact"], ["company_id"])
        company_ids = list(dict.fromkeys(r.get("company_id") for r in held.values() if r.get("company_id")))
        del held
        rows["company"] = _load_rows(ctx, Company, company_ids, columns("company"))
        order["company"] = [i for i in company_ids if i in rows["company"]]

    # -- campaign data ------------------------------------------------------------------------------------------------
    want_events = options.activities and main_obj == "contact"
    campaign_data, _campaigns = _campaign_data(ctx, order.get("contact", []), want_props, want_events)
    already_logged: set[int] = set()
    if want_events:
        event_ids = [e.event_id for d in campaign_data.values() for e in d.events]
        with ctx.store.session() as s:
            for start in range(0, len(event_ids), 900):
                already_logged.update(s.scalars(select(ActivityLink.event_id).where(
                    ActivityLink.crm == crm, ActivityLink.event_id.in_(event_ids[start:start + 900]))))

    # -- owners -------------------------------------------------------------------------------------------------------
    user_names = {int(k): v for k, v in app_users.items()}
    crm_users = {u.id: u for u in p.users}
    exporter = options.exporter_id if options.exporter_id is not None else current_user
    default_owner = config.default_owner
    fallback = (f"the default owner ({crm_users[default_owner].name})" if default_owner in crm_users
                else f"{possessive(crm_name)} own default (the connected user)")
    unmapped_users: Counter[int] = Counter()

    def owner_for(row: Mapping[str, Any]) -> str | None:
        user = row.get("owner_id") or exporter
        if user is None:
            return default_owner or None
        mapped = config.user_mappings.get(str(user))
        if mapped:
            return mapped
        unmapped_users[int(user)] += 1
        return default_owner or None

    unmapped_identities: Counter[int] = Counter()

    def owner_for_identity(identity_id: int) -> str | None:
        mapped = config.identity_mappings.get(str(identity_id))
        if mapped:
            return mapped
        unmapped_identities[identity_id] += 1
        return default_owner or None

    # -- activities (planned first: engagement fields depend on them) ----------------------------------------------
    activities: dict[int, list[PlanOp]] = defaultdict(list)
    engagement: dict[int, dict[EngagementSource, Any]] = {}
    if want_events:
        for contact_id, data in campaign_data.items():  # the list's contacts only (read by their ids)
            new = [e for e in data.events if e.event_id not in already_logged]
            if not new:
                continue
            for e in sorted(new, key=lambda e: e.at):
                body = f"Logged by Enginy from the campaign “{e.campaign}”." if e.campaign else "Logged by Enginy."
                activities[contact_id].append(PlanOp("activity", contact_id, event_id=e.event_id, payload={
                    "kind": e.kind, "direction": e.direction, "timestamp": e.at.isoformat(), "subject": e.subject,
                    "body": body, "owner": owner_for_identity(e.identity_id) or "",
                }))
            latest = max(data.events, key=lambda e: (e.at, e.event_id))
            engagement[contact_id] = {
                EngagementSource.LAST_ACTIVITY_DATE: latest.at,
                EngagementSource.LAST_ACTIVITY_CHANNEL: latest.channel,
                EngagementSource.LAST_ACTIVITY_TYPE: latest.type_label,
                EngagementSource.LAST_CAMPAIGN: latest.campaign,
                EngagementSource.ACTIVITY_COUNT: len(data.events),
            }

    # -- values -------------------------------------------------------------------------------------------------------
    user_ids = set(crm_users)
    same = _SameStrings()
    records: dict[str, dict[int, PlanRecord]] = {}
    wanted_values: dict[str, dict[int, dict[str, Value]]] = {}
    if early_rows is None:
        p.phase("Preparing values", sum(len(v) for v in order.values()))
    for obj in objects:
        obj_fields = p.fields[obj]
        mappings = [m for m in config.mappings(obj) if m.crm_field in obj_fields]
        overlapped = early_rows is not None and obj == first  # the look-up runs: share the event loop with it
        records[obj] = {}
        wanted_values[obj] = {}
        # A fixed value is the same for every record: converted once (its problem, if any, blocks each record).
        fixed: dict[str, tuple[dict[str, Value], list[str]]] = {}
        for m in mappings:
            if m.kind is MappingKind.FIXED:
                fixed_values: dict[str, Value] = {}
                fixed_problems: list[str] = []
                _convert(obj_fields[m.crm_field], m.value, user_ids, fixed_values, fixed_problems)
                fixed[m.crm_field] = (fixed_values, fixed_problems)
        identifying = set(rules[obj].local_fields)
        if overlapped:
            rows[obj] = {}
        for position, local_id in enumerate(order[obj]):
            if overlapped:
                if position % 200 == 0:
                    await asyncio.sleep(0)  # the look-up sends its next request on time
                if position % _ROWS_AT_ONCE == 0:
                    rows[obj] = _load_rows(ctx, main_model, order[obj][position:position + _ROWS_AT_ONCE],
                                           columns(obj))
                row = rows[obj].pop(local_id, None)  # the full row is let go as soon as it is used
                if row is None:  # deleted meanwhile
                    continue
            else:
                row = rows[obj][local_id]
            values: dict[str, Value] = {}
            problems: list[str] = []

            def put(crm_field: str, raw: Any) -> None:
                _convert(obj_fields[crm_field], raw, user_ids, values, problems)  # noqa: B023 - called at once

            looked_up = early_rows.get(local_id) if overlapped else None  # type: ignore[union-attr]
            for m in mappings:
                if m.kind is MappingKind.ENGINY:
                    raw = row.get(m.source)
                    if looked_up is not None and m.source in identifying:
                        # The look-up holds the same value: keep one string, not two (the plan's peak is while
                        # both are held; a converted text is the string it was given when nothing changes).
                        held = looked_up.get(m.source)
                        if held == raw:
                            raw = held
                    put(m.crm_field, raw)
                elif m.kind is MappingKind.FIXED:
                    converted, fixed_problems = fixed[m.crm_field]
                    values.update(converted)
                    problems.extend(fixed_problems)
                elif m.kind is MappingKind.EXPORT:
                    value = export_values.get((obj, m.crm_field))
                    if value is not None:
                        values[m.crm_field] = value
                elif m.kind is MappingKind.ENGAGEMENT and obj == "contact" and local_id in engagement:
                    try:
                        source = EngagementSource(m.source)
                    except ValueError:
                        continue
                    put(m.crm_field, engagement[local_id].get(source))
            if obj == "contact" and want_props:
                lead = campaign_data.get(local_id)
                if lead is not None and lead.properties is not None:
                    for prop, crm_field in config.campaign_mappings.items():
                        if crm_field in obj_fields:
                            put(crm_field, lead.properties.get(prop))
            for name, value in values.items():
                if type(value) is str:
                    values[name] = same(name, value)
            # One shared empty change list until the record gets its own (never changed in place):
            # 100,000 records would otherwise hold 100,000 empty containers each.
            rec = PlanRecord(obj, local_id, _label(obj, row), CREATE, payload=values, changes=_NO_CHANGES,
                             company_id=row.get("company_id") if obj == "contact" else None)
            if problems:
                rec.action, rec.code = BLOCKED, "invalid_value"
                rec.reason = " ".join(problems)
                rec.payload = {}  # nothing of it is sent
            owner = owner_fields[obj]
            if owner is not None and owner.name not in values:
                who = owner_for(row)
                if who:
                    values["\0owner"] = who
            wanted_values[obj][local_id] = values
            records[obj][local_id] = rec
            if p.tracker is not None and early_rows is None:
                p.tracker.advance(1)
        # From here on only the identifier's fields are needed (matching): the rest of each row is let go before
        # the CRM side is read, the plan's highest point in memory.
        loaded = rows[obj]
        if overlapped:
            rows[obj] = early_rows  # type: ignore[assignment]
        else:
            keep = ["id", "updated_at", *rules[obj].local_fields]
            narrow = _row_type(keep)
            rows[obj] = {local_id: narrow(tuple(row.get(c) for c in keep)) for local_id, row in loaded.items()}
        matching.drain(loaded)

    # -- a blind upsert, when reading could not change what is written ---------------------------------------------
    blind, why_read = _blind_upsert(p, config, objects, rules, overwrite, wanted_values, options)
    if blind is not None:
        for obj, key_field in blind.keys.items():
            _decide_blind(p, obj, records[obj], wanted_values[obj], rows[obj], rules[obj], key_field[0], options)
            matching.drain(wanted_values[obj])
            matching.drain(rows[obj])

    # -- matching and current values -------------------------------------------------------------------------------
    for obj in objects:
        if blind is not None and obj in blind.keys:
            continue
        obj_fields = p.fields[obj]
        overlapped = early_rows is not None and obj == first
        if overlapped:  # the look-up reads these rows until it is done
            props = _read_properties(p, config, obj, want_props, owner_fields[obj])
            resolution = await early[0]
        valid = rows[obj]  # the records to find: all but the blocked ones (whose rows are not needed any more)
        blocked = [i for i, r in records[obj].items() if r.action == BLOCKED]
        for i in blocked:
            valid.pop(i, None)
        if overlapped:
            if blocked:
                matching.forget(resolution, rules[obj], valid, blocked)
        else:
            p.phase(f"Finding the {ObjectType(obj).plural} in {crm_name}")
            props = sorted({name for v in wanted_values[obj].values() for name in v if name != "\0owner"}
                           | {m.crm_field for m in config.mappings(obj) if m.crm_field in obj_fields})
            if owner_fields[obj] is not None:
                props.append(owner_fields[obj].name)  # type: ignore[union-attr]
            resolution = await matching.resolve(ctx, adapter, crm, obj, rules[obj], valid, props,
                                                use_links=use_links, tracker=p.tracker, token=p.cancel)
        missing = [m.crm_id for m in resolution.matches.values()
                   if m.outcome == "matched" and m.crm_id and m.crm_id not in resolution.values]
        if missing:
            p.phase(f"Reading the current values in {crm_name}", len(missing))
            try:
                read = await adapter.read(_crm_object(obj), list(dict.fromkeys(missing)), props)
            except AdapterError as exc:
                raise ExportRefused(f"{crm_name} could not be read: {exc}", "crm_error") from exc
            for rec_ in read:
                resolution.values[rec_.id] = {name: rec_.get(name) for name in props}
            if p.tracker is not None:
                p.tracker.advance(len(missing))
            gone = {i for i, m in resolution.matches.items()
                    if m.outcome == "matched" and m.crm_id and m.crm_id not in resolution.values}
            if gone:  # linked CRM records that no longer exist (deleted or merged): match those again
                again = await matching.resolve(ctx, adapter, crm, obj, rules[obj], {i: valid[i] for i in gone},
                                               props, use_links=False)
                resolution.matches.update(again.matches)
                resolution.values.update(again.values)
        _decide(p, obj, records[obj], wanted_values[obj], resolution, overwrite[obj], owner_fields[obj],
                options, rules[obj])
        # What matching needed is no longer needed: keep the peak memory of a 100,000-record plan low.
        matching.drain(resolution.values)
        matching.drain(resolution.matches)
        matching.drain(valid)
        matching.drain(wanted_values[obj])
        matching.drain(rows[obj])
        del resolution, valid

    # -- associations ---------------------------------------------------------------------------------------------
    ops: list[PlanOp] = []
    if "company" in objects and main_obj == "contact":
        p.phase(f"Reading company associations in {crm_name}")
        ops.extend(await _association_ops(p, config, records))
    for contact_id in order.get("contact", []):
        rec = records["contact"][contact_id]
        if rec.action != BLOCKED:
            ops.extend(activities.get(contact_id, []))

    # -- warnings -----------------------------------------------------------------------------------------------------
    for user_id, n in sorted(unmapped_users.items()):
        name = user_names.get(user_id, f"user {user_id}")
        p.warnings.append(f"“{name}” is not mapped to a {crm_name} user (Step 4: User Mapping): "
                          f"{_count(n, 'record')} they export will be owned by {fallback}.")
    for identity_id, n in sorted(unmapped_identities.items()):
        name = identities.get(str(identity_id), f"identity {identity_id}")
        p.warnings.append(f"The identity “{name}” is not mapped to a {crm_name} user (Step 4: Identities Mapping): "
                          f"{_count(n, 'activity', 'activities')} will be attributed to {fallback}.")
    if any(r.code == "unmatchable" for recs in records.values() for r in recs.values()):
        n = sum(1 for recs in records.values() for r in recs.values() if r.code == "unmatchable")
        p.warnings.append(
            f"{_count(n, 'record')} cannot be compared with {crm_name} (none of the identifier's fields is filled). "
            "They are not exported unless you confirm that they are new.")

    ordered = [records[o][i] for o in ("company", "contact") if o in records for i in order[o]]
    plan = Plan(
        crm=crm, crm_name=crm_name, list_id=info.id, list_name=info.name, list_kind=list_kind, options=options,
        association_type=config.association_type, records=ordered, ops=ops, warnings=p.warnings,
        labels=p.labels, api_calls=_calls(adapter) - calls_before, blind=blind, why_read=why_read,
    )
    plan.budget = await _budget(plan, adapter)
    if tracker is not None:
        tracker.phase("Plan ready")
    return plan


def _read_properties(p: _Planner, config: CrmConfig, obj: str, want_props: bool, owner: CrmField | None
                     ) -> list[str]:
    """The CRM fields whose current values the plan reads for ``obj``, known before any value is prepared: every
    mapped field (and the campaign properties' fields when they are exported), and the owner."""
    obj_fields = p.fields[obj]
    names = {m.crm_field for m in config.mappings(obj) if m.crm_field in obj_fields}
    if obj == "contact" and want_props:
        names |= {f for f in config.campaign_mappings.values() if f in obj_fields}
    props = sorted(names)
    if owner is not None:
        props.append(owner.name)
    return props


def budget_needed(plan: Plan, caps: Any) -> int:
    """Units of ``caps.budget`` the run of ``plan`` needs: its write, association and activity requests, each at
    its operation's cost (the plan's own reads are already spent)."""
    from enginy_desktop.adapters.base import Operation

    budget = caps.budget
    needed = 0
    for obj in ("company", "contact"):
        c = plan.counts(obj)
        needed += budget.cost_of(Operation.CREATE, math.ceil(c[CREATE] / caps.batch(Operation.CREATE)))
        needed += budget.cost_of(Operation.UPDATE, math.ceil(c[UPDATE] / caps.batch(Operation.UPDATE)))
        needed += budget.cost_of(Operation.UPSERT, math.ceil(c.get(UPSERT, 0) / caps.batch(Operation.UPSERT)))
    ops = plan.op_counts()
    primary = ops["primary"]
    if caps.company_in_contact:  # the company goes with the contact's own create or update: no request of its own
        written = {r.local_id for r in plan.records if r.object == "contact" and r.action in (CREATE, UPDATE)}
        primary -= sum(1 for o in plan.ops if o.kind == "primary" and o.contact_id in written)
    size = caps.batch(Operation.ASSOCIATION_WRITE)
    for links in (primary, ops["associate"], ops["remove"]):  # each kind is sent in requests of its own
        needed += budget.cost_of(Operation.ASSOCIATION_WRITE, math.ceil(links / size))
    if ops["remove"]:
        needed += budget.cost_of(Operation.ASSOCIATION_READ,
                                 math.ceil(ops["remove"] / caps.batch(Operation.ASSOCIATION_READ)))
    needed += budget.cost_of(Operation.ACTIVITY, math.ceil(ops["activity"] / caps.batch(Operation.ACTIVITY)))
    return needed


async def _budget(plan: Plan, adapter: CrmAdapter) -> BudgetEstimate | None:
    """The run's share of the CRM's daily budget, shown in the preview; a run that would exceed what is left is
    refused with the numbers (rather than cut off half-way)."""
    caps = adapter.capabilities
    if caps.budget is None:
        return None
    left = await adapter.budget_left()
    from enginy_desktop.adapters.base import Operation

    # A run opens its own connection: what it reads once before writing (e.g. the objects' fields) counts too.
    written = {_crm_object(r.object) for r in plan.records if r.action in (CREATE, UPDATE)}
    opening = caps.budget.cost_of(Operation.READ, adapter.opening_requests(written)) if written else 0
    estimate = BudgetEstimate(str(caps.budget.unit), budget_needed(plan, caps) + opening,
                              left.remaining if left is not None else None,
                              (left.per_day if left is not None else None) or caps.budget.per_day)
    if estimate.remaining is not None and estimate.needed > estimate.remaining:
        from enginy_desktop.core.services.budget import export_split, read_cost

        resets = " (it resets at midnight UTC)" if left is not None and left.resets_at is not None else ""
        # What fits: what is left, less what planning that first part reads again.
        available = estimate.remaining - read_cost(caps, plan.api_calls)
        split, units = export_split(plan, caps, available) if available > 0 else ((), 0)
        main = "contact" if plan.list_kind == "contacts" else "company"
        total = sum(1 for r in plan.records if r.object == main)
        noun = "contacts" if main == "contact" else "companies"
        part = (f"Split it: export the first {len(split):,} of the {total:,} {noun} now (about {units:,} "
                f"{estimate.unit}) and the other {total - len(split):,} after the budget resets — exporting the list "
                "again then writes only what is still missing — or run it all after the reset."
                if split else "Run it after the budget resets.")
        raise ExportRefused(
            f"This export needs about {estimate.needed:,} {estimate.unit} of {possessive(plan.crm_name)} daily "
            f"budget, but only {estimate.remaining:,} of {estimate.per_day or 0:,} are left today{resets}. "
            "Nothing was written. "
            + part, "budget", split=split, split_units=units)
    return estimate


def _convert(f: CrmField, raw: Any, users: set[str], values: dict[str, Value], problems: list[str]) -> None:
    try:
        converted = to_crm(f, raw, users=users if f.type is FieldType.OWNER else None)
    except ConversionError as exc:
        problems.append(str(exc))
        return
    if converted is not None:
        values[f.name] = converted


def _lookup(unique: frozenset[str], payload: Mapping[str, Value]) -> dict[str, str]:
    """A value of a field the CRM finds records by (``unique_fields``): how a create is re-checked."""
    for name, value in payload.items():
        if name in unique and isinstance(value, str) and value:
            return {name: value}
    return {}


def _blind_upsert(p: _Planner, config: CrmConfig, objects: Sequence[str], rules: Mapping[str, Any],
                  overwrite: Mapping[str, Mapping[str, bool]], wanted: Mapping[str, Mapping[int, Mapping[str, Value]]],
                  options: ExportOptions) -> tuple[BlindUpsert | None, str]:
    """The blind upsert this export may be (:class:`BlindUpsert`), or None and why it reads the CRM first.

    A contract question, not a vendor's: the adapter declares upsert and its keys (``Capabilities.can_upsert``)."""
    if options.read_current:
        return None, ""
    caps = p.adapter.capabilities
    if "company" in objects and "contact" in objects:
        return None, ("Export associated companies is on: the contacts' current company associations are read to "
                      "change only what differs.")
    keys: dict[str, tuple[str, str]] = {}
    for obj in objects:
        rule = rules[obj]
        nouns = ObjectType(obj).plural
        conditions = [c for g in rule.groups for c in g.conditions]
        if len(rule.groups) != 1 or len(conditions) != 1:
            return None, f"{nouns.capitalize()} are identified by more than one field (Step 1)."
        key = conditions[0].crm_field
        label = p.labels.get((obj, key), key)
        if not caps.can_upsert(_crm_object(obj), key):
            return None, f"{p.crm_name} cannot create-or-update {nouns} by {label}."
        kept = sorted(p.labels.get((obj, name), name) for name, on in overwrite[obj].items() if not on)
        if kept:
            return None, (f"Overwrite is off for {', '.join(kept[:3])}{' …' if len(kept) > 3 else ''}: "
                          f"{possessive(p.crm_name)} current values decide what is written.")
        if any("\0owner" in values for values in wanted[obj].values()):
            return None, ("Records get an owner (Step 4), which is written on update only where "
                          f"{possessive(p.crm_name)} is empty.")
        keys[obj] = (key, label)
    return BlindUpsert(keys), ""


def _decide_blind(p: _Planner, obj: str, records: dict[int, PlanRecord], wanted: dict[int, dict[str, Value]],
                  rows: Mapping[int, Any], rule: Any, key: str, options: ExportOptions) -> None:
    """Every record that is not blocked is upserted by its ``key`` value (the identifier's own normalized form);
    local records with the same key are one CRM record (the first, which takes the others' values where it has
    none); records without a key are unmatchable (created only when the user confirms they are new)."""
    with collector_paused():  # what is decided here is all that stands between the plan and the run's writes
        _decide_blind_each(p, records, wanted, rows, rule, key, options)


def _decide_blind_each(p: _Planner, records: dict[int, PlanRecord], wanted: dict[int, dict[str, Value]],
                       rows: Mapping[int, Any], rule: Any, key: str, options: ExportOptions) -> None:
    cond = rule.groups[0].conditions[0]
    normalize = normalizer_for(cond.kind)
    leaders: dict[str, PlanRecord] = {}
    for local_id, rec in records.items():
        if rec.action == BLOCKED:
            continue
        values = wanted[local_id]
        values.pop("\0owner", None)
        raw = rows[local_id].get(cond.local_field) if local_id in rows else None
        normalized = normalize(raw)
        if not normalized:
            if not options.unmatchable_as_new:
                rec.action, rec.code = BLOCKED, "unmatchable"
                rec.reason = (f"Cannot be compared with {p.crm_name}: none of the identifier's fields "
                              f"({rule.display}) is filled. Confirm that it is new to create it.")
                continue
            rec.action, rec.payload = CREATE, values
            rec.lookup = {}
            continue
        lead = leaders.get(normalized)
        if lead is not None:
            for name, value in values.items():
                lead.payload.setdefault(name, value)
            rec.action, rec.leader, rec.why = MERGE, lead.local_id, f"same {cond.display} as {lead.label}"
            rec.reason = f"Same record as {lead.label} (local duplicate): exported as one {p.crm_name} record."
            continue
        # The key as the CRM is sent it: the mapped value (already in the CRM field's canonical form), else the
        # local value as typed; the normalized form only groups local duplicates.
        mapped = values.get(key)
        values[key] = mapped if isinstance(mapped, str) and mapped else str(raw).strip()
        rec.action, rec.payload = UPSERT, values
        rec.lookup = {key: str(values[key])}
        rec.why = cond.display
        leaders[normalized] = rec


def _decide(p: _Planner, obj: str, records: dict[int, PlanRecord], wanted: dict[int, dict[str, Value]],
            resolution: matching.Resolution, overwrite: Mapping[str, bool], owner: CrmField | None,
            options: ExportOptions, rule: Any) -> None:
    with collector_paused():  # what is decided here is all that stands between the CRM's last answer and the run
        _decide_each(p, obj, records, wanted, resolution, overwrite, owner, options, rule)


def _decide_each(p: _Planner, obj: str, records: dict[int, PlanRecord], wanted: dict[int, dict[str, Value]],
                 resolution: matching.Resolution, overwrite: Mapping[str, bool], owner: CrmField | None,
                 options: ExportOptions, rule: Any) -> None:
    obj_fields = p.fields[obj]
    unique = p.adapter.unique_fields(_crm_object(obj))
    leaders: dict[int, int] = {}
    position: dict[int, int] = {}  # local id -> its place in the list, when local duplicates need it
    fill = Effect.FILL.value
    for local_id, rec in records.items():
        if rec.action == BLOCKED:
            continue
        values = wanted[local_id]
        owner_value = str(values.get("\0owner") or "")
        m = resolution.matches.get(local_id)
        outcome = m.outcome if m is not None else "new"
        if m is not None:
            rec.why = m.why
        if outcome == "ambiguous":
            rec.action, rec.code = BLOCKED, "ambiguous"
            rec.candidates = m.candidates if m is not None else ()
            rec.reason = (f"Matches {len(rec.candidates)} {p.crm_name} records ({', '.join(rec.candidates[:5])}); "
                          "choose the right one in the sync results, or tighten the identifier in Step 1.")
            continue
        if outcome == "unmatchable" and not options.unmatchable_as_new:
            rec.action, rec.code = BLOCKED, "unmatchable"
            rec.reason = (f"Cannot be compared with {p.crm_name}: none of the identifier's fields ({rule.display}) is "
                          "filled. Confirm that it is new to create it.")
            continue
        if outcome == "matched" and m is not None and m.crm_id:
            rec.crm_id = m.crm_id
            current = resolution.values.get(m.crm_id, {})
            payload: dict[str, Value] = {}
            changes: list[tuple[str, Value | None, Value | None, str]] = []
            for name, value in values.items():
                if name == "\0owner":
                    continue
                crm_value = current.get(name)
                # The two outcomes of most fields, without a decision object (what decide() says of them): an
                # empty CRM field is filled; a CRM text equal to the value, not blank, is the same value.
                if crm_value is None and value is not None:
                    changes.append((name, None, value, fill))
                    payload[name] = value
                    continue
                if type(crm_value) is str and crm_value == value and crm_value.strip():
                    continue
                d = decide(obj_fields[name], Mode.UPDATE, value, crm_value, overwrite=overwrite.get(name, False))
                if d.effect is not Effect.SAME:
                    changes.append((name, d.before, value if d.writes else d.after, d.effect.value))
                if d.writes and d.after is not None:
                    payload[name] = d.after
            if owner is not None and owner_value:
                d = decide_owner(Mode.UPDATE, owner_value, current.get(owner.name))
                if d.writes and d.after is not None:
                    payload[owner.name] = d.after
                    changes.append((owner.name, d.before, d.after, d.effect.value))
            rec.payload, rec.changes = payload, changes
            rec.action = UPDATE if payload else UNCHANGED
            continue
        # new (or unmatchable confirmed as new): the values are the payload
        payload = values
        payload.pop("\0owner", None)
        if owner is not None and owner_value:
            payload[owner.name] = owner_value
        rec.payload = payload
        rec.action = CREATE  # its look-up (the re-check of a create) is set below, once merges are known
        if m is not None and m.duplicates:
            if not position:
                position.update((i, n) for n, i in enumerate(records))
            group = sorted({local_id, *m.duplicates} & set(records), key=position.__getitem__)
            leader = leaders.setdefault(local_id, group[0])
            for other in group:
                leaders.setdefault(other, leader)
    # Local duplicates: one create per group; the others fill the leader's empty fields and follow it.
    for local_id, leader in leaders.items():
        if local_id == leader:
            continue
        rec, lead = records[local_id], records.get(leader)
        if rec.action != CREATE or lead is None or lead.action != CREATE:
            continue
        for name, value in rec.payload.items():
            lead.payload.setdefault(name, value)
        rec.action, rec.leader = MERGE, leader
        rec.reason = f"Same record as {lead.label} (local duplicate): exported as one {p.crm_name} record."
        rec.lookup = {}
    for rec in records.values():
        if rec.action == CREATE:
            rec.lookup = _lookup(unique, rec.payload)


async def _association_ops(p: _Planner, config: CrmConfig, records: dict[str, dict[int, PlanRecord]]) -> list[PlanOp]:
    contacts = records["contact"]
    companies = records.get("company", {})
    kind = config.association_type
    caps = p.adapter.capabilities
    with_company = [r for r in contacts.values() if r.action not in (BLOCKED,) and r.company_id in companies]
    existing_ids = [r.crm_id for r in with_company if r.crm_id]
    current: dict[str, list[Any]] = {}
    if existing_ids:
        try:
            current = await p.adapter.associations(list(dict.fromkeys(existing_ids)))
        except AdapterError as exc:
            raise ExportRefused(f"{p.crm_name} could not be read: {exc}", "crm_error") from exc
    ops: list[PlanOp] = []
    for rec in with_company:
        company = companies[rec.company_id]  # type: ignore[index]
        if company.action == BLOCKED:
            continue
        contact_ref = rec.leader if rec.action == MERGE else None
        assocs = current.get(rec.crm_id or "", []) if rec.crm_id else []
        by_company = {a.to_id: a for a in assocs}
        target = company.crm_id
        linked = by_company.get(target) if target else None
        primary_wanted = kind is not AssociationType.ADDITIONAL and caps.primary_company
        if contact_ref is not None:
            continue  # a merged contact is the same CRM record as its leader, which carries the association
        if linked is not None and (linked.primary or not primary_wanted):
            pass  # already as wanted
        else:
            # A contact without a company (or a new one) whose company is a field of the contact: its first
            # company is its primary one, written with the contact (Salesforce relates no other account to a
            # contact without its primary account).
            first = caps.company_in_contact and not assocs
            op_kind = "primary" if primary_wanted or not caps.multiple_companies or first else "associate"
            ops.append(PlanOp(op_kind, rec.local_id, company_id=company.local_id, from_crm_id=rec.crm_id,
                              to_crm_id=target))
        if kind is AssociationType.PRIMARY_REMOVE_PREVIOUS:
            for other in assocs:
                if target is not None and other.to_id == target:
                    continue
                ops.append(PlanOp("remove", rec.local_id, company_id=None, from_crm_id=rec.crm_id,
                                  to_crm_id=other.to_id, payload={
                                      "was_primary": other.primary,
                                      "types": [{"id": t.id, "category": t.category, "label": t.label}
                                                for t in other.types],
                                  }))
    return ops


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ += ["ACTIONS", "BLOCKED", "CREATE", "MERGE", "TROUBLESHOOTING_CROSS_OBJECT", "UNCHANGED", "UPDATE",
            "UPSERT", "BlindUpsert", "owner_field"]
