"""``import theirstack``: import companies from TheirStack into a company list (docs/theirstack.md).

The free count comes first (it costs nothing), then the credits the import would spend at most against the
account's balance; ``--dry-run`` stops there. The import asks for confirmation (``--yes`` gives it ahead).
``--resume RUN_ID`` carries on a cancelled or interrupted import.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from . import EXIT_ERROR, EXIT_OK, CliError, Runtime


def register_import(isub: Any) -> None:
    """Adds ``theirstack`` under ``import`` (called by the workspace commands' ``register``)."""
    p = isub.add_parser("theirstack", help="import companies from TheirStack into a company list",
                        description="Import companies matching filters from TheirStack. The free count and the "
                        "credits it would spend are shown first. See docs/theirstack.md.")
    p.add_argument("--list", dest="list_name", metavar="NAME", help="the company list to import into (created if "
                   "needed)")
    p.add_argument("--technology", action="append", default=[], metavar="SLUG", help="a technology used (e.g. "
                   "python, snowflake); repeat for any of several")
    p.add_argument("--job-title", action="append", default=[], metavar="TEXT", help="a job title posted; repeat")
    p.add_argument("--country", action="append", default=[], metavar="CC", help="a two-letter country code; repeat")
    p.add_argument("--industry", action="append", default=[], metavar="X", help="an industry; repeat")
    p.add_argument("--min-employees", type=int, metavar="N")
    p.add_argument("--max-employees", type=int, metavar="N")
    p.add_argument("--posted-within-days", type=int, metavar="N", help="jobs posted in the last N days")
    p.add_argument("--max-companies", type=int, default=100, metavar="N", help="import at most N companies "
                   "(3 credits each; default 100)")
    p.add_argument("--dry-run", action="store_true", help="show the free count and the credits; import nothing")
    p.add_argument("--yes", action="store_true", help="import without asking for confirmation")
    p.add_argument("--resume", type=int, metavar="RUN_ID", help="carry on an interrupted or cancelled import")
    p.add_argument("--json", action="store_true", help="print the plan and the result as JSON")
    p.set_defaults(handler=cmd_import_theirstack)


class _Progress:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.last = -1

    def __call__(self, p: Any) -> None:
        if p.done != self.last and p.total:
            self.last = p.done
            print(f"  {p.done:,} / {p.total:,} companies", file=self.rt.stderr, flush=True)


def cmd_import_theirstack(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core.imports.theirstack import ImportError_, TheirStackFilters, plan_import, run_import
    from enginy_desktop.core.runs import RunError

    ctx = rt.context()
    progress = _Progress(rt)
    try:
        if args.resume is not None:
            from .resume import require_kind

            require_kind(ctx, args.resume, "import")
            result = asyncio.run(run_import(ctx, run_id=args.resume, progress=progress))
        else:
            if not args.list_name:
                raise CliError("Say which company list to import into: --list NAME.", 2)
            filters = TheirStackFilters(tuple(args.technology), tuple(args.job_title), tuple(args.country),
                                        tuple(args.industry), args.min_employees, args.max_employees,
                                        args.posted_within_days)
            plan = asyncio.run(plan_import(ctx, filters, args.list_name, args.max_companies))
            if args.json and args.dry_run:
                rt.print_json(plan.as_json())
                return EXIT_OK
            if not args.json:
                rt.print(plan.text)
            if args.dry_run:
                rt.print("Dry run: nothing was imported, no credit was spent (the count is free). Run the same "
                         "command without --dry-run to import.")
                return EXIT_OK
            if plan.matching == 0:
                rt.print("Nothing to import: no company matches these filters.")
                return EXIT_OK
            if not plan.enough_credits:
                raise CliError(f"Not enough API credits: the import needs up to {plan.credits:,}, the account has "
                               f"{plan.balance:,}. Lower --max-companies.")
            rt.confirm(f"Import up to {plan.to_import:,} companies into “{plan.list_name}” for up to "
                       f"{plan.credits:,} credits?", args.yes, refused="no credit was spent")
            result = asyncio.run(run_import(ctx, filters, args.list_name, args.max_companies, progress=progress,
                                            on_start=lambda rid: print(f"Run {rid} started.", file=rt.stderr,
                                                                       flush=True)))
    except (ImportError_, AdapterError, RunError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        from enginy_desktop.core.imports.theirstack import report_json

        rt.print_json(report_json(ctx, result.run_id))
    else:
        rt.print(f"Run {result.run_id} {result.run.state_label.lower()}: {result.message}")
        if result.run.state == "finished" and result.run.list_name:
            from .next_step import print_next_step

            print_next_step(rt, ctx, result.run.list_name)  # as the window offers after an import
    if result.run.state == "finished":
        return EXIT_OK
    if result.run.resumable:
        print(f"Resume with: enginy-desktop import theirstack --resume {result.run_id}", file=rt.stderr)
    return EXIT_ERROR
