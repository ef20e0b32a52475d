"""What the export window needs from the engine, Qt-free (the views render these; tests call them directly).

- :func:`prepare_export`: before anything is planned, what the export dialog shows — the counts, the Export fields
  with the editor their CRM field's type needs (picklists with the CRM's options), the association type, whether
  campaign properties can be exported — and, when the export cannot be done, the refusal in the product's words
  with where to fix it (:class:`Refusal`: Integrations, Configure, or the CRM's connection).
- :func:`refusal_of`: the same for an :class:`~.plan.ExportRefused` raised later (by the plan itself).
- :func:`report_summary`, :func:`report_rows`, :func:`report_count`: the report of a run, read a page at a time
  (a 100,000-record run never loads whole into a window).
- :func:`in_worker_thread`: run an engine coroutine on its own event loop in a worker thread, so its
  synchronous database work never stalls the window's loop; cancelling the awaiting task asks the run to stop
  (its :class:`~enginy_desktop.core.runs.CancelToken`) and waits a little for it to stop gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select

from enginy_desktop.adapters.base import AdapterError, Value
from enginy_desktop.core import catalog
from enginy_desktop.core.crm_config import (
    FAQ_NO_EXPORT_MAPPING,
    PRIMARY_REMOVE_WARNING,
    AssociationType,
    MappingKind,
    ObjectType,
    Severity,
    crm_type_of,
    validate,
)
from enginy_desktop.core.crm_wizard import _EDITOR_PLACEHOLDERS, EditorSpec
from enginy_desktop.core.models import CampaignLead, Contact, ExportRecord, ListMembership, RunItem
from enginy_desktop.core.runs import CancelToken, RunInfo
from enginy_desktop.core.services.crm import CrmNotConnectedError, NoActiveCrmError, active_crm_key, require_connected
from enginy_desktop.core.services.crm_setup import cached_snapshot, load_snapshot
from enginy_desktop.core.services.workspace import WorkspaceService

from .plan import ExportRefused
from .report import FailureGroup, RecordOutcome, failure_groups

log = logging.getLogger(__name__)

__all__ = [
    "FIX_CONFIGURE",
    "FIX_CONNECT",
    "FIX_INTEGRATIONS",
    "OUTCOME_FILTERS",
    "CrmLabels",
    "ExportFieldInput",
    "ExportSetup",
    "GcPause",
    "PlanPreview",
    "ProgressRelay",
    "Refusal",
    "ReportData",
    "ReportSummary",
    "crm_labels",
    "in_thread",
    "in_worker_thread",
    "prepare_export",
    "preview_of",
    "refusal_of",
    "release",
    "report_count",
    "report_data",
    "report_rows",
    "report_summary",
]

T = TypeVar("T")

# Where the user fixes what refused the export.
FIX_INTEGRATIONS = "integrations"  # enable a CRM
FIX_CONFIGURE = "configure"  # the CRM's four-step configuration
FIX_CONNECT = "connect"  # the CRM's connection (credentials)
FIX_SPLIT = "split"  # not enough of the CRM's daily budget left: export the first records that fit now

_FIX_OF_CODE = {
    "no_crm": FIX_INTEGRATIONS,
    "not_connected": FIX_CONNECT,
    "missing_credentials": FIX_CONNECT,
    "no_export_mapping": FIX_CONFIGURE,
    "cross_object": FIX_CONFIGURE,
    "invalid_config": FIX_CONFIGURE,
}


@dataclass(frozen=True)
class Refusal:
    """Why the export cannot be done (the product's words), its code (as :class:`ExportRefused`'s) and where to
    fix it (``fix``: one of the ``FIX_*`` values, or "" when nothing in the settings fixes it)."""

    message: str
    code: str
    fix: str = ""
    split: tuple[int, ...] = ()  # FIX_SPLIT: the list's first records that fit in the budget left today


def refusal_of(exc: ExportRefused) -> Refusal:
    """The refusal of an :class:`ExportRefused`; credentials the CRM refused are fixed in its connection."""
    fix = _FIX_OF_CODE.get(exc.code, "")
    text = str(exc)
    if exc.code == "crm_error" and ("credential" in text.lower() or "token" in text.lower()):
        fix = FIX_CONNECT
    if exc.code == "budget" and exc.split:
        return Refusal(text, exc.code, FIX_SPLIT, exc.split)
    return Refusal(text, exc.code, fix)


@dataclass(frozen=True)
class ExportFieldInput:
    """An Export field of Step 2 whose value the dialog asks: the CRM field, its label, the editor it needs."""

    object: str  # contact | company
    name: str  # the CRM field
    label: str
    spec: EditorSpec
    overwrite: bool = False

    @property
    def key(self) -> str:
        """The key of :attr:`ExportOptions.export_values` for this field."""
        return f"{self.object}.{self.name}"


@dataclass(frozen=True)
class ExportSetup:
    """What the export dialog shows before the plan (see :func:`prepare_export`)."""

    list_id: int
    list_name: str
    list_kind: str  # contacts | companies
    records: int  # records the export covers (the selection, or the whole list)
    list_count: int  # records of the whole list
    companies: int  # distinct companies of those contacts (0 for a company list)
    selection: bool
    crm: str = ""
    crm_name: str = "your CRM"
    fields: tuple[ExportFieldInput, ...] = ()
    association_type: AssociationType = AssociationType.ADDITIONAL
    company_mapping: bool = False
    campaign_mapping: bool = False
    campaign_leads: int = 0  # contacts of the export that are leads of a campaign (activities, properties)
    refusal: Refusal | None = None
    company_refusal: Refusal | None = None  # what refuses the export once associated companies are on
    labels: CrmLabels = field(default_factory=lambda: CrmLabels())
    fields_note: str = ""  # the CRM's fields could not be read: the editors are plain text

    def refusal_for(self, associated_companies: bool) -> Refusal | None:
        if self.refusal is not None:
            return self.refusal
        if associated_companies and self.list_kind == "contacts":
            return self.company_refusal
        return None

    def fields_for(self, associated_companies: bool) -> list[ExportFieldInput]:
        """The Export fields the export uses: the main object's, and the companies' with associated companies."""
        main = "contact" if self.list_kind == "contacts" else "company"
        objects = {main} | ({"company"} if associated_companies and main == "contact" else set())
        return [f for f in self.fields if f.object in objects]

    @property
    def removes_previous(self) -> bool:
        return self.association_type is AssociationType.PRIMARY_REMOVE_PREVIOUS

    @property
    def removal_warning(self) -> str:
        return PRIMARY_REMOVE_WARNING if self.removes_previous else ""


def _editor(f: Any, users: Sequence[Any]) -> EditorSpec:
    kind = crm_type_of(f)
    if kind in ("picklist", "multi_picklist"):
        if not f.options:
            return EditorSpec("text", placeholder="Value as the CRM spells it")
        return EditorSpec(kind, tuple((o.value, o.label) for o in f.options))
    if kind == "owner":
        ordered = sorted(users, key=lambda u: (not u.active, u.name.casefold()))
        return EditorSpec("owner", tuple((u.id, u.display) for u in ordered))
    if kind in ("reference", "other"):
        kind = "text"
    return EditorSpec(kind, placeholder=_EDITOR_PLACEHOLDERS.get(kind, ""))


def _counts(ctx: Any, list_id: int, record_ids: Sequence[int] | None, contacts: bool) -> tuple[int, int, int]:
    """(records, distinct companies of those contacts, contacts that are campaign leads)."""
    with ctx.store.session() as s:
        if record_ids is not None:
            ids = list(dict.fromkeys(int(i) for i in record_ids))
            members: set[int] = set()
            for start in range(0, len(ids), 900):
                members.update(s.scalars(select(ListMembership.record_id).where(
                    ListMembership.list_id == list_id, ListMembership.record_id.in_(ids[start:start + 900]))))
            if not contacts:
                return len(members), 0, 0
            companies: set[int] = set()
            leads: set[int] = set()
            chosen = sorted(members)
            for start in range(0, len(chosen), 900):
                chunk = chosen[start:start + 900]
                companies.update(c for c in s.scalars(select(Contact.company_id).where(
                    Contact.id.in_(chunk), Contact.company_id.is_not(None))))
                leads.update(s.scalars(select(CampaignLead.contact_id).where(CampaignLead.contact_id.in_(chunk))))
            return len(members), len(companies), len(leads)
        n = int(s.scalar(select(func.count()).select_from(ListMembership)
                         .where(ListMembership.list_id == list_id)) or 0)
        if not contacts:
            return n, 0, 0
        members_q = select(ListMembership.record_id).where(ListMembership.list_id == list_id)
        companies_n = int(s.scalar(select(func.count(func.distinct(Contact.company_id)))
                                   .where(Contact.id.in_(members_q), Contact.company_id.is_not(None))) or 0)
        leads_n = int(s.scalar(select(func.count(func.distinct(CampaignLead.contact_id)))
                               .where(CampaignLead.contact_id.in_(members_q))) or 0)
        return n, companies_n, leads_n


async def prepare_export(ctx: Any, list_id: int, record_ids: Sequence[int] | None = None) -> ExportSetup:
    """What the export dialog shows for list ``list_id`` (or the selected ``record_ids`` of it).

    Local checks first (no CRM enabled, no list, not configured or no export mapping — FAQ Q2 —, not connected,
    credentials missing from the credential store), then the CRM's fields (the cached copy the wizard keeps, read
    from the CRM when old or missing) for the Export fields' editors and the check of fields mapped in the wrong
    tab. Never raises for what the user can fix: :attr:`ExportSetup.refusal` says it.
    """
    info = WorkspaceService(ctx.store).get_list(list_id)
    list_kind = info.kind.list_kind
    contacts = list_kind == "contacts"
    records, companies, leads = await in_thread(_counts, ctx, info.id, record_ids, contacts)
    base = dict(list_id=info.id, list_name=info.name, list_kind=list_kind, records=records, list_count=info.count,
                companies=companies, selection=record_ids is not None, campaign_leads=leads)
    try:
        crm = active_crm_key(ctx)
    except NoActiveCrmError as exc:
        return ExportSetup(**base, refusal=Refusal(str(exc), "no_crm", FIX_INTEGRATIONS))  # type: ignore[arg-type]
    crm_name = catalog.get(crm).name
    base.update(crm=crm, crm_name=crm_name)
    main = ObjectType.CONTACT if contacts else ObjectType.COMPANY
    if not ctx.crm_configs.has_saved(crm):
        return ExportSetup(**base, refusal=Refusal(  # type: ignore[arg-type]
            f"{crm_name} is not configured yet: open Configure on its card and set up Step 2: Export Mapping. "
            + FAQ_NO_EXPORT_MAPPING, "no_export_mapping", FIX_CONFIGURE))
    config = ctx.crm_configs.load(crm)
    base.update(association_type=config.association_type, company_mapping=bool(config.mappings("company")),
                campaign_mapping=bool(config.campaign_mappings) and contacts)
    company_refusal = None
    if contacts and not config.mappings("company"):
        company_refusal = Refusal(
            f"There is no export mapping for companies in {crm_name}, so associated companies cannot be exported. "
            + FAQ_NO_EXPORT_MAPPING, "no_export_mapping", FIX_CONFIGURE)
    base["company_refusal"] = company_refusal
    if not config.mappings(main):
        return ExportSetup(**base, refusal=Refusal(  # type: ignore[arg-type]
            f"There is no export mapping for {main.plural} in {crm_name}. " + FAQ_NO_EXPORT_MAPPING,
            "no_export_mapping", FIX_CONFIGURE))
    try:
        require_connected(ctx, crm)
    except CrmNotConnectedError as exc:
        return ExportSetup(**base, refusal=Refusal(str(exc), "not_connected", FIX_CONNECT))  # type: ignore[arg-type]
    holder = ctx.runs.lease_holder(crm, info.id)
    if holder is not None:  # one run per list and CRM: say who has it before anything is planned
        return ExportSetup(**base, refusal=Refusal(  # type: ignore[arg-type]
            f"{holder.describe()} Export again when it has ended (the Runs page follows it).", "busy"))
    try:
        adapter = ctx.adapters.crm(crm)
    except AdapterError as exc:
        return ExportSetup(**base, refusal=Refusal(str(exc), "missing_credentials", FIX_CONNECT))  # type: ignore[arg-type]
    await adapter.aclose()

    loaded = await load_snapshot(ctx, crm)
    snapshot = loaded.snapshot
    note = ""
    if snapshot is None:
        note = (f"{catalog.possessive(crm_name)} fields could not be read ({loaded.error}); the export fields are "
                "typed as text and checked when the plan is made.")
    elif loaded.offline:
        note = f"{crm_name} could not be read just now ({loaded.error}); its fields come from the copy saved earlier."
    inputs: list[ExportFieldInput] = []
    for obj in (ObjectType.CONTACT, ObjectType.COMPANY):
        for m in config.mappings(obj):
            if m.kind is not MappingKind.EXPORT or not m.crm_field:
                continue
            f = snapshot.crm_field(obj, m.crm_field) if snapshot is not None else None
            if f is None:
                spec = EditorSpec("text", placeholder=_EDITOR_PLACEHOLDERS["text"])
                label = m.crm_field
            else:
                spec = _editor(f, snapshot.users if snapshot is not None else ())
                label = f.label or f.name
            inputs.append(ExportFieldInput(obj.value, m.crm_field, label, spec, m.overwrite))
    base.update(fields=tuple(inputs), fields_note=note, labels=_labels_of(snapshot) if snapshot else CrmLabels())
    if snapshot is not None:
        from enginy_desktop.core.fields import workspace_fields

        problems = validate(config, crm_fields=snapshot.fields, crm_name=crm_name,
                            enginy_fields=workspace_fields(ctx.store))
        cross = [p for p in problems if p.severity is Severity.ERROR and p.code == "cross_object"]
        relevant = [p for p in cross if p.location.tab in (main.tab, ObjectType.COMPANY.tab)]
        mine = [p for p in relevant if p.location.tab == main.tab]
        text = ("Export refused: a field is mapped in the wrong tab of Step 2: Export Mapping. "
                + " ".join(str(p) for p in (mine or relevant)))
        if mine:
            return ExportSetup(**base, refusal=Refusal(text, "cross_object", FIX_CONFIGURE))  # type: ignore[arg-type]
        if relevant and contacts and company_refusal is None:
            base["company_refusal"] = Refusal(text, "cross_object", FIX_CONFIGURE)
    return ExportSetup(**base)  # type: ignore[arg-type]


# -- what the user reads for CRM field names and values -----------------------------------------------------


@dataclass(frozen=True)
class CrmLabels:
    """Labels of a CRM's fields, picklist options and users, from the copy of its fields the wizard keeps (no
    request): the preview and the report show “Lead Status: New → Open”, not ``hs_lead_status: NEW → OPEN``."""

    fields: dict[tuple[str, str], str] = field(default_factory=dict)
    options: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    owner_fields: frozenset[tuple[str, str]] = frozenset()

    def field_label(self, obj: str, name: str) -> str:
        return self.fields.get((obj, name), name)

    def value_label(self, obj: str, name: str, value: Value | list[str] | None) -> str | None:
        """The label of a picklist value (each of several options, joined with commas) or of an owner id; else
        the value as is."""
        if value is None or value == "" or value == () or value == []:
            return None if value is None else ""
        options = self.options.get((obj, name), {})
        if isinstance(value, list | tuple):
            return ", ".join(options.get(str(part), str(part)) for part in value)
        text = str(value)
        if (obj, name) in self.owner_fields:
            return self.users.get(text, text)
        return options.get(text, text)


def crm_labels(ctx: Any, crm: str | None) -> CrmLabels:
    """The :class:`CrmLabels` of ``crm`` from its cached snapshot (empty when there is none)."""
    if not crm:
        return CrmLabels()
    try:
        snapshot = cached_snapshot(ctx, crm)
    except Exception:  # a damaged cache only costs the labels
        log.debug("No cached fields for %s", crm, exc_info=True)
        snapshot = None
    return _labels_of(snapshot) if snapshot is not None else CrmLabels()


def _labels_of(snapshot: Any) -> CrmLabels:
    fields: dict[tuple[str, str], str] = {}
    options: dict[tuple[str, str], dict[str, str]] = {}
    owners: set[tuple[str, str]] = set()
    for f in snapshot.fields:
        key = (f.object, f.name)
        fields[key] = f.label or f.name
        kind = crm_type_of(f)
        if kind == "owner":
            owners.add(key)
        elif kind in ("picklist", "multi_picklist") and f.options:
            options[key] = {o.value: o.label for o in f.options}
    users = {u.id: u.name for u in snapshot.users}
    return CrmLabels(fields, options, users, frozenset(owners))


# -- the preview, computed where the plan was made ------------------------------------------------------------


@dataclass(frozen=True)
class PlanPreview:
    """Everything the preview shows of a :class:`~.plan.Plan`, computed once (in the planning worker thread: a
    100,000-record plan takes a few hundred milliseconds to summarize) so the window only renders it."""

    counts: dict[str, dict[str, int]]  # object -> action -> records
    ops: dict[str, int]
    summary: tuple[str, ...]
    blocked: tuple[tuple[str, int], ...]  # (reason, records), most frequent first
    removals: int
    removal_contacts: int
    warnings: tuple[str, ...]
    rows: dict[tuple[str, str | None], list[Any]]  # (object, action or None) -> the plan's records, in order
    total: int

    @property
    def to_send(self) -> int:
        """Records the run writes (created, updated, created-or-updated, merged)."""
        return sum(c["create"] + c["update"] + c["upsert"] + c["merge"] for c in self.counts.values())

    @property
    def anything(self) -> bool:
        return bool(self.to_send or any(self.ops.values()))


def release(*holders: Any, chunk: int = 2000) -> None:
    """Free big plans (and previews) a slice at a time: call it in a worker thread holding the last references.

    Freeing a 100,000-record plan is millions of deallocations in one C call that holds the GIL (a stall of the
    window's loop even from another thread); slices give the loop its turn between them."""
    for holder in holders:
        lists: list[list[Any]] = []
        if isinstance(holder, PlanPreview):
            lists.extend(holder.rows.values())
        else:
            lists.extend(x for x in (getattr(holder, "records", None), getattr(holder, "ops", None))
                         if isinstance(x, list))
        for items in lists:
            while items:
                del items[-chunk:]


def preview_of(plan: Any) -> PlanPreview:
    """The :class:`PlanPreview` of ``plan`` (call it off the window's thread for big plans)."""
    from .plan import ACTIONS

    rows: dict[tuple[str, str | None], list[Any]] = {}
    counts: dict[str, dict[str, int]] = {}
    for r in plan.records:
        rows.setdefault((r.object, None), []).append(r)
        rows.setdefault((r.object, r.action), []).append(r)
    for obj in ("contact", "company"):
        if (obj, None) in rows:
            counts[obj] = {a: len(rows.get((obj, a), ())) for a in ACTIONS}
    removal_contacts = len({o.contact_id for o in plan.ops if o.kind == "remove"})
    blocked = tuple(sorted(plan.blocked_reasons.items(), key=lambda kv: -kv[1]))
    return PlanPreview(counts=counts, ops=plan.op_counts(), summary=tuple(plan.summary_lines()), blocked=blocked,
                       removals=plan.removals, removal_contacts=removal_contacts, warnings=tuple(plan.warnings),
                       rows=rows, total=len(plan.records))


# -- the report, a page at a time -----------------------------------------------------------------------------

# filter key -> (label, condition on RunItem.state / ExportRecord.outcome)
OUTCOME_FILTERS: dict[str, str] = {
    "all": "All records",
    "failed": "Failed",
    "blocked": "Blocked",
    "created": "Created",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "other": "Merged, already there or not done",
}


def _filtered(q: Any, outcome: str) -> Any:
    if outcome == "failed":
        return q.where(RunItem.state == "failed")
    if outcome == "blocked":
        return q.where(RunItem.state == "skipped")
    if outcome in ("created", "updated", "unchanged"):
        return q.where(RunItem.state == "done", ExportRecord.outcome == outcome)
    if outcome == "other":
        return q.where((RunItem.state.in_(["pending", "in_flight"]))
                       | ((RunItem.state == "done") & ExportRecord.outcome.in_(["merged", "existed"])))
    return q


def report_rows(ctx: Any, run_id: int, outcome: str = "all", offset: int = 0, limit: int = 200,
                obj: str | None = None) -> list[RecordOutcome]:
    """Records of run ``run_id`` with their outcome, CRM id or error, in the run's order, paged."""
    q = (select(RunItem.object, RunItem.local_id, ExportRecord.label, RunItem.action, RunItem.state,
                ExportRecord.outcome, RunItem.crm_id, RunItem.error, ExportRecord.code, ExportRecord.changes)
         .join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
         .where(RunItem.run_id == run_id))
    if obj is not None:
        q = q.where(RunItem.object == obj)
    q = _filtered(q, outcome).order_by(RunItem.id).offset(offset).limit(limit)
    with ctx.store.session() as s:
        return [RecordOutcome(o, local_id, label, action, state, out, crm_id, error, code,
                              tuple(tuple(c) for c in (changes or ())) if action == "update" else ())
                for o, local_id, label, action, state, out, crm_id, error, code, changes in s.execute(q)]


def report_count(ctx: Any, run_id: int, outcome: str = "all", obj: str | None = None) -> int:
    q = (select(func.count()).select_from(RunItem).join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
         .where(RunItem.run_id == run_id))
    if obj is not None:
        q = q.where(RunItem.object == obj)
    with ctx.store.session() as s:
        return int(s.scalar(_filtered(q, outcome)) or 0)


@dataclass(frozen=True)
class ReportSummary:
    """The head of a run's report: the run, outcome counts, failures by cause, warnings, removed associations."""

    run: RunInfo
    counts: dict[str, int]
    failures: list[FailureGroup]
    warnings: list[str]
    slack_warning: str = ""
    removed: int = 0  # associations removed and not restored (Restore can put them back)
    restored: int = 0
    restore_failed: int = 0
    objects: tuple[str, ...] = ("contact",)
    summary_lines: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> int:
        return int(self.counts.get("failed", 0))

    @property
    def can_retry(self) -> bool:
        return self.run.state in ("finished", "failed", "cancelled", "interrupted") and (
            self.failed > 0 or int(self.counts.get("failed_ops", 0)) > 0)

    @property
    def can_resume(self) -> bool:
        return self.run.resumable


def report_summary(ctx: Any, run_id: int) -> ReportSummary:
    """Counts from the journal (as the run's counters say them), failures by cause, warnings (the plan's, and the
    Slack summary's failure), and how many removed associations can be restored."""
    from enginy_desktop.core.models import ExportOp, RemovedAssociation

    from .run import counters

    info = ctx.runs.get(run_id)
    counts = counters(ctx, run_id)
    with ctx.store.session() as s:
        states = dict(s.execute(select(RemovedAssociation.state, func.count())
                                .where(RemovedAssociation.run_id == run_id).group_by(RemovedAssociation.state)).all())
        objects = tuple(s.scalars(select(RunItem.object).where(RunItem.run_id == run_id).distinct()))
        failed_ops = int(s.scalar(select(func.count()).select_from(ExportOp)
                                  .where(ExportOp.run_id == run_id, ExportOp.state == "failed")) or 0)
    counts["failed_ops"] = failed_ops
    warnings = [str(w) for w in (info.options.get("warnings") or [])]
    slack = info.options.get("slack") or {}
    slack_warning = str(slack.get("warning") or "") if isinstance(slack, dict) else ""
    return ReportSummary(
        run=info, counts=counts, failures=failure_groups(ctx, run_id), warnings=warnings, slack_warning=slack_warning,
        removed=int(states.get("removed", 0)) + int(states.get("removing", 0)) + int(states.get("restore_failed", 0)),
        restored=int(states.get("restored", 0)), restore_failed=int(states.get("restore_failed", 0)),
        objects=tuple(o for o in ("company", "contact") if o in objects) or ("contact",),
        summary_lines=tuple(str(x) for x in (info.options.get("summary") or [])),
    )


@dataclass(frozen=True)
class ReportData:
    """What the report view shows first, read in one go off the window's thread: the summary, the record count
    of each filter, the first page of the chosen filter, and the CRM's labels."""

    summary: ReportSummary
    filter_counts: dict[str, int]
    outcome: str
    first_page: list[RecordOutcome]
    labels: CrmLabels


def report_data(ctx: Any, run_id: int, outcome: str | None = None, page: int = 200) -> ReportData:
    """The :class:`ReportData` of run ``run_id``: ``outcome`` is the filter to show (default: the failures when
    there are, else every record)."""
    summary = report_summary(ctx, run_id)
    counts = {key: report_count(ctx, run_id, key) for key in OUTCOME_FILTERS}
    if outcome is None or not counts.get(outcome):
        outcome = "failed" if counts.get("failed") else "all"
    rows = report_rows(ctx, run_id, outcome, 0, page)
    return ReportData(summary, counts, outcome, rows, crm_labels(ctx, summary.run.crm))


# -- running the engine off the window's loop -----------------------------------------------------------------


class ProgressRelay:
    """A progress callback for an engine running in a worker thread: it keeps the latest snapshot, and the
    window's loop hands it on (:meth:`flush`) on its own thread. Nothing crosses threads through Qt: a snapshot
    skipped between two flushes is only a display update (each snapshot carries the whole counts)."""

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self._deliver = deliver
        self._lock = threading.Lock()
        self._latest: Any = None

    def __call__(self, progress: Any) -> None:
        with self._lock:
            self._latest = progress

    def flush(self) -> None:
        with self._lock:
            latest, self._latest = self._latest, None
        if latest is not None:
            self._deliver(latest)


class GcPause:
    """Keeps Python's cyclic garbage collector from stalling the window while a big plan is built, shown or run.

    A full collection walks every tracked object holding the GIL, from whichever thread: the window's own heap
    (some 140,000 objects) costs about 70 ms a collection, and a 100,000-record plan (millions of objects) a few
    hundred milliseconds, several times over while it is built. So, while held:

    - what exists is frozen (``gc.freeze()``: the collector leaves it alone; reference counting still frees it), and
      collections only look at what is new — the run's short-lived objects, cheap to scan;
    - with ``pause`` (while a plan is being built: everything new is the plan) the collector is off until
      :meth:`settle` freezes the finished plan and turns it back on.

    When the last hold is released everything is unfrozen (garbage made meanwhile is collected as usual later).
    Holds nest across dialogs and runs.
    """

    _holders = 0
    _paused = 0
    _was_enabled = True

    def __init__(self) -> None:
        self.held = False
        self.paused = False

    def hold(self, pause: bool = False) -> None:
        if not self.held:
            self.held = True
            if GcPause._holders == 0:
                GcPause._was_enabled = gc.isenabled()
            GcPause._holders += 1
            gc.freeze()
        if pause and not self.paused:
            self.paused = True
            GcPause._paused += 1
            gc.disable()

    def settle(self) -> None:
        """The big data is built: freeze it and let the collector run again (on what is new)."""
        if not self.held:
            return
        gc.freeze()
        if self.paused:
            self.paused = False
            GcPause._paused -= 1
            if GcPause._paused == 0 and GcPause._was_enabled:
                gc.enable()

    def release(self) -> None:
        self.settle()
        if not self.held:
            return
        self.held = False
        GcPause._holders -= 1
        if GcPause._holders == 0:
            gc.unfreeze()

    def __enter__(self) -> GcPause:
        self.hold()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


async def in_worker_thread(factory: Callable[[], Coroutine[Any, Any, T]], *, token: CancelToken | None = None,
                           relay: ProgressRelay | None = None, name: str = "enginy-export", grace: float = 20.0,
                           poll: float = 0.05, pause_gc: bool = False) -> T:
    """Run ``factory()`` on a new event loop in a daemon thread and await its result here.

    The engine's database work is synchronous; on its own loop it never stalls the window's. The window's loop
    looks at the worker every ``poll`` seconds — handing on the latest progress of ``relay`` and picking up the
    result — rather than being called from the worker thread: nothing crosses threads through Qt's queued
    signals. If the awaiting task is cancelled (the window quits), ``token`` is cancelled so the engine stops
    after its batch in flight, and this waits up to ``grace`` seconds for that before letting the cancellation
    through (a journaled run can be resumed either way). ``pause_gc``: the heap is frozen while the worker runs,
    so the garbage collector only looks at new objects (:class:`GcPause`: for big plans and runs).
    """
    if pause_gc:
        with GcPause():
            return await in_worker_thread(factory, token=token, relay=relay, name=name, grace=grace, poll=poll)
    outcome: list[Any] = []  # [result] or [None, exception]
    finished = threading.Event()

    def target() -> None:
        try:
            outcome.append(asyncio.run(factory()))
        except BaseException as exc:  # handed to the awaiting task, never lost in the thread
            outcome[:] = [None, exc]
        finally:
            finished.set()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        while not finished.is_set():
            if relay is not None:
                relay.flush()
            await asyncio.sleep(poll)
    except asyncio.CancelledError:
        if token is not None:
            token.cancel()
        deadline = asyncio.get_running_loop().time() + grace
        with contextlib.suppress(BaseException):
            while not finished.is_set() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(poll)
        raise
    finally:
        if relay is not None:
            relay.flush()
    if len(outcome) == 2:
        raise outcome[1]
    return outcome[0]


async def in_thread(fn: Callable[..., T], *args: Any, name: str = "enginy-worker", poll: float = 0.02) -> T:
    """``fn(*args)`` in a daemon thread, awaited by looking at it every ``poll`` seconds (see
    :func:`in_worker_thread`: no cross-thread Qt signal per call, unlike ``asyncio.to_thread`` on qasync)."""

    async def call() -> T:
        return fn(*args)

    return await in_worker_thread(call, name=name, poll=poll)
