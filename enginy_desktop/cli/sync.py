"""``sync --list NAME [--json]`` (match a list with the enabled CRM) and ``runs [--json]`` (the history of runs).

``sync`` prints the outcome counts, the identifier compared and the API calls used on stdout (``--verbose`` adds how
the CRM was read for each object), its progress on stderr; with ``--json`` it
prints one document with every record's outcome, CRM id and why it matched. Ctrl+C stops it gracefully: the links
stored so far are kept and the exit code is 130.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from collections.abc import Mapping
from typing import Any

from . import EXIT_OK, CliError, Runtime

EXIT_CANCELLED = 130


def register(sub: Any) -> None:
    s = sub.add_parser(
        "sync",
        help="match a list's records with the enabled CRM (writes nothing to the CRM)",
        description="Match the contacts of a list (and their companies), or the companies of a company list, with "
        "the records of the enabled CRM, using the identifiers of Step 1 of the CRM configuration. Each record "
        "ends up matched (one CRM record), new (none), ambiguous (several: choose in the window) or unmatchable "
        "(an identifier field is empty). Nothing is written to the CRM.",
    )
    s.add_argument("--list", dest="list_name", required=True, metavar="NAME", help="the list to sync")
    s.add_argument("--json", action="store_true", help="print the result and every record's outcome as JSON")
    s.add_argument("--verbose", "-v", action="store_true",
                   help="also say how the CRM was read for each object (searches, listings) and the calls it took, "
                   "and a failure's technical detail")
    s.add_argument("--full", action="store_true",
                   help="look every record up again instead of re-using the links of earlier syncs")
    s.add_argument("--wait", action="store_true",
                   help="when another run of the same list is going on (an export, a sync), wait for it to end "
                        "and then sync (instead of refusing)")
    s.set_defaults(handler=cmd_sync)

    r = sub.add_parser("runs", help="the history of syncs, exports, enrichments, AI columns and TheirStack "
                                    "imports, newest first",
                       description="Every run, newest first, with its counts; a run that stopped before the end "
                                   "says the command that carries it on.")
    r.add_argument("--json", action="store_true", help="print a JSON array")
    r.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs (default 50)")
    r.set_defaults(handler=cmd_runs)


class _StderrProgress:
    """One line per phase, the counts every couple of seconds and a phase's last count (a terminal gets a line
    that updates)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.phase = ""
        self.last = 0.0

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        new_phase = p.phase != self.phase
        last = bool(p.total) and p.done == p.total  # a phase's last count is always said
        if not new_phase and not last and now - self.last < (0.5 if self.tty else 2.0):
            return
        self.last = now
        counts = f"{p.done:,} / {p.total:,}" if p.total else (f"{p.done:,}" if p.done else "")
        line = f"{p.phase}{': ' + counts if counts else ''}"
        if self.tty:
            end = "\n" if new_phase and self.phase else ""
            self.stream.write(f"{end}\r\033[K{line}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.phase = p.phase

    def close(self) -> None:
        if self.tty and self.phase:
            self.stream.write("\n")
            self.stream.flush()


def cmd_sync(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core import catalog
    from enginy_desktop.core.runs import CancelToken
    from enginy_desktop.core.sync import OBJECT_LABELS, SyncError, link_rows, sync_list

    from .export import target_of, wait_for_list

    ctx = rt.context()
    wait_for_list(rt, ctx, target_of(ctx, args.list_name), args.wait)  # one run per list at a time
    token = CancelToken()
    progress = _StderrProgress(rt.stderr)
    budgets: list[Any] = []

    def show_budget(budget: Any) -> None:
        """The CRM's daily budget against this sync, before anything is read (a refusal says it itself)."""
        budgets.append(budget)
        if budget.check.fits and not args.json:
            key = ctx.integrations.active_crm()
            rt.print(budget.line(catalog.get(key.key).name if key is not None else "The CRM"))
            rt.stdout.flush()

    async def go() -> Any:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, token.cancel)  # Ctrl+C: stop after the call in flight
        try:
            return await sync_list(ctx, args.list_name, progress=progress, token=token, use_cache=not args.full,
                                   on_budget=show_budget)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)

    try:
        result = asyncio.run(go())
    except (SyncError, AdapterError) as exc:
        raise CliError(str(exc)) from None
    finally:
        progress.close()
    crm_name = catalog.get(result.crm).name
    if args.json:
        doc = result.as_json()
        doc["budget"] = budgets[0].as_json() if budgets else None
        doc["records"] = [
            row.as_json() for object_ in result.objects
            for row in link_rows(ctx, result.list_id, object=object_, crm=result.crm)
        ]
        rt.print_json(doc)
    else:
        verb = "Sync stopped" if result.cancelled else "Synced"
        rt.print(f"{verb}: “{result.list_name}” with {crm_name} in {result.seconds:.1f} s, "
                 f"{result.api_calls:,} API call{'s' if result.api_calls != 1 else ''}.")
        for object_, res in result.objects.items():
            rt.print(object_line(OBJECT_LABELS[object_][1], res, crm_name))
            if args.verbose:
                rt.print(f"  How: {res.api_calls:,} call{'s' if res.api_calls != 1 else ''}; {res.strategy}.")
        if result.cancelled:
            rt.print(result.message)
        ambiguous = sum(r.counts.get("ambiguous", 0) for r in result.objects.values())
        if ambiguous:
            rt.print(f"{ambiguous:,} record{'s' if ambiguous != 1 else ''} matched several CRM records: choose the "
                     "right one (or Create new) in the window's sync results, or tighten the identifier in Step 1.")
        if not result.cancelled:
            from .next_step import print_next_step

            print_next_step(rt, ctx, result.list_name, synced=True)
    if result.cancelled:
        print(f"enginy-desktop: {result.message}", file=rt.stderr)
        return EXIT_CANCELLED
    return EXIT_OK


def object_line(many: str, res: Any, crm_name: str) -> str:
    """One object's outcome in plain words: "Contacts (80): 72 matched, 8 new to HubSpot — compared by E-mail."
    (ambiguous
    and unmatchable only when there are some); how the CRM was read is for ``--verbose`` and the JSON."""
    c = res.counts
    parts = [f"{res.matched:,} matched", f"{c.get('new', 0) + c.get('create_new', 0):,} new to {crm_name}"]
    parts += [f"{c[k]:,} {k}" for k in ("ambiguous", "unmatchable") if c.get(k)]
    why = f" — compared by {res.rule}" if res.rule else ""
    return f"{many.capitalize()} ({res.total:,}): {', '.join(parts)}{why}."


# Counter names as people read them; the plan's own counts (planned_*) repeat the outcome and are left out.
_COUNT_LABELS = {"api_calls": ("API call", "API calls"), "requests": ("request", "requests"),
                 "retries": ("retry", "retries"), "throttled": ("× 429", "× 429"), "pages": ("page", "pages"),
                 "associations_done": ("association", "associations"), "credits": ("credit", "credits"),
                 # enrichment runs
                 "found": ("value found", "values found"), "cached": ("from the cache", "from the cache"),
                 "reasked": ("asked again after a crash", "asked again after a crash"),
                 "not_reasked": ("not asked again after a crash", "not asked again after a crash"),
                 "left_by_cap": ("left for lack of credit", "left for lack of credit")}


def runs_counts_text(counters: Mapping[str, object], throttle: str = "429", *, first_object: str = "") -> str:
    """A run's counters for the ``runs`` table: "80 contacts created, 12 companies created, 81 requests, 9.4 s
    waited" (a total the per-object counts add up to is said once, by object); ``throttle`` is how the run's CRM
    says too many requests ("× 429", "× 403 REQUEST_LIMIT_EXCEEDED"). ``first_object`` ("contact", "company")
    names a sync's own records, whose counters carry no prefix: "80 contacts matched, 12 companies new"."""
    numbers = {k: v for k, v in counters.items() if isinstance(v, int | float) and not isinstance(v, bool) and v}
    if first_object:
        numbers = {k if k in _COUNT_LABELS or k == "total" or "_" in k else f"{first_object}_{k}": v
                   for k, v in numbers.items()}
    parts = []
    for key, value in numbers.items():
        if key in ("total", "companies_total") or key.startswith("planned_"):
            continue
        by_object = [v for k, v in numbers.items() if k.endswith(f"_{key}") and "_" not in k[: -len(key) - 1]
                     and not k.startswith("planned_")]  # the plan's count is not an object's
        if by_object and sum(by_object) == value:
            continue  # "80 created" is the "80 contacts created" that follows
        if key == "waited_ms":
            if value >= 50:  # "0.0 s waited" is no news
                parts.append(f"{value / 1000:,.1f} s waited")
            continue
        one, many = _COUNT_LABELS.get(key, ("", ""))
        if key == "throttled":
            one = many = f"× {throttle}"
        if not many:
            label = key.replace("_", " ")
            for obj, plural in (("contact ", "contacts "), ("company ", "companies ")):
                if label.startswith(obj):
                    label = plural + label[len(obj):]
            label = label.replace("pending", "not done yet").replace("in flight", "sent, not confirmed yet")
            one = many = label
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}".rstrip("0").rstrip(".")
        parts.append(f"{shown} {one if value == 1 else many}")
    return ", ".join(parts)


def cmd_runs(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core import catalog
    from enginy_desktop.core.export.report import throttle_signal

    runs = rt.context().runs.history(limit=max(1, args.limit))
    if args.json:
        rt.print_json([r.as_json() for r in runs])
        return EXIT_OK
    if not runs:
        rt.print("No runs yet. Sync a list with `enginy-desktop sync --list NAME`.")
        return EXIT_OK
    rt.print(f"{'RUN':<6} {'KIND':<10} {'LIST':<24} {'INTEGRATION':<12} {'STARTED':<16}  {'STATE':<13} COUNTS")
    for r in runs:
        names = [catalog.get(k).name for k in r.integration_keys]  # an enrichment's: its providers ("Apollo +1")
        crm = (f"{names[0]} +{len(names) - 1}" if len(names) > 1 else names[0]) if names else "—"
        started = (r.started_at or r.created_at).astimezone().strftime("%Y-%m-%d %H:%M")
        objects = r.options.get("objects") if r.kind == "sync" else None
        counts = runs_counts_text(r.counters, throttle_signal(r.crm) if r.crm else "429",
                                  first_object=str(objects[0]) if isinstance(objects, list) and objects else "")
        rt.print(f"#{r.id:<5} {r.kind:<10} {r.list_name or '—':<24.24} {crm:<12} {started}  {r.state_label:<13} "
                 f"{counts}")
        if r.error and r.state in ("failed", "interrupted", "cancelled"):
            rt.print(f"        {r.error}")
        resume = {"export": "resume", "ai": "resume", "import": "resume", "enrichment": "enrich --resume"}
        if r.state in ("failed", "interrupted", "cancelled") and r.kind in resume \
                and f"resume {r.id}" not in (r.error or ""):
            rt.print(f"        Carry it on with `enginy-desktop {resume[r.kind]} {r.id}`.")
    return EXIT_OK

