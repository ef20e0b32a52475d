"""The report of an export run: every record's outcome with its CRM id or error, the associations and activities,
failures grouped by cause, and the failed rows as a CSV file that is safe to open in a spreadsheet.

The JSON form (:meth:`Report.as_json`, written by ``enginy-desktop export --report FILE.json``) is described in
``docs/export.md``; its ``format`` is ``enginy-export-report`` and its ``version`` 1.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from enginy_desktop.core import fields as enginy_fields
from enginy_desktop.core.models import Company, Contact, ExportOp, ExportRecord, RemovedAssociation, RunItem

__all__ = [
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "FailureGroup",
    "OpOutcome",
    "RecordOutcome",
    "Report",
    "csv_safe",
    "failure_groups",
    "load_report",
    "throttle_signal",
    "traffic_line",
    "traffic_of",
    "write_failed_csv",
]

REPORT_FORMAT = "enginy-export-report"
REPORT_VERSION = 1

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a value starting with = + - @ tab or CR gets a leading apostrophe
    (OWASP's advice against CSV / formula injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    object: str
    local_id: int
    label: str
    action: str  # planned: create, update, unchanged, merge, blocked
    state: str  # done, failed, skipped, pending, in_flight
    outcome: str  # created, updated, unchanged, merged, existed, blocked, failed, "" (not done yet)
    crm_id: str | None
    error: str | None
    code: str
    changes: tuple[tuple[Any, ...], ...] = ()

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "object": self.object, "id": self.local_id, "label": self.label, "action": self.action,
            "state": self.state, "outcome": self.outcome or self.state, "crm_id": self.crm_id,
        }  # fmt: skip
        if self.error:
            data["error"] = self.error
        if self.code:
            data["code"] = self.code
        if self.changes:
            data["changes"] = [{"field": c[0], "before": c[1], "after": c[2], "effect": c[3]} for c in self.changes]
        return data


@dataclass(frozen=True, slots=True)
class OpOutcome:
    kind: str  # associate, primary, remove, activity
    contact_id: int | None
    company_id: int | None
    event_id: int | None
    from_crm_id: str | None
    to_crm_id: str | None
    state: str
    crm_id: str | None
    error: str | None
    code: str

    def as_json(self) -> dict[str, Any]:
        data = {"kind": self.kind, "contact": self.contact_id, "state": self.state}
        for key in ("company_id", "event_id", "from_crm_id", "to_crm_id", "crm_id", "error"):
            value = getattr(self, key)
            if value not in (None, ""):
                data[key] = value
        if self.code:
            data["code"] = self.code
        return data


@dataclass(frozen=True, slots=True)
class FailureGroup:
    reason: str  # the cause, with record-specific values blanked out
    code: str
    count: int
    examples: tuple[str, ...] = ()  # labels of a few records
    blocked: bool = False  # the plan blocked these (nothing was sent); else the CRM refused them or no answer

    @property
    def heading(self) -> str:
        return "Blocked" if self.blocked else "Failed"


_QUOTED = re.compile(r"“[^”]*”")
_NUMBER = re.compile(r"\b\d{3,}\b")
_ID_LIST = re.compile(r"\s*\((?:N|“…”)(?:,\s*(?:N|“…”))*(?:,?\s*…)?\)")


def _cause(reason: str) -> str:
    """The reason with values specific to one record replaced, so equal causes group together: the first quoted
    span (the field) is kept, later ones (the value) become “…”; long numbers (ids) become N."""
    seen = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return m.group(0) if seen == 1 else "“…”"

    # Lists of record ids ("(1234, 5678)") are dropped, not shown as placeholders; a lone id reads "…".
    blanked = _NUMBER.sub("N", _QUOTED.sub(repl, reason or ""))
    return re.sub(r"\bN\b", "…", _ID_LIST.sub("", blanked)).strip()


@dataclass
class Report:
    run: Any  # RunInfo
    records: list[RecordOutcome]
    ops: list[OpOutcome]
    removed: list[dict[str, Any]]
    failures: list[FailureGroup]
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.outcome or r.state for r in self.records)
        return dict(c)

    def failed(self) -> list[RecordOutcome]:
        return [r for r in self.records if r.state == "failed"]

    @property
    def traffic(self) -> dict[str, Any]:
        """What the run cost with the CRM: requests, retries, throttling answers (the CRM's "too many requests")
        and seconds waited; ``throttle_signal`` says how this CRM says too many requests)."""
        return {**traffic_of(self.run.counters), "throttle_signal": throttle_signal(str(self.run.crm or ""))}

    def as_json(self) -> dict[str, Any]:
        run = self.run
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "run": run.as_json(),
            "counts": self.counts,
            "warnings": self.warnings,
            "failures": [{"reason": g.reason, "code": g.code, "count": g.count, "examples": list(g.examples),
                          "blocked": g.blocked} for g in self.failures],
            "traffic": self.traffic,
            "records": [r.as_json() for r in self.records],
            "operations": [o.as_json() for o in self.ops],
            "removed_associations": self.removed,
        }

    def write_json(self, path: Path) -> Path:
        return _atomic_write(Path(path), json.dumps(self.as_json(), indent=2, ensure_ascii=False, default=str) + "\n")


def traffic_of(counters: Any) -> dict[str, Any]:
    """The traffic figures of a run's counters (every attempt of the run, resumes included)."""
    def n(key: str) -> int:
        value = counters.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    return {"requests": n("requests"), "retries": n("retries"), "throttled": n("throttled"),
            "waited_s": round(n("waited_ms") / 1000, 1)}


def throttle_signal(crm: str) -> str:
    """How CRM ``crm`` says "too many requests" (its adapter's ``throttle_signal``: ``429`` for most, Salesforce's
    ``403 REQUEST_LIMIT_EXCEEDED``); ``429`` for a key without an adapter."""
    from enginy_desktop.adapters import registry

    if crm not in registry.CRM_ADAPTERS:
        return "429"
    return str(getattr(registry.adapter_class(crm), "throttle_signal", "429") or "429")


def traffic_line(counters: Any, crm_name: str, signal: str = "429") -> str:
    """One line for people, only when the CRM made the export slow down or send again ("" otherwise): "HubSpot
    asked us to slow down 3 times (429); the export waited 12 s in all and retried 3 requests — nothing was lost";
    ``signal`` is how the CRM says too many requests (:func:`throttle_signal`: Salesforce's
    ``403 REQUEST_LIMIT_EXCEEDED``). The seconds are every request's wait added up (requests wait side by side)."""
    t = traffic_of(counters)
    throttled, retries, waited = int(t["throttled"]), int(t["retries"]), float(t["waited_s"])
    if not (throttled or retries or waited >= 0.1):
        return ""
    seconds = f"{waited:,.0f} s" if waited >= 10 else f"{waited:,.1f} s"
    did = []
    if waited >= 0.1:
        did.append(f"waited {seconds} in all")
    if retries:
        did.append(f"retried {retries:,} request{'' if retries == 1 else 's'}")
    failed = counters.get("failed", 0) if hasattr(counters, "get") else 0
    lost = "" if failed or not retries else " — nothing was lost"
    if throttled:
        times = "once" if throttled == 1 else f"{throttled:,} times"
        head = f"{crm_name} asked us to slow down {times} ({signal})"
        return f"{head}; the export {' and '.join(did)}{lost}." if did else f"{head}."
    if not retries:  # no answer asked for it: the export kept to the CRM's known limit by itself
        return f"The export kept to {crm_name}'s rate limit: it {did[0]}."
    first = f"{crm_name} did not answer {retries:,} request{'' if retries == 1 else 's'} the first time"
    again = f"sent {'it' if retries == 1 else 'them'} again"
    return f"{first}; the export {' and '.join([*did[:-1], again])}{lost}."


def _atomic_write(path: Path, text: str, newline: str | None = None) -> Path:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _records(ctx: Any, run_id: int, states: Sequence[str] | None = None) -> list[RecordOutcome]:
    q = (select(RunItem.object, RunItem.local_id, ExportRecord.label, RunItem.action, RunItem.state,
                ExportRecord.outcome, RunItem.crm_id, RunItem.error, ExportRecord.code, ExportRecord.changes)
         .join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
         .where(RunItem.run_id == run_id).order_by(RunItem.id))
    if states is not None:
        q = q.where(RunItem.state.in_(list(states)))
    with ctx.store.session() as s:
        return [RecordOutcome(obj, local_id, label, action, state, outcome, crm_id, error, code,
                              tuple(tuple(c) for c in (changes or ())) if action == "update" else ())
                for obj, local_id, label, action, state, outcome, crm_id, error, code, changes in s.execute(q)]


def failure_groups(ctx: Any, run_id: int, records: Iterable[RecordOutcome] | None = None,
                   ops: Iterable[OpOutcome] | None = None) -> list[FailureGroup]:
    """Failed (and blocked) records and failed operations grouped by cause, most frequent first."""
    recs = list(records) if records is not None else _records(ctx, run_id, ["failed", "skipped"])
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for r in recs:
        if r.state in ("failed", "skipped") and r.error:
            groups.setdefault((_cause(r.error), r.code or r.state, r.state == "skipped"), []).append(r.label)
    op_list = list(ops) if ops is not None else _ops(ctx, run_id, ["failed"])
    for o in op_list:
        if o.state == "failed" and o.error:
            groups.setdefault((_cause(o.error), o.code or o.kind, False), []).append(
                f"{o.kind} for contact {o.contact_id}")
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [FailureGroup(reason, code, len(labels), tuple(labels[:3]), blocked)
            for (reason, code, blocked), labels in ordered]


def _ops(ctx: Any, run_id: int, states: Sequence[str] | None = None) -> list[OpOutcome]:
    q = select(ExportOp).where(ExportOp.run_id == run_id).order_by(ExportOp.id)
    if states is not None:
        q = q.where(ExportOp.state.in_(list(states)))
    with ctx.store.session() as s:
        return [OpOutcome(o.kind, o.contact_id, o.company_id, o.event_id, o.from_crm_id, o.to_crm_id, o.state,
                          o.crm_id, o.error, o.code) for o in s.scalars(q)]


def load_report(ctx: Any, run_id: int) -> Report:
    """The report of export run ``run_id``, from its journal."""
    info = ctx.runs.get(run_id)
    records = _records(ctx, run_id)
    ops = _ops(ctx, run_id)
    with ctx.store.session() as s:
        removed = [
            {"contact": r.contact_id, "contact_crm_id": r.from_crm_id, "company_crm_id": r.to_crm_id,
             "was_primary": r.was_primary, "types": r.types, "state": r.state,
             "removed_at": r.removed_at.isoformat() if r.removed_at else None,
             "restored_at": r.restored_at.isoformat() if r.restored_at else None, "error": r.error}
            for r in s.scalars(select(RemovedAssociation).where(RemovedAssociation.run_id == run_id)
                               .order_by(RemovedAssociation.id))
        ]
    warnings = list(info.options.get("warnings") or [])
    slack = info.options.get("slack") or {}
    if isinstance(slack, dict) and slack.get("warning"):
        warnings.append(str(slack["warning"]))
    return Report(info, records, ops, removed, failure_groups(ctx, run_id, records, ops), warnings)


NOT_WRITTEN = ("failed", "skipped", "pending", "in_flight")


def write_failed_csv(ctx: Any, run_id: int, path: Path) -> int:
    """Write every record the run did not write — failed, blocked, or not sent yet — to ``path`` with the reason,
    every Enginy field (custom fields included) and the values the export was to send; returns the row count.

    Every cell is made safe against spreadsheet formula injection (:func:`csv_safe`).
    """
    info = ctx.runs.get(run_id)
    crm = str(info.options.get("crm_name") or info.crm or "crm")
    rows_q = (select(RunItem.object, RunItem.local_id, ExportRecord.label, RunItem.state, ExportRecord.outcome,
                     RunItem.error, ExportRecord.code, ExportRecord.payload)
              .join(ExportRecord, ExportRecord.run_item_id == RunItem.id)
              .where(RunItem.run_id == run_id, RunItem.state.in_(NOT_WRITTEN)).order_by(RunItem.id))
    with ctx.store.session() as s:
        recs = list(s.execute(rows_q))
    by_object: dict[str, list[Any]] = {}
    for r in recs:
        by_object.setdefault(r[0], []).append(r)
    data: dict[tuple[str, int], dict[str, Any]] = {}
    custom: dict[str, list[str]] = {}
    sent_names: list[str] = []
    with ctx.store.session() as s:
        for obj, items in by_object.items():
            model = Contact if obj == "contact" else Company
            names = [f.name for f in enginy_fields.fields_for(obj)]
            ids = [r[1] for r in items]
            for start in range(0, len(ids), 900):
                cols = [model.id, model.custom_fields, *(getattr(model, n) for n in names)]
                for row in s.execute(select(*cols).where(model.id.in_(ids[start:start + 900]))):
                    values = dict(zip(names, row[2:], strict=True))
                    for key, value in (row[1] or {}).items():
                        values["custom:" + str(key)] = value
                        if str(key) not in custom.setdefault(obj, []):
                            custom[obj].append(str(key))
                    data[(obj, row[0])] = values
            for r in items:
                for name in (r[7] or {}):
                    if f"{obj}:{name}" not in sent_names:
                        sent_names.append(f"{obj}:{name}")
    header = ["object", "id", "record", "outcome", "error", "code"]
    columns: list[tuple[str, str, str]] = []  # (header, object, key in the values)
    for obj in ("contact", "company"):
        if obj in by_object:
            columns += [(f"{obj}.{f.name}", obj, f.name) for f in enginy_fields.fields_for(obj)]
            columns += [(f"{obj}.{name}", obj, "custom:" + name) for name in custom.get(obj, [])]
    sent = [(f"{obj} → {crm}: {name}", obj, name) for obj, name in (n.split(":", 1) for n in sent_names)]
    rows: list[list[str]] = []
    for obj, local_id, label, state, _outcome, error, code, payload in recs:
        values = data.get((obj, local_id), {})
        shown = {"skipped": "blocked", "pending": "not sent", "in_flight": "not confirmed"}.get(state, "failed")
        cells: list[Any] = [obj, str(local_id), label, shown, error or "", code or ""]
        cells += [values.get(key) if o == obj else "" for _, o, key in columns]
        cells += [(payload or {}).get(key) if o == obj else "" for _, o, key in sent]
        rows.append([csv_safe(c) for c in cells])
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header + [h for h, _, _ in columns] + [h for h, _, _ in sent])
    writer.writerows(rows)
    _atomic_write(Path(path), buffer.getvalue(), newline="")
    return len(rows)
