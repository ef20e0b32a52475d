"""An enrichment run: the waterfall, journaled request by request (DESIGN §13).

The records are taken a chunk at a time. For each record and each data point it misses, the next provider in that
point's order is asked — only for what is still missing — until the point is found or every provider was asked.
Before a provider is asked, the cache (per provider and input) answers what it already knows, free. Each request is
journaled *in flight* before it is sent (an asynchronous provider's job id as soon as it is known), and recorded
*done* with its answers — values written with their provenance, cache rows, credits — in one transaction. So:

- **Cancel** stops between requests (the request in flight completes and is recorded);
- **a crash or kill** leaves the run *interrupted*; resuming it fetches an asynchronous job that was submitted
  (instead of paying for it again; a job older than the vendor keeps its results — ``results_kept`` — is counted
  ``not_reasked`` instead of being polled for ever), asks the cache for everything already answered, and goes on
  with the records not done. A request cut off between sending and recording its answer (it may have been
  charged) is asked again only of a provider that does not charge a repeated lookup (:class:`RepeatCharge`: Apollo,
  Hunter, Lusha, Kaspr);
  the report counts these records (``reasked``). A provider that charges a repeat is not asked again about them in
  this run (``not_reasked``): nothing is paid twice, the waterfall goes on with the next provider, and enriching the
  list again asks them. Such providers' one-record requests are journaled one by one, so a kill leaves at most the
  requests in flight (``CONCURRENCY``) unanswered;
- **bad key, no credits, rate limit past the retries, provider down**: the run stops as *failed* with the
  provider's own words and what to do; what was found is kept and resuming goes on where it stopped;
- **the credit cap**: the data points are paid for in the order they were asked for (``--find email,phone``: every
  e-mail's waterfall is asked through, list-wide, before any phone is asked), so what came first gets the credits
  first and a later point's worst case never holds the cap while an earlier one waits. A request is sent only for
  as many records as the credits left under the cap pay for at most (the last request is split to fit); then the
  run stops *paused at the cap* (the *interrupted* state, labelled "Paused at cap"), saying how many records were
  left for lack of credit (``left_by_cap``); resume it with a higher cap. Without a cap every point is asked at
  once (the order of spending changes nothing when everything is paid for).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enginy_desktop.adapters.base import AdapterError, AuthError, QuotaExhaustedError, RateLimitedError, TransientError
from enginy_desktop.adapters.enrichment.base import (
    DataPoint,
    EnrichmentAdapter,
    Flow,
    Found,
    LookupInput,
    LookupResult,
    RepeatCharge,
)
from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.models import (
    Company,
    Contact,
    ContactList,
    EnrichedValue,
    EnrichmentCacheEntry,
    EnrichmentRequest,
    utcnow,
)
from enginy_desktop.core.runs import (
    CancelToken,
    ProgressCallback,
    ProgressTracker,
    RunCancelled,
    RunInfo,
    lease_key,
)

from . import points as P
from .plan import (
    CHUNK,
    EnrichError,
    EnrichOptions,
    cached,
    enriched_fields,
    iter_rows,
    list_kind,
    user_identity,
    validate,
)

log = logging.getLogger(__name__)

__all__ = ["AdapterFactory", "CapReached", "open_adapter", "resume_enrichment", "run_enrichment", "start_enrichment"]

AdapterFactory = Callable[[str], EnrichmentAdapter]
CONCURRENCY = 4  # requests in flight per provider
JOURNAL_STEP = 10  # records per journaled step for one-record providers that do not charge a repeated lookup
MAX_JOB_WAIT = 3600.0  # seconds an asynchronous job is polled before the run stops (resuming polls it again)


class CapReached(Exception):  # noqa: N818 - an outcome
    pass


class ProviderStopped(Exception):  # noqa: N818 - an outcome
    def __init__(self, provider: str, error: AdapterError) -> None:
        super().__init__(str(error))
        self.provider = provider
        self.error = error


def open_adapter(ctx: Any, key: str, transport: Any = None, **options: Any) -> EnrichmentAdapter:
    """The adapter of provider ``key`` on its saved connection."""
    from enginy_desktop.adapters.enrichment.base import adapter_class
    return adapter_class(key).from_connection(ctx.adapters.connection(key),
                                              transport=transport or ctx.adapters.transport, **options)


def start_enrichment(ctx: Any, options: EnrichOptions) -> RunInfo:
    """Create the run (its journal of records included); :func:`run_enrichment` carries it out."""
    kind = validate(ctx, options)
    _kind, name = list_kind(ctx, options.list_id)
    # One enrichment of a list at a time, across the window and command lines (RunBusyError names who holds it).
    info: RunInfo = ctx.runs.create("enrichment", crm=None, list_id=options.list_id, list_name=name,
                                    options={"enrich": options.as_json(), "providers": options.providers_used()},
                                    lease=lease_key("enrichment", options.list_id))
    obj = kind.value
    ids = (r["id"] for rows in iter_rows(ctx, kind, options.list_id, options.record_ids, chunk=5000) for r in rows)
    total = ctx.runs.add_items(info.id, ((obj, rid, "enrich") for rid in ids))
    return ctx.runs.set_counters(info.id, {"records": total})


@dataclass
class _Record:
    row: dict[str, Any]
    identity: str
    missing: set[DataPoint]
    tried: dict[DataPoint, set[str]] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.row["id"])


@dataclass
class _Totals:
    credits: float = 0.0
    found: int = 0
    cached: int = 0
    requests: int = 0


class _Runner:
    def __init__(self, ctx: Any, info: RunInfo, options: EnrichOptions, kind: RecordKind, factory: AdapterFactory,
                 tracker: ProgressTracker, token: CancelToken) -> None:
        self.ctx = ctx
        self.run_id = info.id
        self.options = options
        self.kind = kind
        self.factory = factory
        self.tracker = tracker
        self.token = token
        self.adapters: dict[str, EnrichmentAdapter] = {}
        self.sem: dict[str, asyncio.Semaphore] = {}
        self.totals = _Totals(credits=_spent(ctx, info.id))
        self.cap = options.max_credits
        self.reserved = 0.0  # the most the requests in flight can cost
        self.settled = asyncio.Condition()  # notified when a request in flight ends (its real cost is known)
        self.stopped = False
        self.order = {p: list(options.order.get(p, [])) for p in options.points}
        self.classes = {k: _cls(k) for k in options.providers_used()}
        # provider -> records whose request was cut off by a crash and that this run does not ask it again
        self.lost: dict[str, set[int]] = {}
        self.left_by_cap = 0  # records left without asking when the cap was reached

    def adapter(self, key: str) -> EnrichmentAdapter:
        if key not in self.adapters:
            self.adapters[key] = self.factory(key)
            self.sem[key] = asyncio.Semaphore(CONCURRENCY)
        return self.adapters[key]

    async def close(self) -> None:
        for a in self.adapters.values():
            try:
                await a.aclose()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                log.debug("closing %s failed", a.key, exc_info=True)

    # -- the journal ---------------------------------------------------------------------------------------------
    def journal_start(self, provider: str, records: Sequence[_Record], pts: frozenset[DataPoint]) -> int:
        with self.ctx.store.write() as s:
            row = EnrichmentRequest(run_id=self.run_id, provider=provider, record_ids=[r.id for r in records],
                                    points=sorted(p.value for p in pts), state="in_flight", credits=0.0, found={},
                                    asked={p.value: len(records) for p in pts})
            s.add(row)
            s.flush()
            return int(row.id)

    def journal_job(self, request_id: int, job_id: str) -> None:
        with self.ctx.store.write() as s:
            s.execute(update(EnrichmentRequest).where(EnrichmentRequest.id == request_id).values(job_id=job_id))

    def journal_failed(self, request_id: int, error: str, state: str = "failed") -> None:
        with self.ctx.store.write() as s:
            s.execute(update(EnrichmentRequest).where(EnrichmentRequest.id == request_id)
                      .values(state=state, error=error, updated_at=utcnow()))

    def load_lost(self) -> None:
        with self.ctx.store.session() as s:
            for provider, ids in s.execute(select(EnrichmentRequest.provider, EnrichmentRequest.record_ids).where(
                    EnrichmentRequest.run_id == self.run_id, EnrichmentRequest.state == "lost")):
                self.lost.setdefault(provider, set()).update(int(i) for i in ids or [])

    # -- applying answers ----------------------------------------------------------------------------------------
    def apply(self, provider: str, records: Sequence[_Record], pts: frozenset[DataPoint],
              results: Sequence[LookupResult], request_id: int | None) -> None:
        """Record one request's answers (or the cache's) in one transaction: values, provenance, cache, journal."""
        now = utcnow()
        model: Any = Contact if self.kind is RecordKind.CONTACT else Company
        found_counts: dict[str, int] = {}
        credits = 0.0
        cache_rows: list[dict[str, Any]] = []
        prov_rows: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, str]]] = []
        by_key = {r.key: r for r in results}
        asked_counts: dict[str, int] = {}
        finds = self.classes[provider].capabilities.finds
        for rec in records:
            res = by_key.get(str(rec.id)) or LookupResult(str(rec.id))
            credits += res.credits
            had_email = str(rec.row.get("email") or "").lower()
            new_email = res.found.get(DataPoint.EMAIL)
            # What this request answered: the points asked, and those its calls answered anyway (cached too, and
            # written when the record misses them and this provider is in their waterfall).
            answered = set(pts) | (set(res.covered) & finds)
            for point in sorted(answered, key=list(DataPoint).index):
                rec.tried.setdefault(point, set()).add(provider)
                got = res.found.get(point)
                if (point is DataPoint.EMAIL_STATUS and got is not None and had_email and new_email is not None
                        and new_email.value.strip().lower() != had_email):
                    got = None  # the status of another address than the record's
                if request_id is not None:
                    cache_rows.append({"provider": provider, "identity": rec.identity, "data_point": point.value,
                                       "found": got is not None, "value": got.value if got else "",
                                       "confidence": got.confidence if got else "",
                                       "status": got.status if got else "", "detail": got.detail if got else "",
                                       "fetched_at": now})
                if point not in rec.missing or (point not in pts and provider not in self.order.get(point, [])):
                    continue
                asked_counts[point.value] = asked_counts.get(point.value, 0) + 1
                if got is None:
                    continue
                values = P.stored_values(self.kind, point, got)
                if not values:
                    continue
                rec.row.update(values)
                rec.missing.discard(point)
                found_counts[point.value] = found_counts.get(point.value, 0) + 1
                updates.append((rec.id, values))
                for fld, value in values.items():
                    prov_rows.append({"record_kind": self.kind.value, "record_id": rec.id, "field": fld,
                                      "data_point": point.value, "provider": provider, "value": value,
                                      "confidence": got.confidence, "status": got.status, "detail": got.detail,
                                      "found_at": now, "run_id": self.run_id})
        table = model.__table__
        with self.ctx.store.write() as s:
            conn = s.connection()  # Core statements, compiled once and cached: a run sends thousands of them
            by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for rid, values in updates:
                by_fields.setdefault(tuple(sorted(values)), []).append({"_id": rid, "_now": now, **values})
            for fields, params in by_fields.items():
                stmt = table.update().where(table.c.id == bindparam("_id")).values(
                    {**{f: bindparam(f) for f in fields}, "updated_at": bindparam("_now")})
                conn.execute(stmt, params)
            if prov_rows:
                conn.execute(_PROVENANCE_UPSERT, prov_rows)
            if cache_rows:
                conn.execute(_CACHE_UPSERT, cache_rows)
            if request_id is not None:
                s.execute(update(EnrichmentRequest).where(EnrichmentRequest.id == request_id).values(
                    state="done", credits=credits, found=found_counts, asked=asked_counts, updated_at=now))
        n_found = sum(found_counts.values())
        if request_id is None:
            self.totals.cached += n_found
        self.totals.found += n_found
        self.totals.credits += credits

    # -- asking ----------------------------------------------------------------------------------------------------
    def inputs(self, rec: _Record) -> LookupInput:
        return P.lookup_input(self.kind, rec.row, str(rec.id))

    def next_provider(self, rec: _Record, point: DataPoint) -> str | None:
        tried = rec.tried.setdefault(point, set())
        for key in self.order.get(point, []):
            if key in tried:
                continue
            if rec.id not in self.lost.get(key, ()) and self.classes[key].can_use(self.inputs(rec),
                                                                                 frozenset({point})):
                return key
            tried.add(key)
        return None

    def wanted(self, rec: _Record) -> dict[str, set[DataPoint]]:
        """The providers to ask about ``rec`` in this round, each with the points it is next for.

        A provider that is next for one point but comes later in another point's order (which the record also
        misses) waits until the providers ahead of it there have answered: then it is asked once about the person
        for everything still missing, instead of once per point — a person costs a per-person provider one
        charge. When every candidate waits for another, the next provider of the first data point is asked.
        """
        nxt: dict[DataPoint, str] = {}
        for point in sorted(rec.missing, key=list(DataPoint).index):
            if point is DataPoint.EMAIL_STATUS and not rec.row.get("email"):
                continue  # nothing to verify (yet): an e-mail found later brings its status, or is verified then
            key = self.next_provider(rec, point)
            if key is not None:
                nxt[point] = key
        candidates = set(nxt.values())
        inputs = self.inputs(rec)

        def waits(key: str) -> bool:
            cls = self.classes[key]
            return any(point in cls.capabilities.finds and key in self.order.get(point, [])
                       and key not in rec.tried.get(point, set()) and other != key
                       and cls.can_use(inputs, frozenset({point}))
                       for point, other in nxt.items())

        # Orders that contradict each other (Hunter first for e-mails, Apollo first for titles) make every
        # candidate wait: then the first data point's next provider goes first.
        ready = {k for k in candidates if not waits(k)} or {next(iter(nxt.values()))} if nxt else set()
        out: dict[str, set[DataPoint]] = {}
        for point, key in nxt.items():
            if key in ready:
                out.setdefault(key, set()).add(point)
        return out

    async def ask(self, provider: str, records: list[_Record], pts: frozenset[DataPoint]) -> None:
        """One request (journaled), or none when the cache knows every answer."""
        cache = cached(self.ctx, list({r.identity for r in records}), [provider])
        fresh: dict[frozenset[DataPoint], list[_Record]] = {}
        hits: dict[frozenset[DataPoint], list[tuple[_Record, LookupResult]]] = {}
        for rec in records:
            known = {p: e for p in pts if (e := cache.get((provider, rec.identity, p.value))) is not None}
            if known:  # what the cache answers is not asked again (a lookup cut short by a failure is part-cached)
                res = LookupResult(str(rec.id))
                for p, e in known.items():
                    if e.found:
                        res.found[p] = Found(e.value, e.confidence, e.status, e.detail)
                hits.setdefault(frozenset(known), []).append((rec, res))
            rest = frozenset(pts - set(known))
            if rest:
                fresh.setdefault(rest, []).append(rec)
        for answered, pairs in hits.items():
            self.apply(provider, [h[0] for h in pairs], answered, [h[1] for h in pairs], None)
        for rest, group in fresh.items():
            await self.request(provider, group, rest)

    async def request(self, provider: str, fresh: list[_Record], pts: frozenset[DataPoint]) -> None:
        """One journaled request to ``provider`` about ``fresh`` for ``pts``."""
        adapter = self.adapter(provider)
        each = adapter.capabilities.pricing.cost(set(pts))
        async with self.sem[provider]:
            if self.stopped:
                return  # a provider failed: the run stops; nothing more is sent
            self.token.raise_if_cancelled()
            fits = len(fresh)
            if self.cap is not None and each > 0:
                fits = await self.room_for(each, len(fresh))
            capped = fits < len(fresh)
            if capped:  # the cap: ask only about the records the credits left pay for at most, then stop
                self.stopped = True
                if fits == 0:
                    raise CapReached()
                fresh = fresh[:fits]
            most = each * len(fresh)
            self.reserved += most
            request_id = self.journal_start(provider, fresh, pts)
            job = ""
            try:
                inputs = [self.inputs(r) for r in fresh]
                if adapter.capabilities.flow in (Flow.ASYNC, Flow.TWO_PHASE):
                    job = await adapter.submit(inputs, pts)
                    self.journal_job(request_id, job)
                    results = await self.wait(adapter, job, inputs, pts)
                else:
                    results = await adapter.lookup(inputs, pts)
            except AdapterError as exc:
                partial = list(exc.partial)
                if partial:  # answers (and charges) that came before the failure are kept and cached
                    keys = {r.key for r in partial}
                    self.apply(provider, [r for r in fresh if str(r.id) in keys], frozenset(), partial, request_id)
                if not job:  # a submitted job stays in flight: resuming fetches it instead of paying again
                    self.journal_failed(request_id, str(exc))
                self.stopped = True
                raise ProviderStopped(provider, exc) from None
            finally:
                self.reserved -= most
                async with self.settled:
                    self.settled.notify_all()
            self.totals.requests += 1
            self.apply(provider, fresh, pts, results, request_id)
            if capped:
                raise CapReached()

    async def room_for(self, each: float, wanted: int) -> int:
        """How many of ``wanted`` records (``each`` credits at most) the cap pays for. While requests in flight hold
        part of the cap by their worst case, wait for them to end (they usually cost less) rather than stop short."""
        assert self.cap is not None
        while True:
            room = self.cap - self.totals.credits - self.reserved + 1e-9
            fits = min(wanted, max(0, int(room // each)))
            if fits == wanted or self.reserved <= 0 or self.stopped:
                return fits
            async with self.settled:
                await self.settled.wait()

    async def wait(self, adapter: EnrichmentAdapter, job: str, inputs: list[LookupInput],
                   pts: frozenset[DataPoint]) -> list[LookupResult]:
        """The job's answers, polled with back-off. A job still not done after ``MAX_JOB_WAIT`` (or the adapter's
        ``max_wait``) stops the run with the job still in flight: resuming polls it again."""
        if adapter.capabilities.flow is Flow.TWO_PHASE:  # the paying call is made at once, not polled
            first = await adapter.collect(job, inputs, pts)
            if first is not None:
                return first
        delay, top = adapter.poll_delays()
        limit = float(getattr(adapter, "max_wait", 0.0) or MAX_JOB_WAIT)
        waited = 0.0
        while True:
            await asyncio.sleep(delay)
            waited += delay
            results = await adapter.collect(job, inputs, pts)
            if results is not None:
                return results
            if waited >= limit:
                raise TransientError(f"{adapter.name} has not finished the batch after {waited / 60:,.0f} minutes "
                                     "(it is recorded: resuming the run fetches it, without sending it again)",
                                     vendor=adapter.key)
            delay = min(top, delay * 1.5)

    # -- recovering requests cut off by a crash -----------------------------------------------------------------
    async def recover(self) -> tuple[int, int]:
        """Requests left in flight by the previous attempt: fetch submitted async jobs; the others are asked again
        of a provider that does not charge a repeated lookup, and not of one that does. Returns (records asked
        again, records not asked again)."""
        with self.ctx.store.session() as s:
            stuck = [(r.id, r.provider, list(r.record_ids), [DataPoint(p) for p in r.points], r.job_id,
                      r.created_at) for r in s.scalars(select(EnrichmentRequest).where(
                          EnrichmentRequest.run_id == self.run_id, EnrichmentRequest.state == "in_flight"))]
        reasked = lost = 0
        for request_id, provider, ids, pts, job, sent in stuck:
            kept = self.classes[provider].capabilities.results_kept if provider in self.classes else 0.0
            if job and kept and _age(sent) > kept:  # the vendor no longer keeps its answers: they are lost
                lost += len(ids)
                self.journal_failed(request_id, f"{_name(provider)} keeps a batch's results {kept / 86_400:,.0f} "
                                    f"days and this one was sent on {sent:%Y-%m-%d}: its answers are no longer "
                                    "there, and sending it again would be charged again, so these records were not "
                                    "asked again in this run (enrich the list again to ask them).", state="lost")
            elif job and provider in self.classes:
                recs = self.load(ids)
                adapter = self.adapter(provider)
                inputs = [self.inputs(r) for r in recs]
                try:
                    results = await self.wait(adapter, job, inputs, frozenset(pts))
                except AdapterError as exc:
                    raise ProviderStopped(provider, exc) from None  # still in flight: the next resume fetches it
                self.apply(provider, recs, frozenset(pts), results, request_id)
            elif _repeat_is_free(provider):
                reasked += len(ids)
                self.journal_failed(request_id, "Enginy Desktop stopped before the answer to this request was "
                                    f"recorded; its records were asked again ({_name(provider)} does not charge a "
                                    "repeated lookup).")
            else:
                lost += len(ids)
                self.journal_failed(request_id, "Enginy Desktop stopped before the answer to this request was "
                                    f"recorded; {_name(provider)} may have charged it and charges a repeated lookup, "
                                    "so these records were not asked again in this run (enrich the list again to "
                                    "ask them).", state="lost")
        return reasked, lost

    def load(self, ids: Sequence[int]) -> list[_Record]:
        out: list[_Record] = []
        for rows in iter_rows(self.ctx, self.kind, self.options.list_id, list(ids), chunk=CHUNK):
            out.extend(self.records(rows))
        return out

    def records(self, rows: list[dict[str, Any]]) -> list[_Record]:
        enriched = enriched_fields(self.ctx, self.kind, [r["id"] for r in rows])
        out: list[_Record] = []
        for row in rows:
            missing = {p for p in self.options.points
                       if self.options.replace or P.is_missing(self.kind, p, row)}
            out.append(_Record(row, user_identity(self.kind, row, enriched.get(row["id"], set())), missing))
        return out

    # -- one chunk ---------------------------------------------------------------------------------------------
    def rank(self, pts: frozenset[DataPoint] | set[DataPoint]) -> int:
        """The place of a request's first data point in the order the user asked for them."""
        return min(self.options.points.index(p) if p in self.options.points else len(self.options.points)
                   for p in pts)

    async def chunk(self, recs: list[_Record], upto: int | None = None) -> None:
        """Ask the providers about ``recs`` round by round until nothing is left to ask. ``upto`` (under a cap):
        only requests whose first data point comes at most at that place of the user's order, and in each round
        only those of the earliest place still wanted — so a cap is spent in the order the points were asked."""
        while True:
            self.token.raise_if_cancelled()
            groups: dict[tuple[str, frozenset[DataPoint]], list[_Record]] = {}
            for rec in recs:
                for key, pts in self.wanted(rec).items():
                    groups.setdefault((key, frozenset(pts)), []).append(rec)
            if upto is not None:
                groups = {g: m for g, m in groups.items() if self.rank(g[1]) <= upto}
                first = min((self.rank(g[1]) for g in groups), default=0)
                groups = {g: m for g, m in groups.items() if self.rank(g[1]) == first}
            if not groups:
                return
            jobs = []
            for (key, points), members in groups.items():
                # A provider without a batch call (Hunter) gets ten records per journaled step (one request each):
                # one transaction per ten answers instead of two per record — when a repeated lookup is free; one
                # that charges it has each request journaled on its own, so a kill loses as few answers as can be.
                caps = self.classes[key].capabilities
                size = caps.batch_size if caps.batch_size > 1 else (
                    JOURNAL_STEP if caps.repeat is RepeatCharge.FREE else 1)
                for start in range(0, len(members), size):
                    jobs.append(self.ask(key, members[start:start + size], points))
            results = await asyncio.gather(*jobs, return_exceptions=True)
            for outcome in results:
                if isinstance(outcome, BaseException):
                    raise outcome

    async def run(self) -> dict[str, Any]:
        reasked, lost = await self.recover()
        self.load_lost()
        self.ctx.runs.set_counters(self.run_id, {"left_by_cap": 0})  # a resumed run is no longer at the cap
        pending_ids = [i.local_id for i in self.ctx.runs.items(self.run_id, state=["pending", "in_flight"])]
        total = int(self.ctx.runs.get(self.run_id).counters.get("records", 0) or len(pending_ids))
        done_before = total - len(pending_ids)
        self.tracker.phase("Enriching", total=total, message="Asking the providers in the waterfall's order…")
        self.tracker.advance(done_before)
        # Under a cap, one pass over the list per data point in the user's order (the earlier points' passes are
        # answered by the cache in the later ones, free); the records are done after the last pass.
        passes: list[int | None] = [None] if self.cap is None else list(range(len(self.options.points)))
        for upto in passes:
            if upto is not None and upto < len(self.options.points) - 1:
                self.tracker.advance(0, message=f"Asking for {P.label(self.options.points[upto]).lower()} first "
                                     "(the cap pays for what you asked first)…")
            for start in range(0, len(pending_ids), CHUNK):
                ids = pending_ids[start:start + CHUNK]
                await self.chunk_of(ids, pending_ids, upto, reasked, lost)
                reasked = lost = 0
                if upto == passes[-1]:
                    self.finish_chunk(ids)
        self.ctx.runs.set_counters(self.run_id, {"left_by_cap": 0})
        return {}

    async def chunk_of(self, ids: list[int], pending_ids: list[int], upto: int | None, reasked: int,
                       lost: int) -> None:
        recs = self.load(ids)
        try:
            await self.chunk(recs, upto)
        except CapReached:
            here = set(ids)
            self.left_by_cap = self.still_to_ask(recs, [i for i in pending_ids if i not in here])
            self.ctx.runs.set_counters(self.run_id, {"left_by_cap": self.left_by_cap})
            raise
        finally:
            self.save_counters(reasked, lost)

    def finish_chunk(self, ids: list[int]) -> None:
        self.ctx.runs.set_items_state(self.run_id, self.kind.value, ids, "done")
        # save_counters moved this chunk's finds into the run's counters (and zeroed them here): the run's
        # counters hold every value found so far, this run and the ones it resumes.
        found = int(self.ctx.runs.get(self.run_id).counters.get("found", 0) or 0)
        self.tracker.advance(len(ids), message=f"{found:,} values found, "
                             f"{_credits(self.totals.credits)} credits spent")

    def still_to_ask(self, current: list[_Record], other_ids: Sequence[int]) -> int:
        """Records the run stopped before asking about (the cap): those of the current chunk a provider is still
        to be asked about, and those of the other chunks not done that miss something a provider not yet asked
        about them (the cache knows what was) can be asked for."""
        left = sum(1 for rec in current if self.wanted(rec))
        for start in range(0, len(other_ids), CHUNK):
            recs = self.load(other_ids[start:start + CHUNK])
            self.seed_tried(recs)
            left += sum(1 for rec in recs if self.wanted(rec))
        return left

    def seed_tried(self, recs: list[_Record]) -> None:
        """Mark the providers the cache already holds an answer from as asked (an earlier pass asked them)."""
        keys = list(self.classes)
        hits = cached(self.ctx, list({r.identity for r in recs}), keys)
        for rec in recs:
            for point in rec.missing:
                for key in keys:
                    if (key, rec.identity, point.value) in hits:
                        rec.tried.setdefault(point, set()).add(key)

    def save_counters(self, reasked: int = 0, lost: int = 0) -> None:
        self.ctx.runs.set_counters(self.run_id, {"credits": round(_spent(self.ctx, self.run_id), 2)})
        self.ctx.runs.add_counters(self.run_id, {"found": self.totals.found, "cached": self.totals.cached,
                                                 "requests": self.totals.requests, "reasked": reasked,
                                                 "not_reasked": lost})
        self.totals.found = self.totals.cached = self.totals.requests = 0
        self.tracker.set_counters(**{k: int(v) for k, v in self.ctx.runs.get(self.run_id).counters.items()
                                     if isinstance(v, int | float)})


def _upsert(model: Any, keys: list[str], columns: list[str]) -> Any:
    stmt = sqlite_insert(model.__table__)
    return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in columns})


_PROVENANCE_UPSERT = _upsert(EnrichedValue, ["record_kind", "record_id", "field"],
                             ["data_point", "provider", "value", "confidence", "status", "detail", "found_at",
                              "run_id"])
_CACHE_UPSERT = _upsert(EnrichmentCacheEntry, ["provider", "identity", "data_point"],
                        ["found", "value", "confidence", "status", "detail", "fetched_at"])


def _spent(ctx: Any, run_id: int) -> float:
    """What the run's recorded requests cost (the journal survives a kill; the counters of that attempt may not)."""
    from sqlalchemy import func

    with ctx.store.session() as s:
        return float(s.scalar(select(func.sum(EnrichmentRequest.credits)).where(
            EnrichmentRequest.run_id == run_id)) or 0.0)


def _cls(key: str) -> Any:
    from enginy_desktop.adapters.enrichment.base import adapter_class

    return adapter_class(key)


def _repeat_is_free(provider: str) -> bool:
    try:
        return bool(_cls(provider).capabilities.repeat is RepeatCharge.FREE)
    except KeyError:  # a provider Enginy no longer knows: do not ask it anything
        return False


def _name(provider: str) -> str:
    try:
        return str(_cls(provider).name)
    except KeyError:
        return provider


def _age(when: datetime) -> float:
    """Seconds since ``when`` (SQLite hands naive datetimes back: they are UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


def _credits(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".")


def describe(provider: str, error: AdapterError) -> str:
    """The run's error line: what happened, what was kept, what to do."""
    name = _cls(provider).name if provider else "The provider"
    kept = " Everything found so far is kept, and resuming the run asks only for what is still missing."
    if isinstance(error, AuthError):
        return (f"{error}{kept} Fix the key (Integrations → {name} in the window, or `enginy-desktop connect "
                f"{provider} --secret-stdin api_key`), then resume.")
    if isinstance(error, QuotaExhaustedError):
        return f"{error}{kept}"
    if isinstance(error, RateLimitedError):
        return f"{name} kept refusing requests (rate limit) after several waits: {error}.{kept} Resume later."
    return f"{name} could not answer: {error}.{kept} Resume when {name} is back."


async def run_enrichment(ctx: Any, run_id: int, *, factory: AdapterFactory | None = None,
                         progress: ProgressCallback | None = None, token: CancelToken | None = None) -> RunInfo:
    """Carry out (or resume) run ``run_id``; returns the run as it ended. Never raises for a provider's failure:
    the run ends *failed* with the reason; Cancel ends it *cancelled*, the cap *paused at the cap* (both resumable)."""
    info = ctx.runs.get(run_id)
    if info.state != "running":
        info = ctx.runs.start(run_id)
    options = EnrichOptions.from_json(info.options["enrich"])
    kind, _ = list_kind(ctx, options.list_id)
    tracker = ProgressTracker(progress, run_id=run_id)
    runner = _Runner(ctx, info, options, kind, factory or (lambda key: open_adapter(ctx, key)), tracker,
                     token or CancelToken())
    try:
        await runner.run()
    except RunCancelled:
        result = ctx.runs.finish(run_id, "cancelled", error="Cancelled. What was found so far is kept; resume "
                                 "the run to go on.")
    except CapReached:
        left = runner.left_by_cap
        records = f"{left:,} record{'' if left == 1 else 's'}"
        cap = _credits(options.max_credits or 0)
        # Not a cancel: paused at the cap ("interrupted" with records left for lack of credit), resumable.
        result = ctx.runs.finish(run_id, "interrupted", error=f"Stopped at the cap of {cap} credits: {records} "
                                 "still had a provider to ask, left for lack of credit. What was found is kept; "
                                 "resume with a higher cap to go on.")
    except ProviderStopped as exc:
        result = ctx.runs.finish(run_id, "failed", error=describe(exc.provider, exc.error))
    except EnrichError as exc:
        result = ctx.runs.finish(run_id, "failed", error=str(exc))
    except Exception as exc:
        log.exception("enrichment run %s failed", run_id)
        result = ctx.runs.finish(run_id, "failed", error=f"The run stopped on an unexpected error: {exc}. What was "
                                 "found is kept; resume to go on.")
    else:
        result = ctx.runs.finish(run_id, "finished")
    finally:
        await runner.close()
        _touch_list(ctx, options.list_id)
        tracker.flush()
    return result


async def resume_enrichment(ctx: Any, run_id: int, *, max_credits: float | None = None, **kw: Any) -> RunInfo:
    info = ctx.runs.resume(run_id)
    if max_credits is not None:
        enrich = dict(info.options["enrich"])
        enrich["max_credits"] = max_credits
        ctx.runs.update_options(run_id, {"enrich": enrich})
    return await run_enrichment(ctx, run_id, **kw)


def _touch_list(ctx: Any, list_id: int) -> None:
    with ctx.store.write() as s:
        s.execute(update(ContactList).where(ContactList.id == list_id).values(updated_at=datetime.now(UTC)))

