"""The report of an enrichment run and the provenance of enriched values (read by the Runs page, the list, the CLI).

- :func:`report` — per provider and data point: records asked, values found, not found, failed; credits spent;
  values answered by the cache; records asked again after a crash (a provider that does not charge a repeated
  lookup) and records not asked again (one that does); records left for lack of credit under the cap; what each
  provider charges for a repeated lookup; the run's state and error.
- :func:`provenance` — for records of a list: field -> (provider, when, confidence, status).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from enginy_desktop.adapters.enrichment.base import DATA_POINT_LABELS, DataPoint
from enginy_desktop.core import catalog
from enginy_desktop.core.models import EnrichedValue, EnrichmentRequest

__all__ = ["PointOutcome", "ProviderReport", "RunReport", "describe_source", "provenance", "report"]


@dataclass
class PointOutcome:
    asked: int = 0
    found: int = 0
    failed: int = 0

    @property
    def not_found(self) -> int:
        return max(0, self.asked - self.found - self.failed)

    def as_json(self) -> dict[str, int]:
        return {"asked": self.asked, "found": self.found, "not_found": self.not_found, "failed": self.failed}


@dataclass
class ProviderReport:
    provider: str
    name: str
    requests: int = 0
    credits: float = 0.0
    points: dict[str, PointOutcome] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    not_reasked: int = 0  # records of requests cut off by a crash, not asked again (the provider charges repeats)
    repeat: str = ""  # "free" or "charged": what the provider charges for a repeated lookup
    repeat_note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "name": self.name, "requests": self.requests,
                "credits": round(self.credits, 2), "points": {k: v.as_json() for k, v in self.points.items()},
                "errors": list(self.errors), "records_not_asked_again_after_a_crash": self.not_reasked,
                "repeated_lookup": self.repeat, "repeated_lookup_note": self.repeat_note}


@dataclass
class RunReport:
    run_id: int
    state: str
    list_name: str
    error: str | None
    records: int
    found: int
    cached: int
    credits: float
    reasked: int
    not_reasked: int
    left_by_cap: int
    points: list[str]
    providers: list[ProviderReport]
    still_missing: dict[str, int]

    state_label: str = ""  # "Finished", "Cancelled", "Paused at cap"…

    @property
    def resumable(self) -> bool:
        return self.state in ("interrupted", "cancelled", "failed")

    def as_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "state": self.state, "state_label": self.state_label, "list": self.list_name,
                "error": self.error,
                "records": self.records, "values_found": self.found, "values_from_cache": self.cached,
                "credits_spent": round(self.credits, 2), "records_asked_again_after_a_crash": self.reasked,
                "records_not_asked_again_after_a_crash": self.not_reasked,
                "records_left_for_lack_of_credit": self.left_by_cap,
                "points": list(self.points), "providers": [p.as_json() for p in self.providers],
                "still_missing": dict(self.still_missing)}


def report(ctx: Any, run_id: int) -> RunReport:
    info = ctx.runs.get(run_id)
    enrich = dict(info.options.get("enrich") or {})
    per: dict[str, ProviderReport] = {}
    for key in info.options.get("providers") or []:
        per[key] = _provider(key)
    with ctx.store.session() as s:
        rows = s.execute(select(EnrichmentRequest.provider, EnrichmentRequest.state, EnrichmentRequest.asked,
                                EnrichmentRequest.found, EnrichmentRequest.credits, EnrichmentRequest.error,
                                EnrichmentRequest.record_ids)
                         .where(EnrichmentRequest.run_id == run_id)).all()
    for provider, state, asked, found, credits, error, record_ids in rows:
        rep = per.get(provider) or per.setdefault(provider, _provider(provider))
        rep.requests += 1
        rep.credits += float(credits or 0.0)
        if state == "lost":
            rep.not_reasked += len(record_ids or [])
        for point, n in dict(asked or {}).items():
            outcome = rep.points.setdefault(point, PointOutcome())
            outcome.asked += int(n)
            if state in ("failed", "lost"):
                outcome.failed += int(n)
        for point, n in dict(found or {}).items():
            rep.points.setdefault(point, PointOutcome()).found += int(n)
        if state in ("failed", "lost") and error and error not in rep.errors:
            rep.errors.append(error)
    # The journal is the truth (counters of an attempt killed mid-chunk were never saved): values found are the
    # provenance rows this run wrote, credits what its recorded requests cost; the rest came from the cache.
    with ctx.store.session() as s:
        found = int(s.scalar(select(func.count(func.distinct(EnrichedValue.record_id * 16 + _point_index())))
                             .where(EnrichedValue.run_id == run_id)) or 0)
    from_requests = sum(o.found for p in per.values() for o in p.points.values())
    still = _still_missing(ctx, info, enrich)
    return RunReport(run_id=run_id, state=info.state, list_name=info.list_name, error=info.error,
                     records=info.counter("records"), found=found, cached=max(0, found - from_requests),
                     credits=sum(p.credits for p in per.values()), reasked=info.counter("reasked"),
                     not_reasked=sum(p.not_reasked for p in per.values()), left_by_cap=info.counter("left_by_cap"),
                     points=list(enrich.get("points") or []), providers=list(per.values()), still_missing=still,
                     state_label=info.state_label)


def _point_index() -> Any:
    """A number per data point (for counting distinct record-and-point pairs in SQL)."""
    return case({p.value: i for i, p in enumerate(DataPoint)}, value=EnrichedValue.data_point, else_=15)


def _provider(key: str) -> ProviderReport:
    from enginy_desktop.adapters.enrichment.base import adapter_class

    rep = ProviderReport(key, _name(key))
    try:
        caps = adapter_class(key).capabilities
    except KeyError:
        return rep
    rep.repeat, rep.repeat_note = caps.repeat.value, caps.repeat_note
    return rep


def _name(key: str) -> str:
    try:
        return catalog.get(key).name
    except KeyError:
        return key


def _still_missing(ctx: Any, info: Any, enrich: dict[str, Any]) -> dict[str, int]:
    from enginy_desktop.core.fields import RecordKind

    from . import points as P
    from .plan import iter_rows, list_kind

    if info.list_id is None or not enrich:
        return {}
    try:
        kind, _ = list_kind(ctx, info.list_id)
    except Exception:  # noqa: BLE001 - the list was deleted since
        return {}
    out: dict[str, int] = {}
    wanted = [DataPoint(p) for p in enrich.get("points") or []]
    for rows in iter_rows(ctx, RecordKind(kind), info.list_id, enrich.get("record_ids"), chunk=2000):
        for row in rows:
            for point in wanted:
                if P.is_missing(kind, point, row):
                    out[point.value] = out.get(point.value, 0) + 1
    return out


def point_label(point: str) -> str:
    try:
        return DATA_POINT_LABELS[DataPoint(point)]
    except ValueError:
        return point


def describe_source(info: dict[str, Any]) -> str:
    """One line for a tooltip: "Found by Hunter on 2026-12-03 · status valid · confidence 95"."""
    when = str(info.get("found_at") or "")[:10]
    parts = [f"Found by {info.get('provider_name') or info.get('provider')}" + (f" on {when}" if when else "")]
    if info.get("status"):
        parts.append(f"status {info['status']}")
    if info.get("confidence"):
        parts.append(f"confidence {info['confidence']}")
    if info.get("detail"):
        parts.append(str(info["detail"]))
    return " · ".join(parts)


def provenance(ctx: Any, kind: str, record_ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """record id -> field -> {provider, provider_name, found_at, confidence, status, detail, run}. ``ctx`` is
    anything with the ``store`` (the app context, a workspace service)."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    if not record_ids:
        return out
    with ctx.store.session() as s:
        for start in range(0, len(record_ids), 500):
            part = list(record_ids[start:start + 500])
            for row in s.scalars(select(EnrichedValue).where(EnrichedValue.record_kind == kind,
                                                             EnrichedValue.record_id.in_(part))):
                found_at = row.found_at.isoformat() if row.found_at else None
                out.setdefault(row.record_id, {})[row.field] = {
                    "provider": row.provider, "provider_name": _name(row.provider), "found_at": found_at,
                    "confidence": row.confidence, "status": row.status, "detail": row.detail, "run": row.run_id}
    return out
