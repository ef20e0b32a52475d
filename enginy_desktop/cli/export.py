"""``export --list NAME``, ``resume RUN_ID``, ``runs``, ``restore-associations RUN_ID`` (DESIGN §6, §11).

Progress goes to stderr; the plan and the result counts to stdout; ``--report FILE.json`` writes every record's
outcome (the format of ``docs/export.md``). Exit codes: 0 when everything was exported, 3 when the run finished
but some records failed or were blocked (see the report), 1 when the export was refused, or the run failed, was
cancelled or paused (resumable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import shlex
import signal
import time
from pathlib import Path
from typing import Any

from . import EXIT_ERROR, EXIT_OK, CliError, Runtime
from .outputs import check_output_files

EXIT_PARTIAL = 3


def register(sub: Any) -> None:
    e = sub.add_parser(
        "export",
        help="export a list to the enabled CRM",
        description="Export a list's records (and, with --associated-companies, their companies) to the enabled "
        "CRM as configured in its four steps. Shows the plan first; --dry-run stops there.",
    )
    e.add_argument("--list", required=True, metavar="NAME", help="the list to export")
    e.add_argument("--dry-run", action="store_true", help="print the plan (what would change) and write nothing")
    e.add_argument("--associated-companies", action="store_true",
                   help="export each contact's company too and associate them (Association Type of Step 2)")
    e.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="the value of an Export field (its CRM name or label; prefix contact. or company. when "
                        "both tabs have it); repeat for several")
    e.add_argument("--no-campaign-properties", action="store_true", help="do not write the Step 3 properties")
    e.add_argument("--no-activities", action="store_true", help="do not log campaign events as CRM activities")
    e.add_argument("--create-unmatchable", action="store_true",
                   help="create records the identifier cannot compare (none of its fields filled) as new")
    e.add_argument("--read-first", action="store_true",
                   help="read the CRM's current values first even where a blind upsert is possible (the plan shows "
                        "before -> after and the report keeps what was replaced; slower)")
    e.add_argument("--split", action="store_true",
                   help="when the CRM's daily budget (Pipedrive's tokens, Zoho's credits…) has not enough left for "
                        "the whole export: export the first records of the list that fit now; export the list "
                        "again after the budget resets for the rest (what was written is then unchanged)")
    e.add_argument("--report", metavar="FILE.json", help="write every record's outcome to this JSON file")
    e.add_argument("--failed-csv", metavar="FILE.csv", help="write the failed records to this CSV file")
    e.add_argument("--yes", action="store_true",
                   help="go ahead without asking (needed without a terminal): write the plan to the CRM, including "
                        "removing company associations under 'primary and remove previous'")
    e.add_argument("--json", action="store_true", help="print the plan (and result) as JSON on stdout")
    _run_options(e)
    e.set_defaults(handler=cmd_export)

    r = sub.add_parser("resume", help="carry on an interrupted, cancelled or failed run (export, AI column, "
                                      "TheirStack import)",
                       description="Carry on a run from its journal: nothing is sent twice and nothing is lost. "
                       "Exports, AI columns and TheirStack imports carry on here; an enrichment with "
                       "`enginy-desktop enrich --resume RUN_ID` (`enginy-desktop runs` lists the runs).")
    r.add_argument("run_id", type=int, metavar="RUN_ID", help="the run's number, as `enginy-desktop runs` shows it")
    r.add_argument("--report", metavar="FILE.json", help="write every record's outcome to this JSON file")
    r.add_argument("--failed-csv", metavar="FILE.csv", help="write the records not written to this CSV file")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    _run_options(r)
    r.set_defaults(handler=cmd_resume)

    a = sub.add_parser("restore-associations", help="put back the company associations an export removed",
                       description="Put back the company associations that an export with the Association Type "
                       "'Associate as Primary and remove previous associations' removed (the export kept them "
                       "in its journal). Says how many it will put back and asks first.")
    a.add_argument("run_id", type=int, metavar="RUN_ID", help="the export's run number (`enginy-desktop runs`)")
    a.add_argument("--yes", action="store_true", help="go ahead without asking (needed without a terminal)")
    a.set_defaults(handler=cmd_restore)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got '{text}'")
    return value


def _run_options(p: Any) -> None:
    p.add_argument("--wait", action="store_true",
                   help="when another export or sync of the same list is running, wait for it to end and then "
                        "start (instead of refusing)")
    p.add_argument("--pause-after", type=_seconds, metavar="SECONDS", default=None,
                   help="pause the run (resumable) when the CRM has not answered for this long (default 180)")


class _Progress:
    """Progress lines on stderr: each phase, then at most one line a second, a phase's last count always, never
    the same line twice in a row."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.phase = ""
        self.said = ""
        self.line = ""
        self.last = 0.0
        self.counted = ""  # the phase whose counts are said from ``base`` on
        self.base: dict[str, int] = {}

    def __call__(self, p: Any) -> None:
        from enginy_desktop.core.runs import format_duration

        if p.phase != self.counted:  # a phase with a total says what it did itself, not the run's totals so far
            self.counted, self.base = p.phase, dict(p.counters) if p.total else {}
        now = time.monotonic()
        said = p.message if p.message.startswith("No answer from") else ""
        last = bool(p.total) and p.done == p.total  # a phase's last count is always said (once)
        if p.phase == self.phase and said == self.said and now - self.last < 1.0 and not last:
            return
        if said and said == self.said and now - self.last < 10.0:
            return  # the same trouble: once every ten seconds is enough
        self.phase, self.last, self.said = p.phase, now, said
        if said:
            print(said, file=self.rt.stderr, flush=True)
            return
        parts = [p.phase]
        if p.total:
            parts.append(f"{p.done:,}/{p.total:,}")
        if p.rate:
            parts.append(f"{p.rate:,.0f}/s")
        if p.eta:
            parts.append(f"ETA {format_duration(p.eta)}")
        counts = ", ".join(f"{k} {v - self.base.get(k, 0):,}" for k, v in p.counters.items()
                           if v - self.base.get(k, 0) and k in ("created", "updated", "failed", "existed", "merged"))
        if counts:
            parts.append(counts)
        line = " · ".join(parts)
        if line != self.line:  # the run's last snapshot is published again when it ends
            self.line = line
            print(line, file=self.rt.stderr, flush=True)


def _command_line_refusal(ctx: Any, exc: Any) -> str:
    """The refusal as the command line says it: a CRM that is not configured yet is set up with a command here,
    not with the window's Configure button."""
    from enginy_desktop.core import catalog
    from enginy_desktop.core.services.crm import active_crm_key

    if exc.code != "no_export_mapping":
        return str(exc)
    key = active_crm_key(ctx)
    if ctx.crm_configs.has_saved(key):  # configured, without a mapping for these records: the message says which
        return str(exc)
    name = catalog.get(key).name
    return (f"{name} is not configured yet, so the export does not know which fields to send: run "
            f"'enginy-desktop crm-config init' for a starting configuration from {catalog.possessive(name)} "
            "fields (or 'enginy-desktop crm-config import FILE.json'; the window's Configure does the same). "
            "Nothing was written.")


def _parse_sets(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--set expects FIELD=VALUE, got '{item}'.")
        values[name.strip()] = value
    return values


def _run_with_cancel(coro_factory: Any) -> Any:
    """Run the coroutine; the first Ctrl+C cancels gracefully (the batch in flight completes)."""
    from enginy_desktop.core.runs import CancelToken

    token = CancelToken()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, token.cancel)
        try:
            return await coro_factory(token)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())


def _print_plan(rt: Runtime, plan: Any) -> None:
    rt.print(f"Export of “{plan.list_name}” to {plan.crm_name} — plan ({plan.api_calls} API calls to prepare it):")
    for line in plan.summary_lines():
        rt.print(f"  {line}")
    for warning in plan.warnings:
        rt.print(f"  Warning: {warning}")


def _by_object(c: Any, outcome: str) -> str:
    """" (80 contacts, 12 companies)" after a count made of both objects; "" when one object makes it."""
    parts = [(c.get(f"{obj}_{outcome}", 0), one, many) for obj, one, many in (("contact", "contact", "contacts"),
                                                                              ("company", "company", "companies"))]
    if sum(1 for n, _, _ in parts if n) < 2:
        return ""
    return " (" + ", ".join(f"{n:,} {one if n == 1 else many}" for n, one, many in parts) + ")"


def _print_result(rt: Runtime, result: Any, crm_name: str) -> None:
    c = result.counters
    rt.print(
        f"Run {result.run_id} {result.state}: created {c.get('created', 0):,}{_by_object(c, 'created')}, "
        f"updated {c.get('updated', 0):,}{_by_object(c, 'updated')}, "
        f"unchanged {c.get('unchanged', 0):,}, failed {c.get('failed', 0):,}, blocked {c.get('blocked', 0):,}"
        + (f", already in {crm_name} {c['existed']:,}" if c.get("existed") else "")
        + (f", merged {c['merged']:,}" if c.get("merged") else "") + ".")
    extras = [(k, v) for k, v in (("associations", c.get("associations_done", 0)),
                                  ("associations removed", c.get("removals_done", 0)),
                                  ("activities", c.get("activities_done", 0))) if v]
    if extras:
        rt.print("  " + ", ".join(f"{k} {v:,}" for k, v in extras) + ".")
    if result.error:
        rt.print(f"  {result.error}")
    if result.state != "finished" and "resume" not in (result.error or ""):
        rt.print(f"  Resume it with: enginy-desktop resume {result.run_id}")


def _finish(rt: Runtime, ctx: Any, result: Any, args: argparse.Namespace, crm_name: str) -> int:
    from enginy_desktop.core.export.report import load_report, throttle_signal, traffic_line, write_failed_csv

    report = load_report(ctx, result.run_id)
    if getattr(args, "report", None):
        report.write_json(Path(args.report))
    if getattr(args, "failed_csv", None):
        write_failed_csv(ctx, result.run_id, Path(args.failed_csv))
    if getattr(args, "json", False):
        rt.print_json({"run": result.run_id, "state": result.state, "counters": dict(result.counters),
                       "error": result.error or None, "traffic": report.traffic,
                       "failures": [{"reason": g.reason, "count": g.count, "blocked": g.blocked}
                                    for g in report.failures]})
    else:
        _print_result(rt, result, crm_name)
        for g in report.failures[:10]:
            rt.print(f"  {g.heading} ({g.count:,}): {g.reason}")
        line = traffic_line(report.run.counters, crm_name, throttle_signal(str(report.run.crm or "")))
        if line:
            rt.print(f"  {line}")
        for warning in report.warnings:
            if "Slack" in warning:
                rt.print(f"  Warning: {warning}")
    if result.state != "finished":
        return EXIT_ERROR
    return EXIT_PARTIAL if result.counters.get("failed") or result.counters.get("blocked") else EXIT_OK


def _confirm(rt: Runtime, plan: Any, yes: bool) -> None:
    """Writing to the CRM is confirmed first (the plan is printed above): yes at a terminal, or --yes."""
    counts = plan.counts()
    writes = sum(counts.get(a, 0) for a in ("create", "update", "upsert", "merge"))
    if not writes and not plan.needs_confirmation:
        return  # nothing to write
    if plan.needs_confirmation:
        print(plan.confirmation_text, file=rt.stderr)
    question = f"Write {writes:,} record{'s' if writes != 1 else ''} to {plan.crm_name}"
    if plan.removals:
        question += f" and remove {plan.removals:,} association{'s' if plan.removals != 1 else ''}"
    rt.confirm(question + "?", yes, refused="nothing was written")


def cmd_export(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core.export.plan import ExportOptions, ExportRefused, plan_export
    from enginy_desktop.core.export.run import execute, start_export
    from enginy_desktop.core.runs import RunBusyError, RunCancelled

    check_output_files(args)
    ctx = rt.context()
    options = ExportOptions(
        associated_companies=args.associated_companies,
        campaign_properties=not args.no_campaign_properties,
        activities=not args.no_activities,
        export_values=_parse_sets(args.set),
        unmatchable_as_new=args.create_unmatchable,
        read_current=args.read_first,
    )
    progress = _Progress(rt)
    split_note = ""
    while True:
        if not args.dry_run:
            wait_for_list(rt, ctx, target_of(ctx, args.list), args.wait)
        try:
            try:
                plan = _run_with_cancel(lambda token, o=options: plan_export(ctx, args.list, o, progress=progress,
                                                                  cancel=token))
            except ExportRefused as exc:
                if exc.code != "budget" or not args.split or not exc.split:
                    how = " Add --split to export the first part now." if exc.code == "budget" and exc.split else ""
                    raise CliError(_command_line_refusal(ctx, exc) + how) from None
                # The first records that fit in what is left today; the rest when the budget has reset.
                total = _list_size(ctx, args.list, options)
                options = dataclasses.replace(options, record_ids=exc.split)
                split_note = (f"Split: the first {len(exc.split):,} of {total:,} records fit in what is left of the "
                              f"daily budget (about {exc.split_units:,}). The other {total - len(exc.split):,} are "
                              f"left for after the reset: run `enginy-desktop export --list {_quoted(args.list)} "
                              "--split` again then (what this run writes is unchanged by then and costs no write).")
                plan = _run_with_cancel(lambda token, o=options: plan_export(ctx, args.list, o, progress=progress,
                                                                  cancel=token))
        except ExportRefused as exc:
            raise CliError(_command_line_refusal(ctx, exc)) from None
        except RunCancelled:
            raise CliError("Export cancelled while preparing: nothing was written.") from None
        except AdapterError as exc:
            raise CliError(str(exc)) from None
        if args.json and args.dry_run:
            rt.print_json(plan.as_json())
            return EXIT_OK
        if not args.json:
            _print_plan(rt, plan)
            if split_note:
                rt.print(split_note)
        if args.dry_run:
            rt.print(f"Dry run: nothing was written to {plan.crm_name}. Run the same command without --dry-run to "
                     "export (it shows this plan again and asks before writing).")
            return EXIT_OK
        _confirm(rt, plan, args.yes)
        try:
            run_id = start_export(ctx, plan)
            break
        except RunBusyError as exc:  # another run took the list while this one was planned
            if not args.wait:
                raise CliError(f"{exc} {_WAIT_ADVICE}") from None
    if args.pause_after is not None:  # a resume keeps the run's own patience unless told otherwise
        ctx.runs.update_options(run_id, {"pause_after": args.pause_after})
    print(f"Run {run_id} started.", file=rt.stderr, flush=True)
    result = _run_with_cancel(lambda token: execute(ctx, run_id, progress=progress, cancel=token,
                                                    pause_after=args.pause_after))
    return _finish(rt, ctx, result, args, plan.crm_name)


_WAIT_ADVICE = "Add --wait to start when it ends."


def _list_size(ctx: Any, list_ref: str, options: Any) -> int:
    """How many of the list's records an export of it covers (its selection, else the whole list)."""
    from enginy_desktop.core.services.workspace import WorkspaceService

    if options.record_ids is not None:
        return len(options.record_ids)
    return int(WorkspaceService(ctx.store).get_list(list_ref).count)


def _quoted(name: str) -> str:
    return shlex.quote(name)


def target_of(ctx: Any, list_ref: str) -> tuple[str | None, int | None]:
    """The CRM and list an export of ``list_ref`` would take (None when the plan will refuse it anyway)."""
    from enginy_desktop.core.services.crm import active_crm_key
    from enginy_desktop.core.services.workspace import WorkspaceService

    try:
        return active_crm_key(ctx), WorkspaceService(ctx.store).get_list(list_ref).id
    except Exception:  # no CRM enabled, no such list: the plan says so in its words
        return None, None


def wait_for_list(rt: Runtime, ctx: Any, target: tuple[str | None, int | None], wait: bool,
                   run_id: int | None = None) -> None:
    """Refuse (or, with ``--wait``, wait) while another run holds the list; Ctrl+C stops waiting."""
    from enginy_desktop.core.runs import RunBusyError

    said = False
    while True:
        holder = ctx.runs.lease_holder(*target)
        if holder is None or holder.run_id == run_id:
            return
        if not wait:
            raise CliError(f"{RunBusyError(holder)} {_WAIT_ADVICE}")
        if not said:
            print(f"Waiting: {holder.describe()}", file=rt.stderr, flush=True)
            said = True
        time.sleep(1.0)


def cmd_resume(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.export.plan import ExportRefused
    from enginy_desktop.core.export.run import resume
    from enginy_desktop.core.runs import RunError

    check_output_files(args)
    ctx = rt.context()
    try:
        info = ctx.runs.get(args.run_id)
        if info.active:
            raise CliError(f"Run {args.run_id} is still {info.state_label.lower()} in another process "
                           f"(pid {info.owner_pid}).")
        if info.kind in ("ai", "import"):  # AI-column runs and TheirStack imports carry on through their commands
            from .ai import resume_other

            return resume_other(rt, info.kind, args.run_id)
        wait_for_list(rt, ctx, (info.crm, info.list_id), args.wait, run_id=args.run_id)
        progress = _Progress(rt)
        result = _run_with_cancel(lambda token: resume(ctx, args.run_id, progress=progress, cancel=token,
                                                       pause_after=args.pause_after))
    except (ExportRefused, RunError) as exc:
        raise CliError(str(exc)) from None
    return _finish(rt, ctx, result, args, str(info.options.get("crm_name") or info.crm))


def cmd_restore(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core.export.run import associations_to_restore, restore_removed_associations
    from enginy_desktop.core.runs import RunError

    ctx = rt.context()
    try:
        kind = ctx.runs.get(args.run_id).kind
        if kind != "export":  # only an export removes associations: not "export run 1 removed none" of a sync
            what = {"ai": "an AI column", "import": "an import", "enrichment": "an enrichment"}.get(kind, f"a {kind}")
            raise CliError(f"Run {args.run_id} is {what} run, not an export: only an export with 'Associate as "
                           "Primary and remove previous associations' removes company associations. "
                           "`enginy-desktop runs` lists the runs.")
        pending = associations_to_restore(ctx, args.run_id)
    except RunError as exc:
        raise CliError(str(exc)) from None
    if not pending:
        rt.print(f"Export run {args.run_id} removed no company association that is not back already: "
                 "nothing to restore.")
        return EXIT_OK
    noun = "association" if pending == 1 else "associations"
    rt.confirm(f"Put back in the CRM the {pending:,} company {noun} export run {args.run_id} removed?", args.yes,
               refused="nothing was written")
    try:
        done = asyncio.run(restore_removed_associations(ctx, args.run_id))
    except (AdapterError, RunError) as exc:
        raise CliError(str(exc)) from None
    rt.print(f"Restored {done['restored']:,} association(s); {done['failed']:,} could not be restored.")
    return EXIT_OK if not done["failed"] else EXIT_PARTIAL
