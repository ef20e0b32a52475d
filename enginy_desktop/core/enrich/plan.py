"""What an enrichment run will do, before anything is spent (DESIGN §13).

- :func:`providers` — the enrichment providers Enginy can ask, whether each is switched on and connected, what it
  finds and what it costs;
- :func:`saved_waterfall` / :func:`default_order` / :func:`save_default_order` — the waterfall per data point,
  saved in the store: the providers' order and those never to ask for that point (``excluded``);
- :class:`EnrichOptions` — a run's choices (list or selection, what to find, the order, the credit cap, whether to
  replace values already there);
- :func:`estimate` — per provider, how many records it would be asked about **at most** (every provider before it
  in the waterfall missing) and the credits that costs at most, after the cache and the values already there;
  against the cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from enginy_desktop.adapters.enrichment.base import ADAPTERS, DataPoint, EnrichmentAdapter, adapter_class
from enginy_desktop.core import catalog
from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.models import (
    Company,
    Contact,
    ContactList,
    EnrichedValue,
    EnrichmentCacheEntry,
    EnrichmentDefault,
    ListMembership,
)

from . import points as P

__all__ = [
    "DEFAULT_MAX_CREDITS",
    "EnrichError",
    "EnrichOptions",
    "Estimate",
    "ProviderChoice",
    "ProviderEstimate",
    "default_order",
    "estimate",
    "excluded_providers",
    "iter_rows",
    "providers",
    "save_default_order",
    "saved_waterfall",
]

CHUNK = 500
# The credit cap of a new run unless the user sets another (window and command line alike): a first run on a big
# list cannot spend more than this by surprise; the estimate says when it is over, and a run that reaches it is
# paused there, resumable with a higher cap.
DEFAULT_MAX_CREDITS = 100.0


class EnrichError(Exception):
    """A readable refusal: no such list, nothing to find, no provider ready…

    ``command`` is the same refusal for the command line where the window's wording ("Integrations → …") does
    not apply: what to run instead."""

    def __init__(self, message: str, *, command: str = "") -> None:
        super().__init__(message)
        self.command = command or message

    def for_surface(self, surface: str) -> str:
        return self.command if surface == "cli" else str(self)


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    key: str
    name: str
    enabled: bool
    connected: bool
    finds: tuple[DataPoint, ...]
    unit: str
    pricing: str
    batch_size: int
    flow: str

    @property
    def ready(self) -> bool:
        return self.enabled and self.connected

    def why_not(self, surface: str = "window") -> str:
        """Why the provider cannot be asked, and what to do — in the window's words or the command line's."""
        cli = surface == "cli"
        if not self.enabled:
            if cli:
                return f"{self.name} is switched off: turn it on with `enginy-desktop integrations enable {self.key}`."
            return f"{self.name} is switched off (Integrations → Data Enrichment)."
        if not self.connected:
            if cli:
                return f"{self.name} is not connected: {_connect_hint(self.key)}"
            return f"{self.name} is not connected (Integrations → {self.name} → Connect)."
        return ""


def _connect_hint(key: str) -> str:
    """How to connect ``key`` on the command line: its first set of credentials (an API key for most providers;
    ZoomInfo's client ID and secret)."""
    spec = catalog.get(key)
    group = next(iter(spec.required_groups), ())
    secret = next((f for f in group if f.secret), None)
    if secret is None or secret.name == "api_key":
        return (f"save its API key with `enginy-desktop connect {key} --secret-stdin api_key` (the key on standard "
                "input).")
    sets = " ".join(f"--set {f.name}=…" for f in group if not f.secret)
    labels = [f.label[:1].lower() + f.label[1:] for f in group]
    return (f"save its {' and '.join(labels)} with `enginy-desktop connect {key} "
            f"{sets + ' ' if sets else ''}--secret-stdin {secret.name}` (the {labels[group.index(secret)]} on standard "
            "input).")


def providers(ctx: Any) -> list[ProviderChoice]:
    """Every enrichment provider Enginy can ask, in the catalog's order."""
    out: list[ProviderChoice] = []
    for spec in catalog.by_category(catalog.Category.DATA_ENRICHMENT):
        if spec.key not in ADAPTERS:
            continue
        cls = adapter_class(spec.key)
        info = ctx.integrations.get(spec.key)
        caps = cls.capabilities
        out.append(ProviderChoice(spec.key, spec.name, info.enabled, info.connected,
                                  tuple(p for p in DataPoint if p in caps.finds), caps.pricing.unit,
                                  caps.pricing.notes, caps.batch_size, caps.flow.value))
    return out


def saved_waterfall(ctx: Any, *, ready_only: bool = False) -> dict[DataPoint, list[tuple[str, bool]]]:
    """The saved waterfall per data point: each provider that can find it, in the saved order (the others after,
    in the catalog's), with whether it is asked — ``False`` for a provider excluded from that point."""
    with ctx.store.session() as s:
        saved = {row.data_point: (list(row.providers), set(row.excluded or []))
                 for row in s.scalars(select(EnrichmentDefault))}
    choices = [c for c in providers(ctx) if c.ready or not ready_only]
    out: dict[DataPoint, list[tuple[str, bool]]] = {}
    for point in DataPoint:
        able = [c.key for c in choices if point in c.finds]
        order, excluded = saved.get(point.value, ([], set()))
        first = [k for k in order if k in able]
        out[point] = [(k, k not in excluded) for k in first + [k for k in able if k not in first]]
    return out


def default_order(ctx: Any, *, ready_only: bool = True) -> dict[DataPoint, list[str]]:
    """The providers a run asks per data point by default: the saved order without the excluded providers."""
    saved = saved_waterfall(ctx, ready_only=ready_only)
    return {p: [k for k, asked in entries if asked] for p, entries in saved.items()}


def excluded_providers(ctx: Any) -> dict[DataPoint, list[str]]:
    """Per data point, the providers saved as never to ask for it (only the points that have some)."""
    out = {p: [k for k, asked in entries if not asked] for p, entries in saved_waterfall(ctx).items()}
    return {p: keys for p, keys in out.items() if keys}


def save_default_order(ctx: Any, order: Mapping[DataPoint, Sequence[str]],
                       excluded: Mapping[DataPoint, Iterable[str]] | None = None) -> None:
    """Save each data point's order, and — when ``excluded`` is given — the providers never to ask for it (a point
    missing from ``excluded`` keeps what was saved)."""
    with ctx.store.write() as s:
        for point, keys in order.items():
            row = s.get(EnrichmentDefault, point.value)
            if row is None:
                row = EnrichmentDefault(data_point=point.value, providers=list(keys), excluded=[])
                s.add(row)
            else:
                row.providers = list(keys)
            if excluded is not None and point in excluded:
                row.excluded = sorted(set(excluded[point]))


@dataclass
class EnrichOptions:
    list_id: int
    points: list[DataPoint]
    order: dict[DataPoint, list[str]]
    record_ids: list[int] | None = None
    max_credits: float | None = None
    replace: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"list_id": self.list_id, "points": [p.value for p in self.points],
                "order": {p.value: list(ks) for p, ks in self.order.items() if p in self.points},
                "record_ids": self.record_ids, "max_credits": self.max_credits, "replace": self.replace}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EnrichOptions:
        return cls(list_id=int(data["list_id"]), points=[DataPoint(p) for p in data["points"]],
                   order={DataPoint(p): list(ks) for p, ks in dict(data.get("order") or {}).items()},
                   record_ids=list(data["record_ids"]) if data.get("record_ids") is not None else None,
                   max_credits=data.get("max_credits"), replace=bool(data.get("replace")))

    def providers_used(self) -> list[str]:
        seen: list[str] = []
        for p in self.points:
            for k in self.order.get(p, []):
                if k not in seen:
                    seen.append(k)
        return seen


def list_kind(ctx: Any, list_id: int) -> tuple[RecordKind, str]:
    with ctx.store.session() as s:
        row = s.get(ContactList, list_id)
        if row is None:
            raise EnrichError(f"There is no list number {list_id}.")
        return RecordKind.from_list_kind(row.kind), row.name


def iter_rows(ctx: Any, kind: RecordKind, list_id: int, record_ids: Sequence[int] | None,
              chunk: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """The records to enrich, a chunk at a time, as dicts of the columns enrichment reads and writes."""
    model: Any = Contact if kind is RecordKind.CONTACT else Company
    columns = P.CONTACT_COLUMNS if kind is RecordKind.CONTACT else P.COMPANY_COLUMNS
    if record_ids is not None:
        ids = list(record_ids)
    else:
        with ctx.store.session() as s:
            ids = list(s.scalars(select(ListMembership.record_id).where(ListMembership.list_id == list_id)
                                 .order_by(ListMembership.position)))
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        with ctx.store.session() as s:
            rows = s.execute(select(*[getattr(model, c) for c in columns]).where(model.id.in_(part))).all()
        by_id = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
        yield [by_id[i] for i in part if i in by_id]


def enriched_fields(ctx: Any, kind: RecordKind, ids: Sequence[int]) -> dict[int, set[str]]:
    """Which fields of these records hold a value that enrichment found (the rest were entered by the user)."""
    out: dict[int, set[str]] = {}
    with ctx.store.session() as s:
        for rid, fld in s.execute(select(EnrichedValue.record_id, EnrichedValue.field).where(
                EnrichedValue.record_kind == kind.value, EnrichedValue.record_id.in_(list(ids)))):
            out.setdefault(rid, set()).add(fld)
    return out


def user_identity(kind: RecordKind, row: Mapping[str, Any], enriched: set[str]) -> str:
    """The cache key of a record: its inputs as the user entered them (enriched values left out)."""
    columns = P.CONTACT_COLUMNS if kind is RecordKind.CONTACT else P.COMPANY_COLUMNS
    return P.lookup_input(kind, row, "", only=frozenset(c for c in columns if c not in enriched)).identity()


def cached(ctx: Any, identities: Sequence[str], provider_keys: Sequence[str]
           ) -> dict[tuple[str, str, str], EnrichmentCacheEntry]:
    """Cache rows keyed by (provider, identity, data point)."""
    out: dict[tuple[str, str, str], EnrichmentCacheEntry] = {}
    if not identities or not provider_keys:
        return out
    with ctx.store.session() as s:
        for start in range(0, len(identities), 400):
            part = list(identities[start:start + 400])
            for row in s.scalars(select(EnrichmentCacheEntry).where(
                    EnrichmentCacheEntry.provider.in_(list(provider_keys)), EnrichmentCacheEntry.identity.in_(part))):
                s.expunge(row)
                out[(row.provider, row.identity, row.data_point)] = row
    return out


@dataclass
class ProviderEstimate:
    provider: str
    name: str
    unit: str
    records: int = 0  # asked about at most
    credits: float = 0.0  # at most
    cached: int = 0  # records answered from the cache, free
    points: dict[str, int] = field(default_factory=dict)  # data point -> records asked at most

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "name": self.name, "unit": self.unit, "records_at_most": self.records,
                "credits_at_most": self.credits, "cached_records": self.cached, "points": dict(self.points)}


@dataclass
class Estimate:
    list_name: str
    kind: RecordKind
    records: int = 0
    missing: dict[str, int] = field(default_factory=dict)  # data point -> records missing it
    providers: list[ProviderEstimate] = field(default_factory=list)
    unreachable: dict[str, int] = field(default_factory=dict)  # data point -> records no provider can look up
    cap: float | None = None

    @property
    def credits_at_most(self) -> float:
        return sum(p.credits for p in self.providers)

    @property
    def over_cap(self) -> bool:
        return self.cap is not None and self.credits_at_most > self.cap

    @property
    def nothing_to_do(self) -> bool:
        return not any(p.records for p in self.providers)

    def as_json(self) -> dict[str, Any]:
        return {"list": self.list_name, "records": self.records, "missing": dict(self.missing),
                "providers": [p.as_json() for p in self.providers], "credits_at_most": self.credits_at_most,
                "cap": self.cap, "over_cap": self.over_cap, "unreachable": dict(self.unreachable)}


def adapters_for(keys: Sequence[str]) -> dict[str, type[EnrichmentAdapter]]:
    return {k: adapter_class(k) for k in keys}


def validate(ctx: Any, options: EnrichOptions) -> RecordKind:
    kind, _name = list_kind(ctx, options.list_id)
    if not options.points:
        raise EnrichError("Choose at least one thing to find.")
    allowed = P.points_for(kind)
    wrong = [p for p in options.points if p not in allowed]
    if wrong:
        what = "A companies list" if kind is RecordKind.COMPANY else "A contacts list"
        refused = f"{what} cannot be enriched with {', '.join(P.label(p) for p in wrong)}"
        able = [p for p in DataPoint if p in allowed]
        raise EnrichError(f"{refused}; it can be with {', '.join(P.label(p) for p in able)}.",
                          command=f"{refused}; it can be with --find {','.join(p.value for p in able)}.")
    ready = {c.key: c for c in providers(ctx)}
    for point in options.points:
        for key in options.order.get(point, []):
            if key not in ready:
                raise EnrichError(f"'{key}' is not an enrichment provider Enginy can ask.")
            if not ready[key].ready:
                raise EnrichError(ready[key].why_not(), command=ready[key].why_not("cli"))
    if not any(options.order.get(p) for p in options.points):
        names = ", ".join(c.name for c in ready.values())
        keys = ", ".join(c.key for c in ready.values())
        raise EnrichError(f"No enrichment provider is switched on and connected for this. Turn one on under "
                          f"Integrations → Data Enrichment ({names}) and connect it.",
                          command="No enrichment provider is switched on and connected for this. Turn one on with "
                          "`enginy-desktop integrations enable KEY` and save its API key with `enginy-desktop "
                          f"connect KEY --secret-stdin api_key` (KEY: {keys}); `enginy-desktop enrich "
                          "--providers-list` shows which are ready.")
    if options.max_credits is not None and options.max_credits < 0:
        raise EnrichError("The credit cap cannot be negative.")
    return kind


def estimate(ctx: Any, options: EnrichOptions) -> Estimate:
    """The most each provider could be asked and charged (cache and values already there taken into account)."""
    kind = validate(ctx, options)
    _kind, name = list_kind(ctx, options.list_id)
    keys = options.providers_used()
    classes = adapters_for(keys)
    est = Estimate(list_name=name, kind=kind, cap=options.max_credits)
    per: dict[str, ProviderEstimate] = {
        k: ProviderEstimate(k, classes[k].name, classes[k].capabilities.pricing.unit) for k in keys}
    for rows in iter_rows(ctx, kind, options.list_id, options.record_ids):
        est.records += len(rows)
        enriched = enriched_fields(ctx, kind, [r["id"] for r in rows])
        idents = {r["id"]: user_identity(kind, r, enriched.get(r["id"], set())) for r in rows}
        cache = cached(ctx, list(set(idents.values())), keys)
        for row in rows:
            record = P.lookup_input(kind, row, str(row["id"]))
            # An e-mail the waterfall may still find makes a verification possible: count it as if known.
            may_have_email = bool(record.email)
            asked: dict[str, set[DataPoint]] = {}
            from_cache: set[str] = set()
            for point in sorted(options.points, key=list(DataPoint).index):
                if point is DataPoint.EMAIL_STATUS and not may_have_email:
                    continue
                if not (options.replace or P.is_missing(kind, point, row)):
                    continue
                est.missing[point.value] = est.missing.get(point.value, 0) + 1
                reachable = False
                for key in options.order.get(point, []):
                    cls = classes[key]
                    probe = record
                    if point is DataPoint.EMAIL_STATUS and not record.email and may_have_email:
                        probe = P.lookup_input(kind, {**row, "email": "x@example.com"}, record.key)
                    if not cls.can_use(probe, frozenset({point})):
                        continue
                    reachable = True
                    hit = cache.get((key, idents[row["id"]], point.value))
                    if hit is not None:
                        from_cache.add(key)
                        if hit.found:
                            may_have_email = may_have_email or point is DataPoint.EMAIL
                            break
                        continue
                    asked.setdefault(key, set()).add(point)
                    may_have_email = may_have_email or point is DataPoint.EMAIL
                if not reachable:
                    est.unreachable[point.value] = est.unreachable.get(point.value, 0) + 1
            for key, pts in asked.items():
                pe = per[key]
                pe.records += 1
                pe.credits += classes[key].capabilities.pricing.cost(pts)
                for p in pts:
                    pe.points[p.value] = pe.points.get(p.value, 0) + 1
            for key in from_cache - set(asked):
                per[key].cached += 1
    est.providers = [per[k] for k in keys]
    return est
