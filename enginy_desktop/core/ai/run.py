"""Preview, estimate and run an AI column (DESIGN §14), on the shared runs foundation (``core.runs``).

- :func:`estimate` — offline: how many rows would be asked, how many are already done with this prompt version,
  answered from the cache, or skipped because a placeholder is empty; the tokens and the cost of the rest.
- :func:`preview` — asks for up to 5 chosen rows and shows prompt and answer; answers go to the cache, so the
  run does not pay for them again (nothing is written to the list).
- :func:`run_column` — the background run: a journal item per row (written before its request and after its
  answer), answers cached per (model, temperature, prompt, schema), values written on the records with the prompt
  version that produced them, Cancel between batches, resume (``run_id``) that asks only what is still missing,
  and counters for the report. The pace is the account's: :class:`~enginy_desktop.adapters.ai.openai.RateBudget`
  reads the ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from enginy_desktop.adapters.ai.openai import AiCompletion, AiRequest, OpenAIAdapter
from enginy_desktop.adapters.base import (
    AdapterError,
    AuthError,
    FatalError,
    NotFoundError,
    QuotaExhaustedError,
)
from enginy_desktop.core import fields as F
from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.models import AiCache, AiResult, ListMembership, RunItem
from enginy_desktop.core.runs import CancelToken, ProgressCallback, ProgressTracker, RunCancelled, RunInfo

from .columns import AiColumnInfo, AiColumnService, vocabulary_for
from .connection import ai_status, open_ai_adapter
from .estimate import TokenEstimate, cost_usd, estimate_request
from .outputs import OutputError, parse_answer
from .template import Vocabulary, render

log = logging.getLogger(__name__)

__all__ = [
    "AI_COUNTERS",
    "AiEstimate",
    "AiRunResult",
    "PreviewRow",
    "estimate",
    "preview",
    "run_column",
    "summary_text",
]

# (counter, label, tone) for the progress dialog and the report.
AI_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("written", "Values written", "good"),
    ("cached", "From the cache", ""),
    ("skipped_empty", "Empty placeholders", "warning"),
    ("failed", "Failed", "danger"),
)
PREVIEW_ROWS = 5
_STOPPING = (QuotaExhaustedError, AuthError, NotFoundError)


@dataclass(frozen=True)
class _Job:
    record_id: int
    label: str
    user: str
    key: str
    est: TokenEstimate
    empty: tuple[str, ...] = ()


def _label(kind: RecordKind, row: dict[str, Any]) -> str:
    if kind is RecordKind.CONTACT:
        name = row.get("full_name") or " ".join(x for x in (row.get("first_name"), row.get("last_name")) if x)
        return str(name or row.get("email") or f"Contact {row['id']}")
    return str(row.get("name") or row.get("domain") or f"Company {row['id']}")


def _table(kind: RecordKind) -> str:
    return "contacts" if kind is RecordKind.CONTACT else "companies"


def _load_rows(ctx: Any, kind: RecordKind, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    names = [f.name for f in F.fields_for(kind)]
    extra = ["company_id"] if kind is RecordKind.CONTACT else []
    cols = ", ".join(["id", *names, *extra, "custom_fields"])
    out: dict[int, dict[str, Any]] = {}
    with ctx.store.session() as s:
        for start in range(0, len(ids), 900):
            part = ids[start:start + 900]
            sql = text(f"SELECT {cols} FROM {_table(kind)} WHERE id IN ({','.join(map(str, part))})")  # noqa: S608
            for r in s.execute(sql):
                row = dict(zip(["id", *names, *extra, "custom_fields"], r, strict=True))
                custom = row.get("custom_fields")
                row["custom_fields"] = json.loads(custom) if isinstance(custom, str) else (custom or {})
                out[row["id"]] = row
    return out


def _companies_of(ctx: Any, rows: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    ids = sorted({r["company_id"] for r in rows if r.get("company_id")})
    return _load_rows(ctx, RecordKind.COMPANY, ids) if ids else {}


def _list_ids(ctx: Any, list_id: int) -> list[int]:
    with ctx.store.session() as s:
        return list(s.scalars(select(ListMembership.record_id).where(ListMembership.list_id == list_id)
                              .order_by(ListMembership.position)))


class _Asker:
    """What one column sends: the system message, the schema, the cache key of a rendered prompt."""

    def __init__(self, column: AiColumnInfo, vocabulary: Vocabulary) -> None:
        self.column = column
        self.vocabulary = vocabulary
        self.system = column.output.instructions()
        self.schema = column.output.response_schema()
        self.schema_json = json.dumps(self.schema, separators=(",", ":"))
        self.answer_chars = column.output.expected_answer_chars()
        self.needs_company = "company." in column.prompt or any(
            p.source == "company" for p in (vocabulary.resolve(x) for x in _raw_placeholders(column.prompt)) if p)

    def key(self, user: str) -> str:
        c = self.column
        payload = json.dumps([c.model, round(c.temperature, 3), self.system, user, self.schema], sort_keys=True,
                             ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def jobs(self, ctx: Any, ids: Sequence[int]) -> list[_Job]:
        kind = self.column.list_kind
        rows = _load_rows(ctx, kind, ids)
        companies = _companies_of(ctx, rows.values()) if kind is RecordKind.CONTACT and self.needs_company else {}
        out = []
        for rid in ids:
            row = rows.get(rid)
            if row is None:
                continue
            company = companies.get(row.get("company_id") or -1)
            r = render(self.column.prompt, self.vocabulary, row, company)
            est = estimate_request(self.system, r.text, self.schema_json, self.answer_chars)
            out.append(_Job(rid, _label(kind, row), r.text, self.key(r.text) if r.complete else "", est, r.empty))
        return out

    def request(self, job: _Job) -> AiRequest:
        c = self.column
        return AiRequest(model=c.model, system=self.system, user=job.user, schema=self.schema,
                         schema_name="ai_column", temperature=c.temperature,
                         max_output_tokens=max(32, job.est.completion * 3), estimated_tokens=job.est.total)


def _raw_placeholders(template: str) -> list[str]:
    from .template import placeholders

    return placeholders(template)


def _cached(ctx: Any, keys: Iterable[str]) -> dict[str, str]:
    keys = [k for k in set(keys) if k]
    out: dict[str, str] = {}
    with ctx.store.session() as s:
        for start in range(0, len(keys), 900):
            out.update(dict(s.execute(select(AiCache.key, AiCache.answer).where(
                AiCache.key.in_(keys[start:start + 900]))).all()))
    return out


def _done_ids(ctx: Any, column: AiColumnInfo) -> set[int]:
    with ctx.store.session() as s:
        return set(s.scalars(select(AiResult.record_id).where(AiResult.column_id == column.id,
                                                             AiResult.version == column.version)))


# -- estimate -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AiEstimate:
    rows: int
    to_ask: int
    cached: int
    done: int
    empty: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    model: str
    own_server: bool = False
    empty_examples: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "to_ask": self.to_ask, "cached": self.cached, "already_done": self.done,
                "skipped_empty": self.empty, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "tokens": self.tokens,
                "cost_usd": None if self.cost is None else round(self.cost, 4), "model": self.model}

    @property
    def text(self) -> str:
        parts = [f"{self.to_ask:,} of {self.rows:,} rows to ask"]
        if self.done:
            parts.append(f"{self.done:,} already have a value from this prompt")
        if self.cached:
            parts.append(f"{self.cached:,} answered from the cache (free)")
        if self.empty:
            parts.append(f"{self.empty:,} skipped: a placeholder is empty")
        tokens = f"About {self.tokens:,} tokens ({self.prompt_tokens:,} in, {self.completion_tokens:,} out)"
        if self.own_server:
            cost = "no cost per token on your own server"
        elif self.cost is None:
            cost = f"price of {self.model} unknown"
        elif self.cost < 0.01:
            cost = f"less than $0.01 at {self.model}'s list price"
        else:
            cost = f"about ${self.cost:,.2f} at {self.model}'s list price"
        return "; ".join(parts) + f". {tokens}, {cost}."


def estimate(ctx: Any, column_id: int, record_ids: Sequence[int] | None = None, *, chunk: int = 5000) -> AiEstimate:
    """Offline estimate for the whole list (or ``record_ids``): nothing is sent."""
    column = AiColumnService(ctx.store).get(column_id)
    asker = _Asker(column, vocabulary_for(ctx.store, column.list_id, exclude=column.name))
    ids = list(record_ids) if record_ids is not None else _list_ids(ctx, column.list_id)
    done = _done_ids(ctx, column)
    n_done = n_empty = n_cached = n_ask = prompt = completion = 0
    examples: list[tuple[str, tuple[str, ...]]] = []
    for start in range(0, len(ids), chunk):
        part = [i for i in ids[start:start + chunk] if i not in done]
        n_done += min(chunk, len(ids) - start) - len(part)
        jobs = asker.jobs(ctx, part)
        cache = _cached(ctx, (j.key for j in jobs))
        for j in jobs:
            if j.empty:
                n_empty += 1
                if len(examples) < 5:
                    examples.append((j.label, j.empty))
            elif j.key in cache:
                n_cached += 1
            else:
                n_ask += 1
                prompt += j.est.prompt
                completion += j.est.completion
    status = ai_status(ctx)
    return AiEstimate(len(ids), n_ask, n_cached, n_done, n_empty, prompt, completion,
                      cost_usd(column.model, prompt, completion, own_server=status.own_server), column.model,
                      status.own_server, tuple(examples))


# -- preview ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    record_id: int
    label: str
    prompt: str
    value: str | None = None
    error: str = ""
    cached: bool = False
    tokens: int = 0


def _remember(ctx: Any, key: str, model: str, completion: AiCompletion) -> None:
    with ctx.store.write() as s:
        s.execute(text("INSERT OR REPLACE INTO ai_cache (key, model, answer, prompt_tokens, completion_tokens, "
                       "created_at) VALUES (:k, :m, :a, :p, :c, CURRENT_TIMESTAMP)"),
                  {"k": key, "m": model, "a": completion.content, "p": completion.prompt_tokens,
                   "c": completion.completion_tokens})


async def preview(ctx: Any, column_id: int, record_ids: Sequence[int], *,
                  adapter: OpenAIAdapter | None = None) -> list[PreviewRow]:
    """Ask for up to 5 rows and show their answers (cached, not written to the list)."""
    column = AiColumnService(ctx.store).get(column_id)
    asker = _Asker(column, vocabulary_for(ctx.store, column.list_id, exclude=column.name))
    ids = list(dict.fromkeys(record_ids))[:PREVIEW_ROWS]
    if not ids:
        ids = _list_ids(ctx, column.list_id)[:PREVIEW_ROWS]
    jobs = asker.jobs(ctx, ids)
    own = adapter is None
    ai = adapter or open_ai_adapter(ctx)
    out: list[PreviewRow] = []
    try:
        cache = _cached(ctx, (j.key for j in jobs))

        async def one(job: _Job) -> PreviewRow:
            if job.empty:
                missing = ", ".join("{{" + e + "}}" for e in job.empty)
                return PreviewRow(job.record_id, job.label, job.user, error=f"Skipped: {missing} is empty.")
            if job.key in cache:
                try:
                    return PreviewRow(job.record_id, job.label, job.user,
                                      parse_answer(column.output, cache[job.key]).value, cached=True)
                except OutputError as exc:
                    return PreviewRow(job.record_id, job.label, job.user, error=str(exc), cached=True)
            try:
                completion = await ai.complete(asker.request(job))
            except AdapterError as exc:
                return PreviewRow(job.record_id, job.label, job.user, error=str(exc))
            if completion.refusal:
                return PreviewRow(job.record_id, job.label, job.user, error=f"The model refused: {completion.refusal}")
            _remember(ctx, job.key, column.model, completion)
            try:
                value = parse_answer(column.output, completion.content).value
            except OutputError as exc:
                return PreviewRow(job.record_id, job.label, job.user, error=str(exc), tokens=completion.total_tokens)
            return PreviewRow(job.record_id, job.label, job.user, value, tokens=completion.total_tokens)

        out = list(await asyncio.gather(*(one(j) for j in jobs)))
    finally:
        if own:
            await ai.aclose()
    return out


# -- the run ------------------------------------------------------------------------------------------------------


@dataclass
class AiRunResult:
    run: RunInfo
    counters: dict[str, int] = field(default_factory=dict)
    message: str = ""

    @property
    def run_id(self) -> int:
        return self.run.id


def summary_text(counters: dict[str, Any]) -> str:
    def n(key: str) -> int:
        return int(counters.get(key, 0) or 0)

    parts = [f"{n('written'):,} values written"]
    if n("cached"):
        parts[0] += f" ({n('cached'):,} from the cache)"
    if n("already_done"):
        parts.append(f"{n('already_done'):,} already done")
    if n("skipped_empty"):
        parts.append(f"{n('skipped_empty'):,} skipped (empty placeholders)")
    if n("failed"):
        parts.append(f"{n('failed'):,} failed")
    if n("shortened"):
        parts.append(f"{n('shortened'):,} shortened to the length limit")
    return ", ".join(parts)


def _path(name: str) -> str:
    return '$."' + name.replace('"', '\\"') + '"'


class _Writer:
    """Writes a batch of answers in one transaction: cache, results with their version, record values, journal."""

    def __init__(self, ctx: Any, column: AiColumnInfo, run_id: int) -> None:
        self.ctx, self.column, self.run_id = ctx, column, run_id
        self.object = column.list_kind.value

    def write(self, answers: list[tuple[_Job, str | None, AiCompletion | None]], failures: list[tuple[int, str]],
              counters: dict[str, int]) -> None:
        c = self.column
        table = _table(c.list_kind)
        with self.ctx.store.write() as s:
            fresh = [(j, comp) for j, _v, comp in answers if comp is not None]
            if fresh:
                s.execute(text("INSERT OR REPLACE INTO ai_cache (key, model, answer, prompt_tokens, "
                               "completion_tokens, created_at) VALUES (:k, :m, :a, :p, :c, CURRENT_TIMESTAMP)"),
                          [{"k": j.key, "m": c.model, "a": comp.content, "p": comp.prompt_tokens,
                            "c": comp.completion_tokens} for j, comp in fresh])
            if answers:
                s.execute(text("INSERT OR REPLACE INTO ai_results (column_id, record_id, value, version, model, "
                               "cache_key, run_id, created_at) VALUES (:c, :r, :v, :ver, :m, :k, :run, "
                               "CURRENT_TIMESTAMP)"),
                          [{"c": c.id, "r": j.record_id, "v": v, "ver": c.version, "m": c.model, "k": j.key,
                            "run": self.run_id} for j, v, _comp in answers])
                path = _path(c.name)
                set_rows = [{"id": j.record_id, "v": v, "p": path} for j, v, _comp in answers if v is not None]
                if set_rows:
                    s.execute(text(f"UPDATE {table} SET custom_fields = json_set(COALESCE(custom_fields, '{{}}'), "  # noqa: S608
                                   ":p, :v), updated_at = CURRENT_TIMESTAMP WHERE id = :id"), set_rows)
                clear_rows = [{"id": j.record_id, "p": path} for j, v, _comp in answers if v is None]
                if clear_rows:
                    s.execute(text(f"UPDATE {table} SET custom_fields = json_remove(custom_fields, :p) "  # noqa: S608
                                   "WHERE id = :id"), clear_rows)
                s.execute(text("UPDATE run_items SET state = 'done', error = NULL, updated_at = CURRENT_TIMESTAMP "
                               "WHERE run_id = :run AND object = :o AND local_id = :id"),
                          [{"run": self.run_id, "o": self.object, "id": j.record_id} for j, _v, _c in answers])
            if failures:
                s.execute(text("UPDATE run_items SET state = 'failed', error = :e, attempt = attempt + 1, "
                               "updated_at = CURRENT_TIMESTAMP WHERE run_id = :run AND object = :o AND local_id = :id"),
                          [{"run": self.run_id, "o": self.object, "id": rid, "e": err} for rid, err in failures])
            if answers:
                s.execute(text("UPDATE lists SET updated_at = CURRENT_TIMESTAMP WHERE id = :l"), {"l": c.list_id})
        self.ctx.runs.add_counters(self.run_id, counters)


async def run_column(
    ctx: Any,
    column_id: int | None = None,
    *,
    record_ids: Sequence[int] | None = None,
    run_id: int | None = None,
    adapter: OpenAIAdapter | None = None,
    progress: ProgressCallback | None = None,
    token: CancelToken | None = None,
    chunk: int = 200,
    on_start: Callable[[int], None] | None = None,
) -> AiRunResult:
    """Run an AI column over its list (or ``record_ids``), or resume run ``run_id``; returns the ended run.

    A failure of the whole run (no credit left, a refused key, an unknown model) ends it as *failed* with the
    reason; its journal keeps what was done, and :func:`run_column` with ``run_id`` carries on later.
    """
    token = token or CancelToken()
    service = AiColumnService(ctx.store)
    if run_id is not None:
        info = ctx.runs.get(run_id)
        if info.kind != "ai":
            raise ValueError(f"Run {run_id} is not an AI column run.")
        column_id = int(info.options["column_id"])
        column = service.get(column_id)
        info = ctx.runs.resume(run_id)
    else:
        if column_id is None:
            raise ValueError("Say which AI column to run.")
        column = service.get(column_id)
        info = None
    status = ai_status(ctx)
    if adapter is None and not status.ready:
        from .connection import AiNotConnectedError

        raise AiNotConnectedError(status.message)
    asker = _Asker(column, vocabulary_for(ctx.store, column.list_id, exclude=column.name))
    tracker = ProgressTracker(progress)
    obj = column.list_kind.value

    if info is None:
        ids = list(record_ids) if record_ids is not None else _list_ids(ctx, column.list_id)
        list_name = _list_name(ctx, column.list_id)
        info = ctx.runs.create(
            "ai", crm="openai", list_id=column.list_id, list_name=list_name,
            options={"column_id": column.id, "column": column.name, "version": column.version,
                     "model": column.model, "where": status.where or "OpenAI",
                     "records": "selection" if record_ids is not None else "list"},
            counters={"rows": len(ids)}, start=True)
        tracker.run_id = info.id
        if on_start is not None:
            on_start(info.id)
        tracker.phase("Planning", total=len(ids), message="Reading the rows and their placeholders…")
        done = _done_ids(ctx, column)
        items: list[tuple[str, int, str]] = []
        skipped: list[tuple[int, str]] = []
        counts = {"already_done": 0, "skipped_empty": 0}
        for start in range(0, len(ids), 5000):
            part = ids[start:start + 5000]
            todo = [i for i in part if i not in done]
            for i in part:
                if i in done:
                    items.append((obj, i, "done_before"))
                    skipped.append((i, "Already has a value from this prompt version."))
                    counts["already_done"] += 1
            for j in asker.jobs(ctx, todo):
                if j.empty:
                    items.append((obj, j.record_id, "empty"))
                    missing = ", ".join("{{" + e + "}}" for e in j.empty)
                    skipped.append((j.record_id, f"Not sent: {missing} is empty."))
                    counts["skipped_empty"] += 1
                else:
                    items.append((obj, j.record_id, "ask"))
        ctx.runs.add_items(info.id, items)
        for start in range(0, len(skipped), 500):
            ctx.runs.set_items(info.id, obj, [{"local_id": i, "state": "skipped", "error": e}
                                              for i, e in skipped[start:start + 500]])
        ctx.runs.add_counters(info.id, counts)
        tracker.set_counters(skipped_empty=counts["skipped_empty"], already_done=counts["already_done"])
    else:
        tracker.run_id = info.id
        if on_start is not None:
            on_start(info.id)
        # Failed rows are asked again: their count starts over.
        info = ctx.runs.set_counters(info.id, {"failed": 0})
        tracker.set_counters(**{k: int(v) for k, v in info.counters.items() if isinstance(v, int)})

    pending = _pending(ctx, info.id)
    tracker.phase(f"Asking {status.where or 'the model'}", total=len(pending),
                  message=f"{column.name}: {len(pending):,} rows")
    writer = _Writer(ctx, column, info.id)
    own = adapter is None
    ai = adapter or open_ai_adapter(ctx)
    stop_error: AdapterError | None = None
    try:
        for start in range(0, len(pending), chunk):
            token.raise_if_cancelled()
            ids = pending[start:start + chunk]
            jobs = asker.jobs(ctx, ids)
            cache = _cached(ctx, (j.key for j in jobs))
            answers: list[tuple[_Job, str | None, AiCompletion | None]] = []
            failures: list[tuple[int, str]] = []
            counters: dict[str, int] = {}

            def bump(name: str, n: int = 1, counters: dict[str, int] = counters) -> None:
                counters[name] = counters.get(name, 0) + n

            to_send: list[_Job] = []
            for j in jobs:
                if j.empty:  # a value was removed since planning
                    failures.append((j.record_id, "A placeholder is empty now; not sent."))
                    bump("failed")
                elif j.key in cache:
                    try:
                        ans = parse_answer(column.output, cache[j.key])
                        answers.append((j, ans.value, None))
                        bump("cached")
                        bump("written")
                    except OutputError as exc:
                        failures.append((j.record_id, str(exc)))
                        bump("failed")
                else:
                    to_send.append(j)
            if to_send:
                ctx.runs.set_items_state(info.id, obj, [j.record_id for j in to_send], "in_flight")
                results = await asyncio.gather(*(ai.complete(asker.request(j)) for j in to_send),
                                               return_exceptions=True)
                for j, res in zip(to_send, results, strict=True):
                    if isinstance(res, BaseException):
                        if isinstance(res, _STOPPING) and stop_error is None:
                            stop_error = res
                        if isinstance(res, _STOPPING):
                            continue  # stays in flight -> back to pending below; not a row failure
                        if not isinstance(res, AdapterError | OutputError):
                            raise res
                        failures.append((j.record_id, str(res)))
                        bump("failed")
                        continue
                    bump("requests")
                    bump("prompt_tokens", res.prompt_tokens)
                    bump("completion_tokens", res.completion_tokens)
                    if res.refusal:
                        failures.append((j.record_id, f"The model refused: {res.refusal}"))
                        bump("failed")
                        continue
                    try:
                        ans = parse_answer(column.output, res.content)
                    except OutputError as exc:
                        failures.append((j.record_id, str(exc)))
                        bump("failed")
                        continue
                    answers.append((j, ans.value, res))
                    bump("written")
                    if ans.shortened:
                        bump("shortened")
            writer.write(answers, failures, counters)
            if stop_error is not None:
                left = [j.record_id for j in to_send if j.record_id not in {a[0].record_id for a in answers}
                        and j.record_id not in {f[0] for f in failures}]
                ctx.runs.set_items_state(info.id, obj, left, "pending")
                raise stop_error
            tracker.advance(len(ids), counters={k: v for k, v in counters.items()
                                                 if k in ("written", "cached", "failed")})
        tracker.flush()
    except RunCancelled:
        ended = ctx.runs.finish(info.id, "cancelled")
        return AiRunResult(ended, dict(ended.counters), "Cancelled: the values written so far are kept; resume to "
                           "ask the remaining rows.")
    except (AdapterError, FatalError) as exc:
        ended = ctx.runs.finish(info.id, "failed", error=str(exc))
        return AiRunResult(ended, dict(ended.counters), f"{exc} The values written so far are kept; resume the run "
                           "when it is fixed.")
    except BaseException as exc:
        ctx.runs.finish(info.id, "failed", error=f"Unexpected error: {exc}")
        raise
    finally:
        if own:
            await ai.aclose()
    ended = ctx.runs.finish(info.id, "finished")
    return AiRunResult(ended, dict(ended.counters), summary_text(dict(ended.counters)))


def _pending(ctx: Any, run_id: int) -> list[int]:
    with ctx.store.session() as s:
        return list(s.scalars(select(RunItem.local_id).where(
            RunItem.run_id == run_id, RunItem.state.in_(("pending", "in_flight", "failed"))).order_by(RunItem.id)))


def _list_name(ctx: Any, list_id: int) -> str:
    from enginy_desktop.core.models import ContactList

    with ctx.store.session() as s:
        return str(s.scalar(select(ContactList.name).where(ContactList.id == list_id)) or "")


def problem_rows(ctx: Any, run_id: int, limit: int = 200) -> list[tuple[str, str]]:
    """(record, why) of the rows of AI-column run ``run_id`` that got no value (skipped or failed), for the report."""
    items = ctx.runs.items(run_id, state=("failed", "skipped"), limit=limit)
    kind = RecordKind.CONTACT if any(i.object == "contact" for i in items) else RecordKind.COMPANY
    rows = _load_rows(ctx, kind, [i.local_id for i in items]) if items else {}
    out = []
    for item in items:
        row = rows.get(item.local_id)
        label = _label(kind, row) if row is not None else f"Record {item.local_id} (deleted)"
        out.append((label, item.error or item.state))
    return out
